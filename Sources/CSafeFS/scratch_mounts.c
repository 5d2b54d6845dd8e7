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

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define SCRATCH_SLOTS 256

/* A slot's path is written before its flag is raised (release), and read by
 * the handler only after it saw the flag (acquire). Registering threads
 * take the mutex; the handler never does. */
static char *scratch_paths[SCRATCH_SLOTS];
static volatile sig_atomic_t scratch_used[SCRATCH_SLOTS];
static pthread_mutex_t scratch_lock = PTHREAD_MUTEX_INITIALIZER;

int csafefs_scratch_register(const char *path) {
    char *copy = strdup(path);
    if (!copy) return -1;
    int slot = -1;
    pthread_mutex_lock(&scratch_lock);
    for (int i = 0; i < SCRATCH_SLOTS && slot < 0; i++) {
        if (scratch_used[i]) continue;
        __atomic_store_n(&scratch_paths[i], copy, __ATOMIC_RELEASE);
        __atomic_store_n(&scratch_used[i], 1, __ATOMIC_RELEASE);
        slot = i;
    }
    pthread_mutex_unlock(&scratch_lock);
    if (slot < 0) free(copy);
    return slot;
}

void csafefs_scratch_unregister(int slot) {
    if (slot >= 0 && slot < SCRATCH_SLOTS) scratch_used[slot] = 0;
}

static void scratch_on_signal(int sig) {
    for (int i = 0; i < SCRATCH_SLOTS; i++) {
        if (!__atomic_load_n(&scratch_used[i], __ATOMIC_ACQUIRE)) continue;
        const char *p = __atomic_load_n(&scratch_paths[i], __ATOMIC_ACQUIRE);
        if (!p) continue;
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
