import XCTest
import Foundation
import Glibc
import TestSupport

/// Hostile modules driven through the real `dkms` binary. Each case is a
/// small module whose MAKE, dkms.conf, PRE_BUILD or POST_INSTALL/POST_REMOVE
/// runs an attack; the attack prints ATTACK-SUCCEEDED only if it worked.
/// Every case asserts a clean denial (dkms ends in bounded time with the
/// expected status and, when the sandbox stopped something, a one-line
/// reason), nothing changed on the host (digests of the test trees, bait
/// files, listeners, the kernel headers), and no process or mount left behind.
///
/// Most cases do not compile anything: MAKE copies a module prebuilt once on
/// the host, so a case costs one or two sandbox runs, not a kernel build.
/// Limits come from Tests/Fixtures/hostile-profiles (seconds, not hours).
final class HostileModuleTests: XCTestCase {
    /// The headers must be identical after every test; measured once up front.
    static let headersBefore = Hostile.headersDigest()

    override class func setUp() {
        super.setUp()
        _ = headersBefore
        _ = (Hostile.profiles, Hostile.prebuiltModule, Hostile.probe, Hostile.canary)
    }

    override class func tearDown() {
        Hostile.cleanup()
        super.tearDown()
    }

    override func tearDown() {
        XCTAssertEqual(Hostile.headersDigest(), HostileModuleTests.headersBefore, "the kernel headers changed")
        XCTAssertEqual(HostState.orphanedSandboxProcesses(), [], "sandboxed processes outlived their test trees")
        XCTAssertTrue(FileManager.default.contents(atPath: Hostile.canaryPath).map { String(decoding: $0, as: UTF8.self) } == Hostile.canarySecret,
                      "the canary was changed")
        super.tearDown()
    }

    // MARK: - The attacks

    func testNetwork() {
        run([
            Attack("tcp-to-loopback-listener", """
            python3 -c 'import socket
            try:
                socket.create_connection(("127.0.0.1", @PORT@), timeout=3); print("ATTACK-SUCC" "EEDED tcp")
            except OSError as e: print("denied tcp", e)'
            (exec 3<>/dev/tcp/127.0.0.1/@PORT@) 2>/dev/null && won bash /dev/tcp
            python3 -c 'import socket
            try:
                s = socket.socket(socket.AF_INET6); s.settimeout(3); s.connect(("::1", @PORT@)); print("ATTACK-SUCC" "EEDED tcp6")
            except OSError as e: print("denied tcp6", e)'
            python3 -c 'import socket
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"x", ("127.0.0.1", @UDPPORT@)); print("sent udp (must not arrive)")
            except OSError as e: print("denied udp", e)'
            true
            """),
            Attack("abstract-unix-socket", """
            python3 -c 'import socket
            try:
                s = socket.socket(socket.AF_UNIX); s.connect("\\0@ABSTRACT@"); print("ATTACK-SUCC" "EEDED abstract unix")
            except OSError as e: print("denied abstract unix", e)'
            true
            """),
            Attack("dns", """
            getent hosts deb.debian.org && won getent
            python3 -c 'import socket
            try:
                print("ATTACK-SUCC" "EEDED dns", socket.getaddrinfo("deb.debian.org", 80))
            except OSError as e: print("denied dns", e)'
            [ -e /etc/resolv.conf ] && won resolv.conf visible
            true
            """),
            Attack("raw-sockets", """
            python3 -c 'import socket
            for name, args in [("raw icmp", (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)),
                               ("packet", (socket.AF_PACKET, socket.SOCK_RAW, 0)),
                               ("netlink route", (socket.AF_NETLINK, socket.SOCK_RAW, 0)),
                               ("icmp ping", (socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP))]:
                try:
                    socket.socket(*args); print("ATTACK-SUCC" "EEDED", name)
                except OSError as e: print("denied", name, e)'
            true
            """),
        ])
    }

