#if canImport(Glibc)
import Glibc
#endif
import SafeFS

/// Does, undoes and finishes single steps. The invariants every method keeps:
///
/// * a file only appears under its final name by rename() of a complete, fsynced
///   temp file (or by link() of an existing complete file), so no reader and no
///   crash ever sees a half-written module;
/// * until commit, whatever a step replaced or removed still exists under an
///   aside name, so undo is always possible;
/// * `undo` and `cleanup` inspect the filesystem and are idempotent: recovery may
///   be interrupted and rerun any number of times.
///
/// Each durable change is preceded by `faults.point` so crash tests can stop there.
struct StepExecutor {
    let transactionID: String

    // MARK: prepare – observe what undo will need, before the intent is journaled

    func prepare(_ step: Step, index: Int) throws -> StepRecord {
        var r = StepRecord(index: index, step: step, transactionID: transactionID)
        switch step {
        case let .installFile(source, destination, _):
            guard FS.kind(source) != nil else { throw FS.failWith(ENOENT, "read", source) }
            if let k = FS.kind(destination) {
                guard k != .directory else { throw InstallerError.conflict(path: destination, reason: "is a directory, cannot install a module over it") }
                r.priorPresent = true
            }
            r.createdDirectories = FS.missingDirectories(FS.parent(destination))
        case let .backupOriginal(from, to), let .restoreOriginal(from, to):
            guard FS.kind(from) == .file else { throw InstallerError.conflict(path: from, reason: "original module to move is missing or not a regular file") }
            guard !FS.exists(to, followLinks: false) else { throw InstallerError.conflict(path: to, reason: "already exists, refusing to overwrite it") }
            r.createdDirectories = FS.missingDirectories(FS.parent(to))
        case let .removeFile(path):
            if let k = FS.kind(path) {
                guard k != .directory else { throw InstallerError.conflict(path: path, reason: "is a directory, expected a file") }
                r.priorPresent = true
            }
        case let .removeDirectory(path):
            if let k = FS.kind(path) {
                guard k == .directory else { throw InstallerError.conflict(path: path, reason: "is not a directory") }
                r.priorPresent = true
            }
        case let .removeEmptyDirectory(path):
            r.priorPresent = FS.kind(path) == .directory
        case let .setLink(path, _), let .removeLink(path):
            if let k = FS.kind(path) {
                guard k == .symlink else { throw InstallerError.conflict(path: path, reason: "exists and is not a symlink") }
                r.priorLink = FS.readLink(path)
            }
            if case .setLink = step { r.createdDirectories = FS.missingDirectories(FS.parent(path)) }
        }
        return r
    }

    // MARK: apply

    func apply(_ r: StepRecord, faults: inout FaultInjector) throws {
        for dir in r.createdDirectories {
            faults.point("mkdir \(dir)")
            try FS.makeDirectory(dir)
            try FS.syncDirectoryIfSupported(FS.parent(dir))
        }
        switch r.step {
        case let .installFile(source, destination, mode):
            let tmp = r.tempPath(for: destination)
            do {
                faults.point("copy \(source) -> \(tmp)")
                let fd = try FS.copyToNewFile(from: source, to: tmp, mode: mode)
                faults.point("fsync \(tmp)")
                try FS.syncAndClose(fd, path: tmp)
            } catch let InstallerError.io(op, path, code) where path == tmp {
                // Name the module being installed, not our temp name: that is what the user knows.
                throw InstallerError.io(operation: op, path: destination, errno: code)
            }
            if r.priorPresent {
                // Keep the replaced file reachable under an aside name until commit.
                faults.point("link \(destination) -> aside")
                try FS.hardLink(destination, r.asidePath(for: destination))
            }
            faults.point("rename \(tmp) -> \(destination)")
            try FS.renameEntry(tmp, destination)
            faults.point("fsync dir of \(destination)")
            try FS.syncDirectoryIfSupported(FS.parent(destination))

        case let .backupOriginal(from, to), let .restoreOriginal(from, to):
            try durableMove(from: from, to: to, record: r, faults: &faults)

        case let .removeFile(path), let .removeDirectory(path):
            guard r.priorPresent else { return }
            faults.point("rename \(path) -> aside")
            try FS.renameEntry(path, r.asidePath(for: path))
            faults.point("fsync dir of \(path)")
            try FS.syncDirectoryIfSupported(FS.parent(path))

        case .removeEmptyDirectory:
            // Deferred to cleanup: until commit, aside copies may still live in the
            // directory, and an emptied directory is harmless if we roll back.
            break

        case let .setLink(path, target):
            let tmp = r.tempPath(for: path)
            faults.point("symlink \(tmp) -> \(target)")
            try FS.symlink(target: target, at: tmp)
            faults.point("rename \(tmp) -> \(path)")
            try FS.renameEntry(tmp, path)
            faults.point("fsync dir of \(path)")
            try FS.syncDirectoryIfSupported(FS.parent(path))

        case let .removeLink(path):
            guard r.priorLink != nil else { return }
            faults.point("unlink \(path)")
            try FS.unlinkIfPresent(path)
            faults.point("fsync dir of \(path)")
            try FS.syncDirectoryIfSupported(FS.parent(path))
        }
    }

