/*
 * csafefs.h: the one system call Swift cannot reach through Glibc (openat2,
 * which glibc has no wrapper for; syscall(2) is variadic).
 */
#ifndef CSAFEFS_H
#define CSAFEFS_H

#include <sys/types.h>

/* openat2(dirfd, path, {flags, mode, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS}): returns the descriptor, or -1 with errno set
 * (ENOSYS on kernels before 5.6, EXDEV for an escape, ELOOP for a link). */
int csafefs_openat2_beneath(int dirfd, const char *path, int flags, mode_t mode);

/* The supervisor's scratch mounts (scratch_mounts.c): registered while
 * mounted, unmounted (MNT_DETACH) and removed by the handler of SIGTERM,
 * SIGINT, SIGHUP and SIGQUIT, which then re-raises the signal. register
 * returns a slot (or -1 when the table is full: the mount is then only
 * undone normally). */
int csafefs_scratch_register(const char *path);
void csafefs_scratch_unregister(int slot);
void csafefs_scratch_install_handlers(void);

#endif
