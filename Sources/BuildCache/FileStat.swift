import Glibc
import SafeFS

/// The stat fields that identify one version of a file, ccache/git style. mtime alone is not
/// enough: dpkg stamps every file of a package with the same mtime, so only ctime and inode
/// reveal a reinstall or an in-place edit that restored mtime (`touch -r`, `cp -p`).
public struct StatKey: Hashable, Sendable {
    public var dev: UInt64
    public var ino: UInt64
    public var mode: UInt32
    public var size: Int64
    public var mtimeNs: Int64
    public var ctimeNs: Int64

    public init(dev: UInt64, ino: UInt64, mode: UInt32, size: Int64, mtimeNs: Int64, ctimeNs: Int64) {
        self.dev = dev; self.ino = ino; self.mode = mode; self.size = size; self.mtimeNs = mtimeNs; self.ctimeNs = ctimeNs
    }

    init(_ st: stat) {
        dev = UInt64(st.st_dev); ino = UInt64(st.st_ino); mode = UInt32(st.st_mode); size = Int64(st.st_size)
        mtimeNs = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        ctimeNs = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
    }

    /// One pre-mixed word instead of six Hasher.combine calls: the memo probes 16k keys per
    /// pass and SipHash rounds were a visible share of the 50 ms budget. Equality still
    /// compares all fields.
    public func hash(into hasher: inout Hasher) {
        var x = ino &* 0x9E37_79B9_7F4A_7C15
        x ^= UInt64(bitPattern: mtimeNs) &* 0xC2B2_AE3D_27D4_EB4F
        x ^= UInt64(bitPattern: ctimeNs) &* 0x1656_67B1_9E37_79F9
        x ^= UInt64(bitPattern: size) ^ dev ^ UInt64(mode) << 32
        hasher.combine(x)
    }

    var fileType: UInt32 { mode & UInt32(S_IFMT) }
    var isRegular: Bool { fileType == UInt32(S_IFREG) }
    var isDirectory: Bool { fileType == UInt32(S_IFDIR) }
    var isSymlink: Bool { fileType == UInt32(S_IFLNK) }
    /// NAR keeps only "executable or not"; we take the owner x bit like git does.
    var isExecutable: Bool { mode & UInt32(S_IXUSR) != 0 }
}

/// StatKeys and the cache's few throwing views of SafeFS's calls.
enum FileSystem {
    static func lstatKey(_ path: String) throws -> StatKey {
        guard let st = FS.lstatInfo(path) else { throw IOFailure("lstat", path) }
        return StatKey(st)
    }

    static func statKey(_ path: String) throws -> StatKey {
        var st = stat()
        guard stat(path, &st) == 0 else { throw IOFailure("stat", path) }
        return StatKey(st)
    }

    static func fstatKey(_ fd: Int32, path: String) throws -> StatKey {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw IOFailure("fstat", path) }
        return StatKey(st)
    }

    static func readLink(_ path: String) throws -> [UInt8] {
        guard let target = FS.linkTarget(path) else { throw IOFailure("readlink", path) }
        return target
    }

    static func nowNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// mkdir -p, each new directory's entry fsynced into its parent, so a blob or record
    /// renamed into a fresh `<aa>/` shard survives a crash along with its directory.
    static func makeDirectories(_ path: String) throws { try FS.makeDirectories(path, durable: true) }

    /// Lists names in a directory (without . and ..); empty if it does not exist.
    static func listDirectory(_ path: String) throws -> [String] {
        guard let names = FS.listing(path) else {
            if Glibc.errno == ENOENT { return [] }
            throw IOFailure("opendir", path)
        }
        return names
    }
}

/// Minimal path helpers on String (avoids NSString bridging costs on Linux).
extension String {
    var deletingLastComponent: String {
        guard let i = lastIndex(of: "/") else { return "" }
        return i == startIndex ? "/" : String(self[..<i])
    }
    var lastComponent: String {
        guard let i = lastIndex(of: "/") else { return self }
        return String(self[index(after: i)...])
    }
    func appendingComponent(_ c: String) -> String { hasSuffix("/") ? self + c : self + "/" + c }
}

extension StatKey {
    /// The six fields packed, native byte order, no padding: how fingerprints hash a key and
    /// directory listings store one (the stat memo's record has its own, padded layout).
    static let packedSize = 44

    func pack(into out: inout [UInt8]) {
        withUnsafeBytes(of: dev) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: ino) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: mode) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: size) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: mtimeNs) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: ctimeNs) { out.append(contentsOf: $0) }
    }

    /// The key `pack` wrote at `offset` (the caller checked `packedSize` bytes are there).
    init(unpacking raw: UnsafeRawBufferPointer, at offset: Int) {
        self.init(dev: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self),
                  ino: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self),
                  mode: raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt32.self),
                  size: raw.loadUnaligned(fromByteOffset: offset + 20, as: Int64.self),
                  mtimeNs: raw.loadUnaligned(fromByteOffset: offset + 28, as: Int64.self),
                  ctimeNs: raw.loadUnaligned(fromByteOffset: offset + 36, as: Int64.self))
    }
}
