import Glibc
import Installer

extension Engine {
    public func cleanup() throws {
        let locations = [context.destOverride ?? "/updates/dkms", "/updates/dkms", "/updates", "/extra"]
        let finder = Cleanup(tree: tree, destLocations: locations)
        let findings = finder.findings()
        if findings.isEmpty { out.line("Nothing to clean up."); return }
        var total: Int64 = 0
        for f in findings {
            out.line("\(f.kind.rawValue): \(f.path) (\(humanSize(f.bytes)))")
            total += f.bytes
        }
        guard context.invocation.yes else {
            out.line("\(findings.count) item(s), \(humanSize(total)). Dry run: nothing was removed; run with --yes to remove them.")
            return
        }
        var plan = TransactionPlan(description: "cleanup")
        var kernels = Set<String>()
        for f in findings {
            if FS.isSymlink(f.path) { plan.steps.append(.removeLink(path: f.path)) }
            else if FS.isDirectory(f.path) { plan.steps.append(.removeDirectory(path: f.path)) }
            else { plan.steps.append(.removeFile(path: f.path)) }
            if let k = f.kernel { kernels.insert(k) }
        }
        try commit(plan)
        for k in kernels.sorted() where FS.isDirectory(tree.libTree(k)) { depmod(k) }
        out.line("Removed \(findings.count) item(s), \(humanSize(total)).")
    }
}
