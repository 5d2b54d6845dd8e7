import Foundation
import XCTest
@testable import BuildCache
import TestSupport

final class CacheKeyTests: XCTestCase {
    func d(_ s: String) -> Digest { SHA256.hash(bytes: Array(s.utf8)) }

    var base: BuildInputs {
        BuildInputs(moduleSource: d("src"), config: ["MAKE[0]": "make KERNELRELEASE=9.8.7-1-fake", "STRIP[0]": "yes"],
                    kernelTree: d("kernel"), toolchain: ["cc": d("gcc"), "cc1": d("cc1"), "as": d("as"), "ld": d("ld")],
                    makeArgv: ["make", "-C", "/lib/modules/9.8.7-1-fake/build", "M=/build", "KERNELRELEASE=9.8.7-1-fake"],
                    environment: ["PATH": "/usr/bin:/bin", "LC_ALL": "C", "SOURCE_DATE_EPOCH": "0"],
                    arch: "x86_64", sandboxProfile: d("profile"))
    }

    func testEveryComponentChangesTheKeyAndExplainNamesIt() {
        let table: [(String, (inout BuildInputs) -> Void)] = [
            ("schema", { $0.schemaVersion += 1 }),
            ("salt", { $0.salt = "poisoned-2026" }),
            ("module-source", { $0.moduleSource = self.d("src2") }),
            ("config", { $0.config["STRIP[0]"] = "no" }),
            ("config", { $0.config["BUILD_EXCLUSIVE_ARCH"] = "x86_64" }),
            ("kernel-tree", { $0.kernelTree = self.d("kernel2") }),
            ("toolchain", { $0.toolchain["cc1"] = self.d("cc1-new") }),
            ("toolchain", { $0.toolchain["pahole"] = self.d("pahole") }),
            ("make-argv", { $0.makeArgv.append("KCFLAGS=-O3") }),
            ("make-argv", { $0.makeArgv.swapAt(3, 4) }),
            ("environment", { $0.environment["TZ"] = "UTC" }),
            ("environment", { $0.environment["PATH"] = "/usr/local/bin:/usr/bin:/bin" }),
            ("arch", { $0.arch = "aarch64" }),
            ("sandbox-profile", { $0.sandboxProfile = self.d("profile2") }),
        ]
        let k0 = CacheKey(base)
        var seen: Set<Digest> = [k0.digest]
        for (component, mutate) in table {
            var i = base; mutate(&i)
            let k = CacheKey(i)
            XCTAssertNotEqual(k, k0, component)
            XCTAssertEqual(k.differences(from: k0), [component], component)
            XCTAssertTrue(seen.insert(k.digest).inserted, "distinct keys for every mutation (\(component))")
        }
    }

    func testKeyIsDeterministicAndCanonical() {
        XCTAssertEqual(CacheKey(base), CacheKey(base))
        // Dictionary insertion order must not matter.
        var a = base; a.environment = [:]; a.environment["A"] = "1"; a.environment["B"] = "2"
        var b = base; b.environment = [:]; b.environment["B"] = "2"; b.environment["A"] = "1"
        XCTAssertEqual(CacheKey(a), CacheKey(b))
        // Length prefixes: ["ab","c"] vs ["a","bc"] and "k=v" splits never collide.
        var c = base; c.makeArgv = ["ab", "c"]
        var e = base; e.makeArgv = ["a", "bc"]
        XCTAssertNotEqual(CacheKey(c), CacheKey(e))
        var f = base; f.environment = ["A": "B=C"]
        var g = base; g.environment = ["A=B": "C"]
        XCTAssertNotEqual(CacheKey(f), CacheKey(g))
        let k = CacheKey(base)
        XCTAssertEqual(k.hex.count, 64); XCTAssertEqual(k.short, String(k.hex.prefix(12)))
        XCTAssertEqual(k.explain().map(\.component),
                       ["schema", "salt", "module-source", "config", "kernel-tree", "toolchain", "make-argv", "environment", "arch", "sandbox-profile"])
    }

    func testToolchainResolutionFindsDriverCc1AsLd() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/gcc-12"), "gcc-12 not installed")
        let tc = try Toolchain.resolve(cc: "gcc-12")
        let roles = Dictionary(uniqueKeysWithValues: tc.binaries.map { ($0.role, $0) })
        XCTAssertEqual(Set(roles.keys), ["cc", "cc1", "as", "ld", "make", "strip"])
        XCTAssertTrue(roles["cc1"]!.resolvedPath.hasSuffix("/cc1"), roles["cc1"]!.resolvedPath)
        var d = FileDigester(memoDirectory: nil)
        let digests = try tc.digests(using: &d)
        XCTAssertEqual(digests.count, 6)
        XCTAssertNotEqual(digests["cc"], digests["cc1"])
    }
}
