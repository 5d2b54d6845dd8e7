import XCTest
import Foundation
import TestSupport

/// The integration files in scripts/: pacman hooks, Debian kernel hooks,
/// bash completion, man page, systemd unit and the installer, each driven
/// the way its caller drives it, against temporary trees.
final class HookTests: XCTestCase {
    var sb: TestTrees!
    let arch = sh(["uname", "-m"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    let noHeaders = "9.9.9-noheaders"

    override func setUp() { sb = TestTrees() }
    override func tearDown() { sb.cleanup() }

    /// The oldest and the newest kernel with headers: the same one on a machine with one.
    var k0: String { Kernels.all[0] }
    var k1: String { Kernels.all[Kernels.all.count - 1] }

    /// dkms status's lines for a module installed in every kernel with headers.
    func installedLines(_ nameVersion: String) -> String {
        Kernels.all.map { "\(nameVersion), \($0), \(arch): installed\n" }.joined()
    }

    /// The bundled example plus a second tiny module, as sources in the
    /// source tree (what installing their -dkms packages leaves behind).
    func addSources() {
        sb.addSource(Repo.root + "/examples/dkms-hello-1.0", as: "dkms-hello-1.0")
        writeModule(at: sb.sourceTree + "/tiny-0.1", name: "tiny", conf: """
        PACKAGE_NAME=tiny
        PACKAGE_VERSION=0.1
        BUILT_MODULE_NAME[0]=tiny
        DEST_MODULE_LOCATION[0]=/updates/dkms
        AUTOINSTALL=yes
        """)
    }

    func status() -> String { sb.dkms("status").stdout }

    /// An AUTOINSTALL module whose MAKE fails for every kernel (saying which in make.log).
    func addBrokenModule() {
        writeModule(at: sb.sourceTree + "/broken-2.0", name: "broken", conf: """
        PACKAGE_NAME=broken
        PACKAGE_VERSION=2.0
        BUILT_MODULE_NAME[0]=broken
        DEST_MODULE_LOCATION[0]=/updates/dkms
        MAKE[0]="echo this module does not build for $kernelver; false"
        AUTOINSTALL=yes
        """)
        XCTAssertEqual(sb.dkms("add", "broken/2.0").status, 0)
    }

    // MARK: pacman

    func testAlpmHooksDeclareWhatTheScriptExpects() {
        let install = AlpmHook(path: Integration.installHook), remove = AlpmHook(path: Integration.removeHook)
        let upgrade = AlpmHook(path: Integration.upgradeHook)
        XCTAssertEqual(install.when, "PostTransaction")
        XCTAssertEqual(remove.when, "PreTransaction")
        XCTAssertEqual(upgrade.when, "PreTransaction")
        XCTAssertEqual(install.exec, "/usr/share/libalpm/scripts/dkms install")
        XCTAssertEqual(remove.exec, "/usr/share/libalpm/scripts/dkms remove")
        XCTAssertEqual(upgrade.exec, "/usr/share/libalpm/scripts/dkms remove")
        XCTAssertTrue(install.needsTargets && remove.needsTargets && upgrade.needsTargets)
        XCTAssertEqual(install.triggers.first?.operations.sorted(), ["Install", "Upgrade"])
        XCTAssertEqual(remove.triggers.first?.operations.sorted(), ["Remove"])
        XCTAssertEqual(upgrade.triggers.first?.operations.sorted(), ["Upgrade"])
        XCTAssertEqual(upgrade.triggers.first?.targets, remove.triggers.first?.targets)

        // Which package files fire which hook.
        XCTAssertEqual(install.targets(operation: "Install", files: dkmsPackageFiles("foo-1.0")), ["usr/src/foo-1.0/dkms.conf"])
        XCTAssertEqual(install.targets(operation: "Upgrade", files: kernelPackageFiles("6.8.1-arch1-1")),
                       ["usr/lib/modules/6.8.1-arch1-1/vmlinuz"])
        XCTAssertEqual(install.targets(operation: "Install", files: ["usr/lib/modules/6.8.1-arch1-1/build/include/"]),
                       ["usr/lib/modules/6.8.1-arch1-1/build/include/"])
        XCTAssertNil(install.targets(operation: "Remove", files: dkmsPackageFiles("foo-1.0")))
        XCTAssertNil(install.targets(operation: "Install", files: ["usr/bin/ls", "usr/src/foo-1.0/Makefile"]))
        XCTAssertEqual(remove.targets(operation: "Remove", files: kernelPackageFiles("6.8.1-arch1-1")),
                       ["usr/lib/modules/6.8.1-arch1-1/vmlinuz"])
        XCTAssertNil(remove.targets(operation: "Remove", files: ["usr/lib/modules/6.8.1-arch1-1/build/include/"]),
                     "removing headers alone leaves the modules in place")
        XCTAssertNil(remove.targets(operation: "Install", files: kernelPackageFiles("6.8.1-arch1-1")))
    }

    /// Installing a -dkms package adds its module and installs it into every
    /// kernel with headers, and nothing else; removing the package takes
    /// that module, and only it, out of every kernel.
    func testAlpmModulePackageInstallThenRemove() throws {
        XCTAssertGreaterThanOrEqual(Kernels.all.count, 1)
        func lines(_ nv: String) -> String { Kernels.all.map { "\(nv), \($0), \(arch): installed\n" }.joined() }
        func everywhere(_ m: String) -> Bool { Kernels.all.allSatisfy { sb.installed(m, $0) } }
        func nowhere(_ m: String) -> Bool { !Kernels.all.contains { sb.installed(m, $0) } }
        addSources()
        sb.addHeaderlessKernel(noHeaders)
        writeModule(at: sb.sourceTree + "/excl-2", name: "excl",
                    conf: "PACKAGE_NAME=excl\nPACKAGE_VERSION=2\nBUILD_EXCLUSIVE_KERNEL=\"^4\\.\"\n")

        var r = try XCTUnwrap(sb.pacman(Integration.installHook, "Install",
                                        files: dkmsPackageFiles("dkms-hello-1.0") + dkmsPackageFiles("excl-2")))
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(status(), lines("dkms-hello/1.0") + "excl/2: added\n", r.all)
        XCTAssertTrue(everywhere("dkms_hello"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(sb.installTree)/\(noHeaders)/updates"), "no headers, no module")
        XCTAssertTrue(r.stdout.contains("does not apply to kernel"), r.stdout)
        XCTAssertEqual(r.stdout.components(separatedBy: "==> depmod ").count - 1, Kernels.all.count, "depmod once per kernel: \(r.stdout)")
        for k in Kernels.all {
            let dep = try String(contentsOfFile: "\(sb.installTree)/\(k)/modules.dep", encoding: .utf8)
            XCTAssertTrue(dep.contains("updates/dkms/dkms_hello.ko\(Kernels.moduleSuffix(k)):"), dep)
        }

        // The second module's package arrives later: it alone is built.
        r = try XCTUnwrap(sb.pacman(Integration.installHook, "Install", files: dkmsPackageFiles("tiny-0.1")))
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertFalse(r.stdout.contains("-m dkms-hello"), r.stdout)
        XCTAssertTrue(everywhere("tiny"), r.all)

        // Removing the hello package: the hello module goes from every
        // kernel and from the tree; tiny and excl stay.
        r = try XCTUnwrap(sb.pacman(Integration.removeHook, "Remove", files: dkmsPackageFiles("dkms-hello-1.0")))
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(status(), "excl/2: added\n" + lines("tiny/0.1"), r.all)
        XCTAssertTrue(nowhere("dkms_hello"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: sb.dkmsTree + "/dkms-hello"))
        XCTAssertTrue(everywhere("tiny"))

        // The install hook does not fire on removal, nor the remove hook on install.
        XCTAssertNil(sb.pacman(Integration.installHook, "Remove", files: dkmsPackageFiles("tiny-0.1")))
        XCTAssertNil(sb.pacman(Integration.removeHook, "Install", files: dkmsPackageFiles("tiny-0.1")))
    }

    /// Installing a kernel installs every added module into that kernel
    /// only; removing a kernel takes the modules out of that kernel only,
    /// and they stay added for the next one.
    func testAlpmKernelPackageInstallThenRemove() throws {
        addSources()
        XCTAssertEqual(sb.dkms("add", "dkms-hello/1.0").status, 0)
        XCTAssertEqual(sb.dkms("add", "tiny/0.1").status, 0)

        var r = try XCTUnwrap(sb.pacman(Integration.installHook, "Install", files: kernelPackageFiles(k1)))
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(status(), """
        dkms-hello/1.0, \(k1), \(arch): installed
        tiny/0.1, \(k1), \(arch): installed

        """, r.all)
        XCTAssertTrue(r.stdout.contains("==> depmod \(k1)"), r.stdout)
        if k0 != k1 {
            XCTAssertFalse(sb.installed("dkms_hello", k0) || sb.installed("tiny", k0))
            XCTAssertFalse(r.stdout.contains("==> depmod \(k0)"), r.stdout)
        }

        // A kernel without headers is left alone, successfully.
        sb.addHeaderlessKernel(noHeaders)
        r = try XCTUnwrap(sb.pacman(Integration.installHook, "Install", files: kernelPackageFiles(noHeaders)))
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("No headers for kernel \(noHeaders)"), r.stdout)

        // Upgrading the other kernel package (the same one, with one kernel) brings the modules to it too.
        r = try XCTUnwrap(sb.pacman(Integration.installHook, "Upgrade", files: kernelPackageFiles(k0)))
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(sb.installed("dkms_hello", k0) && sb.installed("tiny", k0), r.all)

        if k0 != k1 {
            // Removing k1's package: k0 keeps everything.
            r = try XCTUnwrap(sb.pacman(Integration.removeHook, "Remove", files: kernelPackageFiles(k1)))
            XCTAssertEqual(r.status, 0, r.all)
            XCTAssertEqual(status(), """
            dkms-hello/1.0, \(k0), \(arch): installed
            tiny/0.1, \(k0), \(arch): installed

            """, r.all)
            XCTAssertFalse(sb.installed("dkms_hello", k1) || sb.installed("tiny", k1))
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(sb.installTree)/\(k1)/updates"), "empty dirs are pruned")
        }

        // Removing the last kernel keeps the modules added.
        r = try XCTUnwrap(sb.pacman(Integration.removeHook, "Remove", files: kernelPackageFiles(k0)))
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(status(), "dkms-hello/1.0: added\ntiny/0.1: added\n", r.all)
    }

    /// A kernel upgrade where one module fails: the others are installed, and one summary at
    /// the end names the failure, its log and the next step (pacman reports the hook failed).
    func testAlpmKernelUpgradeSummarizesFailures() throws {
        addSources()
        XCTAssertEqual(sb.dkms("add", "dkms-hello/1.0").status, 0)
        addBrokenModule()
        let r = try XCTUnwrap(sb.pacman(Integration.installHook, "Upgrade", files: kernelPackageFiles(k1)))
        XCTAssertNotEqual(r.status, 0, r.all)
        XCTAssertTrue(sb.installed("dkms_hello", k1), r.all)
        XCTAssertTrue(r.stderr.contains("==> dkms: 1 module build(s) failed:\n"), r.all)
        XCTAssertTrue(r.stderr.contains("  -> broken/2.0 for kernel \(k1) (error 10): log \(sb.dkmsTree)/broken/2.0/build/make.log\n"), r.all)
        XCTAssertTrue(r.stderr.contains("Then: dkms install broken/2.0 -k \(k1)\n"), r.all)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(sb.dkmsTree)/broken/2.0/build/make.log"))
    }

    /// A -dkms package upgrade, on one kernel to keep it quick.  pacman
    /// sees a version bump's old dkms.conf as removed and the new one as
    /// installed; a rebuild of the same version as upgraded on both sides.
    func testAlpmModulePackageUpgrade() throws {
        sb.cleanup()
        sb = TestTrees(kernels: [k0])
        sb.addSource(Repo.root + "/examples/dkms-hello-1.0", as: "dkms-hello-1.0")
        var r = try XCTUnwrap(sb.pacman(Integration.installHook, "Install", files: dkmsPackageFiles("dkms-hello-1.0")))
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(status(), "dkms-hello/1.0, \(k0), \(arch): installed\n")

        // 1.0 -> 1.1: the remove hook runs while 1.0's files are still there,
        // pacman swaps the files, then the install hook runs.
        r = try XCTUnwrap(sb.pacman(Integration.removeHook, "Remove", files: dkmsPackageFiles("dkms-hello-1.0")))
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(sh(["rm", "-r", sb.sourceTree + "/dkms-hello-1.0"]).status, 0)
        sb.addSource(Repo.root + "/examples/dkms-hello-1.0", as: "dkms-hello-1.1")
        XCTAssertEqual(sh(["sed", "-i", "s/^PACKAGE_VERSION=.*/PACKAGE_VERSION=\"1.1\"/",
                           sb.sourceTree + "/dkms-hello-1.1/dkms.conf"]).status, 0)
        r = try XCTUnwrap(sb.pacman(Integration.installHook, "Install", files: dkmsPackageFiles("dkms-hello-1.1")))
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(status(), "dkms-hello/1.1, \(k0), \(arch): installed\n", r.all)
        XCTAssertTrue(sb.installed("dkms_hello", k0))

        // Same version rebuilt (pkgrel bump): out and back in.
        r = try XCTUnwrap(sb.pacman(Integration.upgradeHook, "Upgrade", files: dkmsPackageFiles("dkms-hello-1.1")))
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(status(), "")
        r = try XCTUnwrap(sb.pacman(Integration.installHook, "Upgrade", files: dkmsPackageFiles("dkms-hello-1.1")))
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(status(), "dkms-hello/1.1, \(k0), \(arch): installed\n", r.all)
    }

    /// The hook script runs as root outside any sandbox: it must read
    /// dkms.conf, never run it. A package whose dkms.conf would leave a
    /// marker on the host when sourced still gets its name and version (from
    /// literal assignments or the directory name) and is installed by dkms,
    /// which evaluates the file in its sandbox only.
    func testAlpmScriptNeverRunsDkmsConf() throws {
        sb.cleanup()
        sb = TestTrees(kernels: [k0])
        let marker = sb.base + "/sourced-by-the-hook"
        writeModule(at: sb.sourceTree + "/sneaky-1.0", name: "sneaky", conf: """
        PACKAGE_NAME=sneaky
        PACKAGE_VERSION="1.0"
        BUILT_MODULE_NAME[0]=sneaky
        DEST_MODULE_LOCATION[0]=/updates/dkms
        AUTOINSTALL=yes
        : $(touch \(marker).1)
        touch \(marker).2
        """)
        // Name and version that only running the file would reveal: the
        // directory name decides.
        writeModule(at: sb.sourceTree + "/odd-name-2.1", name: "odd-name", conf: """
        PACKAGE_NAME="odd-$(touch \(marker).3; echo name)"
        PACKAGE_VERSION=`touch \(marker).4; echo 2.1`
        BUILT_MODULE_NAME[0]=odd-name
        DEST_MODULE_LOCATION[0]=/updates/dkms
        """)
        let r = try XCTUnwrap(sb.pacman(Integration.installHook, "Install",
                                        files: dkmsPackageFiles("sneaky-1.0") + dkmsPackageFiles("odd-name-2.1")))
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("dkms install --no-depmod -m sneaky -v 1.0 -k \(k0)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("dkms install --no-depmod -m odd-name -v 2.1 -k \(k0)"), r.stdout)
        XCTAssertEqual(status(), """
        odd-name/2.1, \(k0), \(arch): installed
        sneaky/1.0, \(k0), \(arch): installed

        """, r.all)
        for i in 1...4 {
            XCTAssertFalse(FileManager.default.fileExists(atPath: "\(marker).\(i)"), "dkms.conf ran outside the sandbox (\(i))")
        }
    }

    func testAlpmScriptRejectsBadUsage() {
        XCTAssertEqual(sh([Integration.alpmScript], input: "").status, 2)
        XCTAssertEqual(sh([Integration.alpmScript, "frobnicate"], input: "").status, 2)
        // Unrelated targets: nothing to do.
        let r = sh([Integration.alpmScript, "install"], input: "usr/bin/ls\n", env: sb.hookEnv)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(status(), "")
    }

    // MARK: Debian kernel hooks

    func testDebianKernelHooks() throws {
        addSources()
        XCTAssertEqual(sb.dkms("add", "dkms-hello/1.0").status, 0)
        sb.addHeaderlessKernel(noHeaders)

        // postinst.d: autoinstall for that kernel only.
        var r = sh([Integration.postinst, k0, "/boot/vmlinuz-\(k0)"], env: sb.hookEnv)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(status(), "dkms-hello/1.0, \(k0), \(arch): installed\n", r.all)
        XCTAssertTrue(sb.installed("dkms_hello", k0))

        // No headers: a warning, and the kernel's installation goes on.
        r = sh([Integration.postinst, noHeaders], env: sb.hookEnv)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stderr.contains("headers are not installed"), r.all)
        XCTAssertEqual(sh([Integration.postinst], env: sb.hookEnv).status, 2)

        // header_postinst.d: the headers' arrival does the same.
        r = sh([Integration.headerPostinst, k1], env: sb.hookEnv)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(sb.installed("dkms_hello", k1), r.all)

        // prerm.d: that kernel loses its build; the module stays added (and installed
        // for the other kernel, where the machine has two).
        r = sh([Integration.prerm, k0, "/boot/vmlinuz-\(k0)"], env: sb.hookEnv)
        XCTAssertEqual(r.status, 0, r.all)
        let kept = k0 != k1 ? "dkms-hello/1.0, \(k1), \(arch): installed\n" : "dkms-hello/1.0: added\n"
        XCTAssertEqual(status(), kept, r.all)
        XCTAssertFalse(sb.installed("dkms_hello", k0))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(sb.installTree)/\(k0)/updates"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(sb.dkmsTree)/dkms-hello/1.0/\(k0)"))

        // A kernel with nothing built: nothing to do, never a failure.
        r = sh([Integration.prerm, noHeaders], env: sb.hookEnv)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(status(), kept)
    }

    /// A module that fails at a kernel upgrade: one summary names it, its log and the next
    /// step, and the kernel's installation goes on; continue_on_error="false" fails it.
    func testKernelHookSummaryAndContinueOnError() throws {
        addSources()
        XCTAssertEqual(sb.dkms("add", "dkms-hello/1.0").status, 0)
        addBrokenModule()
        var r = sh([Integration.postinst, k0], env: sb.hookEnv)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(sb.installed("dkms_hello", k0), r.all)
        let log = "\(sb.dkmsTree)/broken/2.0/build/make.log"
        XCTAssertTrue(r.stderr.contains("dkms: autoinstall for kernel \(k0) failed (exit status "), r.all)
        XCTAssertTrue(r.stderr.contains("  broken/2.0 (error 10): log \(log)\n"), r.all)
        XCTAssertTrue(r.stderr.contains("Then: dkms install broken/2.0 -k \(k0)"), r.all)
        XCTAssertFalse(r.stderr.contains("dkms-hello/1.0 (error"), "only the failed module is named: \(r.all)")
        XCTAssertTrue(r.stderr.contains("is installed without these modules"), r.all)
        XCTAssertTrue(try String(contentsOfFile: log, encoding: .utf8).contains("this module does not build for \(k0)"))
        // dkms's own output is passed through unchanged.
        XCTAssertTrue(r.stdout.contains("Autoinstall on \(k0) failed for module(s) broken(10)."), r.all)

        try "continue_on_error=\"false\"\n".write(toFile: sb.configDir + "/framework.conf", atomically: true, encoding: .utf8)
        r = sh([Integration.postinst, k1], env: sb.hookEnv)
        XCTAssertNotEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stderr.contains("  broken/2.0 (error 10): log \(log)\n"), r.all)
        XCTAssertTrue(r.stderr.contains("continue_on_error=\"false\" in framework.conf: the kernel's installation fails"), r.all)
    }

