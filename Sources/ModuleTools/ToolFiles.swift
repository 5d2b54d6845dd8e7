#if canImport(Glibc)
import Glibc
#endif
import SafeFS

/// The few file calls the tools make beyond SafeFS's plain ones, worded as the
/// installer words its failures ("cannot rename to x"). Not the installer's:
/// the tools must not depend on the transaction module, and they need only
/// this much (writing the MOK key pair durably).
enum ToolFiles {
    static func fail(_ op: String, _ path: String) -> ToolError { .io(operation: op, path: path, errno: errno) }

    /// mkdir -p (mode 0755), outermost missing directory first.
    static func makeDirectories(_ path: String) throws {
        if path.isEmpty || path == "/" || FS.exists(path, followLinks: false) { return }
        try makeDirectories(FS.parent(path))
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw fail("create directory", path) }
    }

    static func rename(_ from: String, _ to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw fail("rename to \(to)", from) }
    }

    /// fsync of an open-by-path file or directory: makes its data, or a rename in it, durable.
    /// tmpfs and some FUSE file systems refuse it for directories, which loses nothing there.
    static func sync(_ path: String, directory: Bool = false) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0))
        guard fd >= 0 else { throw fail(directory ? "open directory" : "open", path) }
        defer { close(fd) }
        if fsync(fd) != 0 && !(directory && (errno == EINVAL || errno == EROFS)) {
            throw fail(directory ? "fsync directory" : "fsync", path)
        }
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        do { return try FS.read(path) } catch let f as IOFailure {
            throw ToolError.io(operation: f.operation == "open" ? "open for reading" : f.operation, path: f.path, errno: f.errno)
        }
    }
}
