import Foundation
import Glibc
import XCTest
@testable import BuildCache
import TestSupport

final class CacheStoreTests: XCTestCase {
    let labels = ResultLabels(module: "hello", version: "1.0", kernel: "9.8.7-1-fake", arch: "x86_64")
    func key(_ s: String) -> Digest { SHA256.hash(bytes: Array("key:\(s)".utf8)) }

    /// Collects reported events (reporter is @Sendable, so a locked box).
    final class Events: @unchecked Sendable {
        private let lock = NSLock(); private var items: [CacheEvent] = []
        func add(_ e: CacheEvent) { lock.lock(); items.append(e); lock.unlock() }
        var all: [CacheEvent] { lock.lock(); defer { lock.unlock() }; return items }
    }

    func testStoreLookupRoundTripAndCopyOut() throws {
        let t = TempDir()
        let store = try CacheStore(root: t.sub("cache"))
        write(t.sub("build/hello.ko"), "ELF hello"); write(t.sub("build/sub/extra.ko"), "ELF extra")
        XCTAssertNil(try store.lookup(key("a")))
        let stored = try store.store(key("a"), files: [("hello.ko", t.sub("build/hello.ko")), ("sub/extra.ko", t.sub("build/sub/extra.ko"))], labels: labels)
        let hit = try XCTUnwrap(try store.lookup(key("a")))
        XCTAssertEqual(hit, stored)
        XCTAssertEqual(hit.map(\.relativePath), ["hello.ko", "sub/extra.ko"])
        XCTAssertEqual(hit[0].digest, SHA256.hash(bytes: Array("ELF hello".utf8)))
        XCTAssertEqual(hit[0].size, 9)
        try store.copy(hit[1], to: t.sub("out/sub/extra.ko"))
        XCTAssertEqual(read(t.sub("out/sub/extra.ko")), "ELF extra")
        let s = try store.stats()
        XCTAssertEqual(s.entries, 1); XCTAssertEqual(s.blobs, 2); XCTAssertEqual(s.bytes, 18)
        XCTAssertEqual(s.hits, 1); XCTAssertEqual(s.misses, 1); XCTAssertEqual(s.stores, 1)
        XCTAssertThrowsError(try store.store(key("b"), files: [("../evil.ko", t.sub("build/hello.ko"))], labels: labels))
        XCTAssertThrowsError(try store.store(key("b"), files: [("/abs.ko", t.sub("build/hello.ko"))], labels: labels))
    }

