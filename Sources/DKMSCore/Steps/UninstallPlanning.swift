import Installer
import SafeFS

/// What uninstalling one build for one kernel does, as one transaction's
/// plan and the lines dkms says while it plans it: the module files (never
/// one another installed dkms module owns), the originals put back, the
/// link and the directories left empty.
struct UninstallPlanning {
    let context: Context
    var tree: DKMSTree { context.tree }
    var files: InstalledFiles { InstalledFiles(context: context) }

    func plan(_ mv: ModuleVersion, _ target: KernelTarget, manifest: BuildManifest?) -> (TransactionPlan, [Message]) {
        let k = target.version, a = target.arch
        var said: [Message] = [.line("Module \(mv) for kernel \(k) (\(a)):"),
                               .line("Before uninstall, this module version was ACTIVE on this kernel.")]
        let lib = tree.libTree(k)
        var plan = TransactionPlan(description: "uninstall \(mv) for \(k) (\(a))", touchedKernels: [k])
        var dirs: [String] = []
        var removing: Set<String> = []
        for e in files.entries(mv, target.build, manifest: manifest) {
            let dir = lib + e.destLocation
            guard let installed = ModuleFileName.find(in: dir, name: e.destName) else {
                said.append(.line("Module \(e.destName)\(KernelModuleSuffix.of(libTree: lib)) was not found within \(lib)/"))
                continue
            }
            said.append(.line("Deleting \(installed)"))
            for s in ModuleFileName.suffixes where FS.exists("\(dir)/\(e.destName)\(s)") {
                // Never a file another installed dkms module owns.
                if let owner = files.owner(of: "\(dir)/\(e.destName)\(s)", except: mv.name, target.build) {
                    said.append(.warning("\(dir)/\(e.destName)\(s) is installed by the dkms module \(owner); left in place."))
                    continue
                }
                plan.steps.append(.removeFile(path: "\(dir)/\(e.destName)\(s)"))
                removing.insert("\(dir)/\(e.destName)\(s)")
            }
            dirs.append(dir)
        }
        restoreOriginals(mv.name, target.build, into: &plan, said: &said, removing: removing)
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
        return (plan, said)
    }

    /// Plans putting archived originals back where their .origin file says
    /// they came from, refusing any recorded path outside this kernel's tree.
    /// The original may go back where ours is being removed (`removing`): a
    /// module that replaced one of the same name in the same place.
    func restoreOriginals(_ m: String, _ t: BuildTarget, into plan: inout TransactionPlan, said: inout [Message],
                          removing: Set<String> = []) {
        let backup = tree.originalModuleDir(m, t)
        let lib = tree.libTree(t.kernel)
        for entry in FS.list(backup).sorted() where entry.hasSuffix(".origin") {
            let file = backup + "/" + String(entry.dropLast(".origin".count))
            guard FS.isRegularFile(file) else { continue }
            let dest = (FS.readText(backup + "/" + entry) ?? "").split(separator: "\n").first.map(String.init) ?? ""
            guard dest.hasPrefix(lib + "/"), NameRules.problem(inLocation: String(dest.dropFirst(lib.count))) == nil,
                  !FS.exists(dest) || removing.contains(dest) else {
                said.append(.warning("Bad original location '\(dest)' in \(backup)/\(entry)"))
                continue
            }
            said.append(.line("Restoring archived original module \(dest)"))
            plan.steps.append(.restoreOriginal(backupPath: file, path: dest))
            plan.steps.append(.removeFile(path: backup + "/" + entry))
        }
    }
}
