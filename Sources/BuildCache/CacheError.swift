import Glibc

/// Every failure the library reports but a system call's, which is SafeFS's IOFailure
/// (its errno kept so callers can log precise causes).
public enum CacheError: Error, Equatable, CustomStringConvertible {
    /// A file changed between stat and end of read twice in a row; its digest cannot be trusted.
    case fileChangedWhileHashing(path: String)
    /// Fifos, sockets and devices have no meaningful content digest; refuse rather than guess.
    case unsupportedFileType(path: String, mode: UInt32)
    /// Following symlinks led back into a directory already on the walk stack.
    case symlinkCycle(path: String)
    /// A result path was absolute, empty, or contained `.`/`..` components.
    case invalidRelativePath(String)
    /// A key string was not 64 hex characters.
    case invalidKey(String)
    /// A persisted file (memo, record, counters) could not be parsed.
    case corruptMetadata(path: String, reason: String)
    /// A toolchain program could not be found.
    case toolNotFound(String)
    /// A helper process (e.g. `gcc -print-prog-name`) failed.
    case commandFailed(command: [String], status: Int32)
    /// The kernel build tree layout was not what `KernelBuildTree.discover` understands.
    case kernelTreeNotFound(String)

    public var description: String {
        switch self {
        case let .fileChangedWhileHashing(p): return "file changed while hashing: \(p)"
        case let .unsupportedFileType(p, m): return "unsupported file type \(String(m, radix: 8)): \(p)"
        case let .symlinkCycle(p): return "symlink cycle at \(p)"
        case let .invalidRelativePath(p): return "invalid relative path: \(p)"
        case let .invalidKey(k): return "invalid cache key: \(k)"
        case let .corruptMetadata(p, r): return "corrupt metadata \(p): \(r)"
        case let .toolNotFound(t): return "tool not found: \(t)"
        case let .commandFailed(c, s): return "command \(c.joined(separator: " ")) exited \(s)"
        case let .kernelTreeNotFound(p): return "kernel build tree not found: \(p)"
        }
    }
}
