import Foundation
import XCTest
@testable import Sandbox
import TestSupport

/// /usr/src holds every module's source and every kernel's headers on every distribution. The
/// sandbox shows only this build's headers there (the objtree and the srctree it includes) and
/// what the caller binds, read-only: other modules' sources, other kernels and whatever else a
/// package put there (a -dev package's tree, say) stay out of sight.
final class UsrSrcMaskTests: XCTestCase {
    func testOnlyTheBuildsHeadersAreInUsrSrc() throws {
        let trees = HeaderTrees.trees(of: T.headers)
        XCTAssertTrue(trees.allSatisfy { FileManager.default.fileExists(atPath: $0 + "/Makefile") }, "\(trees)")
        let r = try T.sh("ls -A /usr/src; for d in \(trees.joined(separator: " ")); do test -r $d/Makefile && echo READABLE $d; done")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        let seen = Set(r.outputTail.split(separator: "\n").filter { !$0.hasPrefix("READABLE ") }.map { "/usr/src/\($0)" })
        let expected = Set(trees.filter { $0.hasPrefix("/usr/src/") }.map { "/usr/src/" + $0.dropFirst(9).split(separator: "/")[0] })
        XCTAssertEqual(seen, expected, "nothing else of /usr/src is visible")
        for t in trees { XCTAssertTrue(r.outputTail.contains("READABLE \(t)\n"), r.outputTail) }
        // The host has more there than this build's headers (other kernels, kbuild links).
        let host = Set(((try? FileManager.default.contentsOfDirectory(atPath: "/usr/src")) ?? []).map { "/usr/src/" + $0 })
        XCTAssertTrue(host.isSuperset(of: seen))
    }

    func testTheMaskIsReadOnly() throws {
        let r = try T.sh("mkdir /usr/src/x 2>&1; touch /usr/src/y 2>&1; exit 0")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(r.outputTail.components(separatedBy: "Read-only file system").count - 1, 2, r.outputTail)
    }

    func testACallersBindUnderUsrSrcNeedsNoHostMountPoint() throws {
        let dir = try T.scratch("usrsrc")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "hello\n".write(toFile: dir + "/f", atomically: true, encoding: .utf8)
        let target = "/usr/src/csb-not-on-the-host-\(getpid())-1.0"
        XCTAssertFalse(FileManager.default.fileExists(atPath: target))
        let r = try T.sh("cat \(target)/f", mounts: [.readOnlyBind(source: dir, target: target)])
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(r.outputTail, "hello\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: target), "nothing was made on the host")
    }

    func testDebianSplitHeadersAreFoundFromTheObjtree() throws {
        // Wherever the objtree's Makefile includes another tree's, that tree is one of the trees.
        let objtree = URL(fileURLWithPath: T.headers).resolvingSymlinksInPath().path
        for inc in HeaderTrees.makefileIncludes(objtree + "/Makefile") {
            let dir = URL(fileURLWithPath: inc.hasPrefix("/") ? inc : objtree + "/" + inc).deletingLastPathComponent()
                .resolvingSymlinksInPath().path
            XCTAssertTrue(HeaderTrees.trees(of: T.headers).contains(dir), dir)
        }
    }

    func testAnInstallTreesBuildAndSourceLinksAreShown() throws {
        // An install tree outside /lib/modules (a scratch tree, a chroot's) links <k>/build and
        // <k>/source to the host's: inside, both resolve to the trees bound read-only.
        let dir = try T.scratch("links")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let objtree = URL(fileURLWithPath: T.headers).resolvingSymlinksInPath().path
        let srctree = HeaderTrees.trees(of: T.headers).last!
        try FileManager.default.createSymbolicLink(atPath: dir + "/build", withDestinationPath: objtree)
        try FileManager.default.createSymbolicLink(atPath: dir + "/source", withDestinationPath: srctree)
        let links = HeaderTrees.links(showing: [dir + "/build"])
        XCTAssertEqual(links, [.symlink(target: dir + "/build", destination: objtree)]
                       + (srctree == objtree ? [] : [.symlink(target: dir + "/source", destination: srctree)]))
        // A name that is not <k>/build brings no sibling; paths under /usr and /lib need none.
        XCTAssertEqual(HeaderTrees.links(showing: [dir + "/source"]).count, srctree == objtree ? 0 : 1)
        XCTAssertEqual(HeaderTrees.links(showing: ["/lib/modules/x/build", "/usr/src/y"]), [])
        let r = try T.run(["/bin/sh", "-c", "test -f \(dir)/build/Makefile && test -f \(dir)/source/Makefile && echo BOTH"],
                          mounts: links, headers: [dir + "/build"])
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(r.outputTail, "BOTH\n")
    }
}
