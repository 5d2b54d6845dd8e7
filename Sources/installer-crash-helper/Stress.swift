import Foundation
import Installer

/// Random install/uninstall/remove rounds; each round is its own command with its own
/// lock, as separate `dkms` invocations would be. Checks the invariant while still locked.
func stress(_ o: Options) throws -> Int32 {
    var rng = SplitMix(seed: o.seed)
    let trees = o.trees
    for round in 0..<o.rounds {
        let lock = try TreeLock.acquire(dkmsTree: o.dkmsTree, command: "stress \(o.module) round \(round)", notice: { _ in })
        let k = o.kernels[Int(rng.next() % UInt64(o.kernels.count))]
        var f = FaultInjector.disabled
        let dice = rng.next() % 3
        let plan: TransactionPlan
        if o.pristine != nil && dice == 2 {
            plan = try trees.removePlan(o.version, [k])
        } else if trees.installedVersion(k) == o.version && dice == 1 {
            plan = try trees.uninstallPlan(o.version, k)
        } else {
            plan = try trees.installPlan(o.version, k)
        }
        try Transaction(dkmsTree: o.dkmsTree, lock: lock).run(plan, faults: &f)
        if let pristine = o.pristine, dice == 2 {
            // Stand-in for `dkms build`: put the built files back, still under the lock.
            let dir = trees.builtDirectory(o.version, k)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for name in try FileManager.default.contentsOfDirectory(atPath: pristine) {
                try FileManager.default.copyItem(atPath: pristine + "/" + name, toPath: dir + "/" + name)
            }
        }
        var problems = verify(trees, o.kernels)
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
}

/// Every file the tree says is installed must equal its built source byte for byte.
func verify(_ trees: HelperTrees, _ kernels: [String]) -> [String] {
    var problems: [String] = []
    for k in kernels {
        guard let v = trees.installedVersion(k) else { continue }
        for src in trees.builtFiles(v, k) {
            let dest = trees.destination(k) + "/" + (src as NSString).lastPathComponent
            let a = FileManager.default.contents(atPath: src), b = FileManager.default.contents(atPath: dest)
            if a == nil || a != b { problems.append("\(dest) differs from \(src)") }
        }
    }
    return problems
}
