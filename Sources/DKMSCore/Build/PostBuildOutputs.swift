import Glibc

/// What a POST_BUILD script may leave beside a build. dkms runs it once the
/// build is in `$dkms_tree/<m>/<v>/<k>/<arch>`, and packages write there:
/// zfs-dkms copies its zfs_config.h and Module.symvers next to `module/`,
/// where the packages built against zfs look for them. Here the build is
/// still in staging when POST_BUILD runs, so the script is shown an empty
/// directory of its own at that path (with `module/` read-only inside), and
/// only plain files it wrote at the top level are taken into the build:
/// regular, one link, bounded in size and count, named like a file dkms
/// would keep. Everything else it left is dropped with a note in make.log.
public enum PostBuildOutputs {
    public static let maxFileBytes = 64 << 20
    public static let maxTotalBytes = 256 << 20
    public static let maxFiles = 64

    /// Cache records keep these files beside the modules under this prefix
    /// ("+zfs_config.h"); module names never begin with it.
    public static let cachePrefix = "+"

    /// The names dkms keeps in `<arch>/` itself.
    static let reserved: Set<String> = ["module", "log"]

    /// Copies the acceptable top-level files of `dir` (a directory module
    /// code wrote) into `staging`; returns one line per entry it refused.
    public static func take(from dir: String, into staging: String) -> [String] {
        var notes: [String] = []
        var total = 0, count = 0
        for name in FS.list(dir).sorted() {
            let path = dir + "/" + name
            if reserved.contains(name) || name.hasPrefix(cachePrefix) || NameRules.problem(inComponent: name) != nil {
                notes.append("POST_BUILD left '\(Printable.visible(name))': not a name dkms keeps beside the build; dropped.")
                continue
            }
            guard count < maxFiles else {
                notes.append("POST_BUILD left more than \(maxFiles) files; '\(Printable.visible(name))' and the rest dropped.")
                break
            }
            switch readBounded(path, limit: min(maxFileBytes, maxTotalBytes - total)) {
            case .failure(let why):
                notes.append("POST_BUILD left '\(Printable.visible(name))', \(why); dropped.")
            case .success(let bytes):
                do {
                    try Staging.writeFile(staging + "/" + name, bytes)
                    total += bytes.count
                    count += 1
                } catch {
                    notes.append("POST_BUILD left '\(Printable.visible(name))': \(error); dropped.")
                }
            }
        }
        return notes
    }

    enum Read { case success([UInt8]), failure(String) }

    /// A regular file with one link, read through a descriptor that was
    /// opened without following links, never more than `limit` bytes.
    static func readBounded(_ path: String, limit: Int) -> Read {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return .failure(errno == ELOOP ? "which is a symbolic link" : "which cannot be read (\(FS.errnoText()))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure("which cannot be read (\(FS.errnoText()))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .failure("which is not a regular file") }
        guard st.st_nlink == 1 else { return .failure("which has \(st.st_nlink) hard links") }
        guard st.st_size >= 0, Int(st.st_size) <= limit else { return .failure("which is larger than \(limit) bytes") }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + off, $0.count - off, off_t(off)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return .failure("which changed while it was read") }
            off += n
        }
        return .success(bytes)
    }
}
