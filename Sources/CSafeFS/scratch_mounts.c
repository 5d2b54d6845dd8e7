/*
 * scratch_mounts.c: the supervisor's own scratch mounts (the size-capped
 * tmpfs under each build's overlay), undone when dkms is ended by a signal.
 *
 * A SIGTERM or Ctrl-C during a build otherwise left the tmpfs mounted on the
 * host under <dkms_tree>/.sandbox/build-*: the sandbox's processes end with
 * dkms (their lifeline pipe), but this mount is the supervisor's. The
 * handler runs only async-signal-safe calls (umount2, rmdir, sigaction,
 * raise) over a table filled outside it; a slot's path is never freed, so a
 * thread clearing a slot cannot pull a string from under the handler.
 */
#define _GNU_SOURCE
#include "csafefs.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define SCRATCH_SLOTS 256

static char *scratch_paths[SCRATCH_SLOTS];
static volatile sig_atomic_t scratch_used[SCRATCH_SLOTS];

int csafefs_scratch_register(const char *path) {
    for (int i = 0; i < SCRATCH_SLOTS; i++) {
        if (scratch_used[i] || __atomic_load_n(&scratch_paths[i], __ATOMIC_ACQUIRE) == (char *)1) continue;
        /* Claim the slot (another thread may be registering too). */
        char *expected = scratch_paths[i];
        if (!__atomic_compare_exchange_n(&scratch_paths[i], &expected, (char *)1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            continue;
        char *copy = strdup(path);
        if (!copy) {
            __atomic_store_n(&scratch_paths[i], expected, __ATOMIC_RELEASE);
            return -1;
        }
        __atomic_store_n(&scratch_paths[i], copy, __ATOMIC_RELEASE);
        scratch_used[i] = 1;
        return i;
    }
    return -1;
}

void csafefs_scratch_unregister(int slot) {
    if (slot >= 0 && slot < SCRATCH_SLOTS) scratch_used[slot] = 0;
}

static void scratch_on_signal(int sig) {
    for (int i = 0; i < SCRATCH_SLOTS; i++) {
        if (!scratch_used[i]) continue;
        const char *p = __atomic_load_n(&scratch_paths[i], __ATOMIC_ACQUIRE);
        if (!p || p == (char *)1) continue;
        (void)umount2(p, MNT_DETACH);
        (void)rmdir(p);
    }
    /* Then die of the signal, as without the handler. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    (void)sigaction(sig, &dfl, NULL);
    (void)raise(sig);
}

void csafefs_scratch_install_handlers(void) {
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa, old;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = scratch_on_signal;
        sigfillset(&sa.sa_mask);
        /* A signal the caller ignores (nohup, a parent's SIG_IGN) stays ignored. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        (void)sigaction(sigs[i], &sa, NULL);
    }
}
