import Foundation

/// The kernels whose headers are installed (`/lib/modules/<k>/build/include`), in
/// version order. Every test holds for one or many and never names a release: Debian
/// moves its headers to a new ABI, and a machine may have one series or several.
public enum Kernels {
    public static let all: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/lib/modules")) ?? []
        return names.filter { FileManager.default.fileExists(atPath: "/lib/modules/\($0)/build/include") }
            .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
    }()

    /// The oldest; a name no kernel has when none is installed, so a test says so in its failure.
    public static var first: String { all.first ?? "no-kernel-headers-installed" }

    /// What the kernel's config says its modules are compressed with, as the suffix
    /// after ".ko" (Debian's 6.1: none; its 6.12: ".xz").
    public static func moduleSuffix(_ k: String) -> String {
        let text = (try? String(contentsOfFile: "/lib/modules/\(k)/build/.config", encoding: .utf8)) ?? ""
        for (option, suffix) in [("XZ", ".xz"), ("ZSTD", ".zst"), ("GZIP", ".gz")]
        where text.contains("\nCONFIG_MODULE_COMPRESS_\(option)=y\n") { return suffix }
        return ""
    }
}
