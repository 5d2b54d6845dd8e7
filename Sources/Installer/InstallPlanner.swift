import ModuleTools
/// Turns "install / uninstall / remove module m/v for kernel k" into a
/// `TransactionPlan`, reading (never changing) the current state. Mirrors dkms
/// 3.0's do_install / do_uninstall / remove, minus their non-atomic cp and mv.
public struct InstallPlanner: Sendable {
    public var layout: DKMSLayout
    /// dkms 3.0 moves originals aside on every distro except Debian/Ubuntu (where it
    /// relies on depmod's updates/ priority instead). On by default, as specified.
    public var backupOriginals: Bool
    /// Where a restored original goes, relative to the kernel dir, per module name
    /// (dkms restores into the dkms.conf DEST_MODULE_LOCATION). Missing entries fall
    /// back to the location the original was found at, if it can be inferred, else `/extra`.
    public var originalLocations: [String: String]

    public init(layout: DKMSLayout, backupOriginals: Bool = true, originalLocations: [String: String] = [:]) {
        self.layout = layout
        self.backupOriginals = backupOriginals
        self.originalLocations = originalLocations
    }

    // MARK: install

    /// `files`: (module name, path of the finished file to install). The file's own name
    /// (with its compression suffix) is its final name in the destination directory.
    public func install(module: String, version: String, kernel: String, arch: String,
                        files: [(name: String, path: String)], destination: String = "/updates/dkms") throws -> TransactionPlan {
        for (v, w) in [(module, "module name"), (version, "module version"), (kernel, "kernel version"), (arch, "arch")] {
            try DKMSLayout.validateComponent(v, what: w)
        }
        var plan = TransactionPlan(description: "install \(module)/\(version) for \(kernel) (\(arch))", touchedKernels: [kernel])
        let destDir = layout.destinationDirectory(kernel, location: destination)
        let alreadyInstalled = layout.installedVersion(module, kernel, arch) != nil
        let origDir = layout.originalModuleDirectory(module, kernel, arch)
        var backups: [Step] = [], installs: [Step] = [], removals: [Step] = []
        for (name, path) in files {
            try DKMSLayout.validateComponent(name, what: "module file name")
            let finalName = FS.basename(path)
            let dest = FS.join(destDir, finalName)
            // Only the first install for a kernel looks for an original (as dkms): later
            // installs would otherwise "back up" our own previous version.
            let haveBackup = ModuleCompression.allFileNames(module: name).contains { FS.exists(FS.join(origDir, $0)) }
            if backupOriginals && !alreadyInstalled && !haveBackup {
                switch findOriginal(name: name, kernel: kernel, excluding: destDir) {
                case let .one(found):
                    backups.append(.backupOriginal(path: found, backupPath: FS.join(origDir, FS.basename(found))))
                case let .ambiguous(all):
                    plan.warnings.append("\(name): \(all.count) modules of this name under \(layout.kernelDirectory(kernel)); none backed up (dkms cannot know which is the original)")
                case .none:
                    break
                }
            }
            // A differently compressed copy from an earlier install would shadow or
            // duplicate the new one in modules.dep.
            for other in ModuleCompression.allFileNames(module: name) where other != finalName {
                let p = FS.join(destDir, other)
                if FS.kind(p) == .file || FS.kind(p) == .symlink { removals.append(.removeFile(path: p)) }
            }
            installs.append(.installFile(source: path, destination: dest, mode: 0o644))
        }
        // Files first, marker last: the tree says "installed" only once the files are in place.
        plan.steps = backups + installs + removals
        plan.steps.append(.setLink(path: layout.kernelLink(module, kernel, arch), target: layout.linkTarget(version, kernel, arch)))
        return plan
    }

    enum OriginalSearch: Equatable { case none, one(String), ambiguous([String]) }

    /// dkms's preference order: `<k>/extra/`, `<k>/updates/`, the configured original
    /// location, then any unique same-named module elsewhere in the kernel's tree.
    func findOriginal(name: String, kernel: String, excluding destDir: String) -> OriginalSearch {
        let kdir = layout.kernelDirectory(kernel)
        let names = ModuleCompression.allFileNames(module: name)
        var preferred = ["/extra", "/updates"]
        if let loc = originalLocations[name] { preferred.append(loc) }
        for loc in preferred {
            let dir = FS.join(kdir, loc)
            if dir == destDir { continue }
            for n in names where FS.kind(FS.join(dir, n)) == .file { return .one(FS.join(dir, n)) }
        }
        var found: [String] = []
        collect(directory: kdir, names: Set(names), skip: destDir, depth: 0, into: &found)
        switch found.count {
        case 0: return .none
        case 1: return .one(found[0])
        default: return .ambiguous(found)
        }
    }

