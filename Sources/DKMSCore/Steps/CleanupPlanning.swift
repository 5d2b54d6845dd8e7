import BuildCache
import Installer
import SafeFS

/// What `dkms cleanup` finds and says, and the plan that removes it: the
/// tree's findings (orphaned module files, broken entries, stale versions
/// and build directories) in one journaled transaction, the cache's handed
/// to its store, which removes them under its own lock once that has committed.
struct CleanupPlanning {
    let context: Context
    var tree: DKMSTree { context.tree }

    struct Found {
        var findings: [Cleanup.Finding]
        /// The cache part; nil when the cache is off, was never made, or could not be read.
        var cache: CacheCleanup?
        var said: [Message]
    }

    struct Removal {
        var plan: TransactionPlan
        /// The kernels whose module directories lose a file: depmod runs for each.
        var kernels: Set<String>
        var records: [Digest], blobs: [Digest]
        /// What the transaction removes (the cache's items are counted once the store has removed them).
        var count: Int, bytes: Int64
    }

    func find() -> Found {
        let locations = [context.destOverride ?? "/updates/dkms", "/updates/dkms", "/updates", "/extra"]
        let finder = Cleanup(tree: tree, destLocations: locations, headersDir: { [context] in context.kernelSourceDir(for: $0) })
        var found = Found(findings: finder.findings(), cache: CacheCleanup.of(context), said: [])
        do {
            if let c = found.cache { found.findings += try c.findings(removing: Set(found.findings.map(\.path))) }
        } catch {
            found.said.append(.warning("Build cache at \(BuildCacheSession.root(context)): \(error); its entries were not checked."))
            found.cache = nil
        }
        return found
    }

    /// One line a finding, then, on a dry run, the count and what to run to remove them.
    static func listing(_ findings: [Cleanup.Finding], dryRun: Bool) -> [Message] {
        if findings.isEmpty { return [.line("Nothing to clean up.")] }
        var said: [Message] = findings.map { f in .line("\(f.kind.rawValue): \(f.path) (\(f.note.map { $0 + "; " } ?? "")\(humanSize(f.bytes)))") }
        if dryRun {
            let total = findings.reduce(Int64(0)) { $0 + $1.bytes }
            said.append(.line("\(findings.count) item(s), \(humanSize(total)). Dry run: nothing was removed; run with --yes to remove them."))
        }
        return said
    }

    static func removal(_ findings: [Cleanup.Finding]) -> Removal {
        var r = Removal(plan: TransactionPlan(description: "cleanup"), kernels: [], records: [], blobs: [], count: 0, bytes: 0)
        for f in findings {
            switch f.cacheItem {
            case .record(let key, let own)?: r.records.append(key); r.blobs += own; continue
            case .blob(let b)?: r.blobs.append(b); continue
            case nil: break
            }
            if FS.isSymlink(f.path) { r.plan.steps.append(.removeLink(path: f.path)) }
            else if FS.isDirectory(f.path) { r.plan.steps.append(.removeDirectory(path: f.path)) }
            else { r.plan.steps.append(.removeFile(path: f.path)) }
            if let k = f.kernel { r.kernels.insert(k) }
            r.count += 1; r.bytes += f.bytes
        }
        return r
    }
}
