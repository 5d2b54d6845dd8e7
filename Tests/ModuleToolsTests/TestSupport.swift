import Foundation

/// The host's kernel headers, read only: the tools are checked against the real
/// `.config`, `sign-file` and kmod of the kernels Debian installed.
enum TestSupport {
    /// Kernels with headers (/lib/modules/<k>/build/include), in version order: tests hold for
    /// one or many and never name a release. `kernel` is the first.
    static let kernels: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/lib/modules")) ?? []
        return names.filter { FileManager.default.fileExists(atPath: "/lib/modules/\($0)/build/include") }
            .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
    }()
    static let kernel = kernels.first ?? "no-kernel-headers-installed"
}
