import Foundation
import Glibc
import XCTest
@testable import BuildCache
import TestSupport

final class TreeDigestTests: XCTestCase {
    func testCpACopyHasSameDigest() throws {
        let t = TempDir()
        makeSampleTree(t.sub("a"))
        XCTAssertEqual(sh("cp -a \(t.sub("a")) \(t.sub("b"))"), 0)
        XCTAssertNotEqual(statOf(t.sub("a/hello.c")).st_ino, statOf(t.sub("b/hello.c")).st_ino)
        XCTAssertEqual(try treeDigest(t.sub("a")), try treeDigest(t.sub("b")))
        // Plain cp (new mtimes, owner-independent) also matches: metadata is not content.
        XCTAssertEqual(sh("cp -r \(t.sub("a")) \(t.sub("c")) && touch -d 2001-01-01 \(t.sub("c"))/hello.c"), 0)
        XCTAssertEqual(try treeDigest(t.sub("a")), try treeDigest(t.sub("c")))
    }

    func testContentNameTypeExecAndLinkChangesAllChangeTheDigest() throws {
        let t = TempDir()
        let root = t.sub("a")
        makeSampleTree(root)
        let base = try treeDigest(root)
        let cases: [(String, String)] = [
            ("one byte in a header", "printf '#define X 2\\n' > \(root)/include/hello.h"),
            ("symlink target", "ln -sfn include/other.h \(root)/hello-link.h"),
            ("exec bit", "chmod +x \(root)/hello.c"),
            ("rename", "mv \(root)/hello.c \(root)/hello2.c"),
            ("new empty dir", "mkdir \(root)/newdir"),
            ("file becomes link", "rm \(root)/Makefile && ln -s hello.c \(root)/Makefile"),
        ]
        for (name, cmd) in cases {
            XCTAssertEqual(sh("rm -rf \(root) && mkdir -p \(root)"), 0)
            makeSampleTree(root)
            XCTAssertEqual(try treeDigest(root), base, "reset before \(name)")
            XCTAssertEqual(sh(cmd), 0, cmd)
            XCTAssertNotEqual(try treeDigest(root), base, name)
        }
    }

    func testExcludeBuildProducts() throws {
        let t = TempDir()
        let root = t.sub("m"); makeSampleTree(root)
        let opts = TreeDigestOptions(exclude: .moduleBuildProducts)
        let clean = try treeDigest(root, opts)
        write(root + "/hello.o", "obj"); write(root + "/.hello.o.cmd", "cmd"); write(root + "/hello.ko", "ko")
        write(root + "/hello.mod.c", "c"); write(root + "/modules.order", "o")
        XCTAssertEqual(try treeDigest(root, opts), clean)
        XCTAssertNotEqual(try treeDigest(root), clean, "without the rule the products count")
        write(root + "/hello2.c", "new source")
        XCTAssertNotEqual(try treeDigest(root, opts), clean)
    }

    func testFollowExternalResolvesOutsideLinksPathIndependently() throws {
        let t = TempDir()
        // tree/scripts -> ../kbuild/scripts (outside), tree/alias.h -> include/hello.h (inside)
        makeSampleTree(t.sub("kbuild"))
        write(t.sub("tree/include/hello.h"), "h\n")
        symlink("include/hello.h", t.sub("tree/alias.h"))
        symlink("../kbuild/scripts", t.sub("tree/scripts"))
        let follow = TreeDigestOptions(symlinks: .followExternal)

        // Same content with the directory inline instead of linked: equal digest.
        write(t.sub("inline/include/hello.h"), "h\n")
        symlink("include/hello.h", t.sub("inline/alias.h"))
        XCTAssertEqual(sh("cp -a \(t.sub("kbuild/scripts")) \(t.sub("inline/scripts"))"), 0)
        XCTAssertEqual(try treeDigest(t.sub("tree"), follow), try treeDigest(t.sub("inline"), follow))

        // Relocating tree+kbuild together keeps the digest.
        XCTAssertEqual(sh("mkdir \(t.sub("moved")) && cp -a \(t.sub("tree")) \(t.sub("kbuild")) \(t.sub("moved"))/"), 0)
        XCTAssertEqual(try treeDigest(t.sub("tree"), follow), try treeDigest(t.sub("moved/tree"), follow))

        // External content change is seen when following, not when recording.
        let followed = try treeDigest(t.sub("tree"), follow)
        let recorded = try treeDigest(t.sub("tree"))
        write(t.sub("kbuild/scripts/gen.sh"), "#!/bin/sh\necho changed\n", mode: 0o755)
        XCTAssertNotEqual(try treeDigest(t.sub("tree"), follow), followed)
        XCTAssertEqual(try treeDigest(t.sub("tree")), recorded)
    }

    func testSymlinkCycleIsATypedError() {
        let t = TempDir()
        write(t.sub("a/f"), "x")
        symlink(t.sub("a"), t.sub("a/loop"))  // absolute -> followed under followExternal
        XCTAssertThrowsError(try treeDigest(t.sub("a"), TreeDigestOptions(symlinks: .followExternal))) { e in
            guard case CacheError.symlinkCycle = e else { return XCTFail("\(e)") }
        }
        XCTAssertNoThrow(try treeDigest(t.sub("a")), "recording links never loops")
    }

    func testParallelAndSerialAgreeAndMemoIsReused() throws {
        let t = TempDir()
        for i in 0..<300 { write(t.sub("r/d\(i % 7)/e\(i % 3)/f\(i).h"), String(repeating: "x\(i)", count: i)) }  // depth 3: exercises split tasks
        let memo = t.sub("memo")
        var d1 = FileDigester(memoDirectory: memo, clock: futureClock)
        let p = try TreeDigester(options: TreeDigestOptions(threads: 2)).digest(root: t.sub("r"), using: &d1)
        try d1.save()
        XCTAssertEqual(p.files, 300); XCTAssertEqual(p.filesHashed, 300)
        var d2 = FileDigester(memoDirectory: memo, clock: futureClock)
        let s = try TreeDigester(options: TreeDigestOptions(threads: 1)).digest(root: t.sub("r"), using: &d2)
        XCTAssertEqual(p.digest, s.digest)
        XCTAssertEqual(s.filesHashed, 0, "second pass is stat-only")
        var d3 = FileDigester(memoDirectory: nil)
        XCTAssertEqual(try TreeDigester(options: TreeDigestOptions(threads: 1)).digest(root: t.sub("r"), using: &d3).digest, p.digest)
    }
}
