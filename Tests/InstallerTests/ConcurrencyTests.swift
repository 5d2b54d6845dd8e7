import Foundation
import XCTest
@testable import Installer
#if canImport(Glibc)
import Glibc
import SafeFS
import TestSupport
#endif

/// Several helper processes hammer one dkms tree and install tree at once: two on
/// the same module (which shadows an original), one on another module, two kernels.
/// The lock must serialize them so no round ever sees a torn state.
final class ConcurrencyTests: XCTestCase {
    typealias T = InstallerFixture

    func testConcurrentInstallUninstallRemoveSameAndDifferentModules() throws {
        let root = T.makeTempDir("concurrency")
        defer { T.removeTree(root) }
        let k2 = "6.1.0-99-test"
        let t = T.makeTrees(root: root, kernels: [T.kernel, k2], modules: [
            ("alpha", "1.0", [("alpha.ko", T.payload(seed: 10, size: 120_000))]),
            ("beta", "1.0", [("beta.ko", T.payload(seed: 11, size: 90_000)), ("beta_helper.ko", T.payload(seed: 12, size: 30_000))]),
        ])
        let original = T.payload(seed: 13, size: 40_000)
        for k in [T.kernel, k2] { T.write(t.kernelDir(k) + "/kernel/drivers/misc/alpha.ko", original) }
        // Pristine copies let the stress rounds "rebuild" after a remove.
        for (m, files) in [("alpha", ["alpha.ko"]), ("beta", ["beta.ko", "beta_helper.ko"])] {
            for f in files { T.write("\(root)/pristine-\(m)/\(f)", T.bytes(t.built(m, "1.0") + "/" + f)!) }
        }
        let rounds = 50
        let jobs: [(String, UInt64)] = [("alpha", 1), ("alpha", 2), ("beta", 3), ("beta", 4)]
        let group = DispatchGroup()
        let results = ResultBox(count: jobs.count)
        for (i, (m, seed)) in jobs.enumerated() {
            group.enter()
            DispatchQueue.global().async {
                let r = T.runHelper(["stress"] + T.treeArgs(t, m, "1.0", kernels: [T.kernel, k2])
                                    + ["--orig", "alpha=/kernel/drivers/misc", "--rounds", String(rounds), "--seed", String(seed),
                                       "--pristine", "\(root)/pristine-\(m)"])
                results.set(i, r)
                group.leave()
            }
        }
        group.wait()
        for (i, r) in results.all.enumerated() {
            XCTAssertEqual(r?.status, 0, "job \(i): \(r?.stderr ?? "no result")")
            XCTAssertTrue(r?.stdout.contains("rounds: \(rounds)") ?? false)
        }
        XCTAssertEqual(T.leftovers(t.root), [])
        // Every installed file equals its source; every original exists exactly once
        // (in place, or backed up while alpha is installed).
        for k in [T.kernel, k2] {
            for m in ["alpha", "beta"] {
                if let v = t.installedVersion(m, k) {
                    for src in t.builtModules(m, v, k) {
                        let dest = t.kernelDir(k) + "/updates/dkms/" + FS.basename(src)
                        XCTAssertEqual(T.bytes(dest), T.bytes(src), dest)
                    }
                }
            }
            let inPlace = T.bytes(t.kernelDir(k) + "/kernel/drivers/misc/alpha.ko")
            let backedUp = T.bytes(t.originalModuleDirectory("alpha", k) + "/alpha.ko")
            XCTAssertTrue((inPlace == original) != (backedUp == original), "original alpha.ko for \(k): in place \(inPlace != nil), backup \(backedUp != nil)")
            XCTAssertEqual(backedUp != nil, t.installedVersion("alpha", k) != nil)
        }
        print("[concurrency] \(jobs.count) processes x \(rounds) rounds: ok")
    }

    final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [Run?]
        init(count: Int) { items = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ r: Run) { lock.lock(); items[i] = r; lock.unlock() }
        var all: [Run?] { lock.lock(); defer { lock.unlock() }; return items }
    }
}
