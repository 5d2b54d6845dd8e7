import Glibc
import XCTest
@testable import SafeFS

/// The plain file-system calls and their one error type.
final class FSTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        var template = Array("/tmp/safefs-fs-XXXXXX".utf8CString)
        dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    override func tearDownWithError() throws { try FS.removeTree(dir) }

    func testErrorDescriptionNamesCallPathAndReason() {
        XCTAssertEqual(IOFailure("open", "/x", ENOENT).description, "open(/x): No such file or directory")
        XCTAssertEqual(IOFailure("mkdir", "/y", EACCES).reason, "Permission denied")
        XCTAssertThrowsError(try FS.read(dir + "/missing")) { e in
            XCTAssertEqual(e as? IOFailure, IOFailure("open", dir + "/missing", ENOENT))
        }
    }

    func testExistsKindsAndLinks() throws {
        let file = dir + "/f", link = dir + "/l", dangling = dir + "/d"
        try FS.writeAtomically(Array("x".utf8), to: file)
        XCTAssertEqual(symlink(file, link), 0)
        XCTAssertEqual(symlink(dir + "/nothing", dangling), 0)
        XCTAssertEqual(FS.kind(file), .file)
        XCTAssertEqual(FS.kind(dir), .directory)
        XCTAssertEqual(FS.kind(link), .symlink)
        XCTAssertNil(FS.kind(dir + "/nothing"))
        XCTAssertTrue(FS.isRegularFile(link), "stat follows")
        XCTAssertTrue(FS.isSymlink(link))
        XCTAssertFalse(FS.isDirectory(file))
        XCTAssertFalse(FS.exists(dangling))
        XCTAssertTrue(FS.exists(dangling, followLinks: false))
        XCTAssertEqual(FS.readLink(link), file)
        XCTAssertEqual(FS.realPath(link), FS.realPath(file))
    }

    func testListAndListing() throws {
        try FS.makeDirectories(dir + "/a/b")
        try FS.writeAtomically([1], to: dir + "/a/f")
        XCTAssertEqual(FS.list(dir + "/a").sorted(), ["b", "f"])
        XCTAssertEqual(FS.list(dir + "/none"), [])
        XCTAssertNil(FS.listing(dir + "/none"))
        XCTAssertEqual(errno, ENOENT)
    }

    func testWriteAtomicallyReplacesWholeAndLeavesNoTemp() throws {
        let f = dir + "/out"
        try FS.writeAtomically(Array("first".utf8), to: f, mode: 0o600)
        try FS.writeAtomically(Array("second".utf8), to: f, mode: 0o600)
        XCTAssertEqual(FS.readText(f), "second")
        XCTAssertEqual(FS.list(dir), ["out"])
        XCTAssertEqual((FS.statInfo(f)?.st_mode ?? 0) & 0o777, 0o600)
        XCTAssertThrowsError(try FS.writeAtomically([1], to: dir + "/none/x")) { e in
            XCTAssertEqual((e as? IOFailure)?.errno, ENOENT)
        }
    }

    func testReadLargeFileWhole() throws {
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0) }
        try FS.writeAtomically(bytes, to: dir + "/big")
        XCTAssertEqual(try FS.read(dir + "/big"), bytes)
        XCTAssertEqual(try FS.read("/dev/null"), [])
        XCTAssertTrue(FS.sameContent(dir + "/big", dir + "/big"))
    }

    func testMakeDirectories() throws {
        try FS.makeDirectories(dir + "/p/q/r", mode: 0o700, durable: true)
        XCTAssertTrue(FS.isDirectory(dir + "/p/q/r"))
        try FS.makeDirectories(dir + "/p/q/r")  // already there
        try FS.writeAtomically([1], to: dir + "/file")
        XCTAssertThrowsError(try FS.makeDirectories(dir + "/file")) { e in
            XCTAssertEqual(e as? IOFailure, IOFailure("mkdir", dir + "/file", ENOTDIR))
        }
        XCTAssertThrowsError(try FS.makeDirectories(dir + "/file/sub")) { e in
            XCTAssertEqual(e as? IOFailure, IOFailure("mkdir", dir + "/file/sub", ENOTDIR))
        }
    }

    func testRemoveTreeNeverFollowsALink() throws {
        try FS.makeDirectories(dir + "/keep")
        try FS.writeAtomically([1], to: dir + "/keep/precious")
        try FS.makeDirectories(dir + "/gone/sub")
        XCTAssertEqual(symlink(dir + "/keep", dir + "/gone/sub/link"), 0)
        try FS.removeTree(dir + "/gone")
        XCTAssertNil(FS.kind(dir + "/gone"))
        XCTAssertTrue(FS.isRegularFile(dir + "/keep/precious"))
        try FS.removeTree(dir + "/gone")  // missing: no error
    }

    func testRenameAndRemove() throws {
        try FS.writeAtomically([7], to: dir + "/a")
        try FS.rename(dir + "/a", dir + "/b")
        XCTAssertEqual(try FS.read(dir + "/b"), [7])
        XCTAssertThrowsError(try FS.rename(dir + "/a", dir + "/c")) { e in
            XCTAssertEqual(e as? IOFailure, IOFailure("rename", dir + "/c", ENOENT))
        }
        try FS.remove(dir + "/b")
        try FS.remove(dir + "/b")  // missing: no error
        XCTAssertFalse(FS.exists(dir + "/b"))
    }

    func testPathParts() {
        XCTAssertEqual(FS.parent("/a/b"), "/a")
        XCTAssertEqual(FS.parent("/a"), "/")
        XCTAssertEqual(FS.parent("a"), ".")
        XCTAssertEqual(FS.basename("/a/b"), "b")
        XCTAssertEqual(FS.join("/a/", "/b"), "/a/b")
        XCTAssertEqual(FS.join("/a", ""), "/a")
    }
}
