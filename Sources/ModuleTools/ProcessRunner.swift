import Glibc
import SafeFS

/// Runs an external tool (xz, zstd, gzip, sign-file, openssl, depmod) and captures
/// its output, so failures can be reported with the tool's own words.
public struct ProcessRunner: Sendable {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// `NAME=value` entries; nil: dkms's own environment.
    public var environment: [String]?

    public init(environment: [String]? = nil) { self.environment = environment }

    public func run(_ executable: String, _ arguments: [String]) throws -> Result {
        let path = try ProcessRunner.resolve(executable)
        // nil: the tools see dkms's own environment, as they always have.
        let env = environment ?? Spawn.inheritedEnvironment
        let r: Spawn.Result
        do { r = try Spawn([path] + arguments, environment: env).run() } catch { throw ToolError.toolMissing(path: path) }
        return Result(status: r.status, stdout: r.stdoutText, stderr: r.stderrText)
    }

    /// Like `run`, but a non-zero exit is an error that carries stderr.
    @discardableResult
    public func check(_ executable: String, _ arguments: [String]) throws -> Result {
        let r = try run(executable, arguments)
        guard r.status == 0 else {
            throw ToolError.commandFailed(command: ([executable] + arguments).joined(separator: " "),
                                               status: r.status, stderr: r.stderr)
        }
        return r
    }

    /// Absolute paths are taken as given; bare names are looked up in PATH plus the
    /// sbin directories (depmod lives in /usr/sbin, often not in a test's PATH).
    public static func resolve(_ executable: String) throws -> String {
        let path = getenv("PATH").map { String(cString: $0) } ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        guard let found = Spawn.lookUp(executable, in: dirs) else { throw ToolError.toolMissing(path: executable) }
        return found
    }
}
