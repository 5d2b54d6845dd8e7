import Glibc

/// A file module code made or shipped, read the one way the supervisor
/// reads such files: opened without following a link, a regular file with
/// one link, its size checked against a cap *before* anything is read, read
/// through the descriptor that was checked. Built modules (ModuleCheck),
/// POST_BUILD's files (PostBuildOutputs), Module.symvers, dkms.conf and the
/// copied source all come through here; each words the problems its own way
/// or with `message(_:what:)`.
public enum BoundedFile {
    public enum Problem: Error, Equatable {
        case symlink
        case openFailed(String)
        case statFailed(String)
        case notRegular
        case hardLinks(UInt)
        case tooLarge(Int)
        case shortRead
        /// A path outside the root it was to be read beneath.
        case escapes
        /// Nothing there (ENOENT).
        case missing

        public static func opening(_ e: Int32) -> Problem {
            switch e {
            case ELOOP: return .symlink
            case EXDEV: return .escapes
            case ENOENT: return .missing
            default: return .openFailed(String(cString: strerror(e)))
            }
        }

        /// "is larger than the 1048576-byte limit for a dkms.conf", ... (after the file's name).
        public func phrase(what: String) -> String {
            switch self {
            case .symlink: return "is a symbolic link or lies under one"
            case .openFailed(let why): return "cannot be opened (\(why))"
            case .statFailed(let why): return "cannot be examined (\(why))"
            case .notRegular: return "is not a regular file"
            case .hardLinks(let n): return "has \(n) hard links"
            case .tooLarge(let limit): return "is larger than the \(limit)-byte limit for \(what)"
            case .shortRead: return "changed while it was read"
            case .escapes: return "lies outside the directory it was looked for in"
            case .missing: return "does not exist"
            }
        }
    }

    /// Reads `path` (its last component not followed; the directories above
    /// it are the caller's to trust).
    public static func read(_ path: String, limit: Int) -> Result<[UInt8], Problem> {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return .failure(.opening(errno)) }
        defer { close(fd) }
        return read(fd: fd, limit: limit)
    }

    /// The checks and the read on an open descriptor (not closed here).
    public static func read(fd: Int32, limit: Int, requireSingleLink: Bool = true) -> Result<[UInt8], Problem> {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(.statFailed(String(cString: strerror(errno)))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .failure(.notRegular) }
        guard !requireSingleLink || st.st_nlink == 1 else { return .failure(.hardLinks(UInt(st.st_nlink))) }
        guard st.st_size >= 0, Int(st.st_size) <= limit else { return .failure(.tooLarge(limit)) }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + off, $0.count - off, off_t(off)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return .failure(.shortRead) }
            off += n
        }
        // A file that grew after the fstat is not read past its checked size.
        return .success(bytes)
    }

    /// At most the last `limit` bytes of the file open at `fd` (for output
    /// module code wrote: shown or logged, never read whole).
    public static func tail(fd: Int32, limit: Int) -> (bytes: [UInt8], truncated: Bool)? {
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let size = Int(st.st_size), want = min(size, limit)
        var bytes = [UInt8](repeating: 0, count: want)
        var off = 0
        while off < want {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + off, want - off, off_t(size - want + off)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            off += n
        }
        return (Array(bytes[0..<off]), size > limit)
    }

    /// `tail(fd:limit:)` of a path (its last component not followed).
    public static func tail(_ path: String, limit: Int) -> (bytes: [UInt8], truncated: Bool)? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return tail(fd: fd, limit: limit)
    }
}
