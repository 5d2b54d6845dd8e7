import Glibc
import Foundation
import SafeFS
extension Engine {
    /// `dkms autoinstall`: install, for one kernel, the newest version of
    /// every module whose dkms.conf says AUTOINSTALL=yes, dependencies first.
    /// `name`: the action as invoked (kernel_postinst is autoinstall under another name).
    public mutating func autoinstall(as name: String = "autoinstall") throws {
        if context.invocation.all { throw DKMSError(.allUnsupported, "The action \(name) does not support the --all parameter.") }
        let targets = context.targets()
        guard targets.count == 1 else {
            throw DKMSError(.wrongKernelCount, "The action \(name) does not support multiple kernel version parameters on the command line.")
        }
        let target = targets[0]
        let k = target.version, a = target.arch
        if FS.exists(context.configDir + "/no-autoinstall") {
            out.line("Automatic installation of modules has been disabled.")
            return
        }
        cached.prefetchKernelDigest(target)
        var installed: [String] = []
        var queue: [(mv: ModuleVersion, deps: [String])] = []
        var confs: [String: ModuleConfig] = [:]
        for m in GlobOrder.sorted(tree.modules()) {
            let versions = GlobOrder.sorted(FS.list(tree.moduleDir(m)))
            var latest: String? = nil
            for v in versions {
                let mv = ModuleVersion(m, v)
                if tree.isBroken(mv) {
                    out.errorLine("")
                    out.error(DKMSError(.success, "\(mv) is broken! Missing the source directory or the symbolic link pointing to it.",
                                        "Manual intervention is required!"))
                    continue
                }
                guard tree.isAdded(mv) else { continue }
                if latest == nil || VersionOrder.less(latest!, v) { latest = v }
            }
            guard let v = latest else { continue }
            let mv = ModuleVersion(m, v)
            if tree.isInstalled(mv, target.build) { installed.append(m); continue }
            // A dkms.conf that cannot be evaluated (stopped at the sandbox's
            // limits, malformed) is that module's error, said, not the run's.
            let conf: ModuleConfig
            do { conf = try self.confs.read(mv, target, strict: false) } catch let e as DKMSError {
                out.errorLine("")
                out.error(DKMSError(.success, lines: ["Autoinstall of \(mv) for kernel \(k) (\(a)) skipped:"] + e.lines))
                continue
            } catch { continue }
            guard conf.autoinstall else { continue }
            queue.append((mv, conf.buildDepends))
            confs[m] = conf
        }
        guard !queue.isEmpty else { return }
        if context.jobs == 1 {
            return try serialAutoinstall(queue, alreadyInstalled: installed, target: target)
        }

        let plan = try DependencyOrder.plan(queue.map { ($0.mv.name, $0.deps) }, alreadyInstalled: Set(installed))
        var succeeded = installed, skipped: [String] = [], failed: [String] = []
        var items = plan.order.map { m -> ParallelAutoinstall.Item in
            let e = queue.first { $0.mv.name == m }!
            return .init(moduleVersion: e.mv, deps: e.deps.filter { d in queue.contains { $0.mv.name == d } })
        }
        var touched = false
        // Cache hits are quicker done here than in a child process each:
        // the kernel tree is digested once for all of them.
        for item in items where item.deps.isEmpty {
            guard let conf = confs[item.module], cached.wouldHit(item.moduleVersion, conf, target) else { continue }
            let started = Date()
            do {
                let quiet = Output(quiet: true)
                var inner = self
                inner.context.output = quiet
                // One depmod at the end covers every module installed here.
                inner.context.invocation.noDepmod = true
                try inner.maybeInstall(item.moduleVersion, target)
                out.line("Autoinstall of module \(item.moduleVersion) for kernel \(k) (\(a)): installed from the build cache (\(String(format: "%.2f", Date().timeIntervalSince(started))) s)")
                succeeded.append(item.module)
                touched = true
                items.removeAll { $0.module == item.module }
            } catch {
                // Leave it to the ordinary path, which reports failures in full.
            }
        }
        var runner = ParallelAutoinstall(items: items, kernel: k, arch: a, jobs: context.jobs,
                                         childArguments: ParallelAutoinstall.childArguments(context), environment: ParallelAutoinstall.childEnvironment(context), out: out,
                                         inheritFD: context.run.lock?.descriptor,
                                         logDir: { [tree] mv in "\(tree.buildDir(mv))/make.log" })
        for item in items { runner.buildWeights[item.module] = buildWeight(tree.sourceLink(item.moduleVersion)) }
        for (item, result) in runner.run() {
            switch result {
            case .installed: succeeded.append(item.module); touched = true
            case .skipped: skipped.append(item.module)
            case .failed(let code, _, _): failed.append("\(item.module)(\(code))")
            case .blocked(let dep):
                out.line("\(item.moduleVersion) autoinstall failed due to missing dependencies: \(dep).")
                failed.append("\(item.module)(13)")
            }
        }
        for cycle in plan.cycles {
            out.line("\(cycle.joined(separator: " ")) autoinstall failed due to a dependency cycle: \(cycle.joined(separator: " -> ")) -> \(cycle[0]).")
            failed += cycle.map { "\($0)(13)" }
        }
        if touched { depmodStep.run(k) }
        if !succeeded.isEmpty { out.line("Autoinstall on \(k) succeeded for module(s) \(succeeded.joined(separator: " ")).") }
        if !skipped.isEmpty { out.line("Autoinstall on \(k) was skipped for module(s) \(skipped.joined(separator: " ")).") }
        if !failed.isEmpty {
            out.line("Autoinstall on \(k) failed for module(s) \(failed.joined(separator: " ")).")
            throw DKMSError(.autoinstallFailed, "One or more modules failed to install during autoinstall.", "Refer to previous errors for more information.")
        }
    }
}
