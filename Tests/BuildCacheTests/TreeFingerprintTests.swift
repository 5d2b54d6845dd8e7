import Foundation
import Glibc
import XCTest
@testable import BuildCache
import SafeFS
import TestSupport

/// A two-root kernel-like tree: objtree (with a scripts link out to a
/// kbuild dir) including the srctree by its Makefile.
func makeKernel(_ t: TempDir) -> KernelBuildTree {
    makeSampleTree(t.sub("kbuild"))
    makeSampleTree(t.sub("common"))
    write(t.sub("common/include/linux/deep/a.h"), "#define A 1\n")
    write(t.sub("obj/Makefile"), "include \(t.sub("common"))/Makefile\n")
    write(t.sub("common/Makefile"), "all:\n")
    write(t.sub("obj/.config"), "CONFIG_X=y\n")
    symlink("../kbuild/scripts", t.sub("obj/scripts"))
    return try! KernelBuildTree.discover(buildDirectory: t.sub("obj"))
}

/// The kernel tree's content digest is reused only while the tree's stat
/// fingerprint is unchanged; every kind of change leads back to a full digest
/// that agrees with one computed from scratch.
final class TreeFingerprintTests: XCTestCase {
    func fresh(_ k: KernelBuildTree) throws -> Digest {
        var d = FileDigester(memoDirectory: nil)
        return try k.digest(using: &d).digest
    }

    func testReusedWhileUnchangedRecomputedAfterEveryKindOfChange() throws {
        let t = TempDir()
        let k = makeKernel(t)
        let memo = t.sub("memo")
        let first = try k.digest(memoDirectory: memo, minimumAgeSeconds: 0)
        XCTAssertEqual(first, try fresh(k))
        let record = KernelTreeRecord(directory: memo, roots: k.roots.map(\.path))
        XCTAssertEqual(record.load()?.digest, first, "recorded once nothing is younger than the limit")
        XCTAssertEqual(try k.digest(memoDirectory: memo, minimumAgeSeconds: 0), first)

        let changes: [(String, String)] = [
            ("same-size rewrite in place, deep in the srctree", "printf '#define A 2\\n' > \(t.sub("common/include/linux/deep/a.h"))"),
            ("file in the linked kbuild", "printf 'x' >> \(t.sub("kbuild/scripts/gen.sh"))"),
            ("new file", "touch \(t.sub("obj/include-new.h"))"),
            ("removed file", "rm \(t.sub("obj/.config"))"),
            ("link retargeted", "ln -sfn ../common/include \(t.sub("obj/scripts"))"),
            ("exec bit", "chmod +x \(t.sub("common/Makefile"))"),
        ]
        var last = first
        for (what, cmd) in changes {
            usleep(20_000)  // past one timestamp tick
            XCTAssertEqual(sh(cmd), 0, cmd)
            let now = try k.digest(memoDirectory: memo, minimumAgeSeconds: 0)
            XCTAssertNotEqual(now, last, what)
            XCTAssertEqual(now, try fresh(k), "\(what): the reused path agrees with a digest from scratch")
            XCTAssertEqual(record.load()?.digest, now, what)
            last = now
        }
    }

    func testYoungTreeIsNotRecordedAndDamagedRecordIsIgnored() throws {
        let t = TempDir()
        let k = makeKernel(t)
        let memo = t.sub("memo")
        let d = try k.digest(memoDirectory: memo)  // default: files younger than 2 s
        let record = KernelTreeRecord(directory: memo, roots: k.roots.map(\.path))
        XCTAssertNil(record.load(), "a just-written tree is digested every time until it is 2 s old")
        _ = try k.digest(memoDirectory: memo, minimumAgeSeconds: 0)
        XCTAssertNotNil(record.load())
        var bytes = try FS.read(record.path)
        bytes[40] ^= 1  // the digest half: a forged or torn record
        try FS.writeAtomically(bytes, to: record.path)
        XCTAssertNil(record.load())
        XCTAssertEqual(try k.digest(memoDirectory: memo, minimumAgeSeconds: 0), d)
    }

    func testFingerprintIsStableAndSeesTheFollowedTree() throws {
        let t = TempDir()
        let k = makeKernel(t)
        let paths = k.roots.map(\.path)
        let a = try TreeFingerprint.compute(roots: paths, threads: 2)
        XCTAssertEqual(try TreeFingerprint.compute(roots: paths, threads: 1).fingerprint, a.fingerprint, "thread count does not matter")
        usleep(20_000)
        write(t.sub("kbuild/scripts/gen.sh"), "changed\n")
        XCTAssertNotEqual(try TreeFingerprint.compute(roots: paths).fingerprint, a.fingerprint)
    }
}

/// Directories whose stat key is unchanged are not read again; any change to a directory's
/// entries changes its key, and the walk reads it.
final class DirectoryListingsTests: XCTestCase {
    func testListingsGiveTheSameFingerprintAndChangedDirectoriesAreRead() throws {
        let t = TempDir()
        let k = makeKernel(t)
        let paths = k.roots.map(\.path)
        let fresh = try TreeFingerprint.compute(roots: paths)
        let listings = try XCTUnwrap(DirectoryListings.decode(fresh.listings.encoded()), "round trip")
        XCTAssertEqual(listings.index.count, fresh.listings.index.count)
        XCTAssertEqual(try TreeFingerprint.compute(roots: paths, known: listings).fingerprint, fresh.fingerprint)

        usleep(20_000)
        write(t.sub("common/include/linux/deep/b.h"), "new\n")  // a new entry: deep/ changes
        let added = try TreeFingerprint.compute(roots: paths, known: listings)
        XCTAssertNotEqual(added.fingerprint, fresh.fingerprint)
        XCTAssertEqual(added.fingerprint, try TreeFingerprint.compute(roots: paths).fingerprint,
                       "a stale listing is never used for a changed directory")

        // A listing that lies about an unchanged directory (names that are not there) is not
        // trusted blindly: the walk falls back to reading every directory.
        var forged = DirectoryListings()
        let deep = t.sub("common/include/linux/deep")
        forged.record(path: deep, key: try FileSystem.statKey(deep), names: Array("ghost.h\0".utf8), count: 1)
        XCTAssertEqual(try TreeFingerprint.compute(roots: paths, known: forged).fingerprint, added.fingerprint)

        var bytes = fresh.listings.encoded()
        bytes[12] ^= 1
        XCTAssertNil(DirectoryListings.decode(bytes), "a damaged file is no listing")
    }
}
