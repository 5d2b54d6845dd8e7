import XCTest
@testable import DKMSCore

final class InvocationTests: XCTestCase {
    func parse(_ s: String) throws -> Invocation {
        try Invocation.parse(s.split(separator: " ").map(String.init), isSourceDir: { _ in false }, isFile: { _ in false })
    }

    func testModuleForms() throws {
        var i = try parse("install -m foo -v 1.0 -k 6.1.0/x86_64")
        XCTAssertEqual([i.module, i.moduleVersion], ["foo", "1.0"])
        XCTAssertEqual(i.kernels, ["6.1.0"]); XCTAssertEqual(i.arches, ["x86_64"])
        i = try parse("foo/2.0 build --kernelver=6.1.0 -k 6.2.0 -j 3")
        XCTAssertEqual(i.action, .build)
        XCTAssertEqual([i.module, i.moduleVersion], ["foo", "2.0"])
        XCTAssertEqual(i.kernels, ["6.1.0", "6.2.0"]); XCTAssertEqual(i.jobs, 3)
        i = try parse("status -m foo/3")
        XCTAssertEqual([i.module, i.moduleVersion], ["foo", "3"])
    }

    func testErrorsMatchDkms() {
        XCTAssertDKMSError(try parse("status --bogus"), code: 2, contains: "Unknown option: --bogus")
        XCTAssertDKMSError(try parse("add build"), code: 4, contains: "Cannot specify more than one action.")
        XCTAssertDKMSError(try parse("install --all -k 6.1"), code: 2, contains: "You cannot specify a kernel version and also specify")
        XCTAssertDKMSError(try parse("install -k a -k b -a x -a y -a z"), code: 1, contains: "1:1 relationship")
        XCTAssertDKMSError(try parse("install -k ../../etc"), code: 1, contains: "Invalid kernel version")
    }
}

final class FrameworkConfigTests: XCTestCase {
    func testAssignmentsQuotesCommentsAndExpansion() {
        var c = FrameworkConfig()
        c.parse("""
        # comment
        dkms_tree="/srv/dkms"   # trailing
        source_tree='/srv/src'
        export install_tree=$dkms_tree/lib
        bogus line without equals
        $(rm -rf /)=x
        """)
        XCTAssertEqual(c["dkms_tree"], "/srv/dkms")
        XCTAssertEqual(c["source_tree"], "/srv/src")
        XCTAssertEqual(c["install_tree"], "/srv/dkms/lib")
        XCTAssertEqual(c.values.count, 3)
    }
}

final class VersionOrderTests: XCTestCase {
    func testSortV() {
        XCTAssertTrue(VersionOrder.less("6.1.0-9-amd64", "6.1.0-10-amd64"))
        XCTAssertTrue(VersionOrder.less("2.0", "10.0"))
        XCTAssertTrue(VersionOrder.less("1.0~rc1", "1.0"))
        XCTAssertEqual(VersionOrder.compare("1.02", "1.2"), 0)
    }

    func testDependencyOrderAndCycles() throws {
        let plan = try DependencyOrder.plan([("c", ["b"]), ("b", ["a"]), ("a", []), ("x", ["y"]), ("y", ["x"])], alreadyInstalled: [])
        XCTAssertEqual(plan.order, ["a", "b", "c"])
        XCTAssertEqual(plan.cycles.count, 1)
        XCTAssertEqual(Set(plan.cycles[0]), ["x", "y"])
    }
}

final class NameRulesTests: XCTestCase {
    func testHostileNames() {
        for bad in ["..", "a/b", "-rf", "x,upperdir=/", "a:b", "new\nline", ""] {
            XCTAssertNotNil(NameRules.problem(inComponent: bad), bad)
        }
        XCTAssertNil(NameRules.problem(inComponent: "v4l2loopback"))
        XCTAssertNil(NameRules.problem(inComponent: "0.12.7+git20230101"))
        XCTAssertNotNil(NameRules.problem(inLocation: "/updates/../../etc"))
        XCTAssertNil(NameRules.problem(inLocation: "/kernel/drivers/net/"))
    }
}

final class ModuleCheckTests: XCTestCase {
    func testRejectsNonELFAndWrongVermagic() {
        XCTAssertEqual(ModuleCheck.problem(in: Array("#!/bin/sh\n".utf8) + [UInt8](repeating: 0, count: 64), kernel: "6.1", arch: "x86_64"),
                       "is not an ELF file")
    }
}

final class BuildManifestTests: XCTestCase {
    func testRoundTripWithPostRemove() {
        var m = BuildManifest(modules: [.init(destName: "a", destLocation: "/updates/dkms")], dependencies: [("dep", "abc")])
        XCTAssertEqual(BuildManifest.load(text: m.encoded()), m)
        m.postRemove = ("0123", "post-remove.sh --flag")
        XCTAssertEqual(BuildManifest.load(text: m.encoded()), m)
        m.postRemove = ("0123", "")
        XCTAssertEqual(BuildManifest.load(text: m.encoded()), m, "an empty POST_REMOVE is recorded as such")
        // A script text the line format cannot hold is left out: uninstall evaluates then.
        m.postRemove = ("0123", "a\tb")
        XCTAssertNil(BuildManifest.load(text: m.encoded())?.postRemove)
        XCTAssertNil(BuildManifest.load(text: "dkms-swift manifest 1\npostremove\tonly-two\n"))
    }
}
