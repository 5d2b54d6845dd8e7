import Glibc

/// A child whose combined output is collected while it runs, so several
/// can run at once and each one's output is printed whole, never interleaved.
public final class ChildProcess {
    public let pid: pid_t
    public private(set) var outputFD: Int32
    public private(set) var output: [UInt8] = []
    public private(set) var status: Int32? = nil

    /// `niceness`: added to this process's, right after the child starts
    /// (before it has run any module code, which inherits it).
    public init?(_ argv: [String], environment: [String], inheritFD: Int32? = nil, niceness: Int32 = 0) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return nil }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[1])
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) }; cEnv.forEach { free($0) } }
        var p: pid_t = 0
        // The one descriptor meant for the child stays open across exec.
        if let fd = inheritFD { _ = fcntl(fd, F_SETFD, 0) }
        let rc = posix_spawn(&p, argv[0], &actions, nil, cArgs, cEnv)
        if let fd = inheritFD { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        close(fds[1])
        guard rc == 0 else { close(fds[0]); return nil }
        if niceness != 0 {
            errno = 0
            let base = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
            if errno == 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(p), base + niceness) }
        }
        pid = p
        outputFD = fds[0]
    }

    /// Reads what is available; returns false once the output is closed.
    public func drain() -> Bool {
        guard outputFD >= 0 else { return false }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(outputFD, $0.baseAddress, $0.count) }
            if n > 0 { output.append(contentsOf: chunk[0..<n]); continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return true }
            close(outputFD); outputFD = -1
            return false
        }
    }

    /// Reaps the child once its output is closed.
    public func wait() -> Int32 {
        if let status { return status }
        var s: Int32 = 0
        while waitpid(pid, &s, 0) < 0 && errno == EINTR {}
        status = Subprocess.exitCode(s)
        return status!
    }

    public var text: String { String(decoding: output, as: UTF8.self) }
}
