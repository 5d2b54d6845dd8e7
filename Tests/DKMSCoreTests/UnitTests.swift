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
        XCTAssertTrue(VersionOrder.less("1.2.0-9-flavour", "1.2.0-10-flavour"))
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

    /// What real packages use passes; shell metacharacters, white space,
    /// controls, invisible and bidi characters, non-ASCII do not.
    func testOneValidatorForNamesAndValues() {
        for good in ["1.2.3~rc1+git20240101", "acpi_call", "ddcci-backlight", "dm-writeboost", "v4l2loopback", "zfs",
                     "2.1.11", "0.12.7", "jool_common", "nvidia-current", "535.183.01", "a+b", "v1@x", "1.0=2", "50%"] {
            XCTAssertNil(NameRules.problem(inName: good), good)
        }
        let bad = ["$(touch x)", "`id`", "a b", "a\tb", "a;b", "a&b", "a|b", "a>b", "a<b", "a(b", "a)b", "a{b}", "a*b", "a?b",
                   "a[b]", "a'b", "a\"b", "a!b", "a#b", "a\\b", "a,b", "a:b", "~root", "-x", "a\nb", "a\rb", "a\u{1b}[2Jb",
                   "a\u{85}b", "a\u{9b}b", "a\u{7f}", "a\u{202e}b", "a\u{2066}b", "a\u{2069}", "a\u{200b}b", "a\u{200f}",
                   "\u{feff}a", "caf\u{e9}", "a/b", "..", "a..b", "", "\u{0}"]
        for b in bad {
            XCTAssertNotNil(NameRules.problem(inName: b), b.debugDescription)
            if b != "a/b" && !b.isEmpty { XCTAssertNotNil(NameRules.problem(inLocation: "/updates/" + b + "/x"), b.debugDescription) }
        }
        XCTAssertEqual(NameRules.problem(inName: "a\u{202e}b"), "contains an invisible or bidirectional character (U+202E)")
        XCTAssertEqual(NameRules.problem(inName: "a\nb"), "contains a line break")
        XCTAssertEqual(NameRules.problem(inName: "a b"), "contains a space")
        XCTAssertEqual(NameRules.problem(inName: "$(x)"), "contains '$'")
        // Kernel releases keep the looser rule, minus controls and invisible characters.
        XCTAssertNil(NameRules.problem(inKernel: "6.1.0-rc1+"))
        XCTAssertNotNil(NameRules.problem(inKernel: "6.1\u{202e}"))
        XCTAssertNotNil(NameRules.problem(inKernel: "6.1\n"))
    }
}

final class PrintableTests: XCTestCase {
    func testEscapes() {
        XCTAssertEqual(Printable.visible("a\u{1b}[2Jb\u{202e}c\u{200b}\u{85}"), "a\\x1b[2Jb\\u{202e}c\\u{200b}\\x85")
        XCTAssertEqual(Printable.visible("l1\n\tl2\r", keepNewlines: true), "l1\n\tl2\\x0d")
        XCTAssertEqual(Printable.visible("l1\nl2"), "l1\\x0al2")
    }
}

final class ModuleCheckTests: XCTestCase {
    func testRejectsNonELFAndWrongVermagic() {
        XCTAssertEqual(ModuleCheck.problem(in: Array("#!/bin/sh\n".utf8) + [UInt8](repeating: 0, count: 64), kernel: "6.1", arch: "x86_64"),
                       "is not an ELF file")
    }