    func testCorruptBlobIsDetectedRemovedReportedAndMisses() throws {
        let t = TempDir()
        let events = Events()
        let store = try CacheStore(root: t.sub("cache"), reporter: { events.add($0) })
        write(t.sub("hello.ko"), "ELF original bytes")
        let stored = try store.store(key("a"), files: [("hello.ko", t.sub("hello.ko"))], labels: labels)
        // Flip bytes in place, same size (bit rot / a bad copy).
        chmod(stored[0].blobPath, 0o644)
        write(stored[0].blobPath, "ELF ORIGINAL BYTES")
        let result = try store.lookupResult(key("a"))
        guard case let .corrupt(ev) = result else { return XCTFail("\(result)") }
        XCTAssertEqual(ev, [.corruptBlob(key: key("a"), blob: stored[0].digest, path: stored[0].blobPath)])
        XCTAssertEqual(events.all, ev)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stored[0].blobPath), "bad blob removed")
        XCTAssertNil(try store.lookup(key("a")), "entry removed: plain miss now")
        XCTAssertEqual(try store.stats().entries, 0)
        XCTAssertEqual(try store.stats().corruptions, 1)
        // Rebuild + store repairs it.
        try store.store(key("a"), files: [("hello.ko", t.sub("hello.ko"))], labels: labels)
        XCTAssertNotNil(try store.lookup(key("a")))
    }

    func testGarbledRecordIsAMissAndRemoved() throws {
        let t = TempDir()
        let store = try CacheStore(root: t.sub("cache"))
        write(t.sub("m.ko"), "x")
        try store.store(key("a"), files: [("m.ko", t.sub("m.ko"))], labels: labels)
        write(store.recordPath(key("a")), "{ not json")
        guard case .corrupt = try store.lookupResult(key("a")) else { return XCTFail() }
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.recordPath(key("a"))))
    }

    func testAtomicWritesLeaveNoTempFiles() throws {
        let t = TempDir()
        let store = try CacheStore(root: t.sub("cache"))
        for i in 0..<5 {
            write(t.sub("m\(i).ko"), "module \(i)")
            try store.store(key("\(i)"), files: [("m.ko", t.sub("m\(i).ko"))], labels: labels)
            try store.pin(key("\(i)"), by: "m/\(i)/k/x86_64")
        }
        var d = FileDigester(memoDirectory: store.memoDirectory, clock: futureClock)
        _ = try d.digest(ofFile: t.sub("m0.ko")); try d.save()
        // A failed store (source vanished) must clean up too.
        XCTAssertThrowsError(try store.store(key("x"), files: [("m.ko", t.sub("missing.ko"))], labels: labels))
        let all = FileManager.default.enumerator(atPath: store.root)!.compactMap { $0 as? String }
        XCTAssertEqual(all.filter { ($0 as NSString).lastPathComponent.hasPrefix(".tmp-") }, [])
        XCTAssertTrue(all.contains("memo/stat-memo.v1"))
        XCTAssertEqual(try store.pins().count, 5)
        XCTAssertEqual(all.filter { $0.hasPrefix("locks/") && $0 != "locks/gc.lock" }, [], "key locks are unlinked on release")
    }

    func testSingleFlightAcrossTwoProcessesBuildsOnce() throws {
        let t = TempDir()
        _ = try CacheStore(root: t.sub("cache"))
        let helper = Repo.product("cache-lock-helper")
        let log = t.sub("log")
        let k = key("shared").hex
        let procs = (0..<2).map { _ -> Process in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: helper)
            p.arguments = [t.sub("cache"), k, log, "400"]
            return p
        }
        for p in procs { try p.run() }
        for p in procs { p.waitUntilExit(); XCTAssertEqual(p.terminationStatus, 0) }
        let lines = read(log).split(separator: "\n").map { String($0.split(separator: " ")[0]) }
        XCTAssertEqual(lines.sorted(), ["build", "hit"], read(log))
        XCTAssertEqual(lines.first, "build", "the waiter only runs after the builder published")
        let store = try CacheStore(root: t.sub("cache"))
        XCTAssertNotNil(try store.lookup(Digest(hex: k)!))
        XCTAssertEqual(try store.stats().stores, 1)
    }

    func testLookupOrBuildInProcess() throws {
        let t = TempDir()
        let store = try CacheStore(root: t.sub("cache"))
        let inputs = BuildInputs(moduleSource: .empty, config: [:], kernelTree: .empty, toolchain: [:], makeArgv: ["make"], environment: [:], arch: "x86_64")
        let key = CacheKey(inputs)
        var builds = 0
        write(t.sub("m.ko"), "built")
        for _ in 0..<3 {
            _ = try store.lookupOrBuild(key, labels: labels) { builds += 1; return [("m.ko", t.sub("m.ko"))] }
        }
        XCTAssertEqual(builds, 1)
    }

    /// Sets a record's last-use time (mtime), oldest first.
    func age(_ store: CacheStore, _ k: Digest, secondsAgo: Int) {
        var ts = [timespec(tv_sec: time(nil) - secondsAgo, tv_nsec: 0), timespec(tv_sec: time(nil) - secondsAgo, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, store.recordPath(k), &ts, 0), 0)
    }

    func testLRUPruneRespectsPinsAndSharedBlobs() throws {
        let t = TempDir()
        let store = try CacheStore(root: t.sub("cache"))
        for n in ["a", "b", "c"] {
            write(t.sub("\(n).ko"), String(repeating: n, count: 1000))
            try store.store(key(n), files: [("m.ko", t.sub("\(n).ko"))], labels: labels)
        }
        // d shares a's blob (same bytes): evicting d must not delete a's data.
        try store.store(key("d"), files: [("m.ko", t.sub("a.ko"))], labels: labels)
        age(store, key("a"), secondsAgo: 400)  // oldest, but pinned
        age(store, key("d"), secondsAgo: 350)
        age(store, key("b"), secondsAgo: 300)
        age(store, key("c"), secondsAgo: 200)
        try store.pin(key("a"), by: "hello/1.0/9.8.7-1-fake/x86_64")
        XCTAssertEqual(try store.stats().bytes, 3000)

        // A hit refreshes last use: b becomes the newest.
        XCTAssertNotNil(try store.lookup(key("b")))

        var r = try store.prune(maxBytes: 2000)
        XCTAssertEqual(r.evicted, [key("d"), key("c")], "oldest unpinned first; d frees nothing (shared blob)")
        XCTAssertEqual(r.bytesAfter, 2000)
        XCTAssertEqual(r.pinnedBytes, 1000)
        XCTAssertNotNil(try store.lookup(key("a")))
        XCTAssertNotNil(try store.lookup(key("b")))

        r = try store.prune(maxBytes: 0)
        XCTAssertEqual(r.evicted, [key("b")])
        XCTAssertEqual(r.bytesAfter, 1000, "pinned entry survives even an impossible limit")
        XCTAssertNotNil(try store.lookup(key("a")))

        try store.unpin(by: "hello/1.0/9.8.7-1-fake/x86_64")
        r = try store.prune(maxBytes: 0)
        XCTAssertEqual(r.evicted, [key("a")])
        let s = try store.stats()
        XCTAssertEqual(s.entries, 0); XCTAssertEqual(s.blobs, 0); XCTAssertEqual(s.evictions, 4)
    }

    func testPinReplacesPerReference() throws {
        let t = TempDir()
        let store = try CacheStore(root: t.sub("cache"))
        try store.pin(key("a"), by: "evdi/1.12.0/9.8.7-1-fake/x86_64")
        try store.pin(key("b"), by: "evdi/1.12.0/9.8.7-1-fake/x86_64")
        try store.pin(key("c"), by: "evdi/1.12.0/9.8.7-2-fake-cloud/x86_64")
        XCTAssertEqual(try store.pins().map(\.key), [key("b"), key("c")])
        XCTAssertEqual(try store.pinnedKeys(), [key("b"), key("c")])
    }

    func testVerifyDropsCorruptBlobsAndTheirRecords() throws {
        let t = TempDir()
        let store = try CacheStore(root: t.sub("cache"))
        write(t.sub("a.ko"), "aaa"); write(t.sub("b.ko"), "bbb")
        let a = try store.store(key("a"), files: [("m.ko", t.sub("a.ko"))], labels: labels)
        try store.store(key("b"), files: [("m.ko", t.sub("b.ko"))], labels: labels)
        chmod(a[0].blobPath, 0o644); write(a[0].blobPath, "zzz")
        write(store.root + "/blobs/sha256/.tmp-123-old", "partial")  // crashed writer litter
        var old = [timespec(tv_sec: time(nil) - 7200, tv_nsec: 0), timespec(tv_sec: time(nil) - 7200, tv_nsec: 0)]
        utimensat(AT_FDCWD, store.root + "/blobs/sha256/.tmp-123-old", &old, 0)
        let r = try store.verify()
        XCTAssertEqual(r.blobsChecked, 2)
        XCTAssertEqual(r.corruptBlobs, [a[0].digest])
        XCTAssertEqual(r.recordsRemoved, [key("a")])
        XCTAssertEqual(r.tempFilesRemoved, 1)
        XCTAssertNil(try store.lookup(key("a")))
        XCTAssertNotNil(try store.lookup(key("b")))
    }

    func testClearEmptiesButKeepsPins() throws {
        let t = TempDir()
        let store = try CacheStore(root: t.sub("cache"))
        write(t.sub("a.ko"), "aaa")
        try store.store(key("a"), files: [("m.ko", t.sub("a.ko"))], labels: labels)
        try store.pin(key("a"), by: "r")
        _ = try store.lookup(key("a"))
        try store.clear()
        let s = try store.stats()
        XCTAssertEqual([s.entries, s.blobs, s.pins], [0, 0, 1])
        XCTAssertEqual(s.hits, 0)
        try store.clear(includingPins: true)
        XCTAssertEqual(try store.stats().pins, 0)
    }
}
