// dkms-fuzz: random and mutated inputs for the parsers the root process
// runs on module-supplied or on-disk data. A Swift trap (overflow, bounds,
// force unwrap) is a crash: the SIGILL/SIGTRAP/SIGSEGV handler writes the
// input being tried to <out>/crash-<parser>-<n> and exits 99.
//
//   dkms-fuzz <parser|all|list> [seconds per parser] [seed] [out dir]
//   dkms-fuzz <parser> replay <saved input>
//
// Debug builds only (@testable reaches the internal parsers).
import Glibc
import Foundation
import SafeFS
@testable import DKMSCore
@testable import BuildCache
@testable import Installer
@testable import SafeFS

// MARK: crash capture

let crashCap = 1 << 20
let crashBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: crashCap)
var crashLength = 0
let crashPath = UnsafeMutablePointer<CChar>.allocate(capacity: 4096)

func remember(_ bytes: [UInt8]) {
    crashLength = min(bytes.count, crashCap)
    bytes.withUnsafeBufferPointer { crashBuffer.update(from: $0.baseAddress!, count: crashLength) }
}

func installCrashHandler(path: String) {
    _ = path.withCString { strncpy(crashPath, $0, 4095) }
    crashPath[4095] = 0
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { sig in
        let fd = open(crashPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd >= 0 { _ = write(fd, crashBuffer, crashLength); close(fd) }
        let msg = "dkms-fuzz: crash (signal \(sig)); input saved\n"
        _ = msg.withCString { write(2, $0, strlen($0)) }
        _exit(99)
    }
    for s in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] { sigaction(s, &action, nil) }
}

// MARK: inputs

struct RNG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
    mutating func chance(_ oneIn: Int) -> Bool { below(oneIn) == 0 }
}

let interesting: [UInt64] = [0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fff_ffff, 0xffff_ffff, 0x8000_0000_0000_0000,
                             0x7fff_ffff_ffff_ffff, 0xffff_ffff_ffff_ffff, 0xffff_ffff_ffff_ffc0, 64, 4096]
/// Characters the parsers care about: separators, escapes, controls, bidi, multibyte.
let tokens: [[UInt8]] = ["\t", "\n", "\r", "\r\n", "\0", " ", "%", "%2", "%zz", "\\", "\\t", "/", "..", "=", "END", "-",
                         "module", "depends", "postremove", "dkms-swift manifest 1", "{", "}", "[", "]", "\"", ":", ",",
                         "\u{202e}", "\u{200b}", "\u{85}", "\u{1b}[2J", "\u{feff}", "9999999999999999999999", "-1"].map { Array($0.utf8) }

