import Installer
import SafeFS

/// What installing one build for one kernel does, as one transaction's plan
/// and the lines dkms says while it plans it (`said`, kept when planning
/// throws, since dkms has said them by then): each module file put in
/// place (never over another installed dkms module's, dkms's version
/// sanity check first), a same-named original archived, the link set.
struct InstallPlanning {
    let context: Context
    var said: [Message] = []
    var tree: DKMSTree { context.tree }
    var files: InstalledFiles { InstalledFiles(context: context) }

    init(context: Context) { self.context = context }

    /// `built`: each module of the dkms.conf and its built file; `notes`:
    /// a staging directory for the .origin files the plan installs.
    mutating func plan(_ mv: ModuleVersion, _ target: KernelTarget, _ conf: ModuleConfig,
                       files built: [(spec: ModuleSpec, path: String)], notes: String) throws -> TransactionPlan {
        let k = target.version, a = target.arch
        let lib = tree.libTree(k)
        let markerExists = FS.isSymlink(tree.installedLink(mv.name, target.build))
        var plan = TransactionPlan(description: "install \(mv) for \(k) (\(a))", touchedKernels: [k])
        var installedAny = false
        for (spec, file) in built {
            let destDir = lib + spec.destLocation
            let name = String(file[file.index(after: file.lastIndex(of: "/")!)...])
            // Another dkms module's installed file is neither replaced nor
            // taken as this module's "original" (before the version check,
            // which would only call it the same module at another version).
            for suffix in ModuleFileName.suffixes {
                let path = "\(destDir)/\(spec.destName)\(suffix)"
                if FS.exists(path), let owner = files.owner(of: path, except: mv.name, target.build) {
                    throw DKMSError(.installFailed, "\(path) is installed by the dkms module \(owner); \(mv) will not replace it.")
                }
            }
            if let problem = versionSanityProblem(spec, builtFile: file, target) {
                said += problem.map { .errorLine($0) }
                continue
            }
            installedAny = true
            if !markerExists { try archiveOriginal(mv.name, spec, target, into: &plan, notes: notes) }
            said.append(.line("Installing \(destDir)/\(name)"))
            // A stale variant (x.ko when installing x.ko.xz) would shadow ours.
            for suffix in ModuleFileName.suffixes where "\(spec.destName)\(suffix)" != name {
                if FS.exists("\(destDir)/\(spec.destName)\(suffix)") { plan.steps.append(.removeFile(path: "\(destDir)/\(spec.destName)\(suffix)")) }
            }
            plan.steps.append(.installFile(source: file, destination: "\(destDir)/\(name)", mode: 0o644))
        }
        if !conf.declaredModules.isEmpty && !installedAny { throw DKMSError(.installFailed, "Installation aborted.") }
        plan.steps.append(.setLink(path: tree.installedLink(mv.name, target.build), target: "\(mv.version)/\(k)/\(a)"))
        return plan
    }

    /// Plans moving a same-named module found in the kernel's tree to
    /// original_module/<k>/<a>/, with a .origin file naming where it was.
    mutating func archiveOriginal(_ m: String, _ spec: ModuleSpec, _ target: KernelTarget,
                         into plan: inout TransactionPlan, notes: String) throws {
        let lib = tree.libTree(target.version)
        var candidates = ["\(lib)/extra", "\(lib)/updates", lib + spec.destLocation].compactMap {
            ModuleFileName.find(in: $0, name: spec.destName)
        }
        if candidates.isEmpty { candidates = ModuleLocator.find(in: lib, name: spec.destName) }
        guard let original = candidates.first else { return }
        if let owner = files.owner(of: original, except: m, target.build) {
            throw DKMSError(.installFailed, "\(original) is installed by the dkms module \(owner); \(m) cannot archive it as its original.")
        }
        let backup = tree.originalModuleDir(m, target.build)
        said.append(.line("Found pre-existing \(original), archiving for uninstallation"))
        let name = String(original[original.index(after: original.lastIndex(of: "/")!)...])
        let note = notes + "/" + name + ".origin"
        try Staging.writeFile(note, Array((original + "\n").utf8))
        plan.steps.append(.installFile(source: note, destination: backup + "/" + name + ".origin", mode: 0o644))
        plan.steps.append(.backupOriginal(path: original, backupPath: backup + "/" + name))
    }
}
