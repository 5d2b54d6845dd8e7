import Foundation
import Glibc
import TestSupport

// Support for HostileModuleTests: the shared fixtures (profiles with small
// limits, a prebuilt module, a syscall probe, host-side bait), one case's
// run through the real dkms, and the host evidence checked after it.

/// The uid the sandbox maps its root to (SandboxSpec.IDMap).
let sandboxOutsideUID = 2_000_000_000

/// Where an attack runs.
enum Place: String, CaseIterable {
    /// The module's MAKE command: `bash ./attack.sh && cp prebuilt/dkms_hello.ko .`
    case make
    /// Sourced from dkms.conf itself, at `dkms add` and `dkms build`.
    case conf
    /// PRE_BUILD=attack.sh
    case preBuild
    /// POST_INSTALL=attack.sh and POST_REMOVE=attack.sh, through `dkms install` and `dkms remove`.
    case scripts
}

/// What dkms must do about an attack.
enum Expect {
    /// The attack is denied quietly (it saw an error); the build proceeds and dkms exits 0.
    case proceeds
    /// The sandbox stops the command. dkms names why on one line containing
    /// `reason` (the syscall or the limit) and fails; for POST_INSTALL/POST_REMOVE,
    /// whose failure dkms ignores, it still exits 0 but prints the reason.
    case stopped(reason: String)
    /// The seccomp filter kills the process: like `stopped`, the reason line
    /// says so and, when the kernel log named the call, names `call` (the
    /// log is rate-limited, so the name may be missing, never wrong).
    case killed(call: String)
    /// dkms refuses with this exit code and a message containing `message`.
    case refused(exit: Int32, message: String)
}

