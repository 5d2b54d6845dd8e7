import Foundation
import XCTest
@testable import Installer
#if canImport(Glibc)
import Glibc
#endif

/// Real filesystem failures: a full tmpfs and a read-only mount as install tree.
final class FilesystemFailureTests: XCTestCase {
    typealias T = TestSupport
    var root = ""
    var mounted: String?

    override func setUpWithError() throws {
        try XCTSkipUnless(T.isRoot(), "needs root to mount tmpfs")
        root = T.makeTempDir("fsfail")
    }

    override func tearDown() {
        if let m = mounted { _ = umount2(m, Int32(MNT_DETACH)) }
        T.removeTree(root)
    }

    /// Install tree on a tmpfs of `size`, with one original module in it.
    func setUpMountedTrees(size: String, moduleSize: Int) throws -> (T.Trees, [UInt8]) {
        let t = T.Trees(root: root)
        try FileManager.default.createDirectory(atPath: t.base, withIntermediateDirectories: true)
        guard T.run("mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", t.base]).status == 0 else {
            throw XCTSkip("cannot mount tmpfs")
        }
        mounted = t.base
        _ = T.makeTrees(root: root, modules: [
            ("big", "1.0", [("big.ko", T.payload(seed: 5, size: moduleSize)), ("small.ko", T.payload(seed: 6, size: 2_000))]),
        ])
        let original = T.payload(seed: 7, size: 8_000)
        T.write(t.kernelDir() + "/kernel/drivers/misc/big.ko", original)
        return (t, original)
    }

    func install(_ t: T.Trees) -> T.Run {
        T.runHelper(["install"] + T.treeArgs(t, "big", "1.0") + ["--orig", "big=/kernel/drivers/misc"])
    }

    func testDiskFullGivesCleanErrorAndLeavesNothingHalfWritten() throws {
        let (t, original) = try setUpMountedTrees(size: "64k", moduleSize: 200_000)
        let before = T.snapshot(t.root)
        let r = install(t)
        XCTAssertEqual(r.status, 1)
        XCTAssertFalse(r.signaled)
        print("[disk-full] error: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        XCTAssertTrue(r.stderr.contains("No space left on device"), r.stderr)
        XCTAssertTrue(r.stderr.contains(t.kernelDir() + "/updates/dkms/big.ko"), "error must name the module file: \(r.stderr)")
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one-line error: \(r.stderr)")
        XCTAssertEqual(T.snapshot(t.root), before, T.describeDiff(before, T.snapshot(t.root)))
        XCTAssertEqual(T.bytes(t.kernelDir() + "/kernel/drivers/misc/big.ko"), original)
        XCTAssertNil(t.installedVersion("big"))
        XCTAssertEqual(T.leftovers(t.root), [])
    }

    func testReadOnlyInstallTreeGivesCleanError() throws {
        let (t, original) = try setUpMountedTrees(size: "1m", moduleSize: 20_000)
        XCTAssertEqual(T.run("mount", ["-o", "remount,ro", t.base]).status, 0)
        let before = T.snapshot(t.root)
        let r = install(t)
        XCTAssertEqual(r.status, 1)
        print("[read-only] error: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        XCTAssertTrue(r.stderr.contains("Read-only file system"), r.stderr)
        XCTAssertTrue(r.stderr.contains(t.install), "error must name a path in the install tree: \(r.stderr)")
        XCTAssertEqual(T.snapshot(t.root), before, T.describeDiff(before, T.snapshot(t.root)))
        XCTAssertEqual(T.bytes(t.kernelDir() + "/kernel/drivers/misc/big.ko"), original)
        XCTAssertEqual(T.leftovers(t.root), [])
    }

    /// The dkms tree is the full one: backing up a large original (a cross-filesystem
    /// copy) runs out of space. The original must stay where it was.
    func testDiskFullInDkmsTreeWhileBackingUpOriginal() throws {
        let t = T.Trees(root: root)
        try FileManager.default.createDirectory(atPath: t.dkms, withIntermediateDirectories: true)
        guard T.run("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", t.dkms]).status == 0 else {
            throw XCTSkip("cannot mount tmpfs")
        }
        mounted = t.dkms
        _ = T.makeTrees(root: root, modules: [("orig", "1.0", [("orig.ko", T.payload(seed: 20, size: 4_000))])])
        let original = T.payload(seed: 21, size: 600_000)
        T.write(t.kernelDir() + "/kernel/drivers/misc/orig.ko", original)
        let before = T.snapshot(t.root)
        let r = T.runHelper(["install"] + T.treeArgs(t, "orig", "1.0") + ["--orig", "orig=/kernel/drivers/misc"])
        XCTAssertEqual(r.status, 1)
        print("[dkms-tree-full] error: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        XCTAssertTrue(r.stderr.contains("No space left on device"), r.stderr)
        XCTAssertTrue(r.stderr.contains(t.originalModuleDirectory("orig") + "/orig.ko:"), r.stderr)
        XCTAssertEqual(T.snapshot(t.root), before, T.describeDiff(before, T.snapshot(t.root)))
        XCTAssertEqual(T.bytes(t.kernelDir() + "/kernel/drivers/misc/orig.ko"), original)
    }

    /// chattr +i on the destination directory: EPERM instead of EROFS, same cleanliness.
    func testImmutableDestinationDirectory() throws {
        let t = T.makeTrees(root: root, modules: [("imm", "1.0", [("imm.ko", T.payload(seed: 8, size: 5_000))])])
        let dest = t.kernelDir() + "/updates/dkms"
        try FileManager.default.createDirectory(atPath: dest, withIntermediateDirectories: true)
        guard T.run("chattr", ["+i", dest]).status == 0 else { throw XCTSkip("chattr +i not supported here") }
        defer { _ = T.run("chattr", ["-i", dest]) }
        let before = T.snapshot(t.root)
        let r = T.runHelper(["install"] + T.treeArgs(t, "imm", "1.0"))
        XCTAssertEqual(r.status, 1)
        print("[immutable] error: \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        XCTAssertTrue(r.stderr.contains(dest + "/imm.ko"), r.stderr)
        XCTAssertEqual(T.snapshot(t.root), before)
    }
}