    /// Secure Boot on, dkms's certificate not enrolled: the hook says so and prints the one
    /// command that enrols it. Silent when it is enrolled, Secure Boot is off, or there is no
    /// mokutil. (A stand-in mokutil answers as the real one does: this machine boots no EFI.)
    func testKernelHookMOKHint() throws {
        addSources()
        XCTAssertEqual(sb.dkms("add", "dkms-hello/1.0").status, 0)
        let bin = sb.base + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        func mokutil(secureBoot: Bool, enrolled: Bool) throws {
            let script = """
            #!/bin/sh
            case $1 in
                --sb-state) echo "SecureBoot \(secureBoot ? "enabled" : "disabled")" ;;
                --test-key) echo "$2 \(enrolled ? "is already enrolled" : "is not enrolled")"; exit \(enrolled ? 1 : 0) ;;
            esac
            """
            FileManager.default.createFile(atPath: bin + "/mokutil", contents: Data(script.utf8), attributes: [.posixPermissions: 0o755])
        }
        var env = sb.hookEnv
        env["PATH"] = bin + ":/usr/sbin:/usr/bin:/sbin:/bin"
        let cert = sb.dkmsTree + "/mok.pub"
        let hint = "mokutil --import \(cert)\n"
        try mokutil(secureBoot: true, enrolled: false)
        var r = sh([Integration.postinst, k0], env: env)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cert), "dkms made its signing certificate: \(r.all)")
        XCTAssertTrue(r.stderr.contains("Secure Boot is enabled and the key DKMS signs modules with is not enrolled"), r.all)
        XCTAssertTrue(r.stderr.hasSuffix(hint), r.all)
        for (sbOn, enrolled) in [(true, true), (false, false)] {
            try mokutil(secureBoot: sbOn, enrolled: enrolled)
            r = sh([Integration.postinst, k0], env: env)
            XCTAssertEqual(r.status, 0, r.all)
            XCTAssertFalse(r.stderr.contains("mokutil"), "secure boot \(sbOn), enrolled \(enrolled): \(r.all)")
        }
        unlink(bin + "/mokutil")
        r = sh([Integration.postinst, k0], env: env)
        XCTAssertFalse(r.stderr.contains("mokutil"), r.all)
    }

    // MARK: bash completion

    func testBashCompletion() throws {
        try sb.addCompletionFixtures()
        let t = "--dkmstree \(sb.dkmsTree)"

        let actions = complete("dkms ")
        for a in ["add", "build", "install", "uninstall", "unbuild", "remove", "status", "autoinstall",
                  "cache", "verify", "cleanup", "recover"] {
            XCTAssertTrue(actions.contains(a), "\(a) in \(actions)")
        }
        XCTAssertEqual(complete("dkms un"), ["uninstall", "unbuild"])
        XCTAssertEqual(complete("dkms inst"), ["install"])

        let options = complete("dkms install -")
        for o in ["-m", "-v", "-k", "--all", "--force", "--no-depmod", "--dkmstree", "--sourcetree", "--installtree",
                  "--no-cache", "--no-sandbox", "--sandbox-profile", "--json", "--yes"] {
            XCTAssertTrue(options.contains(o), "\(o) in \(options)")
        }
        XCTAssertEqual(complete("dkms status --no-s"), ["--no-sandbox"])
        XCTAssertEqual(complete("dkms cache "), ["stats", "verify", "prune", "clear"])
        XCTAssertEqual(complete("dkms cache stats "), [])

        // Modules and versions from the tree named on the line.
        XCTAssertEqual(complete("dkms \(t) install -m ").sorted(), ["bar", "foo"])
        XCTAssertEqual(complete("dkms install \(t) -m f"), ["foo"])
        XCTAssertEqual(complete("dkms install \(t) -m foo -v ").sorted(), ["1.0", "2.0"])
        XCTAssertEqual(complete("dkms install -m bar \(t) -v "), ["0.3"])
        XCTAssertEqual(complete("dkms --dkmstree=\(sb.dkmsTree) remove -m ").sorted(), ["bar", "foo"])
        XCTAssertEqual(complete(words: ["dkms", "--dkmstree", "=", sb.dkmsTree, "install", "-m", "foo", "-v", ""]).sorted(),
                       ["1.0", "2.0"], "readline splits --dkmstree=DIR at the =")
        XCTAssertEqual(complete(words: ["dkms", "build", "--installtree", "=", sb.installTree, "--kernelver", "=", ""]),
                       Kernels.all)
        XCTAssertEqual(complete("dkms remove \(t) ").sorted(), ["bar/0.3", "foo/1.0", "foo/2.0"])
        XCTAssertEqual(complete("dkms remove \(t) foo/2"), ["foo/2.0"])
        // add: from the source tree instead.
        XCTAssertEqual(complete("dkms add --sourcetree \(sb.sourceTree) -m "), ["new-mod"])
        XCTAssertEqual(complete("dkms add --sourcetree \(sb.sourceTree) -m new-mod -v "), ["3.1"])

        // Kernels from the install tree named on the line.
        sb.addHeaderlessKernel(noHeaders)
        XCTAssertEqual(complete("dkms build \(t) --installtree \(sb.installTree) -k "), (Kernels.all + [noHeaders]).sorted())
        XCTAssertEqual(complete("dkms build --installtree \(sb.installTree) -k 9"), [noHeaders])
        XCTAssertEqual(complete("dkms status -k \(k0) --installtree \(sb.installTree) -m foo -k 9"), [noHeaders])

        // The completion is registered for dkms.
        let r = sh(["/bin/bash", "-c", "source \"$1\"; complete -p dkms", "_", Integration.completion])
        XCTAssertEqual(r.stdout, "complete -F _dkms dkms\n", r.all)
    }

    /// Names in the trees are anyone's who can write /usr/src or a package:
    /// completion offers them as they are and never expands them.
    func testBashCompletionNeverExpandsNamesFromTheTrees() throws {
        let fm = FileManager.default
        // Directory names cannot hold a "/": the marker's path comes from
        // the environment, which the completion's shell inherits.
        let marker = sb.base + "/expanded"
        setenv("DKMS_COMPLETION_MARKER", marker, 1)
        defer { unsetenv("DKMS_COMPLETION_MARKER") }
        let hostile = ["$(touch $DKMS_COMPLETION_MARKER)", "`touch $DKMS_COMPLETION_MARKER`", "${PATH}", "*"]
        for m in hostile {
            try fm.createDirectory(atPath: "\(sb.dkmsTree)/\(m)/1.0", withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: "\(sb.dkmsTree)/\(m)/1.0/source", withDestinationPath: sb.sourceTree)
            try fm.createDirectory(atPath: "\(sb.sourceTree)/\(m)-2.0", withIntermediateDirectories: true)
            fm.createFile(atPath: "\(sb.sourceTree)/\(m)-2.0/dkms.conf", contents: Data())
        }
        let t = "--dkmstree \(sb.dkmsTree) --sourcetree \(sb.sourceTree)"
        XCTAssertEqual(complete("dkms \(t) install -m ").sorted(), hostile.sorted())
        XCTAssertEqual(complete("dkms \(t) remove ").sorted(), hostile.map { $0 + "/1.0" }.sorted())
        XCTAssertEqual(complete("dkms \(t) add -m ").sorted(), hostile.sorted())
        XCTAssertEqual(complete(words: ["dkms", "--sourcetree", sb.sourceTree, "add", "-m", "*", "-v", ""]), ["2.0"])
        XCTAssertFalse(fm.fileExists(atPath: marker), "a name from the tree was run as a command")
    }

    // MARK: man page, unit, installer

    func testManPageRendersWithoutWarnings() {
        let r = sh(["/bin/sh", "-c", "MANWIDTH=80 man --warnings -l \"$1\" 2>&1 >/dev/null", "_", Integration.manPage])
        XCTAssertEqual(r.stdout + r.stderr, "")
        let page = sh(["man", "-l", Integration.manPage], env: ["MANWIDTH": "80"]).stdout
        for section in ["NAME", "SYNOPSIS", "ACTIONS", "OPTIONS", "DKMS.CONF", "FRAMEWORK.CONF", "FILES", "EXIT STATUS"] {
            XCTAssertTrue(page.contains("\n\(section)\n"), section)
        }
        for word in ["autoinstall", "unbuild", "--no-depmod", "--no-sandbox", "--json", "BUILD_EXCLUSIVE_KERNEL",
                     "AUTOINSTALL", "install_tree", "/var/lib/dkms"] {
            XCTAssertTrue(page.contains(word), word)
        }
        for code in [1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 13, 21, 77, 101] {
            XCTAssertTrue(page.contains("\n       \(code)\n") || page.contains("\n       \(code) "), "exit code \(code)")
        }
    }

    func testSystemdUnit() throws {
        let unit = try String(contentsOfFile: Integration.service, encoding: .utf8)
        for line in ["Type=oneshot", "ExecStart=/usr/sbin/dkms autoinstall -k %v", "After=local-fs.target",
                     "ConditionPathIsDirectory=/var/lib/dkms", "WantedBy=multi-user.target"] {
            XCTAssertTrue(unit.contains("\n\(line)\n"), line)
        }
        XCTAssertTrue(unit.contains("Before=display-manager.service"))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") {
            let r = sh(["systemd-analyze", "verify", Integration.service])
            XCTAssertEqual(r.status, 0, r.all)
        }
    }

    func testInstallIntegrationIntoDestdir() throws {
        let dest = sb.base + "/dest"
        let r = sh([Integration.installer, dest], env: ["DKMS_BINARY": Repo.dkms])
        XCTAssertEqual(r.status, 0, r.all)
        let expected: [(String, String, Int)] = [
            ("usr/sbin/dkms", Repo.dkms, 0o755),
            ("usr/share/libalpm/hooks/70-dkms-install.hook", Integration.installHook, 0o644),
            ("usr/share/libalpm/hooks/70-dkms-upgrade.hook", Integration.upgradeHook, 0o644),
            ("usr/share/libalpm/hooks/71-dkms-remove.hook", Integration.removeHook, 0o644),
            ("usr/lib/dkms/common.postinst", Integration.commonPostinst, 0o755),
            ("usr/lib/dkms/dkms_autoinstaller", Integration.autoinstaller, 0o755),
            ("usr/share/libalpm/scripts/dkms", Integration.alpmScript, 0o755),
            ("etc/kernel/postinst.d/dkms", Integration.postinst, 0o755),
            ("etc/kernel/prerm.d/dkms", Integration.prerm, 0o755),
            ("etc/kernel/header_postinst.d/dkms", Integration.headerPostinst, 0o755),
            ("usr/lib/systemd/system/dkms.service", Integration.service, 0o644),
            ("usr/share/bash-completion/completions/dkms", Integration.completion, 0o644),
            ("usr/share/zsh/vendor-completions/_dkms", ShellCompletionTests.zsh, 0o644),
            ("usr/share/fish/vendor_completions.d/dkms.fish", ShellCompletionTests.fish, 0o644),
            ("usr/share/man/man8/dkms.8", Integration.manPage, 0o644),
        ] + Integration.sandboxProfiles.map {
            ("usr/share/dkms-swift/sandbox-profiles/" + ($0 as NSString).lastPathComponent, $0, 0o644)
        }
        for (path, source, mode) in expected {
            let full = dest + "/" + path
            let attrs = try FileManager.default.attributesOfItem(atPath: full)
            XCTAssertEqual((attrs[.posixPermissions] as? NSNumber)?.intValue, mode, path)
            XCTAssertEqual(sha256(full), sha256(source), path)
        }
        let installed = sh(["find", dest, "-type", "f"]).stdout.split(separator: "\n").count
        XCTAssertEqual(installed, expected.count, "nothing else is installed")
        XCTAssertEqual(sh([dest + "/usr/sbin/dkms", "--version"]).status, 0)

        // The installed header hook finds the installed postinst hook.
        sb.addHeaderlessKernel(noHeaders)
        let h = sh([dest + "/etc/kernel/header_postinst.d/dkms", noHeaders], env: sb.hookEnv)
        XCTAssertEqual(h.status, 0, h.all)
        XCTAssertTrue(h.stderr.contains("headers are not installed"), h.all)
    }
}
