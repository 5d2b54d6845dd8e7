import XCTest
import Glibc
@testable import DKMSCore
import SafeFS
import TestSupport

/// dkms runs made in this process through `CLI.run`, their messages caught by an
/// `Output.Sink`: DKMSCore's verbs and their words are tested without the binary, a
/// subprocess or a kernel's headers, on scratch trees. (The integration tests run the
/// binary; these show the library answers the same way on its own.)
final class InProcessRunTests: XCTestCase {
    private var base = ""
    private var trees: [String] { ["--dkmstree", base + "/tree", "--sourcetree", base + "/src", "--installtree", base + "/lib"] }

    override func setUpWithError() throws {
        base = makeTempDir("dkms-inprocess-test", mode: 0o755)
        for d in ["tree", "src", "lib", "etc"] { try Files.makeDirectories(base + "/" + d) }
        try write("etc/framework.conf", "cache_dir=\(base)/cache\n")
        try writeModule("inproc", "1.0")
    }

    override func tearDown() { _ = try? Files.removeTree(base) }

    private func write(_ path: String, _ text: String) throws {
        let full = base + "/" + path
        try Files.makeDirectories((full as NSString).deletingLastPathComponent)
        try Staging.writeFile(full, Array(text.utf8))
    }

    private func writeModule(_ name: String, _ version: String) throws {
        try write("src/\(name)-\(version)/dkms.conf", """
        PACKAGE_NAME=\(name)
        PACKAGE_VERSION=\(version)
        BUILT_MODULE_NAME[0]=\(name)
        DEST_MODULE_LOCATION[0]=/updates/dkms
        AUTOINSTALL=yes

        """)
        try write("src/\(name)-\(version)/Makefile", "obj-m := \(name).o\n")
    }

    /// One run: its exit status and what it said on each stream.
    private func dkms(_ args: String...) -> (status: Int32, out: String, err: String) {
        var out = "", err = ""
        let sink = Output.Sink(out: { out += $0 }, err: { err += $0 })
        let status = CLI.run(args + trees, environment: ["DKMS_CONFIG_DIR": base + "/etc"], sink: sink)
        return (status, out, err)
    }

    func testAddStatusRemoveInProcess() {
        var r = dkms("add", "inproc/1.0")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "Creating symlink \(base)/tree/inproc/1.0/source -> \(base)/src/inproc-1.0\n")
        XCTAssertEqual(dkms("status").out, "inproc/1.0: added\n")

        r = dkms("add", "inproc/1.0")
        XCTAssertEqual(r.status, DKMSError.Code.alreadyInTree.rawValue)
        XCTAssertEqual(r.err, "\nError! DKMS tree already contains: inproc/1.0\nYou cannot add the same module/version combo more than once.\n")

