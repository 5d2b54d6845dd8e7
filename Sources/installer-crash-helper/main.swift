// installer-crash-helper: runs one installer transaction against given (temporary)
// trees, so tests can run it as a child process and SIGKILL it at any step via
// DKMS_FAULT_KILL_AT=N. With DKMS_FAULT_LIST=1 it prints every fault point.
//
//   install|uninstall|remove --dkms-tree D --install-tree I -m M -v V -k K [-k K2…] [-a ARCH]
//           [--dest LOC] [--orig NAME=LOC] [--no-depmod] [--compress none|xz|zstd|gzip]
//           [--kernel-source-root R] [--sign KEY CERT] [--no-backup]
//   recover --dkms-tree D
//   hold-lock --dkms-tree D --seconds S [--command TEXT]
//   stress  --dkms-tree D --install-tree I -m M -v V -k K --rounds N [--seed S] [--pristine DIR]
//           (with --pristine, rounds may also `remove` and then re-"build" from DIR)
//
// Exit codes: 0 ok, 1 error, 2 usage, 3 committed but depmod failed, 4 verify failed.
import Foundation
import Installer
import ModuleTools
#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var command = ""
    var dkmsTree = ""
    var installTree = ""
    var module = ""
    var version = ""
    var kernels: [String] = []
    var arch = "x86_64"
    var dest = "/updates/dkms"
    var origLocations: [String: String] = [:]
    var depmod = true
    var compress: ModuleCompression? = ModuleCompression.none
    var kernelSourceRoot = "/lib/modules"
    var sign: (String, String)?
    var backup = true
    var seconds = 1.0
    var lockCommand = "installer-crash-helper"
    var rounds = 10
    var seed: UInt64 = 1
    var pristine: String?
}

func usage(_ msg: String) -> Never {
    FileHandle.standardError.write("installer-crash-helper: \(msg)\n".data(using: .utf8)!)
    exit(2)
}

func parse(_ args: [String]) -> Options {
    var o = Options()
    guard let c = args.first else { usage("missing command") }
    o.command = c
    var it = args.dropFirst().makeIterator()
    func next(_ flag: String) -> String {
        guard let v = it.next() else { usage("\(flag) needs a value") }
        return v
    }
    while let a = it.next() {
        switch a {
        case "--dkms-tree": o.dkmsTree = next(a)
        case "--install-tree": o.installTree = next(a)
        case "-m": o.module = next(a)
        case "-v": o.version = next(a)
        case "-k": o.kernels.append(next(a))
        case "-a": o.arch = next(a)
        case "--dest": o.dest = next(a)
        case "--orig":
            let kv = next(a).split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { usage("--orig NAME=LOCATION") }
            o.origLocations[kv[0]] = kv[1]
        case "--no-depmod": o.depmod = false
        case "--compress":
            let v = next(a)
            if v == "auto" { o.compress = nil } else if let c = ModuleCompression(name: v) { o.compress = c } else { usage("bad compression \(v)") }
        case "--kernel-source-root": o.kernelSourceRoot = next(a)
        case "--sign": o.sign = (next(a), next(a))
        case "--no-backup": o.backup = false
        case "--seconds": o.seconds = Double(next(a)) ?? 1
        case "--command": o.lockCommand = next(a)
        case "--rounds": o.rounds = Int(next(a)) ?? 10
        case "--seed": o.seed = UInt64(next(a)) ?? 1
        case "--pristine": o.pristine = next(a)
        default: usage("unknown argument \(a)")
        }
    }
    if o.dkmsTree.isEmpty { usage("--dkms-tree is required") }
    return o
}

func installer(_ o: Options) -> Installer {
    var opts = InstallerOptions(layout: DKMSLayout(dkmsTree: o.dkmsTree, installTree: o.installTree))
    opts.destination = o.dest
    opts.kernelSourceRoot = o.kernelSourceRoot
    opts.compression = CompressionPolicy(override: o.compress)
    opts.runDepmod = o.depmod
    opts.backupOriginals = o.backup
    opts.originalLocations = o.origLocations
    if let (k, c) = o.sign { opts.signing = SigningSettings(key: k, certificate: c) }
    return Installer(options: opts)
}

/// Every file the tree says is installed must equal its built source byte for byte.
func verify(_ o: Options) -> [String] {
    let layout = DKMSLayout(dkmsTree: o.dkmsTree, installTree: o.installTree)
    var problems: [String] = []
    for k in o.kernels {
        guard let v = layout.installedVersion(o.module, k, o.arch) else { continue }
        for src in layout.builtModules(o.module, v, k, o.arch) {
            let dest = layout.destinationDirectory(k, location: o.dest) + "/" + (src as NSString).lastPathComponent
            let a = FileManager.default.contents(atPath: src), b = FileManager.default.contents(atPath: dest)
            if a == nil || a != b { problems.append("\(dest) differs from \(src)") }
        }
    }
    return problems
}

