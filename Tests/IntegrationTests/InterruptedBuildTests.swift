import XCTest
import Foundation
import Glibc
import TestSupport

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
            let seconds = "1\(getpid())\(sig)"
            addModule(sb, "slow", make: "echo started; exec sleep \(seconds)")
            let p = try startDkms(sb, ["build", "slow/1.0", "-k", k, "--no-cache"])
            XCTAssertTrue(waitUntilBuilding(sb, "slow"), "signal \(sig): the build never started")
            kill(p.processIdentifier, sig)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .uncaughtSignal, "signal \(sig)")
            XCTAssertEqual(p.terminationStatus, sig, "dkms died of the signal it got")
            usleep(300_000)
            XCTAssertEqual(HostState.mounts(under: sb.base), [], "signal \(sig): no mount left")
            XCTAssertEqual(scratchAreas(sb), [], "signal \(sig): the scratch directory is gone")
            XCTAssertEqual(HostState.processes(mentioning: ["sleep \(seconds)"]), [], "signal \(sig): no process left")
        }
    }

    /// SIGKILL cannot be caught: the killed run's tmpfs stays mounted. The next run sweeps
    /// it (its name carries a pid and start time no process has any more), while the areas
    /// of a dkms still building beside it are left alone.
    func testWhatASIGKILLLeavesIsSweptByTheNextRunAndALiveRunIsNot() throws {
        let k = Kernels.all[0]
        let sb = TestTrees(kernels: [k], sharedCache: false)
        defer { sb.cleanup() }
        let seconds = "9\(getpid() % 100000)7"
        addModule(sb, "slow", make: "echo started; exec sleep \(seconds)")
        addModule(sb, "quick")
        let killed = "left by a dkms run that was killed"

        // A live run's build area survives another run's sweep. The other run sweeps before
        // it takes the tree lock (a parallel autoinstall's children share one), so once it
        // waits for the slow build's lock its sweep is done.
        let live = try startDkms(sb, ["build", "slow/1.0", "-k", k, "--no-cache"])
        XCTAssertTrue(waitUntilBuilding(sb, "slow"), "the slow build never started")
        let liveMounts = HostState.mounts(under: sb.dkmsTree + "/.sandbox/")
        let waiterOut = sb.base + "/waiter.out"
        let waiter = try startDkms(sb, ["build", "quick/1.0", "-k", k, "--no-cache", "--verbose"], output: waiterOut)
        XCTAssertTrue(waitFor { self.text(waiterOut).contains("waiting for lock") }, "the second run never reached the lock")
        XCTAssertEqual(HostState.mounts(under: sb.dkmsTree + "/.sandbox/"), liveMounts, "the running build's area was left alone")

        // Killed: its mount stays (the case this is for), its processes end with it.
        kill(live.processIdentifier, SIGKILL)
        live.waitUntilExit()
        XCTAssertEqual(live.terminationStatus, SIGKILL)
        XCTAssertEqual(HostState.mounts(under: sb.dkmsTree + "/.sandbox/").count, liveMounts.count, "SIGKILL left the mount")
        _ = waitFor { HostState.processes(mentioning: ["sleep \(seconds)"]).isEmpty }
        XCTAssertEqual(HostState.processes(mentioning: ["sleep \(seconds)"]), [], "the build's processes ended with dkms")
        // The waiter gets the lock and builds; it swept before the kill, so it found nothing to undo.
        waiter.waitUntilExit()
        XCTAssertEqual(waiter.terminationStatus, 0, text(waiterOut))
        XCTAssertFalse(text(waiterOut).contains(killed), text(waiterOut))
        XCTAssertEqual(HostState.mounts(under: sb.dkmsTree + "/.sandbox/").count, liveMounts.count, "the killed run's mount is still there")

        // The next run undoes it, says so with --verbose, and builds.
        let next = sb.dkms("build", "quick/1.0", "-k", k, "--no-cache", "--force", "--verbose")
        XCTAssertEqual(next.status, 0, next.all)
        XCTAssertTrue(next.all.contains(killed), next.all)
        XCTAssertEqual(HostState.mounts(under: sb.base), [], "no mount left")
        XCTAssertEqual(scratchAreas(sb), [], "no scratch directory left")
    }

    /// `<name>/1.0` added to the tree; `make` replaces kbuild's default MAKE.
    func addModule(_ sb: TestTrees, _ name: String, make: String? = nil) {
        writeModule(at: sb.sourceTree + "/\(name)-1.0", name: name, conf: """
        PACKAGE_NAME=\(name)
        PACKAGE_VERSION=1.0
        BUILT_MODULE_NAME[0]=\(name)
        DEST_MODULE_LOCATION[0]=/updates/dkms
        """ + (make.map { "\nMAKE[0]=\"\($0)\"" } ?? ""))
        XCTAssertEqual(sb.dkms("add", "\(name)/1.0").status, 0)
    }

    /// dkms started in the background, its output to `output` or nowhere.
    func startDkms(_ sb: TestTrees, _ args: [String], output: String? = nil) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Repo.dkms)
        p.arguments = args + sb.treeArgs
        p.environment = ["DKMS_CONFIG_DIR": sb.configDir, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"]
        if let output {
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            p.standardOutput = h
            p.standardError = h
        } else {
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
        }
        try p.run()
        return p
    }

    /// Until the module's MAKE runs: its build area is mounted then.
    func waitUntilBuilding(_ sb: TestTrees, _ name: String) -> Bool {
        waitFor {
            !HostState.mounts(under: sb.dkmsTree + "/.sandbox/").isEmpty
                && self.text("\(sb.dkmsTree)/\(name)/1.0/build/make.log").contains("started")
        }
    }

    func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    func scratchAreas(_ sb: TestTrees) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: sb.dkmsTree + "/.sandbox")) ?? [])
            .filter { $0.hasPrefix("build-") || $0.hasPrefix("post-") || $0.hasPrefix("conf-") }
    }
}
