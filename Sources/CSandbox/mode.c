/*
 * mode.c — parent side: which mode can this process use (csandbox.h, enum csb_mode)?
 *
 * The user-namespace mode is preferred: it needs no privilege at all once the maps are written.
 * The kernel refuses CLONE_NEWUSER inside a chroot (create_user_ns: current_chrooted() -> EPERM),
 * with user.max_user_namespaces=0 (ENOSPC), under some LSM/seccomp policies (EPERM), and in a
 * multithreaded unshare (EINVAL; we clone, so that one does not apply). Real root can still
 * create every other namespace there, which is what CSB_MODE_ROOT does.
 */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int csb_probe_userns(void) {
    /* Raw clone with a NULL stack: fork semantics; the child only calls _exit. */
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    if (pid < 0) return errno ? errno : EPERM;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return 0;
}

int csb_is_privileged_root(void) {
    if (geteuid() != 0) return 0;
    cap_t caps = cap_get_proc();
    if (!caps) return 0;
    cap_flag_value_t v = CAP_CLEAR;
    int ok = cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET;
    cap_free(caps);
    return ok;
}
