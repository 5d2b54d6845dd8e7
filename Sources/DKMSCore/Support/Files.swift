import Glibc
import SafeFS

/// File operations on trees, with dkms-style errors that name the path.
public enum Files {
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        if FS.isDirectory(path) { return }
        var prefix = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + part
            if mkdir(prefix, mode) != 0 && errno != EEXIST {
                throw DKMSError(1, "Cannot create directory \(prefix): \(FS.errnoText())")
            }
        }
        if !FS.isDirectory(path) { throw DKMSError(1, "Cannot create directory \(path): not a directory") }
    }

    /// rm -rf, without starting rm: never follows links, stays on the tree.
    public static func removeTree(_ path: String) throws {
        do { try Plain.removeTree(path) } catch let f as IOFailure {
            throw DKMSError(1, "Cannot remove \(f.path): \(FS.errnoText(f.errno))")
        }
    }
}
