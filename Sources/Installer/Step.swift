#if canImport(Glibc)
import Glibc
#endif

/// One planned change to the filesystem. A transaction is an ordered list of these;
/// each is journaled before it is taken and each can be undone from its journal
/// record alone (see `StepExecutor`).
public enum Step: Equatable, Sendable, CustomStringConvertible {
    /// Copy `source` to `destination` with `mode`: staged as a temp file next to the
    /// target, fsynced, renamed over it. A file it replaces is kept (hard link) until commit.
    case installFile(source: String, destination: String, mode: mode_t)
    /// Move an original in-tree module out of the way into the dkms tree's
    /// `original_module/<kver>/<arch>/` before ours shadows it.
    case backupOriginal(path: String, backupPath: String)
    /// Move a backed-up original module back into the install tree.
    case restoreOriginal(backupPath: String, path: String)
    /// Remove a file (moved aside, deleted only after commit).
    case removeFile(path: String)
    /// Remove a whole directory (renamed aside, deleted only after commit).
    case removeDirectory(path: String)
    /// rmdir if empty, after commit; a non-empty directory is left alone. Tidying only.
    case removeEmptyDirectory(path: String)
    /// Point the symlink `path` at `target` (temp link + rename: never absent in between).
    case setLink(path: String, target: String)
    /// Remove the symlink `path`.
    case removeLink(path: String)

    public var description: String {
        switch self {
        case let .installFile(s, d, m): return "install \(s) -> \(d) (mode \(String(m, radix: 8)))"
        case let .backupOriginal(p, b): return "back up \(p) -> \(b)"
        case let .restoreOriginal(b, p): return "restore \(b) -> \(p)"
        case let .removeFile(p): return "remove \(p)"
        case let .removeDirectory(p): return "remove directory \(p)"
        case let .removeEmptyDirectory(p): return "remove empty directory \(p)"
        case let .setLink(p, t): return "link \(p) -> \(t)"
        case let .removeLink(p): return "unlink \(p)"
        }
    }

    /// Short phrase for error messages: why the failing call was made.
    var purpose: String {
        switch self {
        case .installFile: return "installing module"
        case .backupOriginal: return "backing up original module"
        case .restoreOriginal: return "restoring original module"
        case .removeFile: return "removing module"
        case .removeDirectory: return "removing directory"
        case .removeEmptyDirectory: return "tidying directories"
        case .setLink: return "marking installed"
        case .removeLink: return "unmarking installed"
        }
    }
}

/// A planned transaction: what to do, plus the kernels whose module index
/// (depmod) must be refreshed after it commits.
public struct TransactionPlan: Equatable, Sendable {
    public var description: String
    public var steps: [Step]
    public var touchedKernels: [String]
    /// Notes from planning (e.g. "multiple originals, none backed up").
    public var warnings: [String]

    public init(description: String, steps: [Step] = [], touchedKernels: [String] = [], warnings: [String] = []) {
        self.description = description
        self.steps = steps
        self.touchedKernels = touchedKernels
        self.warnings = warnings
    }

    public mutating func append(_ other: TransactionPlan) {
        steps += other.steps
        for k in other.touchedKernels where !touchedKernels.contains(k) { touchedKernels.append(k) }
        warnings += other.warnings
    }
}
