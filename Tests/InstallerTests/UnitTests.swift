import Foundation
import XCTest
@testable import Installer
#if canImport(Glibc)
import Glibc
import SafeFS
import TestSupport
#endif

final class JournalTests: XCTestCase {
    typealias T = InstallerFixture

    func testRecordRoundTripWithAwkwardPaths() throws {
        let r = StepRecord(index: 3, step: .installFile(source: "/a b/%x\n.ko", destination: "/d/ü ñ/x.ko", mode: 0o644),
                           priorPresent: true, priorLink: "1.0/k/a", createdDirectories: ["/d/ü ñ", "/d/ü ñ/x y"],
                           transactionID: "123-456-abc")
        for rec in [JournalRecord.begin(id: "i d", description: "install m/1 for k"), .intent(r), .done(index: 7), .commit] {
            let line = rec.encodeLine()
            XCTAssertEqual(line.filter { $0 == "\n" }.count, 1)
            XCTAssertEqual(try JournalRecord.decodeLine(Substring(line.dropLast()), journal: "j"), rec)
        }
        for step: Step in [.backupOriginal(path: "/p", backupPath: "/b"), .restoreOriginal(backupPath: "/b", path: "/p"),
                           .removeFile(path: "/f"), .removeDirectory(path: "/d"), .removeEmptyDirectory(path: "/e"),
                           .setLink(path: "/l", target: "t"), .removeLink(path: "/l")] {
            let rec = JournalRecord.intent(StepRecord(index: 0, step: step, transactionID: "x"))
            XCTAssertEqual(try JournalRecord.decodeLine(Substring(rec.encodeLine().dropLast()), journal: "j"), rec)
        }
    }

    func testTornLastLineIsIgnoredButMidFileCorruptionIsAnError() throws {
        let dir = T.makeTempDir("journal")
        defer { T.removeTree(dir) }
        let good = JournalRecord.begin(id: "x", description: "d").encodeLine() + JournalRecord.done(index: 0).encodeLine()
        T.write(dir + "/a.journal", good + String(JournalRecord.commit.encodeLine().dropLast(3)))
        XCTAssertEqual(try Journal.read(path: dir + "/a.journal"), [.begin(id: "x", description: "d"), .done(index: 0)])
        T.write(dir + "/b.journal", "deadbeef garbage\n" + good)
        XCTAssertThrowsError(try Journal.read(path: dir + "/b.journal")) { e in
            XCTAssertTrue("\(e)".contains(dir + "/b.journal"), "\(e)")
        }
    }
}

final class TransactionTests: XCTestCase {
    typealias T = InstallerFixture

    func testFaultPointCountingAndLabels() throws {
        let dir = T.makeTempDir("tx")
        defer { T.removeTree(dir) }
        T.write(dir + "/src.ko", "module")
        let lock = try TreeLock.acquire(dkmsTree: dir + "/dkms", command: "test")
        var f = FaultInjector(recordLabels: true)
        let plan = TransactionPlan(description: "t", steps: [
            .installFile(source: dir + "/src.ko", destination: dir + "/out/a/m.ko", mode: 0o600),
            .setLink(path: dir + "/dkms/m/kernel-k-a", target: "1.0/k/a"),
        ])
        let outcome = try Transaction(dkmsTree: dir + "/dkms", lock: lock).run(plan, faults: &f)
        XCTAssertEqual(outcome.stepsApplied, 2)
        XCTAssertEqual(outcome.faultPoints, f.labels.count)
        XCTAssertGreaterThan(f.count, 10)
        XCTAssertEqual(T.bytes(dir + "/out/a/m.ko"), Array("module".utf8))
        XCTAssertEqual(FS.mode(dir + "/out/a/m.ko"), 0o600)
        XCTAssertEqual(FS.readLink(dir + "/dkms/m/kernel-k-a"), "1.0/k/a")
        XCTAssertEqual(Journal.pending(dkmsTree: dir + "/dkms"), [])
    }

