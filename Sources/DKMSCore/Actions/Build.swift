import Glibc
import SafeFS
import Foundation
import BuildCache

extension Engine {
    /// `dkms build`: for each kernel, skip what is built (unless --force),
    /// otherwise build.
    public mutating func build() throws {
        let mv = try moduleToBuild("build")
        for target in context.targets() { try maybeBuild(mv, target) }
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
        cached.prefetchKernelDigest(target)
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
        try tree.requireHeaders(target)
        _ = signing.decision(for: target)
        try BuildDepends(context: context).check(mv, conf, target)

        // Every make of a MAKE chain builds in parallel, not only the first
        // one that gets -jN (jool's MAKE runs three makes in a row).
        let env = variables.variables(mv, target, withoutDebugInfo: conf.strippedOutput)
            + (context.jobs > 1 ? ["MAKEFLAGS=-j\(context.jobs)"] : [])
        let make = variables.makeCommandLine(conf.makeCommand, kernel: k)
        guard context.usesCache else {
            try compile(mv, target, conf, env: env, make: make) { _ in }
            return conf
        }
        var cache = try BuildCacheSession(context)
        let key = try cached.key(&cache, mv, conf, target)
        let labels = ResultLabels(module: mv.name, version: mv.version, kernel: k, arch: a)
        if context.invocation.verbose {
            for c in key.explain() { out.line("  cache key component \(c.component): \(c.digest.prefix(12))") }
        }
        try cache.store.withKeyLock(key) {
            // An entry is restored only when it holds exactly this build's modules.
            if let files = try cache.store.lookup(key) {
                if CachedBuilds.entryHolds(files, conf) {
                    // Ours, not upstream's: with --verbose only (log/dkms-swift.cache says it too).
                    if context.invocation.verbose { out.line("Build cache: hit \(key.short)") }
                    ReplayedProgress(context: context).say(mv, target, conf, make: make)
                    try cached.restore(mv, target, conf, files: files, store: cache.store, key: key)
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

        try PatchOwnership(environment: environment).prepare(conf, buildDir: buildDir, env: env)
        for p in conf.patches {
            if p.contains("/../") || p.hasPrefix("../") || p == ".." {
                throw DKMSError(.badPatch, "Patch \(p) as specified in dkms.conf contains '..' path component.")
            }
            // Looked up beneath the build's layers and the source, through no link.
            let isFile = { (st: stat?) in st.map { ($0.st_mode & S_IFMT) == S_IFREG } ?? false }
            guard isFile(environment.outputStat("\(buildDir)/patches/\(p)")) || isFile(Beneath.lstat(under: source, "patches/\(p)")) else {
                throw DKMSError(.badPatch, "Patch \(p) as specified in dkms.conf cannot be", "found in \(buildDir)/patches/.")
            }
            try loggedStep.run("Applying patch \(p)", "patch -p1 < ./patches/\(shellWord(p))", cwd: buildDir, env: env, logger: logger) { r in
                DKMSError(.patchFailed, "Application of patch \(p) failed\(r.reasonSuffix).", "Consult \(logPath) for more information.")
            }
        }
        try scripts.run(.preBuild, conf.preBuild, mv, target, log: log)

        try loggedStep.run("Building module(s)", make, cwd: buildDir, env: env, logger: logger) { r in
            DKMSError(.buildFailed, "Bad return status for module build on kernel: \(k) (\(a))\(r.reasonSuffix)",
                      "Consult \(logPath) for more information.")
        }

        let staging = try BuildCollection(context: context, environment: environment).collect(mv, target, conf, env: env, logger: logger, logPath: logPath)
        signing.announce(mv, target, conf)
        var postBuildFailure: Error?
        do {
            // POST_BUILD sees the build where dkms has it by then, and what it
            // writes there (zfs: zfs_config.h, Module.symvers) is part of the
            // build, cached with it. A build whose POST_BUILD failed is
            // published, as dkms leaves it, but not cached.
            if !conf.postBuild.isEmpty {
                let published = tree.kernelDir(mv, k) + "/" + a
                try environment.showStaging(staging, at: published)
                do { try scripts.run(.postBuild, conf.postBuild, mv, target, log: log) } catch { postBuildFailure = error }
                for note in environment.takeStaging(staging, at: published) { logger.note(note) }
            }
            if postBuildFailure == nil { try beforePublish(staging) }
            try publication.publish(staging, mv, target, conf)
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

}

