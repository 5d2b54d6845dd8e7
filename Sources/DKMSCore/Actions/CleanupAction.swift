import BuildCache
import Glibc
import Installer
import SafeFS

extension Engine {
    public func cleanup() throws {
        let locations = [context.destOverride ?? "/updates/dkms", "/updates/dkms", "/updates", "/extra"]
        let finder = Cleanup(tree: tree, destLocations: locations, headersDir: { self.context.kernelSourceDir(for: $0) })
        var findings = finder.findings()
        var cache = CacheCleanup.of(context)
        do { if let c = cache { findings += try c.findings(removing: Set(findings.map(\.path))) } } catch {
            out.warn("Build cache at \(BuildCacheSession.root(context)): \(error); its entries were not checked.")
            cache = nil
        }
        if findings.isEmpty { out.line("Nothing to clean up."); return }
        var total: Int64 = 0
        for f in findings {
            out.line("\(f.kind.rawValue): \(f.path) (\(f.note.map { $0 + "; " } ?? "")\(humanSize(f.bytes)))")
            total += f.bytes
        }
        guard context.invocation.yes else {
            out.line("\(findings.count) item(s), \(humanSize(total)). Dry run: nothing was removed; run with --yes to remove them.")
            return
        }
        // The tree's findings go in one journaled transaction; the cache's are
        // removed by the store under its lock, only once that has committed.
        var plan = TransactionPlan(description: "cleanup")
        var kernels = Set<String>()
        var removed = 0, bytes: Int64 = 0
        var records: [Digest] = [], blobs: [Digest] = []
        for f in findings {
            switch f.cacheItem {
            case .record(let key, let own)?: records.append(key); blobs += own; continue
            case .blob(let b)?: blobs.append(b); continue
            case nil: break
            }
            if FS.isSymlink(f.path) { plan.steps.append(.removeLink(path: f.path)) }
            else if FS.isDirectory(f.path) { plan.steps.append(.removeDirectory(path: f.path)) }
            else { plan.steps.append(.removeFile(path: f.path)) }
            if let k = f.kernel { kernels.insert(k) }
            removed += 1; bytes += f.bytes
        }
        try journal.commit(plan)
        for k in kernels.sorted() where FS.isDirectory(tree.libTree(k)) { depmodStep.run(k) }
        if let store = cache?.session.store, !records.isEmpty || !blobs.isEmpty {
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
