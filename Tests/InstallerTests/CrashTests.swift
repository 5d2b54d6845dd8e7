import Foundation
import XCTest
@testable import Installer
#if canImport(Glibc)
import Glibc
import SafeFS
import TestSupport
#endif

/// SIGKILL the helper right before every single fault point of a transaction, run
/// recovery, and check that the trees are exactly "before" or exactly "after" —
/// which implies: installed files complete and byte-equal to their sources, no
/// original lost, no temp/aside files or journals left.
// Install, uninstall and remove are killed at every step through the real
// `dkms` binary in Tests/IntegrationTests/CrashTests.swift; here the library
// is driven directly for what the binary cannot easily set up: an upgrade
// over an installed version, an install tree on another filesystem, and a
// crash inside recovery itself.
final class CrashTests: XCTestCase {
    typealias T = InstallerFixture
    let k = InstallerFixture.kernel

    /// Two modules: `alpha` shadows an in-tree original, `beta` is new.
    func freshTrees(_ root: String, installedFirst: [String] = []) -> T.Trees {
        T.removeTree(root)
        try! FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let t = T.makeTrees(root: root, modules: [
            ("pkg", "1.0", [("alpha.ko", T.payload(seed: 1, size: 150_000)), ("beta.ko", T.payload(seed: 2, size: 70_000))]),
            ("pkg", "2.0", [("alpha.ko", T.payload(seed: 3, size: 160_000)), ("beta.ko", T.payload(seed: 4, size: 80_000))]),
        ])
        T.write(t.kernelDir() + "/kernel/drivers/misc/alpha.ko", T.payload(seed: 99, size: 50_000))
        // A stale differently-compressed beta from some earlier install forces a removeFile step.
        T.write(t.kernelDir() + "/updates/dkms/beta.ko.xz", T.payload(seed: 77, size: 1000))
        for v in installedFirst {
            let r = T.runHelper(["install"] + T.treeArgs(t, "pkg", v) + common)
            precondition(r.status == 0 && !r.signaled, "setup install failed: \(r.stderr)")
        }
        return t
    }

    let common = ["--orig", "alpha=/kernel/drivers/misc"]

    struct Scenario {
        var name: String
        var installedFirst: [String]
        var args: (T.Trees) -> [String]
    }

    /// Returns the number of kill points tried.
    @discardableResult
    func killAtEveryPoint(_ s: Scenario, file: StaticString = #filePath, line: UInt = #line) -> Int {
        let root = T.makeTempDir("crash-\(s.name)")
        defer { T.removeTree(root) }
        // Reference run: how many points, and what "after" looks like.
        var t = freshTrees(root + "/t", installedFirst: s.installedFirst)
        let before = T.snapshot(t.root)
        let listing = T.runHelper(s.args(t), env: ["DKMS_FAULT_LIST": "1"])
        XCTAssertEqual(listing.status, 0, "\(s.name) reference run: \(listing.stderr)", file: file, line: line)
        guard let n = T.faultPoints(in: listing), n > 0 else {
            XCTFail("\(s.name): no fault-point count in output", file: file, line: line); return 0
        }
        let after = T.snapshot(t.root)
        XCTAssertNotEqual(before, after, "\(s.name): the transaction changed nothing", file: file, line: line)
        var rolledBack = 0, rolledForward = 0
        for point in 1...(n + 1) {
            t = freshTrees(root + "/t", installedFirst: s.installedFirst)
            let r = T.runHelper(s.args(t), env: ["DKMS_FAULT_KILL_AT": String(point)])
            if point <= n {
                XCTAssertTrue(r.killedBySIGKILL, "\(s.name) point \(point): expected SIGKILL, got status \(r.status) \(r.stderr)", file: file, line: line)
            } else {
                XCTAssertEqual(r.status, 0, "\(s.name): point \(point) is past the end and must not kill", file: file, line: line)
            }
            let rec = T.runHelper(["recover", "--dkms-tree", t.dkms])
            XCTAssertEqual(rec.status, 0, "\(s.name) point \(point): recovery failed: \(rec.stderr)", file: file, line: line)
            let now = T.snapshot(t.root)
            if now == before { rolledBack += 1 } else if now == after { rolledForward += 1 } else {
                XCTFail("\(s.name) point \(point): state is neither before nor after:\nvs before:\n\(T.describeDiff(before, now))\nvs after:\n\(T.describeDiff(after, now))", file: file, line: line)
            }
            XCTAssertEqual(T.leftovers(t.root), [], "\(s.name) point \(point)", file: file, line: line)
            // Recovery is idempotent: a second run changes nothing.
            let again = T.runHelper(["recover", "--dkms-tree", t.dkms])
            XCTAssertTrue(again.stdout.contains("rolled-back: 0 rolled-forward: 0"), "\(s.name) point \(point): \(again.stdout)", file: file, line: line)
            XCTAssertEqual(T.snapshot(t.root), now, file: file, line: line)
            // And the tree is usable: redoing the command after a rollback reaches "after".
            if now == before {
                let redo = T.runHelper(s.args(t))
                XCTAssertEqual(redo.status, 0, "\(s.name) point \(point) redo: \(redo.stderr)", file: file, line: line)
                XCTAssertEqual(T.snapshot(t.root), after, "\(s.name) point \(point): redo differs:\n\(T.describeDiff(after, T.snapshot(t.root)))", file: file, line: line)
            }
        }
        print("[crash] \(s.name): \(n) kill points tried (+1 past the end): \(rolledBack) rolled back, \(rolledForward) rolled forward")
        XCTAssertGreaterThan(rolledBack, 0, file: file, line: line)
        XCTAssertGreaterThan(rolledForward, 0, file: file, line: line)
        return n
    }

