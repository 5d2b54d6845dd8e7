import Glibc
import SafeFS

/// Thin, allocation-light wrappers over the file system calls the tree walk
/// needs. `dkms status` runs on every hook and shell completion, so these
/// avoid Foundation's FileManager (which stats and bridges far more than we ask).
public enum FS {
    public static func lstatInfo(_ path: String) -> stat? {
        var st = Glibc.stat()
        return Glibc.lstat(path, &st) == 0 ? st : nil
    }

    public static func statInfo(_ path: String) -> stat? {
        var st = Glibc.stat()
        return fstatat(AT_FDCWD, path, &st, 0) == 0 ? st : nil
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func isDirectory(_ path: String) -> Bool {
        guard let st = statInfo(path) else { return false }
        return (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func isRegularFile(_ path: String) -> Bool {
        guard let st = statInfo(path) else { return false }
        return (st.st_mode & S_IFMT) == S_IFREG
    }

    public static func isSymlink(_ path: String) -> Bool {
        guard let st = lstatInfo(path) else { return false }
        return (st.st_mode & S_IFMT) == S_IFLNK
    }

    public static func readLink(_ path: String) -> String? {
        Plain.readLink(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Fully resolved path (readlink -f); nil when a component is missing.
    public static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// Names in a directory, without "." and "..", unsorted.
    public static func list(_ path: String) -> [String] { Plain.list(path) ?? [] }

    public static func readFile(_ path: String) -> [UInt8]? { try? Plain.readFile(path) }

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

    public static func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }
}
