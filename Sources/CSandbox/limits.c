/*
 * limits.c — rlimits for the command (computed by Swift from SandboxLimits). Applied in the
 * command's process after fork so pid 1 is not subject to RLIMIT_CPU etc. prlimit64 via
 * setrlimit() is a plain syscall.
 */
#include "internal.h"

#include <sys/resource.h>

int csb_limits_apply(const struct csb_config *cfg, int *index) {
    for (size_t i = 0; i < cfg->nrlimits; i++) {
        struct rlimit rl = {(rlim_t)cfg->rlimits[i].soft, (rlim_t)cfg->rlimits[i].hard};
        *index = (int)i;
        if (setrlimit((__rlimit_resource_t)cfg->rlimits[i].resource, &rl) < 0) return -1;
    }
    return 0;
}
