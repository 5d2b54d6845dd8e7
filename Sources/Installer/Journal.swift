import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SafeFS

/// The write-ahead journal of one transaction: `$dkms_tree/.journal/<id>.journal`.
///
/// Append-only, one record per line, fsynced after every record recovery acts on: an
/// intent that reached the file is on disk before the step it describes touches anything.
/// A class because it owns the open descriptor.
final class Journal {
    let path: String
    let id: String
    private var fd: Int32

    static func directory(dkmsTree: String) -> String { FS.join(dkmsTree, ".journal") }

    /// Unique enough across processes and restarts: pid + wall clock + random.
    static func newID() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let r = UInt32.random(in: 0...UInt32.max)
        return "\(getpid())-\(ts.tv_sec)\(String(format: "%09ld", ts.tv_nsec))-\(String(r, radix: 16))"
    }

    /// Creates the journal and durably writes its `begin` record.
    static func create(dkmsTree: String, id: String, description: String, faults: inout FaultInjector) throws -> Journal {
        let dir = directory(dkmsTree: dkmsTree)
        if !FS.exists(dir, followLinks: false) {
            faults.point("journal: mkdir \(dir)")
            try FS.makeDirectory(dir, mode: 0o700)
            try FS.syncDirectoryIfSupported(FS.parent(dir))
        }
        let path = FS.join(dir, "\(id).journal")
        faults.point("journal: create \(path)")
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw FS.fail("create journal", path) }
        let j = Journal(path: path, id: id, fd: fd)
        // The empty file is harmless to recovery (no begin record = nothing to do), so
        // the create and the first record need not be atomic.
        try j.append(.begin(id: id, description: description), faults: &faults)
        try FS.syncDirectoryIfSupported(dir)
        return j
    }

    private init(path: String, id: String, fd: Int32) {
        self.path = path
        self.id = id
        self.fd = fd
    }

    deinit { if fd >= 0 { close(fd) } }

    /// One write() per record, then fsync: the line is either entirely there or, after
    /// a power cut, fails its checksum and is ignored. `sync: false` is for records
    /// recovery does not act on (`done`: an intent is undone whether or not its step
    /// finished), which the next record's fsync makes durable anyway.
    func append(_ record: JournalRecord, faults: inout FaultInjector, sync: Bool = true) throws {
        faults.point("journal: " + record.encodeLine().dropLast().split(separator: " ").dropFirst().prefix(2).joined(separator: " "))
        let bytes = Array(record.encodeLine().utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, bytes.count - off) }
            if n < 0 { if errno == EINTR { continue }; throw FS.fail("append to journal", path) }
            off += n
        }
        guard !sync || fsync(fd) == 0 else { throw FS.fail("fsync journal", path) }
    }

    /// The transaction is finished: the journal goes away.
    func finish(faults: inout FaultInjector) throws {
        close(fd)
        fd = -1
        faults.point("journal: delete \(path)")
        try FS.unlinkIfPresent(path)
        try FS.syncDirectoryIfSupported(FS.parent(path))
    }

    /// Reads every intact record. A trailing line without newline or with a bad checksum
    /// is the torn end of an interrupted append and is dropped; a bad line in the middle
    /// means real corruption and is an error.
    static func read(path: String) throws -> [JournalRecord] {
        let text = String(decoding: try FS.readFileReporting(path), as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if let last = lines.last, last.isEmpty || !text.hasSuffix("\n") { lines.removeLast() }
        var records: [JournalRecord] = []
        for (i, line) in lines.enumerated() {
            if let r = try JournalRecord.decodeLine(line, journal: path) {
                records.append(r)
            } else if i != lines.count - 1 {
                throw InstallerError.journalCorrupt(path: path, reason: "checksum mismatch on line \(i + 1)")
            }
        }
        return records
    }

    /// Journals waiting for recovery, oldest first (ids start with pid, so sort by mtime).
    static func pending(dkmsTree: String) -> [String] {
        let dir = directory(dkmsTree: dkmsTree)
        let names = FS.listDirectory(dir).filter { $0.hasSuffix(".journal") }
        func mtime(_ p: String) -> Int {
            var st = stat()
            return stat(p, &st) == 0 ? Int(st.st_mtim.tv_sec) * 1_000_000_000 + Int(st.st_mtim.tv_nsec) : 0
        }
        return names.map { FS.join(dir, $0) }.sorted { mtime($0) < mtime($1) }
    }
}
