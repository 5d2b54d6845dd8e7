import Foundation
import Glibc
import SafeFS

/// Something the store noticed and repaired; delivered to the reporter closure so the daemon
/// can log or alarm (a corrupt blob on a local disk is worth a log line).
public enum CacheEvent: Equatable, Sendable {
    case corruptBlob(key: Digest, blob: Digest, path: String)
    case missingBlob(key: Digest, blob: Digest)
    case corruptRecord(key: Digest, reason: String)
    case evicted(key: Digest)
}

public enum LookupResult: Equatable, Sendable {
    case hit([ResultFile])
    case miss
    /// The entry existed but failed verification; it has been removed. Treat as a miss.
    case corrupt([CacheEvent])
}

/// Content-addressed local cache of build results.
///
/// Layout under `root`:
///   blobs/sha256/<aa>/<digest>   output files, named by SHA-256 of their bytes, mode 0444
///   records/<aa>/<key>           JSON ResultRecord: key -> [(path, digest, size)] + labels
///   pins/<sha256(ref)>           "key\nref\n": GC roots (installed module/version/kernel/arch)
///   locks/<key>, locks/gc.lock   flock files: single-flight per key; store vs prune/verify
///   memo/                        FileDigester stat memo (pass `memoDirectory` to it)
///   stats/counters               persisted hit/miss/... counters
///
/// A value type holding only paths and the reporter: all state is on disk, so any number of
/// processes can share one store.
public struct CacheStore: Sendable {
    public let root: String
    public var reporter: @Sendable (CacheEvent) -> Void

    public init(root: String, reporter: @escaping @Sendable (CacheEvent) -> Void = { _ in }) throws {
        self.root = root
        self.reporter = reporter
        for d in ["blobs/sha256", "records", "pins", "locks", "memo", "stats"] {
            try FileSystem.makeDirectories(root.appendingComponent(d))
        }
    }

    public var memoDirectory: String { CacheStore.memoDirectory(root: root) }

    /// Where a store at `root` keeps its memos, without opening the store.
    public static func memoDirectory(root: String) -> String { root.appendingComponent("memo") }

    // MARK: paths

    func blobPath(_ d: Digest) -> String { "\(root)/blobs/sha256/\(d.hex.prefix(2))/\(d.hex)" }
    func recordPath(_ k: Digest) -> String { "\(root)/records/\(k.hex.prefix(2))/\(k.hex)" }
    var gcLockPath: String { "\(root)/locks/gc.lock" }

    // MARK: lookup

    /// Verified hit, or nil. Every blob is re-hashed; a bad entry is removed and reported.
    public func lookup(_ key: Digest) throws -> [ResultFile]? {
        if case let .hit(files) = try lookupResult(key) { return files }
        return nil
    }

    /// `components`: the key's components (CacheKey.explain()); a record
    /// that names other components was not made for this key and is corrupt.
    public func lookupResult(_ key: Digest, components: [(component: String, digest: String)]? = nil) throws -> LookupResult {
        let rpath = recordPath(key)
        let bytes: [UInt8]
        do { bytes = try FS.read(rpath) } catch let f as IOFailure where f.errno == ENOENT {
            try counters.bump(.misses)
            return .miss
        }
        var events: [CacheEvent] = []
        var files: [ResultFile] = []
        do {
            let rec = try ResultRecord.decode(bytes, path: rpath)
            guard rec.key == key.hex else { throw CacheError.corruptMetadata(path: rpath, reason: "key mismatch") }
            if let want = components, let have = rec.components,
               have != Dictionary(want.map { ($0.component, $0.digest) }, uniquingKeysWith: { a, _ in a }) {
                throw CacheError.corruptMetadata(path: rpath, reason: "components do not match the key")
            }
            var buffer = HashBuffer()
            for f in rec.files {
                guard let d = Digest(hex: f.digest) else { throw CacheError.corruptMetadata(path: rpath, reason: "bad digest") }
                try RelativePath.validate(f.path)
                let bp = blobPath(d)
                switch verifyBlob(bp, expected: d, size: f.size, buffer: &buffer) {
                case .ok: files.append(ResultFile(relativePath: f.path, digest: d, size: f.size, blobPath: bp))
                case .missing: events.append(.missingBlob(key: key, blob: d))
                case .mismatch:
                    unlink(bp)
                    events.append(.corruptBlob(key: key, blob: d, path: bp))
                }
            }
        } catch let CacheError.corruptMetadata(_, reason) {
            events.append(.corruptRecord(key: key, reason: reason))
        } catch CacheError.invalidRelativePath(let p) {
            events.append(.corruptRecord(key: key, reason: "invalid path \(p)"))
        }
        if !events.isEmpty {
            unlink(rpath)  // a record must never point at bad data; next build re-publishes it
            events.forEach(reporter)
            try counters.bump(.misses)
            try counters.bump(.corruptions, by: UInt64(events.count))
            return .corrupt(events)
        }
        // Touch the record: its mtime is the LRU clock (atime is unreliable under noatime/relatime).
        utimensat(AT_FDCWD, rpath, nil, 0)
        try counters.bump(.hits)
        return .hit(files)
    }

