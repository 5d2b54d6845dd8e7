import XCTest
import Foundation
import Glibc
import TestSupport

/// The real `dkms` inside a chroot, where the kernel refuses user namespaces (arch-chroot,
/// debootstrap, the Debian installer, `chroot /mnt; apt install zfs-dkms`): the sandbox must
/// switch to its root-namespaces mode by itself and confine module code just as well.
///
/// The chroot is an rbind of / in a private mount namespace (gone with the process), so the
/// scratch trees, the binary and the headers are at the same paths inside.
final class ChrootTests: XCTestCase {
    var sb: TestTrees!
    override func setUp() { sb = TestTrees(kernels: Array(Kernels.all.prefix(1)), sharedCache: false) }
    override func tearDown() { sb.cleanup() }

    static var kernel: String { Kernels.all.first ?? "no-kernel-headers-installed" }

    /// `argv` run chrooted into an rbind of /.
    static func inChroot(_ argv: [String], env: [String: String] = [:]) -> Run {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("dkms-chroot-\(UUID().uuidString.prefix(8))").path
        _ = sh(["mkdir", "-m", "0755", root])
        defer { rmdir(root) }
        let script = #"mount --rbind / "$1" && shift && exec chroot "$@""#
        return sh(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script, "sh", root, root] + argv, env: env)
    }

    /// The top-level directories holding the checkout and the binary (wherever CI cloned it),
    /// bound into a plain-directory chroot beside the system's own.
    static var checkoutTops: String {
        let fixed: Set<String> = ["usr", "etc", "dev", "sys", "proc", "tmp", "opt"]
        let tops = [Repo.root, Repo.dkms].compactMap { $0.split(separator: "/").first.map(String.init) }
        return Array(Set(tops).subtracting(fixed)).sorted().joined(separator: " ")
    }

    /// `argv` run chrooted into a plain directory (debootstrap's tree: its root is no mount
    /// point) with the system bound into it.
    static func inPlainChroot(_ argv: [String], env: [String: String] = [:]) -> Run {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("dkms-plain-\(UUID().uuidString.prefix(8))").path
        _ = sh(["mkdir", "-m", "0755", root])
        defer { _ = sh(["rm", "-rf", "--one-file-system", root]) }
        let script = #"""
            P=$1; shift
            mountpoint -q "$P" && { echo "$P is a mount point"; exit 3; }
            for d in usr etc dev sys proc tmp opt root $TOPS; do mkdir -p "$P/$d"; done
            for l in bin:usr/bin lib:usr/lib lib64:usr/lib64 sbin:usr/sbin; do ln -s "${l#*:}" "$P/${l%%:*}"; done
            for d in usr etc dev sys proc tmp opt $TOPS; do mount --rbind "/$d" "$P/$d" || exit 4; done
            exec chroot "$P" "$@"
            """#
        var env = env
        env["TOPS"] = checkoutTops
        return sh(["/usr/bin/unshare", "-m", "--propagation", "private", "/bin/sh", "-c", script, "sh", root] + argv, env: env)
    }

    func testAddBuildInstallInAPlainDirectoryChroot() {
        let k = ChrootTests.kernel
        let env = ["DKMS_CONFIG_DIR": sb.configDir]
        var r = ChrootTests.inPlainChroot([Repo.dkms, "add", Repo.root + "/examples/dkms-hello-1.0"] + sb.treeArgs, env: env)
        XCTAssertEqual(r.status, 0, r.all)
        r = ChrootTests.inPlainChroot([Repo.dkms, "install", "dkms-hello/1.0", "-k", k, "--verbose"] + sb.treeArgs, env: env)
        XCTAssertEqual(r.status, 0, r.all)
        XCTAssertTrue(r.all.contains("sandbox: root-namespaces mode"), r.all)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(sb.installTree)/\(k)/updates/dkms/dkms_hello.ko"), r.all)
        XCTAssertEqual(sh(["/bin/sh", "-c", "grep -c '\(sb.base)' /proc/self/mountinfo"]).stdout, "0\n", "no mount left behind")
    }

    func dkmsInChroot(_ args: String...) -> Run {
        ChrootTests.inChroot([Repo.dkms] + args + sb.treeArgs, env: ["DKMS_CONFIG_DIR": sb.configDir])
    }

    /// What module code could have changed on the host if it had escaped: the places the
    /// attack aims at, listed with owner, mode and size.
    func hostSnapshot() -> String {
        sh(["/bin/sh", "-c", "ls -la --time-style=+%s /etc /root /usr/src /var/lib/dkms /lib/modules/\(ChrootTests.kernel) 2>&1; find \(sb.base) -printf '%p %u %m %s\\n' | sort"]).stdout
    }

    func testUserNamespacesAreRefusedThere() {
        let r = ChrootTests.inChroot(["/usr/bin/unshare", "-U", "true"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.all.contains("Operation not permitted"), r.all)
    }

    /// A normal module and a hostile one: add, build, install through the real binary in the
    /// chroot. The attacks are denied quietly (the build proceeds), nothing outside changed.
    func testAddBuildInstallNormalAndHostileModules() throws {
        let k = ChrootTests.kernel
        let canary = "/root/dkms-chroot-canary-\(getpid())"
        FileManager.default.createFile(atPath: canary, contents: Data("chroot-secret".utf8), attributes: [.posixPermissions: 0o600])
        defer { unlink(canary) }
        let hostile = sb.base + "/hostile-1.0"
        let attack = """
            won() { echo "ATTACK-SUCCEEDED $*"; }
            [ "$(id -u)" != 0 ] || won uid 0
            touch /etc/dkms-chroot-evil 2>/dev/null && won wrote /etc
            cat \(canary) 2>/dev/null && won read the canary
            cat /proc/1/root\(canary) 2>/dev/null && won read through /proc/1/root
            touch \(sb.installTree)/\(k)/evil 2>/dev/null && won wrote the install tree
            touch \(sb.sourceTree)/hostile-1.0/evil 2>/dev/null && won wrote the source
            touch \(sb.dkmsTree)/evil 2>/dev/null && won wrote the dkms tree
            python3 -c 'import os; os.setuid(0)' 2>/dev/null && won setuid 0
            (echo hi > /dev/tcp/127.0.0.1/22) 2>/dev/null && won network
            ls / | grep -q oldroot && won saw the old root
            grep -qE ' /(work|sys|root) ' /proc/self/mountinfo && won saw host mounts
            grep -q '^CapEff:[[:space:]]*0000000000000000$' /proc/self/status || won has capabilities
            grep -q '^NoNewPrivs:[[:space:]]*1$' /proc/self/status || won no_new_privs unset
            echo attack-done
            """
        writeModule(at: hostile, name: "hostile", conf: """
            PACKAGE_NAME="hostile"
            PACKAGE_VERSION="1.0"
            MAKE[0]="bash ./attack.sh && make -C ${kernel_source_dir} M=${dkms_tree}/${PACKAGE_NAME}/${PACKAGE_VERSION}/build"
            BUILT_MODULE_NAME[0]="hostile"
            DEST_MODULE_LOCATION[0]="/updates/dkms"
            touch /etc/dkms-chroot-conf-evil 2>/dev/null
            """, extraFiles: ["attack.sh": attack])
        let before = hostSnapshot()

        for (module, source) in [("dkms-hello", Repo.root + "/examples/dkms-hello-1.0"), ("hostile", hostile)] {
            var r = dkmsInChroot("add", source)
            XCTAssertEqual(r.status, 0, r.all)
            r = dkmsInChroot("build", "\(module)/1.0", "-k", k, "--verbose")
            XCTAssertEqual(r.status, 0, r.all)
            XCTAssertTrue(r.all.contains("sandbox: root-namespaces mode"), "the mode is printed with --verbose: \(r.all)")
            r = dkmsInChroot("install", "\(module)/1.0", "-k", k)
            XCTAssertEqual(r.status, 0, r.all)
            let ko = "\(sb.installTree)/\(k)/updates/dkms/\(module.replacingOccurrences(of: "-", with: "_")).ko"
            XCTAssertTrue(FileManager.default.fileExists(atPath: ko), r.all)
        }
        let log = (try? String(contentsOfFile: "\(sb.dkmsTree)/hostile/1.0/\(k)/x86_64/log/make.log", encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("attack-done"), "the attack ran: \(log)")
        XCTAssertFalse(log.contains("ATTACK-SUCCEEDED"), log)
        XCTAssertEqual(dkmsInChroot("status").stdout, "dkms-hello/1.0, \(k), x86_64: installed\nhostile/1.0, \(k), x86_64: installed\n")

        for f in ["/etc/dkms-chroot-evil", "/etc/dkms-chroot-conf-evil", "\(sb.installTree)/\(k)/evil", "\(sb.sourceTree)/hostile-1.0/evil",
                  "\(sb.dkmsTree)/evil"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: f), f)
        }
        // Nothing outside changed but what dkms itself put in its trees.
        let after = hostSnapshot().split(separator: "\n").filter { !$0.contains(sb.base) }
        XCTAssertEqual(after, before.split(separator: "\n").filter { !$0.contains(sb.base) })
        XCTAssertEqual(sh(["/bin/sh", "-c", "grep -c '\(sb.base)' /proc/self/mountinfo"]).stdout, "0\n", "no mount left behind")
        XCTAssertEqual(HostState.orphanedSandboxProcesses(), [])
    }

    /// The project's whole hostile suite, through the real dkms, inside the chroot: this
    /// bundle re-run there with a filter (every case asserts its own denial and host evidence).
    func testHostileSuitePassesInsideAChroot() {
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let r = ChrootTests.inChroot([bundle, "IntegrationTests.HostileModuleTests"])
        print(r.all.split(separator: "\n").filter { $0.contains("error:") || $0.contains("Executed") }.joined(separator: "\n"))
        XCTAssertEqual(r.status, 0, String(r.all.suffix(6000)))
        XCTAssertTrue(r.all.contains("with 0 failures"), String(r.all.suffix(3000)))
    }
}
