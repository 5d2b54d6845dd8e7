import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SafeFS

/// The one exclusive lock every state-changing command holds on a dkms tree.
///
/// `flock` rather than a pid file: the kernel drops it when the holder dies (even by
/// SIGKILL), so there is never a stale lock to clean up. The lock file is never
/// unlinked, because unlinking a flock file lets two processes lock two different
/// inodes under the same name.
///
/// A class, not a struct: it owns a file descriptor, and copying it would make two
/// owners that could each release the one lock.
public final class TreeLock {
    public let path: String
    public let command: String
    private var fd: Int32

    /// Where the lock lives for a given dkms tree.
    public static func lockPath(dkmsTree: String) -> String { FS.join(dkmsTree, ".dkms.lock") }

    private var adopted = false

    private init(path: String, command: String, fd: Int32) {
        self.path = path
        self.command = command
        self.fd = fd
    }

    deinit { release() }

    /// Takes the lock, waiting as long as needed. If it has to wait it calls `notice`
    /// once (default: a line on stderr) naming the holder, so a user staring at a
    /// silent `dkms install` knows why.
    public static func acquire(dkmsTree: String, command: String,
                               notice: (String) -> Void = TreeLock.printToStandardError) throws -> TreeLock {
        let (path, fd) = try openLockFile(dkmsTree: dkmsTree)
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK else { let e = errno; close(fd); throw InstallerError.lockFailed(path: path, errno: e) }
            let holder = readHolder(fd)
            notice("dkms: waiting for lock \(path)" + (holder.isEmpty ? "" : " held by \(holder)"))
            while flock(fd, LOCK_EX) != 0 {
                if errno == EINTR { continue }
                let e = errno; close(fd)
                throw InstallerError.lockFailed(path: path, errno: e)
            }
        }
        return try stamp(TreeLock(path: path, command: command, fd: fd))
    }

    /// Takes the lock only if it is free right now; returns nil when another process holds it.
    public static func tryAcquire(dkmsTree: String, command: String) throws -> TreeLock? {
        let (path, fd) = try openLockFile(dkmsTree: dkmsTree)
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let e = errno
            close(fd)
            if e == EWOULDBLOCK { return nil }
            throw InstallerError.lockFailed(path: path, errno: e)
        }
        return try stamp(TreeLock(path: path, command: command, fd: fd))
    }

    /// What the current holder wrote ("pid N (command)"), or "" if unknown. For messages only.
    public static func currentHolder(dkmsTree: String) -> String {
        let path = lockPath(dkmsTree: dkmsTree)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        return readHolder(fd)
    }

    public var isHeld: Bool { fd >= 0 }

    /// The descriptor, for handing the held lock to a child process: flock
    /// belongs to the open file description, which the child then shares.
    public var descriptor: Int32 { fd }

    /// Takes over a lock a parent already holds and passed down as `fd`.
    /// Returns nil unless `fd` really is the tree's lock file, locked by us.
    public static func adopt(fd: Int32, dkmsTree: String, command: String) -> TreeLock? {
        var a = stat(), b = stat()
        let path = lockPath(dkmsTree: dkmsTree)
        guard fstat(fd, &a) == 0, lstat(path, &b) == 0, a.st_dev == b.st_dev, a.st_ino == b.st_ino else { return nil }
        // Already ours through the shared description: this succeeds without waiting.
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return nil }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let lock = TreeLock(path: path, command: command, fd: fd)
        lock.adopted = true
        return lock
    }

    /// Releases the lock. Idempotent; also done on deinit and, by the kernel, on exit.
    public func release() {
        guard fd >= 0 else { return }
        // A child must not unlock what its parent still holds.
        if adopted { close(fd); fd = -1; return }
        // Clear the holder line first so a waiter never blames a process that is gone.
        _ = ftruncate(fd, 0)
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    public static func printToStandardError(_ line: String) {
        FileHandle.standardError.write((line + "\n").data(using: .utf8)!)
    }

    private static func openLockFile(dkmsTree: String) throws -> (String, Int32) {
        let path = lockPath(dkmsTree: dkmsTree)
        for dir in FS.missingDirectories(dkmsTree) { try FS.makeDirectory(dir) }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw InstallerError.lockFailed(path: path, errno: errno) }
        return (path, fd)
    }

    /// The holder writes "pid N (command)" so waiters can name it.
    private static func stamp(_ lock: TreeLock) throws -> TreeLock {
        let line = "pid \(getpid()) (\(lock.command))\n"
        _ = ftruncate(lock.fd, 0)
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { pwrite(lock.fd, $0.baseAddress, $0.count, 0) }
        return lock
    }

    private static func readHolder(_ fd: Int32) -> String {
        var buf = [UInt8](repeating: 0, count: 512)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return "" }
        let text = String(decoding: buf[0..<n], as: UTF8.self)
        return text.split(separator: "\n").first.map(String.init) ?? ""
    }
}
