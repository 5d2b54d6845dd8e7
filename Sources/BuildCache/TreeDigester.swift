import Foundation
import Glibc
import SafeFS

/// NAR-style Merkle digest of a directory tree.
///
/// Each directory's digest is SHA-256 over its entries sorted by raw name bytes, each entry being
/// its name plus exactly one of:
///   file:    "f", executable bit, size, content digest
///   symlink: "l", target bytes
///   dir:     "d", the child directory's digest
/// Nothing else (no mtime, owner, full mode, inode), so a `cp -a` or a reinstall to new inodes
/// yields the same digest while any content, name, type, x-bit or link-target change does not.
///
/// Phases: (1) walk: stat every entry (syscall bound). With threads > 1 the walk stops at
/// `splitDepth` and the subdirectories below become tasks walked concurrently — all roots'
/// tasks share one pool so a big flat directory in one root overlaps with the other root.
/// (2) memo probe for every file, serially (the memo is a value type). (3) misses hashed by
/// `threads` workers. (4) digests assembled bottom-up.
public struct TreeDigester: Sendable {
    public var options: TreeDigestOptions

    public init(options: TreeDigestOptions = TreeDigestOptions()) { self.options = options }

    public func digest(root: String, using digester: inout FileDigester) throws -> TreeDigestResult {
        try digestAll([root], using: &digester)[0]
    }

    /// Digests several trees with one shared walk/hash pool; results in input order.
    func digestAll(_ roots: [String], using digester: inout FileDigester) throws -> [TreeDigestResult] {
        let split = options.threads > 1 ? 2 : Int.max
        var mains: [Walk] = []
        for r in roots {
            var w = Walk(options: options, splitDepth: split)
            w.top = try w.walkRoot(r)
            mains.append(w)
        }
        // Subtree tasks from every root, walked in parallel.
        var taskRefs: [(main: Int, task: Int)] = []
        for (m, w) in mains.enumerated() { for t in w.tasks.indices { taskRefs.append((m, t)) } }
        let subs = try ParallelRunner.map(taskRefs.count, threads: options.threads) { i -> Walk in
            let (m, t) = taskRefs[i]
            let task = mains[m].tasks[t]
            var w = Walk(options: options, splitDepth: Int.max)
            w.dirStack = task.ancestors
            w.followDepth = task.followDepth
            w.top = try w.walkTask(task)
            return w
        }
        var all = mains + subs
        try Walk.resolveDigests(&all, using: &digester, threads: options.threads)

        // Assemble: subtree digests first, then each main walk with its tasks' digests.
        var taskDigest = mains.map { [Digest](repeating: .empty, count: $0.tasks.count) }
        var totals = all[0..<mains.count].map { $0.counts }  // after resolveDigests: includes hashing counts
        for (i, ref) in taskRefs.enumerated() {
            let sub = all[mains.count + i]
            taskDigest[ref.main][ref.task] = sub.finishDigest(externals: [])
            totals[ref.main].add(sub.counts)
        }
        var out: [TreeDigestResult] = []
        for (m, w) in all[0..<mains.count].enumerated() {
            var r = totals[m]
            r.digest = w.finishDigest(externals: taskDigest[m])
            out.append(r)
        }
        return out
    }
}

/// One labelled root of a multi-root digest ("objtree", "srctree", "module").
public struct TreeRoot: Hashable, Sendable {
    public var label: String
    public var path: String
    public init(label: String, path: String) { self.label = label; self.path = path }
}

/// Digest of several labelled trees. Labels, not paths, go into the digest so relocating the
/// trees does not change it.
public struct MultiTreeDigest: Sendable {
    public var digest: Digest
    public var parts: [(label: String, result: TreeDigestResult)]

    public var files: Int { parts.reduce(0) { $0 + $1.result.files } }
    public var bytes: Int64 { parts.reduce(0) { $0 + $1.result.bytes } }
    public var filesHashed: Int { parts.reduce(0) { $0 + $1.result.filesHashed } }
    public var bytesHashed: Int64 { parts.reduce(0) { $0 + $1.result.bytesHashed } }
}

extension TreeDigester {
    public func digest(roots: [TreeRoot], using digester: inout FileDigester) throws -> MultiTreeDigest {
        let sorted = roots.sorted { Array($0.label.utf8).lexicographicallyPrecedes(Array($1.label.utf8)) }
        let results = try digestAll(sorted.map(\.path), using: &digester)
        let parts = zip(sorted, results).map { (label: $0.0.label, result: $0.1) }
        var enc = CanonicalEncoder(domain: "buildcache.multitree.v1")
        enc.append(UInt64(parts.count))
        for p in parts { enc.append(p.label); enc.append(p.result.digest) }
        return MultiTreeDigest(digest: enc.digest(), parts: parts)
    }
}

