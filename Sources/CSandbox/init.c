/*
 * init.c — the sandbox's pid 1.
 *
 * It forks the command, then only reaps: every orphan in the pid namespace is re-parented to it.
 * When the command exits, pid 1 reports the wait status and exits itself; the kernel then
 * SIGKILLs everything left in the pid namespace (daemons, setsid'd stragglers). When the
 * lifeline pipe from the supervisor reaches EOF (supervisor gone, or it closed the pipe to abort)
 * pid 1 exits too. No PR_SET_PDEATHSIG: it is thread-scoped and would fire when the Swift thread
 * that spawned us retires (bubblewrap#692).
 *
 * Signals sent to pid 1 from inside the namespace are ignored by the kernel unless a handler is
 * installed — we install none (SIGCHLD is consumed through a signalfd).
 */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void csb_init_main(const struct csb_config *cfg, const struct csb_child_fds *fds, cap_t empty) {
    int st = fds->status_w;
    int hostproc = fds->sync_r;

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) csb_fail(st, CSB_STEP_SIGNALFD, errno, -1);

    /* Raw fork: glibc's fork() runs atfork handlers that take malloc locks, which another
     * thread of the Swift process may have held at the moment of clone(). */
    pid_t child = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (child < 0) csb_fail(st, CSB_STEP_FORK, errno, -1);
    if (child == 0) {
        close(sfd);
        close(fds->lifeline_r);
        csb_exec_command(cfg, st, hostproc, empty);
    }
    if (hostproc >= 0) close(hostproc);

    /* pid 1 needs no privilege from here on (in CSB_MODE_ROOT it also becomes the build user).
     * Failure is not fatal for the command, but pid 1 must not stay real root: then it exits,
     * which tears the namespace down. */
    int step;
    if (csb_caps_drop_all(empty, cfg, &step) < 0 && cfg->mode == CSB_MODE_ROOT) {
        kill(child, SIGKILL);
        csb_fail(st, step, errno, -1);
    }

    struct pollfd pfd[2] = {{fds->lifeline_r, POLLIN, 0}, {sfd, POLLIN, 0}};
    for (;;) {
        int r = poll(pfd, 2, -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            _exit(126);
        }
        if (pfd[0].revents) {
            char c;
            if (read(fds->lifeline_r, &c, 1) <= 0) _exit(125); /* supervisor gone: die */
        }
        if (pfd[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0) {
            }
            for (;;) {
                int status;
                pid_t p = waitpid(-1, &status, WNOHANG);
                if (p <= 0) break;
                if (p == child) {
                    csb_report(st, CSB_REC_EXIT, status, 0, 0);
                    _exit(0); /* kernel kills the rest of the namespace */
                }
            }
        }
    }
}
