import Glibc
import SafeFS

/// Persistent map StatKey -> content digest. It only ever accelerates hashing: losing or
/// discarding it costs a re-hash (~1 s for the kernel tree), never a wrong key, so a damaged
/// file is silently treated as empty.
///
/// On-disk format (native little-endian, fixed 80-byte records so loading is a tight loop):
///   "BCMEMO01" | count:u64 | count × (dev:u64 ino:u64 mode:u32 pad:u32 size:i64 mtime:i64 ctime:i64 digest:32B)
public struct StatMemo {
    static let magic: [UInt8] = Array("BCMEMO01".utf8)
    static let recordSize = 80
    public static let fileName = "stat-memo.v1"
    /// The file this memo loads from and saves to, inside its directory.
    var fileName = StatMemo.fileName

    /// Entries beyond this are trimmed to those used in the current session when saving,
    /// so inode churn from reinstalls cannot grow the file without bound.
    public var maxEntries: Int

    /// Value = (digest, used-this-session); one hash probe per lookup marks use in place.
    private(set) var entries: [StatKey: Entry] = [:]
    private(set) var dirty = false

    struct Entry { var digest: Digest; var used: Bool }

    public init(maxEntries: Int = 200_000, fileName: String = StatMemo.fileName) {
        self.maxEntries = maxEntries
        self.fileName = fileName
    }

    public var count: Int { entries.count }

    mutating func lookup(_ key: StatKey) -> Digest? {
        guard let i = entries.index(forKey: key) else { return nil }
        entries.values[i].used = true
        return entries.values[i].digest
    }

    mutating func insert(_ key: StatKey, _ digest: Digest) {
        if entries.updateValue(Entry(digest: digest, used: true), forKey: key)?.digest != digest { dirty = true }
    }

    /// Loads `<directory>/stat-memo.v1`; a missing or malformed file yields an empty memo.
    public static func load(directory: String, maxEntries: Int = 200_000, fileName: String = StatMemo.fileName) -> StatMemo {
        var memo = StatMemo(maxEntries: maxEntries, fileName: fileName)
        guard let bytes = try? FS.read(directory.appendingComponent(fileName)),
              bytes.count >= 16, Array(bytes[0..<8]) == magic else { return memo }
        bytes.withUnsafeBytes { raw in
            let count = Int(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            guard count >= 0, count <= (raw.count - 16) / recordSize, raw.count == 16 + count * recordSize else { return }
            memo.entries.reserveCapacity(count)
            var off = 16
            for _ in 0..<count {
                let key = StatKey(dev: raw.loadUnaligned(fromByteOffset: off, as: UInt64.self),
                                  ino: raw.loadUnaligned(fromByteOffset: off + 8, as: UInt64.self),
                                  mode: raw.loadUnaligned(fromByteOffset: off + 16, as: UInt32.self),
                                  size: raw.loadUnaligned(fromByteOffset: off + 24, as: Int64.self),
                                  mtimeNs: raw.loadUnaligned(fromByteOffset: off + 32, as: Int64.self),
                                  ctimeNs: raw.loadUnaligned(fromByteOffset: off + 40, as: Int64.self))
                let d = Digest(words: raw.loadUnaligned(fromByteOffset: off + 48, as: UInt64.self),
                               raw.loadUnaligned(fromByteOffset: off + 56, as: UInt64.self),
                               raw.loadUnaligned(fromByteOffset: off + 64, as: UInt64.self),
                               raw.loadUnaligned(fromByteOffset: off + 72, as: UInt64.self))
                memo.entries[key] = Entry(digest: d, used: false)
                off += recordSize
            }
        }
        return memo
    }

    /// Writes atomically (temp + fsync + rename). Concurrent savers: last one wins, which is
    /// fine for an accelerator. No-op when nothing changed.
    public mutating func save(directory: String) throws {
        guard dirty else { return }
        try FileSystem.makeDirectories(directory)
        var keep = entries
        if keep.count > maxEntries { keep = keep.filter { $0.value.used } }
        var out = [UInt8](repeating: 0, count: 16 + keep.count * StatMemo.recordSize)
        out.withUnsafeMutableBytes { raw in
            for (i, b) in StatMemo.magic.enumerated() { raw[i] = b }
            raw.storeBytes(of: UInt64(keep.count), toByteOffset: 8, as: UInt64.self)
            var off = 16
            for (k, e) in keep {
                let d = e.digest
                raw.storeBytes(of: k.dev, toByteOffset: off, as: UInt64.self)
                raw.storeBytes(of: k.ino, toByteOffset: off + 8, as: UInt64.self)
                raw.storeBytes(of: k.mode, toByteOffset: off + 16, as: UInt32.self)
                raw.storeBytes(of: k.size, toByteOffset: off + 24, as: Int64.self)
                raw.storeBytes(of: k.mtimeNs, toByteOffset: off + 32, as: Int64.self)
                raw.storeBytes(of: k.ctimeNs, toByteOffset: off + 40, as: Int64.self)
                raw.storeBytes(of: d.w0, toByteOffset: off + 48, as: UInt64.self)
                raw.storeBytes(of: d.w1, toByteOffset: off + 56, as: UInt64.self)
                raw.storeBytes(of: d.w2, toByteOffset: off + 64, as: UInt64.self)
                raw.storeBytes(of: d.w3, toByteOffset: off + 72, as: UInt64.self)
                off += StatMemo.recordSize
            }
        }
        try FS.writeAtomically(out, to: directory.appendingComponent(fileName))
        entries = keep
        dirty = false
    }
}