extension TreeDigestResult {
    mutating func add(_ o: TreeDigestResult) {
        files += o.files; uniqueFiles += o.uniqueFiles; bytes += o.bytes; directories += o.directories
        symlinks += o.symlinks; filesHashed += o.filesHashed; bytesHashed += o.bytesHashed
    }
}

// MARK: - Walk internals

struct DevIno: Hashable { var dev: UInt64; var ino: UInt64 }

/// A name stored in the walk's byte arena: one growing buffer instead of one heap array per
/// entry (16k allocations + releases were a visible share of the memoized pass).
private struct NameRef { var start: Int; var count: Int }

private enum Node {
    case file(job: Int)
    case link(target: [UInt8])
    case dir(children: [(name: NameRef, node: Int)])
    /// A subdirectory walked by another task; its digest arrives at finish time.
    case external(task: Int)
}

/// Where a file is; the full path String is only built for memo misses.
private enum FileLocation {
    case inDirectory(Int, NameRef)
    case path(String)
}

private struct Job {
    var location: FileLocation
    var key: StatKey
    var digest: Digest?
}

/// A directory deferred to a parallel walker, with the context the walk would have had.
struct WalkTask {
    var path: String
    var rel: String
    var boundary: String
    var key: StatKey
    var ancestors: Set<DevIno>
    var followDepth: Int
}

private struct Walk {
    let options: TreeDigestOptions
    let splitDepth: Int
    var top = 0
    var nodes: [Node] = []
    var jobs: [Job] = []
    var dirPaths: [String] = []
    var names: [UInt8] = []
    var jobByInode: [DevIno: Int] = [:]
    var dirStack: Set<DevIno> = []
    var tasks: [WalkTask] = []
    /// >0 while inside a directory reached through a followed symlink; only then (or for
    /// hard-linked files) can one inode be met twice, so only then is the dedupe map consulted.
    var followDepth = 0
    var counts = TreeDigestResult(digest: .empty)

    init(options: TreeDigestOptions, splitDepth: Int) { self.options = options; self.splitDepth = splitDepth }

    mutating func walkRoot(_ root: String) throws -> Int {
        // The root itself may be a link (/lib/modules/K/build): digest what it points at.
        guard let real = FS.realPath(root) else { throw IOFailure("realpath", root) }
        let key = try FileSystem.statKey(real)
        guard key.isDirectory else { throw CacheError.unsupportedFileType(path: root, mode: key.mode) }
        return try walkDirectory(path: real, rel: "", boundary: real, key: key, depth: 0)
    }

    mutating func walkTask(_ t: WalkTask) throws -> Int {
        try walkDirectory(path: t.path, rel: t.rel, boundary: t.boundary, key: t.key, depth: 0)
    }