    func testReadingSecrets() {
        run([
            Attack("root-canary", """
            cat @CANARY@ && won read the canary
            ls /root && won listed /root
            for p in /proc/[0-9]*; do cat $p/root@CANARY@ 2>/dev/null && won via $p/root; done
            true
            """),
            Attack("other-module-tree", """
            cat "$source_tree/victim-1.0/secret.txt" && won victim source
            cat "$dkms_tree/victim/1.0/source/secret.txt" && won victim dkms tree
            # (With dkms's default trees /var/lib/dkms is where this module's own tree is shown.)
            ls /var/lib/dkms 2>/dev/null | grep -qvx "$module" && won host dkms tree
            cat "$dkms_tree/mok.key" /var/lib/dkms/mok.key /var/lib/shim-signed/mok/MOK.priv && won module signing key
            cat /etc/shadow && won shadow
            ls "$dkms_tree" 2>/dev/null | grep -q victim && won sees the victim
            true
            """),
            Attack("supervisor-environment", """
            env | grep SECRET_TOKEN && won env
            cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n' | grep SECRET_TOKEN && won proc environ
            true
            """, extraEnv: ["SECRET_TOKEN": Hostile.supervisorSecret]),
        ])
    }

    func testWritingOutside() {
        // Only files that were already there count as "written" from inside:
        // a path under /tmp may exist in the sandbox's own /tmp. The host
        // side (digests, marker files) is the real judge.
        run([
            Attack("write-headers", """
            touch "$kernel_source_dir/HOSTILE-@MARKER@" && won headers
            touch /usr/src/linux-headers-$kernelver/HOSTILE-@MARKER@ && won headers
            touch "$(readlink -f /lib/modules/$kernelver/source)/HOSTILE-@MARKER@" && won common headers
            [ -f "$kernel_source_dir/Makefile" ] && : >> "$kernel_source_dir/Makefile" && won append headers
            true
            """),
            Attack("write-etc", """
            touch /etc/HOSTILE-@MARKER@ && won etc
            echo 'x::0:0::/:/bin/sh' >> /etc/passwd && won passwd
            true
            """),
            Attack("write-install-tree", """
            touch /lib/modules/$kernelver/HOSTILE-@MARKER@ && won host install tree
            mkdir -p /lib/modules/$kernelver/updates/HOSTILE-@MARKER@ && won host updates
            [ -f "$install_tree/$kernelver/modules.dep" ] && echo x >> "$install_tree/$kernelver/modules.dep" && won test install tree
            [ -d "$install_tree/$kernelver/kernel" ] && touch "$install_tree/$kernelver/kernel/HOSTILE-@MARKER@" && won test install tree
            true
            """),
            Attack("write-other-modules", """
            [ -f "$source_tree/victim-1.0/victim.c" ] && echo x >> "$source_tree/victim-1.0/victim.c" && won victim source
            [ -d "$dkms_tree/victim/1.0" ] && touch "$dkms_tree/victim/1.0/HOSTILE-@MARKER@" && won victim dkms tree
            echo x >> "$dkms_tree/$module/$module_version/source/dkms.conf" && won own pristine source
            touch "$dkms_tree/$module/$module_version/source/HOSTILE-@MARKER@" && won own pristine source
            true
            """),
        ])
    }

    func testProcWalks() {
        run([
            Attack("proc-self-fd-and-proc-1-root", """
            ./probe fds
            ls -la /proc/self/fd/
            for p in /proc/[0-9]*; do
                [ -e "$p/root$source_tree/victim-1.0" ] && won victim via $p/root
                [ -e "$p/root/root" ] && ls "$p/root/root" 2>/dev/null | grep -q dkms-hostile && won host root via $p/root
                [ -e "$p/cwd/$module-$module_version" ] && won cwd of $p
            done
            readlink /proc/1/root /proc/1/cwd
            [ -e /sys/fs/cgroup/cgroup.procs ] && echo $$ > /sys/fs/cgroup/cgroup.procs && won cgroup escape
            true
            """),
        ])
    }

