/*
 * scratch_mounts.c: the supervisor's own scratch mounts (the size-capped
 * tmpfs under each build's overlay), undone when dkms is ended by a signal.
 *
 * A SIGTERM or Ctrl-C during a build otherwise left the tmpfs mounted on the
 * host under <dkms_tree>/.sandbox/build-*: the sandbox's processes end with
 * dkms (their lifeline pipe), but this mount is the supervisor's. So did a
 * crash of the supervisor itself (a Swift trap is SIGILL or SIGTRAP, a bad
 * pointer SIGSEGV or SIGBUS, abort() SIGABRT). The handler runs only
 * async-signal-safe calls (umount2, rmdir, sigaction, raise) over a table
 * filled outside it; a slot's path is never freed, so a thread clearing a
 * slot cannot pull a string from under the handler. SIGKILL cannot be
 * caught: the next run sweeps what such a run left (StaleScratch.swift).
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

/* Termination signals, then faults. A handler installed before ours (the
 * Swift runtime's backtracer, a debugger's) is kept and chained to. */
static const int scratch_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT,
                                      SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT};
#define SCRATCH_NSIGNALS (sizeof scratch_signals / sizeof scratch_signals[0])
static struct sigaction scratch_previous[SCRATCH_NSIGNALS];

static int scratch_is_fault(int sig) {
    return sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGTRAP || sig == SIGFPE;
}

static void scratch_on_signal(int sig, siginfo_t *info, void *context) {
    (void)context;
    for (int i = 0; i < SCRATCH_SLOTS; i++) {
        if (!__atomic_load_n(&scratch_used[i], __ATOMIC_ACQUIRE)) continue;
        const char *p = __atomic_load_n(&scratch_paths[i], __ATOMIC_ACQUIRE);
        if (!p) continue;
        (void)umount2(p, MNT_DETACH);
        (void)rmdir(p);
    }
    /* Then the signal does what it did without us: the previous action is
     * put back. A fault the kernel raised (si_code > 0) recurs when this
     * handler returns, at the faulting instruction, and reaches the previous
     * handler with its own siginfo; anything else is raised again, pending
     * until this handler returns (the signal is blocked while it runs). */
    for (unsigned i = 0; i < SCRATCH_NSIGNALS; i++) {
        if (scratch_signals[i] != sig) continue;
        (void)sigaction(sig, &scratch_previous[i], NULL);
    }
    if (scratch_is_fault(sig) && info && info->si_code > 0) return;
    (void)raise(sig);
}

void csafefs_scratch_install_handlers(void) {
    for (unsigned i = 0; i < SCRATCH_NSIGNALS; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = scratch_on_signal;
        sa.sa_flags = SA_SIGINFO;
        sigfillset(&sa.sa_mask);
        if (sigaction(scratch_signals[i], NULL, &scratch_previous[i]) != 0) continue;
        /* A signal the caller ignores (nohup, a parent's SIG_IGN) stays ignored. */
        if (!(scratch_previous[i].sa_flags & SA_SIGINFO) && scratch_previous[i].sa_handler == SIG_IGN) continue;
        (void)sigaction(scratch_signals[i], &sa, NULL);
    }
}
