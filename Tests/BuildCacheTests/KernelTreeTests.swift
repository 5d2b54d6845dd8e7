import Foundation
import Glibc
import XCTest
@testable import BuildCache
import SafeFS
import TestSupport

/// Runs against the real Debian header packages; skipped where they are not installed.
final class KernelTreeTests: XCTestCase {
    /// Build trees of the installed kernels, in version order: never a named release.
    static let builds = Kernels.all.map { "/lib/modules/\($0)/build" }

    /// Two flavours of one release sharing a source tree (Debian's amd64 and cloud-amd64 share
    /// linux-headers-<abi>-common), as scripts/install-deps.sh installs them.
    func flavourPair() throws -> (String, String) {
        let trees = Self.builds.compactMap { b in (try? KernelBuildTree.discover(buildDirectory: b)).map { (b, $0) } }
        for (i, a) in trees.enumerated() {
            if a.1.srctree != nil, let b = trees[(i + 1)...].first(where: { $0.1.srctree == a.1.srctree && $0.1.objtree != a.1.objtree }) {
                return (a.0, b.0)
            }
        }
        throw XCTSkip("no two installed kernels share a source tree")
    }

    func testDiscoverFollowsBuildLinkAndMakefileInclude() throws {
        try XCTSkipIf(Self.builds.isEmpty, "kernel headers not installed")
        for build in Self.builds {
            let k = try KernelBuildTree.discover(buildDirectory: build)
            XCTAssertEqual(k.objtree, FS.realPath(build), build)
            XCTAssertTrue(FileManager.default.fileExists(atPath: k.objtree + "/.config"), build)
            XCTAssertTrue(FileManager.default.fileExists(atPath: (k.srctree ?? k.objtree) + "/include/linux/module.h"), build)
            // Debian splits each kernel's headers: the flavour's objtree includes the common srctree.
            if let srctree = k.srctree {
                XCTAssertEqual(k.roots.map(\.label), ["objtree", "srctree"], build)
                let makefile = try String(contentsOfFile: k.objtree + "/Makefile", encoding: .utf8)
                XCTAssertTrue(makefile.contains(srctree), build)
            }
        }
    }

    func testFlavoursDifferButShareTheCommonSrctree() throws {
        let (amd64, cloud) = try flavourPair()
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
        let build = try flavourPair().0
        let k = try KernelBuildTree.discover(buildDirectory: build)
        let srctreeHost = try XCTUnwrap(k.srctree)
        // The kbuild directory the objtree's `scripts` link leads to (Debian: /usr/lib/linux-kbuild-<series>).
        let kbuild = try XCTUnwrap(FS.realPath(k.objtree + "/scripts")).split(separator: "/").dropLast().joined(separator: "/")
        let t = TempDir()
        XCTAssertEqual(sh("set -e; cd / && cp -a --parents .\(k.objtree) .\(srctreeHost) ./\(kbuild) \(t.path)/"), 0)
        let objtree = t.path + k.objtree, srctree = t.path + srctreeHost
        XCTAssertEqual(FS.realPath(objtree + "/scripts"), t.path + "/" + kbuild + "/scripts")
        var d = FileDigester(memoDirectory: nil)
        let original = try KernelBuildTree.discover(buildDirectory: build).digest(using: &d)
        let copy = try KernelBuildTree(objtree: objtree, srctree: srctree).digest(using: &d)
        XCTAssertEqual(copy.digest, original.digest)
        XCTAssertEqual(copy.files, original.files)

        // And one changed byte in a copied header changes it.
        XCTAssertEqual(sh("printf ' ' >> \(srctree)/include/linux/module.h"), 0)
        let edited = try KernelBuildTree(objtree: objtree, srctree: srctree).digest(using: &d)
        XCTAssertNotEqual(edited.digest, original.digest)
        // A kbuild tool change (the in-place upgraded package) changes it too.
        XCTAssertEqual(sh("printf 'x' >> \(t.path)/\(kbuild)/scripts/Makefile.build"), 0)
        let kb = try KernelBuildTree(objtree: objtree, srctree: srctree).digest(using: &d)
        XCTAssertNotEqual(kb.digest, edited.digest)
    }
}
