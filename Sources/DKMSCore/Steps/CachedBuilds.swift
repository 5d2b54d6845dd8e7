import BuildCache
import SafeFS
import Glibc

/// A build through the cache: its key, the probe autoinstall schedules by,
/// the restore of a hit and the pins that keep installed builds' entries.
struct CachedBuilds {
    let context: Context
    let environment: BuildEnvironment
    let confs: ConfReader
    var tree: DKMSTree { context.tree }

    /// Starts the kernel tree's digest on other threads (when a key will
    /// need it), so that it overlaps with evaluating dkms.conf.
    func prefetchKernelDigest(_ target: KernelTarget) {
        guard target.hasHeaders && context.usesCache else { return }
        BuildCacheSession.prefetchKernelTreeDigest(target.sourceDir, cacheRoot: BuildCacheSession.root(context), run: context.run)
    }

    /// The cache key of building m/v for `target` with `conf`.
    func key(_ cache: inout BuildCacheSession, _ mv: ModuleVersion, _ conf: ModuleConfig,
             _ target: KernelTarget) throws -> CacheKey {
        let env = BuildVariables(context: context).variables(mv, target, withoutDebugInfo: conf.strippedOutput)
        let make = BuildVariables(context: context).makeCommandLine(conf.makeCommand, kernel: target.version, parallel: false)
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
              let key = try? key(&cache, mv, conf, target) else { return false }
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

    /// A cache hit: the stored modules are copied (and re-verified on the
    /// way) into a staging directory that is renamed into place, exactly
    /// as a fresh build's output would be.
    func restore(_ mv: ModuleVersion, _ target: KernelTarget, _ conf: ModuleConfig,
                 files: [ResultFile], store: CacheStore, key cacheKey: CacheKey) throws {
        let key = cacheKey.short
        let k = target.version, a = target.arch
        let staging = try tree.newStaging(mv, target.build)
        var committed = false
        defer { if !committed { try? Files.removeTree(staging) } }
        for f in files {
            // Files POST_BUILD left beside module/ are kept under a prefix.
            let beside = f.relativePath.hasPrefix(PostBuildOutputs.cachePrefix)
            let name = beside ? String(f.relativePath.dropFirst(PostBuildOutputs.cachePrefix.count)) : f.relativePath
            guard NameRules.problem(inComponent: name) == nil, !(beside && PostBuildOutputs.reserved.contains(name)) else {
                throw DKMSError(.badBuildOutput, "Build cache entry \(key) names a bad file '\(Printable.visible(f.relativePath))'.")
            }
            // BuildPublication fsyncs module/ once, before the staging directory is published.
            let dest = staging + (beside ? "/" : "/module/") + name
            do { try store.copy(f, to: dest, syncDirectory: false) }
            catch { throw DKMSError(.badBuildOutput, "Build cache entry \(key): \(error)") }
            // A restored module passes the checks a fresh one does (ELF for the arch, vermagic).
            if !beside && name.hasSuffix(".ko") {
                let bytes: [UInt8]
                switch BoundedFile.read(dest, limit: ModuleCheck.maxSize) {
                case .success(let b): bytes = b
                case .failure(let p): throw DKMSError(.badBuildOutput, "Build cache entry \(key): \(name) \(p.phrase(what: "a module")).")
                }
                if let problem = ModuleCheck.problem(in: bytes, kernel: k, arch: a) {
                    throw DKMSError(.badBuildOutput, "Build cache entry \(key): \(name) \(problem).")
                }
            }
        }
        try Staging.writeFile(staging + "/log/make.log",
                              Array("DKMS (\(DKMSVersion.string)) make.log for \(mv) for kernel \(k) (\(a))\nRestored from the build cache, key \(key); nothing was compiled.\n".utf8))
        try Staging.writeFile(staging + "/log/dkms-swift.cache", Array("\(cacheKey.hex) hit\n".utf8))
        try BuildPublication(context: context, confs: confs).publish(staging, mv, target, conf)
        committed = true
    }

    /// Whether a cache entry holds exactly this build's modules (each
    /// `<dest>.ko` once, Module.symvers at most, nothing else in module/):
    /// an entry that does not is never restored, the build runs instead.
    static func entryHolds(_ files: [ResultFile], _ conf: ModuleConfig) -> Bool {
        let modules = files.map(\.relativePath).filter { !$0.hasPrefix(PostBuildOutputs.cachePrefix) && $0 != "Module.symvers" }
        return modules.sorted() == conf.modules.map { $0.destName + ".ko" }.sorted()
    }
    /// Installed builds are GC roots: pruning the cache never evicts what
    /// an installed module came from.
    func pin(_ mv: ModuleVersion, _ t: BuildTarget, installed: Bool) {
        let root = BuildCacheSession.root(context)
        guard FS.isDirectory(root), let store = try? BuildCacheSession.store(context) else { return }
        let reference = "\(mv)/\(t.kernel)/\(t.arch)"
        if installed {
            guard let mark = CacheMark.read(tree.logDir(mv, t)), let digest = Digest(hex: mark.key) else { return }
            try? store.pin(digest, by: reference)
        } else {
            try? store.unpin(by: reference)
        }
    }
}
