// The outcome of one sandboxed run.

import Foundation

public enum SandboxLimitKind: String, Equatable, Sendable {
    case memory, pids, cpu, fileSize, wallClock, noOutput
}

public enum SandboxOutcome: Equatable, Sendable {
    /// The command exited normally with this code.
    case exited(Int32)
    /// The command was killed by a seccomp KILL action. The name comes from the kernel's audit
    /// record (e.g. "keyctl", "getpid (ia32)") or is "unknown" when the record was unavailable.
    case killedBySeccomp(String)
    /// A limit stopped the run (cgroup OOM, pids.max, RLIMIT_CPU/FSIZE signal, supervisor timers).
    case limitExceeded(SandboxLimitKind)
    /// The command died from another signal.
    case signaled(Int32)
    /// The sandbox could not be set up, e.g.
    /// "sandbox: mount overlay at /var/lib/dkms/x/1/build: Permission denied".
    case setupFailed(String)
}

public struct SandboxResult: Sendable {
    public var outcome: SandboxOutcome
    /// Raw wait status of the command, if it was reported.
    public var waitStatus: Int32?
    /// Wall-clock duration from spawn to teardown.
    public var duration: Double
    /// Peak memory of the run's cgroup, if known.
    public var peakMemoryBytes: UInt64?
    /// Seccomp kills seen in the kernel log for this run (also those of subprocesses, e.g. a
    /// compiler killed under make), as "name" strings. Only looked up when a SIGSYS death is
    /// visible (the command's signal, or an exit code of 128+SIGSYS from a shell).
    public var seccompViolations: [String]
    /// Last ≤64 KiB of the combined stdout/stderr.
    public var outputTail: String
    /// Degradations (cgroups unavailable, ignored profile architectures, …).
    public var warnings: [String]
    /// How the sandbox was made: user namespace, or (in a chroot) namespaces created as root.
    public var mode: SandboxMode = .userNamespace

    public var succeeded: Bool { outcome == .exited(0) }
}
