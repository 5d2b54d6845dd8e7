import Glibc
import SafeFS

/// One result record as maintenance sees it: read, never verified, touched or removed.
public struct CacheEntry: Sendable {
    public struct File: Equatable, Sendable {
        public var path: String
        public var digest: Digest
        public var size: Int64
        public var blobPath: String
    }
    public var key: Digest
    public var recordPath: String
    public var recordBytes: Int64
    public var labels: ResultLabels
    /// CacheKey.explain() at store time; nil for entries stored by digest alone
    /// (module signatures) and for records written before components were kept.
    public var components: [String: String]?
    public var files: [File]
}

/// What the store holds, for callers that decide themselves what is garbage.
public struct CacheInventory: Sendable {
    /// Readable records, by key. Unreadable ones are left out (and left alone).
    public var entries: [CacheEntry] = []
    /// Every blob in the store and its size, referenced or not.
    public var blobSizes: [Digest: Int64] = [:]
    public var pinned: Set<Digest> = []

    /// Blobs no readable record references, by digest.
    public var unreferencedBlobs: [Digest] {
        var referenced = Set<Digest>()
        for e in entries { referenced.formUnion(e.files.map(\.digest)) }
        return blobSizes.keys.filter { !referenced.contains($0) }.sorted { $0.hex < $1.hex }
    }
}

public struct RemovalReport: Equatable, Sendable {
    public var recordsRemoved: [Digest] = []
    public var blobsRemoved: [Digest] = []
    public var bytesRemoved: Int64 = 0
    /// Asked for but kept: by the time the lock was held, a pin held the record or a
    /// remaining record referenced the blob.
    public var kept: [Digest] = []
}

extension CacheStore {
    /// Lists records, blobs and pins without changing anything (no lock file, no removal of
    /// unparseable records, no LRU touch): safe for a dry run.
    public func inventory() throws -> CacheInventory {
        var inv = CacheInventory()
        for b in try listBlobs() { inv.blobSizes[b.digest] = b.size }
        inv.pinned = try pinnedKeys()
        for p in try listRecordPaths() {
            guard let key = Digest(hex: p.lastComponent), let st = try? FileSystem.lstatKey(p),
                  let rec = readRecord(p) else { continue }
            var files: [CacheEntry.File] = []
            for f in rec.files {
                guard let d = Digest(hex: f.digest) else { break }
                files.append(.init(path: f.path, digest: d, size: f.size, blobPath: blobPath(d)))
            }
            guard files.count == rec.files.count else { continue }
            inv.entries.append(CacheEntry(key: key, recordPath: p, recordBytes: st.size, labels: rec.labels,
                                          components: rec.components, files: files))
        }
        inv.entries.sort { $0.key.hex < $1.key.hex }
        return inv
    }

    /// Removes the given records, then the given blobs, holding the GC lock exclusively as
    /// prune does (so no store can publish a record that needs a blob being removed).
    /// Rechecked under the lock: a record pinned by now is kept, and so is a blob some
    /// remaining record references. Records go first: a reader must never find a record
    /// without its blobs.
    public func remove(records: [Digest], blobs: [Digest]) throws -> RemovalReport {
        var gc = try FileLock(path: gcLockPath, exclusive: true)
        defer { gc.release() }
        var report = RemovalReport()
        let pinned = try pinnedKeys()
        for k in records {
            if pinned.contains(k) { report.kept.append(k); continue }
            guard let size = removeCounting(recordPath(k)) else { continue }
            report.recordsRemoved.append(k)
            report.bytesRemoved += size
            reporter(.evicted(key: k))
        }
        var referenced = Set<Digest>()
        for p in try listRecordPaths() {
            guard let rec = readRecord(p) else { continue }
            referenced.formUnion(rec.files.compactMap { Digest(hex: $0.digest) })
        }
        for b in blobs {
            if referenced.contains(b) { report.kept.append(b); continue }
            guard let size = removeCounting(blobPath(b)) else { continue }
            report.blobsRemoved.append(b)
            report.bytesRemoved += size
        }
        if !report.recordsRemoved.isEmpty { try counters.bump(.evictions, by: UInt64(report.recordsRemoved.count)) }
        return report
    }

    /// Where the blob `digest` is (or would be) in the store.
    public func blobPath(of digest: Digest) -> String { blobPath(digest) }

    /// Unlinks `path`; its size if it was there and is gone now, else nil.
    func removeCounting(_ path: String) -> Int64? {
        guard let st = try? FileSystem.lstatKey(path), unlink(path) == 0 else { return nil }
        return st.size
    }

    /// The record at `path`, or nil when it cannot be read or parsed.
    func readRecord(_ path: String) -> ResultRecord? {
        guard let bytes = try? FS.read(path) else { return nil }
        return try? ResultRecord.decode(bytes, path: path)
    }
}
