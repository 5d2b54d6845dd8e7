import SafeFS

/// Which files the installed dkms modules own in a kernel's tree: an
/// install never replaces or archives another's, an uninstall never removes one.
struct InstalledFiles {
    let context: Context
    var tree: DKMSTree { context.tree }

    /// Where each module of an installed build lives: its manifest's
    /// location, or for trees the reference dkms made (no manifest), the
    /// distribution's.
    func entries(_ mv: ModuleVersion, _ t: BuildTarget,
                          manifest: BuildManifest?) -> [BuildManifest.Entry] {
        if let manifest { return manifest.modules }
        let location = context.destOverride ?? "/updates/dkms"
        return tree.builtModuleFiles(mv, t).map { .init(destName: ModuleFileName.stem($0), destLocation: location) }
    }

    /// The other dkms module (name/version) installed for k/a whose files
    /// include `path`, by its manifest (or its built files, for trees
    /// without one); nil when none.
    func owner(of path: String, except m: String, _ t: BuildTarget) -> String? {
        func norm(_ p: String) -> String { p.split(separator: "/").joined(separator: "/") }
        let want = norm(path), lib = tree.libTree(t.kernel)
        for om in tree.modules() where om != m {
            for other in tree.added(om) where tree.isInstalled(other, t) {
                let manifest = BuildManifest.load(tree.manifestPath(other, t))
                for e in entries(other, t, manifest: manifest) {
                    for suffix in ModuleFileName.suffixes where norm("\(lib)\(e.destLocation)/\(e.destName)\(suffix)") == want {
                        return "\(other)"
                    }
                }
            }
        }
        return nil
    }
}
