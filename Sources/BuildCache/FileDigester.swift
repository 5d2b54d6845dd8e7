import Glibc
import SafeFS

/// Content digest of one regular file plus the stat data it was taken under.
public struct FileDigest: Hashable, Sendable {
    public var digest: Digest
    public var size: Int64
    public var executable: Bool
}

/// Counters so tests and the benchmark can prove the memo avoided reads.
public struct DigesterStatistics: Equatable, Sendable {
    public var memoHits = 0
    public var filesHashed = 0
    public var bytesHashed: Int64 = 0
    /// Files hashed but deliberately not memoized because they were too young (racy).
    public var racyNotMemoized = 0
}

/// SHA-256 of file contents, memoized by (dev, ino, mode, size, mtime_ns, ctime_ns).
///
/// The memo is loaded once in `init` and written back atomically by `save()`; callers should
/// call `save()` once at the end of a run. Files whose mtime or ctime is within `minimumAgeNs`
/// of now are hashed but never memoized: a rewrite within one timestamp tick would otherwise
/// leave stat data unchanged and the memo would serve stale content (git "racy clean",
/// ccache inode-cache 2 s rule).
public struct FileDigester {
    public let memoDirectory: String?
    public var minimumAgeNs: Int64
    /// Injected so tests can age files without sleeping; returns CLOCK_REALTIME in ns.
    public var clock: @Sendable () -> Int64
    public private(set) var statistics = DigesterStatistics()
    var memo: StatMemo

    /// - Parameter memoDirectory: where `stat-memo.v1` (or `memoFileName`) lives; nil = in-memory only.
    public init(memoDirectory: String?, memoFileName: String = StatMemo.fileName, minimumAgeSeconds: Double = 2.0,
                clock: @escaping @Sendable () -> Int64 = FileDigester.realtimeNs) {
        self.memoDirectory = memoDirectory
        self.minimumAgeNs = Int64(minimumAgeSeconds * 1e9)
        self.clock = clock
        self.memo = memoDirectory.map { StatMemo.load(directory: $0, fileName: memoFileName) } ?? StatMemo(fileName: memoFileName)
    }

    public var memoCount: Int { memo.count }

    /// CLOCK_REALTIME in nanoseconds, the same clock the kernel stamps mtime/ctime with.
    public static let realtimeNs: @Sendable () -> Int64 = { FileSystem.nowNs() }

    /// Digest of the file at `path`, following symlinks (toolchain paths like /usr/bin/gcc-12
    /// are links; what runs is the target's content).
    public mutating func digest(ofFile path: String) throws -> FileDigest {
        let key = try FileSystem.statKey(path)
        guard key.isRegular else { throw CacheError.unsupportedFileType(path: path, mode: key.mode) }
        if let d = memo.lookup(key) {
            statistics.memoHits += 1
            return FileDigest(digest: d, size: key.size, executable: key.isExecutable)
        }
        var buffer = HashBuffer()
        let (d, k) = try FileDigester.hashFile(path: path, buffer: &buffer)
        record(key: k, digest: d)
        return FileDigest(digest: d, size: k.size, executable: k.isExecutable)
    }

    /// Memo probe without I/O beyond what the caller already did (TreeDigester's stat).
    mutating func memoized(_ key: StatKey) -> Digest? {
        guard let d = memo.lookup(key) else { return nil }
        statistics.memoHits += 1
        return d
    }

    /// Accounts for a hash computed elsewhere (parallel workers) and memoizes it if old enough.
    mutating func record(key: StatKey, digest: Digest) {
        statistics.filesHashed += 1
        statistics.bytesHashed += key.size
        if isMemoizable(key) { memo.insert(key, digest) } else { statistics.racyNotMemoized += 1 }
    }

    func isMemoizable(_ key: StatKey) -> Bool {
        let now = clock()
        // A timestamp in the future (clock skew) also fails this test, which is what we want.
        return now - key.mtimeNs >= minimumAgeNs && now - key.ctimeNs >= minimumAgeNs
    }

    /// Writes the memo back atomically if it changed. No-op without a memo directory.
    public mutating func save() throws {
        guard let dir = memoDirectory else { return }
        try memo.save(directory: dir)
    }

    /// Reads and hashes a file. Pure and reentrant so worker threads can call it with their own
    /// buffer. Stat data is taken from the open descriptor before and after reading; if it moved,
    /// the file was being written, so retry once and then give up rather than memoize a torn read.
    static func hashFile(path: String, buffer: inout HashBuffer) throws -> (Digest, StatKey) {
        for _ in 0..<2 {
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
            guard fd >= 0 else { throw IOFailure("open", path) }
            defer { close(fd) }
            let before = try FileSystem.fstatKey(fd, path: path)
            guard before.isRegular else { throw CacheError.unsupportedFileType(path: path, mode: before.mode) }
            var h = SHA256()
            try buffer.readAll(fd: fd, path: path) { h.update($0) }
            let after = try FileSystem.fstatKey(fd, path: path)
            if after == before { return (h.finalize(), before) }
        }
        throw CacheError.fileChangedWhileHashing(path: path)
    }
}

/// A reusable read buffer (1 MiB: big enough that cc1's 33 MB needs few syscalls, small enough
/// to stay cache friendly). One per thread.
struct HashBuffer {
    private var storage = [UInt8](repeating: 0, count: 1 << 20)

    mutating func readAll(fd: Int32, path: String, _ body: (UnsafeRawBufferPointer) -> Void) throws {
        try storage.withUnsafeMutableBytes { buf in
            while true {
                let n = read(fd, buf.baseAddress, buf.count)
                if n < 0 { if errno == EINTR { continue }; throw IOFailure("read", path) }
                if n == 0 { return }
                body(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            }
        }
    }
}
