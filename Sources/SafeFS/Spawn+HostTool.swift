/// The host tools dkms runs for itself (modinfo, tar, depmod, a compressor).
extension Spawn {
    /// Fixed PATH and locale, so that the caller's shell setup cannot
    /// substitute tools or change their output.
    public static let baseEnvironment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "LANG=C", "HOME=/root"]

    /// `argv` with `baseEnvironment`, stdout and stderr captured, a program
    /// that cannot be started reported as status 127.
    public static func hostTool(_ argv: [String], cwd: String? = nil) -> Result {
        Spawn(argv, environment: baseEnvironment, cwd: cwd).runReportingFailure()
    }
}
