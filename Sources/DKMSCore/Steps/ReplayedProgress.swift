/// What a cache hit says in place of the build it stands in for.
struct ReplayedProgress {
    let context: Context
    var out: Output { context.output }

    /// A cache hit says what dkms says of the build it stands in for: the
    /// steps a successful build of this dkms.conf ran (only a build whose
    /// every step succeeded is cached), then the signing lines. POST_BUILD's
    /// outputs come from the cache, its line is said all the same.
    func say(_ mv: ModuleVersion, _ target: KernelTarget, _ conf: ModuleConfig, make: String) {
        let verbose = context.invocation.verbose
        func step(_ what: String, _ command: String) {
            out.text(verbose ? command + "\n" : what + "...")
            out.line(verbose ? "" : " done.")
        }
        for p in conf.patches { step("Applying patch \(p)", "patch -p1 < ./patches/\(shellWord(p))") }
        if !conf.preBuild.isEmpty { step("Running the pre_build script", conf.preBuild) }
        step("Building module(s)", make)
        ModuleSigning(context: context).announce(mv, target, conf)
        if !conf.postBuild.isEmpty { step("Running the post_build script", conf.postBuild) }
    }
}
