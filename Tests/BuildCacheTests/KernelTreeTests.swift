import Foundation
import Glibc
import XCTest
@testable import BuildCache

/// Runs against the real Debian header packages; skipped where they are not installed.
final class KernelTreeTests: XCTestCase {
    let amd64 = "/lib/modules/6.1.0-56-amd64/build"
    let cloud = "/lib/modules/6.1.0-56-cloud-amd64/build"

    func requireTrees() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: amd64) && FileManager.default.fileExists(atPath: cloud),
                          "kernel headers not installed")
    }

    func testDiscoverFollowsBuildLinkAndMakefileInclude() throws {
        try requireTrees()
        let k = try KernelBuildTree.discover(buildDirectory: amd64)
        XCTAssertEqual(k.objtree, "/usr/src/linux-headers-6.1.0-56-amd64")
        XCTAssertEqual(k.srctree, "/usr/src/linux-headers-6.1.0-56-common")
        XCTAssertEqual(k.roots.map(\.label), ["objtree", "srctree"])
    }

    func testAmd64AndCloudDifferButShareTheCommonSrctree() throws {
        try requireTrees()
        var d = FileDigester(memoDirectory: nil)
        let a = try KernelBuildTree.discover(buildDirectory: amd64).digest(using: &d)
        let c = try KernelBuildTree.discover(buildDirectory: cloud).digest(using: &d)
        XCTAssertNotEqual(a.digest, c.digest)
        XCTAssertEqual(a.parts.first { $0.label == "srctree" }!.result.digest, c.parts.first { $0.label == "srctree" }!.result.digest)
        XCTAssertGreaterThan(a.files, 15_000)
        XCTAssertGreaterThan(a.bytes, 50_000_000)
        // kbuild (scripts/tools links) is inside the digest: objtree has its 6.4k config files + kbuild files.
        XCTAssertGreaterThan(a.parts.first { $0.label == "objtree" }!.result.files, 6_500)
        // The parallel split walk (threads 2) and the plain serial walk agree, and a second
        // pass with a populated memo reads nothing.
        var d1 = FileDigester(memoDirectory: nil, clock: futureClock)
        let serial = try KernelBuildTree.discover(buildDirectory: amd64).digest(using: &d1, threads: 1)
        XCTAssertEqual(serial.digest, a.digest)
        let memoized = try KernelBuildTree.discover(buildDirectory: amd64).digest(using: &d1, threads: 2)
        XCTAssertEqual(memoized.digest, a.digest)
        XCTAssertEqual(memoized.filesHashed, 0)
    }

    /// cp -a of objtree + common + kbuild to a temp root, keeping the relative `scripts`/`tools`
    /// links (../../lib/linux-kbuild-6.1/...) valid, digests the same as the installed trees:
    /// labels not paths are hashed, and external links are hashed by content.
    /// (The copied objtree Makefile still names /usr/src/...-common: it is content, and is
    /// unchanged; rewriting it would, correctly, change the key.)
    func testRelocatedCopyOfKernelTreesDigestsTheSame() throws {
        try requireTrees()
        let t = TempDir()
        let cmd = """
        set -e; cd \(t.path); mkdir -p usr/src usr/lib
        cp -a /usr/src/linux-headers-6.1.0-56-amd64 /usr/src/linux-headers-6.1.0-56-common usr/src/
        cp -a /usr/lib/linux-kbuild-6.1 usr/lib/
        """
        XCTAssertEqual(sh(cmd), 0)
        XCTAssertEqual(FileSystem.realPath(t.sub("usr/src/linux-headers-6.1.0-56-amd64/scripts")), t.sub("usr/lib/linux-kbuild-6.1/scripts"))
        var d = FileDigester(memoDirectory: nil)
        let original = try KernelBuildTree.discover(buildDirectory: amd64).digest(using: &d)
        let copy = try KernelBuildTree(objtree: t.sub("usr/src/linux-headers-6.1.0-56-amd64"),
                                       srctree: t.sub("usr/src/linux-headers-6.1.0-56-common")).digest(using: &d)
        XCTAssertEqual(copy.digest, original.digest)
        XCTAssertEqual(copy.files, original.files)

        // And one changed byte in a copied header changes it.
        XCTAssertEqual(sh("printf ' ' >> \(t.sub("usr/src/linux-headers-6.1.0-56-common/include/linux/module.h"))"), 0)
        let edited = try KernelBuildTree(objtree: t.sub("usr/src/linux-headers-6.1.0-56-amd64"),
                                         srctree: t.sub("usr/src/linux-headers-6.1.0-56-common")).digest(using: &d)
        XCTAssertNotEqual(edited.digest, original.digest)
        // A kbuild tool change (the in-place upgraded package) changes it too.
        XCTAssertEqual(sh("printf 'x' >> \(t.sub("usr/lib/linux-kbuild-6.1/scripts/Makefile.build"))"), 0)
        let kb = try KernelBuildTree(objtree: t.sub("usr/src/linux-headers-6.1.0-56-amd64"),
                                     srctree: t.sub("usr/src/linux-headers-6.1.0-56-common")).digest(using: &d)
        XCTAssertNotEqual(kb.digest, edited.digest)
    }
}