    /// Move a file so that at every instant at least one complete copy exists under a
    /// real name: link (same filesystem) or copy+fsync+rename (across filesystems —
    /// /lib/modules and /var/lib/dkms often differ), then unlink the source.
    private func durableMove(from: String, to: String, record r: StepRecord, faults: inout FaultInjector) throws {
        try placeCopy(of: from, at: to, record: r, faults: &faults)
        faults.point("unlink \(from)")
        try FS.unlinkIfPresent(from)
        faults.point("fsync dir of \(from)")
        try FS.syncDirectoryIfSupported(FS.parent(from))
    }

    private func placeCopy(of from: String, at to: String, record r: StepRecord, faults: inout FaultInjector) throws {
        faults.point("link \(from) -> \(to)")
        if link(from, to) != 0 {
            let e = errno
            guard e == EXDEV || e == EPERM || e == EMLINK else { throw FS.failWith(e, "link to \(to)", from) }
            let tmp = r.tempPath(for: to)
            try FS.unlinkIfPresent(tmp)
            do {
                faults.point("copy \(from) -> \(tmp)")
                let fd = try FS.copyToNewFile(from: from, to: tmp, mode: FS.mode(from) ?? 0o644)
                faults.point("fsync \(tmp)")
                try FS.syncAndClose(fd, path: tmp)
            } catch let InstallerError.io(op, path, code) where path == tmp {
                throw InstallerError.io(operation: op, path: to, errno: code)
            }
            faults.point("rename \(tmp) -> \(to)")
            try FS.renameEntry(tmp, to)
        }
        faults.point("fsync dir of \(to)")
        try FS.syncDirectoryIfSupported(FS.parent(to))
    }

    // MARK: undo – bring the filesystem back to how `prepare` saw it