    func testKillAtEveryPointDuringUpgradeToNewVersion() {
        killAtEveryPoint(Scenario(name: "upgrade", installedFirst: ["1.0"]) { t in
            ["install"] + T.treeArgs(t, "pkg", "2.0") + self.common
        })
    }

    func testKillAtEveryPointAcrossFilesystems() throws {
        try XCTSkipUnless(T.isRoot(), "needs root to mount tmpfs")
        let root = T.makeTempDir("crash-xdev")
        defer { _ = umount(root + "/t/base"); T.removeTree(root) }
        // freshTrees() deletes and recreates /t, so mount per reset via a wrapper scenario.
        let scenario = Scenario(name: "install-xdev", installedFirst: []) { t in
            ["install"] + T.treeArgs(t, "pkg", "1.0") + self.common
        }
        // Mount a tmpfs over <root>/t/base once; freshTrees only removes its contents.
        try FileManager.default.createDirectory(atPath: root + "/t/base", withIntermediateDirectories: true)
        guard T.run("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", root + "/t/base"]).status == 0 else {
            throw XCTSkip("mount tmpfs failed")
        }
        let n = killAtEveryPointOnMountedBase(scenario, root: root)
        XCTAssertGreaterThan(n, 0)
    }

    /// Like killAtEveryPoint but keeps <root>/t/base (a mount point) and clears it instead.
    func killAtEveryPointOnMountedBase(_ s: Scenario, root: String) -> Int {
        func reset() -> T.Trees {
            for name in FS.listDirectory(root + "/t") where name != "base" { T.removeTree(root + "/t/" + name) }
            for name in FS.listDirectory(root + "/t/base") { T.removeTree(root + "/t/base/" + name) }
            let t = T.makeTrees(root: root + "/t", modules: [
                ("pkg", "1.0", [("alpha.ko", T.payload(seed: 1, size: 150_000)), ("beta.ko", T.payload(seed: 2, size: 70_000))]),
            ])
            T.write(t.kernelDir() + "/kernel/drivers/misc/alpha.ko", T.payload(seed: 99, size: 50_000))
            return t
        }
        var t = reset()
        let before = T.snapshot(t.root)
        let listing = T.runHelper(s.args(t), env: ["DKMS_FAULT_LIST": "1"])
        XCTAssertTrue(listing.stdout.contains("copy "), "expected the cross-filesystem copy path:\n\(listing.stdout)")
        guard let n = T.faultPoints(in: listing) else { XCTFail("no count: \(listing.stderr)"); return 0 }
        let after = T.snapshot(t.root)
        for point in 1...n {
            t = reset()
            let r = T.runHelper(s.args(t), env: ["DKMS_FAULT_KILL_AT": String(point)])
            XCTAssertTrue(r.killedBySIGKILL, "point \(point): \(r.stderr)")
            XCTAssertEqual(T.runHelper(["recover", "--dkms-tree", t.dkms]).status, 0)
            let now = T.snapshot(t.root)
            XCTAssertTrue(now == before || now == after, "point \(point):\n\(T.describeDiff(before, now))")
            XCTAssertEqual(T.leftovers(t.root), [], "point \(point)")
        }
        print("[crash] \(s.name): \(n) kill points tried")
        return n
    }

    /// Crash the transaction, then crash recovery itself at each of its points, then
    /// recover again: recovery must be restartable anywhere.
    func testKillDuringRecoveryAtEveryPoint() {
        let root = T.makeTempDir("crash-recovery")
        defer { T.removeTree(root) }
        let args: (T.Trees) -> [String] = { t in ["install"] + T.treeArgs(t, "pkg", "2.0") + self.common }
        var t = freshTrees(root + "/t", installedFirst: ["1.0"])
        let before = T.snapshot(t.root)
        let listing = T.runHelper(args(t), env: ["DKMS_FAULT_LIST": "1"])
        guard let n = T.faultPoints(in: listing) else { XCTFail("no count"); return }
        let after = T.snapshot(t.root)
        var tried = 0
        // Points that leave the most to undo: just before commit, and mid-way.
        for txPoint in Set([n / 2, n - 2, n - 1].filter { $0 > 0 }).sorted() {
            t = freshTrees(root + "/t", installedFirst: ["1.0"])
            _ = T.runHelper(args(t), env: ["DKMS_FAULT_KILL_AT": String(txPoint)])
            // Count recovery's own points on a copy of this crashed state.
            let copy = root + "/copy"
            T.removeTree(copy)
            XCTAssertEqual(T.run("cp", ["-a", t.root, copy]).status, 0)
            let recList = T.runHelper(["recover", "--dkms-tree", copy + "/dkms"], env: ["DKMS_FAULT_LIST": "1"])
            let m = T.faultPoints(in: recList) ?? 0
            XCTAssertGreaterThan(m, 0)
            for recPoint in 1...max(m, 1) {
                t = freshTrees(root + "/t", installedFirst: ["1.0"])
                _ = T.runHelper(args(t), env: ["DKMS_FAULT_KILL_AT": String(txPoint)])
                let r = T.runHelper(["recover", "--dkms-tree", t.dkms], env: ["DKMS_FAULT_KILL_AT": String(recPoint)])
                XCTAssertTrue(r.killedBySIGKILL || m == 0, "recovery point \(recPoint)")
                XCTAssertEqual(T.runHelper(["recover", "--dkms-tree", t.dkms]).status, 0)
                let now = T.snapshot(t.root)
                XCTAssertTrue(now == before || now == after, "tx \(txPoint) rec \(recPoint):\n\(T.describeDiff(before, now))")
                XCTAssertEqual(T.leftovers(t.root), [])
                tried += 1
            }
        }
        print("[crash] recovery: \(tried) kill points tried inside recovery")
    }
}
