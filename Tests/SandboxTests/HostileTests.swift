import Foundation
import XCTest
@testable import Sandbox
import TestSupport

/// Hostile behaviours (research §6.3) under the shipped kbuild profile.
final class HostileTests: XCTestCase {
    var dir = ""
    var probeMount: SandboxSpec.Mount { .readOnlyBind(source: dir, target: "/probe") }

    override func setUpWithError() throws {
        dir = try T.scratch("probe")
        _ = try T.compileC(Probe.source, name: "probe", in: dir)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func probe(_ sub: String) throws -> SandboxResult {
        try T.run(["/probe/probe", sub], mounts: [probeMount])
    }

    func testUnshareIsKilledAndNamed() throws {
        let r = try T.run(["unshare", "-U", "true"])
        XCTAssertEqual(r.outcome, .killedBySeccomp("unshare"), r.outputTail)
    }

    func testMountIsKilledAndNamed() throws {
        let r = try T.run(["mount", "-t", "tmpfs", "none", "/tmp"])
        guard case let .killedBySeccomp(name) = r.outcome else { return XCTFail("\(r.outcome) \(r.outputTail)") }
        XCTAssertTrue(["mount", "fsopen", "open_tree", "mount_setattr", "move_mount"].contains(name), name)
    }

    func testKeyctlPtraceBpfAreKilled() throws {
        XCTAssertEqual(try probe("keyctl").outcome, .killedBySeccomp("keyctl"))
        XCTAssertEqual(try probe("ptrace").outcome, .killedBySeccomp("ptrace"))
        XCTAssertEqual(try probe("bpf").outcome, .killedBySeccomp("bpf"))
    }

    func testForeignABIsAreKilled() throws {
        let ia32 = try probe("ia32")
        guard case let .killedBySeccomp(n1) = ia32.outcome else { return XCTFail("ia32: \(ia32.outcome) \(ia32.outputTail)") }
        XCTAssertTrue(n1.contains("ia32"), n1)
        let x32 = try probe("x32")
        guard case let .killedBySeccomp(n2) = x32.outcome else { return XCTFail("x32: \(x32.outcome) \(x32.outputTail)") }
        XCTAssertTrue(n2.contains("x32"), n2)
    }

    func testSubprocessKillIsReportedAsViolation() throws {
        let r = try T.run(["/bin/sh", "-c", "/probe/probe keyctl; echo after=$?"], mounts: [probeMount])
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertTrue(r.outputTail.contains("after=159"), r.outputTail)
        let r2 = try T.run(["/bin/sh", "-c", "/probe/probe keyctl"], mounts: [probeMount])
        XCTAssertEqual(r2.seccompViolations.first, "keyctl", "\(r2.outcome)")
    }

    func testIoctlPolicy() throws {
        XCTAssertEqual(try probe("tiocsti").outputTail, "rc=-1 errno=38\n")      // denied by the filter
        XCTAssertEqual(try probe("tiocsti-high").outputTail, "rc=-1 errno=38\n") // CVE-2019-10063 shape
        XCTAssertEqual(try probe("tcgets").outputTail, "rc=-1 errno=25\n")       // allowed: ENOTTY on a pipe
    }

    func testErrnoPolicies() throws {
        XCTAssertEqual(try probe("clone3").outputTail, "rc=-1 errno=38\n")
        XCTAssertEqual(try probe("io_uring").outputTail, "rc=-1 errno=38\n")
        XCTAssertEqual(try probe("inet").outputTail, "rc=-1 errno=97\n")
        XCTAssertEqual(try probe("netlink").outputTail, "rc=-1 errno=97\n")
        XCTAssertTrue(try probe("unix").outputTail.hasPrefix("rc=3 "))
        XCTAssertEqual(try probe("fchmodat2-suid").outputTail, "rc=-1 errno=1\n")
    }

    func testSetuidChmodIsDenied() throws {
        let r = try T.sh("touch /tmp/f; chmod 4755 /tmp/f; echo suid=$?; chmod 2755 /tmp/f; echo sgid=$?; chmod 755 /tmp/f; echo plain=$?; stat -c %a /tmp/f")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertTrue(r.outputTail.contains("suid=1"), r.outputTail)
        XCTAssertTrue(r.outputTail.contains("sgid=1"), r.outputTail)
        XCTAssertTrue(r.outputTail.contains("plain=0"), r.outputTail)
        XCTAssertTrue(r.outputTail.hasSuffix("755\n"), r.outputTail)
        XCTAssertTrue(r.outputTail.contains("Operation not permitted"), r.outputTail)
    }

    func testForkBombHitsPidsLimit() throws {
        let r = try T.sh("bomb() { bomb | bomb & }; bomb; sleep 30", limits: { $0.pids = 64; $0.wallClockSeconds = 60 })
        XCTAssertEqual(r.outcome, .limitExceeded(.pids), r.outputTail.suffix(300).description)
        XCTAssertLessThan(r.duration, 30)
    }

    func testMemoryBombHitsMemoryLimit() throws {
        let r = try T.sh("head -c 1G /dev/zero | tail > /dev/null", limits: { $0.memoryBytes = 64 << 20; $0.wallClockSeconds = 60 })
        XCTAssertEqual(r.outcome, .limitExceeded(.memory), r.outputTail)
    }

    func testEndlessLoopHitsWallClock() throws {
        let r = try T.sh("while :; do :; done", limits: { $0.wallClockSeconds = 1 })
        XCTAssertEqual(r.outcome, .limitExceeded(.wallClock))
        XCTAssertLessThan(r.duration, 5)
    }

    func testSilenceHitsNoOutputTimeout() throws {
        let r = try T.sh("echo start; sleep 100", limits: { $0.noOutputSeconds = 1; $0.wallClockSeconds = 60 })
        XCTAssertEqual(r.outcome, .limitExceeded(.noOutput))
        XCTAssertEqual(r.outputTail, "start\n")
    }

    func testCPULimit() throws {
        let r = try T.sh("exec /bin/sh -c 'while :; do :; done'", limits: { $0.cpuSeconds = 1; $0.wallClockSeconds = 30 })
        XCTAssertEqual(r.outcome, .limitExceeded(.cpu))
    }

    func testFileSizeLimit() throws {
        let r = try T.sh("exec head -c 2M /dev/zero > /tmp/big", limits: { $0.fileSizeBytes = 1 << 20 })
        XCTAssertEqual(r.outcome, .limitExceeded(.fileSize))
    }

    func testDaemonDoesNotSurvive() throws {
        let marker = "1\(UInt32.random(in: 100000...999999))"
        let r = try T.sh("setsid sleep \(marker) & (trap '' HUP TERM; exec sleep \(marker)) & echo started")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        // Reaped once the run has returned; one that escaped sleeps for days.
        XCTAssertTrue(waitFor(seconds: 5) { processes(withCommandLineContaining: "sleep \(marker)").isEmpty },
                      "survivors: \(processes(withCommandLineContaining: "sleep \(marker)"))")
    }

    func testHostAbstractUnixSocketIsUnreachable() throws {
        // Nix CVE-2024-27297: abstract unix sockets are per network namespace.
        let name = "csb-abstract-\(getpid())"
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(s) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = [UInt8](name.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw[0] = 0
            for (i, b) in bytes.enumerated() { raw[i + 1] = b }
        }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, len) } }
        XCTAssertEqual(rc, 0)
        XCTAssertEqual(listen(s, 4), 0)
        _ = fcntl(s, F_SETFL, O_NONBLOCK)
        let py = "import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect('\\0\(name)'); print('CONNECTED')\nexcept OSError as e:\n    print('refused', e.errno)\n"
        let r = try T.run(["/usr/bin/python3", "-c", py])
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(r.outputTail, "refused 111\n")
        XCTAssertLessThan(accept(s, nil, nil), 0)
    }

    func testKillMinusOneStaysInside() throws {
        let r = try T.sh("sleep 5 & sleep 5 & kill -9 -1; echo survived")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(r.outputTail, "survived\n")
    }

    func testStoppedStragglerDoesNotSurvive() throws {
        let marker = "2\(UInt32.random(in: 100000...999999))"
        let r = try T.sh("sleep \(marker) & kill -STOP $!; echo stopped")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertTrue(waitFor(seconds: 5) { processes(withCommandLineContaining: "sleep \(marker)").isEmpty },
                      "survivors: \(processes(withCommandLineContaining: "sleep \(marker)"))")
    }

    func testProcSelfFdEscapeIsClosed() throws {
        // CVE-2024-21626 shape: only 0-2 exist, and cwd/root links point inside the sandbox.
        let r = try T.sh("for n in $(seq 3 64); do [ -e /proc/self/fd/$n ] && echo fd$n; done; readlink /proc/self/root /proc/1/cwd 2>&1; echo done")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertFalse(r.outputTail.contains("fd"), r.outputTail)
        XCTAssertTrue(r.outputTail.hasPrefix("/\n"), r.outputTail)
    }

    func testTmpIsSizeCapped() throws {
        let r = try T.sh("head -c 4M /dev/zero > /tmp/fill; echo rc=$?; df -k /tmp | tail -1", limits: { $0.tmpfsBytes = 1 << 20 })
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertTrue(r.outputTail.contains("No space left on device"), r.outputTail)
        XCTAssertTrue(r.outputTail.contains("rc=1"), r.outputTail)
    }
}
