/*
 * child.c — THE ordered driver. Everything the sandbox does between clone() and execve() is
 * listed here, in order, so the sequence is reviewable on one screen (nsjail's containProc()).
 *
 *   pid 1 (csb_child_main, right after clone with CLONE_NEW{USER,NS,PID,NET,IPC,UTS}; without
 *   NEWUSER in CSB_MODE_ROOT, see csandbox.h):
 *     1. default signal dispositions; close every inherited fd except our pipes, stdout/err and
 *        the detached trees the parent cloned (tree.c, idmap.c)
 *     2. wait until the parent wrote setgroups/uid_map/gid_map and joined us to the cgroups
 *     3. become root *inside* the namespace (= the unprivileged outside uid); CSB_MODE_ROOT:
 *        nothing, we are real root until step 7 / 10
 *     4. unshare(CLONE_NEWCGROUP) now that we sit in the sandbox cgroup (its root becomes ours)
 *     5. build the root filesystem and pivot into it (mnt.c; attaches the id-mapped lower
 *        layers the parent prepared in idmap.c, then closes their fds)
 *     6. chdir(cwd), sethostname; the network namespace is left empty (not even lo is up)
 *     7. fork the command; pid 1 drops its own capabilities (CSB_MODE_ROOT: and becomes the
 *        build user) and becomes the reaper (init.c)
 *   the command (csb_exec_command):
 *     8. setsid (carrying our nice value into the new autogroup); stdin=/dev/null, stdout/stderr from the caller; rlimits; umask 022
 *     9. mark every fd > 2 close-on-exec (close_range CLOEXEC keeps the status pipe usable for
 *        error reports up to execve)
 *    10. drop all capabilities (bounding, ambient, securebits, sets); CSB_MODE_ROOT: switch to
 *        the build user (no groups, run_uid/run_gid) between securebits and the sets
 *    11. PR_SET_NO_NEW_PRIVS
 *    12. load the seccomp BPF — LAST, so the filter need not allow any setup syscall
 *    13. execve (PATH search over envp's PATH without malloc)
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void reset_signal_dispositions(void) {
    struct sigaction sa = {0};
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        (void)sigaction(s, &sa, NULL);
    }
}

void csb_child_main(const struct csb_config *cfg, const struct csb_child_fds *fds, cap_t empty) {
    int st = fds->status_w;
    reset_signal_dispositions(); /* signals stay blocked (spawn.c) until the command starts */

    int keep[CSB_MAX_KEEP_FDS];
    int nkeep = 0;
    keep[nkeep++] = fds->sync_r;
    keep[nkeep++] = fds->status_w;
    keep[nkeep++] = fds->lifeline_r;
    keep[nkeep++] = cfg->stdout_fd;
    keep[nkeep++] = cfg->stderr_fd;
    for (size_t i = 0; i < cfg->ntree_fds && nkeep < CSB_MAX_KEEP_FDS; i++) keep[nkeep++] = cfg->tree_fds[i];
    if (csb_close_all_except(keep, nkeep) < 0) csb_fail(st, CSB_STEP_CLOSE_FDS, errno, -1);

    char go;
    ssize_t n;
    do n = read(fds->sync_r, &go, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) _exit(127); /* parent failed and will report; nothing to add */
    close(fds->sync_r);

    /* CSB_MODE_ROOT: we are real root already and stay so until step 10 (pid 1: step 7). */
    if (cfg->mode != CSB_MODE_ROOT && csb_user_become_root_in_ns() < 0) csb_fail(st, CSB_STEP_SETID, errno, -1);
    if (unshare(CLONE_NEWCGROUP) < 0) csb_fail(st, CSB_STEP_CGROUP_NS, errno, -1);

    int step = 0, index = -1, hostproc = -1;
    if (csb_mnt_build_root(cfg, &step, &index, &hostproc) < 0) csb_fail(st, step, errno, index);
    for (size_t i = 0; i < cfg->ntree_fds; i++) close(cfg->tree_fds[i]);

    if (chdir(cfg->cwd) < 0) csb_fail(st, CSB_STEP_CHDIR, errno, -1);
    if (cfg->hostname && sethostname(cfg->hostname, csb_strlen(cfg->hostname)) < 0)
        csb_fail(st, CSB_STEP_HOSTNAME, errno, -1);

    struct csb_child_fds f = *fds;
    f.sync_r = hostproc; /* reused slot: handed to init.c which passes it to the command */
    csb_init_main(cfg, &f, empty);
}

