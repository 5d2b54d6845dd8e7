/*
 * util.c — tiny async-signal-safe helpers used after clone(): error reporting over the status
 * pipe, full writes, mkdir -p with a stack buffer, and closing inherited descriptors.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

size_t csb_strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

int csb_write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* One record = one write() of 16 bytes: atomic on a pipe, so pid 1 and the command can share
 * the same pipe without interleaving. */
void csb_report(int fd, int32_t type, int32_t a, int32_t b, int32_t c) {
    struct csb_record r = {type, a, b, c};
    int saved = errno;
    (void)csb_write_all(fd, &r, sizeof r);
    errno = saved;
}

/* Report (step, errno, index) and die. _exit, never exit: no atexit handlers or stdio flushing
 * in a copy of a multithreaded process. */
void csb_fail(int fd, int step, int err, int index) {
    csb_report(fd, CSB_REC_ERROR, step, err, index);
    _exit(127);
}

int csb_write_file(const char *path, const char *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = csb_write_all(fd, data, len);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* mkdir -p using a stack copy of the path. Existing directories are fine. */
int csb_mkdir_p(const char *path, unsigned int mode) {
    char buf[PATH_MAX];
    size_t n = csb_strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (size_t i = 0; i <= n; i++) buf[i] = path[i];
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, mode) < 0 && errno != EEXIST) return -1;
            buf[i] = saved;
        }
    }
    return 0;
}

/* Close every descriptor except `keep` (small list). The clone child inherits ALL descriptors of
 * the Swift process — including other sandboxes' lifeline pipes, which would otherwise keep
 * those sandboxes alive — so this runs first thing in the child. Uses close_range(2). */
int csb_close_all_except(const int *keep, int nkeep) {
    int sorted[CSB_MAX_KEEP_FDS];
    int n = 0;
    for (int i = 0; i < nkeep && n < CSB_MAX_KEEP_FDS; i++) {
        if (keep[i] < 0) continue;
        int v = keep[i], j = n++;
        while (j > 0 && sorted[j - 1] > v) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = v;
    }
    unsigned int from = 3;
    for (int i = 0; i < n; i++) {
        if ((unsigned int)sorted[i] < from) continue;
        if ((unsigned int)sorted[i] > from &&
            syscall(SYS_close_range, from, (unsigned int)sorted[i] - 1, 0) < 0)
            return -1;
        from = (unsigned int)sorted[i] + 1;
    }
    return (int)syscall(SYS_close_range, from, ~0U, 0);
}

const char *csb_step_name(int step) {
    switch (step) {
    case CSB_STEP_PIPE: return "create pipes";
    case CSB_STEP_CLONE: return "clone namespaces";
    case CSB_STEP_SETGROUPS: return "write setgroups";
    case CSB_STEP_UID_MAP: return "write uid_map";
    case CSB_STEP_GID_MAP: return "write gid_map";
    case CSB_STEP_CGROUP: return "join cgroup";
    case CSB_STEP_SYNC: return "wait for parent";
    case CSB_STEP_SETID: return "switch to namespace root";
    case CSB_STEP_CGROUP_NS: return "unshare cgroup namespace";
    case CSB_STEP_MAKE_PRIVATE: return "make mounts private";
    case CSB_STEP_BASE_TMPFS: return "mount base tmpfs";
    case CSB_STEP_PIVOT_BASE: return "pivot to base tmpfs";
    case CSB_STEP_NEWROOT_TMPFS: return "mount new root tmpfs";
    case CSB_STEP_OP: return "mount";
    case CSB_STEP_HOSTPROC: return "open host proc";
    case CSB_STEP_DETACH_OLDROOT: return "detach old root";
    case CSB_STEP_PIVOT: return "pivot_root";
    case CSB_STEP_ROOT_READONLY: return "make root read-only";
    case CSB_STEP_CHDIR: return "chdir";
    case CSB_STEP_HOSTNAME: return "sethostname";
    case CSB_STEP_SIGNALFD: return "signalfd";
    case CSB_STEP_FORK: return "fork command";
    case CSB_STEP_SETSID: return "setsid";
    case CSB_STEP_STDIO: return "set up stdio";
    case CSB_STEP_RLIMIT: return "setrlimit";
    case CSB_STEP_CLOSE_FDS: return "close inherited fds";
    case CSB_STEP_CAPS: return "drop capabilities";
    case CSB_STEP_NO_NEW_PRIVS: return "set no_new_privs";
    case CSB_STEP_SECCOMP: return "load seccomp filter";
    case CSB_STEP_BUILD_USER: return "become the build user";
    case CSB_STEP_ROOT_MOUNTPOINT: return "leave the plain-directory chroot to make mounts private";
    case CSB_STEP_EXEC: return "execve";
    default: return "unknown step";
    }
}

int csb_memfd(const char *name) {
    return (int)syscall(SYS_memfd_create, name, 1u /* MFD_CLOEXEC */);
}

#include <sys/vfs.h>
long csb_fs_magic(const char *path) {
    struct statfs st;
    if (statfs(path, &st) < 0) return -1;
    return (long)st.f_type;
}

int csb_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
