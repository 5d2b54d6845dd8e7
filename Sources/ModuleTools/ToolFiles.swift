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
        do { try FS.rename(from, to) } catch let f as IOFailure { throw ToolError.io(operation: "rename to \(to)", path: from, errno: f.errno) }
    }

    /// FS.sync, worded as the installer words it ("cannot fsync directory x").
    static func sync(_ path: String, directory: Bool = false) throws {
        do { try FS.sync(path, directory: directory) } catch let f as IOFailure {
            throw ToolError.io(operation: directory ? f.operation + " directory" : f.operation, path: f.path, errno: f.errno)
        }
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        do { return try FS.read(path) } catch let f as IOFailure {
            throw ToolError.io(operation: f.operation == "open" ? "open for reading" : f.operation, path: f.path, errno: f.errno)
        }
    }
}