/* execvpe without malloc: PATH comes from envp (the scrubbed environment), not ours. */
static void exec_search(const struct csb_config *cfg) {
    const char *file = cfg->argv[0];
    char *const *argv = (char *const *)cfg->argv;
    char *const *envp = (char *const *)cfg->envp;
    for (const char *p = file; *p; p++) {
        if (*p == '/') {
            execve(file, argv, envp);
            return;
        }
    }
    const char *path = "/usr/bin:/bin";
    for (size_t i = 0; envp[i]; i++) {
        const char *e = envp[i];
        if (e[0] == 'P' && e[1] == 'A' && e[2] == 'T' && e[3] == 'H' && e[4] == '=') path = e + 5;
    }
    int saw_eacces = 0;
    size_t flen = csb_strlen(file);
    while (*path) {
        char buf[PATH_MAX];
        size_t len = 0;
        while (path[len] && path[len] != ':') len++;
        if (len + 1 + flen + 1 <= sizeof buf) {
            size_t k = 0;
            for (size_t i = 0; i < len; i++) buf[k++] = path[i];
            if (k == 0) buf[k++] = '.';
            buf[k++] = '/';
            for (size_t i = 0; i <= flen; i++) buf[k++] = file[i];
            execve(buf, argv, envp);
            if (errno == EACCES) saw_eacces = 1;
        }
        path += len;
        if (*path == ':') path++;
    }
    errno = saw_eacces ? EACCES : ENOENT;
}

void csb_exec_command(const struct csb_config *cfg, int st, int hostproc_fd, cap_t empty) {
    /* Our host pid, for matching "audit: type=1326 ... pid=N ... syscall=S" kernel records. */
    int32_t host_pid = 0;
    if (hostproc_fd >= 0) {
        char buf[16];
        ssize_t n = readlinkat(hostproc_fd, "self", buf, sizeof buf - 1);
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] >= '0' && buf[i] <= '9') host_pid = host_pid * 10 + (buf[i] - '0');
        close(hostproc_fd);
    }
    csb_report(st, CSB_REC_STARTED, host_pid, (int32_t)getpid(), 0);

    if (setsid() < 0) csb_fail(st, CSB_STEP_SETSID, errno, -1);
    csb_nice_autogroup();

    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0) csb_fail(st, CSB_STEP_STDIO, errno, -1);
    if (dup2(cfg->stdout_fd, 1) < 0 || dup2(cfg->stderr_fd, 2) < 0)
        csb_fail(st, CSB_STEP_STDIO, errno, -1);

    int index = -1;
    if (csb_limits_apply(cfg, &index) < 0) csb_fail(st, CSB_STEP_RLIMIT, errno, index);
    umask(022);

    /* CVE-2024-21626 class: no descriptor but 0-2 may survive execve. */
    if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        csb_fail(st, CSB_STEP_CLOSE_FDS, errno, -1);

    int step = 0;
    if (csb_caps_drop_all(empty, cfg, &step) < 0) csb_fail(st, step, errno, -1);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) csb_fail(st, CSB_STEP_NO_NEW_PRIVS, errno, -1);

    /* Signals were blocked since before clone(); the command starts with an empty mask. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (cfg->filter) {
        struct sock_fprog prog = {cfg->filter_len, (struct sock_filter *)cfg->filter};
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
            csb_fail(st, CSB_STEP_SECCOMP, errno, -1);
    }
    exec_search(cfg);
    csb_fail(st, CSB_STEP_EXEC, errno, -1);
}