/// Fixtures shared by every case, made once per test process.
enum Hostile {
    static let kernel = Kernels.all.first ?? "no-kernel-headers-installed"
    static let arch = sh(["uname", "-m"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    /// The kernel's header trees as installed (Debian: the flavour's objtree and the common
    /// srctree its `source` link names), which no attack may change.
    static let headerDirs: [String] = {
        var dirs: [String] = []
        for link in ["build", "source"] where FileManager.default.fileExists(atPath: "/lib/modules/\(kernel)/\(link)") {
            let real = URL(fileURLWithPath: "/lib/modules/\(kernel)/\(link)").resolvingSymlinksInPath().path
            if !dirs.contains(real) { dirs.append(real) }
        }
        return dirs
    }()

    /// A scratch directory for the shared fixtures, world-searchable so the
    /// sandbox's outside uid can reach what is bound from it.
    static let dir: String = {
        let d = "/tmp/dkms-hostile-\(getpid())"
        _ = sh(["mkdir", "-p", "-m", "0755", d])
        return d
    }()

    /// A profiles directory: the shipped seccomp policies under the names
    /// `hostile` (with the small build limits from
    /// Tests/Fixtures/hostile-profiles) and `hostile-conf` (with the shipped
    /// conf-eval limits, already small); kbuild.json must exist for dkms to
    /// accept the directory.
    static let profiles: String = {
        let d = dir + "/profiles", shipped = Repo.root + "/sandbox-profiles", fixtures = Repo.root + "/Tests/Fixtures/hostile-profiles"
        _ = sh(["mkdir", "-p", d])
        for (from, to) in [("\(shipped)/kbuild.json", "kbuild.json"), ("\(shipped)/kbuild.limits.json", "kbuild.limits.json"),
                           ("\(shipped)/kbuild.json", "hostile.json"), ("\(fixtures)/hostile.limits.json", "hostile.limits.json"),
                           ("\(shipped)/conf-eval.json", "hostile-conf.json"),
                           ("\(shipped)/conf-eval.limits.json", "hostile-conf.limits.json")] {
            _ = sh(["cp", from, "\(d)/\(to)"])
        }
        return d
    }()

    /// dkms_hello.ko built on the host from the example (trusted code), so
    /// that most cases need no kernel build: their MAKE copies it. Built
    /// again when HostileModuleTests' cleanup has removed the shared
    /// directory and a later class (SupervisorHardeningTests) needs it.
    static var prebuiltModule: String {
        let d = dir + "/prebuilt"
        if FileManager.default.fileExists(atPath: d + "/dkms_hello.ko") { return d + "/dkms_hello.ko" }
        _ = sh(["mkdir", "-p", "-m", "0755", dir, d])
        _ = sh(["cp", "\(Repo.root)/examples/dkms-hello-1.0/Makefile", "\(Repo.root)/examples/dkms-hello-1.0/dkms_hello.c", d])
        let r = sh(["make", "-s", "-C", "/lib/modules/\(kernel)/build", "M=\(d)", "modules"])
        precondition(r.status == 0, "building the example module: \(r.all)")
        return d + "/dkms_hello.ko"
    }

    /// The syscall probe, compiled once with gcc.
    static let probe: String = {
        let src = dir + "/probe.c", out = dir + "/probe"
        _ = FileManager.default.createFile(atPath: src, contents: Data(HostileProbe.source.utf8))
        let r = sh(["gcc", "-O1", "-o", out, src])
        precondition(r.status == 0, "gcc probe: \(r.all)")
        return out
    }()

    /// A 0600 canary under /root whose content must never show up anywhere.
    static let canaryPath = "/root/dkms-hostile-canary-\(getpid())"
    static let canarySecret = "canary-\(UUID().uuidString)"
    static let canary: String = {
        let fd = open(canaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        precondition(fd >= 0, "cannot create \(canaryPath)")
        _ = canarySecret.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        return canaryPath
    }()

    /// Digest of the kernel headers: every entry's type, path and link
    /// target, and every regular file's content.
    static func headersDigest() -> String {
        let script = """
        { find "$@" -printf '%y %m %p %l\\n' | sort; find "$@" -type f -print0 | sort -z | xargs -0 sha256sum; } | sha256sum
        """
        return sh(["/bin/bash", "-c", script, "_"] + headerDirs).stdout
    }

    static func cleanup() {
        unlink(canaryPath)
        _ = sh(["rm", "-rf", dir])
    }
}

/// Host-side bait for network attacks: a TCP and a UDP listener on
/// loopback and an abstract unix socket. After a case, none may have seen
/// anything.
final class Listeners {
    let tcp: Int32, udp: Int32, unix: Int32
    let tcpPort: Int, udpPort: Int
    let abstractName: String

    init(marker: String) {
        tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        unix = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        tcpPort = Listeners.bindLoopback(tcp)
        udpPort = Listeners.bindLoopback(udp)
        listen(tcp, 16)
        abstractName = "dkms-hostile-\(marker)"
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(abstractName.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw[0] = 0
            for (i, b) in bytes.enumerated() { raw[i + 1] = b }
        }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(unix, $0, len) } }
        listen(unix, 16)
    }

    static func bindLoopback(_ s: Int32) -> Int {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        a.sin_port = 0
        _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        return Int(UInt16(bigEndian: a.sin_port))
    }

    /// What reached the host, if anything.
    func contacts() -> [String] {
        var seen: [String] = []
        if accept(tcp, nil, nil) >= 0 { seen.append("the loopback TCP listener accepted a connection") }
        if accept(unix, nil, nil) >= 0 { seen.append("the abstract unix socket accepted a connection") }
        var buf = [UInt8](repeating: 0, count: 64)
        if recv(udp, &buf, buf.count, 0) >= 0 { seen.append("the loopback UDP socket received a datagram") }
        return seen
    }

    deinit { close(tcp); close(udp); close(unix) }
}

/// Evidence about host processes and mounts.
enum HostState {
    /// Processes that mention `needle` in their command line or environment,
    /// or that run as the sandbox's uid and mention it anywhere readable.
    static func processes(mentioning needles: [String]) -> [String] {
        var found: [String] = []
        let me = getpid()
        for p in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(p), pid != me else { continue }
            let cmd = read("/proc/\(p)/cmdline")
                .replacingOccurrences(of: "\0", with: " ")
            let env = read("/proc/\(p)/environ")
            let status = read("/proc/\(p)/status")
            let sandboxed = status.split(separator: "\n").contains { $0.hasPrefix("Uid:") && $0.contains("\(sandboxOutsideUID)") }
            if needles.contains(where: { cmd.contains($0) || env.contains($0) }) {
                found.append("pid \(p)\(sandboxed ? " (sandbox uid)" : ""): \(cmd)")
            }
        }
        return found
    }

