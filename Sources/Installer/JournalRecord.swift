#if canImport(Glibc)
import Glibc
#endif

/// What the journal knows about one step: the step itself plus the facts observed
/// just before it ran that are needed to undo it (did the target exist, what did a
/// link point at, which directories did we create). Temp and aside names are derived
/// from the transaction id and step index, so recovery can find them without a scan.
struct StepRecord: Equatable {
    var index: Int
    var step: Step
    /// installFile/removeFile/removeEmptyDirectory: the target existed before the step.
    var priorPresent: Bool = false
    /// setLink/removeLink: the link's target before the step (nil = no link).
    var priorLink: String? = nil
    /// Directories this step created, outermost first (removed again on undo if empty).
    var createdDirectories: [String] = []
    var transactionID: String

    /// `<path>.dkms-tmp-<id>-<n>`: a staged copy or link not yet renamed into place.
    func tempPath(for path: String) -> String { "\(path).dkms-tmp-\(transactionID)-\(index)" }
    /// `<path>.dkms-old-<id>-<n>`: what the step replaced, kept until commit for undo.
    func asidePath(for path: String) -> String { "\(path).dkms-old-\(transactionID)-\(index)" }
}

/// One line of the write-ahead journal.
enum JournalRecord: Equatable {
    case begin(id: String, description: String)
    case intent(StepRecord)
    case done(index: Int)
    /// The commit point: from here recovery rolls forward instead of back.
    case commit

    // MARK: line format
    //
    // `<fnv1a32 hex> <field> <field> ...\n`, fields percent-escaped so paths with
    // blanks or newlines survive. The checksum lets recovery ignore a torn last line
    // (a write cut short by power loss) instead of misreading it.

    func encodeLine() -> String {
        let fields: [String]
        switch self {
        case let .begin(id, d): fields = ["begin", id, d]
        case let .done(i): fields = ["done", String(i)]
        case .commit: fields = ["commit"]
        case let .intent(r): fields = ["intent"] + JournalRecord.encode(r)
        }
        let payload = fields.map(JournalRecord.escape).joined(separator: " ")
        return JournalRecord.hex(JournalRecord.fnv1a(payload)) + " " + payload + "\n"
    }

    /// nil for a line whose checksum does not match (torn write).
    static func decodeLine(_ line: Substring, journal: String) throws -> JournalRecord? {
        guard let space = line.firstIndex(of: " ") else { return nil }
        let sum = line[..<space]
        let payload = String(line[line.index(after: space)...])
        guard hex(fnv1a(payload)) == sum else { return nil }
        let fields = payload.split(separator: " ", omittingEmptySubsequences: false).map { unescape(String($0)) }
        func bad(_ why: String) -> InstallerError { .journalCorrupt(path: journal, reason: why) }
        switch fields.first {
        case "begin":
            guard fields.count == 3 else { throw bad("begin record has \(fields.count) fields") }
            return .begin(id: fields[1], description: fields[2])
        case "done":
            guard fields.count == 2, let i = Int(fields[1]) else { throw bad("bad done record") }
            return .done(index: i)
        case "commit":
            return .commit
        case "intent":
            return .intent(try decode(Array(fields.dropFirst()), journal: journal))
        default:
            throw bad("unknown record '\(fields.first ?? "")'")
        }
    }

    // MARK: step records as key=value fields

    private static func encode(_ r: StepRecord) -> [String] {
        var kv: [(String, String)] = [("n", String(r.index)), ("id", r.transactionID)]
        switch r.step {
        case let .installFile(s, d, m): kv += [("op", "install"), ("src", s), ("dest", d), ("mode", String(m, radix: 8))]
        case let .backupOriginal(p, b): kv += [("op", "backup"), ("path", p), ("backup", b)]
        case let .restoreOriginal(b, p): kv += [("op", "restore"), ("backup", b), ("path", p)]
        case let .removeFile(p): kv += [("op", "rmfile"), ("path", p)]
        case let .removeDirectory(p): kv += [("op", "rmtree"), ("path", p)]
        case let .removeEmptyDirectory(p): kv += [("op", "rmdir"), ("path", p)]
        case let .setLink(p, t): kv += [("op", "setlink"), ("path", p), ("target", t)]
        case let .removeLink(p): kv += [("op", "rmlink"), ("path", p)]
        }
        kv.append(("prior", r.priorPresent ? "1" : "0"))
        if let l = r.priorLink { kv.append(("priorlink", l)) }
        for d in r.createdDirectories { kv.append(("mkdir", d)) }
        return kv.map { "\($0.0)=\($0.1)" }
    }

    private static func decode(_ fields: [String], journal: String) throws -> StepRecord {
        var single: [String: String] = [:]
        var dirs: [String] = []
        for f in fields {
            guard let eq = f.firstIndex(of: "=") else {
                throw InstallerError.journalCorrupt(path: journal, reason: "field without '=': \(f)")
            }
            let k = String(f[..<eq]), v = String(f[f.index(after: eq)...])
            if k == "mkdir" { dirs.append(v) } else { single[k] = v }
        }
        func need(_ k: String) throws -> String {
            guard let v = single[k] else {
                throw InstallerError.journalCorrupt(path: journal, reason: "intent record lacks '\(k)'")
            }
            return v
        }
        let step: Step
        switch try need("op") {
        case "install":
            guard let m = mode_t(try need("mode"), radix: 8) else {
                throw InstallerError.journalCorrupt(path: journal, reason: "bad mode")
            }
            step = .installFile(source: try need("src"), destination: try need("dest"), mode: m)
        case "backup": step = .backupOriginal(path: try need("path"), backupPath: try need("backup"))
        case "restore": step = .restoreOriginal(backupPath: try need("backup"), path: try need("path"))
        case "rmfile": step = .removeFile(path: try need("path"))
        case "rmtree": step = .removeDirectory(path: try need("path"))
        case "rmdir": step = .removeEmptyDirectory(path: try need("path"))
        case "setlink": step = .setLink(path: try need("path"), target: try need("target"))
        case "rmlink": step = .removeLink(path: try need("path"))
        case let other: throw InstallerError.journalCorrupt(path: journal, reason: "unknown op '\(other)'")
        }
        guard let n = Int(try need("n")) else {
            throw InstallerError.journalCorrupt(path: journal, reason: "bad step index")
        }
        return StepRecord(index: n, step: step, priorPresent: single["prior"] == "1",
                          priorLink: single["priorlink"], createdDirectories: dirs,
                          transactionID: try need("id"))
    }

    // MARK: helpers

    static func escape(_ s: String) -> String {
        var bytes: [UInt8] = []
        for b in s.utf8 {
            if b == UInt8(ascii: "%") || b == UInt8(ascii: " ") || b < 0x20 || b == 0x7f {
                bytes += Array(("%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)).utf8)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func unescape(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2,
               let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func fnv1a(_ s: String) -> UInt32 {
        var h: UInt32 = 0x811c9dc5
        for b in s.utf8 { h ^= UInt32(b); h = h &* 0x01000193 }
        return h
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}
