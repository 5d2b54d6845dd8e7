/*
 * user.c — the user namespace.
 *
 * Parent side (runs in the Swift process, normal C is fine): write /proc/<pid>/setgroups = deny,
 * then uid_map and gid_map. The supervisor is root, so it may map the sandbox's root to ANY
 * outside id; the Swift side chooses an unprivileged, dedicated one (default 2000000000), so a
 * process that escaped the namespaces would own nothing on the host (Nix maps to nixbld users
 * for the same reason).
 *
 * Child side: after the maps exist, switch the child's credentials to the in-namespace root, i.e.
 * to the outside uid. Until then the child still carries the host's kuid 0 (unmapped in the
 * namespace), which would make host root-owned files "ours" for DAC owner checks during setup.
 * Raw syscalls: glibc's setresuid() broadcasts to all threads it believes exist (setxid), and
 * after clone() its thread list describes the parent's threads.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int csb_user_write_maps(pid_t pid, const struct csb_config *cfg, int *step) {
    char path[64];
    /* "deny" before gid_map: required for unprivileged writers (CVE-2014-8989) and keeps the
     * sandbox from ever calling setgroups(). Supplementary groups were already dropped on the
     * cloning thread (spawn.c), so nothing is inherited. */
    snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
    *step = CSB_STEP_SETGROUPS;
    if (csb_write_file(path, "deny", 4) < 0) return -1;
    snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
    *step = CSB_STEP_UID_MAP;
    if (csb_write_file(path, cfg->uid_map, csb_strlen(cfg->uid_map)) < 0) return -1;
    snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
    *step = CSB_STEP_GID_MAP;
    if (csb_write_file(path, cfg->gid_map, csb_strlen(cfg->gid_map)) < 0) return -1;
    return 0;
}

/* uid 0 -> uid 0 inside the namespace keeps the capabilities we need for the mount setup (no
 * capability clearing happens on a 0 -> 0 transition); they are dropped explicitly later. */
int csb_user_become_root_in_ns(void) {
    if (syscall(SYS_setresgid, 0, 0, 0) < 0) return -1;
    if (syscall(SYS_setresuid, 0, 0, 0) < 0) return -1;
    return 0;
}

/* CSB_MODE_ROOT only: the child is real root until here. No supplementary groups (the cloning
 * thread already dropped them, spawn.c; repeated so this does not depend on it), then gid before
 * uid (after setresuid we could no longer change the gid). Raw syscalls, as above. Capabilities
 * survive the uid change only because caps.c set SECBIT_NO_SETUID_FIXUP first; it clears them
 * right after. Afterwards the process is dumpable=0 until execve, so the command (same uid)
 * cannot ptrace or read pid 1's memory. */
int csb_user_become_build_user(const struct csb_config *cfg) {
    if (syscall(SYS_setgroups, 0, NULL) < 0) return -1;
    if (syscall(SYS_setresgid, cfg->run_gid, cfg->run_gid, cfg->run_gid) < 0) return -1;
    if (syscall(SYS_setresuid, cfg->run_uid, cfg->run_uid, cfg->run_uid) < 0) return -1;
    return 0;
}
