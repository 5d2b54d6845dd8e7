import Glibc
import SafeFS

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
    /// POST_REMOVE as the build's evaluation of dkms.conf set it, and the
    /// digest of what that evaluation read from the trees (`confInputs`):
    /// while those are unchanged, uninstall runs it without evaluating the
    /// file again (a sandbox start, plus for files that source the kernel's
    /// .config, tens of milliseconds of bash).
    public var postRemove: (confInputs: String, script: String)?

    public init(modules: [Entry], dependencies: [(name: String, exports: String)] = [],
                postRemove: (confInputs: String, script: String)? = nil) {
        self.modules = modules
        self.dependencies = dependencies
        self.postRemove = postRemove
    }

    public static func == (a: BuildManifest, b: BuildManifest) -> Bool {
        a.modules == b.modules && a.dependencies.map { $0.name + "=" + $0.exports } == b.dependencies.map { $0.name + "=" + $0.exports }
            && a.postRemove?.confInputs == b.postRemove?.confInputs && a.postRemove?.script == b.postRemove?.script
    }

    static let header = "dkms-swift manifest 1"

    public func encoded() -> String {
        var s = BuildManifest.header + "\n"
        // Names were validated (NameRules); escaped all the same, so that no
        // value can ever add a field or a record.
        typealias M = BuildManifest
        for e in modules { s += "module\t\(M.field(e.destName))\t\(M.field(e.destLocation))\n" }
        for d in dependencies { s += "depends\t\(M.field(d.name))\t\(M.field(d.exports))\n" }
        // A script text with a tab, CR or LF (scalars: "\r\n" is one Character) is not recorded: uninstall evaluates dkms.conf then.
        if let p = postRemove, !p.script.unicodeScalars.contains(where: { $0 == "\t" || $0 == "\n" || $0 == "\r" }),
           !p.confInputs.unicodeScalars.contains(where: { $0 == "\t" || $0 == "\n" || $0 == "\r" }) {
            s += "postremove\t\(p.confInputs)\t\(p.script)\n"
        }
        return s
    }

    /// A field of a module or depends record: backslash, tab, CR and LF as
    /// `\\`, `\t`, `\r`, `\n` (none of which a valid name contains, so
    /// manifests written before this read the same).
    static func field(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func unfield(_ s: Substring) -> String {
        guard s.contains("\\") else { return String(s) }
        var out = "", escaped = false
        for c in s.unicodeScalars {
            if escaped {
                switch c {
                case "t": out += "\t"
                case "n": out += "\n"
                case "r": out += "\r"
                default: out.unicodeScalars.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.unicodeScalars.append(c)
            }
        }
        if escaped { out += "\\" }
        return out
    }

    public static func load(_ path: String) -> BuildManifest? {
        FS.readText(path).flatMap { load(text: $0) }
    }

    static func load(text: String) -> BuildManifest? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.first == Substring(header) else { return nil }
        lines.removeFirst()
        var entries: [Entry] = []
        var deps: [(name: String, exports: String)] = []
        var postRemove: (confInputs: String, script: String)?
        for l in lines {
            let f = l.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 3 else { return nil }
            switch f[0] {
            case "module": entries.append(Entry(destName: unfield(f[1]), destLocation: unfield(f[2])))
            case "depends": deps.append((unfield(f[1]), unfield(f[2])))
            case "postremove": postRemove = (String(f[1]), String(f[2]))
            default: return nil
            }
        }
        return BuildManifest(modules: entries, dependencies: deps, postRemove: postRemove)
    }
}