    func undo(_ r: StepRecord, faults: inout FaultInjector) throws {
        switch r.step {
        case let .installFile(_, destination, _):
            let aside = r.asidePath(for: destination)
            if r.priorPresent {
                // If the aside link exists the rename may have happened: put the old file back.
                // If it does not, either the rename never happened or we already restored it.
                if FS.exists(aside, followLinks: false) {
                    if FS.sameFile(aside, destination) {
                        // Linked but not yet replaced: rename() between two links to one
                        // inode is a no-op by POSIX, so drop the aside name instead.
                        faults.point("undo: unlink aside of \(destination)")
                        try FS.unlinkIfPresent(aside)
                    } else {
                        faults.point("undo: rename aside -> \(destination)")
                        try FS.renameEntry(aside, destination)
                    }
                    try FS.syncDirectoryIfSupported(FS.parent(destination))
                }
            } else if FS.exists(destination, followLinks: false) {
                // Nothing was there before and we hold the lock, so whatever is there is ours.
                faults.point("undo: unlink \(destination)")
                try FS.unlinkIfPresent(destination)
                try FS.syncDirectoryIfSupported(FS.parent(destination))
            }
            try removeTemp(r.tempPath(for: destination), faults: &faults)

        case let .backupOriginal(from, to), let .restoreOriginal(from, to):
            let fromExists = FS.exists(from, followLinks: false)
            if FS.exists(to, followLinks: false) {
                if !fromExists {
                    // The source was already unlinked: move the only copy back first.
                    let back = StepRecord(index: r.index, step: r.step, transactionID: "\(r.transactionID)-undo")
                    try placeCopy(of: to, at: from, record: back, faults: &faults)
                    try removeTemp(back.tempPath(for: from), faults: &faults)
                }
                faults.point("undo: unlink \(to)")
                try FS.unlinkIfPresent(to)
                try FS.syncDirectoryIfSupported(FS.parent(to))
            }
            try removeTemp(r.tempPath(for: to), faults: &faults)

        case let .removeFile(path), let .removeDirectory(path):
            let aside = r.asidePath(for: path)
            if r.priorPresent && FS.exists(aside, followLinks: false) && !FS.exists(path, followLinks: false) {
                faults.point("undo: rename aside -> \(path)")
                try FS.renameEntry(aside, path)
                try FS.syncDirectoryIfSupported(FS.parent(path))
            }

        case .removeEmptyDirectory:
            break // never applied before commit

        case let .setLink(path, _), let .removeLink(path):
            let current = FS.readLink(path)
            if current != r.priorLink {
                if let prior = r.priorLink {
                    let tmp = r.tempPath(for: path)
                    try FS.unlinkIfPresent(tmp)
                    faults.point("undo: symlink \(tmp) -> \(prior)")
                    try FS.symlink(target: prior, at: tmp)
                    faults.point("undo: rename \(tmp) -> \(path)")
                    try FS.renameEntry(tmp, path)
                } else {
                    faults.point("undo: unlink \(path)")
                    try FS.unlinkIfPresent(path)
                }
                try FS.syncDirectoryIfSupported(FS.parent(path))
            }
            try removeTemp(r.tempPath(for: path), faults: &faults)
        }
        // Directories we created go last, innermost first; non-empty ones stay.
        for dir in r.createdDirectories.reversed() where FS.kind(dir) == .directory {
            faults.point("undo: rmdir \(dir)")
            try FS.removeDirectoryIfEmpty(dir)
        }
    }

    // MARK: cleanup – after commit: drop what was kept only for undo

    func cleanup(_ r: StepRecord, faults: inout FaultInjector) throws {
        switch r.step {
        case let .installFile(_, destination, _):
            try removeTemp(r.tempPath(for: destination), faults: &faults)
            try removeTemp(r.asidePath(for: destination), faults: &faults)
        case let .backupOriginal(_, to), let .restoreOriginal(_, to):
            try removeTemp(r.tempPath(for: to), faults: &faults)
        case let .removeFile(path):
            try removeTemp(r.asidePath(for: path), faults: &faults)
        case let .removeDirectory(path):
            let aside = r.asidePath(for: path)
            if FS.exists(aside, followLinks: false) {
                faults.point("cleanup: rm -r \(aside)")
                try FS.removeTreeReporting(aside)
            }
        case let .removeEmptyDirectory(path):
            if FS.kind(path) == .directory && FS.listDirectory(path).isEmpty {
                faults.point("cleanup: rmdir \(path)")
                try FS.removeDirectoryIfEmpty(path)
                try FS.syncDirectoryIfSupported(FS.parent(path))
            }
        case let .setLink(path, _), let .removeLink(path):
            try removeTemp(r.tempPath(for: path), faults: &faults)
        }
    }

    private func removeTemp(_ path: String, faults: inout FaultInjector) throws {
        guard FS.exists(path, followLinks: false) else { return }
        faults.point("unlink \(path)")
        try FS.unlinkIfPresent(path)
    }
}

extension FS {
    static func sameFile(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard lstat(a, &sa) == 0, lstat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }

    static func failWith(_ code: Int32, _ op: String, _ path: String) -> InstallerError {
        .io(operation: op, path: path, errno: code)
    }
}