    private mutating func walkDirectory(path: String, rel: String, boundary: String, key: StatKey, depth: Int) throws -> Int {
        let id = DevIno(dev: key.dev, ino: key.ino)
        if dirStack.contains(id) { throw CacheError.symlinkCycle(path: path) }
        if depth >= splitDepth {
            tasks.append(WalkTask(path: path, rel: rel, boundary: boundary, key: key, ancestors: dirStack, followDepth: followDepth))
            nodes.append(.external(task: tasks.count - 1))
            return nodes.count - 1
        }
        dirStack.insert(id)
        defer { dirStack.remove(id) }
        counts.directories += 1

        guard let dir = opendir(path) else { throw IOFailure("opendir", path) }
        defer { closedir(dir) }
        let dfd = dirfd(dir)
        let dirIndex = dirPaths.count
        dirPaths.append(path)
        var children: [(name: NameRef, node: Int)] = []
        while true {
            errno = 0
            guard let ent = readdir(dir) else {
                if errno != 0 { throw IOFailure("readdir", path) }
                break
            }
            // d_name is NUL-terminated in place: stat it without building any String, since
            // the common (memo-hit) case never needs the full path.
            var st = stat()
            let start = names.count
            let rc: Int32 = withUnsafeBytes(of: &ent.pointee.d_name) { raw in
                let c = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
                let n = strnlen(c, raw.count)
                if n == 1 && c[0] == 0x2e || n == 2 && c[0] == 0x2e && c[1] == 0x2e { return -2 }
                names.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<n]))
                return fstatat(dfd, c, &st, AT_SYMLINK_NOFOLLOW)
            }
            if rc == -2 { continue }
            let nameRef = NameRef(start: start, count: names.count - start)
            let name = names[start..<names.count]
            guard rc == 0 else { throw IOFailure("lstat", path.appendingComponent(String(decoding: name, as: UTF8.self))) }
            let ck = StatKey(st)
            var childRel = ""
            if let ex = options.exclude {
                let nameStr = String(decoding: name, as: UTF8.self)
                childRel = rel.isEmpty ? nameStr : rel + "/" + nameStr
                let kind: EntryKind = ck.isDirectory ? .directory : ck.isSymlink ? .symlink : .file
                if ex.predicate(childRel, nameStr, kind) { names.removeSubrange(start...); continue }
            }
            let node: Int
            if ck.isRegular {
                node = addFile(location: .inDirectory(dirIndex, nameRef), key: ck, mayRepeat: st.st_nlink > 1)
            } else {
                let nameStr = String(decoding: name, as: UTF8.self)
                if childRel.isEmpty { childRel = rel.isEmpty ? nameStr : rel + "/" + nameStr }
                node = try walkEntry(path: path.appendingComponent(nameStr), rel: childRel, boundary: boundary, key: ck, depth: depth + 1)
            }
            children.append((nameRef, node))
        }
        names.withUnsafeBufferPointer { arena in
            let base = arena.baseAddress!
            children.sort { a, b in
                let r = memcmp(base + a.name.start, base + b.name.start, min(a.name.count, b.name.count))
                return r != 0 ? r < 0 : a.name.count < b.name.count
            }
        }
        nodes.append(.dir(children: children))
        return nodes.count - 1
    }

    private mutating func walkEntry(path: String, rel: String, boundary: String, key: StatKey, depth: Int) throws -> Int {
        if key.isDirectory { return try walkDirectory(path: path, rel: rel, boundary: boundary, key: key, depth: depth) }
        if key.isRegular { return addFile(location: .path(path), key: key, mayRepeat: true) }
        guard key.isSymlink else { throw CacheError.unsupportedFileType(path: path, mode: key.mode) }

        let target = try FileSystem.readLink(path)
        if shouldFollow(linkPath: path, target: target, boundary: boundary), let real = FS.realPath(path) {
            let tk = try FileSystem.statKey(real)
            if tk.isDirectory {
                // The followed directory becomes the boundary for links found inside it.
                followDepth += 1
                defer { followDepth -= 1 }
                return try walkDirectory(path: real, rel: rel, boundary: real, key: tk, depth: depth)
            }
            if tk.isRegular { return addFile(location: .path(real), key: tk, mayRepeat: true) }
            throw CacheError.unsupportedFileType(path: real, mode: tk.mode)
        }
        counts.symlinks += 1
        nodes.append(.link(target: target))
        return nodes.count - 1
    }

    private func shouldFollow(linkPath: String, target: [UInt8], boundary: String) -> Bool {
        TreeWalkRules.shouldFollow(linkPath: linkPath, target: target, boundary: boundary, policy: options.symlinks)
    }

    private mutating func addFile(location: FileLocation, key: StatKey, mayRepeat: Bool) -> Int {
        counts.files += 1
        counts.bytes += key.size
        let job: Int
        if mayRepeat || followDepth > 0 {
            let id = DevIno(dev: key.dev, ino: key.ino)
            if let j = jobByInode[id], jobs[j].key == key {
                job = j  // same inode reached twice (followed links, hard links): hash once
            } else {
                jobs.append(Job(location: location, key: key, digest: nil))
                job = jobs.count - 1
                jobByInode[id] = job
            }
        } else {
            jobs.append(Job(location: location, key: key, digest: nil))
            job = jobs.count - 1
        }
        nodes.append(.file(job: job))
        return nodes.count - 1
    }

    func path(ofJob i: Int) -> String {
        switch jobs[i].location {
        case let .path(p): return p
        case let .inDirectory(d, n): return dirPaths[d].appendingComponent(String(decoding: names[n.start..<n.start + n.count], as: UTF8.self))
        }
    }

    /// Fills in every job digest of every walk: memo first, then one parallel batch for the
    /// misses, deduplicated across walks by stat identity (kbuild reached from two roots).
    static func resolveDigests(_ walks: inout [Walk], using digester: inout FileDigester, threads: Int) throws {
        var batchIndex: [StatKey: Int] = [:]
        var paths: [String] = []
        var pending: [(walk: Int, job: Int, batch: Int)] = []
        for w in walks.indices {
            walks[w].counts.uniqueFiles = walks[w].jobs.count
            for j in walks[w].jobs.indices {
                let key = walks[w].jobs[j].key
                if let d = digester.memoized(key) { walks[w].jobs[j].digest = d; continue }
                let b: Int
                if let existing = batchIndex[key] { b = existing } else {
                    b = paths.count; batchIndex[key] = b; paths.append(walks[w].path(ofJob: j))
                }
                pending.append((w, j, b))
            }
        }
        guard !paths.isEmpty else { return }
        let results = try ParallelRunner.map(paths.count, threads: threads, chunk: 16, state: { HashBuffer() }) { buf, i in
            try FileDigester.hashFile(path: paths[i], buffer: &buf)
        }
        var recorded = Set<Int>()
        for p in pending {
            let r = results[p.batch]
            walks[p.walk].jobs[p.job].digest = r.0
            walks[p.walk].jobs[p.job].key = r.1  // stat from the open fd: what we actually hashed
            if recorded.insert(p.batch).inserted {
                digester.record(key: r.1, digest: r.0)
                walks[p.walk].counts.filesHashed += 1
                walks[p.walk].counts.bytesHashed += r.1.size
            }
        }
    }

    /// Merkle digest of this walk's top node; `externals` are the digests of its tasks.
    func finishDigest(externals: [Digest]) -> Digest {
        var memo = [Digest?](repeating: nil, count: nodes.count)
        return digestOf(top, externals, &memo)
    }

    private func digestOf(_ n: Int, _ externals: [Digest], _ memo: inout [Digest?]) -> Digest {
        if let d = memo[n] { return d }
        if case let .external(t) = nodes[n] { return externals[t] }
        guard case let .dir(children) = nodes[n] else { preconditionFailure("root must be a directory") }
        var enc = CanonicalEncoder(domain: "buildcache.tree.v1", capacity: 32 + children.count * 96)
        enc.append(UInt64(children.count))
        for c in children {
            enc.append(bytes: names[c.name.start..<c.name.start + c.name.count])
            switch nodes[c.node] {
            case let .file(job):
                let j = jobs[job]
                enc.append(tag: UInt8(ascii: "f"))
                enc.append(UInt64(j.key.isExecutable ? 1 : 0))
                enc.append(UInt64(j.key.size))
                enc.append(j.digest!)
            case let .link(target):
                enc.append(tag: UInt8(ascii: "l"))
                enc.append(bytes: target)
            case .dir, .external:
                enc.append(tag: UInt8(ascii: "d"))
                enc.append(digestOf(c.node, externals, &memo))
            }
        }
        let d = enc.digest()
        memo[n] = d
        return d
    }
}

