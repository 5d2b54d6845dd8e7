import Glibc
import SafeFS

/// An exclusive or shared flock(2) on a lock file. flock locks belong to the open file
/// description, so they work across processes and are released by the kernel if the holder dies.
struct FileLock {
    let path: String
    private(set) var fd: Int32

    /// Blocks until the lock is held.
    init(path: String, exclusive: Bool) throws {
        self.path = path
        fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw IOFailure("open", path) }
        while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            if errno == EINTR { continue }
            let e = IOFailure("flock", path); close(fd); throw e
        }
    }

    /// Lock a per-key file that the holder unlinks on release (so `locks/` does not grow).
    /// Because a waiter may have opened the file just before it was unlinked, after acquiring
    /// we check the path still names our inode; if not, retry on the new file.
    static func acquireEphemeral(path: String) throws -> FileLock {
        while true {
            let lock = try FileLock(path: path, exclusive: true)
            var a = stat(), b = stat()
            if fstat(lock.fd, &a) == 0, stat(path, &b) == 0, a.st_ino == b.st_ino, a.st_dev == b.st_dev { return lock }
            var l = lock; l.release()
        }
    }

    mutating func release(unlinking: Bool = false) {
        guard fd >= 0 else { return }
        if unlinking { unlink(path) }  // before unlock: nobody can acquire a stale path after us
        close(fd)  // closing the last descriptor drops the flock
        fd = -1
    }
}
