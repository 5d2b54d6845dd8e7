import Glibc

/// Creating, renaming and removing, each failure an IOFailure naming the
/// path that failed.
extension FS {
    /// mkdir -p, one prefix at a time from the first component (an existing
    /// prefix is taken as it is, a link included). `durable`: each directory
    /// made has its entry fsynced into its parent, so a file later renamed
    /// into a fresh directory survives a crash along with it (BuildCache's
    /// shards). Fails at the first prefix mkdir refuses, or with ENOTDIR at
    /// `path` when something other than a directory is already there.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755, durable: Bool = false) throws {
        if isDirectory(path) { return }
        var prefix = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + part
            if mkdir(prefix, mode) == 0 {
                if durable { try? syncDirectory(parent(prefix)) }  // best effort: the directory is there
            } else if errno != EEXIST {
                throw IOFailure("mkdir", prefix)
            }
        }
        if !isDirectory(path) { throw IOFailure("mkdir", path, ENOTDIR) }
    }

    /// rm -rf without starting rm: never follows a link (a link is
    /// unlinked), stays on the tree; a missing path is no error.
    public static func removeTree(_ path: String) throws {
        guard let st = lstatInfo(path) else { return }
        if (st.st_mode & S_IFMT) != S_IFDIR {
            if unlink(path) != 0 && errno != ENOENT { throw IOFailure("unlink", path) }
            return
        }
        for name in list(path) { try removeTree(join(path, name)) }
        if rmdir(path) != 0 && errno != ENOENT { throw IOFailure("rmdir", path) }
    }

    /// unlink; a missing file is no error.
    public static func remove(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw IOFailure("unlink", path) }
    }

    public static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw IOFailure("rename", to) }
    }

    /// Makes a rename, link or unlink in `directory` durable. Some file systems
    /// (some FUSE ones, read-only mounts) refuse fsync on a directory: nothing can
    /// be made durable there, so that is no failure; only real I/O errors are.
    public static func syncDirectory(_ directory: String) throws {
        try sync(directory, directory: true)
    }

    /// fsync of a file (its data) or a directory (its entries), opened by path.
    public static func sync(_ path: String, directory: Bool = false) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0))
        guard fd >= 0 else { throw IOFailure("open", path) }
        defer { close(fd) }
        if fsync(fd) != 0 && !(directory && (errno == EINVAL || errno == EROFS)) { throw IOFailure("fsync", path) }
    }

    /// The directory part of `path` ("." for a bare name, "/" for a top-level one).
    public static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let p = String(path[..<slash])
        return p.isEmpty ? "/" : p
    }

    public static func basename(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// `a/b` with exactly one slash between them; a leading slash on `b` is dropped.
    public static func join(_ a: String, _ b: String) -> String {
        if b.isEmpty { return a }
        let bb = b.hasPrefix("/") ? String(b.dropFirst()) : b
        return a.hasSuffix("/") ? a + bb : a + "/" + bb
    }
}
