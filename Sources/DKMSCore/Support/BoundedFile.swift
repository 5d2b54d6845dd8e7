import Glibc

/// A file module code left behind, read the one way the supervisor reads
/// such files: opened without following a link, a regular file with one
/// link, never more than `limit` bytes, read through the descriptor that
/// was checked. Built modules (ModuleCheck) and POST_BUILD's files
/// (PostBuildOutputs) both come through here; each words the problems its
/// own way.
enum BoundedFile {
    enum Problem: Error {
        case symlink
        case openFailed(String)
        case statFailed(String)
        case notRegular
        case hardLinks(UInt)
        case tooLarge(Int)
        case shortRead
    }

    static func read(_ path: String, limit: Int) -> Result<[UInt8], Problem> {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return .failure(errno == ELOOP ? .symlink : .openFailed(FS.errnoText())) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(.statFailed(FS.errnoText())) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .failure(.notRegular) }
        guard st.st_nlink == 1 else { return .failure(.hardLinks(UInt(st.st_nlink))) }
        guard st.st_size >= 0, Int(st.st_size) <= limit else { return .failure(.tooLarge(limit)) }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + off, $0.count - off, off_t(off)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return .failure(.shortRead) }
            off += n
        }
        return .success(bytes)
    }
}