    enum BlobCheck { case ok, missing, mismatch }

    func verifyBlob(_ path: String, expected: Digest, size: Int64?, buffer: inout HashBuffer) -> BlobCheck {
        do {
            let (d, k) = try FileDigester.hashFile(path: path, buffer: &buffer)
            if d != expected || (size != nil && k.size != size!) { return .mismatch }
            return .ok
        } catch let f as IOFailure where f.errno == ENOENT {
            return .missing
        } catch {
            return .mismatch
        }
    }

    // MARK: store

    /// Publishes build outputs under `key`: blobs first, record last, so a record never refers
    /// to a blob that is not durable yet. Returns the stored files (as a later lookup would).
    @discardableResult
    public func store(_ key: Digest, files: [(relativePath: String, sourcePath: String)], labels: ResultLabels,
                      components: [(component: String, digest: String)]? = nil) throws -> [ResultFile] {
        for f in files { try RelativePath.validate(f.relativePath) }
        // Shared GC lock: prune/verify/clear (exclusive) cannot delete our blobs before the record exists.
        var gc = try FileLock(path: gcLockPath, exclusive: false)
        defer { gc.release() }
        var out: [ResultFile] = []
        var buffer = HashBuffer()
        for f in files {
            let (d, size) = try putBlob(from: f.sourcePath, buffer: &buffer)
            out.append(ResultFile(relativePath: f.relativePath, digest: d, size: size, blobPath: blobPath(d)))
        }
        let rec = ResultRecord(key: key.hex, created: Double(FileSystem.nowNs()) / 1e9, labels: labels,
                               files: out.map { .init(path: $0.relativePath, digest: $0.digest.hex, size: $0.size) },
                               components: components.map { Dictionary(uniqueKeysWithValues: $0.map { ($0.component, $0.digest) }) })
        let rpath = recordPath(key)
        try FileSystem.makeDirectories(rpath.deletingLastComponent)
        try FS.writeAtomically(try rec.encoded(), to: rpath)
        try counters.bump(.stores)
        return out
    }

    /// Copies `source` into the CAS. The digest is taken first, then the copy is written to a
    /// temp file in the blob's own directory while hashing again; if the two disagree the
    /// source changed under us and nothing is published.
    func putBlob(from source: String, buffer: inout HashBuffer) throws -> (Digest, Int64) {
        let (d, _) = try FileDigester.hashFile(path: source, buffer: &buffer)
        let target = blobPath(d)
        if verifyBlob(target, expected: d, size: nil, buffer: &buffer) == .ok {
            let k = try FileSystem.lstatKey(target)
            return (d, k.size)  // dedupe: equal name means equal (verified) content
        }
        try FileSystem.makeDirectories(target.deletingLastComponent)
        var tmp = try TempFile(in: target.deletingLastComponent, mode: 0o444)
        do {
            let fd = open(source, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw IOFailure("open", source) }
            defer { close(fd) }
            var h = SHA256()
            var size: Int64 = 0
            var failure: Error?
            try buffer.readAll(fd: fd, path: source) { chunk in
                h.update(chunk); size += Int64(chunk.count)
                if failure == nil { do { try tmp.write(chunk) } catch { failure = error } }
            }
            if let f = failure { throw f }
            guard h.finalize() == d else { throw CacheError.fileChangedWhileHashing(path: source) }
            try tmp.commit(to: target)
            return (d, size)
        } catch {
            tmp.discard()
            throw error
        }
    }

