import XCTest
import Foundation
import TestSupport

/// dkms 3.4.3 behaviour that upstream's own suite checks, through the real binary on
/// scratch trees: read_conf_strict's findings, the version sanity check, .dep_<module>
/// files with BUILD_DEPENDS_REBUILD, a replaced module put back where it was, `match`
/// and `generate_mok`.
final class UpstreamBehaviourTests: XCTestCase {
    var sb: TestTrees!
    var k: String { Kernels.all[0] }
    var suffix: String { ".ko" + Kernels.moduleSuffix(k) }
    override func setUp() { sb = TestTrees() }
    override func tearDown() { sb.cleanup() }

    /// A module source <name>-<version> in the source tree, its C file carrying MODULE_VERSION.
    func source(_ name: String, _ version: String, conf extra: String = "", moduleVersion: String? = nil,
                file: String? = nil) -> String {
        let dir = "\(sb.sourceTree)/\(name)-\(version)"
        let file = file ?? name
        writeModule(at: dir, name: file, conf: "PACKAGE_NAME=\(name)\nPACKAGE_VERSION=\(version)\nBUILT_MODULE_NAME[0]=\(file)\n"
                    + "DEST_MODULE_LOCATION[0]=/updates/dkms\n" + extra)
        if let mv = moduleVersion {
            let c = "\(dir)/\(file).c"
            let text = (try? String(contentsOfFile: c, encoding: .utf8)) ?? ""
            try! (text + "\nMODULE_VERSION(\"\(mv)\");\n").write(toFile: c, atomically: true, encoding: .utf8)
        }
        return dir
    }

    func testStrictReadFindings() throws {
        let zero = "\(sb.base)/zero"
        try FileManager.default.createDirectory(atPath: zero, withIntermediateDirectories: true)
        try "PACKAGE_NAME=zero\nPACKAGE_VERSION=1\n".write(toFile: zero + "/dkms.conf", atomically: true, encoding: .utf8)
        let added = sb.dkms("add", zero)
        XCTAssertEqual(added.status, 0, added.all)
        XCTAssertTrue(added.stderr.contains("dkms.conf: Warning! Zero modules specified."), added.all)
        // dkms 3.4 reads it strictly three times in an install: its add, its build, its install.
        XCTAssertEqual(sb.dkms("remove", "zero/1", "--all").status, 0)
        try "all:\n\ttrue\n".write(toFile: "\(sb.sourceTree)/zero-1/Makefile", atomically: true, encoding: .utf8)
        let installed = sb.dkms("install", "zero/1", "-k", k)
        XCTAssertEqual(installed.status, 0, installed.all)
        XCTAssertEqual(installed.stderr.components(separatedBy: "dkms.conf: Warning! Zero modules specified.\n").count - 1, 3,
                       installed.all)
        XCTAssertEqual(sb.dkms("status", "zero/1").stdout, "zero/1, \(k), x86_64: installed\n")

        let dup = "\(sb.base)/dup"
        writeModule(at: dup, name: "dup", conf: "PACKAGE_NAME=dup\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME=(dup dup)\n"
                    + "DEST_MODULE_NAME=(one two)\nDEST_MODULE_LOCATION=(/extra /extra)\n")
        let r = sb.dkms("add", dup)
        XCTAssertEqual(r.status, 8, r.all)
        XCTAssertTrue(r.stderr.contains("dkms.conf: Error! Duplicate module 'dup' in 'BUILT_MODULE_NAME[1]'.\n\nError! Bad conf file.\n"
                                        + "File: \(sb.sourceTree)/dup-1/dkms.conf does not represent a valid dkms.conf file."), r.all)
        XCTAssertFalse(sb.dkms("status").stdout.contains("dup/1"))

        let bad = "\(sb.base)/bad"
        writeModule(at: bad, name: "bad", conf: "PACKAGE_NAME=bad\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[1]=bad\n"
                    + "DEST_MODULE_LOCATION[1]=/extra\nAUTOINSTALL=maybe\n")
        let b = sb.dkms("add", bad)
        XCTAssertEqual(b.status, 8, b.all)
        XCTAssertTrue(b.stderr.hasPrefix("dkms.conf: Error! No 'BUILT_MODULE_NAME' directive specified for record #0.\n"
                                         + "dkms.conf: Error! No 'DEST_MODULE_LOCATION' directive specified for record #0.\n"
                                         + "dkms.conf: Error! Unsupported AUTOINSTALL value 'maybe'\n"), b.all)
    }

