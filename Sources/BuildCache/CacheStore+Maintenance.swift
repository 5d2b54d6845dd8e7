import Glibc
import SafeFS

public struct CacheStats: Equatable, Sendable {
    public var entries: Int
    public var blobs: Int
    public var bytes: Int64
    public var pins: Int
    public var hits: UInt64
    public var misses: UInt64
    public var stores: UInt64
    public var corruptions: UInt64
    public var evictions: UInt64
}

public struct VerifyReport: Equatable, Sendable {
    public var blobsChecked = 0
    public var corruptBlobs: [Digest] = []
    /// Records removed because a blob they need is missing or was corrupt.
    public var recordsRemoved: [Digest] = []
    public var tempFilesRemoved = 0
}

public struct PruneReport: Equatable, Sendable {
    public var evicted: [Digest] = []
    public var blobsRemoved = 0
    public var bytesBefore: Int64 = 0
    public var bytesAfter: Int64 = 0
    /// Bytes held by pinned entries; if this alone exceeds the limit, the limit is not met.
    public var pinnedBytes: Int64 = 0
}

/// A record as seen by maintenance: key, last use (record mtime) and blob references.
struct RecordEntry {
    var key: Digest
    var path: String
    var lastUseNs: Int64
    var blobs: [Digest]
}

extension CacheStore {
    public func stats() throws -> CacheStats {
        let blobs = try listBlobs()
        let c = try counters.read()
        return CacheStats(entries: try listRecordPaths().count, blobs: blobs.count,
                          bytes: blobs.reduce(0) { $0 + $1.size }, pins: try pins().count,
                          hits: c[0], misses: c[1], stores: c[2], corruptions: c[3], evictions: c[4])
    }

    /// Re-hashes every blob; drops corrupt ones and every record that needs a dropped or missing
    /// blob; removes temp files older than `staleTempSeconds` left by crashed writers.
    public func verify(staleTempSeconds: Int64 = 3600) throws -> VerifyReport {
        var gc = try FileLock(path: gcLockPath, exclusive: true)
        defer { gc.release() }
        var report = VerifyReport()
        var buffer = HashBuffer()
        var good = Set<Digest>()
        for b in try listBlobs() {
            report.blobsChecked += 1
            if verifyBlob(b.path, expected: b.digest, size: nil, buffer: &buffer) == .ok {
                good.insert(b.digest)
            } else {
                unlink(b.path)
                report.corruptBlobs.append(b.digest)
                reporter(.corruptBlob(key: b.digest, blob: b.digest, path: b.path))
            }
        }
        for r in try loadRecords() where !r.blobs.allSatisfy(good.contains) {
            unlink(r.path)
            report.recordsRemoved.append(r.key)
        }
        report.tempFilesRemoved = try removeStaleTemps(olderThanNs: staleTempSeconds * 1_000_000_000)
        if !report.corruptBlobs.isEmpty { try counters.bump(.corruptions, by: UInt64(report.corruptBlobs.count)) }
        return report
    }

    /// Evicts least-recently-used unpinned records (record mtime = last hit or store) until the
    /// blobs still referenced fit in `maxBytes`; blobs are deleted when no record needs them.
    /// Orphan blobs (no record) go first. Pinned entries are never evicted.
    public func prune(maxBytes: Int64) throws -> PruneReport {
        var gc = try FileLock(path: gcLockPath, exclusive: true)
        defer { gc.release() }
        var report = PruneReport()
        let blobs = try listBlobs()
        var sizeOf: [Digest: Int64] = [:]
        for b in blobs { sizeOf[b.digest] = b.size }
        report.bytesBefore = blobs.reduce(0) { $0 + $1.size }

        let records = try loadRecords()
        let pinned = try pinnedKeys()
        var refs: [Digest: Int] = [:]
        for r in records { for b in Set(r.blobs) { refs[b, default: 0] += 1 } }

        var total = report.bytesBefore
        for b in blobs where refs[b.digest] == nil {  // orphans: nothing can ever hit them
            if unlink(b.path) == 0 { total -= b.size; report.blobsRemoved += 1 }
        }
        var pinnedBlobs = Set<Digest>()
        for r in records where pinned.contains(r.key) { pinnedBlobs.formUnion(r.blobs) }
        report.pinnedBytes = pinnedBlobs.reduce(0) { $0 + (sizeOf[$1] ?? 0) }

        for r in records.sorted(by: { $0.lastUseNs < $1.lastUseNs }) {
            guard total > maxBytes else { break }
            if pinned.contains(r.key) { continue }
            unlink(r.path)  // record first: a reader must never find a record without its blobs
            report.evicted.append(r.key)
            reporter(.evicted(key: r.key))
            for b in Set(r.blobs) {
                refs[b]! -= 1
                if refs[b]! == 0, let size = sizeOf[b], unlink(blobPath(b)) == 0 {
                    total -= size; report.blobsRemoved += 1
                }
            }
        }
        report.bytesAfter = total
        if !report.evicted.isEmpty { try counters.bump(.evictions, by: UInt64(report.evicted.count)) }
        return report
    }

