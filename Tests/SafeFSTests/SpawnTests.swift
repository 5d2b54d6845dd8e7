import Glibc
import XCTest
@testable import SafeFS

/// The one process runner: what every caller relies on it for.
final class SpawnTests: XCTestCase {
    let sh = "/bin/sh"

    func run(_ script: String, env: [String] = ["PATH=/usr/bin:/bin"], _ configure: (inout Spawn) -> Void = { _ in }) throws -> Spawn.Result {
        var s = Spawn([sh, "-c", script], environment: env)
        configure(&s)
        return try s.run()
    }

    func testExitStatusAndSeparateCapture() throws {
        let r = try run("printf out; printf err >&2; exit 3")
        XCTAssertEqual(r.status, 3)
        XCTAssertNil(r.signal)
        XCTAssertEqual(r.stdoutText, "out")
        XCTAssertEqual(r.stderrText, "err")
        XCTAssertFalse(r.succeeded)
    }

    func testSignalIsShellStatus() throws {
        let r = try run("kill -TERM $$")
        XCTAssertEqual(r.signal, SIGTERM)
        XCTAssertEqual(r.status, 128 + SIGTERM)
    }

    func testSignalDispositionsAreReset() throws {
        // An ignored SIGTERM in dkms must not be inherited by the tools it runs.
        let old = signal(SIGTERM, SIG_IGN)
        defer { signal(SIGTERM, old) }
        XCTAssertEqual(try run("kill -TERM $$; exit 0").status, 128 + SIGTERM)
    }

    func testEnvironmentIsExactlyTheGivenOne() throws {
        setenv("SAFEFS_SPAWN_LEAK", "1", 1)
        defer { unsetenv("SAFEFS_SPAWN_LEAK") }
        let r = try run("env", env: ["A=b", "PATH=/usr/bin:/bin"])
        XCTAssertEqual(Set(r.stdoutText.split(separator: "\n").map(String.init)).subtracting(["PWD=" + FileManager.default.currentDirectoryPath, "SHLVL=1", "_=/usr/bin/env"]),
                       ["A=b", "PATH=/usr/bin:/bin"])
        XCTAssertTrue(Spawn.inheritedEnvironment.contains("SAFEFS_SPAWN_LEAK=1"))
    }

    func testStdinIsNullUnlessGiven() throws {
        XCTAssertEqual(try run("cat").stdout, [])
    }

    func testCaptureIsBoundedAndTheChildNeverStalls() throws {
        // 1 MiB out of a 1000-byte bound: the rest is read and dropped.
        let r = try run("head -c 1048576 /dev/zero; echo done >&2") { $0.captureLimit = 1000 }
        XCTAssertEqual(r.stdout.count, 1000)
        XCTAssertTrue(r.truncated)
        XCTAssertEqual(r.stderrText, "done\n")
        XCTAssertEqual(r.status, 0)
        XCTAssertFalse(try run("echo hi").truncated)
    }

    func testBothPipesDrainedTogether() throws {
        // More than a pipe's 64 KiB on each stream: a runner reading one pipe
        // to its end before the other deadlocks here.
        let r = try run("head -c 300000 /dev/zero >&2; head -c 300000 /dev/zero")
        XCTAssertEqual(r.stdout.count, 300000)
        XCTAssertEqual(r.stderr.count, 300000)
    }

    func testStderrJoinsStdoutInOrder() throws {
        let r = try run("echo 1; echo 2 >&2; echo 3") { $0.stderr = .stdout }
        XCTAssertEqual(r.stdoutText, "1\n2\n3\n")
        XCTAssertEqual(r.stderr, [])
    }

    func testRedirectToADescriptorAsALogIs() throws {
        let path = FileManager.default.temporaryDirectory.path + "/safefs-spawn-\(getpid()).log"
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let r = try run("echo a; echo b >&2; echo c") { $0.stdout = .fd(fd); $0.stderr = .stdout }
        close(fd)
        XCTAssertEqual(r.stdout, [])
        XCTAssertEqual(FS.readText(path), "a\nb\nc\n")
    }

    func testDiscard() throws {
        let r = try run("echo gone; echo kept >&2") { $0.stdout = .discard }
        XCTAssertEqual(r.stdout, [])
        XCTAssertEqual(r.stderrText, "kept\n")
    }

    func testWorkingDirectory() throws {
        XCTAssertEqual(try run("pwd") { $0.cwd = "/usr" }.stdoutText, "/usr\n")
    }

    func testKeepOpenPassesOneDescriptorOnly() throws {
        var p: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&p), 0)
        for fd in p { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        defer { p.forEach { close($0) } }
        let kept = try run("test -e /proc/self/fd/\(p[1]) && echo yes || echo no") { $0.keepOpen = [p[1]] }
        XCTAssertEqual(kept.stdoutText, "yes\n")
        XCTAssertEqual(fcntl(p[1], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "dkms's own copy stays close-on-exec")
        XCTAssertEqual(try run("test -e /proc/self/fd/\(p[1]) && echo yes || echo no").stdoutText, "no\n")
    }

    func testMissingExecutableThrowsNamingIt() {
        XCTAssertThrowsError(try Spawn(["/nonexistent/tool", "x"], environment: []).run()) { e in
            XCTAssertEqual(e as? IOFailure, IOFailure("posix_spawn", "/nonexistent/tool", ENOENT))
        }
        let r = Spawn(["/nonexistent/tool"], environment: []).runReportingFailure()
        XCTAssertEqual(r.status, 127)
        XCTAssertEqual(r.stderrText, "/nonexistent/tool: No such file or directory\n")
    }

    func testStreamingChild() throws {
        var s = Spawn([sh, "-c", "echo one; echo two >&2; exit 4"], environment: [])
        s.stderr = .stdout
        let child = try s.start()
        while child.drain() { child.waitForOutput(timeout: -1) }
        XCTAssertEqual(child.text, "one\ntwo\n")
        XCTAssertEqual(child.wait().status, 4)
        XCTAssertEqual(child.wait().status, 4, "reaped once, remembered")
    }

    func testLookUp() {
        XCTAssertEqual(Spawn.lookUp("sh", in: ["/nonexistent", "/bin"]), "/bin/sh")
        XCTAssertEqual(Spawn.lookUp("/bin/sh", in: []), "/bin/sh")
        XCTAssertNil(Spawn.lookUp("/etc/passwd", in: []), "not executable")
        XCTAssertNil(Spawn.lookUp("no-such-tool-here", in: ["/bin"]))
    }

    func testHostToolEnvironment() {
        let r = Spawn.hostTool(["/usr/bin/env"])
        XCTAssertEqual(r.stdoutText.split(separator: "\n").map(String.init), Spawn.baseEnvironment)
    }
}
