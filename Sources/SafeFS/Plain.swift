import Glibc

/// The plain file-system calls every library used to write for itself
/// (DKMSCore's FS and Files, Installer's FS, BuildCache's FileSystem): one
/// copy each, none following a link it is not asked to.
public struct IOFailure: Error, Equatable, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32
    public init(_ operation: String, _ path: String, _ e: Int32 = Glibc.errno) { self.operation = operation; self.path = path; self.errno = e }
    public var description: String { "cannot \(operation) \(path): \(String(cString: strerror(errno)))" }
}

public enum Plain {
    /// Names in the directory `path` (without "." and ".."), unsorted; nil
    /// with errno when it cannot be opened.
    public static func list(_ path: String) -> [String]? {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        return Directory.names(fd: fd)
    }

    /// The target of the link `path`, as bytes; nil with errno.
    public static func readLink(_ path: String) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = buf.withUnsafeMutableBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { readlink(path, $0, p.count - 1) }
        }
        guard n >= 0 else { return nil }
        return Array(buf[0..<n])
    }

    /// The whole of a file the supervisor wrote itself (for module-made
    /// files: BoundedFile or Beneath). Throws naming the path.
    public static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IOFailure("open for reading", path) }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { if errno == EINTR { continue }; throw IOFailure("read", path) }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// rm -rf without starting rm: never follows a link (a link is
    /// unlinked), stays on the tree; a missing path is no error.
    public static func removeTree(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) != S_IFDIR {
            if unlink(path) != 0 && errno != ENOENT { throw IOFailure("remove", path) }
            return
        }
        for name in list(path) ?? [] { try removeTree(path.hasSuffix("/") ? path + name : path + "/" + name) }
        if rmdir(path) != 0 && errno != ENOENT { throw IOFailure("remove directory", path) }
    }
}