        r = dkms("remove", "inproc/1.0", "--all")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "Deleting module inproc/1.0 completely from the DKMS tree.\n")
        XCTAssertEqual(dkms("status").out, "")
        XCTAssertFalse(FS.exists(base + "/tree/inproc"))
        XCTAssertTrue(FS.isRegularFile(base + "/src/inproc-1.0/dkms.conf"), "the source stays")
    }

    /// `status` decides each state from the tree alone, as dkms 3.4 does: a version's
    /// kernel directory with module/ is built; the kernel-<k>-<arch> link makes it installed;
    /// a source link that leads nowhere is broken.
    func testStatusReadsStatesFromTheTree() throws {
        XCTAssertEqual(dkms("add", "inproc/1.0").status, 0)
        try writeModule("inproc", "2.0")
        XCTAssertEqual(dkms("add", "inproc/2.0").status, 0)
        for (v, k) in [("1.0", "9.9.1-test"), ("2.0", "9.9.1-test"), ("2.0", "9.9.2-test")] {
            try write("tree/inproc/\(v)/\(k)/x86_64/module/inproc.ko", "not an ELF, status does not read it")
        }
        XCTAssertEqual(symlink("2.0/9.9.2-test/x86_64", base + "/tree/inproc/kernel-9.9.2-test-x86_64"), 0)
        try write("lib/9.9.2-test/updates/dkms/inproc.ko", "not an ELF, status does not read it")
        XCTAssertEqual(dkms("status").out, """
        inproc/1.0, 9.9.1-test, x86_64: built
        inproc/2.0, 9.9.1-test, x86_64: built
        inproc/2.0, 9.9.2-test, x86_64: installed

        """)
        XCTAssertEqual(dkms("status", "-m", "inproc", "-v", "2.0", "-k", "9.9.2-test").out,
                       "inproc/2.0, 9.9.2-test, x86_64: installed\n")

        try Files.removeTree(base + "/src/inproc-1.0")
        let r = dkms("status", "inproc/1.0")
        XCTAssertEqual(r.out, "inproc/1.0: broken\n")
        XCTAssertTrue(r.err.contains("inproc/1.0: Missing the module source directory or the symbolic link pointing to it."), r.err)
    }

    /// Names from the command line reach no path: refused before the tree is touched.
    func testHostileNamesAreRefusedInProcess() throws {
        for (args, said) in [(["add", "-m", "..", "-v", "1"], "Error! Invalid module name '..': contains '..'."),
                             (["add", "-m", "inproc", "-v", "1/../../x"], "Error! Invalid module version '1/../../x'")] {
            var out = "", err = ""
            let status = CLI.run(args + trees, environment: ["DKMS_CONFIG_DIR": base + "/etc"],
                                 sink: Output.Sink(out: { out += $0 }, err: { err += $0 }))
            XCTAssertNotEqual(status, 0, args.joined(separator: " "))
            XCTAssertTrue(err.contains(said), err)
        }
        XCTAssertEqual(FS.list(base + "/tree").filter { $0 != ".dkms.lock" }, [])
    }
}

/// An action's pipeline returns what it would say; nothing is printed until the command
/// line does. `status` is computed on a tree made by hand, through an Engine made here.
final class StatusMessagesTests: XCTestCase {
    func testStatusReturnsItsLinesAndErrorsAsValues() throws {
        let base = makeTempDir("dkms-status-messages", mode: 0o755)
        defer { _ = try? Files.removeTree(base) }
        for d in ["tree/good/1.0/6.0.0-test/x86_64/module", "tree/gone/2.0", "src/good-1.0", "lib"] {
            try Files.makeDirectories(base + "/" + d)
        }
        XCTAssertEqual(symlink(base + "/src/good-1.0", base + "/tree/good/1.0/source"), 0)
        XCTAssertEqual(symlink(base + "/src/gone-2.0", base + "/tree/gone/2.0/source"), 0)
        let inv = try Invocation.parse(["status", "--dkmstree", base + "/tree", "--sourcetree", base + "/src",
                                        "--installtree", base + "/lib"], isSourceDir: { _ in false }, isFile: { _ in false })
        var printed = ""
        let output = Output(sink: Output.Sink(out: { printed += $0 }, err: { printed += $0 }))
        let settings = Settings.load(invocation: inv, environment: ["DKMS_CONFIG_DIR": base + "/etc"])
        let engine = Engine(context: Context(invocation: inv, settings: settings, output: output),
                            evaluator: ConfEvaluator(), environment: HostBuildEnvironment())
        XCTAssertEqual(engine.statusMessages(), [
            .line("gone/2.0: broken"), .errorLine(""),
            .error(["gone/2.0: Missing the module source directory or the symbolic link pointing to it.",
                    "Manual intervention is required!"]),
            .line("good/1.0, 6.0.0-test, x86_64: built"),
        ])
        XCTAssertEqual(printed, "", "the pipeline printed nothing")
        engine.status()
        XCTAssertEqual(printed, """
        gone/2.0: broken

        Error! gone/2.0: Missing the module source directory or the symbolic link pointing to it.
        Manual intervention is required!
        good/1.0, 6.0.0-test, x86_64: built

        """)
    }
}
