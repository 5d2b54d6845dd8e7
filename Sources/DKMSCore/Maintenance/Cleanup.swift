import BuildCache
import Foundation
import Glibc
import SafeFS

/// `dkms cleanup`: finds what the tree and the install tree no longer need.
/// A dry run lists the findings; `--yes` removes exactly those, then runs
/// depmod for each kernel touched.
public struct Cleanup {
    public enum Kind: String {
        case goneKernel = "module files of a removed kernel"
        case unownedModule = "module file no tree entry owns"
        case brokenEntry = "tree entry whose source is gone"
        case staleVersion = "old version installed for no kernel"
        case staleBuildDir = "leftover build or staging directory"
        case unreachableCacheEntry = "build cache entry no longer reachable"
        case unreferencedCacheBlob = "build cache blob no record references"
    }

    /// What a build cache finding removes: a record (with the blobs only it
    /// uses) or a blob.
    public enum CacheItem: Equatable {
        case record(Digest, blobs: [Digest])
        case blob(Digest)
    }

    public struct Finding: Equatable {
        public var kind: Kind
        public var path: String
        public var bytes: Int64
        /// The kernel whose modules.dep must be refreshed when this goes.
        public var kernel: String?
        /// What the path is, when the path alone does not say.
        public var note: String? = nil
        /// Set for build cache findings, which the store removes (not the tree transaction).
        public var cacheItem: CacheItem? = nil
    }

    public var tree: DKMSTree
    public var destLocations: [String]
    /// The headers a kernel builds against (Context.kernelSourceDir: the
    /// install tree's `build` link, else /lib/modules/<k>/build): a scratch
    /// install tree has no `build` of its own while the kernel's headers are
    /// installed.
    public var headersDir: (String) -> String

    public init(tree: DKMSTree, destLocations: [String], headersDir: @escaping (String) -> String) {
        self.tree = tree
        self.destLocations = destLocations
        self.headersDir = headersDir
    }

    public func findings() -> [Finding] {
        var result: [Finding] = []
        let kernels = GlobOrder.sorted(FS.list(tree.installTree)).filter { FS.isDirectory(tree.libTree($0)) }
        let owned = ownedInstalledFiles()
        for k in kernels {
            if isGone(k) {
                for f in dkmsFiles(k) { result.append(Finding(kind: .goneKernel, path: f, bytes: size(f), kernel: nil)) }
                for m in tree.modules() {
                    for mv in FS.list(tree.moduleDir(m)).map({ ModuleVersion(m, $0) }) where FS.isDirectory(tree.kernelDir(mv, k)) && tree.isAdded(mv) {
                        result.append(Finding(kind: .goneKernel, path: tree.kernelDir(mv, k), bytes: size(tree.kernelDir(mv, k)), kernel: nil))
                    }
                    for link in FS.list(tree.moduleDir(m)) where link.hasPrefix("kernel-\(k)-") {
                        result.append(Finding(kind: .goneKernel, path: tree.moduleDir(m) + "/" + link, bytes: 0, kernel: nil))
                    }
                }
                continue
            }
            for f in dkmsFiles(k) where !owned.contains(f) {
                result.append(Finding(kind: .unownedModule, path: f, bytes: size(f), kernel: k))
            }
        }
        for m in tree.modules() {
            let versions = FS.list(tree.moduleDir(m)).filter { $0 != "original_module" && !$0.hasPrefix("kernel-") && FS.isDirectory(tree.versionDir(ModuleVersion(m, $0))) }
            let installedVersions = Set(FS.list(tree.moduleDir(m)).filter { $0.hasPrefix("kernel-") }.compactMap {
                FS.readLink(tree.moduleDir(m) + "/" + $0)?.split(separator: "/").first.map(String.init)
            })
            for v in versions {
                let mv = ModuleVersion(m, v)
                let vdir = tree.versionDir(mv)
                let link = tree.sourceLink(mv)
                if FS.isSymlink(link) && !FS.isDirectory(link) {
                    result.append(Finding(kind: .brokenEntry, path: vdir, bytes: size(vdir), kernel: nil))
                    continue
                }
                if let newest = installedVersions.max(by: VersionOrder.less), !installedVersions.contains(v),
                   VersionOrder.less(v, newest) {
                    result.append(Finding(kind: .staleVersion, path: vdir, bytes: size(vdir), kernel: nil))
                    continue
                }
                for k in FS.list(vdir) where ModuleFileName.looksLikeKernel(k) {
                    for a in FS.list(vdir + "/" + k) where a.hasPrefix(".tmp_") {
                        result.append(Finding(kind: .staleBuildDir, path: "\(vdir)/\(k)/\(a)", bytes: size("\(vdir)/\(k)/\(a)"), kernel: nil))
                    }
                }
            }
        }
        return result
    }

    /// A kernel is gone when its headers, its own modules and its image are:
    /// only the files dkms put there are left. Anything else that says the
    /// kernel is there (headers it builds against, modules.order or
    /// modules.builtin, the kernel's own modules, an image in /boot or, as on
    /// Arch, beside its modules) keeps it, and with it what dkms installed.
    public func isGone(_ k: String) -> Bool {
        let lib = tree.libTree(k)
        if FS.isDirectory(headersDir(k) + "/include") || FS.isDirectory(lib + "/build/include") { return false }
        for f in ["kernel", "modules.order", "modules.builtin", "vmlinuz"] where FS.exists(lib + "/" + f) { return false }
        return !FS.exists("/boot/vmlinuz-\(k)")
    }

    /// Module files in the locations dkms installs to.
    func dkmsFiles(_ k: String) -> [String] {
        var files: [String] = []
        for loc in Set(destLocations) {
            let dir = tree.libTree(k) + loc
            for f in FS.list(dir) where ModuleFileName.isModule(f) && FS.isRegularFile(dir + "/" + f) {
                files.append(dir + "/" + f)
            }
        }
        return files.sorted()
    }

    /// Files some installed entry of the tree accounts for.
    func ownedInstalledFiles() -> Set<String> {
        var owned = Set<String>()
        for m in tree.modules() {
            for link in FS.list(tree.moduleDir(m)) where link.hasPrefix("kernel-") {
                guard let target = FS.readLink(tree.moduleDir(m) + "/" + link) else { continue }
                let parts = target.split(separator: "/").map(String.init)
                guard parts.count == 3 else { continue }
                let (mv, bt) = (ModuleVersion(m, parts[0]), BuildTarget(parts[1], parts[2]))
                let entries = BuildManifest.load(tree.manifestPath(mv, bt))?.modules
                    ?? tree.builtModuleFiles(mv, bt).map { BuildManifest.Entry(destName: ModuleFileName.stem($0), destLocation: destLocations[0]) }
                for e in entries {
                    for loc in Set([e.destLocation] + destLocations) {
                        if let f = ModuleFileName.find(in: tree.libTree(bt.kernel) + loc, name: e.destName) { owned.insert(f) }
                    }
                }
            }
        }
        return owned
    }

    func size(_ path: String) -> Int64 {
        guard let st = FS.lstatInfo(path) else { return 0 }
        if (st.st_mode & S_IFMT) != S_IFDIR { return Int64(st.st_size) }
        return FS.list(path).reduce(Int64(0)) { $0 + size(path + "/" + $1) }
    }
}

public func humanSize(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(bytes), i = 0
    while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
    return i == 0 ? "\(bytes) B" : String(format: "%.1f %@", v, units[i])
}
