import Foundation
import Glibc
import XCTest
@testable import BuildCache
import TestSupport

final class FileDigesterTests: XCTestCase {
    func testKnownVectorsAndPortableAgreement() throws {
        XCTAssertEqual(SHA256.hash(bytes: Array("abc".utf8)).hex,
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(Digest.empty.hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        for len in [0, 1, 55, 56, 63, 64, 65, 1000, 100_000] {
            let bytes = (0..<len).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            var p = PortableSHA256()
            // Feed in uneven pieces to exercise the pending-block path.
            var i = 0
            while i < len { let n = min(37, len - i); p.update(Array(bytes[i..<i + n])); i += n }
            XCTAssertEqual(p.finalize(), SHA256.hash(bytes: bytes), "length \(len)")
        }
        XCTAssertEqual(Digest(hex: Digest.empty.hex), Digest.empty)
        XCTAssertNil(Digest(hex: "xyz"))
    }

    func testMemoHitAvoidsRereadAcrossProcessesWorthOfReload() throws {
        let t = TempDir()
        let f = t.sub("a.h"); write(f, "hello\n")
        let memo = t.sub("memo")
        var d1 = FileDigester(memoDirectory: memo, clock: futureClock)
        let first = try d1.digest(ofFile: f)
        XCTAssertEqual(d1.statistics.filesHashed, 1)
        try d1.save()

        // A new digester loads the persisted memo, as the next daemon run would.
        var d2 = FileDigester(memoDirectory: memo, clock: futureClock)
        XCTAssertEqual(d2.memoCount, 1)
        let second = try d2.digest(ofFile: f)
        XCTAssertEqual(second, first)
        XCTAssertEqual(d2.statistics.filesHashed, 0, "memo hit must not read the file")
        XCTAssertEqual(d2.statistics.bytesHashed, 0)
        XCTAssertEqual(d2.statistics.memoHits, 1)
    }

    func testYoungFilesAreHashedButNeverMemoized() throws {
        let t = TempDir()
        let f = t.sub("new.h"); write(f, "fresh\n")
        let memo = t.sub("memo")
        var d1 = FileDigester(memoDirectory: memo)  // real clock: file is < 2 s old
        _ = try d1.digest(ofFile: f)
        XCTAssertEqual(d1.statistics.racyNotMemoized, 1)
        try d1.save()
        var d2 = FileDigester(memoDirectory: memo)
        XCTAssertEqual(d2.memoCount, 0)
        _ = try d2.digest(ofFile: f)
        XCTAssertEqual(d2.statistics.filesHashed, 1)
    }

    func testInPlaceEditWithSizeAndMtimeRestoredIsRehashedBecauseCtimeMoved() throws {
        let t = TempDir()
        let f = t.sub("config.h"); write(f, "#define A 1\n")
        let memo = t.sub("memo")
        var d1 = FileDigester(memoDirectory: memo, clock: futureClock)
        let before = try d1.digest(ofFile: f)
        try d1.save()
        let st0 = statOf(f)

        usleep(20_000)  // make sure the ctime tick moves
        // Same size, different byte; then put the old mtime back (what `touch -r` or tar does).
        let fd = open(f, O_WRONLY); XCTAssert(fd >= 0)
        _ = "#define A 2\n".withCString { write(fd, $0, 12) }
        close(fd)
        var times = [timespec(tv_sec: st0.st_atim.tv_sec, tv_nsec: st0.st_atim.tv_nsec),
                     timespec(tv_sec: st0.st_mtim.tv_sec, tv_nsec: st0.st_mtim.tv_nsec)]
        XCTAssertEqual(utimensat(AT_FDCWD, f, &times, 0), 0)
        let st1 = statOf(f)
        XCTAssertEqual(st1.st_size, st0.st_size)
        XCTAssertEqual(st1.st_mtim.tv_sec, st0.st_mtim.tv_sec); XCTAssertEqual(st1.st_mtim.tv_nsec, st0.st_mtim.tv_nsec)
        XCTAssertEqual(st1.st_ino, st0.st_ino)
        XCTAssertTrue(st1.st_ctim.tv_sec != st0.st_ctim.tv_sec || st1.st_ctim.tv_nsec != st0.st_ctim.tv_nsec)

        var d2 = FileDigester(memoDirectory: memo, clock: futureClock)
        let after = try d2.digest(ofFile: f)
        XCTAssertEqual(d2.statistics.filesHashed, 1, "ctime change must force a re-hash")
        XCTAssertNotEqual(after.digest, before.digest)
        XCTAssertEqual(after.digest, SHA256.hash(bytes: Array("#define A 2\n".utf8)))
    }

    func testCorruptMemoFileIsIgnored() throws {
        let t = TempDir()
        let memo = t.sub("memo")
        write(memo + "/stat-memo.v1", "garbage that is not a memo")
        let f = t.sub("x"); write(f, "x")
        var d = FileDigester(memoDirectory: memo, clock: futureClock)
        XCTAssertEqual(d.memoCount, 0)
        _ = try d.digest(ofFile: f)
        try d.save()
        XCTAssertEqual(FileDigester(memoDirectory: memo).memoCount, 1)
    }

    func testDirectoryIsRejectedWithTypedError() {
        let t = TempDir()
        var d = FileDigester(memoDirectory: nil)
        XCTAssertThrowsError(try d.digest(ofFile: t.path)) { e in
            guard case CacheError.unsupportedFileType = e else { return XCTFail("\(e)") }
        }
    }
}
