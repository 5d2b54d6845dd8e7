import Glibc
import SafeFS
import Foundation
import BuildCache

extension Engine {
    /// `dkms build`: for each kernel, skip what is built (unless --force),
    /// otherwise build.
    public mutating func build() throws {
        if context.invocation.all { throw DKMSError(.allUnsupported, "The action build does not support the --all parameter.") }
        if let path = context.invocation.sourcePath, context.invocation.module == nil { try addSourceTree(path) }
        let mv = try requireModuleArgs("build")
        if tree.isBroken(mv) { try requireAdded(mv) }
        for target in context.targets() {
            try maybeBuild(mv, target)
        }
    }

    mutating func maybeBuild(_ mv: ModuleVersion, _ target: KernelTarget) throws {
        if tree.isBuilt(mv, target.build) {
            if context.invocation.force {
                try unbuildOne(mv, target, uninstallFirst: false)
            } else {
                out.line("Module \(mv) already built for kernel \(target.version) (\(target.arch)), skip. You may override by specifying --force.")
                return
            }
        }
        try buildOne(mv, target)
    }

    /// One build, in dkms 3.2's order, with its messages and exit codes.
    /// Builds m/v for `target` (or restores it from the cache); returns the
    /// evaluated dkms.conf, which the install that follows takes as it is.
    @discardableResult
    mutating func buildOne(_ mv: ModuleVersion, _ target: KernelTarget) throws -> ModuleConfig {
        prefetchKernelDigest(target)
        if !tree.isAdded(mv) {
            try addModule(mv, beforeBuild: true)
            out.line("")
        }
        let k = target.version, a = target.arch
        let base = tree.baseDir(mv, target.build)
        if FS.exists(base) {
            throw DKMSError(.alreadyInTree, "This module/version has already been built on: \(k)",
                            "Directory \(base) already exists. Use the dkms remove function before trying to build again.")
        }
        let conf = try confs.read(mv, target)
        if conf.buildExclusion != nil {
            out.warn("The \(base)/dkms.conf\nfor module \(mv) includes BUILD_EXCLUSIVE directives\nwhich do not match this kernel/arch/config for any modules.\nThis indicates that it should not be built.")
            throw DKMSError(.buildExclusiveSkip, lines: [])
        }
        let source = tree.sourceLink(mv)
        if FS.list(source).count < 2 {
            throw DKMSError(.noModuleSource, "The directory \(source) does not appear to have module source located within it.", "Build halted.")
        }
        try requireHeaders(target)
        _ = prepareSigning(target)
        try checkBuildDepends(mv, conf, target)

        // Every make of a MAKE chain builds in parallel, not only the first
        // one that gets -jN (jool's MAKE runs three makes in a row).
        let env = buildEnvironmentVariables(mv, target, withoutDebugInfo: conf.strippedOutput)
            + (context.jobs > 1 ? ["MAKEFLAGS=-j\(context.jobs)"] : [])
        let make = makeCommandLine(conf.makeCommand, kernel: k)
        guard context.usesCache else {
            try compile(mv, target, conf, env: env, make: make) { _ in }
            return conf
        }
        var cache = try BuildCacheSession(context)
        let key = try cacheKey(&cache, mv, conf, target)
        let labels = ResultLabels(module: mv.name, version: mv.version, kernel: k, arch: a)
        if context.invocation.verbose {
            for c in key.explain() { out.line("  cache key component \(c.component): \(c.digest.prefix(12))") }
        }
        try cache.store.withKeyLock(key) {
            // An entry is restored only when it holds exactly this build's modules.
            if let files = try cache.store.lookup(key) {
                if Self.entryHolds(files, conf) {
                    // Ours, not upstream's: with --verbose only (log/dkms-swift.cache says it too).
                    if context.invocation.verbose { out.line("Build cache: hit \(key.short)") }
                    replayProgress(mv, target, conf, make: make)
                    try restore(mv, target, conf, files: files, store: cache.store, key: key)
                    return
                }
                if context.invocation.verbose { out.line("Build cache: entry \(key.short) does not hold this build's modules") }
            }
            if context.invocation.verbose { out.line("Build cache: miss \(key.short)") }
            try compile(mv, target, conf, env: env, make: make) { staging in
                // The cache keeps what the build made: stripped, unsigned, uncompressed.
                let moduleDir = staging + "/module"
                var outputs = FS.list(moduleDir).sorted().map { (relativePath: $0, sourcePath: moduleDir + "/" + $0) }
                // What POST_BUILD left beside module/ (PostBuildOutputs).
                for name in FS.list(staging).sorted() where name != "module" && name != "log" && FS.isRegularFile(staging + "/" + name) {
                    outputs.append((relativePath: PostBuildOutputs.cachePrefix + name, sourcePath: staging + "/" + name))
                }
                try cache.store.store(key, files: outputs, labels: labels)
                try Staging.writeFile(staging + "/log/dkms-swift.cache", Array("\(key.hex) miss\n".utf8))
            }
        }
        return conf
    }

