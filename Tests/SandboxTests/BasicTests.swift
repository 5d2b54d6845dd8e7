import Foundation
import XCTest
@testable import Sandbox
import TestSupport

/// The sandbox's own isolation properties, exercised for real (tests run as root).
final class BasicTests: XCTestCase {
    func testTrueExitsZero() throws {
        let r = try T.run(["/bin/true"])
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
    }

    func testExitCodePropagates() throws {
        let r = try T.sh("echo hello; exit 42")
        XCTAssertEqual(r.outcome, .exited(42))
        XCTAssertEqual(r.outputTail, "hello\n")
    }

    func testPathSearchAndEnvironmentIsScrubbed() throws {
        setenv("CSB_SECRET_ENV", "leak", 1)
        let r = try T.run(["env"], env: ["kernelver": T.kernel])
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        let lines = Set(r.outputTail.split(separator: "\n").map(String.init))
        XCTAssertEqual(lines, ["HOME=/nonexistent", "LANG=C.UTF-8", "LC_ALL=C", "PATH=/usr/bin:/bin", "TMPDIR=/tmp",
                               "TZ=UTC", "kernelver=\(T.kernel)"])
    }

    func testCapabilitiesNoNewPrivsSeccomp() throws {
        let r = try T.sh("grep -E '^(Cap[A-Za-z]+|NoNewPrivs|Seccomp):' /proc/self/status")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        var fields: [String: String] = [:]
        for line in r.outputTail.split(separator: "\n") {
            let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            fields[kv[0]] = kv[1]
        }
        for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
            XCTAssertEqual(fields[k], "0000000000000000", k)
        }
        XCTAssertEqual(fields["NoNewPrivs"], "1")
        XCTAssertEqual(fields["Seccomp"], "2")
    }

    func testUserNamespaceMapsToUnprivilegedOutsideUID() throws {
        let r = try T.sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; cat /proc/self/status | grep -E '^(Uid|Gid|Groups):'")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        let norm = r.outputTail.split(separator: "\n").map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ") }
        XCTAssertEqual(Array(norm.prefix(3)), ["0 2000000000 1", "0 2000000000 1", "0"])
        XCTAssertTrue(norm.contains("Groups:"), "no supplementary groups: \(norm)")
    }

    func testHostnameAndPidNamespace() throws {
        let r = try T.sh("hostname; echo $$; ls /proc | grep -E '^[0-9]+$' | wc -l")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        let l = r.outputTail.split(separator: "\n")
        XCTAssertEqual(l[0], "dkms-sandbox")
        XCTAssertEqual(l[1], "2") // pid 1 is the sandbox init
        XCTAssertLessThanOrEqual(Int(l[2].trimmingCharacters(in: .whitespaces)) ?? 99, 5) // init, sh, ls, grep, wc
    }

    func testNoNetwork() throws {
        // A listener on the host's loopback.
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(s, 0)
        defer { close(s) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                XCTAssertEqual(bind(s, sa, len), 0)
                XCTAssertEqual(getsockname(s, sa, &len), 0)
            }
        }
        XCTAssertEqual(listen(s, 8), 0)
        let port = UInt16(bigEndian: addr.sin_port)
        _ = fcntl(s, F_SETFL, O_NONBLOCK)

        let r = try T.run(["/bin/bash", "-c", "echo hi > /dev/tcp/127.0.0.1/\(port) && echo CONNECTED"])
        XCTAssertNotEqual(r.outcome, .exited(0))
        XCTAssertFalse(r.outputTail.contains("CONNECTED"), r.outputTail)
        XCTAssertTrue(r.outputTail.contains("Address family not supported"), r.outputTail)

        // Even with a permissive filter the empty network namespace has no route to the host.
        let permissive = try SandboxProfile(name: "allow-all", seccomp: SeccompProfile(defaultAction: .allow, syscalls: []),
                                            limits: SandboxLimits())
        let r2 = try T.run(["/bin/bash", "-c", "echo hi > /dev/tcp/127.0.0.1/\(port) && echo CONNECTED"], profile: permissive)
        XCTAssertNotEqual(r2.outcome, .exited(0))
        XCTAssertFalse(r2.outputTail.contains("CONNECTED"), r2.outputTail)
        XCTAssertLessThan(accept(s, nil, nil), 0, "the listener must see no connection")
    }

    func testSystemDirsAreReadOnly() throws {
        let real = URL(fileURLWithPath: T.headers).resolvingSymlinksInPath().path
        let r = try T.sh("""
            touch /etc/evil; echo "etc=$?"
            touch \(T.headers)/evil; echo "hdr=$?"
            touch \(real)/Makefile; echo "hdr2=$?"
            touch /usr/bin/evil; echo "usr=$?"
            touch /evil; echo "root=$?"
            touch /tmp/ok; echo "tmp=$?"
            """)
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        for k in ["etc", "hdr", "hdr2", "usr", "root"] { XCTAssertTrue(r.outputTail.contains("\(k)=1"), "\(k): \(r.outputTail)") }
        XCTAssertTrue(r.outputTail.contains("tmp=0"), r.outputTail)
        XCTAssertTrue(r.outputTail.contains("Read-only file system"), r.outputTail)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(real)/evil"))
    }

    func testRootCanaryInvisible() throws {
        let canary = "/root/csb-canary-\(getpid())"
        let secret = "CANARY-\(UInt64.random(in: 0...UInt64.max))"
        _ = FileManager.default.createFile(atPath: canary, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600])
        defer { unlink(canary) }
        let r = try T.sh("cat \(canary); ls -la /root /home /var 2>&1; cat /proc/1/root\(canary) 2>&1; echo done")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertFalse(r.outputTail.contains(secret))
        XCTAssertTrue(r.outputTail.contains("No such file or directory"), r.outputTail)
    }

    func overlayFixture() throws -> (dir: String, lower: String, upper: String, work: String) {
        let dir = try T.scratch("ovl")
        let lower = "\(dir)/lower", upper = "\(dir)/upper", work = "\(dir)/work"
        for d in [lower, "\(lower)/sub", upper, work] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        try "original\n".write(toFile: "\(lower)/a.txt", atomically: true, encoding: .utf8) // root-owned, like /usr/src
        T.chownTree(upper); T.chownTree(work)
        return (dir, lower, upper, work)
    }

    func testOverlayWritesLandInUpper() throws {
        let f = try overlayFixture()
        defer { try? FileManager.default.removeItem(atPath: f.dir) }
        let target = "/var/lib/dkms/x,y:z/1.0/build" // needs option escaping
        let r = try T.run(["/bin/sh", "-c", "echo new > b.txt && echo more >> a.txt && echo o > sub/c.o && cat a.txt && pwd && stat -c '%u %U' . sub a.txt"],
                          mounts: [.overlay(lower: [f.lower], upper: f.upper, work: f.work, target: target)], cwd: target)
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(r.outputTail, "original\nmore\n\(target)\n0 root\n0 root\n0 root\n")
        XCTAssertEqual(r.warnings, [])
        XCTAssertEqual(try String(contentsOfFile: "\(f.upper)/b.txt", encoding: .utf8), "new\n")
        XCTAssertEqual(try String(contentsOfFile: "\(f.upper)/a.txt", encoding: .utf8), "original\nmore\n")
        XCTAssertEqual(try String(contentsOfFile: "\(f.upper)/sub/c.o", encoding: .utf8), "o\n")
        XCTAssertEqual(try String(contentsOfFile: "\(f.lower)/a.txt", encoding: .utf8), "original\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(f.lower)/b.txt"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(f.lower)/sub/c.o"))
        // Files created through the overlay belong to the unprivileged outside uid on the host.
        var st = stat()
        XCTAssertEqual(stat("\(f.upper)/b.txt", &st), 0)
        XCTAssertEqual(st.st_uid, 2_000_000_000)
    }

    func testOverlayWithoutIdmapLeavesRootOwnedLowerReadOnly() throws {
        let f = try overlayFixture()
        defer { try? FileManager.default.removeItem(atPath: f.dir) }
        var spec = SandboxSpec(argv: ["/bin/sh", "-c", "echo new > b.txt; (echo o > sub/c.o) 2>/dev/null || echo sub-denied"],
                               cwd: "/build", mounts: [.overlay(lower: [f.lower], upper: f.upper, work: f.work, target: "/build")],
                               profile: try T.profile())
        spec.idmapRootOwnedLowers = false
        let r = try Sandbox.run(spec)
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(r.outputTail, "sub-denied\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(f.upper)/b.txt"))
    }

    func testSetupFailureIsReportedWithStepAndErrno() throws {
        let r = try T.run(["/bin/true"], mounts: [.overlay(lower: ["/nonexistent-lower"], upper: "/nonexistent-upper",
                                                            work: "/nonexistent-work", target: "/var/lib/dkms/x/1/build")])
        guard case let .setupFailed(msg) = r.outcome else { return XCTFail("\(r.outcome)") }
        XCTAssertEqual(msg, "sandbox: mount overlay at /var/lib/dkms/x/1/build: No such file or directory")
        let r2 = try T.run(["/nonexistent-binary"])
        XCTAssertEqual(r2.outcome, .setupFailed("sandbox: execute /nonexistent-binary: No such file or directory"))
    }

    func testReadWriteAndReadOnlyBinds() throws {
        let dir = try T.scratch("bind")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: "\(dir)/rw", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: "\(dir)/ro", withIntermediateDirectories: true)
        T.chownTree("\(dir)/rw")
        let r = try T.run(["/bin/sh", "-c", "echo x > /out/f && echo y > /in/f; echo rc=$?"],
                          mounts: [.readWriteBind(source: "\(dir)/rw", target: "/out"), .readOnlyBind(source: "\(dir)/ro", target: "/in")])
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertTrue(r.outputTail.contains("Read-only file system") && r.outputTail.contains("rc=2"), r.outputTail)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(dir)/rw/f"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/ro/f"))
    }

    func testInheritedDescriptorsAreNotLeaked() throws {
        let dir = try T.scratch("fd")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try T.compileC(Probe.source, name: "probe", in: dir)
        let leaked = open("/etc/hostname", O_RDONLY) // deliberately without O_CLOEXEC
        defer { close(leaked) }
        let r = try T.run(["/probe/probe", "fds"], mounts: [.readOnlyBind(source: dir, target: "/probe")])
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(r.outputTail, "fd 0\nfd 1\nfd 2\n")
        let r2 = try T.sh("readlink /proc/self/fd/0")
        XCTAssertEqual(r2.outputTail, "/dev/null\n")
    }

    func testStartupLatency() throws {
        let p = try T.profile()
        var times: [Double] = []
        for _ in 0..<20 {
            let spec = SandboxSpec(argv: ["/bin/true"], profile: p)
            let t0 = monotonicSeconds()
            let r = try Sandbox.run(spec)
            times.append((monotonicSeconds() - t0) * 1000)
            XCTAssertEqual(r.outcome, .exited(0))
        }
        times.sort()
        let median = (times[9] + times[10]) / 2
        print(String(format: "SANDBOX-LATENCY /bin/true: median %.1f ms, min %.1f ms, max %.1f ms", median, times[0], times[19]))
        XCTAssertLessThan(median, 500)
    }
}
