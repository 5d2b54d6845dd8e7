import Installer

/// The transactions the helper runs, in the shape `dkms`'s own plans have
/// (Engine's install, uninstall and remove): the same kinds of steps in the same
/// order, over the helper's simpler trees — no dkms.conf, no signing or
/// compression (those happen before a transaction, in staging).
extension HelperTrees {
    struct Refusal: Error, CustomStringConvertible { var description: String }

    /// Archive the originals (first install for the kernel only), install every built
    /// file, drop differently compressed copies that would shadow ours, marker last:
    /// the tree says "installed" only once the files are in place.
    func installPlan(_ v: String, _ k: String) throws -> TransactionPlan {
        let files = builtFiles(v, k)
        guard !files.isEmpty else { throw Refusal(description: "\(builtDirectory(v, k)): no built modules") }
        let firstInstall = installedVersion(k) == nil
        var backups: [Step] = [], installs: [Step] = [], stale: [Step] = []
        for file in files {
            let fileName = String(file.split(separator: "/").last!), name = HelperTrees.moduleName(fileName)!
            if firstInstall, let original = original(of: name, k) {
                let backup = originalDirectory(k) + "/" + original.split(separator: "/").last!
                if !HelperTrees.exists(backup) { backups.append(.backupOriginal(path: original, backupPath: backup)) }
            }
            installs.append(.installFile(source: file, destination: destination(k) + "/" + fileName, mode: 0o644))
            for s in HelperTrees.suffixes where name + s != fileName {
                let other = destination(k) + "/" + name + s
                if HelperTrees.exists(other) { stale.append(.removeFile(path: other)) }
            }
        }
        return TransactionPlan(description: "install \(module)/\(v) for \(k) (\(arch))",
                               steps: backups + installs + stale + [.setLink(path: marker(k), target: "\(v)/\(k)/\(arch)")],
                               touchedKernels: [k])
    }

    /// Marker first (the tree stops claiming files about to go), the files, the
    /// originals back where they were found, then empty directories tidied.
    func uninstallPlan(_ v: String, _ k: String) throws -> TransactionPlan {
        guard installedVersion(k) == v else { throw Refusal(description: "\(module)/\(v) is not installed for kernel \(k) (\(arch))") }
        var steps: [Step] = [.removeLink(path: marker(k))]
        for name in Set(builtFiles(v, k).compactMap { HelperTrees.moduleName(String($0.split(separator: "/").last!)) }).sorted() {
            for s in HelperTrees.suffixes where HelperTrees.exists(destination(k) + "/" + name + s) {
                steps.append(.removeFile(path: destination(k) + "/" + name + s))
            }
        }
        for (name, loc) in origLocations.sorted(by: { $0.key < $1.key }) {
            for s in HelperTrees.suffixes where HelperTrees.exists(originalDirectory(k) + "/" + name + s) {
                let home = kernelDirectory(k) + loc + "/" + name + s
                if !HelperTrees.exists(home) { steps.append(.restoreOriginal(backupPath: originalDirectory(k) + "/" + name + s, path: home)) }
            }
        }
        let tidy = [destination(k), kernelDirectory(k) + "/updates", originalDirectory(k),
                    "\(moduleDirectory)/original_module/\(k)", "\(moduleDirectory)/original_module"]
        return TransactionPlan(description: "uninstall \(module)/\(v) for \(k) (\(arch))",
                               steps: steps + tidy.map { .removeEmptyDirectory(path: $0) }, touchedKernels: [k])
    }

    /// Uninstall where installed, then delete the built files of these kernels.
    /// Every rmdir comes last: it runs after commit, once the asides are gone.
    func removePlan(_ v: String, _ kernels: [String]) throws -> TransactionPlan {
        var plan = TransactionPlan(description: "remove \(module)/\(v) for \(kernels.joined(separator: ","))")
        for k in kernels where installedVersion(k) == v { plan.append(try uninstallPlan(v, k)) }
        func isTidy(_ s: Step) -> Bool { if case .removeEmptyDirectory = s { return true } else { return false } }
        var tidy = plan.steps.filter(isTidy)
        plan.steps.removeAll(where: isTidy)
        for k in kernels where HelperTrees.exists(kernelArchDirectory(v, k)) {
            plan.steps.append(.removeDirectory(path: kernelArchDirectory(v, k)))
        }
        tidy += kernels.map { .removeEmptyDirectory(path: versionDirectory(v) + "/" + $0) }
        plan.steps += tidy + [.removeEmptyDirectory(path: versionDirectory(v)), .removeEmptyDirectory(path: moduleDirectory)]
        return plan
    }

    /// The in-tree module `name` where `--orig` says it lives, if it is there.
    func original(of name: String, _ k: String) -> String? {
        guard let loc = origLocations[name] else { return nil }
        return HelperTrees.suffixes.map { kernelDirectory(k) + loc + "/" + name + $0 }.first(where: HelperTrees.isFile)
    }
}
