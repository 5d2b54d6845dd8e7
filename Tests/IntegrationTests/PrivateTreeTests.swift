import XCTest
import Foundation
import TestSupport

/// A module source and a dkms tree under a 0700 directory (`mktemp -d`, /root/foo-1.0): the
/// sandbox's uid cannot traverse them, the supervisor hands it the trees instead. add, build
/// and install succeed; a failure of the sandbox itself is never blamed on the dkms.conf.
final class PrivateTreeTests: XCTestCase {
    var base = ""
    var sb: TestTrees!

    override func setUp() {
        base = sh(["mktemp", "-d"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        sb = TestTrees(kernels: Array(Kernels.all.prefix(1)), sharedCache: false)
    }

    override func tearDown() {
        sb.cleanup()
        _ = sh(["rm", "-rf", base])
    }

    func dkms(_ args: [String], chroot: Bool) -> Run {
        let trees = ["--dkmstree", base + "/tree", "--sourcetree", base + "/src", "--installtree", sb.installTree]
        let argv = [Repo.dkms] + args + trees
        return chroot ? ChrootTests.inChroot(argv, env: ["DKMS_CONFIG_DIR": sb.configDir])
                      : sh(argv, env: ["DKMS_CONFIG_DIR": sb.configDir])
    }

    func lifecycle(chroot: Bool) {
        let k = Kernels.all.first ?? "none"
        XCTAssertEqual(sh(["stat", "-c", "%a", base]).stdout, "700\n")
        for d in ["tree", "src"] { _ = sh(["mkdir", "-p", "\(base)/\(d)"]) }
        _ = sh(["cp", "-a", Repo.root + "/examples/dkms-hello-1.0", base + "/dkms-hello-1.0"])
        _ = sh(["chmod", "0755", base + "/dkms-hello-1.0"])
        var r = dkms(["add", base + "/dkms-hello-1.0"], chroot: chroot)
        XCTAssertEqual(r.status, 0, r.all)
        r = dkms(["build", "dkms-hello/1.0", "-k", k], chroot: chroot)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertFalse(r.all.contains("Bad conf file"), r.all)
        r = dkms(["install", "dkms-hello/1.0", "-k", k], chroot: chroot)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(sb.installTree)/\(k)/updates/dkms/dkms_hello.ko"), r.all)
    }

    func testSourceAndTreeUnderA0700Directory() { lifecycle(chroot: false) }

    /// A module directory that is itself 0700: named as the sandbox's problem, not a bad dkms.conf.
    func testUnreadableModuleDirectoryIsNamed() {
        _ = sh(["cp", "-a", Repo.root + "/examples/dkms-hello-1.0", base + "/dkms-hello-1.0"])
        _ = sh(["chmod", "0700", base + "/dkms-hello-1.0"])
        let r = dkms(["add", base + "/dkms-hello-1.0"], chroot: false)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertFalse(r.all.contains("Bad conf file"), r.all)
        XCTAssertTrue(r.all.contains("sandbox: \(base)/dkms-hello-1.0 is not searchable by the sandbox's uid 2000000000 (mode 700, owner 0)"), r.all)
        XCTAssertEqual(r.all.split(separator: "\n").count, 1, r.all)
    }

    func testSourceAndTreeUnderA0700DirectoryInAChroot() { lifecycle(chroot: true) }
}
