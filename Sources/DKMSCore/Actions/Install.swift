import Glibc
import Installer
import ModuleTools
import SafeFS

extension Engine {
    /// `dkms install`: build when needed, then install each kernel's modules.
    public mutating func install() throws {
        let mv = try moduleToBuild("install")
        for target in context.targets() { try maybeInstall(mv, target) }
    }

    mutating func maybeInstall(_ mv: ModuleVersion, _ target: KernelTarget) throws {
        let k = target.version, a = target.arch
        if tree.isInstalled(mv, target.build) {
            guard context.invocation.force else {
                out.line("Module \(mv) already installed on kernel \(k) (\(a)), skip. You may override by specifying --force.")
                return
            }
            try uninstallOne(mv, target)
            out.line("")
        }
        let built = tree.isBuilt(mv, target.build) ? nil : try buildOne(mv, target)
        try installOne(mv, target, conf: built)
        try rebuildDependents(of: mv.name, target)
    }

    /// `conf`: the evaluation the build just made, when it did; else it is read.
    mutating func installOne(_ mv: ModuleVersion, _ target: KernelTarget, conf known: ModuleConfig? = nil) throws {
        let k = target.version, a = target.arch
        let lib = tree.libTree(k)
        guard FS.isDirectory(lib) else {
            throw DKMSError(.installFailed, "The directory \(lib) doesn't exist.", "You cannot install a module onto a non-existant kernel.")
        }
        let conf: ModuleConfig
        if let known {
            // The build's evaluation, checked as dkms's install reads the file again.
            try confs.checkStrictly(known, path: confs.files(mv, target).path, out: out)
            conf = known
        } else {
            conf = try confs.read(mv, target)
        }
        let builtDir = tree.builtModuleDir(mv, target.build)
        var files: [(spec: ModuleSpec, path: String)] = []
        for spec in conf.modules {
            guard let f = ModuleFileName.find(in: builtDir, name: spec.destName) else {
                throw DKMSError(.installFailed, "Missing module \(spec.destName) in \(builtDir)")
            }
            files.append((spec, f))
        }
        if tree.isInstalledLink(mv, target.build) {
            throw DKMSError(.alreadyInstalled, "This module/version combo is already installed for kernel \(k) (\(a)).")
        }
        if !(try scripts.run(.preInstall, conf.preInstall, mv, target)) && !context.invocation.force {
            throw DKMSError(.preInstallFailed, "pre_install failed, aborting install.", "You may override by specifying --force.")
        }
        let notes = try Staging.makeDirectory(in: try tree.stagingRoot(), prefix: "origin-")
        defer { try? Files.removeTree(notes) }
        var planning = InstallPlanning(context: context)
        let planned = Result { try planning.plan(mv, target, conf, files: files, notes: notes) }
        out.say(planning.said)
        let plan = try planned.get()
        try transactions.commit(plan)
        cached.pin(mv, target.build, installed: true)
        try scripts.run(.postInstall, conf.postInstall, mv, target)
        depmodStep.run(k)
    }
}
