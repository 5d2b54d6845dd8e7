import Glibc

/// Where user-facing text goes. A value, passed down explicitly, so that tests
/// can capture it and `-q` can silence it without touching global state.
public struct Output {
    /// Where the two streams go: the process's stdout and stderr, or a test's buffers
    /// (`CLI.run` takes one, so a whole dkms run can be made in-process).
    public struct Sink {
        public var out: (String) -> Void
        public var err: (String) -> Void
        public init(out: @escaping (String) -> Void, err: @escaping (String) -> Void) { self.out = out; self.err = err }
        public static let standard = Sink(out: Output.writeStdout, err: Output.writeStderr)
    }

    public var quiet: Bool
    public var verbose: Bool
    private let out: (String) -> Void
    private let err: (String) -> Void

    public init(quiet: Bool = false, verbose: Bool = false,
                out: @escaping (String) -> Void = Output.writeStdout,
                err: @escaping (String) -> Void = Output.writeStderr) {
        self.quiet = quiet
        self.verbose = verbose
        self.out = out
        self.err = err
    }

    public init(quiet: Bool = false, verbose: Bool = false, sink: Sink) {
        self.init(quiet: quiet, verbose: verbose, out: sink.out, err: sink.err)
    }

    public func line(_ s: String = "") { if !quiet { out(s + "\n") } }
    public func text(_ s: String) { if !quiet { out(s) } }
    public func warn(_ s: String) { if !quiet { err("Warning: " + s + "\n") } }
    public func deprecated(_ s: String) { if !quiet { err("Deprecated feature: " + s + "\n") } }
    public func error(_ e: DKMSError) { error(lines: e.lines) }
    /// dkms's error block: "Error! " before the first line.
    public func error(lines: [String]) {
        if quiet { return }
        err("Error! " + lines.joined(separator: "\n") + "\n")
    }
    public func errorLine(_ s: String) { if !quiet { err(s + "\n") } }

    public static func writeStdout(_ s: String) { write(fd: 1, s) }
    public static func writeStderr(_ s: String) { write(fd: 2, s) }

    private static func write(fd: Int32, _ s: String) {
        var bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 { if errno == EINTR { continue }; return }
            off += n
        }
    }
}
