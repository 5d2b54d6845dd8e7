import Glibc
import Installer
import SafeFS

extension Engine {
    public mutating func uninstall() throws {
        let mv = try requireModuleArgs("uninstall")
        try requireAdded(mv)
        for target in context.removalTargets(mv) { try maybeUninstall(mv, target) }
    }

    public mutating func unbuild() throws {
        let mv = try requireModuleArgs("unbuild")
        try requireAdded(mv)
        for (i, target) in context.removalTargets(mv).enumerated() {
            if i > 0 { out.line("") }
            try unbuildOne(mv, target, uninstallFirst: true)
        }
    }

    /// Uninstalls (one transaction per kernel, as POST_REMOVE and depmod
    /// follow each), then unbuilds and, when no build is left, deletes the
    /// version, in one transaction: deleting the version directory takes
    /// the builds with it.
    public mutating func remove() throws {
        let mv = try requireModuleArgs("remove")
        try requireAdded(mv)
        var unbuild = TransactionPlan(description: "unbuild \(mv)")
        var unbuilt: Set<String> = []
        for target in context.removalTargets(mv) {
            try maybeUninstall(mv, target)
            if tree.isBuilt(mv, target.build) {
                planUnbuild(mv, target, into: &unbuild)
                unbuilt.insert(target.version + "/" + target.arch)
            } else {
                out.line("Module \(mv) is not built for kernel \(target.version) (\(target.arch)). Skipping...")
            }
            out.line("")
        }
        let keep: Set = ["build", "tarball", "driver_disk", "rpm", "deb", "source"]
        let versionDir = tree.versionDir(mv)
        let remaining = FS.list(versionDir).filter { k in
            guard !keep.contains(k), !k.hasPrefix("."), FS.isDirectory(versionDir + "/" + k) else { return false }
            let arches = FS.list(versionDir + "/" + k)
            return arches.isEmpty || !arches.allSatisfy { unbuilt.contains(k + "/" + $0) }
        }
        guard remaining.isEmpty else { return try transactions.commit(unbuild) }
        out.line("Deleting module \(mv) completely from the DKMS tree.")
        var plan = TransactionPlan(description: "remove \(mv)")
        plan.steps.append(.removeDirectory(path: versionDir))
        plan.steps.append(.removeEmptyDirectory(path: tree.moduleDir(mv.name)))
        try transactions.commit(plan)
    }

    func maybeUninstall(_ mv: ModuleVersion, _ target: KernelTarget) throws {
        guard tree.isInstalled(mv, target.build) else {
            // dkms says nothing when BUILD_EXCLUSIVE may be why (its words: "it can be confusing").
            if FS.isRegularFile(tree.confPath(mv)),
               let conf = try? confs.read(mv, target, strict: false, silently: true), conf.hasExclusiveDirectives { return }
            out.line("Module \(mv) is not installed for kernel \(target.version) (\(target.arch)). Skipping...")
            return
        }
        try uninstallOne(mv, target)
    }

    mutating func unbuildOne(_ mv: ModuleVersion, _ target: KernelTarget, uninstallFirst: Bool) throws {
        let k = target.version, a = target.arch
        if uninstallFirst { try maybeUninstall(mv, target) }
        guard tree.isBuilt(mv, target.build) else {
            out.line("Module \(mv) is not built for kernel \(k) (\(a)). Skipping...")
            return
        }
        var plan = TransactionPlan(description: "unbuild \(mv) for \(k) (\(a))")
        planUnbuild(mv, target, into: &plan)
        try transactions.commit(plan)
    }

    func planUnbuild(_ mv: ModuleVersion, _ target: KernelTarget, into plan: inout TransactionPlan) {
        plan.steps.append(.removeDirectory(path: tree.baseDir(mv, target.build)))
        plan.steps.append(.removeEmptyDirectory(path: tree.kernelDir(mv, target.version)))
    }

    func uninstallOne(_ mv: ModuleVersion, _ target: KernelTarget) throws {
        let manifest = BuildManifest.load(tree.manifestPath(mv, target.build))
        let (plan, messages) = UninstallPlanning(context: context).plan(mv, target, manifest: manifest)
        out.say(messages)
        try transactions.commit(plan)
        cached.pin(mv, target.build, installed: false)
        // The build's own evaluation while dkms.conf and its overrides are
        // unchanged; otherwise (or for trees the reference dkms made) a new one.
        let postRemove: String
        if let recorded = manifest?.postRemove, recorded.confInputs == confs.inputs(mv, target) {
            postRemove = recorded.script
        } else {
            postRemove = (try? confs.read(mv, target, strict: false))?.postRemove ?? ""
        }
        if !postRemove.isEmpty { try scripts.run(.postRemove, postRemove, mv, target) }
        depmodStep.run(target.version)
    }
}
