import XCTest
import Foundation
import Glibc

/// dkms ended by a signal in the middle of a build (a SIGTERM from a package manager's
/// timeout, Ctrl-C at the terminal, a closed terminal): the build's scratch tmpfs, the
/// supervisor's own mount on the host, is unmounted and removed before dkms dies of the
/// signal, the sandbox's processes end with it, and the next run builds normally.
final class InterruptedBuildTests: XCTestCase {
    func testASignalMidBuildLeavesNoMountAndNoProcess() throws {
        let k = Kernels.all[0]
        for sig in [SIGTERM, SIGINT, SIGHUP] {
            let sb = TestTrees(kernels: [k], sharedCache: false)
            defer { sb.cleanup() }
            let marker = "interrupted-\(getpid())-\(sig)"
            writeModule(at: sb.sourceTree + "/slow-1.0", name: "slow", conf: """
            PACKAGE_NAME=slow
            PACKAGE_VERSION=1.0
            BUILT_MODULE_NAME[0]=slow
            DEST_MODULE_LOCATION[0]=/updates/dkms
            MAKE[0]="echo started; exec sleep 1\(marker.filter(\.isNumber))"
            """)
            XCTAssertEqual(sb.dkms("add", "slow/1.0").status, 0)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Repo.dkms)
            p.arguments = ["build", "slow/1.0", "-k", k, "--no-cache"] + sb.treeArgs
            p.environment = ["DKMS_CONFIG_DIR": sb.configDir, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            // Until the module's MAKE runs: its build area is mounted then.
            let log = "\(sb.dkmsTree)/slow/1.0/build/make.log"
            var mounted = false
            for _ in 0..<600 where !mounted {
                usleep(100_000)
                mounted = !HostState.mounts(under: sb.dkmsTree + "/.sandbox/").isEmpty
                    && ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("started")
            }
            XCTAssertTrue(mounted, "signal \(sig): the build never started")
            kill(p.processIdentifier, sig)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .uncaughtSignal, "signal \(sig)")
            XCTAssertEqual(p.terminationStatus, sig, "dkms died of the signal it got")
            usleep(300_000)
            XCTAssertEqual(HostState.mounts(under: sb.base), [], "signal \(sig): no mount left")
            XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: sb.dkmsTree + "/.sandbox"))?.filter { $0.hasPrefix("build-") } ?? [],
                           [], "signal \(sig): the scratch directory is gone")
            XCTAssertEqual(HostState.processes(mentioning: ["sleep 1\(marker.filter(\.isNumber))"]), [], "signal \(sig): no process left")
        }
    }
}
