import CSafeFS

/// Mounts the supervisor makes on the host for a build (the tmpfs under its
/// overlay), undone if dkms is ended by SIGTERM, SIGINT, SIGHUP or SIGQUIT, or
/// crashes (a trap, a fault, abort), while they are up (scratch_mounts.c).
/// SIGKILL cannot be caught: what it leaves, the next run sweeps.
public enum ScratchMounts {
    /// Once, at start-up, before any build.
    public static func installSignalHandlers() { csafefs_scratch_install_handlers() }

    /// `path` is mounted; returns the slot to give back to `unregister`.
    public static func register(_ path: String) -> Int32 { csafefs_scratch_register(path) }

    /// `path` was unmounted the normal way.
    public static func unregister(_ slot: Int32) { csafefs_scratch_unregister(slot) }
}
