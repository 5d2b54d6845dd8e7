import Glibc
import SafeFS

extension Engine {
    /// `dkms kernel_prerm` (a kernel is being removed: every module built
    /// for it is unbuilt) and `kernel_preinst` (a kernel is being upgraded:
    /// the AUTOINSTALL ones, for kernel_postinst to rebuild), as dkms 3.4:
    /// one depmod at the end, empty directories of the kernel's tree removed.
    mutating func kernelRemoval(onlyAutoinstall: Bool) throws {
        let name = onlyAutoinstall ? "kernel_preinst" : "kernel_prerm"
        try context.invocation.requireOneKernel(name)
        let targets = context.targets()
        let target = targets[0], k = target.version, a = target.arch
        context.run.delayDepmod = true
        var failed = ""
        for m in GlobOrder.sorted(tree.modules()) {
            for mv in GlobOrder.sorted(FS.list(tree.moduleDir(m))).map({ ModuleVersion(m, $0) }) where tree.isBuilt(mv, target.build) {
                if onlyAutoinstall { guard let conf = try? confs.read(mv, target, strict: false), conf.autoinstall else { continue } }
                out.errorLine("dkms: removing module \(mv) for kernel \(k) (\(a))")
                do {
                    try unbuildOne(mv, target, uninstallFirst: true)
                } catch let e as DKMSError {
                    if !e.lines.isEmpty { out.errorLine(""); out.error(e) }
                    failed += " \(mv)(\(e.exitCode))"
                }
                if !onlyAutoinstall { out.line("") }
            }
        }
        context.run.delayDepmod = false
        if context.run.depmodPending.remove(k) != nil { depmodStep.run(k) }
        Files.removeEmptyDirectories(tree.libTree(k), keepTop: true)
        if !failed.isEmpty {
            throw DKMSError(.kernelHookFailed, "dkms \(name) for kernel \(k) (\(a)) failed for module(s)\(failed).")
        }
    }

}