    /// Walks real directories only: `build` and `source` are symlinks to header trees.
    private func collect(directory: String, names: Set<String>, skip: String, depth: Int, into found: inout [String]) {
        guard depth < 16 else { return }
        for entry in FS.listDirectory(directory) {
            let p = FS.join(directory, entry)
            switch FS.kind(p) {
            case .directory? where p != skip: collect(directory: p, names: names, skip: skip, depth: depth + 1, into: &found)
            case .file? where names.contains(entry): found.append(p)
            default: break
            }
        }
    }

    // MARK: uninstall

    /// `names`: the module names of this module/version (from its built files).
    public func uninstall(module: String, version: String, kernel: String, arch: String,
                          names: [String], destination: String = "/updates/dkms") throws -> TransactionPlan {
        guard layout.installedVersion(module, kernel, arch) == version else {
            throw InstallerError.notInstalled(module: module, version: version, kernel: kernel, arch: arch)
        }
        var plan = TransactionPlan(description: "uninstall \(module)/\(version) for \(kernel) (\(arch))", touchedKernels: [kernel])
        // Marker first: from this point the tree no longer claims files that are about to go.
        plan.steps.append(.removeLink(path: layout.kernelLink(module, kernel, arch)))
        let destDir = layout.destinationDirectory(kernel, location: destination)
        for name in names {
            for fileName in ModuleCompression.allFileNames(module: name) {
                let p = FS.join(destDir, fileName)
                if let k = FS.kind(p), k != .directory { plan.steps.append(.removeFile(path: p)) }
            }
        }
        let origDir = layout.originalModuleDirectory(module, kernel, arch)
        for name in names {
            for fileName in ModuleCompression.allFileNames(module: name) {
                let backup = FS.join(origDir, fileName)
                guard FS.kind(backup) == .file else { continue }
                let location = originalLocations[name] ?? "/extra"
                let target = FS.join(layout.destinationDirectory(kernel, location: location), fileName)
                if FS.exists(target) {
                    plan.warnings.append("\(target): exists, original module left in \(backup)")
                } else {
                    plan.steps.append(.restoreOriginal(backupPath: backup, path: target))
                }
            }
        }
        // Tidy like dkms (`rmdir -p --ignore-fail-on-non-empty`); runs after commit.
        plan.steps += emptyDirectoryChain(from: destDir, upTo: layout.kernelDirectory(kernel))
        plan.steps += emptyDirectoryChain(from: origDir, upTo: layout.moduleDirectory(module))
        return plan
    }

    private func emptyDirectoryChain(from dir: String, upTo stop: String) -> [Step] {
        var steps: [Step] = []
        var d = dir
        while d.hasPrefix(stop + "/") && d != stop {
            steps.append(.removeEmptyDirectory(path: d))
            d = FS.parent(d)
        }
        return steps
    }

    // MARK: remove

    /// Uninstall (where this version is installed) and delete the built files for the
    /// given kernels; the whole `<m>/<v>` goes when no kernel is left in it.
    public func remove(module: String, version: String, kernels: [(kernel: String, arch: String)],
                       names: (String, String) -> [String], destination: String = "/updates/dkms") throws -> TransactionPlan {
        var plan = TransactionPlan(description: "remove \(module)/\(version) for \(kernels.map { $0.kernel }.joined(separator: ","))")
        for (k, a) in kernels where layout.installedVersion(module, k, a) == version {
            plan.append(try uninstall(module: module, version: version, kernel: k, arch: a, names: names(k, a), destination: destination))
        }
        let vdir = layout.versionDirectory(module, version)
        let removing = Set(kernels.map { "\($0.kernel)/\($0.arch)" })
        var remaining: [String] = []
        for k in FS.listDirectory(vdir) where !["build", "source", "log", "tarball"].contains(k) {
            let kd = FS.join(vdir, k)
            guard FS.kind(kd) == .directory else { continue }
            for a in FS.listDirectory(kd) where !removing.contains("\(k)/\(a)") { remaining.append("\(k)/\(a)") }
        }
        // Post-commit tidying (rmdir) must run after every rename-aside, so collect it last.
        let tidy = plan.steps.filter { if case .removeEmptyDirectory = $0 { return true } else { return false } }
        plan.steps.removeAll { if case .removeEmptyDirectory = $0 { return true } else { return false } }
        if remaining.isEmpty {
            if FS.exists(vdir) { plan.steps.append(.removeDirectory(path: vdir)) }
        } else {
            for (k, a) in kernels {
                let d = layout.kernelArchDirectory(module, version, k, a)
                if FS.exists(d) { plan.steps.append(.removeDirectory(path: d)) }
            }
        }
        plan.steps += tidy
        for (k, _) in kernels where !remaining.isEmpty {
            plan.steps.append(.removeEmptyDirectory(path: FS.join(vdir, k)))
        }
        plan.steps.append(.removeEmptyDirectory(path: layout.moduleDirectory(module)))
        return plan
    }
}