    /// Offsets and sizes from the file itself: huge, negative as Int, or
    /// summing past Int.max must be refused, not trap (found by dkms-fuzz).
    func testCraftedSectionTablesDoNotTrap() {
        func elf(shoff: UInt64, strOff: UInt64 = 0, strSize: UInt64 = 0, modOff: UInt64 = 0, modSize: UInt64 = 0) -> [UInt8] {
            var b = [UInt8](repeating: 0, count: 64 + 3 * 64)
            b[0...5] = [0x7f, 0x45, 0x4c, 0x46, 2, 1]
            b[16] = 1; b[18] = 62; b[58] = 64; b[60] = 3; b[62] = 2
            func put(_ v: UInt64, at o: Int) { for i in 0..<8 { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
            put(shoff, at: 40)
            // Section 1: named at offset 1 of the string table (".modinfo"); section 2: the string table.
            b[64 + 64] = 1
            put(modOff, at: 64 + 64 + 24); put(modSize, at: 64 + 64 + 32)
            put(strOff, at: 64 + 128 + 24); put(strSize, at: 64 + 128 + 32)
            return b
        }
        let huge: [UInt64] = [0x7fff_ffff_ffff_ffc0, 0xffff_ffff_ffff_fff0, 0x8000_0000_0000_0000, UInt64(Int.max)]
        for h in huge {
            XCTAssertEqual(ModuleCheck.problem(in: elf(shoff: h), kernel: "k", arch: "x86_64"), "has a malformed section table")
            XCTAssertEqual(ModuleCheck.problem(in: elf(shoff: 64, strOff: h, strSize: 16), kernel: "k", arch: "x86_64"), "has a malformed section table")
            XCTAssertEqual(ModuleCheck.problem(in: elf(shoff: 64, strOff: 16, strSize: h), kernel: "k", arch: "x86_64"), "has a malformed section table")
        }
        // A string table that names section 1 ".modinfo", whose own span is hostile.
        var b = elf(shoff: 64, strOff: UInt64(64 + 3 * 64), strSize: 10, modOff: 0xffff_ffff_ffff_fff0, modSize: 32)
        b += Array("\0.modinfo\0".utf8)
        XCTAssertEqual(ModuleCheck.problem(in: b, kernel: "k", arch: "x86_64"), "has a malformed .modinfo section")
        b = elf(shoff: 64, strOff: UInt64(64 + 3 * 64), strSize: 10, modOff: 16, modSize: 0x7fff_ffff_ffff_fff8) + Array("\0.modinfo\0".utf8)
        XCTAssertEqual(ModuleCheck.problem(in: b, kernel: "k", arch: "x86_64"), "has a malformed .modinfo section")
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
        // "\r\n" is one Character: the check is on scalars.
        m.postRemove = ("0123", "a\r\nmodule\tx\ty")
        XCTAssertFalse(m.encoded().contains("module\tx"))
        XCTAssertNil(BuildManifest.load(text: m.encoded())?.postRemove)
    }

    /// A value with a tab or line break (refused by NameRules before any
    /// build; here as the last line of defence) stays one field of one record.
    func testFieldsCannotAddRecords() {
        let m = BuildManifest(modules: [.init(destName: "a\nmodule\tevil\t/kernel", destLocation: "/updates\\x\r\n")],
                              dependencies: [("dep\ndepends\tother\tfff", "abc\t")])
        let text = m.encoded()
        XCTAssertEqual(text.split(separator: "\n").count, 3, text)
        XCTAssertEqual(BuildManifest.load(text: text), m)
        // Manifests written before the escaping read the same.
        XCTAssertEqual(BuildManifest.load(text: "dkms-swift manifest 1\nmodule\ta\t/updates/dkms\ndepends\td\tabc\n"),
                       BuildManifest(modules: [.init(destName: "a", destLocation: "/updates/dkms")], dependencies: [("d", "abc")]))
    }
}

final class ConfReadBackTests: XCTestCase {
    /// The read-back stream is written inside the sandbox, where dkms.conf
    /// can write to it too: malformed counts are refused, never trapped on.
    func testForgedCountsAreRefused() {
        func stream(_ fields: [String]) -> [UInt8] { fields.flatMap { Array($0.utf8) + [0] } }
        XCTAssertNotNil(ConfEvaluator.parse(stream(["PACKAGE_NAME", "1", "0", "hx", "END"])))
        for count in ["-1", "-9223372036854775808", "9223372036854775807", "3", "99999999999999999999", " 1", "0x1"] {
            XCTAssertNil(ConfEvaluator.parse(stream(["PACKAGE_NAME", count, "0", "hx", "END"])), count)
        }
        XCTAssertNil(ConfEvaluator.parse(stream(["NOT_A_DIRECTIVE", "0", "END"])))
        XCTAssertNil(ConfEvaluator.parse(stream(["PACKAGE_NAME", "0"])), "no END: the file ran exit")
    }
}