func finish(_ faults: FaultInjector) {
    if faults.recordLabels {
        for (i, l) in faults.labels.enumerated() { print("fault-point \(i + 1): \(l)") }
        print("fault-points: \(faults.count)")
    }
}

func run(_ o: Options) throws -> Int32 {
    var faults = FaultInjector.fromEnvironment()
    switch o.command {
    case "install", "uninstall", "remove":
        guard !o.module.isEmpty, !o.version.isEmpty, !o.kernels.isEmpty, !o.installTree.isEmpty else {
            usage("\(o.command) needs --install-tree, -m, -v and -k")
        }
        let lock = try TreeLock.acquire(dkmsTree: o.dkmsTree, command: "dkms \(o.command) \(o.module)/\(o.version)")
        let inst = installer(o)
        var report: InstallReport
        switch o.command {
        case "install":
            report = try inst.install(module: o.module, version: o.version, kernel: o.kernels[0], arch: o.arch, lock: lock, faults: &faults)
        case "uninstall":
            report = try inst.uninstall(module: o.module, version: o.version, kernel: o.kernels[0], arch: o.arch, lock: lock, faults: &faults)
        default:
            report = try inst.remove(module: o.module, version: o.version, kernels: o.kernels.map { ($0, o.arch) }, lock: lock, faults: &faults)
        }
        finish(faults)
        for w in report.warnings { FileHandle.standardError.write("\(w)\n".data(using: .utf8)!) }
        for f in report.installedFiles { print("installed: \(f)") }
        print("steps: \(report.plan.steps.count)")
        if !report.depmodErrors.isEmpty {
            for e in report.depmodErrors { FileHandle.standardError.write("\(e)\n".data(using: .utf8)!) }
            return 3
        }
        return 0
    case "recover":
        let lock = try TreeLock.acquire(dkmsTree: o.dkmsTree, command: "dkms recover")
        let r = try Recovery.recover(dkmsTree: o.dkmsTree, lock: lock, faults: &faults)
        finish(faults)
        print("rolled-back: \(r.rolledBack.count) rolled-forward: \(r.rolledForward.count) discarded: \(r.discarded.count)")
        return 0
    case "hold-lock":
        let lock = try TreeLock.acquire(dkmsTree: o.dkmsTree, command: o.lockCommand)
        print("locked"); fflush(stdout)
        usleep(UInt32(o.seconds * 1_000_000))
        lock.release()
        return 0
    case "stress":
        // Random install/uninstall rounds; each round is its own command with its own lock,
        // as separate `dkms` invocations would be. Verifies the invariant while still locked.
        var rng = SplitMix(seed: o.seed)
        let inst = installer(o)
        for round in 0..<o.rounds {
            let lock = try TreeLock.acquire(dkmsTree: o.dkmsTree, command: "stress \(o.module) round \(round)", notice: { _ in })
            let k = o.kernels[Int(rng.next() % UInt64(o.kernels.count))]
            var f = FaultInjector.disabled
            let layout = inst.options.layout
            let dice = rng.next() % 3
            if let pristine = o.pristine, dice == 2 {
                _ = try inst.remove(module: o.module, version: o.version, kernels: [(k, o.arch)], lock: lock, faults: &f)
                // Stand-in for `dkms build`: put the built files back, still under the lock.
                let dir = layout.builtModuleDirectory(o.module, o.version, k, o.arch)
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                for name in try FileManager.default.contentsOfDirectory(atPath: pristine) {
                    try FileManager.default.copyItem(atPath: pristine + "/" + name, toPath: dir + "/" + name)
                }
            } else if layout.installedVersion(o.module, k, o.arch) == o.version && dice == 1 {
                _ = try inst.uninstall(module: o.module, version: o.version, kernel: k, arch: o.arch, lock: lock, faults: &f)
            } else {
                _ = try inst.install(module: o.module, version: o.version, kernel: k, arch: o.arch, lock: lock, faults: &f)
            }
            var problems = verify(o)
            let journals = (try? FileManager.default.contentsOfDirectory(atPath: o.dkmsTree + "/.journal")) ?? []
            if !journals.isEmpty { problems.append("journals left: \(journals)") }
            if !problems.isEmpty {
                FileHandle.standardError.write("round \(round): \(problems.joined(separator: "; "))\n".data(using: .utf8)!)
                return 4
            }
            lock.release()
        }
        print("rounds: \(o.rounds)")
        return 0
    default:
        usage("unknown command \(o.command)")
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}

do {
    exit(try run(parse(Array(CommandLine.arguments.dropFirst()))))
} catch {
    FileHandle.standardError.write("installer-crash-helper: \(error)\n".data(using: .utf8)!)
    exit(1)
}
