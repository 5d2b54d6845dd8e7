import XCTest
import Foundation
import TestSupport

/// Kills `dkms` with SIGKILL before every journaled step of install,
/// uninstall and remove (DKMS_FAULT_KILL_AT), then lets the next run
/// recover, and checks the system is consistent: every file the tree says is
/// installed is complete, the original in-tree module is never lost, and no
/// temporary file is left behind.
final class CrashTests: XCTestCase {
    var sb: TestTrees!
    let original = "original in-tree module bytes"
    var k: String { Kernels.all[0] }
    var originalPath: String { "\(sb.installTree)/\(k)/kernel/drivers/misc/dkms_hello.ko" }
    var installedPath: String { "\(sb.installTree)/\(k)/updates/dkms/dkms_hello.ko" }
    var builtPath: String { "\(sb.dkmsTree)/dkms-hello/1.0/\(k)/x86_64/module/dkms_hello.ko" }

    override func setUp() {
        sb = TestTrees()
        try! FileManager.default.createDirectory(atPath: (originalPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! original.write(toFile: originalPath, atomically: true, encoding: .utf8)
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        XCTAssertEqual(sb.dkms("build", "dkms-hello/1.0", "-k", k).status, 0)
    }
    override func tearDown() { sb.cleanup() }

    func faultPoints(_ args: [String]) -> Int {
        let r = sb.dkms(args, extraEnv: ["DKMS_FAULT_LIST": "1"])
        XCTAssertEqual(r.status, 0, r.all)
        let line = r.stderr.split(separator: "\n").first { $0.hasPrefix("dkms: ") && $0.hasSuffix("fault point(s)") } ?? ""
        return Int(line.split(separator: " ")[1]) ?? 0
    }

    /// The invariants that must hold after any crash and one recovery.
    func assertConsistent(_ label: String) {
        let fm = FileManager.default
        let status = sb.dkms("status").stdout
        let installed = status.contains(": installed")
        if installed {
            XCTAssertEqual(sha256(installedPath), sha256(builtPath), "\(label): installed file is complete")
            let backup = "\(sb.dkmsTree)/dkms-hello/original_module/\(k)/x86_64/dkms_hello.ko"
            XCTAssertEqual(try? String(contentsOfFile: backup), original, "\(label): the original is archived")
            XCTAssertFalse(fm.fileExists(atPath: originalPath), "\(label): original not shadowed twice")
        } else {
            XCTAssertFalse(fm.fileExists(atPath: installedPath), "\(label): nothing half-installed: \(status)")
            XCTAssertEqual(try? String(contentsOfFile: originalPath), original, "\(label): the original is back in place")
        }
        let leftovers = sh(["find", sb.dkmsTree, sb.installTree, "(", "-name", "*.dkms-tmp-*", "-o", "-name", "*.dkms-old-*", ")"]).stdout
        XCTAssertEqual(leftovers, "", "\(label): temporary files left")
        let journals = (try? fm.contentsOfDirectory(atPath: sb.dkmsTree + "/.journal")) ?? []
        XCTAssertEqual(journals, [], "\(label): journal left")
    }

    func killEverywhere(_ args: [String], from setup: () -> Void) -> Int {
        // The first transaction in a tree also creates .journal/: count on a warm tree.
        setup()
        _ = faultPoints(args)
        setup()
        let points = faultPoints(args)
        XCTAssertGreaterThan(points, 3)
        for n in 1...points {
            setup()
            let r = sb.dkms(args, extraEnv: ["DKMS_FAULT_KILL_AT": String(n)])
            XCTAssertEqual(r.status, 137, "kill point \(n) of \(points): \(r.all)")
            let rec = sb.dkms("recover")
            XCTAssertEqual(rec.status, 0, rec.all)
            assertConsistent("\(args[0]) killed at \(n)/\(points)")
        }
        return points
    }

    func testKillAtEveryStepOfInstallUninstallAndRemove() throws {
        let toBuilt = { _ = self.sb.dkms("uninstall", "dkms-hello/1.0", "-k", self.k) }
        let toInstalled = {
            if !self.sb.dkms("status").stdout.contains(": installed") {
                if !self.sb.dkms("status").stdout.contains(": built") {
                    _ = self.sb.dkms("add", "dkms-hello/1.0")
                }
                XCTAssertEqual(self.sb.dkms("install", "dkms-hello/1.0", "-k", self.k).status, 0)
            }
        }
        let install = killEverywhere(["install", "dkms-hello/1.0", "-k", k], from: toBuilt)
        let uninstall = killEverywhere(["uninstall", "dkms-hello/1.0", "-k", k], from: toInstalled)
        let remove = killEverywhere(["remove", "dkms-hello/1.0", "--all"], from: toInstalled)
        print("CrashTests: kill points tried: install \(install), uninstall \(uninstall), remove \(remove), total \(install + uninstall + remove)")
    }
}
