import Glibc

/// Crash-safe publication: write a uniquely named temp file in the destination directory,
/// fsync it, rename it over the target, then fsync the directory so the rename itself is durable.
/// Same-directory temp files keep rename atomic (no cross-filesystem copy), and readers never
/// observe a partially written file.
struct TempFile {
    static let prefix = ".tmp-"

    let directory: String
    let path: String
    private(set) var fd: Int32

    /// Creates `<dir>/.tmp-<pid>-<random>` with O_EXCL so concurrent writers never share a temp.
    init(in directory: String, mode: mode_t = 0o644) throws {
        self.directory = directory
        var attempt = 0
        while true {
            let candidate = directory.appendingComponent("\(TempFile.prefix)\(getpid())-\(UInt64.random(in: 0...UInt64.max) & 0xffff_ffff_ffff)")
            let fd = open(candidate, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode)
            if fd >= 0 { self.fd = fd; self.path = candidate; return }
            attempt += 1
            if Glibc.errno != EEXIST || attempt > 16 { throw CacheError.errno("open", candidate) }
        }
    }

    func write(_ buffer: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < buffer.count {
            let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if Glibc.errno == EINTR { continue }
                throw CacheError.errno("write", path)
            }
            offset += n
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// fsync + close + rename + directory fsync. After this returns the file is durable at `target`.
    /// `syncDirectory: false` leaves the directory's fsync to the caller: one for many files
    /// written into a private directory that is published later.
    mutating func commit(to target: String, syncDirectory: Bool = true) throws {
        guard fsync(fd) == 0 else { let e = CacheError.errno("fsync", path); discard(); throw e }
        close(fd); fd = -1
        guard rename(path, target) == 0 else { let e = CacheError.errno("rename", target); unlink(path); throw e }
        if syncDirectory { try AtomicFile.fsyncDirectory(directory) }
    }

    /// Removes the temp file; used on every error path so no `.tmp-*` litter survives.
    mutating func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(path)
    }
}

enum AtomicFile {
    static func write(_ bytes: [UInt8], to target: String, mode: mode_t = 0o644) throws {
        var tmp = try TempFile(in: target.deletingLastComponent, mode: mode)
        do { try tmp.write(bytes); try tmp.commit(to: target) } catch { tmp.discard(); throw error }
    }

    static func fsyncDirectory(_ dir: String) throws {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw CacheError.errno("open", dir) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw CacheError.errno("fsync", dir) }
    }

    static func readAll(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CacheError.errno("open", path) }
        defer { close(fd) }
        // Size the buffer from fstat so the 1.3 MB memo is read without regrowth copies;
        // keep reading past that size in case the file grew meanwhile.
        let expected = Int((try? FileSystem.fstatKey(fd, path: path).size) ?? 0)
        var out = [UInt8](repeating: 0, count: max(expected + 1, 4096))
        var used = 0
        while true {
            if used == out.count { out.append(contentsOf: repeatElement(0, count: out.count)) }
            let n = out.withUnsafeMutableBytes { read(fd, $0.baseAddress! + used, $0.count - used) }
            if n < 0 { if Glibc.errno == EINTR { continue }; throw CacheError.errno("read", path) }
            if n == 0 { break }
            used += n
        }
        out.removeSubrange(used...)
        return out
    }
}
