import Foundation

/// Runs an external tool (xz, zstd, gzip, sign-file, openssl, depmod) and captures
/// its output, so failures can be reported with the tool's own words.
public struct ProcessRunner: Sendable {
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public var environment: [String: String]?

    public init(environment: [String: String]? = nil) { self.environment = environment }

    public func run(_ executable: String, _ arguments: [String]) throws -> Result {
        let path = try ProcessRunner.resolve(executable)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        if let env = environment { p.environment = env }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { throw ToolError.toolMissing(path: path) }
        // Drain stderr on another thread so a chatty tool cannot fill a pipe and stall.
        let errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errBox.data
        p.waitUntilExit()
        let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
        return Result(status: status,
                      stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
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
        if executable.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: executable) else {
                throw ToolError.toolMissing(path: executable)
            }
            return executable
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        for d in dirs {
            let candidate = ToolFiles.join(d, executable)
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ToolError.toolMissing(path: executable)
    }
}

/// Hands stderr from the reader thread back; the DispatchGroup orders the accesses.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}
