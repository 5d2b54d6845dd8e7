import SafeFS

/// BUILD_DEPENDS_REBUILD: the installed modules built against another
/// version or other exports of a dependency that was just installed are
/// built and installed again, as part of that install.
extension Engine {
    /// After `dep` is (re)installed for `target`: rebuild and reinstall the
    /// installed modules that were built against other exports of it, as
    /// dkms 3.2 does for BUILD_DEPENDS_REBUILD.
    mutating func rebuildDependents(of dep: String, _ target: KernelTarget) throws {
        try rebuildForUpdatedDependencies(target)
        let bt = target.build
        let now = tree.dependencyExports(dep, target.build)
        for m in tree.modules() where m != dep {
            guard let base = FS.realPath(tree.installedLink(m, bt)),
                  let manifest = BuildManifest.load(base + "/log/dkms-swift.manifest"),
                  let recorded = manifest.dependencies.first(where: { $0.name == dep }),
                  recorded.exports != now else { continue }
            let mv = ModuleVersion(m, String(base.split(separator: "/").dropLast(2).last ?? ""))
            guard tree.isInstalled(mv, bt) else { continue }
            out.line("")
            out.line("Rebuilding module \(mv) due to updated dependencies")
            out.line("")
            try uninstallOne(mv, target)
            try unbuildOne(mv, target, uninstallFirst: false)
            let conf = try buildOne(mv, target)
            try installOne(mv, target, conf: conf)
            try rebuildDependents(of: mv.name, target)
        }
    }

    /// dkms's check_and_rebuild_dependent_modules, after an install for
    /// `target`: every module built for it with BUILD_DEPENDS_REBUILD=yes
    /// (unless --force) whose .dep_<dependency> file is missing or names
    /// another version than the newest in the tree is uninstalled, unbuilt,
    /// built and installed again.
    mutating func rebuildForUpdatedDependencies(_ target: KernelTarget) throws {
        if context.invocation.force { return }
        let bt = target.build
        var toRebuild: [(ModuleVersion, ModuleConfig)] = []
        for m in tree.modules() {
            for mv in tree.added(m) where tree.isBuilt(mv, bt) {
                // Only files that name the directive are evaluated (one sandboxed
                // evaluation per built module and install would be the price otherwise).
                let (path, overrides) = confs.files(mv, target)
                guard ([path] + overrides).contains(where: { f in
                    FS.readFile(f).map { String(decoding: $0, as: UTF8.self).contains("BUILD_DEPENDS_REBUILD") } ?? false
                }) else { continue }
                guard let conf = try? confs.read(mv, target, strict: false),
                      !conf.buildDepends.isEmpty, conf.rebuildOnDependencyUpdate else { continue }
                let base = tree.baseDir(mv, bt)
                let updated = conf.buildDepends.contains { dep in
                    guard NameRules.problem(inComponent: dep) == nil, let now = tree.latestVersion(of: dep) else { return false }
                    let recorded = FS.readText(base + "/.dep_" + dep)?.split(separator: "\n").first.map(String.init)
                    return recorded != now
                }
                if updated { toRebuild.append((mv, conf)) }
            }
        }
        var rebuilt: Set<String> = []
        var cycles: [String] = []
        for (mv, conf) in toRebuild {
            // dkms defers a module whose dependencies were all rebuilt in this pass.
            if conf.buildDepends.allSatisfy({ rebuilt.contains($0) }) { cycles.append("\(mv)"); continue }
            out.line("")
            out.line("Rebuilding module \(mv) due to updated dependencies")
            out.line("")
            if tree.isInstalled(mv, bt) { try uninstallOne(mv, target) }
            try unbuildOne(mv, target, uninstallFirst: false)
            let conf = try buildOne(mv, target)
            try installOne(mv, target, conf: conf)
            rebuilt.insert(mv.name)
        }
        if !cycles.isEmpty {
            out.line("Warning: The following modules could not be rebuilt due to dependency cycles:")
            for c in cycles { out.line("  \(c)") }
        }
    }
}
