import XCTest
import Foundation
import TestSupport

/// The whole lifecycle of a small module through the real binary, against
/// every installed kernel with headers (one or many).
final class HelloLifecycleTests: XCTestCase {
    var sb: TestTrees!
    override func setUp() { sb = TestTrees() }
    override func tearDown() { sb.cleanup() }

    func testAddBuildInstallStatusUninstallRemove() throws {
        XCTAssertGreaterThanOrEqual(Kernels.all.count, 1, "kernel headers are installed (scripts/install-deps.sh)")
        var r = sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0")
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(r.stdout, "Creating symlink \(sb.dkmsTree)/dkms-hello/1.0/source -> \(sb.sourceTree)/dkms-hello-1.0\n")
        XCTAssertEqual(sb.dkms("status").stdout, "dkms-hello/1.0: added\n")

        let kargs = Kernels.all.flatMap { ["-k", $0] }
        r = sb.dkms(["build", "dkms-hello/1.0"] + kargs)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(sb.dkms("status").stdout,
                       Kernels.all.map { "dkms-hello/1.0, \($0), x86_64: built\n" }.joined())

        r = sb.dkms(["install", "dkms-hello/1.0"] + kargs)
        XCTAssertEqual(r.status, 0, r.all)
        for k in Kernels.all {
            let file = "dkms_hello.ko" + Kernels.moduleSuffix(k)
            let ko = "\(sb.installTree)/\(k)/updates/dkms/\(file)"
            XCTAssertTrue(FileManager.default.fileExists(atPath: ko), r.all)
            XCTAssertTrue(modinfo("vermagic", ko).hasPrefix(k + " "), modinfo("vermagic", ko))
            XCTAssertEqual(sha256(ko), sha256("\(sb.dkmsTree)/dkms-hello/1.0/\(k)/x86_64/module/\(file)"))
            // depmod ran against the scratch root.
            let dep = (try? String(contentsOfFile: "\(sb.installTree)/\(k)/modules.dep")) ?? ""
            XCTAssertTrue(dep.contains("updates/dkms/\(file):"), dep)
            XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "\(sb.dkmsTree)/dkms-hello/kernel-\(k)-x86_64"),
                           "1.0/\(k)/x86_64")
        }
        XCTAssertEqual(sb.dkms("status").stdout,
                       Kernels.all.map { "dkms-hello/1.0, \($0), x86_64: installed\n" }.joined())
        XCTAssertEqual(sb.dkms("status", "-k", Kernels.all[0]).stdout, "dkms-hello/1.0, \(Kernels.all[0]), x86_64: installed\n")

        r = sb.dkms("install", "dkms-hello/1.0", "-k", Kernels.all[0])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("already installed on kernel \(Kernels.all[0]) (x86_64), skip."), r.stdout)

        r = sb.dkms("uninstall", "dkms-hello/1.0", "-k", Kernels.all[0])
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(sb.installTree)/\(Kernels.all[0])/updates/dkms/dkms_hello.ko"))
        XCTAssertEqual(sb.dkms("status").stdout,
                       Kernels.all.enumerated().map { "dkms-hello/1.0, \($0.element), x86_64: \($0.offset == 0 ? "built" : "installed")\n" }.joined())

        r = sb.dkms("remove", "dkms-hello/1.0", "--all")
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("Deleting module dkms-hello/1.0 completely from the DKMS tree."), r.stdout)
        XCTAssertEqual(sb.dkms("status").stdout, "")
        XCTAssertFalse(FileManager.default.fileExists(atPath: sb.dkmsTree + "/dkms-hello"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: sb.sourceTree + "/dkms-hello-1.0/dkms.conf"), "remove keeps the source")
        for k in Kernels.all {
            XCTAssertEqual(sh(["find", "\(sb.installTree)/\(k)", "-name", "*.ko*"]).stdout, "")
        }
    }

    /// `install` of a module that is only in the source tree adds it first
    /// (as dkms's prepare_build does), reading dkms.conf once through the
    /// tree's link; a dkms.conf that is not valid leaves nothing added.
    func testInstallAddsFirstAndABadConfAddsNothing() throws {
        let k = Kernels.all[0]
        // Impure on purpose ($(...)): evaluated in the sandbox, not replayed.
        writeModule(at: sb.sourceTree + "/implicit-1.0", name: "implicit",
                    conf: "PACKAGE_NAME=implicit\nPACKAGE_VERSION=$(echo 1.0)\nBUILT_MODULE_NAME[0]=implicit\nDEST_MODULE_LOCATION[0]=/extra\nPOST_ADD=post-add.sh\n",
                    extraFiles: ["post-add.sh": "#!/bin/sh\necho post-add ran in $PWD\n"])
        var r = sb.dkms("install", "implicit/1.0", "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.hasPrefix("Creating symlink \(sb.dkmsTree)/implicit/1.0/source -> \(sb.sourceTree)/implicit-1.0\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("post-add ran in"), r.stdout)
        XCTAssertEqual(sb.dkms("status").stdout, "implicit/1.0, \(k), x86_64: installed\n")

        writeModule(at: sb.sourceTree + "/broken-1.0", name: "broken", conf: "PACKAGE_VERSION=$(echo 1.0)\nBUILT_MODULE_NAME[0]=broken\n")
        r = sb.dkms("install", "broken/1.0", "-k", k)
        XCTAssertEqual(r.status, 8, r.all)
        XCTAssertTrue(r.stderr.contains("No 'PACKAGE_NAME' directive specified."), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: sb.dkmsTree + "/broken"), "nothing added")
        XCTAssertEqual(sb.dkms("status").stdout, "implicit/1.0, \(k), x86_64: installed\n")
    }

    func testErrorsAndExitCodes() throws {
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        var r = sb.dkms("add", "-m", "dkms-hello", "-v", "1.0")
        XCTAssertEqual(r.status, 3)
        XCTAssertEqual(r.stderr, "\nError! DKMS tree already contains: dkms-hello/1.0\nYou cannot add the same module/version combo more than once.\n")
        r = sb.dkms("build", "nothere/1.0", "-k", Kernels.all[0])
        XCTAssertEqual(r.status, 2, r.all)
        XCTAssertTrue(r.stderr.contains("Directory: \(sb.sourceTree)/nothere-1.0 does not exist."), r.stderr)
        r = sb.dkms("remove", "nothere/1.0")
        XCTAssertEqual(r.status, 3)
        XCTAssertTrue(r.stderr.contains("The module/version combo: nothere/1.0 is not located in the DKMS tree."))
        // NAME alone is NAME/VERSION when one version exists, and an error when several do.
        r = sb.dkms("build", "dkms-hello", "-k", Kernels.all[0])
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(sb.dkms("status").stdout.contains("dkms-hello/1.0, \(Kernels.all[0]), x86_64: built"))
        writeModule(at: sb.sourceTree + "/dkms-hello-2.0", name: "dkms_hello", conf: "PACKAGE_NAME=dkms-hello\nPACKAGE_VERSION=2.0\nBUILT_MODULE_NAME[0]=dkms_hello\n")
        XCTAssertEqual(sb.dkms("add", "dkms-hello/2.0").status, 0)
        r = sb.dkms("build", "dkms-hello")
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("Arguments <module> and <module-version> are not specified."))
        r = sb.dkms("build", "dkms-hello/1.0", "-k", "9.9.9-none")
        XCTAssertEqual(r.status, 21, r.all)
        XCTAssertTrue(r.stderr.contains("Your kernel headers for kernel 9.9.9-none cannot be found"), r.stderr)
        r = sb.dkms("status", "--frobnicate")
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("Unknown option: --frobnicate"))
    }

    func testBuildExclusiveSkipsWith77AndStaysAdded() throws {
        let src = sb.sourceTree + "/excl-1"
        writeModule(at: src, name: "excl", conf: "PACKAGE_NAME=excl\nPACKAGE_VERSION=1\nBUILD_EXCLUSIVE_KERNEL=\"^4\\.\"\n")
        XCTAssertEqual(sb.dkms("add", "excl/1").status, 0)
        let r = sb.dkms("build", "excl/1", "-k", Kernels.all[0])
        XCTAssertEqual(r.status, 77, r.all)
        XCTAssertTrue(r.stderr.contains("includes BUILD_EXCLUSIVE directives"), r.stderr)
        XCTAssertEqual(sb.dkms("status").stdout, "excl/1: added\n")
    }

    func testBuildFailureKeepsLogAndExits10() throws {
        let src = sb.sourceTree + "/broken-1"
        writeModule(at: src, name: "broken", conf: "PACKAGE_NAME=broken\nPACKAGE_VERSION=1\n")
        try "this is not C;\n".write(toFile: src + "/broken.c", atomically: true, encoding: .utf8)
        XCTAssertEqual(sb.dkms("add", "broken/1").status, 0)
        let r = sb.dkms("build", "broken/1", "-k", Kernels.all[0])
        XCTAssertEqual(r.status, 10, r.all)
        XCTAssertTrue(r.stdout.contains("Building module(s)...(bad exit status: 2)"), r.stdout)
        XCTAssertTrue(r.stderr.contains("Bad return status for module build on kernel: \(Kernels.all[0]) (x86_64)"), r.stderr)
        let log = try String(contentsOfFile: sb.dkmsTree + "/broken/1/build/make.log")
        XCTAssertTrue(log.contains("error:"), log)
        XCTAssertEqual(sb.dkms("status").stdout, "broken/1: added\n")
    }

    func testPatchesScriptsAndMultipleModules() throws {
        let src = sb.sourceTree + "/pair-2"
        writeModule(at: src, name: "first", conf: """
        PACKAGE_NAME=pair
        PACKAGE_VERSION=2
        BUILT_MODULE_NAME[0]=first
        BUILT_MODULE_NAME[1]=second
        BUILT_MODULE_LOCATION[1]=sub
        DEST_MODULE_LOCATION[0]=/updates
        DEST_MODULE_LOCATION[1]=/updates
        MAKE="make -C $kernel_source_dir M=$dkms_tree/pair/2/build modules && make -C $kernel_source_dir M=$dkms_tree/pair/2/build/sub modules"
        PATCH[0]=rename.patch
        PRE_BUILD=pre.sh
        POST_INSTALL=post.sh
        """, extraFiles: [
            "sub/Makefile": "obj-m := second.o\n",
            "sub/second.c": "#include <linux/module.h>\nMODULE_LICENSE(\"GPL\");\n",
            "pre.sh": "#!/bin/sh\necho pre-build-ran > pre.out\n",
            "post.sh": "#!/bin/sh\necho post-install-ran\n",
            "patches/rename.patch": """
            --- a/sub/second.c
            +++ b/sub/second.c
            @@ -1,2 +1,3 @@
             #include <linux/module.h>
             MODULE_LICENSE("GPL");
            +MODULE_DESCRIPTION("patched");

            """,
        ])
        XCTAssertEqual(sb.dkms("add", "pair/2").status, 0)
        let r = sb.dkms("install", "pair/2", "-k", Kernels.all[0])
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("Applying patch rename.patch... done."), r.stdout)
        XCTAssertTrue(r.stdout.contains("Running the pre_build script... done."), r.stdout)
        XCTAssertTrue(r.stdout.contains("post-install-ran"), r.stdout)
        let second = "\(sb.installTree)/\(Kernels.all[0])/updates/dkms/second.ko"
        XCTAssertEqual(modinfo("description", second), "patched")
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(sb.installTree)/\(Kernels.all[0])/updates/dkms/first.ko"))
        // The pristine source is untouched by the patch.
        XCTAssertFalse(try String(contentsOfFile: src + "/sub/second.c").contains("patched"))
    }

    func testOriginalModuleIsArchivedAndRestored() throws {
        let k = Kernels.all[0]
        let origDir = "\(sb.installTree)/\(k)/kernel/drivers/misc"
        try FileManager.default.createDirectory(atPath: origDir, withIntermediateDirectories: true)
        try "original bytes".write(toFile: origDir + "/dkms_hello.ko", atomically: true, encoding: .utf8)
        XCTAssertEqual(sb.dkms("add", Repo.root + "/examples/dkms-hello-1.0").status, 0)
        var r = sb.dkms("install", "dkms-hello/1.0", "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.stdout.contains("Found pre-existing \(origDir)/dkms_hello.ko, archiving for uninstallation"), r.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: origDir + "/dkms_hello.ko"))
        XCTAssertEqual(sb.dkms("status").stdout, "dkms-hello/1.0, \(k), x86_64: installed (Original modules exist)\n")
        r = sb.dkms("uninstall", "dkms-hello/1.0", "-k", k)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertEqual(try String(contentsOfFile: origDir + "/dkms_hello.ko"), "original bytes")
        XCTAssertEqual(sb.dkms("status").stdout, "dkms-hello/1.0, \(k), x86_64: built\n")
    }
}
