// Source of a tiny try-syscall style probe (bubblewrap tests/try-syscall.c, moby
// contrib/syscall-test): each subcommand makes one syscall and prints the errno, or gets killed.
enum Probe {
    static let source = #"""
    #define _GNU_SOURCE
    #include <dirent.h>
    #include <errno.h>
    #include <stdio.h>
    #include <string.h>
    #include <sys/ioctl.h>
    #include <sys/socket.h>
    #include <sys/stat.h>
    #include <sys/syscall.h>
    #include <termios.h>
    #include <unistd.h>
    #include <fcntl.h>
    #include <stdlib.h>

    static int report(long rc) { printf("rc=%ld errno=%d\n", rc, rc < 0 ? errno : 0); return 0; }

    int main(int argc, char **argv) {
        if (argc < 2) return 2;
        const char *c = argv[1];
        if (!strcmp(c, "keyctl")) return report(syscall(SYS_keyctl, 0, 0, 0, 0, 0));
        if (!strcmp(c, "ptrace")) return report(syscall(SYS_ptrace, 16 /*ATTACH*/, 1, 0, 0));
        if (!strcmp(c, "bpf")) return report(syscall(SYS_bpf, 0, 0, 0));
        if (!strcmp(c, "ia32")) {
            long ret;
            __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20) : "memory"); /* ia32 getpid */
            return report(ret);
        }
        if (!strcmp(c, "x32")) return report(syscall(39 | 0x40000000)); /* x32 getpid */
        if (!strcmp(c, "tiocsti")) return report(ioctl(1, TIOCSTI, "x"));
        if (!strcmp(c, "tiocsti-high")) return report(syscall(SYS_ioctl, 1, (1UL << 32) | TIOCSTI, "x"));
        if (!strcmp(c, "tcgets")) { struct termios t; return report(ioctl(1, TCGETS, &t)); }
        if (!strcmp(c, "clone3")) return report(syscall(SYS_clone3, NULL, 0));
        if (!strcmp(c, "io_uring")) return report(syscall(SYS_io_uring_setup, 1, NULL));
        if (!strcmp(c, "inet")) return report(socket(AF_INET, SOCK_STREAM, 0));
        if (!strcmp(c, "netlink")) return report(socket(AF_NETLINK, SOCK_RAW, 0));
        if (!strcmp(c, "unix")) return report(socket(AF_UNIX, SOCK_STREAM, 0));
        if (!strcmp(c, "fchmodat2-suid")) {
            int fd = open("/tmp/probe-f", O_CREAT | O_WRONLY, 0644); close(fd);
            return report(syscall(452, AT_FDCWD, "/tmp/probe-f", 04755, 0));
        }
        if (!strcmp(c, "fds")) {
            DIR *d = opendir("/proc/self/fd");
            struct dirent *e;
            while ((e = readdir(d))) {
                if (e->d_name[0] == '.') continue;
                if (atoi(e->d_name) == dirfd(d)) continue;
                printf("fd %s\n", e->d_name);
            }
            return 0;
        }
        return 2;
    }
    """#
}
