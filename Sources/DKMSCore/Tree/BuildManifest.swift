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

    public init(modules: [Entry]) { self.modules = modules }

    static let header = "dkms-swift manifest 1"

    public func encoded() -> String {
        var s = BuildManifest.header + "\n"
        for e in modules { s += "module\t\(e.destName)\t\(e.destLocation)\n" }
        return s
    }

    public static func load(_ path: String) -> BuildManifest? {
        guard let text = FS.readText(path) else { return nil }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.first == Substring(header) else { return nil }
        lines.removeFirst()
        var entries: [Entry] = []
        for l in lines {
            let f = l.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 3, f[0] == "module" else { return nil }
            entries.append(Entry(destName: String(f[1]), destLocation: String(f[2])))
        }
        return BuildManifest(modules: entries)
    }
}
