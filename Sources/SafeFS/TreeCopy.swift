import Glibc

/// Copies and compares trees a module controls (its source, for `dkms add
/// DIR`) through descriptors only: every entry is opened relative to its
/// parent's descriptor with O_NOFOLLOW, so no link in the source is ever
/// followed (links are copied as links), nothing is written outside the
/// destination, and the whole copy is bounded in bytes, entries and depth.
/// Regular files keep their permission bits (not set-id or sticky bits, and
/// not their owner: the copy is the supervisor's) and their times, as
/// `cp -pR` does; devices, fifos and sockets are refused.
public enum TreeCopy {
    public struct Limits: Sendable {
        public var maxBytes: Int64
        public var maxEntries: Int
        public var maxDepth: Int
        public init(maxBytes: Int64 = 4 << 30, maxEntries: Int = 500_000, maxDepth: Int = 64) {
            self.maxBytes = maxBytes; self.maxEntries = maxEntries; self.maxDepth = maxDepth
        }
        /// A module source: 4 GiB, 500,000 entries, 64 levels (nvidia's is ~0.3 GiB, zfs's 30,000 entries).
        public static let moduleSource = Limits()
    }

    public struct Failure: Error, CustomStringConvertible {
        /// Relative to the tree copied ("" for its root).
        public var path: String
        public var reason: String
        public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
    }

    /// Copies the contents of the directory `source` into the existing,
    /// empty directory `destination` (which must not be a link).
    public static func copy(from source: String, into destination: String, limits: Limits = .moduleSource) throws {
        let src = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard src >= 0 else { throw Failure(path: "", reason: "cannot open \(source): \(String(cString: strerror(errno)))") }
        defer { close(src) }
        let dst = open(destination, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard dst >= 0 else { throw Failure(path: "", reason: "cannot open \(destination): \(String(cString: strerror(errno)))") }
        defer { close(dst) }
        var budget = (bytes: limits.maxBytes, entries: limits.maxEntries)
        try copyDirectory(src, dst, "", depth: 0, limits: limits, budget: &budget)
    }

    static func fail(_ path: String, _ what: String, _ e: Int32 = errno) -> Failure {
        Failure(path: path, reason: "\(what): \(String(cString: strerror(e)))")
    }

    static func copyDirectory(_ src: Int32, _ dst: Int32, _ path: String, depth: Int, limits: Limits,
                              budget: inout (bytes: Int64, entries: Int)) throws {
        guard depth < limits.maxDepth else { throw Failure(path: path, reason: "nested deeper than \(limits.maxDepth) directories") }
        let listing = openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard listing >= 0, let names = Directory.names(fd: listing) else { throw fail(path, "cannot list") }
        for name in names.sorted() {
            let rel = path.isEmpty ? name : path + "/" + name
            budget.entries -= 1
            guard budget.entries >= 0 else { throw Failure(path: rel, reason: "the source has more than \(limits.maxEntries) entries") }
            var st = stat()
            guard fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { throw fail(rel, "cannot examine") }
            let mode = st.st_mode & 0o777
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                guard mkdirat(dst, name, 0o700) == 0 else { throw fail(rel, "cannot create the directory") }
                let s = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard s >= 0 else { throw fail(rel, "cannot open") }
                defer { close(s) }
                let d = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard d >= 0 else { throw fail(rel, "cannot open the copy") }
                defer { close(d) }
                // The same directory as when it was examined (not swapped for a link or another one).
                var now = stat()
                guard fstat(s, &now) == 0, now.st_dev == st.st_dev, now.st_ino == st.st_ino else {
                    throw Failure(path: rel, reason: "changed while it was copied")
                }
                try copyDirectory(s, d, rel, depth: depth + 1, limits: limits, budget: &budget)
                fchmod(d, mode)
                var times = [st.st_atim, st.st_mtim]
                futimens(d, &times)
            case S_IFREG:
                guard Int64(st.st_size) <= budget.bytes else {
                    throw Failure(path: rel, reason: "the source is larger than the \(limits.maxBytes)-byte limit for a module source")
                }
                try copyFile(src, dst, name, rel, expected: st, budget: &budget.bytes)
            case S_IFLNK:
                var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlinkat(src, name, &buf, buf.count - 1)
                guard n >= 0 else { throw fail(rel, "cannot read the link") }
                buf[n] = 0
                guard symlinkat(buf, dst, name) == 0 else { throw fail(rel, "cannot create the link") }
                var times = [st.st_atim, st.st_mtim]
                utimensat(dst, name, &times, AT_SYMLINK_NOFOLLOW)
            default:
                throw Failure(path: rel, reason: "is a device, fifo or socket, which a module source cannot hold")
            }
        }
    }

