import ModuleTools
import Glibc
import BuildCache
import SafeFS

/// The last steps of every build, fresh or from the cache, on the staging
/// directory that holds its checked modules: what dkms does to a module
/// after make, and the rename that makes the build appear at once.
struct BuildPublication {
    let context: Context
    /// Where the build's dkms.conf inputs are read again for the manifest.
    let confs: ConfReader
    var tree: DKMSTree { context.tree }
    var out: Output { context.output }

    /// Sign (with the MOK key, outside any sandbox: the private key never meets module code),
    /// compress as the target kernel does, record the manifest, and rename
    /// the staging directory into place.
    func publish(_ staging: String, _ mv: ModuleVersion, _ target: KernelTarget, _ conf: ModuleConfig) throws {
        let k = target.version, a = target.arch
        let config = target.kernelConfig(cache: context.run.kernelConfigs)
        let signing = ModuleSigning(context: context)
        let decision = signing.decision(for: target)
        let compression = CompressionPolicy(override: context.settings.compressModule)
            .method(for: config)
        var manifest = BuildManifest(modules: [])
        for spec in conf.modules {
            let file = staging + "/module/\(spec.destName).ko"
            do {
                if case .sign = decision {
                    // ModuleSigning.announce named it already, as dkms does, before POST_BUILD.
                    let shown = signing.shownName(mv, spec)
                    // A failed signature is dkms's warning, not an error: the module stays unsigned.
                    if let failure = signing.sign(file, decision: decision, target: target, labels: ResultLabels(module: mv.name, version: mv.version, kernel: k, arch: a)) {
                        out.warn("Failed to sign module '\(shown)'!\n" + failure)
                    }
                }
                if compression != .none { _ = try Compressor().compress(file, as: compression) }
            } catch let e as ToolError {
                throw DKMSError(.badBuildOutput, "Post-processing \(spec.destName).ko for \(k) (\(a)): \(e.description)")
            }
            manifest.modules.append(.init(destName: spec.destName, destLocation: spec.destLocation))
        }
        manifest.dependencies = conf.buildDepends.sorted().map { ($0, tree.dependencyExports($0, target.build)) }
        manifest.postRemove = (confs.inputs(mv, target), conf.postRemove)
        // dkms's .dep_<module> files: the BUILD_DEPENDS versions this build was made with.
        if conf.rebuildOnDependencyUpdate && !context.invocation.force {
            for dep in conf.buildDepends where NameRules.problem(inComponent: dep) == nil {
                if let dv = tree.latestVersion(of: dep) { try Staging.writeFile(staging + "/.dep_" + dep, Array((dv + "\n").utf8)) }
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
}

extension String {
    func replacingAll(_ a: String, with b: String) -> String {
        split(separator: Substring(a), omittingEmptySubsequences: false).joined(separator: b)
    }
}
