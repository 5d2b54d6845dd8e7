import Glibc

/// A digest of a tree's *stat data*: every entry's name, (dev, ino, mode, size, mtime, ctime)
/// and link target, in directory order, following links exactly as the kernel tree's content
/// digest does (`.followExternal`). Equal fingerprints mean no entry was added, removed,
/// renamed, replaced or written since, so the content digest computed then still holds: the
/// same premise as the per-file stat memo, checked without loading the memo, probing it 16,000
/// times or assembling the Merkle tree. It is what a cache hit pays per kernel and process.
///
/// Directory order is the file system's: an unchanged directory lists in the same order, and a
/// changed one changes the fingerprint anyway (a re-digest, never a wrong key).
struct TreeFingerprint {
    /// The fingerprint, and the newest mtime/ctime met (for the racy-timestamp rule).
    struct Result: Equatable { var fingerprint: Digest; var newestNs: Int64 }

    static func compute(roots: [String], threads: Int = 2) throws -> Result {
        // Depth 0 and 1 are walked here; each directory at depth 2 becomes a task, so the
        // big include/ subtrees spread over the threads.
        var top = Walker(splitDepth: 2)
        for r in roots {
            guard let real = FileSystem.realPath(r) else { throw CacheError.errno("realpath", r) }
            top.stream.append(contentsOf: Array(r.utf8)); top.stream.append(0)
            try top.walk(path: real, boundary: real, depth: 0)
        }
        let tasks = top.tasks
        let parts = try ParallelRunner.map(tasks.count, threads: threads) { i -> (Digest, Int64) in
            var w = Walker(splitDepth: Int.max)
            try w.walk(path: tasks[i].path, boundary: tasks[i].boundary, depth: 0)
            return (w.finish(), w.newestNs)
        }
        var enc = CanonicalEncoder(domain: "buildcache.fingerprint.v1")
        enc.append(top.finish())
        var newest = top.newestNs
        for (d, n) in parts { enc.append(d); newest = max(newest, n) }
        return Result(fingerprint: enc.digest(), newestNs: newest)
    }

    private struct Task { var path: String; var boundary: String }

    private struct Walker {
        let splitDepth: Int
        var tasks: [Task] = []
        var stream: [UInt8] = []
        var hash = SHA256()
        var newestNs: Int64 = 0

        init(splitDepth: Int) { self.splitDepth = splitDepth; stream.reserveCapacity(1 << 16) }

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
            withUnsafeBytes(of: k.dev) { stream.append(contentsOf: $0) }
            withUnsafeBytes(of: k.ino) { stream.append(contentsOf: $0) }
            withUnsafeBytes(of: k.mode) { stream.append(contentsOf: $0) }
            withUnsafeBytes(of: k.size) { stream.append(contentsOf: $0) }
            withUnsafeBytes(of: k.mtimeNs) { stream.append(contentsOf: $0) }
            withUnsafeBytes(of: k.ctimeNs) { stream.append(contentsOf: $0) }
        }

        mutating func walk(path: String, boundary: String, depth: Int) throws {
            if depth >= splitDepth {
                tasks.append(Task(path: path, boundary: boundary))
                stream.append(UInt8(ascii: "T"))
                return
            }
            guard let dir = opendir(path) else { throw CacheError.errno("opendir", path) }
            defer { closedir(dir) }
            let dfd = dirfd(dir)
            stream.append(UInt8(ascii: "{"))
            while true {
                errno = 0
                guard let ent = readdir(dir) else {
                    if errno != 0 { throw CacheError.errno("readdir", path) }
                    break
                }
                var st = stat()
                let rc: Int32 = withUnsafeBytes(of: &ent.pointee.d_name) { raw in
                    let c = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
                    let n = strnlen(c, raw.count)
                    if n == 1 && c[0] == 0x2e || n == 2 && c[0] == 0x2e && c[1] == 0x2e { return -2 }
                    stream.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<n]))
                    stream.append(0)
                    return fstatat(dfd, c, &st, AT_SYMLINK_NOFOLLOW)
                }
                if rc == -2 { continue }
                guard rc == 0 else { throw CacheError.errno("lstat", path) }
                let key = StatKey(st)
                add(key)
                if key.isDirectory || key.isSymlink {
                    let name = withUnsafeBytes(of: &ent.pointee.d_name) { raw in
                        String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
                    }
                    let child = path.appendingComponent(name)
                    if key.isDirectory {
                        try walk(path: child, boundary: boundary, depth: depth + 1)
                    } else {
                        try link(child, boundary: boundary, depth: depth + 1)
                    }
                }
                if stream.count > 1 << 15 { flush() }
            }
            stream.append(UInt8(ascii: "}"))
        }

        /// A link: its target text, and whatever the content digest would follow to.
        private mutating func link(_ path: String, boundary: String, depth: Int) throws {
            let target = try FileSystem.readLink(path)
            stream.append(contentsOf: target); stream.append(0)
            guard TreeWalkRules.shouldFollow(linkPath: path, target: target, boundary: boundary, policy: .followExternal),
                  let real = FileSystem.realPath(path) else { stream.append(UInt8(ascii: "-")); return }
            stream.append(contentsOf: Array(real.utf8)); stream.append(0)
            let k = try FileSystem.statKey(real)
            add(k)
            if k.isDirectory { try walk(path: real, boundary: real, depth: depth) }
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
            guard let real = FileSystem.realPath(linkPath) else { return false }  // dangling: record
            return !(real == boundary || real.hasPrefix(boundary + "/"))
        }
    }
}