    func testFailedStepRollsBackEarlierSteps() throws {
        let dir = T.makeTempDir("tx")
        defer { T.removeTree(dir) }
        T.write(dir + "/src.ko", "new")
        T.write(dir + "/out/m.ko", "old")
        let before = T.snapshot(dir)
        let lock = try TreeLock.acquire(dkmsTree: dir + "/dkms", command: "test")
        var f = FaultInjector.disabled
        let plan = TransactionPlan(description: "t", steps: [
            .installFile(source: dir + "/src.ko", destination: dir + "/out/m.ko", mode: 0o644),
            .installFile(source: dir + "/missing.ko", destination: dir + "/out/n.ko", mode: 0o644),
        ])
        XCTAssertThrowsError(try Transaction(dkmsTree: dir + "/dkms", lock: lock).run(plan, faults: &f)) { e in
            XCTAssertTrue("\(e)".contains(dir + "/missing.ko"), "\(e)")
        }
        XCTAssertEqual(T.bytes(dir + "/out/m.ko"), Array("old".utf8))
        XCTAssertEqual(T.snapshot(dir).filter { !$0.key.hasPrefix("dkms") }, before)
        XCTAssertEqual(T.leftovers(dir), [])
    }

    func testRefusesToOverwriteExistingBackupAndNonSymlinkMarker() throws {
        let dir = T.makeTempDir("tx")
        defer { T.removeTree(dir) }
        T.write(dir + "/orig.ko", "o")
        T.write(dir + "/backup/orig.ko", "older backup")
        T.write(dir + "/marker", "not a link")
        let lock = try TreeLock.acquire(dkmsTree: dir + "/dkms", command: "test")
        var f = FaultInjector.disabled
        let tx = Transaction(dkmsTree: dir + "/dkms", lock: lock)
        XCTAssertThrowsError(try tx.run(TransactionPlan(description: "b", steps: [.backupOriginal(path: dir + "/orig.ko", backupPath: dir + "/backup/orig.ko")]), faults: &f)) {
            XCTAssertTrue("\($0)".contains("already exists"), "\($0)")
        }
        XCTAssertThrowsError(try Transaction(dkmsTree: dir + "/dkms", lock: lock).run(TransactionPlan(description: "l", steps: [.setLink(path: dir + "/marker", target: "1")]), faults: &f)) {
            XCTAssertTrue("\($0)".contains("not a symlink"), "\($0)")
        }
        XCTAssertEqual(T.bytes(dir + "/backup/orig.ko"), Array("older backup".utf8))
    }
}

final class TreeLockTests: XCTestCase {
    typealias T = InstallerFixture

    func testWaiterNamesHolderAndTryAcquireFailsWhileHeld() throws {
        let dir = T.makeTempDir("lock")
        defer { T.removeTree(dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: T.helperPath)
        p.arguments = ["hold-lock", "--dkms-tree", dir, "--seconds", "1.5", "--command", "dkms install foo/1.0"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        // Wait until the child reports it holds the lock.
        var seen = ""
        while !seen.contains("locked") {
            let d = out.fileHandleForReading.availableData
            if d.isEmpty { break }
            seen += String(decoding: d, as: UTF8.self)
        }
        XCTAssertTrue(seen.contains("locked"))
        XCTAssertNil(try TreeLock.tryAcquire(dkmsTree: dir, command: "try"))
        XCTAssertEqual(TreeLock.currentHolder(dkmsTree: dir), "pid \(p.processIdentifier) (dkms install foo/1.0)")
        var notices: [String] = []
        let start = Date()
        let lock = try TreeLock.acquire(dkmsTree: dir, command: "dkms remove bar/2.0") { notices.append($0) }
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.5)
        XCTAssertEqual(notices.count, 1)
        print("[lock] \(notices.first ?? "")")
        XCTAssertTrue(notices[0].contains("waiting for lock") && notices[0].contains("held by pid \(p.processIdentifier) (dkms install foo/1.0)"), notices[0])
        XCTAssertEqual(TreeLock.currentHolder(dkmsTree: dir), "pid \(getpid()) (dkms remove bar/2.0)")
        lock.release()
        XCTAssertEqual(TreeLock.currentHolder(dkmsTree: dir), "")
        let again = try TreeLock.tryAcquire(dkmsTree: dir, command: "try")
        XCTAssertNotNil(again)
        p.waitUntilExit()
    }

    func testLockIsReleasedWhenHolderIsKilled() throws {
        let dir = T.makeTempDir("lock")
        defer { T.removeTree(dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: T.helperPath)
        p.arguments = ["hold-lock", "--dkms-tree", dir, "--seconds", "30"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        _ = out.fileHandleForReading.availableData
        XCTAssertNil(try TreeLock.tryAcquire(dkmsTree: dir, command: "try"))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertNotNil(try TreeLock.tryAcquire(dkmsTree: dir, command: "try"))
    }
}
