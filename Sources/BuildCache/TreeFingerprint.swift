import Glibc
import SafeFS

/// A digest of a tree's *stat data*: every entry's name, (dev, ino, mode, size, mtime, ctime)
/// and link target, in directory order, following links exactly as the kernel tree's content
/// digest does (`.followExternal`). Equal fingerprints mean no entry was added, removed,
/// renamed, replaced or written since, so the content digest computed then still holds: the
/// same premise as the per-file stat memo, checked without loading the memo, probing it 16,000
/// times or assembling the Merkle tree. It is what a cache hit pays per kernel and process.
///
/// Directory order is the file system's: an unchanged directory lists in the same order, and a
/// changed one changes the fingerprint anyway (a re-digest, never a wrong key).
///
/// With `known` listings, a directory whose own stat key is unchanged is not read again: its
/// recorded names are stat'ed directly (see `DirectoryListings`).
struct TreeFingerprint {
    /// The fingerprint, the newest mtime/ctime met (for the racy-timestamp rule), and the
    /// listings of the directories walked (to record with it).
    struct Result {
        var fingerprint: Digest
        var newestNs: Int64
        var listings: DirectoryListings
    }

    static func compute(roots: [String], threads: Int = 2, known: DirectoryListings? = nil) throws -> Result {
        do { return try walk(roots: roots, threads: threads, known: known) } catch is IOFailure where known != nil {
            // A recorded name vanished under a directory whose stat did not change (a race
            // with a writer): read every directory instead.
            return try walk(roots: roots, threads: threads, known: nil)
        }
    }

    private static func walk(roots: [String], threads: Int, known: DirectoryListings?) throws -> Result {
        // Depth 0 and 1 are walked here; each directory at depth 2 becomes a task, so the
        // big include/ subtrees spread over the threads.
        var top = Walker(splitDepth: 2, known: known)
        for r in roots {
            guard let real = FS.realPath(r) else { throw IOFailure("realpath", r) }
            top.stream.append(contentsOf: Array(r.utf8)); top.stream.append(0)
            try top.walk(path: real, key: FileSystem.statKey(real), boundary: real, depth: 0)
        }
        let tasks = top.tasks
        let parts = try ParallelRunner.map(tasks.count, threads: threads) { i -> (Digest, Int64, DirectoryListings) in
            var w = Walker(splitDepth: Int.max, known: known)
            try w.walk(path: tasks[i].path, key: tasks[i].key, boundary: tasks[i].boundary, depth: 0)
            return (w.finish(), w.newestNs, w.captured)
        }
        var enc = CanonicalEncoder(domain: "buildcache.fingerprint.v1")
        enc.append(top.finish())
        var newest = top.newestNs
        var listings = top.captured
        for (d, n, l) in parts { enc.append(d); newest = max(newest, n); listings.merge(l) }
        return Result(fingerprint: enc.digest(), newestNs: newest, listings: listings)
    }

    private struct Task { var path: String; var key: StatKey; var boundary: String }

    private struct Walker {
        let splitDepth: Int
        let known: DirectoryListings?
        var tasks: [Task] = []
        var stream: [UInt8] = []
        var hash = SHA256()
        var newestNs: Int64 = 0
        var captured = DirectoryListings()

        init(splitDepth: Int, known: DirectoryListings?) {
            self.splitDepth = splitDepth
            self.known = known
            stream.reserveCapacity(1 << 16)
        }

        mutating func finish() -> Digest {
            flush()
            return hash.finalize()
        }

        mutating func flush() {
            stream.withUnsafeBytes { hash.update($0) }
            stream.removeAll(keepingCapacity: true)
        }

        mutating func add(_ k: StatKey) {
            newestNs = max(newestNs, k.mtimeNs, k.ctimeNs)
            k.pack(into: &stream)
        }

        mutating func walk(path: String, key: StatKey, boundary: String, depth: Int) throws {
            if depth >= splitDepth {
                tasks.append(Task(path: path, key: key, boundary: boundary))
                stream.append(UInt8(ascii: "T"))
                return
            }
            stream.append(UInt8(ascii: "{"))
            // This directory's names, recorded after its subdirectories (depth first) so that
            // each directory's names are contiguous in the listings.
            var list: [UInt8] = []
            var count = 0
            if let known, let listed = known.entries(of: path, key: key) {
                let dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                guard dfd >= 0 else { throw IOFailure("open", path) }
                defer { close(dfd) }
                try known.names.withUnsafeBufferPointer { buf in
                    var at = listed.start
                    for _ in 0..<listed.count {
                        let name = UnsafeRawPointer(buf.baseAddress! + at).assumingMemoryBound(to: CChar.self)
                        let n = strlen(name)
                        try entry(dfd: dfd, name: name, length: n, path: path, boundary: boundary, depth: depth, list: &list)
                        count += 1
                        at += n + 1
                    }
                }
            } else {
                guard let dir = opendir(path) else { throw IOFailure("opendir", path) }
                defer { closedir(dir) }
                let dfd = dirfd(dir)
                while true {
                    errno = 0
                    guard let ent = readdir(dir) else {
                        if errno != 0 { throw IOFailure("readdir", path) }
                        break
                    }
                    try withUnsafeBytes(of: &ent.pointee.d_name) { raw in
                        let c = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
                        let n = strnlen(c, raw.count)
                        if n == 1 && c[0] == 0x2e || n == 2 && c[0] == 0x2e && c[1] == 0x2e { return }
                        try entry(dfd: dfd, name: c, length: n, path: path, boundary: boundary, depth: depth, list: &list)
                        count += 1
                    }
                }
            }
            stream.append(UInt8(ascii: "}"))
            captured.record(path: path, key: key, names: list, count: count)
        }

