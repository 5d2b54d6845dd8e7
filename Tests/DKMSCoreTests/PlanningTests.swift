import XCTest
import Glibc
@testable import DKMSCore
import Installer
import SafeFS
import TestSupport

/// Install and uninstall plan before they act: `InstallPlanning` and `UninstallPlanning`
/// return the transaction plan and the lines dkms says while planning, on a tree made by
/// hand, and neither prints nor changes a file (the verb prints the lines, then commits).
final class PlanningTests: XCTestCase {
    private var base = ""
    private let kernel = "6.0.0-test"
    private var lib: String { base + "/lib/" + kernel }
    private var context: Context!

    override func setUpWithError() throws {
        base = makeTempDir("dkms-planning-test", mode: 0o755)
        try Files.makeDirectories(lib)
        // The run's cache is the test's own (cleanup reads it), never the host's.
        try write(base + "/etc/framework.conf", "cache_dir=\(base)/cache\n")
        let inv = try Invocation.parse(["install", "--dkmstree", base + "/tree", "--sourcetree", base + "/src",
                                        "--installtree", base + "/lib", "-k", kernel],
                                       isSourceDir: { _ in false }, isFile: { _ in false })
        let settings = Settings.load(invocation: inv, environment: ["DKMS_CONFIG_DIR": base + "/etc"])
        let printing = Output(sink: Output.Sink(out: { XCTFail("printed \($0)") }, err: { XCTFail("printed \($0)") }))
        context = Context(invocation: inv, settings: settings, output: printing)
        context.destOverride = "/updates/dkms"
    }

    override func tearDown() { _ = try? Files.removeTree(base) }

    private func write(_ path: String, _ text: String) throws {
        try Files.makeDirectories(FS.parent(path))
        try Staging.writeFile(path, Array(text.utf8))
    }

    /// m/v added (its source linked), built for the kernel (its module files named), and
    /// installed: the link and the files in lib.
    private func built(_ mv: ModuleVersion, _ names: [String], installed: Bool) throws {
        let tree = context.tree, t = BuildTarget(kernel, "x86_64")
        try Files.makeDirectories(base + "/src/\(mv.name)-\(mv.version)")
        try Files.makeDirectories(tree.versionDir(mv))
        XCTAssertEqual(symlink(base + "/src/\(mv.name)-\(mv.version)", tree.sourceLink(mv)), 0)
        for n in names {
            try write(tree.builtModuleDir(mv, t) + "/\(n).ko", "\(mv) built \(n)")
            if installed && !FS.exists(lib + "/updates/dkms/\(n).ko") { try write(lib + "/updates/dkms/\(n).ko", "\(mv) installed \(n)") }
        }
        if installed { XCTAssertEqual(symlink("\(mv.version)/\(kernel)/x86_64", tree.installedLink(mv.name, t)), 0) }
    }

