import Sandbox
import BuildCache
import Glibc
import SafeFS

/// Finds and loads the policies in sandbox-profiles/: `<name>.json` (OCI
/// seccomp) with `<name>.limits.json`. Profiles are data a user may tune,
/// so they are looked up where an admin would put them first.
public struct SandboxProfiles {
    public var directory: String

    public static func locate(_ context: Context) throws -> SandboxProfiles {
        var candidates: [String] = []
        if let d = context.settings.sandboxProfilesDir { candidates.append(d) }
        candidates.append(context.configDir + "/sandbox-profiles")
        if let exe = FS.realPath("/proc/self/exe") {
            let dir = String(exe[..<exe.lastIndex(of: "/")!])
            candidates += [dir + "/../share/dkms-swift/sandbox-profiles", dir + "/../../sandbox-profiles",
                           dir + "/../../../sandbox-profiles"]
        }
        candidates.append("/usr/share/dkms-swift/sandbox-profiles")
        for c in candidates where FS.isRegularFile(c + "/kbuild.json") {
            return SandboxProfiles(directory: FS.realPath(c) ?? c)
        }
        throw DKMSError(.failure, "No sandbox profiles found (looked in \(candidates.joined(separator: ", "))).",
                        "Install sandbox-profiles/ or set sandbox_profiles_dir in framework.conf.")
    }

    public func load(_ name: String) throws -> (profile: LazyProfile, identity: String) {
        guard NameRules.problem(inComponent: name) == nil else { throw DKMSError(.failure, "Invalid sandbox profile name '\(name)'.") }
        let seccomp = "\(directory)/\(name).json", limits = "\(directory)/\(name).limits.json"
        guard FS.isRegularFile(seccomp) else { throw DKMSError(.failure, "Sandbox profile \(seccomp) does not exist.") }
        // The cache key covers the policy the build ran under, by content.
        let bytes = (FS.readFile(seccomp) ?? []) + [0] + (FS.readFile(limits) ?? [])
        let profile = LazyProfile {
            do { return try SandboxProfile.load(seccompJSON: seccomp, limitsJSON: limits) } catch {
                throw DKMSError(.failure, "\(seccomp): \(error)")
            }
        }
        return (profile, "sandbox \(name) " + SHA256.hash(bytes: bytes).hex)
    }
}

/// A profile parsed and compiled on first use: a command that runs no
/// module code (a cache hit whose dkms.conf evaluation is replayed) does not
/// compile two seccomp filters (~6 ms). A broken profile fails the first
/// step that would run under it, before anything runs.
public final class LazyProfile {
    private let loader: () throws -> SandboxProfile
    private var loaded: Result<SandboxProfile, Error>?

    init(_ loader: @escaping () throws -> SandboxProfile) { self.loader = loader }

    public func get() throws -> SandboxProfile {
        if loaded == nil { loaded = Result { try loader() } }
        return try loaded!.get()
    }
}