    func testVersionSanityCheck() throws {
        _ = source("multi", "1.0", moduleVersion: "1.0")
        _ = source("multi", "2.0", moduleVersion: "2.0")
        for v in ["1.0", "2.0"] { XCTAssertEqual(sb.dkms("add", "multi/\(v)").status, 0) }
        let two = sb.dkms("install", "multi/2.0", "-k", k)
        XCTAssertEqual(two.status, 0, two.all)
        let one = sb.dkms("install", "multi/1.0", "-k", k)
        XCTAssertEqual(one.status, 6, one.all)
        XCTAssertTrue(one.stderr.contains("Error! Module version 1.0 for multi\(suffix)\n"
                                          + "is not newer than what is already found in kernel \(k) (2.0).\n"
                                          + "You may override by specifying --force.\n\nError! Installation aborted."), one.all)
        let status = sb.dkms("status", "multi").stdout
        XCTAssertTrue(status.contains("multi/1.0, \(k), x86_64: built"), status)
        XCTAssertTrue(status.contains("multi/2.0, \(k), x86_64: installed"), status)
        let forced = sb.dkms("install", "multi/1.0", "-k", k, "--force")
        XCTAssertEqual(forced.status, 0, forced.all)
        XCTAssertTrue(sb.dkms("status", "multi/1.0").stdout.contains("installed"))
    }

    func testDependencyVersionFilesAndRebuild() throws {
        _ = source("base", "1.0")
        _ = source("user", "1.0", conf: "BUILD_DEPENDS=base\nBUILD_DEPENDS_REBUILD=yes\n")
        XCTAssertEqual(sb.dkms("add", "base/1.0").status, 0)
        XCTAssertEqual(sb.dkms("install", "base/1.0", "-k", k).status, 0)
        XCTAssertEqual(sb.dkms("add", "user/1.0").status, 0)
        let u = sb.dkms("install", "user/1.0", "-k", k)
        XCTAssertEqual(u.status, 0, u.all)
        let depFile = "\(sb.dkmsTree)/user/kernel-\(k)-x86_64/.dep_base"
        XCTAssertEqual(try String(contentsOfFile: depFile, encoding: .utf8), "1.0\n")

        XCTAssertEqual(sb.dkms("remove", "base/1.0", "--all").status, 0)
        _ = source("base", "2.0")
        XCTAssertEqual(sb.dkms("add", "base/2.0").status, 0)
        let up = sb.dkms("install", "base/2.0", "-k", k)
        XCTAssertEqual(up.status, 0, up.all)
        XCTAssertTrue(up.stdout.contains("\nRebuilding module user/1.0 due to updated dependencies\n\n"
                                         + "Module user/1.0 for kernel \(k) (x86_64):\n"), up.stdout)
        XCTAssertEqual(try String(contentsOfFile: depFile, encoding: .utf8), "2.0\n")
        XCTAssertTrue(sb.dkms("status", "user/1.0").stdout.contains("installed"))
        // Nothing changed: no rebuild.
        XCTAssertEqual(sb.dkms("uninstall", "base/2.0", "-k", k).status, 0)
        let again = sb.dkms("install", "base/2.0", "-k", k)
        XCTAssertFalse(again.stdout.contains("Rebuilding"), again.stdout)
    }

    /// A module replacing a file in the same place that no dkms module installed (a vendor's
    /// copy in updates/dkms): it is archived, and uninstalling puts it back where it was.
    /// (Another installed dkms module's file is never taken: SupervisorHardeningTests
    /// .testNoModuleClaimsAnotherModulesFile; the deliberate difference from upstream's
    /// `replace` section, README.)
    func testReplacedModuleIsRestored() throws {
        _ = source("repl", "2.0", moduleVersion: "2.0", file: "orig")
        XCTAssertEqual(sb.dkms("add", "repl/2.0").status, 0)
        let path = "\(sb.installTree)/\(k)/updates/dkms/orig\(suffix)"
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "a vendor's module\n".write(toFile: path, atomically: true, encoding: .utf8)
        let r = sb.dkms("install", "repl/2.0", "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("Found pre-existing \(path), archiving for uninstallation"), r.stdout)
        XCTAssertNotEqual(FileManager.default.contents(atPath: path), Data("a vendor's module\n".utf8), "the module is installed over it")
        let u = sb.dkms("uninstall", "repl/2.0", "-k", k)
        XCTAssertEqual(u.status, 0, u.all)
        XCTAssertTrue(u.stdout.contains("Deleting \(path)\nRestoring archived original module \(path)\n"), u.all)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "a vendor's module\n")
    }

