import Sandbox
import SafeFS

/// Chooses where module code runs for this invocation: in the sandbox
/// (the default), or on the host when explicitly asked, with a warning.
public enum EnvironmentChoice {
    public static func make(_ context: Context) throws -> (BuildEnvironment, ConfEvaluator) {
        let inv = context.invocation
        if inv.noSandbox || context.framework["sandbox"] == "no" {
            context.output.warn("the sandbox is turned off (\(inv.noSandbox ? "--no-sandbox" : "sandbox=no in framework.conf")): the module's dkms.conf, Makefile and scripts run unconfined, as root.")
            return (HostBuildEnvironment(), ConfEvaluator(memo: confMemo(context, runner: "host")))
        }
        let profiles = try SandboxProfiles.locate(context)
        let buildName = inv.sandboxProfile ?? context.framework["sandbox_profile"] ?? "kbuild"
        let evalName = context.framework["sandbox_conf_profile"] ?? "conf-eval"
        let build = try profiles.load(buildName)
        let eval = try profiles.load(evalName)
        var headers = context.targets().map(\.sourceDir).filter { FS.isDirectory($0) }
        if let k = inv.kernelSourceDir { headers.append(k) }
        let scratch = context.tree.root + "/.sandbox"
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
