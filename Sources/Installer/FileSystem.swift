import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SafeFS

/// The transaction's own calls, on top of SafeFS's plain ones (kind, exists,
/// join, parent, list, ...).
///
/// Foundation's FileManager hides which syscall failed and never fsyncs; crash
/// safety depends on exactly which calls happen in which order, so the steps use
/// these instead. Every error names the path and the errno, in the installer's
/// words ("cannot rename to x", "cannot fsync directory").
extension FS {
    static func mode(_ path: String) -> mode_t? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return st.st_mode & 0o7777
    }

    static func fail(_ op: String, _ path: String) -> InstallerError {
        .io(operation: op, path: path, errno: errno)
    }

    /// Copies `source` to a new file `destination` (which must not exist) with exactly
    /// `mode`, and returns the still-open descriptor so the caller can decide when to
    /// fsync (each fsync is a separate fault-injection point). On any write error the
    /// partial destination is unlinked: a half-written file is never left behind.
    static func copyToNewFile(from source: String, to destination: String, mode: mode_t) throws -> Int32 {
        let inFD = open(source, O_RDONLY | O_CLOEXEC)
        guard inFD >= 0 else { throw fail("open for reading", source) }
        defer { close(inFD) }
        let outFD = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard outFD >= 0 else { throw fail("create", destination) }
        func abandon(_ op: String, _ path: String) -> InstallerError {
            let e = fail(op, path)
            close(outFD)
            unlink(destination)
            return e
        }
        // umask may have stripped bits from `mode`; the installed file must carry it exactly.
        guard fchmod(outFD, mode) == 0 else { throw abandon("chmod", destination) }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(inFD, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw abandon("read", source)
            }
            if n == 0 { break }
            var off = 0
            while off < n {
                let w = buffer.withUnsafeBytes { write(outFD, $0.baseAddress! + off, n - off) }
                if w < 0 {
                    if errno == EINTR { continue }
                    throw abandon("write", destination)
                }
                off += w
            }
        }
        return outFD
    }

    /// fsync + close. ENOSPC can surface only here (delayed allocation), so a failure
    /// also unlinks the file.
    static func syncAndClose(_ fd: Int32, path: String) throws {
        if fsync(fd) != 0 {
            let e = fail("fsync", path)
            close(fd)
            unlink(path)
            throw e
        }
        if close(fd) != 0 {
            let e = fail("close", path)
            unlink(path)
            throw e
        }
    }

    /// Makes a rename/link/unlink in `directory` durable.
    static func syncDirectoryIfSupported(_ directory: String) throws {
        do { try syncDirectory(directory) } catch let f as IOFailure {
            throw InstallerError.io(operation: f.operation + " directory", path: f.path, errno: f.errno)
        }
    }

    static func renameEntry(_ from: String, _ to: String) throws {
        do { try rename(from, to) } catch let f as IOFailure { throw InstallerError.io(operation: "rename to \(to)", path: from, errno: f.errno) }
    }

    static func hardLink(_ from: String, _ to: String) throws {
        guard link(from, to) == 0 else { throw fail("link to \(to)", from) }
    }

    static func unlinkIfPresent(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw fail("remove", path) }
    }

    static func symlink(target: String, at path: String) throws {
        guard Glibc.symlink(target, path) == 0 else { throw fail("create symlink", path) }
    }

    static func makeDirectory(_ path: String, mode: mode_t = 0o755) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw fail("create directory", path) }
    }

    /// rmdir that tolerates "already gone" and "not empty": used only where an empty
    /// directory is tidied up and a non-empty one must simply stay.
    static func removeDirectoryIfEmpty(_ path: String) throws {
        if rmdir(path) != 0 && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST {
            throw fail("remove directory", path)
        }
    }

    /// The ancestors of `path` (inclusive) that do not exist yet, outermost first.
    static func missingDirectories(_ path: String) -> [String] {
        var missing: [String] = []
        var p = path
        while !p.isEmpty && p != "/" && !exists(p, followLinks: false) {
            missing.append(p)
            p = parent(p)
        }
        return missing.reversed()
    }

    static func listDirectory(_ path: String) -> [String] { list(path).sorted() }

    /// SafeFS's removeTree; SafeFS names the system call, these messages have always said "remove".
    static func removeTreeReporting(_ path: String) throws {
        do { try removeTree(path) } catch let f as IOFailure {
            throw InstallerError.io(operation: f.operation == "rmdir" ? "remove directory" : "remove", path: f.path, errno: f.errno)
        }
    }

    static func readFileReporting(_ path: String) throws -> [UInt8] {
        do { return try read(path) } catch let f as IOFailure {
            throw InstallerError.io(operation: f.operation == "open" ? "open for reading" : f.operation, path: f.path, errno: f.errno)
        }
    }
}
