import BuildCache
import Glibc
import Installer
import SafeFS

extension Engine {
    /// `dkms cleanup [--yes]`: lists what nothing owns any more; with --yes removes it.
    public func cleanup() throws {
        let found = CleanupPlanning(context: context).find()
        let findings = found.findings
        out.say(found.said + CleanupPlanning.listing(findings, dryRun: !context.invocation.yes))
        guard !findings.isEmpty, context.invocation.yes else { return }
        let removal = CleanupPlanning.removal(findings)
        var removed = removal.count, bytes = removal.bytes
        let (plan, kernels, records, blobs) = (removal.plan, removal.kernels, removal.records, removal.blobs)
        try transactions.commit(plan)
        for k in kernels.sorted() where FS.isDirectory(tree.libTree(k)) { depmodStep.run(k) }
        if let store = found.cache?.session.store, !records.isEmpty || !blobs.isEmpty {
            let report: RemovalReport
            do { report = try store.remove(records: records, blobs: blobs) } catch {
                throw DKMSError(.failure, "Build cache at \(store.root): \(error)")
            }
            let gone = Set(report.recordsRemoved + report.blobsRemoved)
            removed += findings.filter {
                switch $0.cacheItem {
                case .record(let d, _)?, .blob(let d)?: return gone.contains(d)
                case nil: return false
                }
            }.count
            bytes += report.bytesRemoved
            if !report.kept.isEmpty { out.line("Kept \(report.kept.count) build cache item(s) that came into use since they were listed.") }
        }
        out.line("Removed \(removed) item(s), \(humanSize(bytes)).")
    }
}
