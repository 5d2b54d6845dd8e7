import SafeFS
import Glibc

/// The scratch areas a dkms run makes under `<dkms_tree>/.sandbox` (a build's
/// tmpfs, a post_build view, a dkms.conf evaluation) carry their owner in
/// their names: `build-<pid>-<start time>-XXXXXX`. A run ended by SIGKILL (an
/// OOM kill, `systemctl kill`, a power cut mid-build) cannot undo its mount;
/// the next run sees that the owner is gone and undoes it, while the areas of
/// a dkms still running beside it (same pid, same start time) are left alone.
/// The start time guards against a reused pid. Without /proc nothing can be
/// judged, and nothing is swept.
enum StaleScratch {
    static let prefixes = ["build-", "post-", "conf-"]

    /// This process's tag, `<pid>-<start time>`; nil without /proc.
    static let ownTag: String? = tag(of: getpid())

    /// The prefix for a new area of this run: `build-` becomes `build-<tag>-`.
    static func prefix(_ base: String) -> String {
        guard let t = ownTag else { return base }
        return base + t + "-"
    }

    /// Undoes the areas in `root` whose owner is no longer running; returns
    /// the paths undone. Entries not named by a tag (an older dkms's, or
    /// anything else) are left as they are.
    @discardableResult
    static func sweep(_ root: String) -> [String] {
        guard ownTag != nil, let names = FS.listing(root) else { return [] }
        var swept: [String] = []
        for name in names.sorted() {
            guard let owner = owner(of: name), !isRunning(owner) else { continue }
            let path = root + "/" + name
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { continue }
            // A build area is a tmpfs mounted on the directory; the others
            // are plain directories (umount2 fails with EINVAL, harmlessly).
            _ = umount2(path, Int32(MNT_DETACH | UMOUNT_NOFOLLOW))
            if (try? FS.removeTree(path)) != nil { swept.append(path) }
        }
        return swept
    }

    /// `(pid, start time)` from a tagged name; nil for any other name.
    static func owner(of name: String) -> (pid: pid_t, start: UInt64)? {
        guard let base = prefixes.first(where: { name.hasPrefix($0) }) else { return nil }
        let parts = name.dropFirst(base.count).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, let pid = pid_t(parts[0]), pid > 0, let start = UInt64(parts[1]), parts[2].count == 6 else { return nil }
        return (pid, start)
    }

    static func isRunning(_ owner: (pid: pid_t, start: UInt64)) -> Bool {
        guard let t = startTime(of: owner.pid) else { return false }
        return t == owner.start
    }

    static func tag(of pid: pid_t) -> String? {
        startTime(of: pid).map { "\(pid)-\($0)" }
    }

    /// Field 22 of /proc/<pid>/stat (clock ticks since boot), read after the
    /// last ')' since the command name in field 2 may hold spaces and parentheses.
    static func startTime(of pid: pid_t) -> UInt64? {
        guard let bytes = FS.readFile("/proc/\(pid)/stat"),
              let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        // fields[0] is field 3 (state), so field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }
}