    func testMatchAndGenerateMOK() throws {
        let same = sb.dkms("match", "--templatekernel=\(k)", "-k", k)
        XCTAssertEqual(same.status, 2, same.all)
        XCTAssertTrue(same.stderr.contains("Error! The templatekernel and the specified kernel version are the same."), same.all)
        let nothing = sb.dkms("match", "--templatekernel=no-such-kernel", "-k", k)
        XCTAssertEqual(nothing.status, 0, nothing.all)
        XCTAssertEqual(nothing.stdout, "\nMatching modules in kernel: \(k) (x86_64)\nto the configuration of kernel: no-such-kernel (x86_64)\n\n"
                       + "There is nothing to be done for this match.\n")

        let mok = sb.dkms("generate_mok")
        XCTAssertEqual(mok.status, 0, mok.all)
        XCTAssertEqual(mok.stdout, "Signing key: \(sb.dkmsTree)/mok.key\nPublic certificate (MOK): \(sb.dkmsTree)/mok.pub\n"
                       + "Certificate or key are missing, generating self signed certificate for MOK...\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: sb.dkmsTree + "/mok.key"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: sb.dkmsTree + "/mok.pub"))
        XCTAssertEqual(sb.dkms("generate_mok").stdout, "Signing key: \(sb.dkmsTree)/mok.key\nPublic certificate (MOK): \(sb.dkmsTree)/mok.pub\n")
    }

    func testTarballRoundTrip() throws {
        _ = source("tb", "1.0")
        XCTAssertEqual(sb.dkms("add", "tb/1.0").status, 0)
        XCTAssertEqual(sb.dkms("build", "tb/1.0", "-k", k).status, 0)
        let made = sb.dkms("mktarball", "tb/1.0", "-k", k)
        XCTAssertEqual(made.status, 0, made.all)
        let tarball = "\(sb.dkmsTree)/tb/1.0/tarball//tb-1.0-kernel\(k)-x86_64.dkms.tar.gz"
        XCTAssertEqual(made.stdout, "Marking modules for \(k) (x86_64) for archiving...\n\nMarking \(sb.dkmsTree)/tb/1.0/source for archiving...\n\n"
                       + "Tarball location: \(tarball)\n")
        let kept = sb.base + "/tb.dkms.tar.gz"
        XCTAssertEqual(sh(["cp", tarball, kept]).status, 0)
        let listing = sh(["tar", "-tzf", kept]).stdout
        XCTAssertTrue(listing.contains("./dkms_source_tree/dkms.conf"), listing)
        XCTAssertTrue(listing.contains("./dkms_main_tree/\(k)/x86_64/module/tb\(suffix)"), listing)

        XCTAssertEqual(sb.dkms("remove", "tb/1.0", "--all").status, 0)
        XCTAssertEqual(sh(["rm", "-rf", sb.sourceTree + "/tb-1.0"]).status, 0)
        let loaded = sb.dkms("ldtarball", kept)
        XCTAssertEqual(loaded.status, 0, loaded.all)
        XCTAssertTrue(loaded.stdout.contains("Loading tarball for tb/1.0\n"), loaded.stdout)
        XCTAssertTrue(loaded.stdout.contains("Loading \(sb.dkmsTree)/tb/1.0/\(k)/x86_64...\n"), loaded.stdout)
        XCTAssertEqual(sb.dkms("status", "tb").stdout, "tb/1.0, \(k), x86_64: built\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: sb.sourceTree + "/tb-1.0/dkms.conf"))

        // A member outside the extraction directory: refused before anything is unpacked.
        let evil = sb.base + "/evil.tar"
        XCTAssertEqual(sh(["tar", "-cPf", evil, sb.sourceTree + "/tb-1.0/dkms.conf"]).status, 0)
        let refused = sb.dkms("ldtarball", evil)
        XCTAssertEqual(refused.status, 3, refused.all)
        XCTAssertTrue(refused.stderr.contains("absolute or with '..'; not loaded."), refused.all)
    }
}