    static func copyFile(_ src: Int32, _ dst: Int32, _ name: String, _ rel: String, expected: stat,
                         budget: inout Int64) throws {
        let s = openat(src, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard s >= 0 else { throw fail(rel, "cannot open") }
        defer { close(s) }
        var st = stat()
        guard fstat(s, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_dev == expected.st_dev, st.st_ino == expected.st_ino else {
            throw Failure(path: rel, reason: "changed while it was copied")
        }
        let d = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard d >= 0 else { throw fail(rel, "cannot create the copy") }
        defer { close(d) }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var copied: Int64 = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { read(s, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw fail(rel, "cannot read") }
            if n == 0 { break }
            copied += Int64(n)
            // A file growing while it is copied does not exceed the budget.
            guard copied <= budget else { throw Failure(path: rel, reason: "grew past the limit for a module source while it was copied") }
            var off = 0
            while off < n {
                let w = chunk.withUnsafeBytes { write(d, $0.baseAddress! + off, n - off) }
                if w < 0 && errno == EINTR { continue }
                guard w > 0 else { throw fail(rel, "cannot write the copy") }
                off += w
            }
        }
        budget -= copied
        fchmod(d, st.st_mode & 0o777)
        var times = [st.st_atim, st.st_mtim]
        futimens(d, &times)
    }

    /// Whether two trees hold the same thing: names, types, permission bits
    /// of files, file bytes, link targets (links compared, never followed);
    /// false past `limits`.
    public static func same(_ a: String, _ b: String, limits: Limits = .moduleSource) -> Bool {
        let fa = open(a, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fb = open(b, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        defer { if fa >= 0 { close(fa) }; if fb >= 0 { close(fb) } }
        guard fa >= 0, fb >= 0 else { return false }
        var entries = limits.maxEntries
        return sameDirectory(fa, fb, depth: 0, limits: limits, entries: &entries)
    }

    static func sameDirectory(_ a: Int32, _ b: Int32, depth: Int, limits: Limits, entries: inout Int) -> Bool {
        guard depth < limits.maxDepth else { return false }
        let la = openat(a, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), lb = openat(b, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if la < 0 { if lb >= 0 { close(lb) }; return false }
        if lb < 0 { close(la); return false }
        guard let na = Directory.names(fd: la)?.sorted(), let nb = Directory.names(fd: lb)?.sorted(), na == nb else { return false }
        for name in na {
            entries -= 1
            guard entries >= 0 else { return false }
            var sa = stat(), sb = stat()
            guard fstatat(a, name, &sa, AT_SYMLINK_NOFOLLOW) == 0, fstatat(b, name, &sb, AT_SYMLINK_NOFOLLOW) == 0,
                  sa.st_mode & S_IFMT == sb.st_mode & S_IFMT else { return false }
            switch sa.st_mode & S_IFMT {
            case S_IFDIR:
                let ca = openat(a, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                let cb = openat(b, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                defer { if ca >= 0 { close(ca) }; if cb >= 0 { close(cb) } }
                guard ca >= 0, cb >= 0, sameDirectory(ca, cb, depth: depth + 1, limits: limits, entries: &entries) else { return false }
            case S_IFLNK:
                guard linkTarget(a, name) == linkTarget(b, name), linkTarget(a, name) != nil else { return false }
            case S_IFREG:
                guard sa.st_size == sb.st_size, sa.st_mode & 0o777 == sb.st_mode & 0o777, sameFile(a, b, name) else { return false }
            default:
                return false
            }
        }
        return true
    }

    static func linkTarget(_ dir: Int32, _ name: String) -> [CChar]? {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlinkat(dir, name, &buf, buf.count - 1)
        return n >= 0 ? Array(buf[0..<n]) : nil
    }

    static func sameFile(_ a: Int32, _ b: Int32, _ name: String) -> Bool {
        let fa = openat(a, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC), fb = openat(b, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        defer { if fa >= 0 { close(fa) }; if fb >= 0 { close(fb) } }
        guard fa >= 0, fb >= 0 else { return false }
        var x = [UInt8](repeating: 0, count: 1 << 16), y = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = x.withUnsafeMutableBytes { read(fa, $0.baseAddress, $0.count) }
            guard n >= 0 else { return false }
            var got = 0
            while got < n {
                let m = y.withUnsafeMutableBytes { read(fb, $0.baseAddress! + got, n - got) }
                guard m > 0 else { return false }
                got += m
            }
            if n == 0 {
                let m = y.withUnsafeMutableBytes { read(fb, $0.baseAddress, 1) }
                return m == 0
            }
            guard x[0..<n] == y[0..<n] else { return false }
        }
    }
}
