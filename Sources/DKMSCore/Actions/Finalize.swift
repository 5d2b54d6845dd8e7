import ModuleTools
import Glibc
import BuildCache
import SafeFS

extension Engine {
    /// The last steps of every build, fresh or from the cache: sign (with the
    /// MOK key, outside any sandbox: the private key never meets module code),
    /// compress as the target kernel does, record the manifest, and rename
    /// the staging directory into place.
    func finalize(_ staging: String, _ mv: ModuleVersion, _ target: KernelTarget, _ conf: ModuleConfig) throws {
        let k = target.version, a = target.arch
        let config = target.kernelConfig(cache: context.run.kernelConfigs)
        let decision = prepareSigning(target)
        let compression = CompressionPolicy(override: context.settings.compressModule)
            .method(for: config)
        var manifest = BuildManifest(modules: [])
        for spec in conf.modules {
            let file = staging + "/module/\(spec.destName).ko"
            do {
                if case .sign = decision {
                    // announceSigning named it already, as dkms does, before POST_BUILD.
                    let shown = signedName(mv, spec)
                    // A failed signature is dkms's warning, not an error: the module stays unsigned.
                    if let failure = sign(file, decision: decision, target: target, labels: ResultLabels(module: mv.name, version: mv.version, kernel: k, arch: a)) {
                        out.warn("Failed to sign module '\(shown)'!\n" + failure)
                    }
                }
                if compression != .none { _ = try Compressor().compress(file, as: compression) }
            } catch let e as ToolError {
                throw DKMSError(.badBuildOutput, "Post-processing \(spec.destName).ko for \(k) (\(a)): \(e.description)")
            }
            manifest.modules.append(.init(destName: spec.destName, destLocation: spec.destLocation))
        }
        manifest.dependencies = conf.buildDepends.sorted().map { ($0, dependencyExports($0, target)) }
        manifest.postRemove = (confs.inputs(mv, target), conf.postRemove)
        // dkms's .dep_<module> files: the BUILD_DEPENDS versions this build was made with.
        if conf.rebuildOnDependencyUpdate && !context.invocation.force {
            for dep in conf.buildDepends where NameRules.problem(inComponent: dep) == nil {
                if let dv = latestVersion(of: dep) { try Staging.writeFile(staging + "/.dep_" + dep, Array((dv + "\n").utf8)) }
            }
        }
        try Staging.writeFile(staging + "/log/dkms-swift.manifest", Array(manifest.encoded().utf8))
        chmod(staging, 0o755)
        // Files in module/ were fsynced as they were written; their names once, here.
        let dir = open(staging + "/module", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 { fsync(dir); close(dir) }
        guard rename(staging, tree.baseDir(mv, target.build)) == 0 else {
            throw DKMSError(.badBuildOutput, "do_build: final mv failed (\(errno))")
        }
    }

    /// dkms signs in the build directory and names the module there; ours
    /// signs the checked copy in staging, but the name shown is dkms's.
    func signedName(_ mv: ModuleVersion, _ spec: ModuleSpec) -> String {
        "\(tree.buildDir(mv))/\(spec.builtLocation)\(spec.builtName).ko"
    }

    /// "Signing module ..." for each module, where dkms says it: right after
    /// the build, before POST_BUILD (ours signs later, in finalize).
    func announceSigning(_ mv: ModuleVersion, _ target: KernelTarget, _ conf: ModuleConfig) {
        guard case .sign = prepareSigning(target) else { return }
        for spec in conf.modules { out.line("Signing module \(signedName(mv, spec))") }
    }

    /// Signs with sign-file, or takes the signed bytes from the cache: a
    /// separate step keyed by the unsigned module, the certificate and the
    /// hash, so the build key never depends on the key and the private key
    /// never enters the store (only its public output does).
    /// Returns sign-file's output when it fails (nil when the module is signed).
    func sign(_ file: String, decision: SigningDecision, target: KernelTarget, labels: ResultLabels) -> String? {
        guard case .sign(let tool, _, let cert, let hash) = decision else { return nil }
        func run() -> String? {
            do { try Signer.sign(file, decision: decision) } catch ToolError.commandFailed(_, _, var text) {
                while text.hasSuffix("\n") { text.removeLast() }
                return text
            } catch { return "cannot run \(tool)" }
            return nil
        }
        guard context.usesCache, let store = try? BuildCacheSession.store(context), let unsigned = FS.readFile(file) else {
            return run()
        }
        var h = SHA256()
        for part in [Array("dkms-swift signature 1".utf8), SHA256.hash(bytes: unsigned).bytes,
                     SHA256.hash(bytes: FS.readFile(cert) ?? []).bytes, Array(hash.utf8),
                     SHA256.hash(bytes: FS.readFile(tool) ?? []).bytes] {
            h.update([UInt8(part.count & 0xff), UInt8(part.count >> 8 & 0xff)] + part)
        }
        let key = h.finalize()
        if let files = try? store.lookup(key), let f = files.first {
            let tmp = file + ".signed"
            try? store.copy(f, to: tmp, syncDirectory: false)
            if let signed = FS.readFile(tmp), ModuleSignature.stripped(signed) == unsigned, rename(tmp, file) == 0 { return nil }
            unlink(tmp)
        }
        if let failure = run() { return failure }
        _ = try? store.store(key, files: [(relativePath: CacheCleanup.signedFile, sourcePath: file)], labels: labels)
        return nil
    }

    /// The identity of a module's installed exports for `target`: the digest
    /// of its Module.symvers (empty when none is installed or it exports nothing).
    func dependencyExports(_ name: String, _ target: KernelTarget) -> String {
        guard let dir = FS.realPath(tree.installedLink(name, target.build)) else { return "none" }
        return SHA256.hash(bytes: FS.readFile(dir + "/module/Module.symvers") ?? []).short
    }

    /// After `dep` is (re)installed for `target`: rebuild and reinstall the
    /// installed modules that were built against other exports of it, as
    /// dkms 3.2 does for BUILD_DEPENDS_REBUILD.
    mutating func rebuildDependents(of dep: String, _ target: KernelTarget) throws {
        try rebuildForUpdatedDependencies(target)
        let bt = target.build
        let now = dependencyExports(dep, target)
        for m in tree.modules() where m != dep {
            guard let base = FS.realPath(tree.installedLink(m, bt)),
                  let manifest = BuildManifest.load(base + "/log/dkms-swift.manifest"),
                  let recorded = manifest.dependencies.first(where: { $0.name == dep }),
                  recorded.exports != now else { continue }
            let mv = ModuleVersion(m, String(base.split(separator: "/").dropLast(2).last ?? ""))
            guard tree.isInstalled(mv, bt) else { continue }
            out.line("")
            out.line("Rebuilding module \(mv) due to updated dependencies")
            out.line("")
            try uninstallOne(mv, target)
            try unbuildOne(mv, target, uninstallFirst: false)
            let conf = try buildOne(mv, target)
            try installOne(mv, target, conf: conf)
            try rebuildDependents(of: mv.name, target)
        }
    }

    /// The newest version (sort -V) of `module` in the tree, whatever its state.
    func latestVersion(of module: String) -> String? {
        tree.versions(module).max { VersionOrder.less($0, $1) }
    }

    /// dkms's check_and_rebuild_dependent_modules, after an install for
    /// `target`: every module built for it with BUILD_DEPENDS_REBUILD=yes
    /// (unless --force) whose .dep_<dependency> file is missing or names
    /// another version than the newest in the tree is uninstalled, unbuilt,
    /// built and installed again.
    mutating func rebuildForUpdatedDependencies(_ target: KernelTarget) throws {
        if context.invocation.force { return }
        let bt = target.build
        var toRebuild: [(ModuleVersion, ModuleConfig)] = []
        for m in tree.modules() {
            for mv in tree.added(m) where tree.isBuilt(mv, bt) {
                // Only files that name the directive are evaluated (one sandboxed
                // evaluation per built module and install would be the price otherwise).
                let (path, overrides) = confs.files(mv, target)
                guard ([path] + overrides).contains(where: { f in
                    FS.readFile(f).map { String(decoding: $0, as: UTF8.self).contains("BUILD_DEPENDS_REBUILD") } ?? false
                }) else { continue }
                guard let conf = try? confs.read(mv, target, strict: false),
                      !conf.buildDepends.isEmpty, conf.rebuildOnDependencyUpdate else { continue }
                let base = tree.baseDir(mv, bt)
                let updated = conf.buildDepends.contains { dep in
                    guard NameRules.problem(inComponent: dep) == nil, let now = latestVersion(of: dep) else { return false }
                    let recorded = FS.readText(base + "/.dep_" + dep)?.split(separator: "\n").first.map(String.init)
                    return recorded != now
                }
                if updated { toRebuild.append((mv, conf)) }
            }
        }
        var rebuilt: Set<String> = []
        var cycles: [String] = []
        for (mv, conf) in toRebuild {
            // dkms defers a module whose dependencies were all rebuilt in this pass.
            if conf.buildDepends.allSatisfy({ rebuilt.contains($0) }) { cycles.append("\(mv)"); continue }
            out.line("")
            out.line("Rebuilding module \(mv) due to updated dependencies")
            out.line("")
            if tree.isInstalled(mv, bt) { try uninstallOne(mv, target) }
            try unbuildOne(mv, target, uninstallFirst: false)
            let conf = try buildOne(mv, target)
            try installOne(mv, target, conf: conf)
            rebuilt.insert(mv.name)
        }
        if !cycles.isEmpty {
            out.line("Warning: The following modules could not be rebuilt due to dependency cycles:")
            for c in cycles { out.line("  \(c)") }
        }
    }

    /// mok_signing_key, mok_certificate and sign_file from framework.conf.
    /// The key defaults to <dkms_tree>/mok.key (dkms's /var/lib/dkms/mok.key
    /// for the default tree), so a scratch tree never touches the host's key.
    func signingSettings(_ target: KernelTarget) -> SigningSettings {
        let s = context.settings
        let key = (s.mokSigningKey ?? tree.root + "/mok.key").replacingAll("$kernelver", with: target.version)
        let cert = (s.mokCertificate ?? tree.root + "/mok.pub").replacingAll("$kernelver", with: target.version)
        let tool = (s.signFile ?? distributionSignFile(target.version)).replacingAll("$kernelver", with: target.version)
        return SigningSettings(key: key, certificate: cert, signFile: tool)
    }

}

extension String {
    func replacingAll(_ a: String, with b: String) -> String {
        split(separator: Substring(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}
