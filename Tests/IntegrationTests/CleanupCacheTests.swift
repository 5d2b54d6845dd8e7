import XCTest
import Foundation
import TestSupport

/// `dkms cleanup` and the build cache: entries no build can hit any more are
/// listed (dry run changes nothing) and `--yes` removes exactly them; what an
/// installed module came from stays and still hits.
final class CleanupCacheTests: XCTestCase {
    struct Record { var path: String; var module: String; var kernel: String; var blobs: [String]; var signature: Bool }

    func records(_ cache: String) -> [Record] {
        sh(["find", cache + "/records", "-type", "f"]).stdout.split(separator: "\n").compactMap { p in
            guard let data = FileManager.default.contents(atPath: String(p)),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let labels = json["labels"] as? [String: String], let files = json["files"] as? [[String: Any]] else { return nil }
            return Record(path: String(p), module: labels["module"] ?? "", kernel: labels["kernel"] ?? "",
                          blobs: files.compactMap { $0["digest"] as? String },
                          signature: json["components"] == nil && files.map { $0["path"] as? String } == ["signed.ko"])
        }
    }

    func blobPath(_ cache: String, _ digest: String) -> String { "\(cache)/blobs/sha256/\(digest.prefix(2))/\(digest)" }

    /// Every file and directory with its size and mtime.
    func listing(_ dir: String, detailed: Bool = true) -> [String] {
        sh(["find", dir, "-printf", detailed ? "%y %p %s %T@\n" : "%y %p\n"]).stdout.split(separator: "\n").map(String.init).sorted()
    }

    func key(_ sb: TestTrees, _ m: String, _ v: String, _ k: String) -> String {
        let text = (try? String(contentsOfFile: "\(sb.dkmsTree)/\(m)/\(v)/\(k)/x86_64/log/dkms-swift.cache", encoding: .utf8)) ?? ""
        return String(text.prefix(64))
    }

