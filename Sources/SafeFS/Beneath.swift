import Glibc
import CSafeFS

/// Paths resolved beneath a root that module code controls (a build's
/// overlay layers, POST_BUILD's directory, a module source), never following
/// a symbolic link in any component: `openat2` with RESOLVE_BENEATH |
/// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS (Linux 5.6+), and where the
/// kernel has no openat2 (ENOSYS) a descriptor walk, one `openat` with
/// O_NOFOLLOW per component. `..` and absolute paths are refused in both.
///
/// The root itself is named by the supervisor and opened as given; only
/// what lies below it is the module's.
/// Linux's O_PATH (Glibc exports it only with _GNU_SOURCE).
public let O_PATH: Int32 = 0o10000000

public enum Beneath {
    /// DKMS_SWIFT_BENEATH_FALLBACK=1 takes the descriptor walk even where
    /// openat2 exists (tests run both ways; the walk is as strict).
    public static let fallbackOnly: Bool = getenv("DKMS_SWIFT_BENEATH_FALLBACK").map { String(cString: $0) == "1" } ?? false
    /// Set once openat2 said ENOSYS: the walk from then on.
    nonisolated(unsafe) static var noOpenat2 = false

    /// A descriptor (O_PATH) for the directory `path`, the root of later
    /// `open(_:_:_:)` calls; -1 with errno when it is not a directory.
    public static func openRoot(_ path: String) -> Int32 {
        Glibc.open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)
    }

    /// Runs `body` with a root descriptor for `path`, closed afterwards; nil
    /// (errno set) when `path` is no directory.
    public static func withRoot<T>(_ path: String, _ body: (Int32) throws -> T) rethrows -> T? {
        let fd = openRoot(path)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return try body(fd)
    }

    /// The components of a relative path: empty and "." dropped; nil for an
    /// absolute path or one with "..". Split on the byte '/', as the kernel
    /// does: a String split on the Character "/" misses a '/' that a
    /// neighbouring scalar joins into one grapheme ("\u{605}/", found by
    /// dkms-fuzz), which would hand openat a multi-component name.
    public static func components(_ relative: String) -> [String]? {
        let bytes = Array(relative.utf8)
        if bytes.first == UInt8(ascii: "/") { return nil }
        let parts = bytes.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }.filter { $0 != "." }
        return parts.contains("..") ? nil : parts
    }

    /// Opens `relative` beneath the directory `root` with `flags` (O_CLOEXEC
    /// and O_NOFOLLOW are added). -1 with errno: ELOOP for a link in any
    /// component, EXDEV for `..` or an absolute path, as openat2 says.
    public static func open(_ root: Int32, _ relative: String, _ flags: Int32, mode: mode_t = 0) -> Int32 {
        guard components(relative) != nil else { errno = EXDEV; return -1 }
        let flags = flags | O_CLOEXEC | O_NOFOLLOW
        let path = relative.isEmpty ? "." : relative
        var fd: Int32 = -1
        if !fallbackOnly && !noOpenat2 {
            fd = csafefs_openat2_beneath(root, path, flags, mode)
            if fd < 0 && errno == ENOSYS { noOpenat2 = true }
        }
        if fallbackOnly || noOpenat2 { fd = walk(root, relative, flags, mode: mode) }
        if fd >= 0 && flags & O_PATH != 0 {
            // O_PATH | O_NOFOLLOW opens a final link as itself (openat2 too).
            var st = stat()
            if fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK { close(fd); errno = ELOOP; return -1 }
        }
        return fd
    }

    /// The fallback: each directory component opened with O_PATH |
    /// O_NOFOLLOW from the one before and checked to be a directory (a link
    /// opened that way is the link itself: ELOOP), the last with the
    /// caller's flags and O_NOFOLLOW.
    static func walk(_ root: Int32, _ relative: String, _ flags: Int32, mode: mode_t) -> Int32 {
        guard let parts = components(relative) else { errno = EXDEV; return -1 }
        var dir = fcntl(root, F_DUPFD_CLOEXEC, 0)
        guard dir >= 0 else { return -1 }
        defer { close(dir) }
        guard let last = parts.last else { return openat(dir, ".", flags, mode) }
        for part in parts.dropLast() {
            let next = openat(dir, part, O_PATH | O_NOFOLLOW | O_CLOEXEC)
            guard next >= 0 else { return -1 }
            var st = stat()
            guard fstat(next, &st) == 0 else { let e = errno; close(next); errno = e; return -1 }
            let type = st.st_mode & S_IFMT
            guard type == S_IFDIR else { close(next); errno = type == S_IFLNK ? ELOOP : ENOTDIR; return -1 }
            close(dir)
            dir = next
        }
        return openat(dir, last, flags, mode)
    }

    /// lstat of `relative` beneath `root`: its parent resolved beneath
    /// without links, the entry itself not followed (a link is reported as
    /// one). nil with errno when a component is missing or a link.
    public static func lstat(_ root: Int32, _ relative: String) -> stat? {
        guard let parts = components(relative) else { errno = EXDEV; return nil }
        var st = stat()
        guard let last = parts.last else { return fstat(root, &st) == 0 ? st : nil }
        let parent = open(root, parts.dropLast().joined(separator: "/"), O_PATH | O_DIRECTORY)
        guard parent >= 0 else { return nil }
        let rc = fstatat(parent, last, &st, AT_SYMLINK_NOFOLLOW), e = errno
        close(parent)
        errno = e  // callers tell a missing entry (ENOENT) from a refused one
        return rc == 0 ? st : nil
    }

    /// `lstat(_:_:)` beneath the directory `root` (opened as named).
    public static func lstat(under root: String, _ relative: String) -> stat? {
        withRoot(root) { lstat($0, relative) } ?? nil
    }

    /// The names in the directory `relative` beneath `root` (without "."
    /// and ".."), unsorted; nil with errno when it is not reachable so.
    public static func list(_ root: Int32, _ relative: String) -> [String]? {
        let fd = open(root, relative, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return nil }
        return Directory.names(fd: fd)
    }

    /// The bytes of the regular file `relative` beneath `root` (BoundedFile's
    /// checks: one link, at most `limit` bytes).
    public static func read(_ root: Int32, _ relative: String, limit: Int) -> Result<[UInt8], BoundedFile.Problem> {
        let fd = open(root, relative, O_RDONLY | O_NONBLOCK)
        guard fd >= 0 else { return .failure(BoundedFile.Problem.opening(errno)) }
        defer { close(fd) }
        return BoundedFile.read(fd: fd, limit: limit)
    }

    /// An absolute path split into a root the supervisor names and the part
    /// below it the module controls: reads `path` with every component below
    /// `root` resolved beneath it.
    public static func read(path: String, under root: String, limit: Int) -> Result<[UInt8], BoundedFile.Problem> {
        guard let relative = relative(path, to: root) else { return .failure(.escapes) }
        return withRoot(root) { read($0, relative, limit: limit) } ?? .failure(.opening(errno))
    }

    /// `path` relative to `root` ("" for the root itself), nil when it is
    /// not below it; compared byte for byte (String comparison would take
    /// canonically equivalent spellings as one path).
    public static func relative(_ path: String, to root: String) -> String? {
        var r = Array(root.utf8)
        if r.count > 1, r.last == UInt8(ascii: "/") { r.removeLast() }
        let p = Array(path.utf8)
        if p == r { return "" }
        let prefix = r == [UInt8(ascii: "/")] ? r : r + [UInt8(ascii: "/")]
        guard p.count > prefix.count, Array(p[0..<prefix.count]) == prefix else { return nil }
        return String(decoding: p[prefix.count...], as: UTF8.self)
    }
}

/// Reading a directory through a descriptor.
public enum Directory {
    /// Names in the directory open at `fd` (which is consumed and closed).
    public static func names(fd: Int32) -> [String]? {
        guard let d = fdopendir(fd) else { let e = errno; close(fd); errno = e; return nil }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
