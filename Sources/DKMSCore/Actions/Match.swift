import SafeFS

extension Engine {
    /// `dkms match --templatekernel=T -k K [module]`: build and install for K
    /// every module (or the one named) installed for T, as dkms's run_match.
    public mutating func match() throws {
        let target = context.targets()[0]
        let k = target.version, a = target.arch
        guard let template = context.invocation.templateKernel, !template.isEmpty else {
            throw DKMSError(.failure, "Invalid number of parameters passed.",
                            "Usage: match --templatekernel=<kernel-version> -k <kernel-version>",
                            "   or: match --templatekernel=<kernel-version> -k <kernel-version> <module>")
        }
        if template == k { throw DKMSError(.badArgument, "The templatekernel and the specified kernel version are the same.") }
        let report = StatusReport(tree: tree, defaultDestLocation: context.destOverride ?? "/updates/dkms")
        var installed = report.entries(kernel: template, arch: a).filter { $0.state == "installed" }
        if let m = context.invocation.module, !m.isEmpty {
            guard NameRules.problem(inComponent: m) == nil, FS.isDirectory(tree.moduleDir(m)) else {
                throw DKMSError(.notInTree, "The module: \(Printable.visible(m)) is not located in the DKMS tree.")
            }
            installed = installed.filter { $0.module == m }
        }
        out.line("")
        out.line("Matching modules in kernel: \(k) (\(a))")
        out.line("to the configuration of kernel: \(template) (\(a))")
        guard !installed.isEmpty else {
            out.line("")
            out.line("There is nothing to be done for this match.")
            return
        }
        for e in installed {
            let mv = ModuleVersion(e.module, e.version)
            out.line("Module:  \(Printable.visible(e.module))")
            out.line("Version: \(Printable.visible(e.version))")
            if tree.isBroken(mv) {
                out.errorLine("")
                out.error(DKMSError(.broken, "\(e.module)/\(e.version) is broken!", "Missing the source directory or the symbolic link pointing to it.",
                                    "Manual intervention is required!"))
                continue
            }
            try maybeBuild(mv, target)
            try maybeInstall(mv, target)
        }
    }
}
