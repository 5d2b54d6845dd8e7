/// The few facts of a kernel's `.config` the installer cares about.
///
/// Parsed from the real file of the target kernel (not the running one): dkms often
/// installs for a kernel that is not booted yet.
public struct KernelConfig: Equatable, Sendable {
    /// CONFIG_NAME -> value ("y", "m", "\"sha256\"" unquoted to "sha256"). "is not set" lines are absent.
    public private(set) var values: [String: String]

    public init(values: [String: String] = [:]) { self.values = values }

    public init(text: String) {
        var text = text
        self = text.withUTF8 { KernelConfig(bytes: $0) }
    }

    /// One pass over the bytes: a kernel's .config has ~10,000 lines and every
    /// dkms command that reads a dkms.conf reads it, so no per-line String or
    /// Substring is made for the lines that are not `CONFIG_NAME=value`.
    public init(bytes: UnsafeBufferPointer<UInt8>) {
        var v: [String: String] = [:]
        v.reserveCapacity(bytes.count / 40)
        let prefix: [UInt8] = Array("CONFIG_".utf8)
        let n = bytes.count
        var i = 0
        while i < n {
            var end = i
            while end < n && bytes[end] != 0x0a { end += 1 }
            if end - i > prefix.count && bytes[i] == 0x43 && prefix.indices.allSatisfy({ bytes[i + $0] == prefix[$0] }) {
                var eq = i + prefix.count
                while eq < end && bytes[eq] != 0x3d { eq += 1 }
                if eq < end {
                    var vs = eq + 1, ve = end
                    if ve - vs >= 2 && bytes[vs] == 0x22 && bytes[ve - 1] == 0x22 { vs += 1; ve -= 1 }
                    v[String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<eq]), as: UTF8.self)] =
                        String(decoding: UnsafeBufferPointer(rebasing: bytes[vs..<ve]), as: UTF8.self)
                }
            }
            i = end + 1
        }
        values = v
    }

    public static func load(path: String) throws -> KernelConfig {
        try FS.readFile(path).withUnsafeBufferPointer { KernelConfig(bytes: $0) }
    }

    /// `/lib/modules/<k>/build/.config` under a given install tree (default /lib/modules).
    public static func defaultPath(kernel: String, installTree: String = "/lib/modules") -> String {
        FS.join(FS.join(installTree, kernel), "build/.config")
    }

    public func isEnabled(_ name: String) -> Bool { values[name] == "y" }

    public var moduleSigning: Bool { isEnabled("CONFIG_MODULE_SIG") }

    /// dkms uses sha512 when the kernel does not say.
    public var moduleSignatureHash: String { values["CONFIG_MODULE_SIG_HASH"].flatMap { $0.isEmpty ? nil : $0 } ?? "sha512" }

    /// What `scripts/Makefile.modinst` would produce for this kernel.
    public var moduleCompression: ModuleCompression {
        if isEnabled("CONFIG_MODULE_COMPRESS_XZ") { return .xz }
        if isEnabled("CONFIG_MODULE_COMPRESS_ZSTD") { return .zstd }
        if isEnabled("CONFIG_MODULE_COMPRESS_GZIP") { return .gzip }
        return .none
    }
}
