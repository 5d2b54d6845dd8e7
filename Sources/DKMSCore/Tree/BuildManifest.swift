import Glibc

/// Written beside make.log when a build completes: the module files this
/// build produced and where each one installs. It lets `status`,
/// `uninstall` and `cleanup` answer without evaluating dkms.conf (the
/// reference re-sources dkms.conf for every status line, which is why its
/// status takes seconds). Trees made by the reference dkms have no manifest;
/// readers then fall back to what is on disk.
public struct BuildManifest: Equatable {
    public struct Entry: Equatable {
        public var destName: String
        public var destLocation: String
    }
    public var modules: [Entry]
    /// BUILD_DEPENDS as they were when this was built: module name and the
    /// digest of its installed build's exports (Module.symvers). When a
    /// dependency is reinstalled with other exports, this build is stale.
    public var dependencies: [(name: String, exports: String)] = []

    public init(modules: [Entry], dependencies: [(name: String, exports: String)] = []) {
        self.modules = modules
        self.dependencies = dependencies
    }

    public static func == (a: BuildManifest, b: BuildManifest) -> Bool {
        a.modules == b.modules && a.dependencies.map { $0.name + "=" + $0.exports } == b.dependencies.map { $0.name + "=" + $0.exports }
    }

    static let header = "dkms-swift manifest 1"

    public func encoded() -> String {
        var s = BuildManifest.header + "\n"
        for e in modules { s += "module\t\(e.destName)\t\(e.destLocation)\n" }
        for d in dependencies { s += "depends\t\(d.name)\t\(d.exports)\n" }
        return s
    }

    public static func load(_ path: String) -> BuildManifest? {
        guard let text = FS.readText(path) else { return nil }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.first == Substring(header) else { return nil }
        lines.removeFirst()
        var entries: [Entry] = []
        var deps: [(name: String, exports: String)] = []
        for l in lines {
            let f = l.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 3 else { return nil }
            switch f[0] {
            case "module": entries.append(Entry(destName: String(f[1]), destLocation: String(f[2])))
            case "depends": deps.append((String(f[1]), String(f[2])))
            default: return nil
            }
        }
        return BuildManifest(modules: entries, dependencies: deps)
    }
}
