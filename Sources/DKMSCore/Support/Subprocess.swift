import Glibc

/// Runs a host program with posix_spawn: an explicit environment (never the
/// caller's by accident), stdin from /dev/null, and stdout/stderr either
/// captured or sent to a file descriptor such as a build log.
public struct Subprocess {
    public enum Sink { case capture, inherit, discard, fd(Int32) }

    public struct Result {
        public var status: Int32        // exit code, or 128+signal
        public var stdout: [UInt8]
        public var stderr: [UInt8]
        /// Set by a runner that could not even start the program (the
        /// sandbox's setup failed): the one-line reason. The program's own
        /// failures are in `status`/`stderr`.
        public var setupFailure: String? = nil
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
        public var succeeded: Bool { status == 0 }
    }

    public var argv: [String]
    public var environment: [String]
    public var cwd: String?
    public var stdout: Sink = .capture
    public var stderr: Sink = .capture

    public init(_ argv: [String], environment: [String], cwd: String? = nil) {
        self.argv = argv
        self.environment = environment
        self.cwd = cwd
    }

    /// The environment host tools run with: fixed PATH and locale so that the
    /// caller's shell setup cannot substitute tools or change their output.
    public static let baseEnvironment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "LANG=C", "HOME=/root"]

    public static func run(_ argv: [String], cwd: String? = nil) -> Result {
        var p = Subprocess(argv, environment: baseEnvironment, cwd: cwd)
        p.stdout = .capture
        p.stderr = .capture
        return p.run()
    }

    public func run() -> Result {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)

        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        func wire(_ sink: Sink, _ target: Int32, _ pipeFDs: inout [Int32]) {
            switch sink {
            case .capture:
                pipe(&pipeFDs)
                _ = fcntl(pipeFDs[0], F_SETFD, FD_CLOEXEC); _ = fcntl(pipeFDs[1], F_SETFD, FD_CLOEXEC)
                posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], target)
            case .inherit: break
            case .discard: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            case .fd(let fd): posix_spawn_file_actions_adddup2(&actions, fd, target)
            }
        }
        wire(stdout, 1, &outPipe)
        wire(stderr, 2, &errPipe)

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Children must not inherit signal dispositions a caller may have changed.
        var def = sigset_t(); sigfillset(&def)
        posix_spawnattr_setsigdefault(&attr, &def)
        var none = sigset_t(); sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        // posix_spawn_file_actions_addchdir_np is not exported to Swift;
        // coreutils' env changes directory just before exec instead.
        let argv = cwd.map { ["/usr/bin/env", "-C", $0, "--"] + self.argv } ?? self.argv
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }

        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attr, cArgs, cEnv)
        for fd in [outPipe[1], errPipe[1]] where fd >= 0 { close(fd) }
        if rc != 0 {
            for fd in [outPipe[0], errPipe[0]] where fd >= 0 { close(fd) }
            let msg = "\(argv[0]): \(FS.errnoText(rc))\n"
            return Result(status: 127, stdout: [], stderr: Array(msg.utf8))
        }
        let (o, e) = Subprocess.drain(outPipe[0], errPipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return Result(status: Subprocess.exitCode(status), stdout: o, stderr: e)
    }

    /// Reads both pipes concurrently with poll, so a child filling one pipe
    /// cannot deadlock against us waiting on the other.
    static func drain(_ a: Int32, _ b: Int32) -> ([UInt8], [UInt8]) {
        var bufs: [[UInt8]] = [[], []]
        var fds = [pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0)]
        var chunk = [UInt8](repeating: 0, count: 65536)
        while fds.contains(where: { $0.fd >= 0 }) {
            if poll(&fds, nfds_t(fds.count), -1) < 0 { if errno == EINTR { continue }; break }
            for i in 0..<fds.count where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = chunk.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if n > 0 { bufs[i].append(contentsOf: chunk[0..<n]) }
                else if n == 0 || (errno != EINTR && errno != EAGAIN) { close(fds[i].fd); fds[i].fd = -1 }
            }
        }
        return (bufs[0], bufs[1])
    }

    static func exitCode(_ status: Int32) -> Int32 {
        let sig = status & 0x7f
        if sig == 0 { return (status >> 8) & 0xff }
        return 128 + sig
    }
}
