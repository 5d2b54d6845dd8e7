import XCTest
import Foundation
import TestSupport

/// The reference dkms (Debian's 3.0) and ours read each other's trees and
/// report the same status.
final class InteropTests: XCTestCase {
    func testReferenceReadsOurTree() throws {
        let sb = TestTrees()
        defer { sb.cleanup() }
        // Built on the oldest kernel, installed on the newest: one line each where
        // there are two kernels, the install's alone where there is one.
        let k = Kernels.all, (k0, k1) = (k[0], k[k.count - 1])
        writeModule(at: sb.sourceTree + "/only-added-1.0", name: "only_added", conf: "PACKAGE_NAME=only-added\nPACKAGE_VERSION=1.0\nBUILT_MODULE_NAME[0]=only_added\nDEST_MODULE_LOCATION[0]=/updates\n")
        XCTAssertEqual(sb.dkms("add", "only-added/1.0").status, 0)
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        XCTAssertEqual(sb.dkms("build", "dkms-hello/1.0", "-k", k0).status, 0)
        XCTAssertEqual(sb.dkms("install", "dkms-hello/1.0", "-k", k1).status, 0)
        let ours = sb.dkms("status")
        let reference = ReferenceDKMS(trees: sb)("status")
        XCTAssertEqual(reference.status, 0, reference.all)
        XCTAssertEqual(ours.stdout, (k0 != k1 ? "dkms-hello/1.0, \(k0), x86_64: built\n" : "")
                       + "dkms-hello/1.0, \(k1), x86_64: installed\nonly-added/1.0: added\n")
        XCTAssertEqual(reference.stdout, ours.stdout)
        for kernel in k {
            XCTAssertEqual(ReferenceDKMS(trees: sb)("status", "-k", kernel).stdout, sb.dkms("status", "-k", kernel).stdout)
        }
        // And the reference can operate on what we built: uninstall, remove.
        let un = ReferenceDKMS(trees: sb)("remove", "dkms-hello/1.0", "--all", "--no-depmod")
        XCTAssertEqual(un.status, 0, un.all)
        XCTAssertEqual(sb.dkms("status").stdout, "only-added/1.0: added\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(sb.installTree)/\(k1)/updates/dkms/dkms_hello.ko"))
    }

    func testWeReadTheReferenceTree() throws {
        let sb = TestTrees()
        defer { sb.cleanup() }
        let k = Kernels.all, (k0, k1) = (k[0], k[k.count - 1])
        let ref = ReferenceDKMS(trees: sb)
        sb.addSource(Repo.root + "/examples/dkms-hello-1.0", as: "dkms-hello-1.0")
        writeModule(at: sb.sourceTree + "/other-2.0", name: "other", conf: "PACKAGE_NAME=other\nPACKAGE_VERSION=2.0\nBUILT_MODULE_NAME[0]=other\nDEST_MODULE_LOCATION[0]=/extra\n")
        var r = ref("add", "-m", "dkms-hello", "-v", "1.0")
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(ref("add", "-m", "other", "-v", "2.0").status, 0)
        r = ref("build", "-m", "dkms-hello", "-v", "1.0", "-k", k0)
        XCTAssertEqual(r.status, 0, r.all)
        r = ref("install", "-m", "dkms-hello", "-v", "1.0", "-k", k1, "--no-depmod")
        XCTAssertEqual(r.status, 0, r.all)
        r = ref("install", "-m", "other", "-v", "2.0", "-k", k0, "--no-depmod")
        XCTAssertEqual(r.status, 0, r.all)
        let reference = ref("status")
        XCTAssertEqual(reference.stdout.split(separator: "\n").count, k0 != k1 ? 3 : 2, reference.all)
        XCTAssertEqual(sb.dkms("status").stdout, reference.stdout)
        XCTAssertEqual(sb.dkms("status", "other").stdout, ref("status", "other").stdout)

        // A module the reference installed is uninstalled and removed by us.
        r = sb.dkms("remove", "other/2.0", "--all")
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(sb.installTree)/\(k[0])/updates/dkms/other.ko"), r.all)
        XCTAssertEqual(sb.dkms("status").stdout, ref("status").stdout)
    }

    func testStatusOfALargeReferenceTreeMatches() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dkms-fixture-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = sh([Repo.root + "/scripts/make-status-fixture.sh", dir])
        XCTAssertEqual(made.status, 0, made.all)
        let real = sh(["realpath", dir]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let args = ["--dkmstree", real + "/tree", "--sourcetree", real + "/source", "--installtree", real + "/install"]
        let ours = sh([Repo.dkms, "status"] + args)
        let reference = sh(["/usr/sbin/dkms", "status"] + args)
        XCTAssertEqual(reference.status, 0)
        XCTAssertGreaterThanOrEqual(ours.stdout.split(separator: "\n").count, 40)
        XCTAssertEqual(ours.stdout, reference.stdout)
        XCTAssertEqual(ours.stdout.split(separator: "\n").sorted().joined(separator: "\n") + "\n",
                       try String(contentsOfFile: real + "/expected-status.txt"))
    }
}