    func testSyscalls() {
        var attacks: [Attack] = []
        for call in ["mount", "unshare", "setns", "keyctl", "bpf", "perf_event_open", "ptrace", "finit_module", "init_module"] {
            attacks.append(Attack(call, "./probe \(call)", expect: .killed(call: call)))
        }
        // The same through ordinary tools, as a Makefile would call them.
        attacks.append(Attack("unshare-tool", "unshare -U true", expect: .killed(call: "unshare")))
        // util-linux mount tries the new mount API first.
        attacks.append(Attack("mount-tool", "mount -t tmpfs none /tmp", expect: .killed(call: "")))
        run(attacks, parallel: 1)
    }

    func testForeignABIs() {
        run([
            Attack("ia32", "./probe ia32", expect: .killed(call: "getpid (ia32)")),
            Attack("x32", "./probe x32", expect: .killed(call: "getpid (x32)")),
        ], parallel: 1)
    }

    func testSetuidChmod() {
        run([
            Attack("setuid-chmod", """
            for f in ./suid-@MARKER@ /tmp/suid-@MARKER@; do
                cp /bin/true "$f" 2>/dev/null || continue
                chmod 4755 "$f" && [ -u "$f" ] && won chmod u+s $f
                chmod 2755 "$f" && [ -g "$f" ] && won chmod g+s $f
                python3 -c 'import os, sys; os.chmod(sys.argv[1], 0o4755)' "$f" 2>/dev/null && [ -u "$f" ] && won os.chmod $f
                ./probe fchmodat2-suid "$f"
            done
            true
            """),
        ])
    }

    func testTIOCSTIUnderAPty() {
        run([Attack("tiocsti", "./probe tiocsti\npython3 -c 'import fcntl, termios, os\nfor fd in (0, 1, 2):\n    try:\n        fcntl.ioctl(fd, termios.TIOCSTI, b\"x\"); print(\"ATTACK-SUCC\" \"EEDED tiocsti\", fd)\n    except OSError as e: print(\"denied tiocsti\", fd, e)'\ntrue",
                    pty: true)])
    }

    func testCapabilitiesAreEmpty() {
        run([
            Attack("capabilities", """
            status=$(cat /proc/self/status)
            echo "$status" | grep -E '^(Cap|NoNewPrivs|Seccomp)'
            for cap in CapInh CapPrm CapEff CapBnd CapAmb; do
                echo "$status" | grep -q "^$cap:[[:space:]]*0000000000000000$" || won $cap is not empty
            done
            echo "$status" | grep -q '^NoNewPrivs:[[:space:]]*1$' || won NoNewPrivs is not 1
            echo "$status" | grep -q '^Seccomp:[[:space:]]*2$' || won Seccomp is not 2
            true
            """),
        ])
    }

