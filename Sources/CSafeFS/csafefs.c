#define _GNU_SOURCE
#include "csafefs.h"

#include <fcntl.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

int csafefs_openat2_beneath(int dirfd, const char *path, int flags, mode_t mode) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(unsigned)flags;
    /* openat2 refuses a mode without O_CREAT/O_TMPFILE (EINVAL). */
    how.mode = ((flags & O_CREAT) || (flags & __O_TMPFILE)) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long r;
    do { r = syscall(SYS_openat2, dirfd, path, &how, sizeof how); } while (r < 0 && errno == EINTR);
    return (int)r;
}
