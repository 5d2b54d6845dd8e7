import Foundation
import TestSupport

/// The six real Debian -dkms sources, fetched by scripts/fetch-debian-modules.sh.
struct DebianModule {
    var package: String
    var name: String
    var version: String
    /// What the module's own dkms.conf asks of the kernel's config before it builds (else
    /// BUILD_EXCLUSIVE, exit 77): each inner list is one condition met by any of its options
    /// set to y or m (v4l2loopback: VIDEO_DEV from 5.18 on, VIDEO_V4L2 before; Debian's cloud
    /// kernels have neither V4L2 nor I2C/backlight support).
    var requires: [[String]]
    /// Options its dkms.conf refuses (zfs: BUILD_EXCLUSIVE_KERNEL="NOT ON PREEMPT_RT").
    var refuses: [String] = []

    var sourceDir: String { "\(Repo.debianModules)/\(package)/src" }
    var nameVersion: String { "\(name)/\(version)" }

    static let all: [DebianModule] = [
        DebianModule(package: "v4l2loopback-dkms", name: "v4l2loopback", version: "0.12.7", requires: [["CONFIG_VIDEO_DEV", "CONFIG_VIDEO_V4L2"]]),
        DebianModule(package: "acpi-call-dkms", name: "acpi-call", version: "1.2.2", requires: [["CONFIG_ACPI"]]),
        DebianModule(package: "ddcci-dkms", name: "ddcci", version: "0.4.2", requires: [["CONFIG_BACKLIGHT_CLASS_DEVICE"], ["CONFIG_I2C"]]),
        DebianModule(package: "jool-dkms", name: "jool-dkms", version: "4.1.9", requires: []),
        DebianModule(package: "gost-crypto-dkms", name: "gost-crypto", version: "0.3.4", requires: []),
        DebianModule(package: "dm-writeboost-dkms", name: "dm-writeboost", version: "2.2.17", requires: []),
    ]

    /// zfs, from contrib: its build takes many minutes per kernel, so only the tests that
    /// ask for it build it (the boot test with DKMS_TEST_BOOT_ZFS=1, the system test's --with-zfs).
    static let zfs = DebianModule(package: "zfs-dkms", name: "zfs", version: "2.1.11", requires: [],
                                  refuses: ["CONFIG_PREEMPT_RT"])

    static func named(_ package: String) -> DebianModule { all.first { $0.package == package }! }

    func buildable(on kernel: String) -> Bool {
        let text = (try? String(contentsOfFile: "/lib/modules/\(kernel)/build/.config", encoding: .utf8)) ?? ""
        let set = Set(text.split(separator: "\n").compactMap { line -> String? in
            line.hasSuffix("=y") || line.hasSuffix("=m") ? String(line.prefix { $0 != "=" }) : nil
        })
        return requires.allSatisfy { $0.contains(where: set.contains) } && !refuses.contains(where: set.contains)
    }

    /// Whether the module's own metadata names `kernel` among the kernels it supports (zfs's
    /// META: `Linux-Minimum`/`Linux-Maximum`, compared by major.minor): nil when it names
    /// none. Where it does, a build that fails is ours to fix, whatever the reference does.
    func declaresSupport(for kernel: String) -> Bool? {
        guard let meta = try? String(contentsOfFile: sourceDir + "/META", encoding: .utf8) else { return nil }
        func field(_ key: String) -> [Int]? {
            meta.split(separator: "\n").first { $0.hasPrefix(key + ":") }
                .map { DebianModule.majorMinor($0.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces)) }
        }
        guard let low = field("Linux-Minimum"), let high = field("Linux-Maximum") else { return nil }
        let k = DebianModule.majorMinor(kernel)
        return !k.lexicographicallyPrecedes(low) && !high.lexicographicallyPrecedes(k)
    }

    /// A kernel release's first two numbers ("<major>.<minor>.<rest>" → [major, minor]).
    static func majorMinor(_ release: String) -> [Int] {
        release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
    }

    /// Makes sure the source is there: the test command fetches it, but a
    /// single test run by hand should not fail for lack of it.
    static func ensureFetched() -> Bool {
        if all.allSatisfy({ FileManager.default.fileExists(atPath: $0.sourceDir + "/dkms.conf") }) { return true }
        return sh([Repo.root + "/scripts/fetch-debian-modules.sh", Repo.debianModules]).status == 0
    }
}
