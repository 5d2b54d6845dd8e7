/// The few facts of a kernel's `.config` the installer cares about.
///
/// Parsed from the real file of the target kernel (not the running one): dkms often
/// installs for a kernel that is not booted yet.
public struct KernelConfig: Equatable, Sendable {
    /// CONFIG_NAME -> value ("y", "m", "\"sha256\"" unquoted to "sha256"). "is not set" lines are absent.
    public private(set) var values: [String: String]

    public init(values: [String: String] = [:]) { self.values = values }

    public init(text: String) {
        var v: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("CONFIG_") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            var value = String(line[line.index(after: eq)...])
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            v[String(line[..<eq])] = value
        }
        values = v
    }

    public static func load(path: String) throws -> KernelConfig {
        KernelConfig(text: String(decoding: try FS.readFile(path), as: UTF8.self))
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
