// What to run and what it may see. A plain value; `Sandbox.run` turns it into the flat plan the
// C core executes.

import Foundation

public struct SandboxSpec: Sendable {
    /// One filesystem entry of the sandbox, in addition to the fixed base system
    /// (read-only /usr and merged-usr links, minimal /etc, /dev, /proc, /tmp).
    public enum Mount: Equatable, Sendable {
        /// Recursive, read-only, nosuid, nodev bind of a host path.
        case readOnlyBind(source: String, target: String)
        /// Recursive, writable, nosuid, nodev bind of a host path.
        case readWriteBind(source: String, target: String)
        /// overlayfs: `lower` read-only layers (first = topmost), `upper`/`work` on the same host
        /// filesystem and owned by the outside uid (else the merged tree is read-only).
        case overlay(lower: [String], upper: String, work: String, target: String)
        /// A size-capped tmpfs.
        case tmpfs(target: String, sizeBytes: UInt64)
        /// A symbolic link at `target` pointing to `destination` (e.g. an install tree's
        /// `<kernel>/build` link to headers that are already visible read-only).
        case symlink(target: String, destination: String)

        public var target: String {
            switch self {
            case let .readOnlyBind(_, t), let .readWriteBind(_, t), let .overlay(_, _, _, t), let .tmpfs(t, _),
                 let .symlink(t, _): return t
            }
        }
    }

    /// Outside identity of the sandbox. Root inside the user namespace maps to exactly one
    /// outside uid/gid. The default, 2000000000, is a dedicated id: not root, not `nobody`
    /// (65534, shared with host daemons), not in /etc/passwd, far above subuid ranges.
    public struct IDMap: Equatable, Sendable {
        public var outsideUID: UInt32
        public var outsideGID: UInt32
        public init(outsideUID: UInt32 = 2_000_000_000, outsideGID: UInt32 = 2_000_000_000) {
            self.outsideUID = outsideUID
            self.outsideGID = outsideGID
        }
    }

    public var argv: [String]
    /// Complete environment ("KEY=value"). Use `SandboxSpec.environment(_:)` to build it.
    public var env: [String]
    /// Working directory inside the sandbox (e.g. the overlay build dir).
    public var cwd: String
    public var mounts: [Mount]
    /// Kernel header trees (e.g. /lib/modules/<k>/build). Resolved on the host and bound
    /// read-only at their real path unless already covered by the read-only /usr.
    public var headersDirs: [String]
    public var limits: SandboxLimits
    public var profile: SandboxProfile
    public var idMap: IDMap
    public var hostname: String
    /// Attach root-owned overlay lower layers through an id-mapped mount (host root -> the
    /// outside uid/gid), so the build can create files in their subdirectories. When false (or
    /// unsupported), lower layers must be owned by `idMap.outsideUID` to be writable through
    /// the overlay.
    public var idmapRootOwnedLowers: Bool = true
    /// Force a mode (tests; `SandboxMode.environmentKey` does the same from the environment).
    /// nil: the user-namespace mode where the kernel grants one, else the root-namespaces mode
    /// when the caller is real root (a chroot), else `SandboxError.namespacesUnavailable`.
    public var mode: SandboxMode? = nil
    /// Where cgroupfs is mounted (tests point this at the controller-less v2 hierarchy).
    var cgroupRoot: String = "/sys/fs/cgroup"

    public init(argv: [String], env: [String] = SandboxSpec.environment(), cwd: String = "/",
                mounts: [Mount] = [], headersDirs: [String] = [], profile: SandboxProfile,
                limits: SandboxLimits? = nil, idMap: IDMap = IDMap(), hostname: String = "dkms-sandbox") {
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.mounts = mounts
        self.headersDirs = headersDirs
        self.profile = profile
        self.limits = limits ?? profile.limits
        self.idMap = idMap
        self.hostname = hostname
    }

    /// The fixed, scrubbed environment (research §2.5 / §3.7) plus caller-supplied variables
    /// (e.g. kernelver, arch, SOURCE_DATE_EPOCH, KCFLAGS). Extra keys override fixed ones.
    public static func environment(_ extra: [String: String] = [:]) -> [String] {
        var env: [String: String] = [
            "PATH": "/usr/bin:/bin",
            "HOME": "/nonexistent",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "LC_ALL": "C",
            "TZ": "UTC",
        ]
        for (k, v) in extra { env[k] = v }
        return env.keys.sorted().map { "\($0)=\(env[$0]!)" }
    }
}

/// Escape a path for overlayfs' option string: `\`, `,` and `:` are separators there, so an
/// unescaped module name like "foo,upperdir=/x" would inject options (bubblewrap
/// strappend_escape_for_mount_options).
func escapeOverlayPath(_ p: String) -> String {
    var out = ""
    for c in p {
        if c == "\\" || c == "," || c == ":" { out.append("\\") }
        out.append(c)
    }
    return out
}
