import Foundation
import XCTest
@testable import Sandbox
import TestSupport

/// The root-namespaces mode (no user namespace; namespaces made as real root, then the build
/// user): the basic, limit, seccomp and hostile checks of the other suites, in that mode.
/// Run twice: forced (`spec.mode`) on the host, and for real inside a chroot by
/// ChrootModeTests, which re-runs this class there with CSB_TEST_IN_CHROOT=1 and the mode left
/// automatic, so the mode must be chosen by the kernel's refusal.
final class RootModeTests: XCTestCase {
    static let inChroot = ProcessInfo.processInfo.environment["CSB_TEST_IN_CHROOT"] == "1"
    static let buildUID: UInt32 = 2_000_000_000
    var dir = ""

    override func setUpWithError() throws {
        dir = try T.scratch("root")
        _ = try T.compileC(Probe.source, name: "probe", in: dir)
        _ = try T.compileC(RootModeTests.privProbe, name: "priv", in: dir)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func run(_ argv: [String], profile: SandboxProfile? = nil, mounts: [SandboxSpec.Mount] = [],
             cwd: String = "/", limits: ((inout SandboxLimits) -> Void)? = nil) throws -> SandboxResult {
        var spec = SandboxSpec(argv: argv, env: SandboxSpec.environment(["kernelver": T.kernel]), cwd: cwd,
                               mounts: mounts + [.readOnlyBind(source: dir, target: "/probe")],
                               headersDirs: [T.headers], profile: try profile ?? T.profile())
        if !RootModeTests.inChroot { spec.mode = .rootNamespaces }
        if let l = limits { l(&spec.limits) }
        let r = try Sandbox.run(spec)
        XCTAssertEqual(r.mode, .rootNamespaces, "the mode used is recorded")
        return r
    }

    func sh(_ script: String, profile: SandboxProfile? = nil, limits: ((inout SandboxLimits) -> Void)? = nil) throws -> SandboxResult {
        try run(["/bin/sh", "-c", script], profile: profile, limits: limits)
    }

    static let privProbe = #"""
    #define _GNU_SOURCE
    #include <errno.h>
    #include <grp.h>
    #include <stdio.h>
    #include <string.h>
    #include <sys/mount.h>
    #include <unistd.h>
    int main(int argc, char **argv) {
        const char *c = argc > 1 ? argv[1] : "";
        if (!strcmp(c, "ids")) { printf("uid=%d euid=%d gid=%d egid=%d\n", getuid(), geteuid(), getgid(), getegid()); return 0; }
        if (!strcmp(c, "setuid")) {
            int a = setresuid(0, 0, 0); int ea = errno;
            int b = setresgid(0, 0, 0); int eb = errno;
            gid_t g = 0; int d = setgroups(1, &g); int ed = errno;
            printf("setresuid=%d/%d setresgid=%d/%d setgroups=%d/%d euid=%d\n", a, ea, b, eb, d, ed, geteuid());
            return 0;
        }
        if (!strcmp(c, "mount")) {
            int a = mount("none", "/tmp", "tmpfs", 0, NULL); int ea = errno;
            int b = umount2("/proc", MNT_DETACH); int eb = errno;
            int d = chroot("/tmp"); int ed = errno;
            printf("mount=%d/%d umount=%d/%d chroot=%d/%d\n", a, ea, b, eb, d, ed);
            return 0;
        }
        return 2;
    }
    """#

    /// Allows every syscall: what the kernel refuses without the filter.
    var permissive: SandboxProfile {
        get throws {
            try SandboxProfile(name: "allow-all", seccomp: SeccompProfile(defaultAction: .allow, syscalls: []), limits: SandboxLimits())
        }
    }

    func testRunsAndExitCodePropagates() throws {
        let r = try sh("echo hello; exit 42")
        XCTAssertEqual(r.outcome, .exited(42), r.outputTail)
        XCTAssertEqual(r.outputTail, "hello\n")
    }

    func testBuildUserHasNoGroupsCapsAndSeccomp() throws {
        let r = try sh("id -u; id -g; id -un; grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp):' /proc/self/status")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        let lines = r.outputTail.split(separator: "\n").map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ") }
        XCTAssertEqual(Array(lines.prefix(3)), ["\(RootModeTests.buildUID)", "\(RootModeTests.buildUID)", "build"])
        let u = RootModeTests.buildUID
        XCTAssertTrue(lines.contains("Uid: \(u) \(u) \(u) \(u)"), "\(lines)")
        XCTAssertTrue(lines.contains("Gid: \(u) \(u) \(u) \(u)"), "\(lines)")
        XCTAssertTrue(lines.contains("Groups:"), "no supplementary groups: \(lines)")
        for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] { XCTAssertTrue(lines.contains("\(k): 0000000000000000"), "\(k): \(lines)") }
        XCTAssertTrue(lines.contains("NoNewPrivs: 1"), "\(lines)")
        XCTAssertTrue(lines.contains("Seccomp: 2"), "\(lines)")
        // No user namespace: the initial identity map.
        let m = try sh("cat /proc/self/uid_map")
        XCTAssertEqual(m.outputTail.split(whereSeparator: { $0 == " " || $0 == "\n" }), ["0", "0", "4294967295"])
    }

    func testPid1IsNotRoot() throws {
        let r = try sh("grep -E '^Uid:' /proc/1/status; grep -E '^CapEff:' /proc/1/status")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        let u = RootModeTests.buildUID
        XCTAssertTrue(r.outputTail.contains("\(u)\t\(u)\t\(u)\t\(u)"), r.outputTail)
        XCTAssertTrue(r.outputTail.contains("0000000000000000"), r.outputTail)
    }

    func testCannotBecomeRootAgain() throws {
        // A root-owned setuid copy of the probe, visible through a read-only (nosuid) bind.
        let suid = dir + "/priv-suid"
        try FileManager.default.copyItem(atPath: dir + "/priv", toPath: suid)
        XCTAssertEqual(chown(suid, 0, 0), 0)
        XCTAssertEqual(chmod(suid, 0o4755), 0)
        let r = try run(["/bin/sh", "-c", "/probe/priv-suid ids; /probe/priv setuid; ls -l /usr/bin/mount | cut -c1-10"], profile: permissive)
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        let u = RootModeTests.buildUID
        XCTAssertTrue(r.outputTail.contains("uid=\(u) euid=\(u) gid=\(u) egid=\(u)"), "setuid bit ignored: \(r.outputTail)")
        XCTAssertTrue(r.outputTail.contains("setresuid=-1/1 setresgid=-1/1 setgroups=-1/1 euid=\(u)"), r.outputTail)
        // The host's setuid-root mount(8) is there, but its bit is dead (nosuid): still us.
        let m = try run(["/bin/sh", "-c", "/usr/bin/mount -t tmpfs none /tmp; echo rc=$?"], profile: permissive)
        XCTAssertTrue(m.outputTail.contains("rc=") && !m.outputTail.contains("rc=0"), m.outputTail)
    }

    func testCannotMountEvenWithoutTheFilter() throws {
        let r = try run(["/probe/priv", "mount"], profile: permissive)
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(r.outputTail, "mount=-1/1 umount=-1/1 chroot=-1/1\n")
        // With the shipped filter, mount and unshare are killed and named.
        XCTAssertEqual(try run(["unshare", "-m", "true"]).outcome, .killedBySeccomp("unshare"))
    }

    func testSeccompKillsAreNamed() throws {
        XCTAssertEqual(try run(["/probe/probe", "keyctl"]).outcome, .killedBySeccomp("keyctl"))
        XCTAssertEqual(try run(["/probe/probe", "inet"]).outputTail, "rc=-1 errno=97\n")
    }

    func testNoNetworkPidAndUtsNamespaces() throws {
        let r = try run(["/bin/bash", "-c", "hostname; echo $$; ls /proc | grep -cE '^[0-9]+$'; ls /sys/class/net 2>&1 | head -1; echo hi > /dev/tcp/127.0.0.1/22 && echo CONNECTED"],
                        profile: permissive)
        let l = r.outputTail.split(separator: "\n")
        XCTAssertEqual(l.first, "dkms-sandbox", r.outputTail)
        XCTAssertEqual(l.dropFirst().first, "2", r.outputTail)
        XCTAssertLessThanOrEqual(Int(l.dropFirst(2).first ?? "99") ?? 99, 5, r.outputTail)
        XCTAssertFalse(r.outputTail.contains("CONNECTED"), r.outputTail)
        XCTAssertTrue(r.outputTail.contains("Network is unreachable") || r.outputTail.contains("Connection refused") == false, r.outputTail)
    }

    func testHostIsNotWritableNorItsMountsVisible() throws {
        let canary = "/root/csb-root-canary-\(getpid())"
        FileManager.default.createFile(atPath: canary, contents: Data("secret".utf8), attributes: [.posixPermissions: 0o600])
        defer { unlink(canary) }
        let real = URL(fileURLWithPath: T.headers).resolvingSymlinksInPath().path
        let r = try sh("""
            touch /etc/evil; echo etc=$?; touch /usr/bin/evil; echo usr=$?; touch \(real)/evil; echo hdr=$?
            touch /evil; echo root=$?; touch /probe/evil; echo bind=$?; touch /tmp/ok; echo tmp=$?
            cat \(canary); cat /proc/1/root\(canary); echo; cat /proc/self/mountinfo
            """)
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        for k in ["etc", "usr", "hdr", "root", "bind"] { XCTAssertTrue(r.outputTail.contains("\(k)=1"), "\(k): \(r.outputTail)") }
        XCTAssertTrue(r.outputTail.contains("tmp=0"), r.outputTail)
        XCTAssertFalse(r.outputTail.contains("secret"), r.outputTail)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(real)/evil"))
        let mounts = r.outputTail.split(separator: "\n").filter { $0.contains(" - ") }
        XCTAssertLessThan(mounts.count, 40, r.outputTail)
        for m in mounts {
            let mp = m.split(separator: " ")[4]
            XCTAssertFalse(mp.hasPrefix("/oldroot") || mp.hasPrefix("/work") || mp.hasPrefix("/sys") || mp == "/root", String(m))
            // Every mount is nosuid (the bound device nodes excepted from nodev only).
            XCTAssertTrue(m.split(separator: " ")[5].contains("nosuid"), String(m))
            if !mp.hasPrefix("/dev/") { XCTAssertTrue(m.split(separator: " ")[5].contains("nodev") || mp == "/dev", String(m)) }
        }
    }

    /// Plan.checkTarget allows targets under the read-only /usr that exist on the host
    /// (sources live in /usr/src): the mount point is there already, in this mode too.
    func testMountTargetUnderUsr() throws {
        let r = try run(["/bin/sh", "-c", "ls /usr/src/probe; touch /usr/src/x 2>/dev/null || echo ro"],
                        mounts: [.readOnlyBind(source: dir, target: "/usr/src")])
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertEqual(r.outputTail, "/usr/src/probe\nro\n")
    }

    func testLimits() throws {
        XCTAssertEqual(try sh("bomb() { bomb | bomb & }; bomb; sleep 30", limits: { $0.pids = 64; $0.wallClockSeconds = 60 }).outcome,
                       .limitExceeded(.pids))
        XCTAssertEqual(try sh("head -c 1G /dev/zero | tail > /dev/null", limits: { $0.memoryBytes = 64 << 20; $0.wallClockSeconds = 60 }).outcome,
                       .limitExceeded(.memory))
        XCTAssertEqual(try sh("while :; do :; done", limits: { $0.wallClockSeconds = 1 }).outcome, .limitExceeded(.wallClock))
        XCTAssertEqual(try sh("exec /bin/sh -c 'while :; do :; done'", limits: { $0.cpuSeconds = 1; $0.wallClockSeconds = 30 }).outcome,
                       .limitExceeded(.cpu))
        XCTAssertEqual(try sh("exec head -c 2M /dev/zero > /tmp/big", limits: { $0.fileSizeBytes = 1 << 20 }).outcome,
                       .limitExceeded(.fileSize))
    }

    func testDaemonDoesNotSurvive() throws {
        let marker = "3\(UInt32.random(in: 100000...999999))"
        let r = try sh("setsid sleep \(marker) & echo started")
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        XCTAssertTrue(waitFor(seconds: 5) { processes(withCommandLineContaining: "sleep \(marker)").isEmpty },
                      "survivors: \(processes(withCommandLineContaining: "sleep \(marker)"))")
    }

    /// A real Kbuild build against installed headers, from a root-owned source with objects in a
    /// subdirectory: without id-mapping, the upper layer carries the directories.
    func testKbuildOfRootOwnedSourceWithSubdirectory() throws {
        let fm = FileManager.default
        let src = dir + "/src", upper = dir + "/upper", work = dir + "/work", build = dir + "/build"
        let files = [
            "Makefile": "obj-m := multi.o\nmulti-y := main.o lib/helper.o\n",
            "main.c": "#include <linux/module.h>\nMODULE_LICENSE(\"GPL\");\nint csb_helper(void);\nstatic int __init m_init(void) { return csb_helper(); }\nmodule_init(m_init);\n",
            "lib/helper.c": "int csb_helper(void);\nint csb_helper(void) { return 0; }\n",
        ]
        for d in [src + "/lib", upper, work, build] { try fm.createDirectory(atPath: d, withIntermediateDirectories: true) }
        for (rel, text) in files { try text.write(toFile: "\(src)/\(rel)", atomically: true, encoding: .utf8) }
        T.chownTree(upper); T.chownTree(work)
        let before = try fm.subpathsOfDirectory(atPath: src).sorted()
        let r = try run(["make", "-j2", "-C", T.headers, "M=\(build)", "modules"], profile: try T.profile("kbuild"),
                        mounts: [.overlay(lower: [src], upper: upper, work: work, target: build)], cwd: build,
                        limits: { $0.wallClockSeconds = 600 })
        XCTAssertEqual(r.outcome, .exited(0), r.outputTail)
        var st = stat()
        XCTAssertEqual(stat(upper + "/multi.ko", &st), 0, "the .ko lands in the upper layer")
        XCTAssertEqual(st.st_uid, RootModeTests.buildUID, "owned by the build user, as in the user-namespace mode")
        XCTAssertEqual(stat(upper + "/lib/helper.o", &st), 0)
        XCTAssertEqual(try fm.subpathsOfDirectory(atPath: src).sorted(), before, "the pristine tree is untouched")
    }
}
