import XCTest
import Foundation
import TestSupport

/// Where no namespace can be made at all (a container under Docker's default seccomp policy):
/// dkms must fail with one line naming what is missing and the choice, never run module code
/// unconfined by itself.
final class NoNamespaceTests: XCTestCase {
    func testOneLineErrorWithTheChoice() throws {
        let sb = TestTrees(kernels: Array(Kernels.all.prefix(1)), sharedCache: false)
        defer { sb.cleanup() }
        let dir = sb.base + "/wrapper"
        _ = sh(["mkdir", "-p", dir])
        try NoNamespaceTests.noNamespaces.write(toFile: dir + "/w.c", atomically: true, encoding: .utf8)
        XCTAssertEqual(sh(["gcc", "-O1", "-o", dir + "/w", dir + "/w.c"]).status, 0)
        let r = sh([dir + "/w", Repo.dkms, "add", Repo.root + "/examples/dkms-hello-1.0"] + sb.treeArgs,
                   env: ["DKMS_CONFIG_DIR": sb.configDir])
        XCTAssertNotEqual(r.status, 0, r.all)
        // dkms's blank line before an error, then one line.
        XCTAssertEqual(r.stderr.trimmingCharacters(in: .newlines), "Error! Could not evaluate \(Repo.root)/examples/dkms-hello-1.0/dkms.conf: sandbox: cannot create namespaces "
                       + "(clone: Operation not permitted); set sandbox=no in \(sb.configDir)/framework.conf or pass --no-sandbox to build unconfined")
        // The opt-out works (and says what it does).
        XCTAssertEqual(sh([dir + "/w", Repo.dkms, "add", Repo.root + "/examples/dkms-hello-1.0", "--no-sandbox"] + sb.treeArgs,
                          env: ["DKMS_CONFIG_DIR": sb.configDir]).status, 0)
        let ok = sh([dir + "/w", Repo.dkms, "build", "dkms-hello/1.0", "-k", Kernels.all.first ?? "none", "--no-sandbox"] + sb.treeArgs,
                    env: ["DKMS_CONFIG_DIR": sb.configDir])
        XCTAssertEqual(ok.status, 0, ok.all)
        XCTAssertTrue(ok.all.contains("the sandbox is turned off (--no-sandbox)"), ok.all)
    }

    /// Tests/Fixtures/no-namespaces.c: the Docker-like filter SandboxTests/ChrootModeTests uses too.
    static var noNamespaces: String {
        (try? String(contentsOfFile: Repo.root + "/Tests/Fixtures/no-namespaces.c", encoding: .utf8)) ?? ""
    }
}
