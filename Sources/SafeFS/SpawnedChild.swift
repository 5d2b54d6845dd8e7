import Glibc

/// A started program whose captured output is collected while it runs, so
/// several can run at once (parallel autoinstall) and each one's output is
/// kept whole, never interleaved with another's.
public final class SpawnedChild {
    public let pid: pid_t
    /// The read ends of the stdout and stderr pipes (-1: not captured, or closed).
    public private(set) var pipes: [Int32]
    private var captured: [[UInt8]] = [[], []]
    private var truncated = false
    private let limit: Int
    private var status: Spawn.Result?
    /// One read buffer for the child's life: run() drains on every wakeup.
    private var chunk = [UInt8](repeating: 0, count: 65536)

    init(pid: pid_t, pipes: [Int32], limit: Int) {
        self.pid = pid; self.pipes = pipes; self.limit = limit
    }

    deinit { for fd in pipes where fd >= 0 { close(fd) } }

    /// The stdout pipe, to poll beside other children's.
    public var outputFD: Int32 { pipes[0] }
    public var output: [UInt8] { captured[0] }
    public var text: String { String(decoding: captured[0], as: UTF8.self) }

    /// Reads what is available now; false once every captured pipe is closed.
    public func drain() -> Bool {
        for i in pipes.indices where pipes[i] >= 0 {
            while true {
                let n = chunk.withUnsafeMutableBytes { read(pipes[i], $0.baseAddress, $0.count) }
                if n > 0 {
                    let room = max(0, limit - captured[i].count)
                    if n > room { truncated = true }
                    captured[i].append(contentsOf: chunk[0..<min(n, room)])
                    continue
                }
                if n < 0 && (errno == EAGAIN || errno == EINTR) { break }
                close(pipes[i]); pipes[i] = -1
                break
            }
        }
        return pipes.contains { $0 >= 0 }
    }

    /// Blocks until a captured pipe has something (or `timeout` ms pass; -1: no limit).
    public func waitForOutput(timeout: Int32) {
        var fds = pipes.filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        guard !fds.isEmpty else { return }
        _ = poll(&fds, nfds_t(fds.count), timeout)
    }

    /// Reaps the program (call once its output is closed: drain() said false).
    @discardableResult
    public func wait() -> Spawn.Result {
        if let status { return status }
        var s: Int32 = 0
        while waitpid(pid, &s, 0) < 0 && errno == EINTR {}
        let (code, sig) = Spawn.shellStatus(s)
        let r = Spawn.Result(status: code, stdout: captured[0], stderr: captured[1], signal: sig, truncated: truncated)
        status = r
        return r
    }
}
