import BuildCache
import SafeFS

/// What a BUILD_DEPENDS module is in the tree, as its dependents' builds record it.
extension DKMSTree {
    /// The identity of a module's installed exports for `target`: the digest
    /// of its Module.symvers (empty when none is installed or it exports nothing).
    public func dependencyExports(_ name: String, _ target: BuildTarget) -> String {
        guard let dir = FS.realPath(installedLink(name, target)) else { return "none" }
        return SHA256.hash(bytes: FS.readFile(dir + "/module/Module.symvers") ?? []).short
    }

    /// The newest version (sort -V) of `module` in the tree, whatever its state.
    public func latestVersion(of module: String) -> String? {
        versions(module).max { VersionOrder.less($0, $1) }
    }
}
