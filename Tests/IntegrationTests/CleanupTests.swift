import XCTest
import Foundation
import TestSupport

/// `dkms cleanup` plants: each kind of orphan beside files that must stay;
/// the dry run changes nothing, `--yes` removes exactly the orphans.
final class CleanupTests: XCTestCase {
    func listing(_ dirs: [String]) -> String {
        dirs.map { sh(["find", $0, "-printf", "%y %p %l\n"]).stdout }.joined().split(separator: "\n").sorted().joined(separator: "\n")
    }

    /// An install tree whose kernel directory holds only what dkms put there
    /// (no `build` or `source` link, no modules.*), for a kernel whose headers are
    /// installed: the kernel is not gone, and nothing installed for it goes.
    func testCleanupKeepsModulesOfAKernelWithHeadersWhateverTheInstallTreeHolds() throws {
        let sb = TestTrees()
        defer { sb.cleanup() }
        for k in Kernels.all {
            try FileManager.default.removeItem(atPath: "\(sb.installTree)/\(k)/build")
            try? FileManager.default.removeItem(atPath: "\(sb.installTree)/\(k)/source")
        }
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        for k in Kernels.all {
            let r = sb.dkms("install", "dkms-hello/1.0", "-k", k)
            XCTAssertEqual(r.status, 0, r.all)
            // What depmod writes, and dkms's files: nothing of the kernel's own.
            let held = try FileManager.default.contentsOfDirectory(atPath: "\(sb.installTree)/\(k)")
            XCTAssertEqual(held.filter { !$0.hasPrefix("modules.") || ["modules.order", "modules.builtin"].contains($0) }, ["updates"], k)
        }
        let statusBefore = sb.dkms("status").stdout
        let before = listing([sb.dkmsTree, sb.installTree])
        let dry = sb.dkms("cleanup")
        XCTAssertTrue(dry.stdout.contains("Nothing to clean up."), dry.all)
        let act = sb.dkms("cleanup", "--yes")
        XCTAssertEqual(act.status, 0, act.all)
        XCTAssertEqual(listing([sb.dkmsTree, sb.installTree]), before)
        XCTAssertEqual(sb.dkms("status").stdout, statusBefore)
        XCTAssertEqual(statusBefore, Kernels.all.map { "dkms-hello/1.0, \($0), x86_64: installed\n" }.joined())
    }

    func testDryRunThenYesRemovesExactlyTheOrphans() throws {
        let sb = TestTrees()
        defer { sb.cleanup() }
        let k = Kernels.all[0]
        let fm = FileManager.default
        // Must stay: an installed module with its files.
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        XCTAssertEqual(sb.dkms("install", "dkms-hello/1.0", "-k", k).status, 0)
        // Must stay: a distribution module outside the dkms locations.
        try fm.createDirectory(atPath: "\(sb.installTree)/\(k)/kernel/drivers", withIntermediateDirectories: true)
        fm.createFile(atPath: "\(sb.installTree)/\(k)/kernel/drivers/intree.ko", contents: Data("in-tree".utf8))

        // Orphan 1: a kernel whose headers and modules are gone; only dkms files remain,
        // and the tree still has a build and an installed link for it.
        let gone = "5.10.0-99-amd64"
        try fm.createDirectory(atPath: "\(sb.installTree)/\(gone)/updates/dkms", withIntermediateDirectories: true)
        fm.createFile(atPath: "\(sb.installTree)/\(gone)/updates/dkms/dkms_hello.ko", contents: Data("old".utf8))
        try fm.createDirectory(atPath: "\(sb.dkmsTree)/dkms-hello/1.0/\(gone)/x86_64/module", withIntermediateDirectories: true)
        fm.createFile(atPath: "\(sb.dkmsTree)/dkms-hello/1.0/\(gone)/x86_64/module/dkms_hello.ko", contents: Data("old".utf8))
        try fm.createSymbolicLink(atPath: "\(sb.dkmsTree)/dkms-hello/kernel-\(gone)-x86_64", withDestinationPath: "1.0/\(gone)/x86_64")
        // Orphan 2: a .ko in the dkms location that no tree entry owns.
        fm.createFile(atPath: "\(sb.installTree)/\(k)/updates/dkms/stray.ko", contents: Data("stray".utf8))
        // Orphan 3: a tree entry whose source is gone.
        try fm.createDirectory(atPath: "\(sb.dkmsTree)/vanished/3.0", withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: "\(sb.dkmsTree)/vanished/3.0/source", withDestinationPath: "\(sb.sourceTree)/vanished-3.0")
        // Orphan 4: an older version of an installed module, installed for no kernel.
        writeModule(at: sb.sourceTree + "/dkms-hello-0.9", name: "dkms_hello", conf: "PACKAGE_NAME=dkms-hello\nPACKAGE_VERSION=0.9\nBUILT_MODULE_NAME[0]=dkms_hello\n")
        XCTAssertEqual(sb.dkms("add", "dkms-hello/0.9").status, 0)

        let before = listing([sb.dkmsTree, sb.installTree])
        let dry = sb.dkms("cleanup")
        XCTAssertEqual(dry.status, 0, dry.all)
        XCTAssertEqual(listing([sb.dkmsTree, sb.installTree]), before, "a dry run changes nothing")
        for expected in ["module files of a removed kernel: \(sb.installTree)/\(gone)/updates/dkms/dkms_hello.ko",
                         "module file no tree entry owns: \(sb.installTree)/\(k)/updates/dkms/stray.ko",
                         "tree entry whose source is gone: \(sb.dkmsTree)/vanished/3.0",
                         "old version installed for no kernel: \(sb.dkmsTree)/dkms-hello/0.9",
                         "Dry run: nothing was removed"] {
            XCTAssertTrue(dry.stdout.contains(expected), "missing '\(expected)' in:\n\(dry.stdout)")
        }
        XCTAssertFalse(dry.stdout.contains("intree.ko"))

        let act = sb.dkms("cleanup", "--yes")
        XCTAssertEqual(act.status, 0, act.all)
        let after = Set(listing([sb.dkmsTree, sb.installTree]).split(separator: "\n").map(String.init))
        let removed = Set(before.split(separator: "\n").map(String.init)).subtracting(after)
        let expectedGone = [
            "\(sb.installTree)/\(gone)/updates/dkms/dkms_hello.ko", "\(sb.installTree)/\(k)/updates/dkms/stray.ko",
            "\(sb.dkmsTree)/vanished/3.0", "\(sb.dkmsTree)/dkms-hello/0.9", "\(sb.dkmsTree)/dkms-hello/1.0/\(gone)",
            "\(sb.dkmsTree)/dkms-hello/kernel-\(gone)-x86_64",
        ]
        for line in removed {
            let path = String(line.dropFirst(2)).components(separatedBy: " ")[0]
            XCTAssertTrue(expectedGone.contains { path == $0 || path.hasPrefix($0 + "/") }, "removed something that must stay: \(line)")
        }
        for p in expectedGone { XCTAssertFalse(fm.fileExists(atPath: p), "\(p) should be gone") }
        XCTAssertTrue(fm.fileExists(atPath: "\(sb.installTree)/\(k)/updates/dkms/dkms_hello.ko"))
        XCTAssertTrue(fm.fileExists(atPath: "\(sb.installTree)/\(k)/kernel/drivers/intree.ko"))
        XCTAssertEqual(sb.dkms("status").stdout, "dkms-hello/1.0, \(k), x86_64: installed\n")
        XCTAssertEqual(sb.dkms("cleanup").stdout, "Nothing to clean up.\n")
    }
}
