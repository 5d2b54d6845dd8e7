import XCTest
import Foundation
import TestSupport

/// BUILD_DEPENDS through `dkms autoinstall`: dependency order, a cycle named
/// as such, a failing dependency skipping its dependents with the reason,
/// and dependents rebuilt when a dependency comes back with other exports.
final class DependencyTests: XCTestCase {
    var sb: TestTrees!
    var k: String { Kernels.all[0] }
    override func setUp() { sb = TestTrees() }
    override func tearDown() { sb.cleanup() }

    /// A module exporting `<name>_value` and, with `uses`, calling the export of another.
    func module(_ name: String, version: String = "1", depends: [String] = [], uses: String? = nil,
                exportValue: Int = 1, broken: Bool = false) {
        let dir = "\(sb.sourceTree)/\(name)-\(version)"
        var conf = "PACKAGE_NAME=\(name)\nPACKAGE_VERSION=\(version)\nAUTOINSTALL=yes\n"
        if !depends.isEmpty { conf += "BUILD_DEPENDS=(\(depends.joined(separator: " ")))\n" }
        var make = "make -C $kernel_source_dir M=$dkms_tree/\(name)/\(version)/build"
        if let u = uses { make += " KBUILD_EXTRA_SYMBOLS=$dkms_tree/\(u)/kernel-$kernelver-$arch/module/Module.symvers" }
        conf += "MAKE[0]=\"\(make) modules\"\n"
        writeModule(at: dir, name: name, conf: conf)
        var c = "#include <linux/module.h>\nMODULE_LICENSE(\"GPL\");\n"
        c += "int \(name)_value(void) { return \(exportValue); }\nEXPORT_SYMBOL(\(name)_value);\n"
        // Another export changes the module's exports (its Module.symvers).
        if exportValue != 1 { c += "int \(name)_extra(void) { return 0; }\nEXPORT_SYMBOL(\(name)_extra);\n" }
        if let u = uses {
            c += "extern int \(u)_value(void);\nstatic int __init m_init(void) { return \(u)_value() ? 0 : -1; }\nmodule_init(m_init);\n"
        }
        if broken { c += "this does not compile;\n" }
        try! c.write(toFile: "\(dir)/\(name).c", atomically: true, encoding: .utf8)
        XCTAssertEqual(sb.dkms("add", "\(name)/\(version)").status, 0)
    }

    func testOrderCycleFailureAndRebuild() throws {
        module("base")
        module("mid", depends: ["base"], uses: "base")
        module("top", depends: ["mid"], uses: "mid")
        module("cyca", depends: ["cycb"])
        module("cycb", depends: ["cyca"])
        module("bad", broken: true)
        module("needsbad", depends: ["bad"], uses: "bad")

        let r = sb.dkms("autoinstall", "-k", k)
        XCTAssertEqual(r.status, 11, r.all)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        func line(_ prefix: String) -> Int? { lines.firstIndex { $0.hasPrefix(prefix) } }
        let base = try XCTUnwrap(line("Autoinstall of module base/1"), r.stdout)
        let mid = try XCTUnwrap(line("Autoinstall of module mid/1"), r.stdout)
        let top = try XCTUnwrap(line("Autoinstall of module top/1"), r.stdout)
        XCTAssertTrue(base < mid && mid < top, "dependency order: \(r.stdout)")
        XCTAssertTrue(r.stdout.contains("dependency cycle: cyca -> cycb -> cyca") || r.stdout.contains("dependency cycle: cycb -> cyca -> cycb"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Autoinstall of module bad/1 for kernel \(k) (x86_64): FAILED"), r.stdout)
        XCTAssertTrue(r.stdout.contains("needsbad/1 for kernel \(k) (x86_64): not built, its dependency bad did not install"), r.stdout)
        XCTAssertTrue(r.stdout.contains("log: "), "a failure shows its log's path")
        let status = sb.dkms("status", "-k", k).stdout
        for m in ["base", "mid", "top"] { XCTAssertTrue(status.contains("\(m)/1, \(k), x86_64: installed"), status) }
        for m in ["cyca", "cycb", "bad", "needsbad"] { XCTAssertTrue(status.contains("\(m)/1: added"), status) }

        // base comes back with other exports: its dependents are rebuilt.
        module("base", version: "2", exportValue: 2)
        let up = sb.dkms("install", "base/2", "-k", k)
        XCTAssertEqual(up.status, 0, up.all)
        XCTAssertTrue(up.stdout.contains("Rebuilding module mid/1 due to updated dependencies"), up.stdout)
        // mid's own exports did not change, so top, which depends on mid only, is left alone.
        XCTAssertFalse(up.stdout.contains("Rebuilding module top/1"), up.stdout)
        XCTAssertTrue(sb.dkms("status", "base/2").stdout.contains("installed"))
    }
}