    func testUnreachableEntriesAreListedThenRemovedAndTheInstalledOneStillHits() throws {
        let ks = Kernels.all
        try XCTSkipIf(ks.count < 2, "needs two kernels with headers")
        let (k, k2) = (ks[0], ks[1])
        let sb = TestTrees(sharedCache: false)
        defer { sb.cleanup() }
        let cache = sb.dkmsTree + "/.cache"

        // Stays: an installed module's build (pinned) and its signature.
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        let install = sb.dkms("install", "dkms-hello/1.0", "-k", k)
        XCTAssertEqual(install.status, 0, install.all)
        let installedKey = key(sb, "dkms-hello", "1.0", k)
        // Goes: a module built, then removed from the tree (never pinned).
        writeModule(at: sb.sourceTree + "/gone-2.0", name: "gone_mod", conf: "PACKAGE_NAME=gone\nPACKAGE_VERSION=2.0\nBUILT_MODULE_NAME[0]=gone_mod\n")
        XCTAssertEqual(sb.dkms("add", "gone/2.0").status, 0)
        let built = sb.dkms("build", "gone/2.0", "-k", k)
        XCTAssertEqual(built.status, 0, built.all)
        let goneKey = key(sb, "gone", "2.0", k)
        XCTAssertEqual(sb.dkms("remove", "gone/2.0", "--all").status, 0)
        // Goes: a build for a kernel whose headers have changed since (its
        // build link now leads to the other kernel's headers).
        let other = sb.dkms("build", "dkms-hello/1.0", "-k", k2)
        XCTAssertEqual(other.status, 0, other.all)
        let staleKey = key(sb, "dkms-hello", "1.0", k2)
        try FileManager.default.removeItem(atPath: "\(sb.installTree)/\(k2)/build")
        try FileManager.default.createSymbolicLink(atPath: "\(sb.installTree)/\(k2)/build", withDestinationPath: "/lib/modules/\(k)/build")
        // Goes: a blob no record references.
        let orphanSource = sb.base + "/orphan"
        XCTAssertTrue(FileManager.default.createFile(atPath: orphanSource, contents: Data("no record wants me".utf8)))
        let orphan = blobPath(cache, sha256(orphanSource))
        try FileManager.default.createDirectory(atPath: (orphan as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: orphanSource, toPath: orphan)

        let all = records(cache)
        XCTAssertEqual(all.count, 6, "three builds and their signatures: \(all)")
        func record(_ key: String) -> Record? { all.first { $0.path.hasSuffix("/" + key) } }
        func signature(_ m: String, _ kernel: String) -> Record? { all.first { $0.signature && $0.module == m && $0.kernel == kernel } }
        let stays = [try XCTUnwrap(record(installedKey)), try XCTUnwrap(signature("dkms-hello", k))]
        let expected: [(Record, String)] = [
            (try XCTUnwrap(record(goneKey)), "gone/2.0, \(k) (x86_64): not in the dkms tree"),
            (try XCTUnwrap(signature("gone", k)), "gone/2.0, \(k) (x86_64): signature of a module no longer cached"),
            (try XCTUnwrap(record(staleKey)), "dkms-hello/1.0, \(k2) (x86_64): kernel headers changed since it was built"),
            (try XCTUnwrap(signature("dkms-hello", k2)), "dkms-hello/1.0, \(k2) (x86_64): signature of a module no longer cached"),
        ]

        let before = listing(cache)
        let dry = sb.dkms("cleanup")
        XCTAssertEqual(dry.status, 0, dry.all)
        XCTAssertEqual(listing(cache), before, "a dry run changes nothing")
        let cacheLines = dry.stdout.split(separator: "\n").filter { $0.hasPrefix("build cache") }
        XCTAssertEqual(cacheLines.count, expected.count + 1, dry.stdout)
        for (r, note) in expected {
            XCTAssertTrue(dry.stdout.contains("build cache entry no longer reachable: \(r.path) (\(note); "), "missing \(r.path) \(note) in:\n\(dry.stdout)")
        }
        XCTAssertTrue(dry.stdout.contains("build cache blob no record references: \(orphan) (18 B)"), dry.stdout)
        for r in stays { XCTAssertFalse(dry.stdout.contains(r.path), "\(r.path) is reachable") }
        XCTAssertTrue(dry.stdout.contains("Dry run: nothing was removed"))

        let plain = listing(cache, detailed: false)
        let act = sb.dkms("cleanup", "--yes")
        XCTAssertEqual(act.status, 0, act.all)
        XCTAssertTrue(act.stdout.contains("Removed \(expected.count + 1) item(s)"), act.stdout)
        let removed = Set(plain).subtracting(listing(cache, detailed: false))
        var expectedGone = Set(["f " + orphan])
        for (r, _) in expected {
            expectedGone.insert("f " + r.path)
            // Blobs the entries that stay share (an empty Module.symvers) stay.
            for b in r.blobs where !stays.contains(where: { $0.blobs.contains(b) }) { expectedGone.insert("f " + blobPath(cache, b)) }
        }
        XCTAssertEqual(removed, expectedGone, "removes exactly the unreachable records, their blobs and the orphan")
        for r in stays {
            XCTAssertTrue(FileManager.default.fileExists(atPath: r.path))
            for b in r.blobs { XCTAssertTrue(FileManager.default.fileExists(atPath: blobPath(cache, b))) }
        }
        XCTAssertEqual(sb.dkms("cleanup").stdout, "Nothing to clean up.\n")

        // The installed module's entry still hits.
        XCTAssertEqual(sb.dkms("remove", "dkms-hello/1.0", "--all").status, 0)
        XCTAssertEqual(sb.dkms("add", "dkms-hello/1.0").status, 0)
        let again = sb.dkms("--verbose", "install", "dkms-hello/1.0", "-k", k)
        XCTAssertEqual(again.status, 0, again.all)
        XCTAssertTrue(again.stdout.contains("Build cache: hit \(installedKey.prefix(12))"), again.stdout)
    }

    func testCleanupWithoutACacheOrWithTheCacheOff() throws {
        let sb = TestTrees(kernels: [Kernels.all[0]], sharedCache: false)
        defer { sb.cleanup() }
        XCTAssertFalse(FileManager.default.fileExists(atPath: sb.dkmsTree + "/.cache"))
        XCTAssertEqual(sb.dkms("cleanup").stdout, "Nothing to clean up.\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: sb.dkmsTree + "/.cache"), "looking creates no cache")
        // A cache with an orphan blob, but the cache is off: cleanup leaves it alone.
        let blob = sb.dkmsTree + "/.cache/blobs/sha256/ab/" + String(repeating: "ab", count: 32)
        try FileManager.default.createDirectory(atPath: (blob as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: blob, contents: Data("x".utf8)))
        XCTAssertTrue(FileManager.default.createFile(atPath: sb.configDir + "/framework.conf", contents: Data("cache=no\n".utf8)))
        XCTAssertEqual(sb.dkms("cleanup", "--yes").stdout, "Nothing to clean up.\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: blob))
    }
}
