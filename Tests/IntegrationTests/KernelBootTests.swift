import Foundation
import XCTest
import TestSupport

/// The modules ours builds, proved in the real kernels (issue #14): scripts/boot-test.sh
/// builds the Debian -dkms modules with ours and with the reference in scratch trees,
/// boots Debian's own kernel image of every release with headers here in qemu (TCG)
/// with an initramfs that loads and exercises every module installed, and prints a
/// `RESULT <release> ours|reference <package> <outcome> [detail]` line per package and
/// a `BOOT <release> <side> <seconds>` line per boot. Ours shares the suite's build
/// cache, so what DebianModulesTests built is a hit (named to run after them); the
/// reference's outputs are kept by the script, keyed by their inputs. Several minutes.
/// Skips where qemu is missing, and unless DKMS_TEST_BOOT=1: its ten minutes (a boot per
/// kernel and dkms under TCG, and the reference's builds) would take `swift test` past 30;
/// `.ci/run` runs it after scripts/test.sh. With DKMS_TEST_BOOT_ZFS=1 (`.ci/run` sets it) zfs is
/// built and proved too: a pool on a file is created, written, exported, imported and read back.
final class KernelBootTests: XCTestCase {
    func testEveryModuleOursInstallsLoadsAndWorksInEachKernelAsTheReferencesDo() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["DKMS_TEST_BOOT"] == "1",
                          "the boot test runs with DKMS_TEST_BOOT=1 (.ci/run sets it)")
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        guard path.contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/qemu-system-x86_64") }) else {
            throw XCTSkip("qemu-system-x86_64 is missing (scripts/install-deps.sh installs qemu-system-x86)")
        }
        XCTAssertTrue(DebianModule.ensureFetched(), "fetching the Debian module sources")
        XCTAssertFalse(Kernels.all.isEmpty, "no kernel headers installed")

        // The suite's shared build cache when earlier tests filled it, else the script's own
        // (.cache/boot-test/dkms-cache, kept between runs).
        var env = ["DKMS_BINARY": Repo.dkms]
        if FileManager.default.fileExists(atPath: TestTrees.sharedCache) { env["DKMS_CACHE_DIR"] = TestTrees.sharedCache }
        let withZFS = ProcessInfo.processInfo.environment["DKMS_TEST_BOOT_ZFS"] == "1"
        let modules = DebianModule.all + (withZFS ? [DebianModule.zfs] : [])
        let r = sh([Repo.root + "/scripts/boot-test.sh"] + (withZFS ? ["--with-zfs"] : []), env: env)
        // The script's table and its own lines, for the log.
        print(r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("RESULT ") && !$0.hasPrefix("BOOT ") }.joined(separator: "\n"))
        XCTAssertEqual(r.status, 0, r.all)

        var outcome: [String: String] = [:]      // "<release> <side> <package>" → outcome
        var boots: [String: Double] = [:]        // "<release> <side>" → seconds
        for line in r.stdout.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if f.first == "RESULT", f.count >= 5 { outcome["\(f[1]) \(f[2]) \(f[3])"] = f[4] }
            if f.first == "BOOT", f.count == 4 { boots["\(f[1]) \(f[2])"] = Double(f[3]) }
        }
        for k in Kernels.all {
            var passed = 0
            for side in ["ours", "reference"] {
                XCTAssertNotNil(boots["\(k) \(side)"], "\(k): no boot of \(side)'s modules")
            }
            for mod in modules {
                let pkg = String(mod.package.dropLast("-dkms".count))
                let ours = outcome["\(k) ours \(pkg)"], reference = outcome["\(k) reference \(pkg)"]
                XCTAssertNotNil(ours, "\(k) \(pkg): no result for ours")
                // Every module ours installed loads and passes its check; what ours did
                // not build is what its dkms.conf excludes or what the reference does not
                // build either.
                XCTAssertTrue(["PASS", "EXCLUDED", "NOT-BUILT"].contains(ours ?? ""), "\(k) \(pkg): ours \(ours ?? "-")")
                XCTAssertEqual(ours, reference, "\(k) \(pkg): ours \(ours ?? "-"), the reference \(reference ?? "-")")
                XCTAssertEqual(ours == "EXCLUDED", !mod.buildable(on: k), "\(k) \(pkg): excluded exactly where its dkms.conf says")
                // Where the module's own metadata says it supports this kernel (zfs 2.1: 3.10
                // to 6.2) and its dkms.conf does not exclude it, it must build and pass:
                // the same failure on both sides is still a failure.
                if mod.buildable(on: k), mod.declaresSupport(for: k) == true {
                    XCTAssertEqual(ours, "PASS", "\(k) \(pkg): supported by its own metadata, yet ours \(ours ?? "-")")
                }
                if ours == "PASS" { passed += 1 }
            }
            XCTAssertGreaterThan(passed, 0, "\(k): no module of ours was proved in the kernel")
        }
    }
}
