import Glibc

/// Crash-safe publication: write a uniquely named temp file in the destination directory,
/// fsync it, rename it over the target, then fsync the directory so the rename itself is durable.
/// Same-directory temp files keep rename atomic (no cross-filesystem copy), and readers never
/// observe a partially written file.
public struct TempFile {
    public static let prefix = ".tmp-"

    public let directory: String
    public let path: String
    public private(set) var fd: Int32

    /// Creates `<dir>/.tmp-<pid>-<random>` with O_EXCL so concurrent writers never share a temp.
    public init(in directory: String, mode: mode_t = 0o644) throws {
        self.directory = directory
        var attempt = 0
        while true {
            let candidate = FS.join(directory, "\(TempFile.prefix)\(getpid())-\(UInt64.random(in: 0...UInt64.max) & 0xffff_ffff_ffff)")
            let fd = open(candidate, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode)
            if fd >= 0 { self.fd = fd; self.path = candidate; return }
            attempt += 1
            if errno != EEXIST || attempt > 16 { throw IOFailure("open", candidate) }
        }
    }

    public func write(_ buffer: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw IOFailure("write", path)
            }
            offset += n
        }
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// fsync + close + rename + directory fsync. After this returns the file is durable at `target`.
    /// `syncDirectory: false` leaves the directory's fsync to the caller: one for many files
    /// written into a private directory that is published later.
    public mutating func commit(to target: String, syncDirectory: Bool = true) throws {
        guard fsync(fd) == 0 else { let e = IOFailure("fsync", path); discard(); throw e }
        close(fd); fd = -1
        guard rename(path, target) == 0 else { let e = IOFailure("rename", target); unlink(path); throw e }
        if syncDirectory { try FS.syncDirectory(directory) }
    }

    /// Removes the temp file; used on every error path so no `.tmp-*` litter survives.
    public mutating func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(path)
    }
}

extension FS {
    /// `bytes` at `target`, whole or not at all, durably (TempFile).
    public static func writeAtomically(_ bytes: [UInt8], to target: String, mode: mode_t = 0o644) throws {
        var tmp = try TempFile(in: parent(target), mode: mode)
        do { try tmp.write(bytes); try tmp.commit(to: target) } catch { tmp.discard(); throw error }
    }
}
