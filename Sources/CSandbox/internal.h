/*
 * internal.h — shared between the C files of the sandbox core. Not part of the Swift API.
 *
 * Everything declared here runs in the child after clone() unless stated otherwise, so it must
 * stay async-signal-safe: stack buffers only, raw syscalls for credential changes and fork.
 */
#ifndef CSANDBOX_INTERNAL_H
#define CSANDBOX_INTERNAL_H

#include "csandbox.h"
#include <sys/capability.h>

/* File descriptors the child works with (all created O_CLOEXEC by the parent). */
struct csb_child_fds {
    int sync_r;     /* parent writes one byte when maps + cgroups are in place    */
    int status_w;   /* csb_records to the supervisor                              */
    int lifeline_r; /* EOF = supervisor gone: pid 1 exits and the namespace dies  */
};

/* At most this many descriptors survive the child's initial close-all (5 + tree fds; one tree
 * per caller mount since tree.c, so Plan.swift refuses specs needing more). */
#define CSB_MAX_KEEP_FDS 128

/* util.c */
void csb_report(int fd, int32_t type, int32_t a, int32_t b, int32_t c);
__attribute__((noreturn)) void csb_fail(int fd, int step, int err, int index);
int csb_write_all(int fd, const void *buf, size_t len);
int csb_write_file(const char *path, const char *data, size_t len); /* parent side too */
size_t csb_strlen(const char *s);
int csb_mkdir_p(const char *path, unsigned int mode);
int csb_close_all_except(const int *keep, int nkeep);

/* user.c */
int csb_user_write_maps(pid_t pid, const struct csb_config *cfg, int *step); /* parent */
int csb_user_become_root_in_ns(void);                                         /* child  */
int csb_user_become_build_user(const struct csb_config *cfg);                 /* child  */

/* mnt.c */
int csb_mnt_build_root(const struct csb_config *cfg, int *step, int *index, int *hostproc_fd);

/* caps.c */
int csb_caps_drop_all(cap_t empty, const struct csb_config *cfg, int *step);

/* limits.c */
int csb_limits_apply(const struct csb_config *cfg, int *index);
void csb_nice_autogroup(void);

/* init.c */
__attribute__((noreturn)) void csb_init_main(const struct csb_config *cfg,
                                             const struct csb_child_fds *fds, cap_t empty);

/* child.c */
__attribute__((noreturn)) void csb_child_main(const struct csb_config *cfg,
                                              const struct csb_child_fds *fds, cap_t empty);
__attribute__((noreturn)) void csb_exec_command(const struct csb_config *cfg, int status_w,
                                                int hostproc_fd, cap_t empty);

#endif
