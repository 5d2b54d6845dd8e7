import XCTest
import Foundation
import TestSupport

/// The installer through the real binary: concurrent runs on one tree, a
/// full install tree, and modules signed and compressed as the kernel does.
final class InstallSafetyTests: XCTestCase {
    var k: String { Kernels.all[0] }

    func testConcurrentRunsInstallAndRemoveWithoutCorruption() throws {
        let sb = TestTrees()
        defer { sb.cleanup() }
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        writeModule(at: sb.sourceTree + "/other-1", name: "other", conf: "PACKAGE_NAME=other\nPACKAGE_VERSION=1\n")
        XCTAssertEqual(sb.dkms("add", "other/1").status, 0)
        for m in ["dkms-hello/1.0", "other/1"] { XCTAssertEqual(sb.dkms("build", m, "-k", k).status, 0) }

        let rounds = 12
        let lock = NSLock()
        var outcomes: [Int32] = []
        var waited = 0
        // Two workers on the same module, one on another, each alternating
        // install and uninstall: every run must end cleanly and the tree must
        // always agree with the install tree.
        let plans: [(String, [String])] = [("dkms-hello/1.0", ["install", "uninstall"]), ("dkms-hello/1.0", ["uninstall", "install"]),
                                          ("other/1", ["install", "uninstall"])]
        DispatchQueue.concurrentPerform(iterations: plans.count) { w in
            for i in 0..<rounds {
                let (m, actions) = plans[w]
                let r = sb.dkms(actions[i % 2], m, "-k", k)
                lock.lock()
                outcomes.append(r.status)
                if r.stderr.contains("waiting for lock") { waited += 1 }
                lock.unlock()
            }
        }
        XCTAssertEqual(outcomes.count, plans.count * rounds)
        XCTAssertTrue(outcomes.allSatisfy { $0 == 0 }, "every run ends cleanly: \(outcomes)")
        XCTAssertGreaterThan(waited, 0, "runs met the tree lock and said they were waiting")
        // Consistency: what the tree says installed is installed, complete; nothing else is.
        for (m, name) in [("dkms-hello", "dkms_hello"), ("other", "other")] {
            let installedFile = "\(sb.installTree)/\(k)/updates/dkms/\(name).ko"
            let v = m == "other" ? "1" : "1.0"
            let status = sb.dkms("status", "\(m)/\(v)").stdout
            if status.contains(": installed") {
                XCTAssertEqual(sha256(installedFile), sha256("\(sb.dkmsTree)/\(m)/\(v)/\(k)/x86_64/module/\(name).ko"))
                XCTAssertFalse(status.contains("("), "no warnings: \(status)")
            } else {
                XCTAssertFalse(FileManager.default.fileExists(atPath: installedFile), status)
            }
        }
        XCTAssertEqual(sh(["find", sb.dkmsTree, sb.installTree, "-name", "*.dkms-tmp-*"]).stdout, "")
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: sb.dkmsTree + "/.journal")) ?? [], [])
    }

    func testFullInstallTreeFailsCleanly() throws {
        let sb = TestTrees()
        defer { sb.cleanup() }
        // A module bigger than the install tree's free space.
        let src = sb.sourceTree + "/big-1"
        writeModule(at: src, name: "big", conf: "PACKAGE_NAME=big\nPACKAGE_VERSION=1\nSTRIP[0]=no\n")
        try "#include <linux/module.h>\nMODULE_LICENSE(\"GPL\");\nstatic const char filler[1 << 20] __used = { 1 };\n"
            .write(toFile: src + "/big.c", atomically: true, encoding: .utf8)
        XCTAssertEqual(sb.dkms("add", "big/1").status, 0)
        let b = sb.dkms("build", "big/1", "-k", k)
        XCTAssertEqual(b.status, 0, b.all)
        let updates = "\(sb.installTree)/\(k)/updates"
        try FileManager.default.createDirectory(atPath: updates, withIntermediateDirectories: true)
        XCTAssertEqual(sh(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", updates]).status, 0)
        defer { _ = sh(["umount", "-l", updates]) }
        let r = sb.dkms("install", "big/1", "-k", k)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("No space left on device"), r.stderr)
        XCTAssertTrue(r.stderr.contains("big.ko"), "the error names the file: \(r.stderr)")
        XCTAssertEqual(sh(["find", updates, "-type", "f"]).stdout, "", "nothing half-written")
        XCTAssertEqual(sb.dkms("status").stdout, "big/1, \(k), x86_64: built\n")
    }

    func testSignedAndCompressedAsConfigured() throws {
        for method in ["xz", "zstd"] {
            let sb = TestTrees()
            defer { sb.cleanup() }
            let conf = (try? String(contentsOfFile: sb.configDir + "/framework.conf")) ?? ""
            try (conf + "compress_module=\(method)\n").write(toFile: sb.configDir + "/framework.conf", atomically: true, encoding: .utf8)
            XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
            let r = sb.dkms("install", "dkms-hello/1.0", "-k", k)
            XCTAssertEqual(r.status, 0, r.all)
            let suffix = method == "xz" ? "xz" : "zst"
            let ko = "\(sb.installTree)/\(k)/updates/dkms/dkms_hello.ko.\(suffix)"
            XCTAssertTrue(FileManager.default.fileExists(atPath: ko), r.all)
            XCTAssertEqual(modinfo("signer", ko), "DKMS module signing key", "signed before compression, readable compressed")
            XCTAssertTrue(modinfo("vermagic", ko).hasPrefix(k + " "))
            XCTAssertTrue(sh(["grep", "-q", "dkms_hello.ko.\(suffix)", "\(sb.installTree)/\(k)/modules.dep"]).status == 0)
            XCTAssertEqual(sb.dkms("status").stdout, "dkms-hello/1.0, \(k), x86_64: installed\n")
            let key = sb.dkmsTree + "/mok.key"
            let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
            XCTAssertEqual(mode, 0o600, "the generated private key is private")
            XCTAssertEqual(sb.dkms("uninstall", "dkms-hello/1.0", "-k", k).status, 0)
            XCTAssertFalse(FileManager.default.fileExists(atPath: ko))
        }
    }
}