    /// Copies a verified result file out to `destination` (atomically), re-verifying the digest
    /// on the bytes actually copied so a blob corrupted after lookup is still caught.
    ///
    /// `syncDirectory: false`: the destination's directory is private and the caller fsyncs
    /// it once before publishing it (a cache hit restores a dozen files into staging).
    public func copy(_ file: ResultFile, to destination: String, mode: mode_t = 0o644, syncDirectory: Bool = true) throws {
        try FileSystem.makeDirectories(destination.deletingLastComponent)
        var tmp = try TempFile(in: destination.deletingLastComponent, mode: mode)
        do {
            let fd = open(file.blobPath, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw IOFailure("open", file.blobPath) }
            defer { close(fd) }
            var h = SHA256()
            var buffer = HashBuffer()
            var failure: Error?
            try buffer.readAll(fd: fd, path: file.blobPath) { chunk in
                h.update(chunk)
                if failure == nil { do { try tmp.write(chunk) } catch { failure = error } }
            }
            if let f = failure { throw f }
            guard h.finalize() == file.digest else {
                unlink(file.blobPath)
                reporter(.corruptBlob(key: file.digest, blob: file.digest, path: file.blobPath))
                throw CacheError.corruptMetadata(path: file.blobPath, reason: "blob digest mismatch on copy")
            }
            try tmp.commit(to: destination, syncDirectory: syncDirectory)
        } catch {
            tmp.discard()
            throw error
        }
    }

    // MARK: single flight

    /// Runs `body` holding an exclusive cross-process lock for `key`. Pattern:
    ///     try store.withKeyLock(key) { try store.lookup(key) ?? build-and-store() }
    /// A second process asking for the same key blocks here, then finds the first one's hit.
    public func withKeyLock<T>(_ key: Digest, _ body: () throws -> T) throws -> T {
        var lock = try FileLock.acquireEphemeral(path: "\(root)/locks/\(key.hex)")
        defer { lock.release(unlinking: true) }
        return try body()
    }

    /// Lookup under the key lock, building and storing on a miss. The build closure returns the
    /// files to publish. Returns the (verified) files and whether it was a hit.
    public func lookupOrBuild(_ key: CacheKey, labels: ResultLabels,
                              build: () throws -> [(relativePath: String, sourcePath: String)]) throws -> (files: [ResultFile], hit: Bool) {
        try withKeyLock(key.digest) {
            if let hit = try lookup(key.digest) { return (hit, true) }
            let outputs = try build()
            return (try store(key.digest, files: outputs, labels: labels, components: key.explain()), false)
        }
    }
}

// CacheKey conveniences: the store itself only needs the key digest.
extension CacheStore {
    public func lookup(_ key: CacheKey) throws -> [ResultFile]? {
        if case let .hit(files) = try lookupResult(key.digest, components: key.explain()) { return files }
        return nil
    }
    @discardableResult
    public func store(_ key: CacheKey, files: [(relativePath: String, sourcePath: String)], labels: ResultLabels) throws -> [ResultFile] {
        try store(key.digest, files: files, labels: labels, components: key.explain())
    }
    public func withKeyLock<T>(_ key: CacheKey, _ body: () throws -> T) throws -> T { try withKeyLock(key.digest, body) }
}

extension CacheStore {
    /// Whether a record exists for `key`, without verifying or touching it:
    /// for scheduling decisions only; `lookup` still decides what is a hit.
    public func hasRecord(_ key: CacheKey) -> Bool {
        FS.exists(recordPath(key.digest), followLinks: false)
    }
}
