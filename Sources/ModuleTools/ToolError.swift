#if canImport(Glibc)
import Glibc
#endif

/// Every failure of the module tools. The texts are the ones these cases had
/// as `InstallerError`, letter for letter: dkms prints them (a failed
/// compression becomes "Post-processing …: <text>"), so moving the tools out
/// of the installer must not change a byte of what an administrator reads.
public enum ToolError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A system call failed on `path`. `operation` is a verb phrase ("open", "rename to x").
    case io(operation: String, path: String, errno: Int32)
    /// Caller error: a value that cannot be used (unsupported install tree layout, a compressed file to sign).
    case invalidArgument(String)
    /// A tool exited 0 but the file it should have written is not there.
    case noOutput(path: String, tool: String)
    /// An external tool could not be started.
    case toolMissing(path: String)
    /// An external tool exited non-zero.
    case commandFailed(command: String, status: Int32, stderr: String)
    /// depmod failed. Modules already installed stay installed; rerunning depmod fixes the index.
    case depmodFailed(kernel: String, status: Int32, stderr: String)

    public var description: String {
        switch self {
        case let .io(operation, path, code):
            let text = strerror(code).map { String(cString: $0) } ?? "errno \(code)"
            return "\(path): cannot \(operation): \(text)"
        case let .invalidArgument(text):
            return text
        case let .noOutput(path, tool):
            return "\(path): compressor \(tool) did not produce this file"
        case let .toolMissing(path):
            return "\(path): tool not found or not executable"
        case let .commandFailed(command, status, stderr):
            return "\(command): exited with status \(status)" + ToolError.gist(stderr)
        case let .depmodFailed(kernel, status, stderr):
            return "depmod for \(kernel): exited with status \(status)" + ToolError.gist(stderr)
        }
    }

    /// Keeps messages one line: tools like depmod print several; the gist is in the
    /// last non-empty line that is not a mere warning, else the first one.
    static func gist(_ text: String) -> String {
        let lines = text.split(whereSeparator: { $0 == "\n" }).map(String.init)
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard !lines.isEmpty else { return "" }
        let chosen = lines.last(where: { !$0.contains("WARNING") }) ?? lines[0]
        return ": " + chosen.trimmingCharacters(in: .whitespaces)
    }
}
