import Glibc
import SafeFS

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
        // Everything is read beneath the directory's descriptor (Beneath).
        let root = Beneath.openRoot(dir)
        guard root >= 0 else { return ["POST_BUILD's directory cannot be opened: \(FS.errnoText())"] }
        defer { close(root) }
        for name in (Beneath.list(root, "") ?? []).sorted() {
            // The empty directory module/ was shown at inside the sandbox.
            if name == "module", let st = Beneath.lstat(root, name), (st.st_mode & S_IFMT) == S_IFDIR,
               Beneath.list(root, name)?.isEmpty == true { continue }
            if reserved.contains(name) || name.hasPrefix(cachePrefix) || NameRules.problem(inComponent: name) != nil {
                notes.append("POST_BUILD left '\(Printable.visible(name))': not a name dkms keeps beside the build; dropped.")
                continue
            }
            guard count < maxFiles else {
                notes.append("POST_BUILD left more than \(maxFiles) files; '\(Printable.visible(name))' and the rest dropped.")
                break
            }
            switch Beneath.read(root, name, limit: min(maxFileBytes, maxTotalBytes - total)) {
            case .failure(let problem):
                notes.append("POST_BUILD left '\(Printable.visible(name))', \(which(problem)); dropped.")
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

    static func which(_ p: BoundedFile.Problem) -> String {
        switch p {
        case .symlink: return "which is a symbolic link"
        case .openFailed(let why), .statFailed(let why): return "which cannot be read (\(why))"
        case .notRegular: return "which is not a regular file"
        case .hardLinks(let n): return "which has \(n) hard links"
        case .tooLarge(let limit): return "which is larger than \(limit) bytes"
        case .shortRead: return "which changed while it was read"
        case .escapes, .missing: return "which is not there"
        }
    }
}
