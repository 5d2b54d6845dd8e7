import Foundation
import XCTest
@testable import Sandbox
import TestSupport

/// The sandbox where the kernel refuses user namespaces: for real inside a chroot (an rbind of /
/// in a private mount namespace, then chroot: `unshare -U` fails there with EPERM exactly as in
/// arch-chroot or the Debian installer), and where no namespace can be made at all (a seccomp
/// filter like Docker's default refusing clone/unshare with namespace flags).
///
/// Both re-run parts of this test bundle in a child process placed there: the xctest binary
/// itself, with a test filter and a marker variable.
final class ChrootModeTests: XCTestCase {
    static var testBinary: String { URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path }

    /// The top-level directories holding the checkout and this binary (wherever CI cloned it:
    /// /work, /check, /home...), bound into a plain-directory chroot beside the system's own.
    static var checkoutTops: String {
        let fixed: Set<String> = ["usr", "etc", "dev", "sys", "proc", "tmp", "opt"]
        let tops = [T.packageRoot.path, testBinary].compactMap { $0.split(separator: "/").first.map(String.init) }
        return Array(Set(tops).subtracting(fixed)).sorted().joined(separator: " ")
    }

    struct Output { var status: Int32; var text: String }

    func runProcess(_ argv: [String], env: [String: String] = [:]) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        var e = ProcessInfo.processInfo.environment
        for (k, v) in env { e[k] = v }
        p.environment = e
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, text: String(decoding: data, as: UTF8.self))
    }

    /// `argv` run chrooted into an rbind of / (in its own private mount namespace, so the bind
    /// vanishes with it).
    func inChroot(_ argv: [String], env: [String: String] = [:]) throws -> Output {
        let root = try T.scratch("chroot")
        defer { rmdir(root) }
        let script = #"mount --rbind / "$1" && shift && exec chroot "$@""#
        return try runProcess(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script, "sh", root, root] + argv,
                              env: env)
    }

    func testUserNamespacesAreRefusedInTheChroot() throws {
        let r = try inChroot(["/usr/bin/unshare", "-U", "true"])
        XCTAssertNotEqual(r.status, 0, r.text)
        XCTAssertTrue(r.text.contains("Operation not permitted"), r.text)
    }

    /// RootModeTests for real: inside the chroot, with the mode left automatic.
    func testRootModeSuitePassesInsideARealChroot() throws {
        let r = try inChroot([ChrootModeTests.testBinary, "SandboxTests.RootModeTests"], env: ["CSB_TEST_IN_CHROOT": "1"])
        print(r.text.split(separator: "\n").filter { $0.contains("error:") || $0.contains("Executed") }.joined(separator: "\n"))
        XCTAssertEqual(r.status, 0, r.text.suffix(4000).description)
        XCTAssertTrue(r.text.contains("Executed 12 tests, with 0 failures"), r.text.suffix(4000).description)
    }

    /// The same inside a chroot into a plain directory (debootstrap's tree: the chroot's root is
    /// no mount point), with the system bound into it.
    func testRootModeSuitePassesInsideAPlainDirectoryChroot() throws {
        let root = try T.scratch("plain")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let script = #"""
            P=$1; shift
            mountpoint -q "$P" && { echo "$P is a mount point"; exit 3; }
            for d in usr etc dev sys proc tmp opt root $TOPS; do mkdir -p "$P/$d"; done
            for l in bin:usr/bin lib:usr/lib lib64:usr/lib64 sbin:usr/sbin; do ln -s "${l#*:}" "$P/${l%%:*}"; done
            for d in usr etc dev sys proc tmp opt $TOPS; do mount --rbind "/$d" "$P/$d" || exit 4; done
            exec chroot "$P" "$@"
            """#
        let r = try runProcess(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script, "sh", root,
                                ChrootModeTests.testBinary, "SandboxTests.RootModeTests"],
                               env: ["CSB_TEST_IN_CHROOT": "1", "TOPS": ChrootModeTests.checkoutTops])
        print(r.text.split(separator: "\n").filter { $0.contains("error:") || $0.contains("Executed") }.joined(separator: "\n"))
        XCTAssertEqual(r.status, 0, r.text.suffix(4000).description)
        XCTAssertTrue(r.text.contains("Executed 12 tests, with 0 failures"), r.text.suffix(4000).description)
        let mountinfo = read("/proc/self/mountinfo")
        XCTAssertFalse(mountinfo.contains(root), "nothing of the chroot's mounts reached this namespace")
    }

    /// Runs only in the child of testNoNamespacesFailsWithOneLine (under the filter).
    func testChildReportsMissingNamespaces() throws {
        guard ProcessInfo.processInfo.environment["CSB_TEST_NO_NAMESPACES"] == "1" else { throw XCTSkip("runs under the filter only") }
        let spec = SandboxSpec(argv: ["/bin/true"], profile: try T.profile())
        XCTAssertThrowsError(try Sandbox.run(spec)) { error in
            XCTAssertEqual(error as? SandboxError, .namespacesUnavailable("clone: Operation not permitted"))
            let text = "\(error)"
            XCTAssertEqual(text, "sandbox: cannot create namespaces (clone: Operation not permitted)")
            XCTAssertFalse(text.contains("\n"))
        }
    }

    func testNoNamespacesFailsWithOneLine() throws {
        let dir = try T.scratch("nons")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let wrapper = try T.compileC(ChrootModeTests.noNamespaces, name: "no-namespaces", in: dir)
        // The filter itself works: nothing can unshare under it.
        let u = try runProcess([wrapper, "/usr/bin/unshare", "-m", "true"])
        XCTAssertTrue(u.text.contains("Operation not permitted"), u.text)
        let r = try runProcess([wrapper, ChrootModeTests.testBinary, "SandboxTests.ChrootModeTests/testChildReportsMissingNamespaces"],
                               env: ["CSB_TEST_NO_NAMESPACES": "1"])
        XCTAssertEqual(r.status, 0, r.text)
        XCTAssertTrue(r.text.contains("Executed 1 test, with 0 failures"), r.text)
        XCTAssertFalse(r.text.contains("skipped"), r.text)
    }

    /// Tests/Fixtures/no-namespaces.c, shared with IntegrationTests/NoNamespaceTests.
    static var noNamespaces: String {
        (try? String(contentsOfFile: T.packageRoot.appendingPathComponent("Tests/Fixtures/no-namespaces.c").path, encoding: .utf8)) ?? ""
    }
}
