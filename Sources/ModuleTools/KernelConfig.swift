import Glibc
import SafeFS
/// The few facts of a kernel's `.config` the installer cares about.
///
/// Parsed from the real file of the target kernel (not the running one): dkms often
/// installs for a kernel that is not booted yet.
public struct KernelConfig: Equatable, Sendable {
    /// The file's bytes. A command asks for a handful of options, so each
    /// lookup scans them (~0.1 ms) instead of every command building and
    /// freeing a 10,000-entry dictionary (~4 ms).
    private var text: [UInt8]
    private var explicit: [String: String]?

    public init(values: [String: String] = [:]) { text = []; explicit = values }

    public init(text: String) { self.text = Array(text.utf8) }

    public init(bytes: UnsafeBufferPointer<UInt8>) { text = Array(bytes) }

    /// The value of `CONFIG_NAME=value` ("y", "m", `"sha256"` unquoted to
    /// sha256); nil for "is not set" and absent options. The last
    /// assignment wins, as for kconfig.
    public subscript(name: String) -> String? {
        if let explicit { return explicit[name] }
        let key = Array(name.utf8) + [0x3d]
        return text.withUnsafeBufferPointer { b -> String? in
            var found: (Int, Int)?
            // memcmp only where the first byte matches.
            KernelConfig.eachLine(b) { start, end in
                if end - start >= key.count && b[start] == key[0],
                   key.withUnsafeBufferPointer({ memcmp(b.baseAddress! + start, $0.baseAddress!, key.count) }) == 0 {
                    found = (start + key.count, end)
                }
            }
            return found.map { KernelConfig.value(b, $0.0, $0.1) }
        }
    }

    /// Every `CONFIG_NAME=value` (for callers that want them all).
    public var values: [String: String] {
        if let explicit { return explicit }
        var v: [String: String] = [:]
        let prefix = Array("CONFIG_".utf8)
        text.withUnsafeBufferPointer { b in
            KernelConfig.eachLine(b) { start, end in
                guard end - start > prefix.count, prefix.indices.allSatisfy({ b[start + $0] == prefix[$0] }),
                      let eq = (start..<end).first(where: { b[$0] == 0x3d }) else { return }
                v[String(decoding: UnsafeBufferPointer(rebasing: b[start..<eq]), as: UTF8.self)] = KernelConfig.value(b, eq + 1, end)
            }
        }
        return v
    }

    /// Calls `body` with each line's start and end (the newline excluded), found with memchr.
    private static func eachLine(_ b: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
        guard let base = b.baseAddress else { return }
        var line = 0
        while line < b.count {
            let next = memchr(base + line, 0x0a, b.count - line)
                .map { UnsafePointer<UInt8>($0.assumingMemoryBound(to: UInt8.self)) - base } ?? b.count
            body(line, next)
            line = next + 1
        }
    }

    /// The value between `start` and `end`, a surrounding pair of double quotes removed.
    private static func value(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        var (vs, ve) = (start, end)
        if ve - vs >= 2 && b[vs] == 0x22 && b[ve - 1] == 0x22 { vs += 1; ve -= 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: b[vs..<ve]), as: UTF8.self)
    }

    public static func load(path: String) throws -> KernelConfig {
        try ToolFiles.readFile(path).withUnsafeBufferPointer { KernelConfig(bytes: $0) }
    }

    /// `/lib/modules/<k>/build/.config` under a given install tree (default /lib/modules).
    public static func defaultPath(kernel: String, installTree: String = "/lib/modules") -> String {
        FS.join(FS.join(installTree, kernel), "build/.config")
    }

    public func isEnabled(_ name: String) -> Bool { self[name] == "y" }

    public var moduleSigning: Bool { isEnabled("CONFIG_MODULE_SIG") }

    /// dkms uses sha512 when the kernel does not say.
    public var moduleSignatureHash: String { self["CONFIG_MODULE_SIG_HASH"].flatMap { $0.isEmpty ? nil : $0 } ?? "sha512" }

    /// What `scripts/Makefile.modinst` would produce for this kernel.
    public var moduleCompression: ModuleCompression {
        if isEnabled("CONFIG_MODULE_COMPRESS_XZ") { return .xz }
        if isEnabled("CONFIG_MODULE_COMPRESS_ZSTD") { return .zstd }
        if isEnabled("CONFIG_MODULE_COMPRESS_GZIP") { return .gzip }
        return .none
    }
}