/// Runs `count` independent work items on up to `threads` threads, handing out `chunk` items
/// at a time from a shared cursor so one slow item (a cold read, a huge directory) does not
/// leave the other thread idle as static striding would. Results come back in index order;
/// the first error stops further work and is rethrown.
enum ParallelRunner {
    static func map<T>(_ count: Int, threads: Int, chunk: Int = 1, _ body: (Int) throws -> T) throws -> [T] {
        try map(count, threads: threads, chunk: chunk, state: { () }) { _, i in try body(i) }
    }

    /// Variant with per-thread scratch state (e.g. a 1 MiB read buffer, made once per thread).
    static func map<S, T>(_ count: Int, threads: Int, chunk: Int = 1, state: () -> S,
                          _ body: (inout S, Int) throws -> T) throws -> [T] {
        if threads <= 1 || count <= 1 {
            var st = state()
            return try (0..<count).map { try body(&st, $0) }
        }
        var results = [T?](repeating: nil, count: count)
        let lock = NSLock()
        var cursor = 0
        var firstError: Error?
        results.withUnsafeMutableBufferPointer { out in
            let slots = out  // each index is written by exactly one worker
            DispatchQueue.concurrentPerform(iterations: min(threads, count)) { _ in
                var st = state()
                while true {
                    lock.lock()
                    let start = cursor
                    cursor += chunk
                    let stop = firstError != nil
                    lock.unlock()
                    if stop || start >= count { return }
                    for i in start..<min(start + chunk, count) {
                        do { slots[i] = try body(&st, i) } catch {
                            lock.lock(); if firstError == nil { firstError = error }; lock.unlock()
                            return
                        }
                    }
                }
            }
        }
        if let e = firstError { throw e }
        return results.map { $0! }
    }
}
