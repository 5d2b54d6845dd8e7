/// dkms's BUILD_DEPENDS check before a build: each dependency installed for
/// the kernel, or --force to build without (with dkms's warning).
struct BuildDepends {
    let context: Context
    var tree: DKMSTree { context.tree }
    var out: Output { context.output }

    func check(_ mv: ModuleVersion, _ conf: ModuleConfig, _ target: KernelTarget) throws {
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
