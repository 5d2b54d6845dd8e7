import SafeFS

/// The on-disk state in dkms 3.x's own layout, so that the reference dkms and
/// this one read each other's trees:
///
///     $dkms_tree/<m>/<v>/source -> $source_tree/<m>-<v>
///     $dkms_tree/<m>/<v>/<kver>/<arch>/module/*.ko[.xz|.zst|.gz]
///     $dkms_tree/<m>/<v>/<kver>/<arch>/log/make.log
///     $dkms_tree/<m>/kernel-<kver>-<arch> -> <v>/<kver>/<arch>    (installed)
///     $dkms_tree/<m>/original_module/<kver>/<arch>/                (backups)
public struct DKMSTree {
    public var root: String
    public var sourceTree: String
    public var installTree: String

    public init(root: String, sourceTree: String, installTree: String) {
        self.root = root; self.sourceTree = sourceTree; self.installTree = installTree
    }

    public func moduleDir(_ m: String) -> String { "\(root)/\(m)" }
    public func versionDir(_ mv: ModuleVersion) -> String { "\(root)/\(mv.name)/\(mv.version)" }
    public func sourceLink(_ mv: ModuleVersion) -> String { "\(root)/\(mv.name)/\(mv.version)/source" }
    public func buildDir(_ mv: ModuleVersion) -> String { "\(root)/\(mv.name)/\(mv.version)/build" }
    public func confPath(_ mv: ModuleVersion) -> String { "\(root)/\(mv.name)/\(mv.version)/source/dkms.conf" }
    public func sourceDir(_ mv: ModuleVersion) -> String { "\(sourceTree)/\(mv.name)-\(mv.version)" }
    public func kernelDir(_ mv: ModuleVersion, _ k: String) -> String { "\(root)/\(mv.name)/\(mv.version)/\(k)" }
    public func baseDir(_ mv: ModuleVersion, _ t: BuildTarget) -> String { "\(root)/\(mv.name)/\(mv.version)/\(t.kernel)/\(t.arch)" }
    public func builtModuleDir(_ mv: ModuleVersion, _ t: BuildTarget) -> String { baseDir(mv, t) + "/module" }
    public func logDir(_ mv: ModuleVersion, _ t: BuildTarget) -> String { baseDir(mv, t) + "/log" }
    /// Names no version: the link says which version is installed.
    public func installedLink(_ m: String, _ t: BuildTarget) -> String { "\(root)/\(m)/kernel-\(t.kernel)-\(t.arch)" }
    public func originalModuleDir(_ m: String, _ t: BuildTarget) -> String { "\(root)/\(m)/original_module/\(t.kernel)/\(t.arch)" }
    public func libTree(_ k: String) -> String { "\(installTree)/\(k)" }
    /// What we record at build time so that `status` and `uninstall` know
    /// each module's destination without evaluating dkms.conf again.
    public func manifestPath(_ mv: ModuleVersion, _ t: BuildTarget) -> String { logDir(mv, t) + "/dkms-swift.manifest" }

    // MARK: State, as dkms decides it

    public func isAdded(_ mv: ModuleVersion) -> Bool {
        FS.isDirectory(versionDir(mv)) && (FS.isSymlink(sourceLink(mv)) || FS.isDirectory(sourceLink(mv)))
    }

    /// dkms 3.1+: the version dir exists but its source link leads nowhere.
    public func isBroken(_ mv: ModuleVersion) -> Bool {
        guard FS.isDirectory(versionDir(mv)) else { return false }
        let link = sourceLink(mv)
        if FS.isSymlink(link) { return !FS.isDirectory(link) }
        return !FS.isDirectory(link) && FS.isDirectory(sourceDir(mv))
    }

    /// Module files in the built area, by name (compressed or not).
    public func builtModuleFiles(_ mv: ModuleVersion, _ t: BuildTarget) -> [String] {
        FS.list(builtModuleDir(mv, t)).filter { ModuleFileName.isModule($0) }.sorted()
    }

    /// dkms 3.2: a build exists when its module/ directory does; missing
    /// files inside it are reported by status as a warning, not a state.
    public func isBuilt(_ mv: ModuleVersion, _ t: BuildTarget) -> Bool {
        FS.isDirectory(builtModuleDir(mv, t))
    }

    /// The kernel-<k>-<a> link resolves to this version's build directory.
    public func isInstalledLink(_ mv: ModuleVersion, _ t: BuildTarget) -> Bool {
        let link = installedLink(mv.name, t)
        guard FS.isSymlink(link), let target = FS.realPath(link) else { return false }
        guard let base = FS.realPath(baseDir(mv, t)) else { return false }
        return target == base
    }

    public func isInstalled(_ mv: ModuleVersion, _ t: BuildTarget) -> Bool {
        isBuilt(mv, t) && isInstalledLink(mv, t)
    }

    /// Module names in the tree (directories holding at least one version).
    public func modules() -> [String] {
        FS.list(root).filter { !$0.hasPrefix(".") && FS.isDirectory("\(root)/\($0)") }.sorted()
    }

    public func versions(_ m: String) -> [String] {
        FS.list(moduleDir(m)).filter { name in
            name != "original_module" && !name.hasPrefix("kernel-") && isAdded(ModuleVersion(m, name))
        }.sorted(by: VersionOrder.less)
    }

    /// `versions(m)` as the values the verbs take.
    public func added(_ m: String) -> [ModuleVersion] { versions(m).map { ModuleVersion(m, $0) } }

    /// (kernel, arch) pairs that have a directory under <m>/<v>. dkms globs
    /// `+([0-9]).*/*`: kernel names start with a digit and contain a dot.
    public func kernelArches(_ mv: ModuleVersion) -> [BuildTarget] {
        var result: [BuildTarget] = []
        for k in FS.list(versionDir(mv)) where ModuleFileName.looksLikeKernel(k) {
            let kdir = kernelDir(mv, k)
            guard FS.isDirectory(kdir) else { continue }
            for a in FS.list(kdir) where FS.isDirectory("\(kdir)/\(a)") {
                result.append(BuildTarget(k, a))
            }
        }
        return result
    }
}
