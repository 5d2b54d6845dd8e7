import Glibc

/// Whole-file reads of files the supervisor wrote itself (for module-made
/// files: BoundedFile or Beneath).
extension FS {
    /// Throws naming the path. Read into a buffer sized by fstat, so a
    /// large file (BuildCache's 1.3 MB stat memo) is read without regrowth
    /// copies; a file that grows meanwhile is still read whole.
    public static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw IOFailure("open", path) }
        defer { close(fd) }
        var st = stat()
        let expected = fstat(fd, &st) == 0 ? Int(st.st_size) : 0
        var out = [UInt8](repeating: 0, count: max(expected + 1, 4096))
        var used = 0
        while true {
            if used == out.count { out.append(contentsOf: repeatElement(0, count: out.count)) }
            let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + used, $0.count - used) }
            if n < 0 { if errno == EINTR { continue }; throw IOFailure("read", path) }
            if n == 0 { break }
            used += n
        }
        out.removeSubrange(used...)
        return out
    }

    /// `read`, nil on any failure.
    public static func readFile(_ path: String) -> [UInt8]? { try? read(path) }

    public static func readText(_ path: String) -> String? {
        guard let b = readFile(path) else { return nil }
        return String(decoding: b, as: UTF8.self)
    }

    /// Byte equality of two files (dkms uses `diff -q`).
    public static func sameContent(_ a: String, _ b: String) -> Bool {
        guard let sa = statInfo(a), let sb = statInfo(b), sa.st_size == sb.st_size else { return false }
        guard let x = readFile(a), let y = readFile(b) else { return false }
        return x == y
    }
}
