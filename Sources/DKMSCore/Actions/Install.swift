import Glibc
import Installer
import ModuleTools
import SafeFS

extension Engine {
    /// `dkms install`: build when needed, then install each kernel's modules.
    public mutating func install() throws {
        if context.invocation.all { throw DKMSError(.allUnsupported, "The action install does not support the --all parameter.") }
        if let path = context.invocation.sourcePath, context.invocation.module == nil { try addSourceTree(path) }
        let mv = try requireModuleArgs("install")
        if tree.isBroken(mv) { try requireAdded(mv) }
        for target in context.targets() {
            try maybeInstall(mv, target)
        }
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
        if !(try runScript(.preInstall, conf.preInstall, mv, target)) && !context.invocation.force {
            throw DKMSError(.preInstallFailed, "pre_install failed, aborting install.", "You may override by specifying --force.")
        }
        let markerExists = FS.isSymlink(tree.installedLink(mv.name, target.build))
        var plan = TransactionPlan(description: "install \(mv) for \(k) (\(a))", touchedKernels: [k])
        let notes = try Staging.makeDirectory(in: try stagingRoot(), prefix: "origin-")
        defer { try? Files.removeTree(notes) }
        var installedAny = false
        for (spec, file) in files {
            let destDir = lib + spec.destLocation
            let name = String(file[file.index(after: file.lastIndex(of: "/")!)...])
            // Another dkms module's installed file is neither replaced nor
            // taken as this module's "original" (before the version check,
            // which would only call it the same module at another version).
            for suffix in ModuleFileName.suffixes {
                let path = "\(destDir)/\(spec.destName)\(suffix)"
                if FS.exists(path), let owner = installedOwner(of: path, except: mv.name, target.build) {
                    throw DKMSError(.installFailed, "\(path) is installed by the dkms module \(owner); \(mv) will not replace it.")
                }
            }
            if let problem = versionSanityProblem(spec, builtFile: file, target) {
                for l in problem { out.errorLine(l) }
                continue
            }
            installedAny = true
            if !markerExists { try archiveOriginal(mv.name, spec, target, into: &plan, notes: notes) }
            out.line("Installing \(destDir)/\(name)")
            // A stale variant (x.ko when installing x.ko.xz) would shadow ours.
            for suffix in ModuleFileName.suffixes where "\(spec.destName)\(suffix)" != name {
                if FS.exists("\(destDir)/\(spec.destName)\(suffix)") { plan.steps.append(.removeFile(path: "\(destDir)/\(spec.destName)\(suffix)")) }
            }
            plan.steps.append(.installFile(source: file, destination: "\(destDir)/\(name)", mode: 0o644))
        }
        if !conf.declaredModules.isEmpty && !installedAny { throw DKMSError(.installFailed, "Installation aborted.") }
        plan.steps.append(.setLink(path: tree.installedLink(mv.name, target.build), target: "\(mv.version)/\(k)/\(a)"))
        try commit(plan)
        pinCache(mv, target.build, installed: true)
        try runScript(.postInstall, conf.postInstall, mv, target)
        depmod(k)
    }

    /// `$dkms_tree/.staging`, which recovery empties after a crash.
    func stagingRoot() throws -> String {
        let dir = tree.root + "/.staging"
        try Files.makeDirectories(dir)
        return dir
    }

    /// Plans moving a same-named module found in the kernel's tree to
    /// original_module/<k>/<a>/, with a .origin file naming where it was.
    func archiveOriginal(_ m: String, _ spec: ModuleSpec, _ target: KernelTarget,
                         into plan: inout TransactionPlan, notes: String) throws {
        let lib = tree.libTree(target.version)
        var candidates = ["\(lib)/extra", "\(lib)/updates", lib + spec.destLocation].compactMap {
            ModuleFileName.find(in: $0, name: spec.destName)
        }
        if candidates.isEmpty { candidates = ModuleLocator.find(in: lib, name: spec.destName) }
        guard let original = candidates.first else { return }
        if let owner = installedOwner(of: original, except: m, target.build) {
            throw DKMSError(.installFailed, "\(original) is installed by the dkms module \(owner); \(m) cannot archive it as its original.")
        }
        let backup = tree.originalModuleDir(m, target.build)
        out.line("Found pre-existing \(original), archiving for uninstallation")
        let name = String(original[original.index(after: original.lastIndex(of: "/")!)...])
        let note = notes + "/" + name + ".origin"
        try Staging.writeFile(note, Array((original + "\n").utf8))
        plan.steps.append(.installFile(source: note, destination: backup + "/" + name + ".origin", mode: 0o644))
        plan.steps.append(.backupOriginal(path: original, backupPath: backup + "/" + name))
    }

    /// The other dkms module (name/version) installed for k/a whose files
    /// include `path`, by its manifest (or its built files, for trees
    /// without one); nil when none.
    func installedOwner(of path: String, except m: String, _ t: BuildTarget) -> String? {
        func norm(_ p: String) -> String { p.split(separator: "/").joined(separator: "/") }
        let want = norm(path), lib = tree.libTree(t.kernel)
        for om in tree.modules() where om != m {
            for other in tree.added(om) where tree.isInstalled(other, t) {
                let manifest = BuildManifest.load(tree.manifestPath(other, t))
                for e in installedEntries(other, t, manifest: manifest) {
                    for suffix in ModuleFileName.suffixes where norm("\(lib)\(e.destLocation)/\(e.destName)\(suffix)") == want {
                        return "\(other)"
                    }
                }
            }
        }
        return nil
    }

    /// depmod for one kernel, on the install tree's base directory.
    func depmod(_ kernel: String) {
        // kernel_prerm runs it once, after every module is gone.
        if context.run.delayDepmod { context.run.depmodPending.insert(kernel); return }
        out.text("Running depmod...")
        defer { out.line(" done.") }
        if context.invocation.noDepmod { return }
        let modulesDep = "\(tree.libTree(kernel))/modules.dep"
        guard FS.exists(modulesDep) else { return }
        do { try Depmod(runner: ProcessRunner(environment: Spawn.baseEnvironment)).run(kernel: kernel, installTree: tree.installTree) }
        // An install tree depmod cannot index (not <base>/lib/modules) is skipped.
        catch ToolError.invalidArgument { return }
        catch ToolError.depmodFailed(_, let status, let stderr) {
            out.line("(bad exit status: \(status))")
            out.warn("depmod failed for kernel \(kernel): \(stderr.trimmingCharacters(in: "\n"))")
        } catch { out.warn("depmod failed for kernel \(kernel): \(error)") }
    }
}

/// Finds module files by name anywhere under a kernel's module directory.
public enum ModuleLocator {
    public static func find(in root: String, name: String) -> [String] {
        var found: [String] = []
        var stack = [root]
        while let dir = stack.popLast() {
            for entry in FS.list(dir) {
                let p = "\(dir)/\(entry)"
                guard let st = FS.lstatInfo(p) else { continue }
                if (st.st_mode & S_IFMT) == S_IFDIR { if entry != "build" && entry != "source" { stack.append(p) } }
                else if ModuleFileName.isModule(entry) && ModuleFileName.stem(entry) == name { found.append(p) }
            }
        }
        return found.sorted()
    }
}