    /// Starts the kernel tree's digest on other threads (when a key will
    /// need it), so that it overlaps with evaluating dkms.conf.
    func prefetchKernelDigest(_ target: KernelTarget) {
        guard target.hasHeaders && context.usesCache else { return }
        BuildCacheSession.prefetchKernelTreeDigest(target.sourceDir, cacheRoot: BuildCacheSession.root(context), run: context.run)
    }

    /// The cache key of building m/v for `target` with `conf`.
    func cacheKey(_ cache: inout BuildCacheSession, _ mv: ModuleVersion, _ conf: ModuleConfig,
                  _ target: KernelTarget) throws -> CacheKey {
        let env = buildEnvironmentVariables(mv, target, withoutDebugInfo: conf.strippedOutput)
        let make = makeCommandLine(conf.makeCommand, kernel: target.version, parallel: false)
        return try cache.key(.init(sourceDir: tree.sourceLink(mv), config: conf, target: target, makeCommand: make,
                                   environment: env, profile: environment.profileIdentity,
                                   dependencyOutputs: dependencyOutputs(conf, target), dkmsTree: tree.root,
                                   sourceTree: tree.sourceTree, installTree: tree.installTree),
                             kernelDigests: context.run)
    }

    /// Whether building m/v for `target` would be a cache hit (nothing is
    /// removed or counted: a probe for scheduling).
    func wouldHit(_ mv: ModuleVersion, _ conf: ModuleConfig, _ target: KernelTarget) -> Bool {
        guard context.usesCache, FS.isDirectory(BuildCacheSession.root(context)),
              var cache = try? BuildCacheSession(context),
              let key = try? cacheKey(&cache, mv, conf, target) else { return false }
        return cache.store.hasRecord(key)
    }

    /// Module.symvers of the installed BUILD_DEPENDS: a dependency rebuilt
    /// with other exports makes this build's output different.
    func dependencyOutputs(_ conf: ModuleConfig, _ target: KernelTarget) -> [String] {
        conf.buildDepends.sorted().compactMap { dep in
            guard let link = FS.realPath(tree.installedLink(dep, target.build)) else { return nil }
            let symvers = link + "/module/Module.symvers"
            return FS.exists(symvers) ? symvers : nil
        }
    }