    func testResourceBombs() {
        run([
            Attack("fork-bomb", "bomb() { bomb | bomb & }; bomb; sleep 30", expect: .stopped(reason: "pids limit")),
            Attack("memory-bomb", "exec python3 -c 'b = bytearray(1 << 30); b[::4096] = b\"x\" * (len(b) // 4096); print(\"ATTACK-SUCC\" \"EEDED 1 GiB\")'",
                   expect: .stopped(reason: "memory limit")),
            // The memory limit holds for all processes together, not each.
            Attack("memory-across-processes", """
            # Each holds 100 MiB, then counts the holders still alive: four
            # or more at once is over the 256 MiB limit. (Files, not a
            # directory: dkms.conf may not mkdir.) A line a second keeps the
            # no-output limit from ending it first on a loaded machine.
            (while sleep 1; do echo waiting for the holders; done) & ticker=$!
            pids=
            for i in 1 2 3 4 5 6 7 8; do
                python3 -c 'import glob, os, time
            b = bytearray(100 << 20); b[::4096] = b"x" * (len(b) // 4096)
            open("/tmp/held-@MARKER@-%d" % os.getpid(), "w").close()
            time.sleep(1.5)
            def alive(f):
                try: os.kill(int(f.rsplit("-", 1)[1]), 0); return True
                except OSError: return False
            print("together", sum(alive(f) for f in glob.glob("/tmp/held-@MARKER@-*")), flush=True)
            time.sleep(0.5)' > /tmp/held-@MARKER@.out.$i 2>/dev/null &
            pids="$pids $!"
            done; wait $pids; kill $ticker
            cat /tmp/held-@MARKER@.out.* > /tmp/held-@MARKER@.out
            n=$(sort -k2 -n /tmp/held-@MARKER@.out | tail -1 | cut -d' ' -f2)
            echo "at most ${n:-0} holders of 100 MiB at once"
            [ "${n:-0}" -ge 4 ] && won held $((n * 100)) MiB at once
            true
            """),
            Attack("endless-loop", "while :; do :; done", expect: .stopped(reason: "limit was exceeded")),
            Attack("disk-filler", """
            # 512 KiB files, under every file-size limit: only the size of the
            # writable areas stops this.
            total=0
            for dir in . /tmp; do
                for i in $(seq 1 2048); do head -c 512K /dev/zero > "$dir/fill-$i" 2>/dev/null || break; total=$((total + 1)); done
                rm -f "$dir"/fill-* 2>/dev/null
            done
            echo "wrote $((total / 2)) MiB"
            [ $total -ge 800 ] && won wrote $((total / 2)) MiB
            true
            """),
            // Output is a file on the host too (make.log): capped like any file the build writes.
            Attack("output-flood", "yes ATTACK-FLOOD-LINE | head -c 3G; true", expect: .stopped(reason: "fileSize limit")),
            Attack("daemon", """
            setsid sleep 1@NUMBER@ >/dev/null 2>&1 < /dev/null &
            (trap '' HUP TERM; exec sleep 2@NUMBER@) >/dev/null 2>&1 &
            python3 -c 'import glob, os, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.execvp("sleep", ["sleep", "3@NUMBER@"])
                os._exit(0)' < /dev/null > /dev/null 2>&1
            echo daemons started
            true
            """),
        ])
    }

    /// The build's output replaced after the build (in MAKE) or planted
    /// before it (in PRE_BUILD): dkms must refuse it and copy nothing.
    /// STRIP is off so the trap reaches dkms's own checks (strip runs inside
    /// the sandbox and fails on most traps by itself: one case keeps it).
    func testOutputReplaced() {
        func trap(_ name: String, _ script: String, _ expect: Expect, strip: Bool = false, conf: String = "",
                  setup: ((String) -> Void)? = nil) -> Attack {
            Attack(name, script, places: [.make, .preBuild], expect: expect, buildsItself: true, sourceSetup: setup,
                   confExtra: (strip ? "" : "STRIP[0]=no\n") + conf)
        }
        let copy = "cp prebuilt/dkms_hello.ko . && "
        run([
            trap("symlink", copy + "ln -sf /etc/shadow dkms_hello.ko", .refused(exit: 7, message: "is a symbolic link")),
            trap("symlink-stripped", copy + "ln -sf /etc/shadow dkms_hello.ko", .refused(exit: 7, message: "Stripping the built modules failed"),
                 strip: true),
            trap("symlink-to-built", copy + "mv dkms_hello.ko real.ko && ln -s real.ko dkms_hello.ko", .refused(exit: 7, message: "is a symbolic link")),
            trap("symlinked-directory", copy + "mkdir -p sub && mv dkms_hello.ko sub/ && mv sub sub.real && ln -s sub.real sub",
                 .refused(exit: 7, message: "Build of sub/dkms_hello.ko failed"), conf: "BUILT_MODULE_LOCATION[0]=sub/"),
            trap("hard-link", copy + "ln dkms_hello.ko keep.ko", .refused(exit: 7, message: "hard links")),
            trap("fifo", "mkfifo dkms_hello.ko", .refused(exit: 7, message: "is not a regular file")),
            trap("directory", "mkdir dkms_hello.ko", .refused(exit: 7, message: "is not a regular file")),
            // A 10 GiB sparse file written in the build hits the file-size limit,
            trap("sparse-10g-written", "exec truncate -s 10G dkms_hello.ko", .refused(exit: -1, message: "fileSize limit")),
            // so does one shipped in the source and moved (the overlay copies it up),
            trap("sparse-10g-moved", "mv big.ko dkms_hello.ko", .refused(exit: -1, message: "fileSize limit"),
                 setup: { _ = sh(["truncate", "-s", "10G", $0 + "/big.ko"]) }),
            // and one shipped as the output itself is too large to accept.
            trap("sparse-10g-shipped", "true", .refused(exit: 7, message: "is larger than"),
                 setup: { _ = sh(["truncate", "-s", "10G", $0 + "/dkms_hello.ko"]) }),
        ])
    }