    static func pids(mentioning needles: [String]) -> [Int32] {
        processes(mentioning: needles).compactMap { Int32($0.dropFirst(4).prefix { $0.isNumber }) }
    }

    /// Processes running as the sandbox's outside uid whose test trees are
    /// gone: left behind by a finished case. (Runs of other test processes
    /// on the machine use the same uid, but their trees still exist.)
    static func orphanedSandboxProcesses() -> [String] {
        var found: [String] = []
        for p in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(p) != nil {
            let status = read("/proc/\(p)/status")
            guard status.split(separator: "\n").contains(where: { $0.hasPrefix("Uid:") && $0.contains("\(sandboxOutsideUID)") }) else { continue }
            let env = read("/proc/\(p)/environ")
            let cwd = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(p)/cwd")) ?? ""
            let tree = env.split(separator: "\0").first { $0.hasPrefix("dkms_tree=") }.map { String($0.dropFirst(10)) }
            let paths = [tree, cwd.contains("/dkms-it-") ? cwd : nil].compactMap { $0 }
            if paths.contains(where: { !FileManager.default.fileExists(atPath: $0) }) {
                let cmd = read("/proc/\(p)/cmdline")
                found.append("pid \(p): \(cmd.replacingOccurrences(of: "\0", with: " ")) (\(paths))")
            }
        }
        return found
    }

    static func mounts(under path: String) -> [String] {
        let text = read("/proc/self/mountinfo")
        return text.split(separator: "\n").map(String.init).filter { $0.contains(path) }
    }
}

/// Digest of a tree for before/after comparison: every entry's type, mode,
/// path and link target, and the content of every regular file up to 64 MiB
/// (larger ones, like a sparse 10 GiB bait, by size and mtime only).
func treeDigest(_ paths: [String]) -> String {
    let existing = paths.filter { FileManager.default.fileExists(atPath: $0) }
    guard !existing.isEmpty else { return "none" }
    let script = """
    { find "$@" -printf '%y %m %s %p %l\\n' | sort
      find "$@" -type f -size -64M -print0 | sort -z | xargs -0 -r sha256sum
      find "$@" -type f -size +64M -printf '%p %s %T@\\n' | sort; } | sha256sum
    """
    return sh(["/bin/bash", "-c", script, "_"] + existing).stdout
}

/// Runs a command with a hard time bound (so a hang fails the case instead
/// of the suite), optionally under a pseudo-terminal.
func boundedRun(_ argv: [String], env: [String: String], seconds: Int = 120, pty: Bool = false) -> (run: Run, timedOut: Bool) {
    let start = Date()
    var cmd = ["/usr/bin/timeout", "-k", "5", "\(seconds)"] + argv
    if pty {
        // script(1) gives dkms a controlling terminal: the TIOCSTI bait.
        cmd = ["/usr/bin/script", "-qec", cmd.map(shellQuoted).joined(separator: " "), "/dev/null"]
    }
    let r = sh(cmd, env: env)
    return (r, r.status == 124 || Date().timeIntervalSince(start) >= Double(seconds))
}

func shellQuoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// A C probe for raw syscalls (the SandboxTests Probe's approach): each
/// subcommand makes one attempt and prints ATTACK-SUCCEEDED only if the
/// kernel said yes; a seccomp kill ends it with SIGSYS.
enum HostileProbe {
    static let source = #"""
    #define _GNU_SOURCE
    #include <errno.h>
    #include <fcntl.h>
    #include <sched.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/ioctl.h>
    #include <sys/mount.h>
    #include <sys/stat.h>
    #include <sys/syscall.h>
    #include <termios.h>
    #include <unistd.h>

    static int verdict(const char *what, long rc) {
        if (rc >= 0) printf("ATTACK-SUCCEEDED %s rc=%ld\n", what, rc);
        else printf("denied %s errno=%d (%s)\n", what, errno, strerror(errno));
        fflush(stdout);
        return 0;
    }

    int main(int argc, char **argv) {
        if (argc < 2) return 2;
        const char *c = argv[1];
        if (!strcmp(c, "keyctl")) return verdict(c, syscall(SYS_keyctl, 0 /*GET_KEYRING_ID*/, -3 /*session*/, 1, 0, 0));
        if (!strcmp(c, "bpf")) return verdict(c, syscall(SYS_bpf, 0 /*MAP_CREATE*/, NULL, 0));
        if (!strcmp(c, "perf_event_open")) {
            char attr[128] = {0};
            *(unsigned *)(attr + 4) = sizeof attr; /* size; type 0 = HARDWARE, config 0 = CYCLES */
            return verdict(c, syscall(SYS_perf_event_open, attr, 0, -1, -1, 0));
        }
        if (!strcmp(c, "ptrace")) return verdict(c, syscall(SYS_ptrace, 16 /*ATTACH*/, 1, 0, 0));
        if (!strcmp(c, "finit_module")) {
            int fd = open(argc > 2 ? argv[2] : "prebuilt/dkms_hello.ko", O_RDONLY);
            return verdict(c, syscall(SYS_finit_module, fd, "", 0));
        }
        if (!strcmp(c, "init_module")) return verdict(c, syscall(SYS_init_module, "x", 1, ""));
        if (!strcmp(c, "mount")) return verdict(c, mount("none", "/tmp", "tmpfs", 0, NULL));
        if (!strcmp(c, "unshare")) return verdict(c, syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS));
        if (!strcmp(c, "setns")) {
            int fd = open("/proc/1/ns/mnt", O_RDONLY);
            return verdict(c, syscall(SYS_setns, fd < 0 ? 0 : fd, 0));
        }
        if (!strcmp(c, "ia32")) {
            long ret;
            __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20) : "memory"); /* ia32 getpid */
            return verdict(c, ret);
        }
        if (!strcmp(c, "x32")) return verdict(c, syscall(39 | 0x40000000)); /* x32 getpid */
        if (!strcmp(c, "fchmodat2-suid")) {
            const char *f = argc > 2 ? argv[2] : "/tmp/probe-suid";
            int fd = open(f, O_CREAT | O_WRONLY, 0755); close(fd);
            long rc = syscall(452, AT_FDCWD, f, 04755, 0);
            struct stat st;
            if (rc >= 0 && stat(f, &st) == 0 && !(st.st_mode & S_ISUID)) rc = -1;
            return verdict(c, rc);
        }
        if (!strcmp(c, "tiocsti")) {
            /* Inject a command into whatever terminal we can reach. */
            const char *cmd = "echo ATTACK-SUCCEEDED tiocsti-injected\n";
            int any = 0;
            int tty = open("/dev/tty", O_RDWR);
            int fds[4] = {0, 1, 2, tty};
            for (int i = 0; i < 4; i++) {
                if (fds[i] < 0) continue;
                if (ioctl(fds[i], TIOCSTI, cmd) == 0) { printf("ATTACK-SUCCEEDED tiocsti fd %d\n", i); any = 1; }
                /* CVE-2019-10063 shape: garbage in the high 32 bits. */
                if (syscall(SYS_ioctl, fds[i], (1UL << 32) | TIOCSTI, cmd) == 0) { printf("ATTACK-SUCCEEDED tiocsti-high fd %d\n", i); any = 1; }
            }
            if (!any) printf("denied tiocsti (tty fd %d errno=%d)\n", tty, errno);
            return 0;
        }
        if (!strcmp(c, "fds")) {
            /* Any descriptor beyond 0-2 is a way out (CVE-2024-21626 shape). */
            for (int fd = 3; fd < 1024; fd++) {
                char path[64], target[4096];
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                ssize_t n = readlink(path, target, sizeof target - 1);
                if (n < 0) continue;
                target[n] = 0;
                /* dkms.conf's evaluator hands its own record file on fd 3: inside the sandbox, harmless. */
                if (!strncmp(target, "/run/dkms-conf/", 15)) continue;
                printf("ATTACK-SUCCEEDED inherited fd %d -> %s\n", fd, target);
            }
            return 0;
        }
        return 2;
    }
    """#
}

extension Hostile {
    /// Put in dkms's own environment by the supervisor-environment case.
    static let supervisorSecret = "token-\(UUID().uuidString)"
    /// In the victim module's 0600 secret.txt.
    static let victimSecret = "victim-\(UUID().uuidString)"
}

/// What dkms is asked to do with the module of a path-traversal case.
enum NameAction { case build, install, addPath }

/// One attack: a bash snippet (run as attack.sh) and where it runs.
/// Placeholders: @MARKER@ / @NUMBER@ (this case's number), @PORT@,
/// @UDPPORT@, @ABSTRACT@ (host listeners), @CANARY@. `won WHAT` prints the
/// success line; snippets end in `true` unless being stopped is the point.
struct Attack {
    var name: String
    var script: String
    var places: [Place] = Place.allCases
    var expect: Expect = .proceeds
    var extraEnv: [String: String] = [:]
    var pty = false
    /// The snippet makes dkms_hello.ko itself (MAKE runs only the snippet).
    var buildsItself = false
    /// Extra files in the module source, made on the host.
    var sourceSetup: ((String) -> Void)?
    /// A whole dkms.conf instead of the place's default (path-traversal cases).
    var conf: String?
    /// Lines added to the place's default dkms.conf.
    var confExtra = ""
    var action: NameAction = .build
    /// What a refusal must quote to name the offending file.
    var namesFile = "dkms.conf"
    /// Run with the sandbox off: only for checking that the detectors work.
    var unconfined = false

    init(_ name: String, _ script: String, places: [Place] = Place.allCases, expect: Expect = .proceeds,
         extraEnv: [String: String] = [:], pty: Bool = false, buildsItself: Bool = false,
         sourceSetup: ((String) -> Void)? = nil, conf: String? = nil, confExtra: String = "", action: NameAction = .build,
         namesFile: String = "dkms.conf", unconfined: Bool = false) {
        self.name = name; self.script = script; self.places = places; self.expect = expect
        self.extraEnv = extraEnv; self.pty = pty; self.buildsItself = buildsItself
        self.sourceSetup = sourceSetup; self.conf = conf; self.confExtra = confExtra; self.action = action
        self.namesFile = namesFile; self.unconfined = unconfined
    }
}

/// One attack in one place, on its own hermetic trees.
struct HostileCase {
    let attack: Attack
    let place: Place
    let number = String(UInt32.random(in: 100_000_000...999_999_999))
    var marker: String { "HOSTILE-\(number)" }
    let trees = TestTrees(kernels: [Hostile.kernel])
    var k: String { Hostile.kernel }
    var moduleSource: String { attack.action == .addPath ? trees.base + "/incoming/hx" : trees.sourceTree + "/hx-1.0" }

    func run() -> [String] {
        defer { trees.cleanup() }
        let listeners = Listeners(marker: number)
        setUpTrees(listeners)
        let protected = protectedPaths()
        let before = treeDigest(protected)

        var problems: [String] = []
        var outputs: [String] = []
        var env = ["DKMS_CONFIG_DIR": trees.configDir]
        for (key, v) in attack.extraEnv { env[key] = v }
        for (i, args) in commands().enumerated() {
            let (r, timedOut) = boundedRun([Repo.dkms] + args + trees.treeArgs, env: env, pty: attack.pty)
            outputs.append(r.all)
            if timedOut { problems.append("dkms \(args[0]) did not finish in time (status \(r.status))") }
            // Only the first command is where the attack's fate shows; a
            // second one (remove after install) must simply succeed.
            if i == 0 { problems += judge(r) } else if r.status != 0, case .proceeds = attack.expect {
                problems.append("dkms \(args[0]) failed with \(r.status): \(r.all.suffix(2000))")
            }
            if r.all.contains("Segmentation fault") || r.all.contains("Fatal error") {
                problems.append("dkms crashed: \(r.all.suffix(2000))")
            }
        }
        let all = outputs.joined(separator: "\n")
        problems += leaks(all)
        problems += listeners.contacts()
        if treeDigest(protected) != before { problems.append("protected trees changed: \(protected)") }
        problems += markerFiles()
        // Everything the sandbox started ends with dkms.
        let left = HostState.processes(mentioning: [number, trees.base])
        if !left.isEmpty { problems.append("processes left behind: \(left)") }
        let mounts = HostState.mounts(under: trees.base) + (trees.isDefault ? HostState.mounts(under: trees.dkmsTree + "/") : [])
        if !mounts.isEmpty { problems.append("mounts left behind: \(mounts)") }
        // A flood may not reach the host's disk: the trees stay small.
        let kib = (trees.isDefault ? [trees.base, trees.dkmsTree] : [trees.base])
            .map { Int(sh(["du", "-sk", $0]).stdout.prefix { $0.isNumber }) ?? 0 }.reduce(0, +)
        if kib > 160 << 10 { problems.append("the test trees grew to \(kib) KiB") }
        if !problems.isEmpty { problems.append("output was:\n\(all.suffix(6000))") }
        return problems
    }

    // MARK: set-up

    func setUpTrees(_ l: Listeners) {
        let fm = FileManager.default
        // framework.conf: the small-limits profiles.
        var framework = "sandbox_profiles_dir=\(Hostile.profiles)\nsandbox_profile=hostile\nsandbox_conf_profile=hostile-conf\n"
        if attack.unconfined { framework += "sandbox=no\n" }
        _ = fm.createFile(atPath: trees.configDir + "/framework.conf", contents: Data(framework.utf8))
        // A victim module with a secret, in the source tree and the dkms tree.
        let victim = trees.sourceTree + "/victim-1.0"
        writeModule(at: victim, name: "victim", conf: "PACKAGE_NAME=victim\nPACKAGE_VERSION=1.0\n")
        _ = fm.createFile(atPath: victim + "/secret.txt", contents: Data(Hostile.victimSecret.utf8), attributes: [.posixPermissions: 0o600])
        try? fm.createDirectory(atPath: trees.dkmsTree + "/victim/1.0", withIntermediateDirectories: true)
        try? fm.createSymbolicLink(atPath: trees.dkmsTree + "/victim/1.0/source", withDestinationPath: victim)
        // Something already installed that nobody may touch.
        try? fm.createDirectory(atPath: "\(trees.installTree)/\(k)/kernel/drivers/victim", withIntermediateDirectories: true)
        _ = fm.createFile(atPath: "\(trees.installTree)/\(k)/kernel/drivers/victim/victim.ko", contents: Data("installed".utf8))

        // The hostile module: the example's sources, the prebuilt module, the probe, the attack.
        let src = moduleSource
        try? fm.createDirectory(atPath: src + "/prebuilt", withIntermediateDirectories: true)
        for f in ["Makefile", "dkms_hello.c"] { try? fm.copyItem(atPath: "\(Repo.root)/examples/dkms-hello-1.0/\(f)", toPath: "\(src)/\(f)") }
        try? fm.copyItem(atPath: Hostile.prebuiltModule, toPath: src + "/prebuilt/dkms_hello.ko")
        try? fm.copyItem(atPath: Hostile.probe, toPath: src + "/probe")
        let script = "#!/bin/bash\nwon() { echo \"ATTACK-SUCC\"\"EEDED $*\"; }\n" + substitute(attack.script, l) + "\n"
        _ = fm.createFile(atPath: src + "/attack.sh", contents: Data(script.utf8), attributes: [.posixPermissions: 0o755])
        _ = fm.createFile(atPath: src + "/dkms.conf", contents: Data(substitute(attack.conf ?? conf(), l).utf8))
        attack.sourceSetup?(src)
    }

    func substitute(_ s: String, _ l: Listeners) -> String {
        s.replacingOccurrences(of: "@MARKER@", with: number)
            .replacingOccurrences(of: "@NUMBER@", with: number)
            .replacingOccurrences(of: "@PORT@", with: "\(l.tcpPort)")
            .replacingOccurrences(of: "@UDPPORT@", with: "\(l.udpPort)")
            .replacingOccurrences(of: "@ABSTRACT@", with: l.abstractName)
            .replacingOccurrences(of: "@CANARY@", with: Hostile.canaryPath)
    }

    /// dkms.conf for the place: the attack wired so that its failure (a
    /// kill, a limit) fails the step it runs in.
    func conf() -> String {
        let copy = "cp prebuilt/dkms_hello.ko ."
        var make = attack.buildsItself ? "true" : copy
        var extra = ""
        switch place {
        case .make: make = attack.buildsItself ? "bash ./attack.sh" : "bash ./attack.sh && \(copy)"
        case .conf: extra = "bash ./attack.sh 1>&2 || exit $?"
        case .preBuild: extra = "PRE_BUILD=attack.sh"
        case .scripts: extra = "POST_INSTALL=attack.sh\nPOST_REMOVE=attack.sh"
        }
        return """
        PACKAGE_NAME="hx"
        PACKAGE_VERSION="1.0"
        BUILT_MODULE_NAME[0]="dkms_hello"
        DEST_MODULE_LOCATION[0]="/updates/dkms"
        MAKE[0]="\(make)"
        \(extra)
        \(attack.confExtra)

        """
    }

    func commands() -> [[String]] {
        let kargs = ["-k", k, "--no-cache"]
        switch (attack.action, place) {
        case (.addPath, _): return [["add", moduleSource]]
        case (.install, _): return [["install", "hx/1.0"] + kargs]
        case (_, .scripts): return [["install", "hx/1.0"] + kargs, ["remove", "hx/1.0", "--all"]]
        default: return [["build", "hx/1.0"] + kargs]
        }
    }

    /// Trees the case may not change: the sources (its own included: the
    /// build works on an overlay), the victim's dkms tree, dkms's config and
    /// the install tree (only its kernel/ part when the case installs).
    func protectedPaths() -> [String] {
        // With the default trees, /usr/src also holds the kernels' header trees (read-only
        // binds, too large to digest per case) and /lib/modules every kernel: the parts
        // the case set up stand for them.
        let sources = trees.isDefault ? [trees.sourceTree + "/victim-1.0", trees.sourceTree + "/hx-1.0"] : [trees.sourceTree]
        let installed = trees.isDefault ? "\(trees.installTree)/\(k)" : trees.installTree
        var paths = sources + [trees.dkmsTree + "/victim", trees.configDir]
        if attack.action == .addPath { paths.append(moduleSource) }
        paths.append(place == .scripts || attack.action == .install ? "\(trees.installTree)/\(k)/kernel" : installed)
        return paths
    }

    // MARK: verdicts

    func judge(_ r: Run) -> [String] {
        var problems: [String] = []
        let lines = r.all.split(separator: "\n")
        switch attack.expect {
        case .proceeds:
            if r.status != 0 { problems.append("expected dkms to succeed (the attack merely denied), got \(r.status)") }
        case .stopped(let reason):
            // POST_INSTALL/POST_REMOVE failures do not fail dkms (as in dkms 3.x).
            let wantZero = place == .scripts
            if wantZero ? r.status != 0 : r.status == 0 { problems.append("unexpected exit status \(r.status)") }
            if !lines.contains(where: { $0.contains(reason) }) { problems.append("no line names the reason '\(reason)'") }
        case .killed(let call):
            if place == .scripts ? r.status != 0 : r.status == 0 { problems.append("unexpected exit status \(r.status)") }
            let reasons = lines.filter { $0.contains("killed by the seccomp filter") }
            if reasons.isEmpty { problems.append("no line says the seccomp filter killed '\(call)'") }
            if !reasons.isEmpty, !reasons.contains(where: { $0.contains("for calling") }) {
                print("note: \(attack.name) in \(place.rawValue): the kernel log did not name the call")
            }
            for l in reasons where l.contains("for calling ") && !l.contains("for calling \(call)") {
                problems.append("the reason names the wrong call (expected \(call)): \(l)")
            }
        case .refused(let exit, let message):
            if exit >= 0 ? r.status != exit : r.status == 0 { problems.append("expected exit \(exit < 0 ? "non-zero" : "\(exit)"), got \(r.status)") }
            if !lines.contains(where: { $0.contains(message) }) { problems.append("no line says '\(message)'") }
            if attack.conf != nil, !r.all.contains(attack.namesFile) { problems.append("the error does not name \(attack.namesFile)") }
            // Nothing was taken from the build.
            let kos = sh(["find"] + trees.moduleFileRoots.filter { FileManager.default.fileExists(atPath: $0) } + ["-name", "*.ko*", "-not", "-path", "*/kernel/drivers/victim/*"]).stdout
            if !kos.isEmpty { problems.append("modules were copied: \(kos)") }
        }
        return problems
    }

    /// Nothing the attack was after may show up in dkms's output or any
    /// make.log: success lines, the canary, the victim's secret, the
    /// supervisor's secret, a private key. Searched with grep: a flood
    /// leaves megabytes of text.
    func leaks(_ output: String) -> [String] {
        let outFile = trees.base + "/dkms-output.txt"
        _ = FileManager.default.createFile(atPath: outFile, contents: Data(output.utf8))
        defer { unlink(outFile) }
        let logs = sh(["find", trees.base] + (trees.isDefault ? [trees.dkmsTree] : []) + ["-name", "make.log"]).stdout.split(separator: "\n").map(String.init)
        var problems: [String] = []
        for file in [outFile] + logs {
            let what = file == outFile ? "dkms output" : file
            let won = sh(["/bin/bash", "-c", "grep -a -h -F ATTACK-SUCCEEDED \"$1\" | head -5", "_", file]).stdout
            if !won.isEmpty { problems.append("\(what): \(won.split(separator: "\n").joined(separator: " | "))") }
            let secrets = [Hostile.canarySecret, Hostile.victimSecret, Hostile.supervisorSecret, "PRIVATE KEY"]
            if sh(["grep", "-a", "-q", "-F"] + secrets.flatMap { ["-e", $0] } + [file]).status == 0 {
                problems.append("\(what) contains a secret")
            }
        }
        return problems
    }

    /// Files named after this case anywhere an attack aimed at.
    func markerFiles() -> [String] {
        var roots = [trees.base] + Hostile.headerDirs
        roots += ["/etc", "/lib/modules/\(k)", "/root", "/tmp", "/var/tmp", "/var/lib/dkms"].filter { FileManager.default.fileExists(atPath: $0) }
        let r = sh(["/bin/bash", "-c", "find \"$@\" -maxdepth 4 -name '*\(number)*' -not -path '*/incoming/*' 2>/dev/null", "_"] + roots)
        let hits = r.stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        return hits.isEmpty ? [] : ["files created outside: \(hits)"]
    }
}
