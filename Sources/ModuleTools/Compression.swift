import SafeFS

/// Module compression as the kernel's own `scripts/Makefile.modinst` does it, so an
/// installed dkms module looks exactly like an in-tree one of the same kernel.
public enum ModuleCompression: String, CaseIterable, Equatable, Sendable {
    case none, xz, zstd, gzip

    /// Appended to ".ko".
    public var suffix: String {
        switch self {
        case .none: return ""
        case .xz: return ".xz"
        case .zstd: return ".zst"
        case .gzip: return ".gz"
        }
    }

    /// Accepts the names people write in config files: "xz", "zstd"/"zst", "gzip"/"gz", "none"/"".
    public init?(name: String) {
        switch name.lowercased() {
        case "", "none", "no", "off": self = .none
        case "xz": self = .xz
        case "zstd", "zst": self = .zstd
        case "gzip", "gz": self = .gzip
        default: return nil
        }
    }

    /// The compression of an existing module file, from its name.
    public static func of(fileName: String) -> ModuleCompression {
        for c in [ModuleCompression.xz, .zstd, .gzip] where fileName.hasSuffix(".ko" + c.suffix) { return c }
        return .none
    }

    /// "hello.ko.xz" -> "hello"; nil if the name is not a module file.
    public static func moduleName(fileName: String) -> String? {
        for c in ModuleCompression.allCases {
            let s = ".ko" + c.suffix
            if fileName.hasSuffix(s), fileName.count > s.count { return String(fileName.dropLast(s.count)) }
        }
        return nil
    }

    /// All file names a module called `name` can have, in any compression.
    public static func allFileNames(module name: String) -> [String] {
        allCases.map { name + ".ko" + $0.suffix }
    }

    /// dkms 3.0's own heuristic (`set_module_suffix`): look at which suffix the kernel's
    /// modules.dep uses. Useful when no .config is available.
    public static func fromModulesDep(_ text: String) -> ModuleCompression {
        if text.contains(".zst:") { return .zstd }
        if text.contains(".xz:") { return .xz }
        if text.contains(".gz:") { return .gzip }
        return .none
    }
}

/// Runs the compressors. The exact flags are the kernel's (Makefile.modinst, 6.1):
/// `xz --check=crc32 --lzma2=dict=1MiB` (the kernel's xz decompressor only supports
/// crc32 and a bounded dictionary), `zstd -T0 --rm -f -q`, `gzip -n -f`.
public struct Compressor: Sendable {
    public var runner: ProcessRunner
    public var xz = "xz"
    public var zstd = "zstd"
    public var gzip = "gzip"

    public init(runner: ProcessRunner = ProcessRunner()) { self.runner = runner }

    /// Compresses `file` (an uncompressed `.ko`) in place and returns the new path
    /// (`file` + suffix). The original is removed, as the kernel's rules do.
    public func compress(_ file: String, as method: ModuleCompression) throws -> String {
        switch method {
        case .none: return file
        case .xz: try runner.check(xz, ["--check=crc32", "--lzma2=dict=1MiB", "-f", file])
        case .zstd: try runner.check(zstd, ["-T0", "--rm", "-f", "-q", file])
        case .gzip: try runner.check(gzip, ["-n", "-f", file])
        }
        let out = file + method.suffix
        guard (FS.kind(out) == .file) else {
            throw ToolError.noOutput(path: out, tool: method.rawValue)
        }
        return out
    }

    /// Undoes any compression (signing needs the raw ELF). Returns the `.ko` path.
    public func decompress(_ file: String) throws -> String {
        let method = ModuleCompression.of(fileName: file)
        switch method {
        case .none: return file
        case .xz: try runner.check(xz, ["-d", "-f", file])
        case .zstd: try runner.check(zstd, ["-d", "--rm", "-f", "-q", file])
        case .gzip: try runner.check(gzip, ["-d", "-f", file])
        }
        return String(file.dropLast(method.suffix.count))
    }
}

/// The compression policy: an explicit override wins (dkms framework.conf style),
/// else the target kernel's `.config`.
public struct CompressionPolicy: Equatable, Sendable {
    public var override: ModuleCompression?

    public init(override: ModuleCompression? = nil) { self.override = override }

    public func method(for config: KernelConfig) -> ModuleCompression { override ?? config.moduleCompression }
}
