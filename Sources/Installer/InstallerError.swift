import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Every failure the installer reports. Each case renders as one line that names
/// the file involved and the problem, because these messages end up in front of
/// an administrator who has to fix the system by hand.
public enum InstallerError: Error, Equatable, CustomStringConvertible, Sendable {
    /// A system call failed on `path`. `operation` is a verb phrase ("write", "rename to x").
    case io(operation: String, path: String, errno: Int32)
    /// The tree lock could not be opened or taken.
    case lockFailed(path: String, errno: Int32)
    /// `tryAcquire` found the lock taken; `holder` is what the holder wrote into it.
    case lockBusy(path: String, holder: String)
    /// A journal record could not be understood.
    case journalCorrupt(path: String, reason: String)
    /// A planned step found the filesystem in a state it must not overwrite.
    case conflict(path: String, reason: String)
    /// A step failed and undoing the completed steps failed too; the journal is kept
    /// so that `Recovery` can finish the job later.
    case rollbackFailed(journal: String, cause: String, undoError: String)

    public var description: String {
        switch self {
        case let .io(operation, path, code):
            return "\(path): cannot \(operation): \(InstallerError.errnoText(code))"
        case let .lockFailed(path, code):
            return "\(path): cannot lock: \(InstallerError.errnoText(code))"
        case let .lockBusy(path, holder):
            return "\(path): lock is held" + (holder.isEmpty ? "" : " by \(holder)")
        case let .journalCorrupt(path, reason):
            return "\(path): corrupt journal: \(reason)"
        case let .conflict(path, reason):
            return "\(path): \(reason)"
        case let .rollbackFailed(journal, cause, undoError):
            return "\(journal): rollback incomplete after '\(cause)': \(undoError); run recovery"
        }
    }

    /// True when the failure is "the filesystem is full" – callers may want to say so louder.
    public var isNoSpace: Bool {
        if case let .io(_, _, code) = self { return code == ENOSPC || code == EDQUOT }
        return false
    }

    /// True when the target filesystem refused writes (read-only mount, immutable file).
    public var isReadOnly: Bool {
        if case let .io(_, _, code) = self { return code == EROFS || code == EPERM || code == EACCES }
        return false
    }

    static func errnoText(_ code: Int32) -> String {
        guard let c = strerror(code) else { return "errno \(code)" }
        return String(cString: c)
    }
}

