/*
 * limits.c — rlimits for the command (computed by Swift from SandboxLimits). Applied in the
 * command's process after fork so pid 1 is not subject to RLIMIT_CPU etc. prlimit64 via
 * setrlimit() is a plain syscall.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

int csb_limits_apply(const struct csb_config *cfg, int *index) {
    for (size_t i = 0; i < cfg->nrlimits; i++) {
        struct rlimit rl = {(rlim_t)cfg->rlimits[i].soft, (rlim_t)cfg->rlimits[i].hard};
        *index = (int)i;
        if (setrlimit((__rlimit_resource_t)cfg->rlimits[i].resource, &rl) < 0) return -1;
    }
    return 0;
}

/* setsid() makes the command the first task of a new scheduler autogroup
 * (CONFIG_SCHED_AUTOGROUP), and an autogroup's weight ignores its tasks' nice values: without
 * this, `nice dkms ...` (or autoinstall running the smaller builds beside the biggest one at
 * a lower priority) would build at full priority. Best effort: the kernel may lack autogroups. Called in the command's process after setsid(). */
void csb_nice_autogroup(void) {
    errno = 0;
    int nice_now = getpriority(PRIO_PROCESS, 0);
    if (errno != 0 || nice_now <= 0) return;
    char buf[4];
    int n = 0;
    if (nice_now >= 10) buf[n++] = (char)('0' + nice_now / 10);
    buf[n++] = (char)('0' + nice_now % 10);
    buf[n++] = '\n';
    int fd = open("/proc/self/autogroup", O_WRONLY | O_CLOEXEC);
    if (fd < 0) return;
    /* Without CAP_SYS_ADMIN in the initial namespace, one such write per 100 ms system-wide
     * succeeds; a niced build started right after its niced dkms.conf evaluation waits its turn. */
    for (int tries = 0; tries < 12; tries++) {
        if (write(fd, buf, (size_t)n) == n || errno != EAGAIN) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    close(fd);
}