    /// Every file below base, with its contents: what planning must leave as it was.
    private func snapshot() -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        var stack = [base]
        while let d = stack.popLast() {
            for e in FS.list(d) {
                let p = d + "/" + e
                if FS.isDirectory(p) && !FS.isSymlink(p) { stack.append(p) } else { files[p] = FS.readFile(p) ?? Array((FS.readLink(p) ?? "").utf8) }
            }
        }
        return files
    }

    func testUninstallPlansWithoutTouchingAnotherModulesFileOrTheTree() throws {
        let mine = ModuleVersion("mine", "1.0"), other = ModuleVersion("other", "2.0")
        try built(mine, ["mine", "shared"], installed: true)
        try built(other, ["shared"], installed: true)
        // An original mine archived at install: it goes back where it was.
        let backup = context.tree.originalModuleDir("mine", BuildTarget(kernel, "x86_64"))
        try write(backup + "/orig.ko", "the kernel's own orig")
        try write(backup + "/orig.ko.origin", lib + "/kernel/drivers/orig.ko\n")
        let before = snapshot()

        let target = context.target(kernel, "x86_64")
        let (plan, said) = UninstallPlanning(context: context).plan(mine, target, manifest: nil)

        XCTAssertEqual(said, [
            .line("Module mine/1.0 for kernel \(kernel) (x86_64):"),
            .line("Before uninstall, this module version was ACTIVE on this kernel."),
            .line("Deleting \(lib)/updates/dkms/mine.ko"),
            .line("Deleting \(lib)/updates/dkms/shared.ko"),
            .warning("\(lib)/updates/dkms/shared.ko is installed by the dkms module other/2.0; left in place."),
            .line("Restoring archived original module \(lib)/kernel/drivers/orig.ko"),
        ])
        let removed = plan.steps.compactMap { step -> String? in if case .removeFile(let p) = step { return p }; return nil }
        XCTAssertEqual(removed, [lib + "/updates/dkms/mine.ko", backup + "/orig.ko.origin"])
        XCTAssertTrue(plan.steps.contains(.restoreOriginal(backupPath: backup + "/orig.ko", path: lib + "/kernel/drivers/orig.ko")))
        XCTAssertTrue(plan.steps.contains(.removeLink(path: context.tree.installedLink("mine", target.build))))
        XCTAssertEqual(snapshot(), before, "planning changed nothing")
    }

    func testInstallPlansArchivingTheKernelsOwnAndKeepsWhatItSaidWhenItRefuses() throws {
        let mine = ModuleVersion("mine", "1.0"), other = ModuleVersion("other", "2.0")
        try built(mine, ["mine", "shared"], installed: false)
        try built(other, ["shared"], installed: true)
        try write(lib + "/kernel/drivers/mine.ko", "the kernel's own mine")
        for n in ["notes", "notes-refused"] { try Files.makeDirectories(base + "/" + n) }
        let before = snapshot()
        let target = context.target(kernel, "x86_64")
        let spec = { (n: String) in ModuleSpec(builtName: n, builtLocation: "", destName: n, destLocation: "/updates/dkms",
                                               declaredDestLocation: "/updates/dkms", strip: true) }
        let file = { (n: String) in self.context.tree.builtModuleDir(mine, target.build) + "/\(n).ko" }
        let raw = RawConf(values: ["PACKAGE_NAME": [0: "mine"], "PACKAGE_VERSION": [0: "1.0"], "BUILT_MODULE_NAME": [0: "mine"],
                                   "DEST_MODULE_LOCATION": [0: "/updates/dkms"]])
        let conf = try ModuleConfigBuilder(target: target, dkmsTree: base + "/tree", module: "mine", moduleVersion: "1.0",
                                           destOverride: "/updates/dkms", confPath: base + "/dkms.conf").build(raw)
        XCTAssertEqual(conf.modules, [spec("mine")])

        var planning = InstallPlanning(context: context)
        let plan = try planning.plan(mine, target, conf, files: [(spec("mine"), file("mine"))], notes: base + "/notes")
        XCTAssertEqual(planning.said, [
            .line("Found pre-existing \(lib)/kernel/drivers/mine.ko, archiving for uninstallation"),
            .line("Installing \(lib)/updates/dkms/mine.ko"),
        ])
        let backup = context.tree.originalModuleDir("mine", target.build)
        XCTAssertTrue(plan.steps.contains(.backupOriginal(path: lib + "/kernel/drivers/mine.ko", backupPath: backup + "/mine.ko")))
        XCTAssertTrue(plan.steps.contains(.installFile(source: file("mine"), destination: lib + "/updates/dkms/mine.ko", mode: 0o644)))
        XCTAssertEqual(plan.steps.last, .setLink(path: context.tree.installedLink("mine", target.build), target: "1.0/\(kernel)/x86_64"))

        // shared.ko is other/2.0's: the plan is refused, the lines said before it are kept.
        var refused = InstallPlanning(context: context)
        XCTAssertThrowsError(try refused.plan(mine, target, conf, files: [(spec("mine"), file("mine")), (spec("shared"), file("shared"))],
                                              notes: base + "/notes-refused")) { e in
            XCTAssertEqual((e as? DKMSError)?.code, .installFailed)
            XCTAssertEqual((e as? DKMSError)?.lines, ["\(lib)/updates/dkms/shared.ko is installed by the dkms module other/2.0; mine/1.0 will not replace it."])
        }
        XCTAssertEqual(refused.said, planning.said)
        for n in ["notes", "notes-refused"] {
            XCTAssertEqual(FS.list(base + "/" + n), ["mine.ko.origin"], "the .origin note is staged for the transaction, in its notes directory only")
            XCTAssertEqual(FS.readText(base + "/\(n)/mine.ko.origin"), lib + "/kernel/drivers/mine.ko\n")
            unlink(base + "/\(n)/mine.ko.origin")
        }
        XCTAssertEqual(snapshot(), before, "planning changed nothing outside its notes")
    }

    func testCleanupListsAndPlansWhatNoEntryOwns() throws {
        let mine = ModuleVersion("mine", "1.0")
        try built(mine, ["mine"], installed: true)
        try write(lib + "/modules.order", "kernel/drivers/orig.ko\n")   // the kernel is there
        try write(lib + "/updates/dkms/stray.ko", "nobody's")
        let before = snapshot()

        let found = CleanupPlanning(context: context).find()
        XCTAssertEqual(found.said, [])
        XCTAssertEqual(found.findings.map(\.path), [lib + "/updates/dkms/stray.ko"], "mine.ko is mine/1.0's")
        XCTAssertEqual(CleanupPlanning.listing(found.findings, dryRun: true), [
            .line("module file no tree entry owns: \(lib)/updates/dkms/stray.ko (8 B)"),
            .line("1 item(s), 8 B. Dry run: nothing was removed; run with --yes to remove them."),
        ])
        XCTAssertEqual(CleanupPlanning.listing(found.findings, dryRun: false), [.line("module file no tree entry owns: \(lib)/updates/dkms/stray.ko (8 B)")])
        XCTAssertEqual(CleanupPlanning.listing([], dryRun: true), [.line("Nothing to clean up.")])
        let removal = CleanupPlanning.removal(found.findings)
        XCTAssertEqual(removal.plan.steps, [.removeFile(path: lib + "/updates/dkms/stray.ko")])
        XCTAssertEqual(removal.kernels, [kernel], "depmod runs for the kernel that lost a file")
        XCTAssertEqual(removal.count, 1)
        XCTAssertEqual(removal.bytes, 8)
        XCTAssertEqual(snapshot(), before, "planning changed nothing")
    }
}