    /// Names that end up in paths: refused with an error naming dkms.conf,
    /// before anything is created.
    func testPathTraversalInNames() {
        func named(_ name: String, _ conf: String, action: NameAction = .build, exit: Int32, _ message: String,
                   namesFile: String = "dkms.conf") -> Attack {
            Attack(name, "true", places: [.conf], expect: .refused(exit: exit, message: message), conf: conf, action: action,
                   namesFile: namesFile)
        }
        let module = "BUILT_MODULE_NAME[0]=dkms_hello\nDEST_MODULE_LOCATION[0]=/updates/dkms\nMAKE[0]=\"cp prebuilt/dkms_hello.ko .\"\n"
        let base = "PACKAGE_NAME=hx\nPACKAGE_VERSION=1.0\n" + module
        run([
            named("package-name-dotdot", "PACKAGE_NAME='../../HOSTILE-@MARKER@'\nPACKAGE_VERSION=1.0\n" + module, action: .addPath, exit: 8,
                  "PACKAGE_NAME '../../HOSTILE-"),
            named("package-name-slash", "PACKAGE_NAME='x/HOSTILE-@MARKER@'\nPACKAGE_VERSION=1.0\n" + module, action: .addPath, exit: 8, "contains '/'"),
            named("package-name-comma", "PACKAGE_NAME='HOSTILE-@MARKER@,upperdir=x'\nPACKAGE_VERSION=1.0\n" + module, action: .addPath, exit: 8,
                  "contains ','"),
            named("package-name-dash", "PACKAGE_NAME='-HOSTILE-@MARKER@'\nPACKAGE_VERSION=1.0\n" + module, action: .addPath, exit: 8,
                  "begins with '-'"),
            named("package-version-dotdot", "PACKAGE_NAME=hx\nPACKAGE_VERSION='../../../HOSTILE-@MARKER@'\n" + module, action: .addPath, exit: 8,
                  "PACKAGE_VERSION '../../../HOSTILE-"),
            named("built-module-name-dotdot", base + "BUILT_MODULE_NAME[0]='../../../HOSTILE-@MARKER@'\n", exit: 8, "'BUILT_MODULE_NAME' directive contains '..'"),
            named("built-module-name-slash", base + "BUILT_MODULE_NAME[0]='x/HOSTILE-@MARKER@'\n", exit: 8, "'BUILT_MODULE_NAME' directive contains '/'"),
            named("built-module-name-dash", base + "BUILT_MODULE_NAME[0]='-HOSTILE-@MARKER@'\n", exit: 8, "'BUILT_MODULE_NAME' directive begins with '-'"),
            named("built-module-location-dotdot", base + "BUILT_MODULE_LOCATION[0]='../../../../'\n", exit: 8, "'BUILT_MODULE_LOCATION' directive contains '..'"),
            named("dest-module-name-dotdot", base + "DEST_MODULE_NAME[0]='../../HOSTILE-@MARKER@'\n", exit: 8, "'DEST_MODULE_NAME' directive contains '..'"),
            named("dest-location-dotdot", base + "DEST_MODULE_LOCATION[0]='/updates/../../../../../../HOSTILE-@MARKER@'\n", action: .install, exit: 8,
                  "'DEST_MODULE_LOCATION' directive contains '..'"),
            named("dest-location-comma", base + "DEST_MODULE_LOCATION[0]='/updates/a,HOSTILE-@MARKER@'\n", action: .install, exit: 8,
                  "'DEST_MODULE_LOCATION' directive contains ','"),
            named("dest-location-dash", base + "DEST_MODULE_LOCATION[0]='/updates/-HOSTILE-@MARKER@'\n", action: .install, exit: 8,
                  "'DEST_MODULE_LOCATION' directive begins with '-'"),
            named("patch-dotdot", base + "PATCH[0]='../../HOSTILE-@MARKER@'\n", exit: 5, "contains '..' path component",
                  namesFile: "../../HOSTILE-"),
            named("pre-build-dotdot", base + "PRE_BUILD='../../../../../bin/true'\n", exit: 8, "contains '..'",
                  namesFile: "'../../../../../bin/true'"),
        ])
    }

