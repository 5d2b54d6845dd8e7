import XCTest
import Foundation

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

    /// The same filter as SandboxTests/ChrootModeTests: clone with CLONE_NEW* flags, unshare,
    /// setns and mount fail with EPERM, clone3 with ENOSYS.
    static let noNamespaces = #"""
    #include <errno.h>
    #include <linux/filter.h>
    #include <linux/seccomp.h>
    #include <stddef.h>
    #include <stdio.h>
    #include <sys/prctl.h>
    #include <sys/syscall.h>
    #include <unistd.h>
    #define NEWMASK 0x7E020000u /* NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET */
    #define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
    int main(int argc, char **argv) {
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
            BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, NEWMASK, 0, 1),
            RET(SECCOMP_RET_ERRNO | EPERM),
            RET(SECCOMP_RET_ALLOW),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
            RET(SECCOMP_RET_ERRNO | ENOSYS),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 3, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_setns, 2, 0),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mount, 1, 0),
            RET(SECCOMP_RET_ALLOW),
            RET(SECCOMP_RET_ERRNO | EPERM),
        };
        struct sock_fprog prog = {sizeof f / sizeof f[0], f};
        if (argc < 2) return 2;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
            perror("seccomp");
            return 2;
        }
        execv(argv[1], argv + 1);
        perror("execv");
        return 127;
    }
    """#
}