    /// Removes every record and blob and resets counters. Pins survive unless asked (they
    /// describe what is installed, which clearing a cache does not change); so does the memo.
    public func clear(includingPins: Bool = false) throws {
        var gc = try FileLock(path: gcLockPath, exclusive: true)
        defer { gc.release() }
        for r in try listRecordPaths() { unlink(r) }
        for b in try listBlobs() { unlink(b.path) }
        if includingPins {
            let dir = root.appendingComponent("pins")
            for n in try FileSystem.listDirectory(dir) { unlink(dir.appendingComponent(n)) }
        }
        try counters.reset()
    }

    // MARK: listing

    struct BlobInfo { var digest: Digest; var path: String; var size: Int64 }

    func listBlobs() throws -> [BlobInfo] {
        var out: [BlobInfo] = []
        let base = root.appendingComponent("blobs/sha256")
        for sub in try FileSystem.listDirectory(base) where sub.count == 2 {
            let dir = base.appendingComponent(sub)
            for name in try FileSystem.listDirectory(dir) {
                guard let d = Digest(hex: name) else { continue }  // skips .tmp-* files
                let p = dir.appendingComponent(name)
                guard let k = try? FileSystem.lstatKey(p) else { continue }
                out.append(BlobInfo(digest: d, path: p, size: k.size))
            }
        }
        return out
    }

    func listRecordPaths() throws -> [String] {
        var out: [String] = []
        let base = root.appendingComponent("records")
        for sub in try FileSystem.listDirectory(base) where sub.count == 2 {
            let dir = base.appendingComponent(sub)
            for name in try FileSystem.listDirectory(dir) where Digest(hex: name) != nil { out.append(dir.appendingComponent(name)) }
        }
        return out
    }

    /// Unparseable records are removed (they can only ever be misses) and reported.
    func loadRecords() throws -> [RecordEntry] {
        var out: [RecordEntry] = []
        for p in try listRecordPaths() {
            guard let key = Digest(hex: p.lastComponent), let k = try? FileSystem.lstatKey(p) else { continue }
            guard let rec = readRecord(p) else {
                unlink(p)
                reporter(.corruptRecord(key: key, reason: "unparseable record"))
                continue
            }
            let blobs = rec.files.compactMap { Digest(hex: $0.digest) }
            guard blobs.count == rec.files.count else {
                unlink(p); reporter(.corruptRecord(key: key, reason: "bad digest")); continue
            }
            out.append(RecordEntry(key: key, path: p, lastUseNs: k.mtimeNs, blobs: blobs))
        }
        return out
    }

    func removeStaleTemps(olderThanNs age: Int64) throws -> Int {
        var removed = 0
        let now = FileSystem.nowNs()
        var dirs = [root.appendingComponent("memo"), root.appendingComponent("pins")]
        for top in ["blobs/sha256", "records"] {
            let base = root.appendingComponent(top)
            dirs.append(base)
            for sub in try FileSystem.listDirectory(base) where sub.count == 2 { dirs.append(base.appendingComponent(sub)) }
        }
        for dir in dirs {
            for name in try FileSystem.listDirectory(dir) where name.hasPrefix(TempFile.prefix) {
                let p = dir.appendingComponent(name)
                if let k = try? FileSystem.lstatKey(p), now - k.mtimeNs >= age, unlink(p) == 0 { removed += 1 }
            }
        }
        return removed
    }
}
