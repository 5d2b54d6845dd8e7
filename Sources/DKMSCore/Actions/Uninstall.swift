import Glibc
import Installer
import SafeFS

extension Engine {
    /// Targets for uninstall/unbuild/remove: every built kernel with --all.
    func removalTargets(_ mv: ModuleVersion) -> [KernelTarget] {
        guard context.invocation.all else { return context.targets() }
        return tree.kernelArches(mv)
            .filter { tree.isBuilt(mv, $0) }
            .sorted { VersionOrder.less($0.kernel + "/" + $0.arch, $1.kernel + "/" + $1.arch) }
            .map { context.target($0.kernel, $0.arch) }
    }

    public mutating func uninstall() throws {
        let mv = try requireModuleArgs("uninstall")
        try requireAdded(mv)
        for target in removalTargets(mv) { try maybeUninstall(mv, target) }
    }

    public mutating func unbuild() throws {
        let mv = try requireModuleArgs("unbuild")
        try requireAdded(mv)
        for (i, target) in removalTargets(mv).enumerated() {
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
        for target in removalTargets(mv) {
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
        guard remaining.isEmpty else { return try commit(unbuild) }
        out.line("Deleting module \(mv) completely from the DKMS tree.")
        var plan = TransactionPlan(description: "remove \(mv)")
        plan.steps.append(.removeDirectory(path: versionDir))
        plan.steps.append(.removeEmptyDirectory(path: tree.moduleDir(mv.name)))
        try commit(plan)
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
        try commit(plan)
    }

    func planUnbuild(_ mv: ModuleVersion, _ target: KernelTarget, into plan: inout TransactionPlan) {
        plan.steps.append(.removeDirectory(path: tree.baseDir(mv, target.build)))
        plan.steps.append(.removeEmptyDirectory(path: tree.kernelDir(mv, target.version)))
    }

    /// Where each module of an installed build lives: its manifest's
    /// location, or for trees the reference dkms made (no manifest), the
    /// distribution's.
    func installedEntries(_ mv: ModuleVersion, _ t: BuildTarget,
                          manifest: BuildManifest?) -> [BuildManifest.Entry] {
        if let manifest { return manifest.modules }
        let location = context.destOverride ?? "/updates/dkms"
        return tree.builtModuleFiles(mv, t).map { .init(destName: ModuleFileName.stem($0), destLocation: location) }
    }

    func uninstallOne(_ mv: ModuleVersion, _ target: KernelTarget) throws {
        let k = target.version, a = target.arch
        out.line("Module \(mv) for kernel \(k) (\(a)):")
        out.line("Before uninstall, this module version was ACTIVE on this kernel.")
        let lib = tree.libTree(k)
        var plan = TransactionPlan(description: "uninstall \(mv) for \(k) (\(a))", touchedKernels: [k])
        var dirs: [String] = []
        var removing: Set<String> = []
        let manifest = BuildManifest.load(tree.manifestPath(mv, target.build))
        for e in installedEntries(mv, target.build, manifest: manifest) {
            let dir = lib + e.destLocation
            guard let installed = ModuleFileName.find(in: dir, name: e.destName) else {
                out.line("Module \(e.destName)\(KernelModuleSuffix.of(libTree: lib)) was not found within \(lib)/")
                continue
            }
            out.line("Deleting \(installed)")
            for s in ModuleFileName.suffixes where FS.exists("\(dir)/\(e.destName)\(s)") {
                // Never a file another installed dkms module owns.
                if let owner = installedOwner(of: "\(dir)/\(e.destName)\(s)", except: mv.name, target.build) {
                    out.warn("\(dir)/\(e.destName)\(s) is installed by the dkms module \(owner); left in place.")
                    continue
                }
                plan.steps.append(.removeFile(path: "\(dir)/\(e.destName)\(s)"))
                removing.insert("\(dir)/\(e.destName)\(s)")
            }
            dirs.append(dir)
        }
        restoreOriginals(mv.name, target.build, into: &plan, removing: removing)
        plan.steps.append(.removeLink(path: tree.installedLink(mv.name, target.build)))
        // Tidy what dkms would rmdir -p: empty install dirs, then the backup dirs.
        for dir in Set(dirs).sorted(by: >) {
            var d = dir
            while d.hasPrefix(lib + "/") { plan.steps.append(.removeEmptyDirectory(path: d)); d = String(d[..<d.lastIndex(of: "/")!]) }
        }
        let backup = tree.originalModuleDir(mv.name, target.build)
        if FS.isDirectory(backup) {
            plan.steps.append(.removeEmptyDirectory(path: backup))
            plan.steps.append(.removeEmptyDirectory(path: tree.moduleDir(mv.name) + "/original_module/\(k)"))
            plan.steps.append(.removeEmptyDirectory(path: tree.moduleDir(mv.name) + "/original_module"))
        }
        try commit(plan)
        pinCache(mv, target.build, installed: false)
        // The build's own evaluation while dkms.conf and its overrides are
        // unchanged; otherwise (or for trees the reference dkms made) a new one.
        let postRemove: String
        if let recorded = manifest?.postRemove, recorded.confInputs == confs.inputs(mv, target) {
            postRemove = recorded.script
        } else {
            postRemove = (try? confs.read(mv, target, strict: false))?.postRemove ?? ""
        }
        if !postRemove.isEmpty { try runScript(.postRemove, postRemove, mv, target) }
        depmod(k)
    }

    /// Plans putting archived originals back where their .origin file says
    /// they came from, refusing any recorded path outside this kernel's tree.
    /// The original may go back where ours is being removed (`removing`): a
    /// module that replaced one of the same name in the same place.
    func restoreOriginals(_ m: String, _ t: BuildTarget, into plan: inout TransactionPlan,
                          removing: Set<String> = []) {
        let backup = tree.originalModuleDir(m, t)
        let lib = tree.libTree(t.kernel)
        for entry in FS.list(backup).sorted() where entry.hasSuffix(".origin") {
            let file = backup + "/" + String(entry.dropLast(".origin".count))
            guard FS.isRegularFile(file) else { continue }
            let dest = (FS.readText(backup + "/" + entry) ?? "").split(separator: "\n").first.map(String.init) ?? ""
            guard dest.hasPrefix(lib + "/"), NameRules.problem(inLocation: String(dest.dropFirst(lib.count))) == nil,
                  !FS.exists(dest) || removing.contains(dest) else {
                out.warn("Bad original location '\(dest)' in \(backup)/\(entry)")
                continue
            }
            out.line("Restoring archived original module \(dest)")
            plan.steps.append(.restoreOriginal(backupPath: file, path: dest))
            plan.steps.append(.removeFile(path: backup + "/" + entry))
        }
    }
}
