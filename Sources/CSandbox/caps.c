/*
 * caps.c — drop every capability: bounding set, ambient set, and the permitted / effective /
 * inheritable sets (via libcap, with a cap_t allocated by the parent BEFORE clone() because
 * cap_init() mallocs). The command runs as uid 0 inside its user namespace, so an execve()
 * would normally grant it the full bounding set again; an empty bounding set plus SECBIT_NOROOT
 * makes sure it gets nothing.
 *
 * In CSB_MODE_ROOT (no user namespace) the process also stops being root: between the
 * securebits (which need CAP_SETPCAP) and clearing the sets, it switches to the build user
 * (user.c); CAP_SETUID/CAP_SETGID are still effective at that point.
 */
#include "internal.h"

#include <errno.h>
#include <linux/securebits.h>
#include <sys/prctl.h>

int csb_caps_drop_all(cap_t empty, const struct csb_config *cfg, int *step) {
    *step = CSB_STEP_CAPS;
    /* Bounding set first: PR_CAPBSET_DROP needs CAP_SETPCAP in the effective set. Unknown cap
     * numbers (beyond the kernel's CAP_LAST_CAP) fail with EINVAL, which we ignore. */
    for (int c = 0; c < 64; c++) {
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) return -1;
    }
    if (cap_reset_ambient() < 0 && errno != EINVAL) return -1;
    /* Root in the namespace must not regain capabilities on execve, and must not be able to
     * re-enable that later. Also needs CAP_SETPCAP, hence before cap_set_proc(). */
    unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                         SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                         SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0) return -1;
    if (cfg->mode == CSB_MODE_ROOT) {
        *step = CSB_STEP_BUILD_USER;
        if (csb_user_become_build_user(cfg) < 0) return -1;
        *step = CSB_STEP_CAPS;
    }
    if (cap_set_proc(empty) < 0) return -1;
    return 0;
}
