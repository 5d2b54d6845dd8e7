import SafeFS

/// `dkms status`, computed from the tree alone. dkms.conf is never read:
/// the destination of each module comes from the build manifest, or for
/// trees the reference dkms made, from the distribution's default location.
public struct StatusReport {
    public enum State: String { case added, built, installed }

    public struct Entry: Equatable {
        public var module: String
        public var version: String
        public var kernel: String?
        public var arch: String?
        public var state: String
        public var notes: [String]

        /// The line exactly as dkms 3.x prints it.
        /// The names come from directory names of the tree: shown escaped
        /// (Printable), so none can move the cursor or fake another line.
        public var line: String {
            let (module, version) = (Printable.visible(module), Printable.visible(version))
            guard let kernel, let arch else { return "\(module)/\(version): \(state)" }
            return "\(module)/\(version), \(Printable.visible(kernel)), \(Printable.visible(arch)): \(state)" + notes.map { " (\($0))" }.joined()
        }
    }

    public var tree: DKMSTree
    public var defaultDestLocation: String

    public init(tree: DKMSTree, defaultDestLocation: String) {
        self.tree = tree
        self.defaultDestLocation = defaultDestLocation
    }

    public func entries(module: String? = nil, version: String? = nil,
                        kernel: String? = nil, arch: String? = nil) -> [Entry] {
        var out: [Entry] = []
        let modules = module.map { [$0] } ?? GlobOrder.sorted(tree.modules())
        for m in modules {
            let versions = version.map { [$0] } ?? GlobOrder.sorted(FS.list(tree.moduleDir(m)))
            for mv in versions.map({ ModuleVersion(m, $0) }) where tree.isAdded(mv) {
                let built = builtEntries(mv, kernel: kernel, arch: arch)
                out += built.isEmpty ? [Entry(module: m, version: mv.version, kernel: nil, arch: nil, state: "added", notes: [])] : built
            }
        }
        return out
    }

    func builtEntries(_ mv: ModuleVersion, kernel: String?, arch: String?) -> [Entry] {
        var out: [Entry] = []
        let kernels = kernel.map { [$0] } ?? GlobOrder.sorted(FS.list(tree.versionDir(mv)).filter(ModuleFileName.looksLikeKernel))
        for k in kernels {
            let arches = arch.map { [$0] } ?? GlobOrder.sorted(FS.list(tree.kernelDir(mv, k)))
            for a in arches where tree.isBuilt(mv, BuildTarget(k, a)) {
                let installed = tree.isInstalledLink(mv, BuildTarget(k, a))
                out.append(Entry(module: mv.name, version: mv.version, kernel: k, arch: a,
                                 state: installed ? "installed" : "built",
                                 notes: notes(mv, BuildTarget(k, a), installed: installed)))
            }
        }
        return out
    }

    /// The warnings dkms appends to a built or installed line.
    func notes(_ mv: ModuleVersion, _ t: BuildTarget, installed: Bool) -> [String] {
        var notes: [String] = []
        if FS.isDirectory(tree.originalModuleDir(mv.name, t)) { notes.append("Original modules exist") }
        let builtDir = tree.builtModuleDir(mv, t)
        let expected: [BuildManifest.Entry]
        if let manifest = BuildManifest.load(tree.manifestPath(mv, t)) {
            expected = manifest.modules
        } else {
            expected = tree.builtModuleFiles(mv, t).map {
                BuildManifest.Entry(destName: ModuleFileName.stem($0), destLocation: defaultDestLocation)
            }
        }
        // dkms 3.2 reports the first problem it meets and stops.
        for e in expected {
            guard let builtFile = ModuleFileName.find(in: builtDir, name: e.destName) else {
                notes.append("Built modules are missing in the kernel modules folder")
                break
            }
            if installed {
                let dir = tree.libTree(t.kernel) + e.destLocation
                guard let installedFile = ModuleFileName.find(in: dir, name: e.destName),
                      FS.sameContent(builtFile, installedFile) else {
                    notes.append("Differences between built and installed modules")
                    break
                }
            }
        }
        return notes
    }
}

/// The order bash's pathname expansion returns names in, under the C
/// locale that hooks and services run dkms with: plain byte order.
public enum GlobOrder {
    public static func sorted(_ names: [String]) -> [String] {
        names.filter { !$0.hasPrefix(".") }.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }
}
