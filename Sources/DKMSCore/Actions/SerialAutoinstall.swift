extension Engine {
    /// Autoinstall with one job (parallel_jobs=1, -j1): one module at a time
    /// in this process, in dkms 3.4's order and words. Modules go in rounds:
    /// each round installs, in `dkms status` order, those whose dependencies
    /// were installed or skipped before it began. The parallel scheduler is
    /// for more jobs, where dkms's interleaving is not reproducible anyway.
    mutating func serialAutoinstall(_ queue: [(mv: ModuleVersion, deps: [String])], alreadyInstalled: [String],
                                    target: KernelTarget) throws {
        let k = target.version, a = target.arch
        var installed = alreadyInstalled, skipped: [String] = [], failed: [String] = []
        var pending = queue
        while true {
            var progress = false
            let done = Set(installed + skipped)
            let waiting = pending.map { e in (e, e.deps.filter { !done.contains($0) }) }
            pending = []
            for (e, deps) in waiting {
                guard deps.isEmpty else { pending.append((e.mv, deps)); continue }
                if !tree.isBuilt(e.mv, target.build) {
                    // dkms's prepare_kernel_and_signing, in the parent: missing headers end the run.
                    try tree.requireHeaders(target)
                    _ = signing.decision(for: target)
                }
                out.line("Autoinstall of module \(e.mv) for kernel \(k) (\(a))")
                do {
                    try maybeInstall(e.mv, target)
                    installed.append(e.mv.name); progress = true
                } catch let error as DKMSError {
                    if !error.lines.isEmpty {
                        if error.code == .buildExclusiveSkip { out.warn(error.lines.joined(separator: "\n")) }
                        else { out.errorLine(""); out.error(error) }
                    }
                    if error.code == .buildExclusiveSkip { skipped.append(e.mv.name); progress = true }
                    else { failed.append("\(e.mv.name)(\(error.exitCode))") }
                }
                out.line("")
            }
            if !progress { break }
        }
        if !installed.isEmpty { out.line("Autoinstall on \(k) succeeded for module(s) \(installed.joined(separator: " ")).") }
        if !skipped.isEmpty { out.line("Autoinstall on \(k) was skipped for module(s) \(skipped.joined(separator: " ")).") }
        if !failed.isEmpty { out.line("Autoinstall on \(k) failed for module(s) \(failed.joined(separator: " ")).") }
        // What is left waits for a dependency: one dkms knows (it failed, or
        // a cycle) is a failure; one it does not know yet is deferred.
        let known = Set(tree.modules())
        var unresolved = false, deferred: [String] = []
        for e in pending {
            let real = e.deps.filter { known.contains($0) }
            if !real.isEmpty {
                out.line("\(e.mv) autoinstall failed due to missing dependencies: \(real.joined(separator: " ")).")
                unresolved = true
            } else {
                out.line("\(e.mv) autoinstall deferred: BUILD_DEPENDS not registered with DKMS: \(e.deps.joined(separator: " ")).")
                deferred.append("\(e.mv)")
            }
        }
        if !deferred.isEmpty {
            out.line("Autoinstall on \(k) deferred module(s) \(deferred.joined(separator: " ")) due to BUILD_DEPENDS not yet registered with DKMS.")
            out.line("These may be provided externally or by a package not yet configured; autoinstall will retry on the next trigger.")
        }
        context.run.autoinstalled = installed
        if !failed.isEmpty || unresolved {
            throw DKMSError(.autoinstallFailed, "One or more modules failed to install during autoinstall.", "Refer to previous errors for more information.")
        }
    }

}