func mutate(_ input: [UInt8], _ r: inout RNG) -> [UInt8] {
    var b = input
    for _ in 0...r.below(8) {
        switch r.below(9) {
        case 0 where !b.isEmpty: b[r.below(b.count)] ^= 1 << UInt8(r.below(8))
        case 1 where !b.isEmpty: b[r.below(b.count)] = r.byte()
        case 2: b.insert(contentsOf: tokens[r.below(tokens.count)], at: r.below(b.count + 1))
        case 3 where !b.isEmpty:
            let s = r.below(b.count), e = min(b.count, s + 1 + r.below(16)); b.removeSubrange(s..<e)
        case 4 where b.count >= 8:
            // An interesting little-endian word over an offset or size.
            let at = r.below(b.count - 7) & ~(r.chance(2) ? 7 : 0), v = interesting[r.below(interesting.count)]
            for i in 0..<8 { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
        case 5 where b.count >= 4:
            let at = r.below(b.count - 3), v = interesting[r.below(interesting.count)]
            for i in 0..<(r.chance(2) ? 2 : 4) { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
        case 6 where !b.isEmpty:
            let s = r.below(b.count), e = min(b.count, s + 1 + r.below(64)); b.insert(contentsOf: b[s..<e], at: r.below(b.count + 1))
        case 7: b = Array(b.prefix(r.below(b.count + 1)))
        default: b.append(r.byte())
        }
    }
    return b
}

func randomBytes(_ r: inout RNG, max: Int = 256) -> [UInt8] {
    var b: [UInt8] = []
    for _ in 0..<r.below(max) { b += r.chance(4) ? tokens[r.below(tokens.count)] : [r.byte()] }
    return b
}

// MARK: seeds

func confStream(_ pairs: [(String, [(Int, String)])]) -> [UInt8] {
    var b: [UInt8] = []
    func f(_ s: String) { b += Array(s.utf8) + [0] }
    for (name, entries) in pairs {
        f(name); f(String(entries.count))
        for (i, v) in entries { f(String(i)); f(v) }
    }
    f("END")
    return b
}

let confSeeds = [
    confStream([("PACKAGE_NAME", [(0, "zfs")]), ("PACKAGE_VERSION", [(0, "2.1.11")]),
                ("BUILT_MODULE_NAME", [(0, "zfs"), (1, "spl")]), ("DEST_MODULE_LOCATION", [(0, "/extra"), (1, "/extra")]),
                ("BUILD_DEPENDS", [(0, "a b")]), ("PATCH", [(0, "fix.patch")]), ("MAKE", [(0, "make -C src")])]),
    confStream([]),
]

let manifestSeeds: [[UInt8]] = [
    Array(BuildManifest(modules: [.init(destName: "a", destLocation: "/updates/dkms"), .init(destName: "b\tc", destLocation: "/extra\n")],
                        dependencies: [("dep", "abc")], postRemove: ("0123", "post-remove.sh --x")).encoded().utf8),
    Array("dkms-swift manifest 1\nmodule\ta\\\t/updates\n".utf8),
]

/// A module of a kernel on this machine (any .ko under /lib/modules), else a minimal ELF header.
let elfSeeds: [[UInt8]] = {
    var seeds: [[UInt8]] = []
    // FUZZ_ELF_SEEDS (colon-separated; scripts/fuzz.sh builds the example module), or modules on this machine.
    var paths = (ProcessInfo.processInfo.environment["FUZZ_ELF_SEEDS"] ?? "").split(separator: ":").map(String.init)
    paths += sh("find /lib/modules -name '*.ko' -size -200k 2>/dev/null | head -3").split(separator: "\n").map(String.init)
    for path in paths { if let b = FS.readFile(path) { seeds.append(b) } }
    var h = [UInt8](repeating: 0, count: 64 + 3 * 64 + 64)
    h[0...5] = [0x7f, 0x45, 0x4c, 0x46, 2, 1]
    h[16] = 1; h[18] = 62; h[40] = 64; h[58] = 64; h[60] = 3; h[62] = 2
    seeds.append(h)
    return seeds
}()

func sh(_ cmd: String) -> String {
    String(decoding: Spawn.hostTool(["/bin/sh", "-c", cmd]).stdout, as: UTF8.self)
}

let recordSeeds: [[UInt8]] = [
    Array(#"{"key":"00","files":[{"path":"dkms_hello.ko","digest":"ab","size":10}],"labels":{"module":"m"}}"#.utf8),
]

// MARK: targets

struct Target {
    let name: String
    let seeds: [[UInt8]]
    let run: ([UInt8]) -> Void
}

var sink = 0
let targets: [Target] = [
    Target(name: "conf", seeds: confSeeds) { b in
        if let raw = ConfEvaluator.parse(b) {
            sink &+= raw.values.count
            for v in ["PACKAGE_NAME", "BUILD_DEPENDS", "PATCH"] { sink &+= raw.elements(v).count &+ raw.scalar(v).count }
        }
    },
    Target(name: "names", seeds: [Array("zfs".utf8), Array("/updates/dkms/x".utf8), Array("1.2.3~rc1+git".utf8)]) { b in
        let s = String(decoding: b, as: UTF8.self)
        for p in [NameRules.problem(inName: s), NameRules.problem(inLocation: s), NameRules.problem(inKernel: s)] { sink &+= p?.count ?? 0 }
        let v = Printable.visible(s), w = Printable.visible(s, keepNewlines: true)
        // The escaped text has no control, C1 or invisible scalar left (but newline/tab when kept).
        for c in v.unicodeScalars where c.value < 0x20 || (0x7f...0x9f).contains(c.value) || Printable.isInvisible(c.value) {
            fatalError("Printable.visible left U+\(String(c.value, radix: 16))")
        }
        for c in w.unicodeScalars where (c.value < 0x20 && c != "\n" && c != "\t") || Printable.isInvisible(c.value) {
            fatalError("Printable.visible(keepNewlines:) left U+\(String(c.value, radix: 16))")
        }
        // A valid name never contains what the record files split on.
        if NameRules.problem(inName: s) == nil, s.unicodeScalars.contains(where: { $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\\" }) {
            fatalError("NameRules accepted a record separator")
        }
    },
    Target(name: "manifest", seeds: manifestSeeds) { b in
        let text = String(decoding: b, as: UTF8.self)
        guard let m = BuildManifest.load(text: text) else { return }
        // What was read writes back to the same thing (fields cannot add records).
        let again = BuildManifest.load(text: m.encoded())
        if again?.modules != m.modules || again?.dependencies.map({ $0.name + "\u{0}" + $0.exports }) != m.dependencies.map({ $0.name + "\u{0}" + $0.exports }) {
            fatalError("manifest does not round-trip")
        }
    },
    Target(name: "manifest-encode", seeds: [Array("a\tb\nc".utf8)]) { b in
        // Arbitrary field values: one record each.
        let parts = String(decoding: b, as: UTF8.self).split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        let m = BuildManifest(modules: [.init(destName: parts.first ?? "", destLocation: parts.dropFirst().first ?? "")],
                              dependencies: [(parts.dropFirst(2).first ?? "", parts.dropFirst(3).first ?? "")])
        let text = m.encoded()
        guard let back = BuildManifest.load(text: text) else { fatalError("encoded manifest does not load: \(text.debugDescription)") }
        if back.modules != m.modules || back.dependencies.map(\.name) != m.dependencies.map(\.name) {
            fatalError("fields changed: \(text.debugDescription)")
        }
    },
    Target(name: "elf", seeds: elfSeeds) { b in
        sink &+= ModuleCheck.problem(in: b, kernel: "k", arch: "x86_64")?.count ?? 0
    },
    Target(name: "cache-record", seeds: recordSeeds) { b in
        if let r = try? ResultRecord.decode(b, path: "fuzz") { sink &+= r.files.count }
        if let l = DirectoryListings.decode(b) { sink &+= String(describing: l).count }
    },
    Target(name: "paths", seeds: [Array("a/b/../c".utf8), Array("/tmp/x|/tmp".utf8), Array("./a//b/.|a".utf8)]) { b in
        // Beneath's path splitting: what it accepts has no "..", no empty or
        // "." component, and is never absolute; relative(to:) gives back a
        // path below the root that rebuilds the original.
        let text = String(decoding: b, as: UTF8.self)
        let parts = text.split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        if let comps = Beneath.components(parts[0]) {
            if Array(parts[0].utf8).first == UInt8(ascii: "/") { fatalError("absolute path accepted: \(parts[0].debugDescription)") }
            for c in comps where c.isEmpty || c == "." || c == ".." || c.utf8.contains(UInt8(ascii: "/")) {
                fatalError("component \(c.debugDescription) of \(parts[0].debugDescription)")
            }
        }
        if parts.count == 2, let rel = Beneath.relative(parts[0], to: parts[1]) {
            var root = Array(parts[1].utf8)
            if root.count > 1, root.last == UInt8(ascii: "/") { root.removeLast() }
            let rebuilt = rel.isEmpty ? root : (root == [UInt8(ascii: "/")] ? root : root + [UInt8(ascii: "/")]) + Array(rel.utf8)
            if rebuilt != Array(parts[0].utf8) {
                fatalError("relative(\(parts[0].debugDescription), to: \(parts[1].debugDescription)) = \(rel.debugDescription)")
            }
        }
    },
    Target(name: "journal", seeds: [Array("begin x y".utf8), Array("step a b c d".utf8)]) { b in
        let payload = String(decoding: b, as: UTF8.self)
        // With a matching checksum, so the fields are parsed.
        let line = JournalRecord.hex(JournalRecord.fnv1a(payload)) + " " + payload
        sink &+= ((try? JournalRecord.decodeLine(Substring(line), journal: "fuzz")) ?? nil) == nil ? 0 : 1
    },
]

// MARK: main

let args = CommandLine.arguments
if args.count < 2 || args[1] == "list" {
    print(targets.map(\.name).joined(separator: "\n"))
    exit(0)
}
// dkms-fuzz <parser> replay <file>: runs one saved input.
if args.count > 3 && args[2] == "replay", let t = targets.first(where: { $0.name == args[1] }), let b = FS.readFile(args[3]) {
    t.run(b)
    print("\(t.name): \(args[3]) ran without a crash")
    exit(0)
}
let seconds = args.count > 2 ? Double(args[2]) ?? 10 : 10
var rng = RNG(state: args.count > 3 ? UInt64(args[3]) ?? 1 : UInt64(time(nil)))
let outDir = args.count > 4 ? args[4] : "."
let chosen = args[1] == "all" ? targets : targets.filter { $0.name == args[1] }
guard !chosen.isEmpty else { fputs("unknown parser \(args[1])\n", stderr); exit(2) }
for t in chosen {
    installCrashHandler(path: "\(outDir)/crash-\(t.name)-\(getpid())")
    var corpus = t.seeds
    var runs = 0
    let start = Date()
    while Date().timeIntervalSince(start) < seconds {
        for _ in 0..<200 {
            let input = rng.chance(8) || corpus.isEmpty ? randomBytes(&rng) : mutate(corpus[rng.below(corpus.count)], &rng)
            remember(input)
            t.run(input)
            runs += 1
            // Keep some inputs as seeds (no coverage feedback: a bounded random pool).
            if rng.chance(64) { if corpus.count < 256 { corpus.append(input) } else { corpus[rng.below(corpus.count)] = input } }
        }
    }
    print("\(t.name): \(runs) inputs in \(Int(seconds)) s, no crash")
}