    /// The detectors themselves: with the sandbox off (only for attacks
    /// that are harmless on the host), the same checks must see the attack.
    func testDetectorsSeeAnUnconfinedAttack() {
        let attacks = [
            Attack("unconfined-canary", "cat @CANARY@ && won read the canary; true", places: [.make], unconfined: true),
            Attack("unconfined-tcp", "(exec 3<>/dev/tcp/127.0.0.1/@PORT@) && won tcp; true", places: [.make], unconfined: true),
            Attack("unconfined-caps", "grep -q '^CapEff:[[:space:]]*0000000000000000$' /proc/self/status || won CapEff; true",
                   places: [.make], unconfined: true),
            // Detached from every descriptor, so that only the process check can notice it.
            Attack("unconfined-daemon", """
            python3 -c 'import os; os.closerange(3, 65536); os.setsid(); os.execvp("sleep", ["sleep", "1@NUMBER@"])' </dev/null >/dev/null 2>&1 &
            true
            """, places: [.make], unconfined: true),
        ]
        for a in attacks {
            let c = HostileCase(attack: a, place: .make)
            let problems = c.run().joined(separator: "\n")
            if a.name == "unconfined-daemon" {
                XCTAssertTrue(problems.contains("processes left behind"), problems)
                // It really is left behind: end it, by pid.
                for pid in HostState.pids(mentioning: [c.number]) { kill(pid, SIGKILL) }
                continue
            }
            XCTAssertTrue(problems.contains("ATTACK-SUCCEEDED"), "\(a.name): \(problems)")
            if a.name == "unconfined-canary" { XCTAssertTrue(problems.contains("contains a secret"), problems) }
            if a.name == "unconfined-tcp" { XCTAssertTrue(problems.contains("TCP listener accepted"), problems) }
        }
    }

    // MARK: - Running cases

    /// Runs every attack in each of its places; problems are collected per
    /// case and reported with the case's name.
    /// Cases run three at a time (each on its own trees, listeners and
    /// marker); failures are reported from the test's thread. Seccomp kills
    /// run one at a time: the kernel log that names them is rate-limited and
    /// shared by every run of the same outside uid.
    func run(_ attacks: [Attack], parallel: Int = 3) {
        // The default trees are one set for all: cases take turns there.
        let parallel = TestTrees.useDefaultTrees ? 1 : parallel
        let cases = attacks.flatMap { a in a.places.map { (a, $0) } }
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var byIndex: [Int: (problems: [String], seconds: Double)] = [:]
        }
        let results = Results()
        let slots = DispatchSemaphore(value: parallel)
        let group = DispatchGroup()
        for (i, c) in cases.enumerated() {
            slots.wait()
            group.enter()
            DispatchQueue.global().async {
                let started = Date()
                let problems = HostileCase(attack: c.0, place: c.1).run()
                results.lock.lock()
                results.byIndex[i] = (problems, Date().timeIntervalSince(started))
                results.lock.unlock()
                slots.signal()
                group.leave()
            }
        }
        group.wait()
        for (i, c) in cases.enumerated() {
            let label = "\(c.0.name) in \(c.1.rawValue)"
            let r = results.byIndex[i] ?? (["no result"], 0)
            for p in r.problems { XCTFail("\(label): \(p)") }
            print("hostile case \(label): \(r.problems.isEmpty ? "ok" : "FAILED") in \(String(format: "%.1f", r.seconds)) s")
        }
    }
}
