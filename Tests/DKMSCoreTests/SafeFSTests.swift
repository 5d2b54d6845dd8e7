import XCTest
import Glibc
@testable import SafeFS
import TestSupport

/// The beneath resolution (openat2 and the descriptor walk taken where
/// openat2 is ENOSYS), bounded reads and the descriptor-only tree copy.
final class SafeFSTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = makeTempDir("safefs")
        mkdir(dir + "/root", 0o755); mkdir(dir + "/root/sub", 0o755); mkdir(dir + "/out", 0o755)
        write(dir + "/root/sub/file", "inside\n")
        write(dir + "/out/secret", "outside\n")
        symlink(dir + "/out", dir + "/root/abs")
        symlink("../out", dir + "/root/rel")
        symlink("sub", dir + "/root/inner")
        symlink(dir + "/out/secret", dir + "/root/sub/last")
        symlink("/proc/self/root" + dir + "/out", dir + "/root/magic")
    }

    override func tearDown() { _ = system("rm -rf '\(dir)'") }

    func write(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
    }

    /// Both resolutions refuse every link, `..` and absolute paths, and read what lies beneath.
    func testEveryComponentIsResolvedBeneathWithoutLinks() throws {
        let root = Beneath.openRoot(dir + "/root")
        XCTAssertGreaterThanOrEqual(root, 0)
        defer { close(root) }
        let open2: (Int32, String, Int32) -> Int32 = { Beneath.open($0, $1, $2) }
        let walk: (Int32, String, Int32) -> Int32 = { root, rel, flags in
            let fd = Beneath.walk(root, rel, flags | O_CLOEXEC | O_NOFOLLOW, mode: 0)
            var st = stat()
            if fd >= 0 && flags & O_PATH != 0 && fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK { close(fd); return -1 }
            return fd
        }
        for (how, opener) in [("openat2", open2), ("walk", walk)] {
            let ok = opener(root, "sub/file", O_RDONLY)
            XCTAssertGreaterThanOrEqual(ok, 0, how); close(ok)
            for bad in ["abs/secret", "rel/secret", "inner/file", "sub/last", "magic/secret", "../out/secret",
                        "sub/../../out/secret", dir + "/out/secret", "abs", "sub/last"] {
                let fd = opener(root, bad, O_RDONLY)
                XCTAssertLessThan(fd, 0, "\(how): \(bad) opened")
                if fd >= 0 { close(fd) }
            }
            // O_PATH opens of a final link are refused too.
            let p = opener(root, "abs", O_PATH)
            XCTAssertLessThan(p, 0, "\(how): O_PATH of a link")
            if p >= 0 { close(p) }
        }
        XCTAssertEqual(try Beneath.read(root, "sub/file", limit: 100).get(), Array("inside\n".utf8))
        XCTAssertEqual(Beneath.read(root, "sub/file", limit: 3), .failure(.tooLarge(3)))
        XCTAssertEqual(Beneath.read(root, "abs/secret", limit: 100), .failure(.symlink))
        XCTAssertEqual(Beneath.read(root, "nothing", limit: 100), .failure(.missing))
        XCTAssertEqual(Beneath.read(root, "sub", limit: 100), .failure(.notRegular))
        XCTAssertNil(Beneath.lstat(root, "abs/secret"))
        XCTAssertEqual(Beneath.lstat(root, "abs").map { $0.st_mode & S_IFMT }, S_IFLNK)
        XCTAssertEqual(Beneath.list(root, "sub")?.sorted(), ["file", "last"])
        XCTAssertNil(Beneath.list(root, "abs"))
    }

    /// A '/' that a neighbouring scalar joins into one grapheme is still a
    /// separator (dkms-fuzz 'paths'); `relative` compares bytes.
    func testPathsAreSplitOnBytes() {
        XCTAssertNil(Beneath.components("a\u{605}/../x"))
        XCTAssertEqual(Beneath.components("a\u{605}/b")?.count, 2)
        XCTAssertNil(Beneath.components("/\u{301}abs"))
        XCTAssertNil(Beneath.relative("/tmp/cafe\u{301}/x", to: "/tmp/caf\u{e9}"), "canonically equivalent is not the same path")
        XCTAssertEqual(Beneath.relative("/a/b/c", to: "/a/"), "b/c")
        XCTAssertEqual(Beneath.relative("/x", to: "/"), "x")
        let root = Beneath.openRoot(dir + "/root")
        defer { close(root) }
        XCTAssertLessThan(Beneath.walk(root, "sub\u{605}/../../out/secret", O_RDONLY | O_NOFOLLOW, mode: 0), 0)
    }

    /// The copy keeps links as links, drops set-id bits, stops at its limits and refuses fifos.
    func testTreeCopyIsBoundedAndFollowsNothing() throws {
        mkdir(dir + "/copy", 0o755)
        chmod(dir + "/root/sub/file", 0o4755)
        try TreeCopy.copy(from: dir + "/root", into: dir + "/copy")
        var st = stat()
        XCTAssertEqual(lstat(dir + "/copy/abs", &st), 0); XCTAssertEqual(st.st_mode & S_IFMT, S_IFLNK)
        XCTAssertEqual(lstat(dir + "/copy/sub/file", &st), 0); XCTAssertEqual(st.st_mode & 0o7777, 0o755)
        XCTAssertTrue(TreeCopy.same(dir + "/root", dir + "/copy"))

        for (limits, expect) in [(TreeCopy.Limits(maxBytes: 3), "larger than the 3-byte limit"),
                                 (TreeCopy.Limits(maxEntries: 2), "more than 2 entries"),
                                 (TreeCopy.Limits(maxDepth: 1), "nested deeper than 1")] {
            _ = system("rm -rf '\(dir)/copy'; mkdir '\(dir)/copy'")
            XCTAssertThrowsError(try TreeCopy.copy(from: dir + "/root", into: dir + "/copy", limits: limits)) {
                XCTAssertTrue("\($0)".contains(expect), "\($0)")
            }
        }
        mkfifo(dir + "/root/pipe", 0o644)
        _ = system("rm -rf '\(dir)/copy'; mkdir '\(dir)/copy'")
        XCTAssertThrowsError(try TreeCopy.copy(from: dir + "/root", into: dir + "/copy")) {
            XCTAssertTrue("\($0)".contains("pipe: is a device, fifo or socket"), "\($0)")
        }
    }
}
