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

    /// The uncompressed bytes of a compressed module file (a precompiled module
    /// from a tarball, checked before it is loaded), refused above `limit` bytes:
    /// a decompression bomb costs at most that much memory, never the disk.
    public func decompressed(_ file: String, limit: Int) throws -> [UInt8] {
        let method = ModuleCompression.of(fileName: file)
        let tool: [String]
        switch method {
        case .none: throw ToolError.invalidArgument("\(file): not a compressed module")
        case .xz: tool = [xz, "-dc"]
        case .zstd: tool = [zstd, "-dcq"]
        case .gzip: tool = [gzip, "-dc"]
        }
        var spawn = Spawn([try ProcessRunner.resolve(tool[0])] + tool.dropFirst() + ["--", file], environment: Spawn.baseEnvironment)
        spawn.captureLimit = limit + 1
        let r: Spawn.Result
        do { r = try spawn.run() } catch { throw ToolError.toolMissing(path: tool[0]) }
        guard r.status == 0 else {
            throw ToolError.commandFailed(command: (tool + ["--", file]).joined(separator: " "), status: r.status, stderr: r.stderrText)
        }
        guard !r.truncated, r.stdout.count <= limit else { throw ToolError.invalidArgument("\(file): more than \(limit) bytes uncompressed") }
        return r.stdout
    }
}

/// The compression policy: an explicit override wins (dkms framework.conf style),
/// else the target kernel's `.config`.
public struct CompressionPolicy: Equatable, Sendable {
    public var override: ModuleCompression?

    public init(override: ModuleCompression? = nil) { self.override = override }

    public func method(for config: KernelConfig) -> ModuleCompression { override ?? config.moduleCompression }
}