    /// The build proper: prepare the build area, patch, PRE_BUILD, make,
    /// collect, POST_BUILD.
    mutating func compile(_ mv: ModuleVersion, _ target: KernelTarget, _ conf: ModuleConfig,
                          env: [String], make: String, beforePublish: (String) throws -> Void) throws {
        let k = target.version, a = target.arch
        let source = tree.sourceLink(mv)
        let buildDir = tree.buildDir(mv)
        try environment.prepare(sourceDir: source, buildDir: buildDir)
        // Dependencies' tree entries (and through them their sources), read-only.
        // A module that names itself (a --force build of a circular BUILD_DEPENDS) has its own tree already.
        for dep in conf.buildDepends where dep != mv.name && NameRules.problem(inComponent: dep) == nil && FS.isDirectory(tree.moduleDir(dep)) {
            environment.exposeReadOnly(tree.moduleDir(dep))
            for dv in tree.versions(dep) {
                if let real = FS.realPath(tree.sourceLink(ModuleVersion(dep, dv))) { environment.exposeReadOnly(real) }
            }
        }
        // A failed build keeps its make.log (in the build directory) but
        // not its build area.
        var built = false
        defer { if !built { environment.teardown(buildDir: buildDir) } }
        let logPath = buildDir + "/make.log"
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard log >= 0 else { throw DKMSError(.failure, "Cannot write \(logPath): \(FS.errnoText())") }
        defer { close(log) }
        let logger = BuildLog(fd: log, path: logPath)
        logger.header("DKMS (\(DKMSVersion.string)) make.log for \(mv) for kernel \(k) (\(a))")

        try ownPatchedFiles(conf, buildDir: buildDir, env: env)
        for p in conf.patches {
            if p.contains("/../") || p.hasPrefix("../") || p == ".." {
                throw DKMSError(.badPatch, "Patch \(p) as specified in dkms.conf contains '..' path component.")
            }
            // Looked up beneath the build's layers and the source, through no link.
            let isFile = { (st: stat?) in st.map { ($0.st_mode & S_IFMT) == S_IFREG } ?? false }
            guard isFile(environment.outputStat("\(buildDir)/patches/\(p)")) || isFile(Beneath.lstat(under: source, "patches/\(p)")) else {
                throw DKMSError(.badPatch, "Patch \(p) as specified in dkms.conf cannot be", "found in \(buildDir)/patches/.")
            }
            try logged("Applying patch \(p)", "patch -p1 < ./patches/\(shellWord(p))", cwd: buildDir, env: env, logger: logger) { r in
                DKMSError(.patchFailed, "Application of patch \(p) failed\(self.reasonSuffix(r)).", "Consult \(logPath) for more information.")
            }
        }
        try runScript(.preBuild, conf.preBuild, mv, target, log: log)

        try logged("Building module(s)", make, cwd: buildDir, env: env, logger: logger) { r in
            DKMSError(.buildFailed, "Bad return status for module build on kernel: \(k) (\(a))\(self.reasonSuffix(r))",
                      "Consult \(logPath) for more information.")
        }

        let staging = try collect(mv, target, conf, env: env, logger: logger, logPath: logPath)
        announceSigning(mv, target, conf)
        var postBuildFailure: Error?
        do {
            // POST_BUILD sees the build where dkms has it by then, and what it
            // writes there (zfs: zfs_config.h, Module.symvers) is part of the
            // build, cached with it. A build whose POST_BUILD failed is
            // published, as dkms leaves it, but not cached.
            if !conf.postBuild.isEmpty {
                let published = tree.kernelDir(mv, k) + "/" + a
                try environment.showStaging(staging, at: published)
                do { try runScript(.postBuild, conf.postBuild, mv, target, log: log) } catch { postBuildFailure = error }
                for note in environment.takeStaging(staging, at: published) { logger.note(note) }
            }
            if postBuildFailure == nil { try beforePublish(staging) }
            try finalize(staging, mv, target, conf)
        } catch {
            try? Files.removeTree(staging)
            throw error
        }
        if let postBuildFailure {
            _ = rename(logPath, tree.logDir(mv, target.build) + "/make.log")
            throw postBuildFailure
        }
        _ = rename(logPath, tree.logDir(mv, target.build) + "/make.log")
        built = true
        environment.teardown(buildDir: buildDir)
        try Files.makeDirectories(buildDir)
    }

    /// `make` at the start of the command becomes `make -jN KERNELRELEASE=K`.
    /// `parallel: false` leaves out -jN: the cache key must not depend on it
    /// (the job count does not change the output).
    func makeCommandLine(_ command: String, kernel: String, parallel: Bool = true) -> String {
        guard command == "make" || command.hasPrefix("make ") else { return command }
        let jobs = !parallel ? "" : context.jobs == 0 ? "-j " : "-j\(context.jobs) "
        return "make \(jobs)KERNELRELEASE=\(kernel)" + command.dropFirst(4)
    }

    /// Runs one logged step with dkms 3.2's "<what>... done." progress text.
    func logged(_ what: String, _ command: String, cwd: String, env: [String], logger: BuildLog,
                failure: (StepOutcome) -> DKMSError) throws {
        out.text(context.invocation.verbose ? Printable.visible(command) + "\n" : "\(what)...")
        let started = Date()
        logger.begin(what, command: command)
        let r = environment.run(command, cwd: cwd, environment: env, log: logger.fd)
        logger.end(r, elapsed: Date().timeIntervalSince(started))
        if r.succeeded {
            out.line(context.invocation.verbose ? "" : " done.")
            return
        }
        out.line("(bad exit status: \(r.exitStatus))")
        if !context.invocation.verbose { out.line("Failed command:"); out.line(Printable.visible(command)) }
        if case .killed(let why, _) = r { out.errorLine("sandbox: \(why)") }
        // dkms says only where make.log is; --verbose shows its last lines too.
        if context.invocation.verbose { logger.showTail(out: out) }
        throw failure(r)
    }

    func checkBuildDepends(_ mv: ModuleVersion, _ conf: ModuleConfig, _ target: KernelTarget) throws {
        let missing = conf.buildDepends.filter { dep in
            !tree.versions(dep).contains { tree.isInstalled(ModuleVersion(dep, $0), target.build) }
        }
        guard !missing.isEmpty else { return }
        let list = missing.map { " " + $0 }.joined()
        if context.invocation.force {
            out.warn("Trying to build module \(mv) for kernel \(target.version) (\(target.arch)) despite of missing BUILD_DEPENDS:\(list).")
        } else {
            throw DKMSError(.missingBuildDepends, "Aborting build of module \(mv) for kernel \(target.version) (\(target.arch)) due to missing BUILD_DEPENDS:\(list).",
                            "You may override by specifying --force.")
        }
    }
}

