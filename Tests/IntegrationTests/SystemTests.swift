import Foundation
import XCTest
import TestSupport

/// dkms-swift as the system's dkms on Debian: scripts/system-test.sh
/// installs it with install-integration.sh into a throw-away overlay of /
/// (pivot_root, private mount and pid namespaces), installs real -dkms
/// packages and a kernel headers package with apt, purges them, compares
/// every step with Debian's own dkms in a second root, and checks that the
/// host did not change.  Needs root and deb.debian.org; a few minutes.
final class SystemTests: XCTestCase {
    func runSystemTest(_ args: [String]) throws -> Run {
        guard geteuid() == 0 else {
            throw XCTSkip("SystemTests need root: overlay roots in private mount namespaces, and apt in them")
        }
        let r = sh([Integration.systemTest] + args, env: ["DKMS_BINARY": Repo.dkms])
        // The script's own lines say what it checked; keep them in the log.
        print(r.stdout.split(separator: "\n").filter { $0.hasPrefix("[system-test]") || $0.hasPrefix("    ") }
            .joined(separator: "\n"))
        return r
    }

    /// The default flow: ours under pivot_root, then Debian's dkms, same results.
    func testDebianPackagesThroughOurDKMSMatchDebiansDKMS() throws {
        let r = try runSystemTest([])
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("[system-test] ours: passed"), r.all)
        XCTAssertTrue(r.stdout.contains("[system-test] reference: passed"), r.all)
        XCTAssertTrue(r.stdout.contains("ok: apt outcomes and dkms status are the same as with Debian's dkms"), r.all)
        XCTAssertTrue(r.stdout.contains("host unchanged; PASSED"), r.all)
    }

    /// On a machine without Debian's dkms: install-integration's diversions
    /// must keep ours when apt installs Debian's dkms as the packages'
    /// dependency, and --uninstall must leave Debian's in place.
    func testWithoutDebiansDKMSInstalledFirst() throws {
        let r = try runSystemTest(["--without-debian-dkms", "--no-reference"])
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("ok: apt installed Debian's dkms as a dependency; its files went aside, ours stayed"), r.all)
        XCTAssertTrue(r.stdout.contains("[system-test] ours-without-debian-dkms: passed"), r.all)
        XCTAssertTrue(r.stdout.contains("host unchanged; PASSED"), r.all)
    }

    /// The same flow in a chroot instead of pivot_root, as installers and
    /// image builders run it: the kernel refuses user namespaces there, and
    /// the sandbox confines builds in its root-namespaces mode.
    func testChrootVariant() throws {
        let r = try runSystemTest(["--chroot", "--no-reference"])
        XCTAssertNotEqual(r.status, 3, "only the sandbox's namespaces were refused in the chroot: \(r.all)")
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("host unchanged; PASSED"), r.all)
    }
}
