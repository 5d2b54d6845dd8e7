import CSandbox
import Foundation
import XCTest
@testable import Sandbox
import TestSupport

/// Spawning from threads, teardown paths, signal propagation.
final class LifecycleTests: XCTestCase {
    func testConcurrentRunsFromWorkerThreads() throws {
        let p = try T.profile()
        let n = 6
        var outcomes = [SandboxOutcome?](repeating: nil, count: n)
        var tails = [String](repeating: "", count: n)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: n) { i in
            let spec = SandboxSpec(argv: ["/bin/sh", "-c", "sleep 0.2; echo run\(i); exit \(i)"], profile: p)
            let r = try? Sandbox.run(spec)
            lock.lock()
            outcomes[i] = r?.outcome
            tails[i] = r?.outputTail ?? ""
            lock.unlock()
        }
        for i in 0..<n {
            XCTAssertEqual(outcomes[i], .exited(Int32(i)))
            XCTAssertEqual(tails[i], "run\(i)\n")
        }
    }

    func testSpawningThreadMayExit() throws {
        // PR_SET_PDEATHSIG is thread-scoped (bubblewrap#692); the sandbox relies on the lifeline
        // pipe instead, so a sandbox spawned from a thread that then exits keeps running.
        let plan = try Plan(spec: SandboxSpec(argv: ["/bin/sh", "-c", "sleep 0.5; exit 7"], profile: try T.profile()))
        final class Box: @unchecked Sendable { var res = csb_result(); var rc: Int32 = -1; var out: [Int32] = [-1, -1] }
        let box = Box()
        XCTAssertEqual(csb_pipe_cloexec(&box.out), 0)
        let t = Thread {
            box.rc = plan.withConfig(cgroups: RunCgroups(), stdoutFD: box.out[1]) { csb_spawn($0, &box.res) }
        }
        t.start()
        while !t.isFinished { usleep(1000) }
        usleep(100_000) // the spawning thread is gone now
        XCTAssertEqual(box.rc, 0)
        close(box.out[1])
        XCTAssertEqual(kill(box.res.init_pid, 0), 0, "sandbox survives its spawning thread")
        // Read records until EXIT.
        var exitStatus: Int32?
        var rec = csb_record()
        while read(box.res.status_fd, &rec, MemoryLayout<csb_record>.size) == MemoryLayout<csb_record>.size {
            if rec.type == Int32(CSB_REC_EXIT.rawValue) { exitStatus = rec.a }
        }
        var st: Int32 = 0
        waitpid(box.res.init_pid, &st, 0)
        XCTAssertEqual(exitStatus.map { ($0 >> 8) & 0xFF }, 7)
        close(box.res.lifeline_fd); close(box.res.status_fd); close(box.out[0])
    }

    func testSignalDeathIsReported() throws {
        let r = try T.sh("kill -TERM $$")
        XCTAssertEqual(r.outcome, .signaled(SIGTERM))
    }

    func testLifelineEOFTearsDownTheSandbox() throws {
        // Drive the C core directly: spawn `sleep 1000`, then close the lifeline as if the
        // supervisor had died. pid 1 must exit and take the namespace with it.
        let spec = SandboxSpec(argv: ["/bin/sleep", "1000"], profile: try T.profile())
        let plan = try Plan(spec: spec)
        var out: [Int32] = [-1, -1]
        XCTAssertEqual(csb_pipe_cloexec(&out), 0)
        var res = csb_result()
        let rc = plan.withConfig(cgroups: RunCgroups(), stdoutFD: out[1]) { csb_spawn($0, &res) }
        XCTAssertEqual(rc, 0)
        close(out[1])
        usleep(200_000)
        XCTAssertEqual(kill(res.init_pid, 0), 0, "sandbox running")
        let t0 = monotonicSeconds()
        close(res.lifeline_fd)
        var st: Int32 = 0
        XCTAssertEqual(waitpid(res.init_pid, &st, 0), res.init_pid)
        XCTAssertLessThan(monotonicSeconds() - t0, 2)
        // The command's end of the output pipe is gone too: no survivor holds it.
        var b: UInt8 = 0
        XCTAssertEqual(read(out[0], &b, 1), 0)
        close(out[0])
        close(res.status_fd)
    }

    func testLogFileAndEcho() throws {
        let dir = try T.scratch("log")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spec = SandboxSpec(argv: ["/bin/sh", "-c", "echo out; echo err >&2"], profile: try T.profile())
        let r = try Sandbox.run(spec, logTo: .path("\(dir)/log"), echo: false)
        XCTAssertEqual(r.outcome, .exited(0))
        XCTAssertEqual(try String(contentsOfFile: "\(dir)/log", encoding: .utf8), "out\nerr\n")
    }

    func testCgroupV2PathAndRlimitFallback() throws {
        // This VM's v2 hierarchy has no controllers: the run joins a v2 cgroup (teardown via
        // cgroup.kill) and memory/pids fall back to RLIMIT_AS / RLIMIT_NPROC, with warnings.
        guard csb_fs_magic("/sys/fs/cgroup/unified") == RunCgroups.cgroup2Magic else { throw XCTSkip("no v2 hierarchy") }
        var spec = SandboxSpec(argv: ["/bin/bash", "-c", "setsid sleep 1000 & ulimit -v; ulimit -u; cat /proc/self/cgroup | grep '^0::'"],
                               profile: try T.profile())
        spec.cgroupRoot = "/sys/fs/cgroup/unified"
        spec.limits.memoryBytes = 256 << 20
        spec.limits.pids = 100
        let r = try Sandbox.run(spec)
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(r.outputTail, "\(256 << 10)\n100\n0::/\n")
        XCTAssertTrue(r.warnings.contains { $0.contains("RLIMIT_AS") }, "\(r.warnings)")
        XCTAssertTrue(r.warnings.contains { $0.contains("RLIMIT_NPROC") }, "\(r.warnings)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/unified").filter { $0.hasPrefix("csandbox-") }
        XCTAssertEqual(leftovers, [])
    }
}