        private mutating func entry(dfd: Int32, name: UnsafePointer<CChar>, length n: Int, path: String,
                                    boundary: String, depth: Int, list: inout [UInt8]) throws {
            let bytes = UnsafeRawBufferPointer(start: name, count: n)
            stream.append(contentsOf: bytes)
            stream.append(0)
            list.append(contentsOf: bytes)
            list.append(0)
            var st = stat()
            guard fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
                throw IOFailure("lstat", path.appendingComponent(String(cString: name)))
            }
            let key = StatKey(st)
            add(key)
            if key.isDirectory || key.isSymlink {
                let child = path.appendingComponent(String(cString: name))
                if key.isDirectory {
                    try walk(path: child, key: key, boundary: boundary, depth: depth + 1)
                } else {
                    try link(child, boundary: boundary, depth: depth + 1)
                }
            }
            if stream.count > 1 << 15 { flush() }
        }

        /// A link: its target text, and whatever the content digest would follow to.
        private mutating func link(_ path: String, boundary: String, depth: Int) throws {
            let target = try FileSystem.readLink(path)
            stream.append(contentsOf: target); stream.append(0)
            guard TreeWalkRules.shouldFollow(linkPath: path, target: target, boundary: boundary, policy: .followExternal),
                  let real = FS.realPath(path) else { stream.append(UInt8(ascii: "-")); return }
            stream.append(contentsOf: Array(real.utf8)); stream.append(0)
            let k = try FileSystem.statKey(real)
            add(k)
            if k.isDirectory { try walk(path: real, key: k, boundary: real, depth: depth) }
        }
    }
}

/// The names in each directory a fingerprint walk read, with the directory's stat key. Creating,
/// removing or renaming an entry updates its directory's mtime and ctime, so while that key is
/// unchanged the names are too, and the next walk stats them without reading the directory
/// (getdents on ext4's hashed directories was a tenth of a cache hit's CPU). Recorded only with
/// a fingerprint old enough for the racy-timestamp rule, which covers directories as well.
///
/// File: "BCLIST01" | per directory: u32 path length, path, key (u64 dev, u64 ino, u32 mode,
/// i64 size, i64 mtime, i64 ctime), u32 name count, u32 name bytes, NUL-terminated names;
/// sealed (`Sealed`).
struct DirectoryListings {
    /// Per directory: its key, where its names are in `names`, and how many there are.
    private(set) var index: [String: (key: StatKey, bytes: Range<Int>, count: Int)] = [:]
    private(set) var names: [UInt8] = []

    func entries(of path: String, key: StatKey) -> (start: Int, count: Int)? {
        guard let e = index[path], e.key == key else { return nil }
        return (e.bytes.lowerBound, e.count)
    }

    mutating func record(path: String, key: StatKey, names list: [UInt8], count: Int) {
        index[path] = (key, names.count..<(names.count + list.count), count)
        names.append(contentsOf: list)
    }

    mutating func merge(_ other: DirectoryListings) {
        let base = names.count
        names.append(contentsOf: other.names)
        for (p, e) in other.index { index[p] = (e.key, (e.bytes.lowerBound + base)..<(e.bytes.upperBound + base), e.count) }
    }

    static let magic = Array("BCLIST01".utf8)

    func encoded() -> [UInt8] {
        var out = DirectoryListings.magic
        func put<T>(_ v: T) { withUnsafeBytes(of: v) { out.append(contentsOf: $0) } }
        for (path, e) in index {
            let p = Array(path.utf8)
            put(UInt32(p.count)); out.append(contentsOf: p)
            e.key.pack(into: &out)
            put(UInt32(e.count)); put(UInt32(e.bytes.count))
            out.append(contentsOf: names[e.bytes])
        }
        return Sealed.seal(out)
    }

    /// nil for a torn, foreign or inconsistent file: the walk then reads every directory.
    static func decode(_ file: [UInt8]) -> DirectoryListings? {
        guard let sealed = Sealed.open(file), sealed.count >= 8, Array(sealed.prefix(8)) == magic else { return nil }
        let bytes = Array(sealed)
        var l = DirectoryListings()
        let end = bytes.count
        var i = 8
        return bytes.withUnsafeBytes { raw -> DirectoryListings? in
            func get<T>(_: T.Type) -> T? {
                guard i + MemoryLayout<T>.size <= end else { return nil }
                defer { i += MemoryLayout<T>.size }
                return raw.loadUnaligned(fromByteOffset: i, as: T.self)
            }
            while i < end {
                guard let pl = get(UInt32.self), i + Int(pl) <= end else { return nil }
                let path = String(decoding: bytes[i..<(i + Int(pl))], as: UTF8.self)
                i += Int(pl)
                guard i + StatKey.packedSize <= end else { return nil }
                let key = StatKey(unpacking: raw, at: i)
                i += StatKey.packedSize
                guard let count = get(UInt32.self), let len = get(UInt32.self), i + Int(len) <= end else { return nil }
                let list = Array(bytes[i..<(i + Int(len))])
                guard list.filter({ $0 == 0 }).count == Int(count), list.last == 0 || count == 0 else { return nil }
                i += Int(len)
                l.record(path: path, key: key, names: list, count: Int(count))
            }
            return l
        }
    }
}

/// Rules the content walk and the fingerprint walk must agree on.
enum TreeWalkRules {
    static func shouldFollow(linkPath: String, target: [UInt8], boundary: String, policy: SymlinkPolicy) -> Bool {
        switch policy {
        case .record: return false
        case .followAll: return true
        case .followExternal:
            if target.first == UInt8(ascii: "/") { return true }
            guard let real = FS.realPath(linkPath) else { return false }  // dangling: record
            return !(real == boundary || real.hasPrefix(boundary + "/"))
        }
    }
}
