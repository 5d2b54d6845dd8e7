// Typed errors thrown BEFORE the sandboxed command runs. Failures inside the sandbox's setup are
// not thrown; they come back as `SandboxResult.outcome == .setupFailed(message)`.

public enum SandboxError: Error, Equatable, CustomStringConvertible {
    /// Malformed JSON text (profile or limits file).
    case invalidJSON(String)
    /// Well-formed JSON that is not a valid profile / limits object (unknown key, wrong type…).
    case invalidProfile(String)
    /// The profile is valid OCI but libseccomp would mis-compile it or cannot express it
    /// (shadowed rules, mixed-index argument lists, unknown names in deny rules, …).
    case seccompCompile(String)
    /// The spec itself is unusable (empty argv, relative paths, …).
    case invalidSpec(String)
    /// An I/O error outside the sandbox (reading a profile, opening the log file, …).
    case io(path: String, errno: Int32)
    /// csb_spawn() failed in the parent (clone, id maps, cgroup placement).
    case spawnFailed(step: String, errno: Int32)
    /// No namespace can be made at all (e.g. a container whose seccomp policy refuses clone
    /// with namespace flags): the detail names the refused call. Callers add how to opt out.
    case namespacesUnavailable(String)
    /// A caller-supplied host path the sandbox cannot use, naming the directory and why
    /// ("/x is not searchable by the sandbox's uid 2000000000 (mode 0700, owner 0)").
    case unreachable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidJSON(m): return "sandbox: invalid JSON: \(m)"
        case let .invalidProfile(m): return "sandbox: invalid profile: \(m)"
        case let .seccompCompile(m): return "sandbox: seccomp profile rejected: \(m)"
        case let .invalidSpec(m): return "sandbox: invalid spec: \(m)"
        case let .io(path, e): return "sandbox: \(path): \(errnoString(e))"
        case let .spawnFailed(step, e): return "sandbox: \(step): \(errnoString(e))"
        case let .namespacesUnavailable(detail): return "sandbox: cannot create namespaces (\(detail))"
        case let .unreachable(path, reason): return "sandbox: cannot use \(path): \(reason)"
        }
    }
}

func errnoString(_ e: Int32) -> String {
    String(cString: strerror(e))
}

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SafeFS

extension SandboxError {
    /// A profile or limits file, whole: the administrator's configuration,
    /// read with SafeFS's one whole-file read; a failure is `.io` naming it.
    static func contents(of path: String) throws -> Data {
        do { return Data(try FS.read(path)) } catch let f as IOFailure { throw SandboxError.io(path: path, errno: f.errno) }
    }
}
