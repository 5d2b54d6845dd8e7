import Glibc
import SafeFS

/// SafeFS's tree operations, their failures worded as dkms words them.
public enum Files {
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        do { try FS.makeDirectories(path, mode: mode) } catch let f as IOFailure {
            // Something other than a directory already at `path` itself: dkms's own phrase,
            // not strerror's (mkdir's ENOTDIR below a file keeps strerror's).
            let why = f.errno == ENOTDIR && f.path == path && FS.exists(path, followLinks: false) ? "not a directory" : f.reason
            throw DKMSError(.failure, "Cannot create directory \(f.path): \(why)")
        }
    }

    /// rm -rf, without starting rm: never follows links, stays on the tree.
    public static func removeTree(_ path: String) throws {
        do { try FS.removeTree(path) } catch let f as IOFailure {
            throw DKMSError(.failure, "Cannot remove \(f.path): \(f.reason)")
        }
    }
}

extension Files {
    /// find DIR -type d -empty -delete, without following links.
    public static func removeEmptyDirectories(_ dir: String, keepTop: Bool) {
        guard FS.isDirectory(dir), !FS.isSymlink(dir) else { return }
        for name in FS.list(dir) {
            let p = dir + "/" + name
            if FS.isDirectory(p) && !FS.isSymlink(p) { removeEmptyDirectories(p, keepTop: false) }
        }
        if !keepTop && FS.list(dir).isEmpty { rmdir(dir) }
    }
}
