import BuildCache
import Foundation
import SafeFS

extension Engine {
    /// `dkms cache [stats|verify|prune [--max-size BYTES]|clear]`.
    public func cache() throws {
        let root = BuildCacheSession.root(context)
        let store: CacheStore
        do { store = try CacheStore(root: root) } catch { throw DKMSError(.failure, "Build cache at \(root): \(error)") }
        let sub = context.invocation.subcommand.first ?? "stats"
        do {
            switch sub {
            case "stats":
                let s = try store.stats()
                out.line("Build cache: \(root)")
                out.line("  entries \(s.entries), blobs \(s.blobs), \(humanSize(s.bytes)), pinned by installed modules \(s.pins)")
                out.line("  hits \(s.hits), misses \(s.misses), stored \(s.stores), corrupt entries dropped \(s.corruptions), evicted \(s.evictions)")
            case "verify":
                let r = try store.verify()
                out.line("Checked \(r.blobsChecked) blob(s): \(r.corruptBlobs.count) corrupt, \(r.recordsRemoved.count) entr(ies) dropped.")
                for d in r.corruptBlobs { out.line("  corrupt blob \(d.hex)") }
                if !r.corruptBlobs.isEmpty { throw DKMSError(.failure, "The build cache had corrupt entries; they were removed.") }
            case "prune":
                let limit = try context.cacheSizeLimit()
                let r = try store.prune(maxBytes: limit)
                out.line("Pruned \(r.evicted.count) entr(ies): \(humanSize(r.bytesBefore)) -> \(humanSize(r.bytesAfter)) (\(humanSize(r.pinnedBytes)) pinned by installed modules).")
            case "clear":
                try store.clear()
                // Replayed dkms.conf evaluations live beside the store (EnvironmentChoice.confMemo).
                let evals = root + "/conf-evals"
                let replays = FS.list(evals).count
                if replays > 0 { try Files.removeTree(evals) }
                out.line("Cleared the build cache (entries pinned by installed modules were kept) and \(replays) replayable dkms.conf evaluation(s).")
            default:
                throw DKMSError(.badArgument, "Unknown cache command '\(sub)'. Use stats, verify, prune or clear.")
            }
        } catch let e as DKMSError { throw e } catch { throw DKMSError(.failure, "Build cache: \(error)") }
    }
}
