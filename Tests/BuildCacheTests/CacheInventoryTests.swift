import Foundation
import Glibc
import XCTest
@testable import BuildCache
import TestSupport

/// inventory() lists without changing anything; remove(records:blobs:) removes what it is
/// given except what, under the lock, a pin or a remaining record still needs.
final class CacheInventoryTests: XCTestCase {
    let labels = ResultLabels(module: "hello", version: "1.0", kernel: "9.8.7-1-fake", arch: "x86_64")
    func key(_ s: String) -> Digest { SHA256.hash(bytes: Array("key:\(s)".utf8)) }

    /// Every path under `root` with its size and mtime: what "changes nothing" compares.
    func snapshot(_ root: String) -> [String] {
        let fm = FileManager.default
        return (fm.subpaths(atPath: root) ?? []).sorted().map { p in
            let st = statOf(root + "/" + p)
            return "\(p) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
        }
    }

    func testInventoryChangesNothingAndRemoveKeepsWhatIsStillNeeded() throws {
        let t = TempDir()
        let store = try CacheStore(root: t.sub("cache"))
        write(t.sub("a.ko"), "aaaa"); write(t.sub("c.ko"), "cccccc")
        let a = try store.store(key("a"), files: [("m.ko", t.sub("a.ko"))], labels: labels,
                                components: [(component: "kernel-tree", digest: "k")])
        try store.store(key("b"), files: [("m.ko", t.sub("a.ko"))], labels: labels)  // shares a's blob
        let c = try store.store(key("c"), files: [("m.ko", t.sub("c.ko"))], labels: labels)
        try store.pin(key("a"), by: "hello/1.0/9.8.7-1-fake/x86_64")
        let orphan = SHA256.hash(bytes: Array("orphan".utf8))
        write(store.blobPath(of: orphan), "orphan")
        write(store.recordPath(key("garbled")), "{not json")

        let before = snapshot(store.root)
        let inv = try store.inventory()
        XCTAssertEqual(snapshot(store.root), before, "listing changes nothing")
        XCTAssertEqual(Set(inv.entries.map(\.key)), [key("a"), key("b"), key("c")], "the garbled record is left out")
        XCTAssertEqual(inv.pinned, [key("a")])
        XCTAssertEqual(inv.unreferencedBlobs, [orphan])
        XCTAssertEqual(inv.blobSizes[orphan], 6)
        let ea = try XCTUnwrap(inv.entries.first { $0.key == key("a") })
        XCTAssertEqual(ea.components, ["kernel-tree": "k"])
        XCTAssertEqual(ea.files, [.init(path: "m.ko", digest: a[0].digest, size: 4, blobPath: a[0].blobPath)])
        XCTAssertEqual(ea.recordBytes, Int64(statOf(store.recordPath(key("a"))).st_size))
        XCTAssertNil(inv.entries.first { $0.key == key("b") }?.components)

        let recordC = Int64(statOf(store.recordPath(key("c"))).st_size)
        let r = try store.remove(records: [key("a"), key("c")], blobs: [a[0].digest, c[0].digest, orphan])
        XCTAssertEqual(r.recordsRemoved, [key("c")])
        XCTAssertEqual(r.blobsRemoved, [c[0].digest, orphan])
        XCTAssertEqual(r.kept, [key("a"), a[0].digest], "pinned record, and the blob a remaining record needs")
        XCTAssertEqual(r.bytesRemoved, recordC + 6 + 6)
        XCTAssertNotNil(try store.lookup(key("a")))
        XCTAssertNotNil(try store.lookup(key("b")))
        XCTAssertNil(try store.lookup(key("c")))
        XCTAssertTrue(FileManager.default.fileExists(atPath: store.recordPath(key("garbled"))), "not asked for, not removed")
        XCTAssertEqual(try store.stats().evictions, 1)

        // Asking again for what is gone removes nothing.
        XCTAssertEqual(try store.remove(records: [key("c")], blobs: [orphan]), RemovalReport())
    }

    func testKernelTreeComponentIsTheOneInTheKey() {
        let d = { (s: String) in SHA256.hash(bytes: Array(s.utf8)) }
        let inputs = BuildInputs(moduleSource: d("src"), config: [:], kernelTree: d("kernel"), toolchain: [:],
                                 makeArgv: ["make"], environment: [:], arch: "x86_64", sandboxProfile: d("profile"))
        let c = CacheKey.kernelTreeComponent(d("kernel"))
        XCTAssertTrue(CacheKey(inputs).explain().contains { $0.component == c.name && $0.digest == c.digest.hex })
        XCTAssertNotEqual(CacheKey.kernelTreeComponent(d("other")).digest, c.digest)
    }
}
