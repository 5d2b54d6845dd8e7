import Glibc
import SafeFS

/// A build's expected cost, to start the longest first: each C or assembly
/// file is a compiler run that reads the kernel's headers (~1 MB of them), so
/// it counts as 200 KB of code of its own plus its size. Headers count only
/// through the files that include them (gost-crypto's 1.4 MB of test-vector
/// headers build in 12 s, jool's 71 files in 45 s).
func buildWeight(_ dir: String) -> Int64 {
    var total: Int64 = 0
    var stack = [FS.realPath(dir) ?? dir]
    while let d = stack.popLast() {
        for name in FS.list(d) {
            let p = d + "/" + name
            guard let st = FS.lstatInfo(p) else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR { stack.append(p) }
            else if name.hasSuffix(".c") || name.hasSuffix(".S") { total += 200_000 + Int64(st.st_size) }
        }
    }
    return total
}

/// Orders modules so that each comes after its BUILD_DEPENDS, and names the
/// cycles that make an order impossible.
public enum DependencyOrder {
    public struct Plan: Equatable {
        public var order: [String]
        public var cycles: [[String]]
    }

    public static func plan(_ modules: [(String, [String])], alreadyInstalled: Set<String>) throws -> Plan {
        let names = modules.map(\.0)
        let deps = Dictionary(modules.map { ($0.0, $0.1.filter { !alreadyInstalled.contains($0) }) }, uniquingKeysWith: { a, _ in a })
        var order: [String] = []
        var state: [String: Int] = [:]   // 1 visiting, 2 done
        var cycles: [[String]] = []
        var inCycle = Set<String>()
        func visit(_ m: String, _ path: [String]) {
            if state[m] == 2 { return }
            if state[m] == 1 {
                let cycle = Array(path[path.firstIndex(of: m)!...])
                cycles.append(cycle); inCycle.formUnion(cycle)
                return
            }
            state[m] = 1
            for d in deps[m] ?? [] where deps[d] != nil { visit(d, path + [m]) }
            state[m] = 2
            if !inCycle.contains(m) { order.append(m) }
        }
        for m in names { visit(m, []) }
        return Plan(order: order.filter { !inCycle.contains($0) }, cycles: cycles)
    }
}
