import Foundation
import SafeFS
/// `dkms status --json`: one object per status line, with the facts a
/// script would otherwise dig out of the tree by hand, in a versioned
/// envelope. The schema is docs/status-json.md (prose) and
/// docs/status.schema.json (JSON Schema); `schemaVersion` changes only when a
/// field is removed or changes meaning — new fields may appear in any version.
/// (dkms 3.0 changed its text output and broke the parsers that read it.)
public struct StatusJSON {
    public static let schemaVersion = 1
    public var report: StatusReport

    public init(report: StatusReport) { self.report = report }

    public func render(_ entries: [StatusReport.Entry]) -> String {
        "{\"schema_version\": \(StatusJSON.schemaVersion), \"dkms_version\": \(q(DKMSVersion.string)),\n \"entries\": ["
            + entries.map { object(for: $0) }.joined(separator: ",\n  ") + "]}"
    }

    func object(for e: StatusReport.Entry) -> String {
        var fields: [(String, String)] = [("module", q(e.module)), ("version", q(e.version))]
        fields.append(("kernel", e.kernel.map(q) ?? "null"))
        fields.append(("arch", e.arch.map(q) ?? "null"))
        fields.append(("state", q(e.state)))
        fields.append(("notes", "[" + e.notes.map(q).joined(separator: ", ") + "]"))
        if let k = e.kernel, let a = e.arch {
            let tree = report.tree, mv = ModuleVersion(e.module, e.version), bt = BuildTarget(k, a)
            let builtDir = tree.builtModuleDir(mv, bt)
            let manifest = BuildManifest.load(tree.manifestPath(mv, bt))
            var files: [String] = []
            for f in tree.builtModuleFiles(mv, bt) {
                let stem = ModuleFileName.stem(f)
                let location = manifest?.modules.first { $0.destName == stem }?.destLocation ?? report.defaultDestLocation
                let installed = e.state == "installed" ? ModuleFileName.find(in: tree.libTree(k) + location, name: stem) : nil
                let bytes = FS.readFile(builtDir + "/" + f) ?? []
                files.append("{" + [
                    ("name", q(stem)), ("file", q(builtDir + "/" + f)),
                    ("installed_path", installed.map(q) ?? "null"),
                    ("compression", q(compression(of: f))),
                    ("signed", ModuleSignature.isSigned(bytes) ? "true" : "false"),
                    ("size", String(bytes.count)),
                ].map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
            }
            fields.append(("modules", "[" + files.joined(separator: ", ") + "]"))
            if let cache = CacheMark.read(tree.logDir(mv, bt)) {
                fields.append(("cache", "{\"key\": \(q(String(cache.key.prefix(12)))), \"hit\": \(cache.hit)}"))
            }
        }
        return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }

    func compression(of name: String) -> String {
        if name.hasSuffix(".xz") { return "xz" }
        if name.hasSuffix(".zst") { return "zstd" }
        if name.hasSuffix(".gz") { return "gzip" }
        return "none"
    }

    func q(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if c.value < 0x20 || c.value == 0x7f || (0x80...0x9f).contains(c.value) || Printable.isInvisible(c.value) { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }
}

/// A signed module ends with the kernel's signature marker.
public enum ModuleSignature {
    static let marker = Array("~Module signature appended~\n".utf8)
    public static func isSigned(_ bytes: [UInt8]) -> Bool { bytes.count > marker.count && bytes.suffix(marker.count).elementsEqual(marker) }

    /// The module without its appended signature: what the build produced.
    /// Layout: module, signature, struct module_signature (12 bytes, the
    /// signature length big-endian in its last 4), marker.
    public static func stripped(_ bytes: [UInt8]) -> [UInt8] {
        guard isSigned(bytes), bytes.count >= marker.count + 12 else { return bytes }
        let info = bytes.count - marker.count - 12
        let len = bytes[(info + 8)..<(info + 12)].reduce(0) { $0 << 8 | Int($1) }
        guard info - len >= 0 else { return bytes }
        return Array(bytes[0..<(info - len)])
    }
}

/// Whether a build came from the cache, recorded beside make.log.
public struct CacheMark {
    public var key: String
    public var hit: Bool

    public static func read(_ logDir: String) -> CacheMark? {
        guard let text = FS.readText(logDir + "/dkms-swift.cache") else { return nil }
        let f = text.split(separator: " ")
        guard f.count >= 2 else { return nil }
        return CacheMark(key: String(f[0]), hit: f[1].hasPrefix("hit"))
    }
}
