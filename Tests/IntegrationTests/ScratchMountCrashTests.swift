import XCTest
import Foundation
import Glibc
import TestSupport

/// The supervisor's crash path (scratch_mounts.c): a fault or abort while a build's tmpfs is
/// mounted unmounts and removes it, then the process still dies of that signal, and a
/// handler installed before dkms's (the Swift runtime's backtracer) still gets the fault.
/// The handler is compiled here into a small C program that really faults (a NULL store,
/// `__builtin_trap`, the ud2 a Swift trap executes, abort()), in a private mount namespace
/// so nothing it mounts can reach the host, with a parent that looks at the mount after.
final class ScratchMountCrashTests: XCTestCase {
    static let harness = #"""
    #define _GNU_SOURCE
    #include "csafefs.h"
    #include <signal.h>
    #include <stdio.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/mount.h>
    #include <sys/stat.h>
    #include <sys/wait.h>
    #include <unistd.h>

    static void earlier(int sig) {
        char m[] = "chained  \n";
        m[8] = (char)('A' + sig);
        (void)write(1, m, sizeof m - 1);
        _exit(40);
    }

    static int mounted(const char *dir) {
        FILE *f = fopen("/proc/self/mountinfo", "r");
        char line[4096];
        int found = 0;
        while (f && fgets(line, sizeof line, f)) {
            char *p = strchr(line, ' ');
            for (int i = 0; p && i < 3; i++) p = strchr(p + 1, ' ');
            if (p && strncmp(p + 1, dir, strlen(dir)) == 0 && p[1 + strlen(dir)] == ' ') found = 1;
        }
        if (f) fclose(f);
        return found;
    }

    int main(int argc, char **argv) {
        if (argc != 4) return 2;
        const char *dir = argv[1], *how = argv[2];
        pid_t pid = fork();
        if (pid == 0) {
            if (argv[3][0] == '1') {
                int sigs[] = {SIGSEGV, SIGILL, SIGABRT};
                for (int i = 0; i < 3; i++) signal(sigs[i], earlier);
            }
            csafefs_scratch_install_handlers();
            if (mount("scratch", dir, "tmpfs", 0, "size=1m") != 0) _exit(3);
            if (csafefs_scratch_register(dir) < 0) _exit(4);
            fflush(stdout);
            if (strcmp(how, "segv") == 0) *(volatile int *)0 = 1;
            if (strcmp(how, "trap") == 0) __builtin_trap();
            if (strcmp(how, "abort") == 0) abort();
            _exit(5);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        struct stat sb;
        printf("signal=%d exit=%d mounted=%d exists=%d\n", WIFSIGNALED(st) ? WTERMSIG(st) : 0,
               WIFEXITED(st) ? WEXITSTATUS(st) : -1, mounted(dir), stat(dir, &sb) == 0);
        return 0;
    }
    """#

    func testAFaultOrAbortUnmountsTheScratchAreaAndStillDiesOfIt() throws {
        let work = sh(["mktemp", "-d", "/tmp/dkms-scratch-crash-XXXXXX"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertFalse(work.isEmpty)
        defer { try? FileManager.default.removeItem(atPath: work) }
        try Self.harness.write(toFile: work + "/harness.c", atomically: true, encoding: .utf8)
        let cc = sh(["cc", "-O0", "-o", work + "/harness", "-I", Repo.root + "/Sources/CSafeFS/include",
                     work + "/harness.c", Repo.root + "/Sources/CSafeFS/scratch_mounts.c", "-lpthread"])
        XCTAssertEqual(cc.status, 0, cc.all)
        let cases: [(how: String, sig: Int32)] = [("segv", SIGSEGV), ("trap", SIGILL), ("abort", SIGABRT)]
        for c in cases {
            for chained in [false, true] {
                let dir = work + "/build-\(c.how)-\(chained)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
                let r = sh(["unshare", "-m", "--propagation", "private", work + "/harness", dir, c.how, chained ? "1" : "0"])
                XCTAssertEqual(r.status, 0, r.all)
                let chainedLine = "chained \(Character(UnicodeScalar(UInt8(65 + c.sig))))"
                if chained {
                    XCTAssertTrue(r.all.contains(chainedLine), "\(c.how): the earlier handler got the signal: \(r.all)")
                    XCTAssertTrue(r.all.contains("signal=0 exit=40 mounted=0 exists=0"), "\(c.how), chained: \(r.all)")
                } else {
                    XCTAssertFalse(r.all.contains("chained"), r.all)
                    XCTAssertTrue(r.all.contains("signal=\(c.sig) exit=-1 mounted=0 exists=0"), "\(c.how): \(r.all)")
                }
            }
        }
    }
}
