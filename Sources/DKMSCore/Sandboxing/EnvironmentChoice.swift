import Sandbox
import SafeFS

/// Chooses where module code runs for this invocation: in the sandbox
/// (the default), or on the host when explicitly asked, with a warning.
public enum EnvironmentChoice {
    public static func make(_ context: Context) throws -> (BuildEnvironment, ConfEvaluator) {
        let inv = context.invocation
        if let why = context.settings.sandboxOffBy {
            context.output.warn("the sandbox is turned off (\(why)): the module's dkms.conf, Makefile and scripts run unconfined, as root.")
            return (HostBuildEnvironment(), ConfEvaluator(memo: confMemo(context, runner: "host")))
        }
        let profiles = try SandboxProfiles.locate(context)
        let build = try profiles.load(context.settings.sandboxProfile)
        let eval = try profiles.load(context.settings.sandboxConfProfile)
        var headers = context.targets().map(\.sourceDir).filter { FS.isDirectory($0) }
        if let k = inv.kernelSourceDir { headers.append(k) }
        let scratch = context.tree.root + "/.sandbox"
        // What a run ended by SIGKILL left there: its mount and files (StaleScratch).
        for path in StaleScratch.sweep(scratch) where context.output.verbose {
            context.output.line("Removed \(path), left by a dkms run that was killed.")
        }
        let env = SandboxBuildEnvironment(profile: build.profile, identity: build.identity, headers: headers,
                                          scratchRoot: scratch, output: context.output, configDir: context.configDir)
        let runner = SandboxedConfRunner(profile: eval.profile, scratchRoot: scratch, configDir: context.configDir, headers: headers)
        return (env, ConfEvaluator(runner: runner.runner, memo: confMemo(context, runner: eval.identity)))
    }

    /// Evaluations of pure dkms.conf files are kept beside the build cache,
    /// and like it, not with --no-cache or cache=no.
    static func confMemo(_ context: Context, runner: String) -> ConfMemo? {
        guard context.usesCache else { return nil }
        let root = BuildCacheSession.root(context)
        // Only a digest this run computes anyway (for a build key): a `dkms add`
        // alone would otherwise walk, or on a cold memo read, the whole tree.
        return ConfMemo(directory: root + "/conf-evals", runner: runner) { [run = context.run] dir in
            guard run.kernelDigests[dir] != nil || run.pendingKernelDigests[dir] != nil else { return nil }
            return try? BuildCacheSession.kernelTreeDigest(dir, cacheRoot: root, run: run)
        }
    }
}
