import Glibc

/// The one way any library starts a host program (make, bash for dkms.conf
/// and hooks, sign-file, depmod, xz/zstd, modinfo, tar, gcc): posix_spawn
/// with an argv, never a shell string; the environment the caller spells
/// out, never dkms's own by accident; signal dispositions and the signal
/// mask reset to default (a caller may have changed them); stdin, stdout
/// and stderr each chosen. What is captured is bounded: some of these
/// programs read module-controlled files and print what they find.
public struct Spawn {
    public enum Input { case null, inherit, fd(Int32) }
    /// `.stdout` (for stderr): the same pipe or descriptor as stdout, so
    /// the two interleave in the order the program wrote them.
    public enum Output { case capture, inherit, discard, fd(Int32), stdout }

    public var argv: [String]
    public var environment: [String]
    /// Changed to just before exec (coreutils' `env -C`:
    /// posix_spawn_file_actions_addchdir_np is not exported to Swift).
    public var cwd: String?
    public var stdin: Input = .null
    public var stdout: Output = .capture
    public var stderr: Output = .capture
    /// Bytes kept of each captured stream; the rest is read and dropped, so
    /// the program never stalls on a full pipe.
    public var captureLimit: Int = Spawn.defaultCaptureLimit
    /// Descriptors the program keeps (all others dkms opens are close-on-exec).
    public var keepOpen: [Int32] = []
    /// Added to dkms's own niceness as soon as the program has started
    /// (before it runs anything its children inherit).
    public var niceness: Int32 = 0

    public static let defaultCaptureLimit = 16 << 20

    public init(_ argv: [String], environment: [String], cwd: String? = nil) {
        self.argv = argv
        self.environment = environment
        self.cwd = cwd
    }

    /// The environment dkms itself was started with, for the few callers
    /// whose tools are meant to see it (the installer's, as before).
    public static var inheritedEnvironment: [String] {
        var out: [String] = []
        var p = environ
        while let entry = p.pointee { out.append(String(cString: entry)); p += 1 }
        return out
    }

    /// What the program did. `status` is the shell's number: the exit code,
    /// or 128 + the signal that ended it.
    public struct Result {
        public var status: Int32
        public var stdout: [UInt8]
        public var stderr: [UInt8]
        /// The signal that ended the program, nil when it exited.
        public var signal: Int32? = nil
        /// A captured stream passed `captureLimit`.
        public var truncated = false
        /// Set by a runner that could not even start the program (the
        /// sandbox's setup failed): the one-line reason. The program's own
        /// failures are in `status`/`stderr`.
        public var setupFailure: String? = nil

        public init(status: Int32, stdout: [UInt8], stderr: [UInt8], signal: Int32? = nil, truncated: Bool = false, setupFailure: String? = nil) {
            self.status = status; self.stdout = stdout; self.stderr = stderr
            self.signal = signal; self.truncated = truncated; self.setupFailure = setupFailure
        }
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var stderrText: String { String(decoding: stderr, as: UTF8.self) }
        public var succeeded: Bool { status == 0 }
    }

    /// Runs to the end. Throws IOFailure naming the program when it cannot
    /// be started (missing, not executable); its own failures are in the result.
    public func run() throws -> Result {
        let child = try start()
        while child.drain() { child.waitForOutput(timeout: -1) }
        return child.wait()
    }

    /// `run`, with a program that cannot be started reported as a shell
    /// would: status 127 and "program: reason" on stderr.
    public func runReportingFailure() -> Result {
        do { return try run() } catch let f as IOFailure {
            return Result(status: 127, stdout: [], stderr: Array("\(f.path): \(f.reason)\n".utf8))
        } catch { return Result(status: 127, stdout: [], stderr: Array("\(error)\n".utf8)) }
    }

    /// A shell's status for a wait status: the exit code, or 128 + signal.
    public static func shellStatus(_ status: Int32) -> (status: Int32, signal: Int32?) {
        let sig = status & 0x7f
        if sig == 0 { return ((status >> 8) & 0xff, nil) }
        return (128 + sig, sig)
    }

    /// The first executable `name` in `directories` (a name with a slash is
    /// checked as it is), nil when there is none.
    public static func lookUp(_ name: String, in directories: [String]) -> String? {
        if name.contains("/") { return access(name, X_OK) == 0 ? name : nil }
        for dir in directories {
            let p = FS.join(dir, name)
            if access(p, X_OK) == 0 { return p }
        }
        return nil
    }
}
