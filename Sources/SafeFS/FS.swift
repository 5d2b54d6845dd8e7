import Glibc

/// The plain file-system calls every library used to write for itself
/// (DKMSCore's FS and Files, Installer's FS, BuildCache's FileSystem): one
/// copy each, none following a link it is not asked to. For files module
/// code made or controls: Beneath, BoundedFile, TreeCopy.
///
/// Thin and allocation-light: `dkms status` runs on every hook and shell
/// completion, so these avoid Foundation's FileManager (which stats and
/// bridges far more than is asked).
public enum FS {
    public enum Kind: Equatable { case file, directory, symlink, other }

    public static func lstatInfo(_ path: String) -> stat? {
        var st = Glibc.stat()
        return Glibc.lstat(path, &st) == 0 ? st : nil
    }

    public static func statInfo(_ path: String) -> stat? {
        var st = Glibc.stat()
        return fstatat(AT_FDCWD, path, &st, 0) == 0 ? st : nil
    }

    /// lstat's answer: a link is reported as a link.
    public static func kind(_ path: String) -> Kind? {
        guard let st = lstatInfo(path) else { return nil }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        default: return .other
        }
    }

    /// `followLinks: false`: a dangling link exists (lstat).
    public static func exists(_ path: String, followLinks: Bool = true) -> Bool {
        followLinks ? access(path, F_OK) == 0 : lstatInfo(path) != nil
    }

    public static func isDirectory(_ path: String) -> Bool {
        guard let st = statInfo(path) else { return false }
        return (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func isRegularFile(_ path: String) -> Bool {
        guard let st = statInfo(path) else { return false }
        return (st.st_mode & S_IFMT) == S_IFREG
    }

    public static func isSymlink(_ path: String) -> Bool { kind(path) == .symlink }

    /// Fully resolved path (readlink -f); nil when a component is missing.
    public static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    /// The target of the link `path`, as bytes; nil with errno.
    public static func linkTarget(_ path: String) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = buf.withUnsafeMutableBufferPointer { p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { readlink(path, $0, p.count - 1) }
        }
        guard n >= 0 else { return nil }
        return Array(buf[0..<n])
    }

    public static func readLink(_ path: String) -> String? {
        linkTarget(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Names in the directory `path` (without "." and ".."), unsorted; nil
    /// with errno when it cannot be opened.
    public static func listing(_ path: String) -> [String]? {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        return Directory.names(fd: fd)
    }

    /// `listing`, empty where there is no directory to list.
    public static func list(_ path: String) -> [String] { listing(path) ?? [] }

    public static func errnoText(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }
}
