import Foundation
import XCTest
@testable import Sandbox
import TestSupport

/// Caller-supplied host paths under a directory the sandbox's uid cannot traverse (a 0700
/// `mktemp -d`, /root/foo-1.0): the supervisor clones them, so binds and overlay layers work in
/// both modes; where the child itself must walk (upper/work below the cloned directory) the
/// failure names the directory.
final class PrivatePathTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = try T.scratch("private")
        XCTAssertEqual(chmod(dir, 0o700), 0)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func run(_ script: String, mounts: [SandboxSpec.Mount], cwd: String = "/", mode: SandboxMode) throws -> SandboxResult {
        var spec = SandboxSpec(argv: ["/bin/sh", "-c", script], cwd: cwd, mounts: mounts, profile: try T.profile())
        spec.mode = mode
        return try Sandbox.run(spec)
    }

    /// src (root-owned, with a subdirectory), and a 0711 scratch holding upper/ and work/ owned
    /// by the build user, all below the 0700 directory.
    func fixture() throws -> (src: String, upper: String, work: String) {
        let fm = FileManager.default
        let src = dir + "/deep/src", scratch = dir + "/deep/scratch"
        for d in [src + "/sub", scratch + "/upper", scratch + "/work"] { try fm.createDirectory(atPath: d, withIntermediateDirectories: true) }
        XCTAssertEqual(chmod(dir + "/deep", 0o700), 0)
        XCTAssertEqual(chmod(scratch, 0o711), 0)
        try "pristine\n".write(toFile: src + "/a.txt", atomically: true, encoding: .utf8)
        T.chownTree(scratch + "/upper"); T.chownTree(scratch + "/work")
        return (src, scratch + "/upper", scratch + "/work")
    }

    func testReadOnlyBindOverlayLowerAndUpperUnderA0700Directory() throws {
        for mode in [SandboxMode.userNamespace, .rootNamespaces] {
            let f = try fixture()
            let r = try run("cat /src/a.txt; cat /build/a.txt; echo o > /build/sub/c.o && echo new > /build/b.txt && echo wrote; touch /src/x 2>/dev/null || echo ro",
                            mounts: [.readOnlyBind(source: f.src, target: "/src"),
                                     .overlay(lower: [f.src], upper: f.upper, work: f.work, target: "/build")],
                            cwd: "/build", mode: mode)
            XCTAssertEqual(r.outcome, .exited(0), "\(mode): \(r.outputTail)")
            XCTAssertEqual(r.outputTail, "pristine\npristine\nwrote\nro\n", "\(mode)")
            XCTAssertEqual(r.mode, mode)
            var st = stat()
            XCTAssertEqual(stat(f.upper + "/sub/c.o", &st), 0, "\(mode)")
            XCTAssertEqual(st.st_uid, 2_000_000_000, "\(mode)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: f.src + "/sub/c.o"))
            try FileManager.default.removeItem(atPath: dir + "/deep")
        }
    }

    func testReadWriteBindUnderA0700Directory() throws {
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        T.chownTree(out)
        for mode in [SandboxMode.userNamespace, .rootNamespaces] {
            let r = try run("echo \(mode) > /out/\(mode)", mounts: [.readWriteBind(source: out, target: "/out")], mode: mode)
            XCTAssertEqual(r.outcome, .exited(0), "\(mode): \(r.outputTail)")
            XCTAssertEqual(try String(contentsOfFile: "\(out)/\(mode)", encoding: .utf8), "\(mode)\n")
        }
    }

    func testUnreachableUpperNamesTheDirectory() throws {
        // upper/work directly in the 0700 directory: the child must walk from it.
        let upper = dir + "/upper", work = dir + "/work", src = try T.scratch("lower")
        defer { try? FileManager.default.removeItem(atPath: src) }
        for d in [upper, work] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true); T.chownTree(d) }
        XCTAssertThrowsError(try run("true", mounts: [.overlay(lower: [src], upper: upper, work: work, target: "/build")],
                                     mode: .userNamespace)) { error in
            XCTAssertEqual("\(error)", "sandbox: cannot use \(upper): \(dir) is not searchable by the sandbox's uid 2000000000 (mode 700, owner 0)")
        }
        // Real root builds the mounts in the root-namespaces mode: nothing to walk as the build user.
        let r = try run("echo ok > /build/f && cat /build/f", mounts: [.overlay(lower: [src], upper: upper, work: work, target: "/build")],
                        mode: .rootNamespaces)
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(r.outputTail, "ok\n")
    }

    /// The parent makes the lower's directories in the upper layer as root: a symlink the build
    /// planted there (an earlier step of the same build) must not lead it outside.
    func testOwnedDirectoriesDoNotFollowPlantedSymlinks() throws {
        let fm = FileManager.default
        let src = dir + "/src", upper = dir + "/s/upper", work = dir + "/s/work", target = dir + "/target"
        for d in [src + "/sub/deeper", upper, work, target] { try fm.createDirectory(atPath: d, withIntermediateDirectories: true) }
        XCTAssertEqual(chmod(dir + "/s", 0o711), 0)
        T.chownTree(upper); T.chownTree(work)
        try fm.createSymbolicLink(atPath: upper + "/sub", withDestinationPath: target)
        let r = try run("true", mounts: [.overlay(lower: [src], upper: upper, work: work, target: "/build")], mode: .rootNamespaces)
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: target), [], "nothing made through the planted link")
        var st = stat()
        XCTAssertEqual(stat(target, &st), 0)
        XCTAssertEqual(st.st_uid, 0, "the link's target was not given away")
    }
}
