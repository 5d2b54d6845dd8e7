// Which privilege the sandbox's setup runs with (docs/sandbox.md, "Modes"), and how it is chosen.

import CSandbox
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum SandboxMode: String, Equatable, Sendable, CustomStringConvertible {
    /// A new user namespace whose root is the outside uid/gid (`SandboxSpec.IDMap`); every other
    /// namespace is owned by it. Needs no privilege once the maps are written. The default.
    case userNamespace = "user-namespace"
    /// Where user namespaces are refused (a chroot) but the caller is real root: mount, pid,
    /// net, ipc, uts and cgroup namespaces created as root, the same root filesystem built as
    /// root, then pid 1 and the command become the outside uid/gid with no groups and no
    /// capabilities. Overlay without `userxattr`; no id-mapped lower layers (their mapping needs
    /// a user namespace), root-owned lower layers get their directories in the upper layer
    /// instead (Plan.ownDirectories).
    case rootNamespaces = "root-namespaces"

    public var description: String { rawValue }

    /// The environment switch tests (and admins) can force a mode with when the spec leaves it
    /// open: `CSANDBOX_MODE=root-namespaces` or `user-namespace`.
    public static let environmentKey = "CSANDBOX_MODE"

    /// Errnos with which clone(CLONE_NEWUSER) says "not here" rather than "broken": EPERM (a
    /// chroot, an LSM or seccomp policy), EINVAL, ENOSPC (user.max_user_namespaces=0).
    static let refusals: Set<Int32> = [EPERM, EINVAL, ENOSPC]

    /// Probed once per process: a chroot or a sysctl does not change under a running dkms.
    static let userNamespaceRefusal: Int32 = csb_probe_userns()

    /// The mode a spec asks for: its own, else the environment's, else nil (automatic).
    static func requested(_ spec: SandboxSpec) throws -> SandboxMode? {
        if let m = spec.mode { return m }
        guard let v = ProcessInfo.processInfo.environment[environmentKey], !v.isEmpty, v != "auto" else { return nil }
        guard let m = SandboxMode(rawValue: v) else {
            throw SandboxError.invalidSpec("\(environmentKey)=\(v): expected user-namespace, root-namespaces or auto")
        }
        return m
    }

    /// Automatic: user namespaces where the kernel grants them, else root namespaces when we are
    /// real root, else a clear refusal (never an unconfined run).
    static func resolve(_ spec: SandboxSpec) throws -> SandboxMode {
        let privileged = csb_is_privileged_root() != 0
        if let m = try requested(spec) {
            if m == .rootNamespaces, !privileged {
                throw SandboxError.invalidSpec("the root-namespaces mode needs real root (euid 0 with CAP_SYS_ADMIN)")
            }
            return m
        }
        let refusal = userNamespaceRefusal
        if refusal == 0 { return .userNamespace }
        if privileged { return .rootNamespaces }
        throw SandboxError.namespacesUnavailable("clone user namespace: \(errnoString(refusal)); not root, so no other mode")
    }
}
