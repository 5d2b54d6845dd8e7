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

    /// SIGKILL cannot be caught: the killed run's tmpfs stays mounted. The next run sweeps
    /// it (its name carries a pid and start time no process has any more), while the areas
    /// of a dkms still building beside it are left alone.
    func testWhatASIGKILLLeavesIsSweptByTheNextRunAndALiveRunIsNot() throws {
        let k = Kernels.all[0]
        let sb = TestTrees(kernels: [k], sharedCache: false)
        defer { sb.cleanup() }
        let marker = "9\(getpid() % 100000)7"
        writeModule(at: sb.sourceTree + "/slow-1.0", name: "slow", conf: """
        PACKAGE_NAME=slow
        PACKAGE_VERSION=1.0
        BUILT_MODULE_NAME[0]=slow
        DEST_MODULE_LOCATION[0]=/updates/dkms
        MAKE[0]="echo started; exec sleep \(marker)"
        """)
        writeModule(at: sb.sourceTree + "/quick-1.0", name: "quick", conf: """
        PACKAGE_NAME=quick
        PACKAGE_VERSION=1.0
        BUILT_MODULE_NAME[0]=quick
        DEST_MODULE_LOCATION[0]=/updates/dkms
        """)
        XCTAssertEqual(sb.dkms("add", "slow/1.0").status, 0)
        XCTAssertEqual(sb.dkms("add", "quick/1.0").status, 0)
        let scratch = sb.dkmsTree + "/.sandbox/"
        func startSlowBuild() throws -> Process {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Repo.dkms)
            p.arguments = ["build", "slow/1.0", "-k", k, "--no-cache", "--force"] + sb.treeArgs
            p.environment = ["DKMS_CONFIG_DIR": sb.configDir, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            let log = "\(sb.dkmsTree)/slow/1.0/build/make.log"
            var started = false
            for _ in 0..<600 where !started {
                usleep(100_000)
                started = !HostState.mounts(under: scratch).isEmpty
                    && ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("started")
            }
            XCTAssertTrue(started, "the slow build never started")
            return p
        }

        // A live run's build area survives another run's sweep. The other run sweeps before
        // it takes the tree lock (a parallel autoinstall's children share one), so it gets
        // as far as waiting for the slow build's lock; until then its sweep is done.
        let live = try startSlowBuild()
        let liveMounts = HostState.mounts(under: scratch)
        let waiter = Process()
        waiter.executableURL = URL(fileURLWithPath: Repo.dkms)
        waiter.arguments = ["build", "quick/1.0", "-k", k, "--no-cache", "--verbose"] + sb.treeArgs
        waiter.environment = ["DKMS_CONFIG_DIR": sb.configDir, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        let waiterOut = sb.base + "/waiter.out"
        _ = FileManager.default.createFile(atPath: waiterOut, contents: nil)
        let outHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: waiterOut))
        waiter.standardOutput = outHandle
        waiter.standardError = outHandle
        try waiter.run()
        var waiting = false
        for _ in 0..<600 where !waiting {
            usleep(100_000)
            waiting = ((try? String(contentsOfFile: waiterOut, encoding: .utf8)) ?? "").contains("waiting for lock")
        }
        XCTAssertTrue(waiting, "the second run never reached the lock")
        XCTAssertEqual(HostState.mounts(under: scratch), liveMounts, "the running build's area was left alone")

        // Killed: its mount stays (the case this is for), its processes end with it.
        kill(live.processIdentifier, SIGKILL)
        live.waitUntilExit()
        XCTAssertEqual(live.terminationStatus, SIGKILL)
        XCTAssertEqual(HostState.mounts(under: scratch).count, liveMounts.count, "SIGKILL left the mount")
        for _ in 0..<50 where !HostState.processes(mentioning: ["sleep \(marker)"]).isEmpty { usleep(100_000) }
        XCTAssertEqual(HostState.processes(mentioning: ["sleep \(marker)"]), [], "the build's processes ended with dkms")
        // The waiter gets the lock and builds; it swept before the kill, so it found nothing to undo.
        waiter.waitUntilExit()
        try outHandle.close()
        let waited = (try? String(contentsOfFile: waiterOut, encoding: .utf8)) ?? ""
        XCTAssertEqual(waiter.terminationStatus, 0, waited)
        XCTAssertFalse(waited.contains("left by a dkms run that was killed"), waited)
        XCTAssertEqual(HostState.mounts(under: scratch).count, liveMounts.count, "the killed run's mount is still there")

        // The next run undoes it, says so with --verbose, and builds.
        let next = sb.dkms("build", "quick/1.0", "-k", k, "--no-cache", "--force", "--verbose")
        XCTAssertEqual(next.status, 0, next.all)
        XCTAssertTrue(next.all.contains("left by a dkms run that was killed"), next.all)
        XCTAssertEqual(HostState.mounts(under: sb.base), [], "no mount left")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
        XCTAssertEqual(left.filter { $0.hasPrefix("build-") || $0.hasPrefix("post-") || $0.hasPrefix("conf-") }, [], "no scratch directory left")
    }
}
