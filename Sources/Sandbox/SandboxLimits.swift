// Resource limits of one sandboxed run, loaded from the JSON file that sits next to a seccomp
// profile (e.g. sandbox-profiles/kbuild.limits.json). Research note §3.6.
//
// Keys (all optional, unknown keys rejected, `comment` allowed):
//   memoryBytes, pids, cpuSeconds, fileSizeBytes, openFiles, wallClockSeconds,
//   noOutputSeconds, tmpfsBytes

import Foundation

public struct SandboxLimits: Equatable, Sendable {
    /// cgroup memory limit (memory.max / memory.limit_in_bytes, swap disabled). Also caps the
    /// sandbox /tmp, which is tmpfs and charged to the cgroup.
    public var memoryBytes: UInt64
    /// cgroup pids.max. Hitting it is treated as fatal (fork bombs; a legit build would fail anyway).
    public var pids: UInt64
    /// RLIMIT_CPU per process (soft; hard = soft + 10 s so SIGXCPU comes before SIGKILL).
    public var cpuSeconds: UInt64
    /// RLIMIT_FSIZE (single file); SIGXFSZ is reported as .fileSize.
    public var fileSizeBytes: UInt64
    /// RLIMIT_NOFILE.
    public var openFiles: UInt64
    /// Supervisor wall-clock timeout for the whole run.
    public var wallClockSeconds: Double
    /// Supervisor silence timeout: no byte on stdout/stderr for this long kills the run.
    public var noOutputSeconds: Double
    /// Size of the sandbox /tmp tmpfs.
    public var tmpfsBytes: UInt64
    /// Size of the tmpfs holding the writable layer of the build root: a
    /// build cannot fill the host's disk, only this (charged to its memory).
    public var buildRootBytes: UInt64 = 8 << 30
    /// false: enforce memory and process limits with rlimits alone (RLIMIT_AS,
    /// RLIMIT_NPROC), skipping the cost of a cgroup for quick runs.
    public var useCgroups = true

    public init(memoryBytes: UInt64 = 4 << 30, pids: UInt64 = 1024, cpuSeconds: UInt64 = 3600,
                fileSizeBytes: UInt64 = 1 << 30, openFiles: UInt64 = 4096, wallClockSeconds: Double = 3600,
                noOutputSeconds: Double = 1200, tmpfsBytes: UInt64 = 2 << 30) {
        self.memoryBytes = memoryBytes
        self.pids = pids
        self.cpuSeconds = cpuSeconds
        self.fileSizeBytes = fileSizeBytes
        self.openFiles = openFiles
        self.wallClockSeconds = wallClockSeconds
        self.noOutputSeconds = noOutputSeconds
        self.tmpfsBytes = tmpfsBytes
    }

    /// Defaults sized for zfs/nvidia-class module builds.
    public static let kbuildDefault = SandboxLimits()

    public static func load(path: String) throws -> SandboxLimits {
        try parse(SandboxError.contents(of: path))
    }

    public static func parse(_ data: Data) throws -> SandboxLimits {
        let r = try JSONObjectReader(JSONParser.parse(data), context: "limits",
                                     allowedKeys: ["memoryBytes", "pids", "cpuSeconds", "fileSizeBytes", "openFiles",
                                                   "wallClockSeconds", "noOutputSeconds", "tmpfsBytes", "buildRootBytes", "useCgroups", "comment"])
        var l = SandboxLimits()
        if let v = try r.uint64("memoryBytes") { l.memoryBytes = v }
        if let v = try r.uint64("pids") { l.pids = v }
        if let v = try r.uint64("cpuSeconds") { l.cpuSeconds = v }
        if let v = try r.uint64("fileSizeBytes") { l.fileSizeBytes = v }
        if let v = try r.uint64("openFiles") { l.openFiles = v }
        if let v = try seconds(r, "wallClockSeconds") { l.wallClockSeconds = v }
        if let v = try seconds(r, "noOutputSeconds") { l.noOutputSeconds = v }
        if let v = try r.uint64("tmpfsBytes") { l.tmpfsBytes = v }
        if let v = try r.uint64("buildRootBytes") { l.buildRootBytes = v }
        if let v = r.raw("useCgroups") {
            switch v {
            case .bool(let b): l.useCgroups = b
            default: throw SandboxError.invalidProfile("limits.useCgroups: expected true or false")
            }
        }
        for (name, v) in [("memoryBytes", l.memoryBytes), ("pids", l.pids), ("cpuSeconds", l.cpuSeconds),
                          ("fileSizeBytes", l.fileSizeBytes), ("openFiles", l.openFiles), ("tmpfsBytes", l.tmpfsBytes),
                          ("buildRootBytes", l.buildRootBytes)] where v == 0 {
            throw SandboxError.invalidProfile("limits.\(name) must be > 0")
        }
        return l
    }

    /// Seconds may be fractional (tests use sub-second timeouts); parsed from the literal text.
    private static func seconds(_ r: JSONObjectReader, _ key: String) throws -> Double? {
        guard let v = r.raw(key) else { return nil }
        guard case let .number(t) = v, !t.hasPrefix("-"), let d = Double(t), d > 0, d.isFinite else {
            throw SandboxError.invalidProfile("limits.\(key): expected a positive number of seconds")
        }
        return d
    }
}

/// A seccomp profile plus its sibling limits file: the unit the lead's code selects per step
/// ("kbuild", "conf-eval").
public struct SandboxProfile: Sendable {
    public var name: String
    public var seccomp: SeccompProfile
    public var limits: SandboxLimits
    /// Compiled once at load time so a broken profile fails early, not at the first build.
    public let compiled: CompiledSeccomp

    public init(name: String, seccomp: SeccompProfile, limits: SandboxLimits) throws {
        self.name = name
        self.seccomp = seccomp
        self.limits = limits
        self.compiled = try SeccompCompiler.compile(seccomp)
    }

    public static func load(seccompJSON: String, limitsJSON: String) throws -> SandboxProfile {
        let name = URL(fileURLWithPath: seccompJSON).deletingPathExtension().lastPathComponent
        return try SandboxProfile(name: name, seccomp: SeccompProfile.load(path: seccompJSON),
                                  limits: SandboxLimits.load(path: limitsJSON))
    }

    public static func load(seccompJSON: URL, limitsJSON: URL) throws -> SandboxProfile {
        try load(seccompJSON: seccompJSON.path, limitsJSON: limitsJSON.path)
    }
}
