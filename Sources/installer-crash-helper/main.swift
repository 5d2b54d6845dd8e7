// installer-crash-helper: runs one journaled transaction (the `Transaction` /
// `Recovery` code `dkms` itself uses) against given (temporary) trees, so tests can
// run it as a child process and SIGKILL it at any step via DKMS_FAULT_KILL_AT=N.
// With DKMS_FAULT_LIST=1 it prints every fault point.
//
//   install|uninstall|remove --dkms-tree D --install-tree I -m M -v V -k K [-k K2…] [-a ARCH]
//           [--orig NAME=LOC]
//   recover --dkms-tree D
//   hold-lock --dkms-tree D --seconds S [--command TEXT]
//   stress  --dkms-tree D --install-tree I -m M -v V -k K --rounds N [--seed S] [--pristine DIR]
//           (with --pristine, rounds may also `remove` and then re-"build" from DIR)
//
// Exit codes: 0 ok, 1 error, 2 usage, 4 verify failed.
import Foundation
import Installer
#if canImport(Glibc)
import Glibc
#endif

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
        // As `dkms` does right after taking the lock: finish what a crash left.
        try Recovery.recover(dkmsTree: o.dkmsTree, lock: lock, faults: &faults)
        let trees = o.trees
        let plan = try o.command == "install" ? trees.installPlan(o.version, o.kernels[0])
            : o.command == "uninstall" ? trees.uninstallPlan(o.version, o.kernels[0])
            : trees.removePlan(o.version, o.kernels)
        let outcome = try Transaction(dkmsTree: o.dkmsTree, lock: lock).run(plan, faults: &faults)
        finish(faults)
        for w in outcome.warnings { FileHandle.standardError.write("\(w)\n".data(using: .utf8)!) }
        print("steps: \(plan.steps.count)")
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
        return try stress(o)
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
