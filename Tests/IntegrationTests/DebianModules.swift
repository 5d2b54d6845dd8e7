import Foundation

/// The six real Debian -dkms sources, fetched by scripts/fetch-debian-modules.sh.
struct DebianModule {
    var package: String
    var name: String
    var version: String
    /// Kernels whose config the module's own dkms.conf excludes (exit 77):
    /// the cloud kernel has neither V4L2 nor I2C/backlight support.
    var excludedOnCloud: Bool

    var sourceDir: String { "\(Repo.debianModules)/\(package)/src" }
    var nameVersion: String { "\(name)/\(version)" }

    static let all: [DebianModule] = [
        DebianModule(package: "v4l2loopback-dkms", name: "v4l2loopback", version: "0.12.7", excludedOnCloud: true),
        DebianModule(package: "acpi-call-dkms", name: "acpi-call", version: "1.2.2", excludedOnCloud: false),
        DebianModule(package: "ddcci-dkms", name: "ddcci", version: "0.4.2", excludedOnCloud: true),
        DebianModule(package: "jool-dkms", name: "jool-dkms", version: "4.1.9", excludedOnCloud: false),
        DebianModule(package: "gost-crypto-dkms", name: "gost-crypto", version: "0.3.4", excludedOnCloud: false),
        DebianModule(package: "dm-writeboost-dkms", name: "dm-writeboost", version: "2.2.17", excludedOnCloud: false),
    ]

    static func named(_ package: String) -> DebianModule { all.first { $0.package == package }! }

    func buildable(on kernel: String) -> Bool { !(excludedOnCloud && kernel.contains("cloud")) }

    /// Makes sure the source is there: the test command fetches it, but a
    /// single test run by hand should not fail for lack of it.
    static func ensureFetched() -> Bool {
        if all.allSatisfy({ FileManager.default.fileExists(atPath: $0.sourceDir + "/dkms.conf") }) { return true }
        return sh([Repo.root + "/scripts/fetch-debian-modules.sh", Repo.debianModules]).status == 0
    }
}
