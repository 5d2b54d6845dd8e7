/*
 * spawn.c — parent side: clone() the namespaces, write the id maps, join the cgroups, release
 * the child. Runs in the (multithreaded) Swift process.
 *
 * clone(), not unshare(): unshare(CLONE_NEWUSER) fails with EINVAL in a multithreaded process
 * (measured). The raw syscall with a NULL stack behaves like fork(): the child continues on a
 * copy-on-write copy of this thread's stack and never returns from this function.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CSB_CLONE_FLAGS (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
/* CSB_MODE_USERNS adds CLONE_NEWUSER (the other namespaces are then owned by it); CSB_MODE_ROOT
 * creates them as real root, in the initial user namespace, and writes no id maps. */
/* CLONE_NEWCGROUP is done by the child with unshare() *after* the parent placed it into the
 * sandbox cgroups, so the cgroup namespace root is the sandbox cgroup, not ours. */

static void close_pair(int p[2]) {
    if (p[0] >= 0) close(p[0]);
    if (p[1] >= 0) close(p[1]);
}

static int fail(struct csb_result *out, int step, int err, int index) {
    out->err_step = step;
    out->err_errno = err;
    out->err_index = index;
    return -1;
}

int csb_spawn(const struct csb_config *cfg, struct csb_result *out) {
    int sync_p[2] = {-1, -1}, status_p[2] = {-1, -1}, life_p[2] = {-1, -1};
    out->init_pid = -1;
    out->status_fd = out->lifeline_fd = -1;
    out->err_step = out->err_errno = 0;
    out->err_index = -1;

    if (pipe2(sync_p, O_CLOEXEC) < 0 || pipe2(status_p, O_CLOEXEC) < 0 ||
        pipe2(life_p, O_CLOEXEC) < 0) {
        int e = errno;
        close_pair(sync_p), close_pair(status_p), close_pair(life_p);
        return fail(out, CSB_STEP_PIPE, e, -1);
    }
    /* Allocated here because cap_init() mallocs; the child uses its copy-on-write copy. */
    cap_t empty = cap_init();
    if (!empty) {
        int e = errno;
        close_pair(sync_p), close_pair(status_p), close_pair(life_p);
        return fail(out, CSB_STEP_CAPS, e, -1);
    }

    /* Supplementary groups: with setgroups=deny the child can never drop the ones it inherits,
     * and root's list contains gid 0. Credentials are per thread in the kernel, so drop them on
     * THIS thread only (raw syscall, not glibc's all-threads setgroups), clone, and restore. */
    gid_t saved_groups[256];
    int ngroups = getgroups(256, saved_groups);
    if (ngroups < 0) {
        int e = errno;
        cap_free(empty);
        close_pair(sync_p), close_pair(status_p), close_pair(life_p);
        return fail(out, CSB_STEP_SETGROUPS, e, -1);
    }
    if (ngroups > 0 && syscall(SYS_setgroups, 0, NULL) < 0) {
        int e = errno;
        cap_free(empty);
        close_pair(sync_p), close_pair(status_p), close_pair(life_p);
        return fail(out, CSB_STEP_SETGROUPS, e, -1);
    }

    /* Block all signals so no Swift/Dispatch handler can run in the child before it resets the
     * dispositions. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);

    unsigned long flags = CSB_CLONE_FLAGS | (cfg->mode == CSB_MODE_ROOT ? 0 : CLONE_NEWUSER);
    pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        struct csb_child_fds fds = {sync_p[0], status_p[1], life_p[0]};
        csb_child_main(cfg, &fds, empty);
    }
    int clone_errno = errno;
    if (ngroups > 0) (void)syscall(SYS_setgroups, (size_t)ngroups, saved_groups);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    cap_free(empty);

    close(sync_p[0]);
    close(status_p[1]);
    close(life_p[0]);
    if (pid < 0) {
        close(sync_p[1]), close(status_p[0]), close(life_p[1]);
        return fail(out, CSB_STEP_CLONE, clone_errno, -1);
    }

    int step = 0, index = -1;
    if (cfg->mode != CSB_MODE_ROOT && csb_user_write_maps(pid, cfg, &step) < 0) goto kill_child;
    step = CSB_STEP_CGROUP;
    for (size_t i = 0; i < cfg->ncgroup_procs; i++) {
        char buf[24];
        int n = snprintf(buf, sizeof buf, "%d\n", (int)pid);
        index = (int)i;
        if (csb_write_file(cfg->cgroup_procs[i], buf, (size_t)n) < 0) goto kill_child;
    }
    index = -1;
    step = CSB_STEP_SYNC;
    if (csb_write_all(sync_p[1], "G", 1) < 0) goto kill_child;
    close(sync_p[1]);

    out->init_pid = pid;
    out->status_fd = status_p[0];
    out->lifeline_fd = life_p[1];
    return 0;

kill_child: {
    int e = errno;
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    close(sync_p[1]), close(status_p[0]), close(life_p[1]);
    return fail(out, step, e, index);
}
}
