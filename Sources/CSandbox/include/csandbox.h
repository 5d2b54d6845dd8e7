/*
 * csandbox.h — the C core of the build sandbox.
 *
 * Division of labour (see /work/shared/research/sandbox-anchors.md §0, §5):
 *   - The Swift side (target `Sandbox`) decides EVERYTHING in the parent: argv/envp arrays, the
 *     list of filesystem operations (with final paths), uid/gid map strings, rlimits, the cgroup
 *     files to join, and the seccomp BPF program (compiled by libseccomp in the parent).
 *   - This C code only executes that plan. It runs after clone() in a copy of a multithreaded
 *     process, so it may use async-signal-safe calls only: no malloc, no stdio, no Swift, no
 *     glibc wrappers that touch thread state (fork(), setresuid(), setgroups()). Raw syscalls are
 *     used for those.
 *
 * One entry point: csb_spawn(). It returns as soon as the sandbox's pid 1 exists and was
 * released; the caller then reads `struct csb_record`s from result.status_fd until EOF.
 */
#ifndef CSANDBOX_H
#define CSANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>
/* Re-exported so the Swift policy layer can drive libseccomp directly. */
#include <seccomp.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Layout used while building the new root (bubblewrap's scheme): a throw-away tmpfs becomes the
 * root, the host root is reachable below CSB_OLD_ROOT and the sandbox root is assembled below
 * CSB_NEW_ROOT. Swift prefixes host paths with CSB_OLD_ROOT and sandbox paths with CSB_NEW_ROOT. */
#define CSB_OLD_ROOT "/oldroot"
#define CSB_NEW_ROOT "/newroot"

/* Filesystem operations, interpreted in order by the child (mnt.c). */
enum csb_op_kind {
    CSB_OP_BIND = 1, /* recursive bind src -> dst; dst created as dir or empty file to match src */
    CSB_OP_OVERLAY = 2, /* overlay at dst; data = complete, already escaped option string       */
    CSB_OP_TMPFS = 3,   /* tmpfs at dst; data = option string (size=..,mode=..)                  */
    CSB_OP_PROC = 4,    /* fresh procfs at dst (we are already pid 1 of the new pid namespace)   */
    CSB_OP_MKDIR = 5,   /* mkdir -p dst, mode `mode`                                              */
    CSB_OP_FILE = 6,    /* create dst containing data[0..data_len), mode `mode`                   */
    CSB_OP_SYMLINK = 7, /* symlink(data, dst)                                                     */
    CSB_OP_ATTACH = 8,  /* move_mount(fd `mode`) to dst: a detached tree the parent cloned (tree.c,
                         * idmap.c); dst made as dir or file to match; then made private and given
                         * `flags` recursively, like BIND                                           */
    CSB_OP_SEAL = 9,    /* give the mount at dst `flags` (not recursively): a tmpfs made read-only
                         * once its mount points are made (the /usr/src mask)                     */
};

/* How the sandbox gets its privilege for the setup (see docs/sandbox.md, "Modes").
 *   CSB_MODE_USERNS: a new user namespace; root inside = uid_map's outside uid. The default.
 *   CSB_MODE_ROOT:   no user namespace (refused in a chroot): the other namespaces are created
 *                    as real root, the root filesystem is built as root, then pid 1 and the
 *                    command become run_uid/run_gid with no groups and no capabilities. */
enum csb_mode {
    CSB_MODE_USERNS = 0,
    CSB_MODE_ROOT = 1,
};

/* Mount attribute flags for csb_op.flags (applied recursively after a bind with mount_setattr,
 * or passed as MS_* flags for fresh mounts). */
#define CSB_F_RDONLY 0x1u
#define CSB_F_NOSUID 0x2u
#define CSB_F_NODEV 0x4u
#define CSB_F_NOEXEC 0x8u

struct csb_op {
    int kind;
    unsigned int flags;
    unsigned int mode;
    const char *src;  /* host path, already under CSB_OLD_ROOT (BIND only)            */
    const char *dst;  /* sandbox path, already under CSB_NEW_ROOT                     */
    const char *data; /* options / file contents / symlink target                    */
    size_t data_len;
};

struct csb_rlimit {
    int resource; /* RLIMIT_* */
    uint64_t soft;
    uint64_t hard;
};

struct csb_config {
    const char *const *argv; /* NULL-terminated; argv[0] is searched in envp's PATH if no '/' */
    const char *const *envp; /* NULL-terminated, already scrubbed                              */
    const char *cwd;         /* inside the sandbox                                             */
    const char *hostname;

    const struct csb_op *ops;
    size_t nops;

    const char *uid_map; /* e.g. "0 2000000000 1\n", written by the parent */
    const char *gid_map;

    const char *const *cgroup_procs; /* cgroup.procs files the parent writes pid 1 into */
    size_t ncgroup_procs;

    const struct csb_rlimit *rlimits;
    size_t nrlimits;

    const struct sock_filter *filter; /* BPF exported by libseccomp; NULL = no filter (tests) */
    unsigned short filter_len;

    int stdout_fd; /* become fd 1 / fd 2 of the command; stdin is always /dev/null */
    int stderr_fd;

    const int *tree_fds; /* detached mount trees for CSB_OP_ATTACH (kept open in the child) */
    size_t ntree_fds;

    int mode;             /* enum csb_mode */
    unsigned int run_uid; /* CSB_MODE_ROOT: the unprivileged ids pid 1 and the command switch to */
    unsigned int run_gid;
};

/* Setup steps, reported with errno when they fail. csb_step_name() gives the text. */
enum csb_step {
    CSB_STEP_PIPE = 1,
    CSB_STEP_CLONE,
    CSB_STEP_SETGROUPS,
    CSB_STEP_UID_MAP,
    CSB_STEP_GID_MAP,
    CSB_STEP_CGROUP,
    CSB_STEP_SYNC,
    CSB_STEP_SETID,
    CSB_STEP_CGROUP_NS,
    CSB_STEP_MAKE_PRIVATE,
    CSB_STEP_BASE_TMPFS,
    CSB_STEP_PIVOT_BASE,
    CSB_STEP_NEWROOT_TMPFS,
    CSB_STEP_OP, /* index = operation index */
    CSB_STEP_HOSTPROC,
    CSB_STEP_DETACH_OLDROOT,
    CSB_STEP_PIVOT,
    CSB_STEP_ROOT_READONLY,
    CSB_STEP_CHDIR,
    CSB_STEP_HOSTNAME,
    CSB_STEP_SIGNALFD,
    CSB_STEP_FORK,
    CSB_STEP_SETSID,
    CSB_STEP_STDIO,
    CSB_STEP_RLIMIT, /* index = rlimit index */
    CSB_STEP_CLOSE_FDS,
    CSB_STEP_CAPS,
    CSB_STEP_NO_NEW_PRIVS,
    CSB_STEP_BUILD_USER, /* CSB_MODE_ROOT: setgroups/setresgid/setresuid to run_uid/run_gid */
    CSB_STEP_ROOT_MOUNTPOINT, /* the root is no mount point (a chroot into a plain directory) */
    CSB_STEP_SECCOMP,
    CSB_STEP_EXEC,
};

/* Records sent on result.status_fd (one write each, < PIPE_BUF, hence atomic). */
enum csb_record_type {
    CSB_REC_ERROR = 1,   /* a = step, b = errno, c = index                              */
    CSB_REC_STARTED = 2, /* a = host pid of the command (0 if unknown), b = pid inside  */
    CSB_REC_EXIT = 3,    /* a = wait status of the command                              */
};

struct csb_record {
    int32_t type;
    int32_t a;
    int32_t b;
    int32_t c;
};

struct csb_result {
    pid_t init_pid;  /* host pid of the sandbox's pid 1; SIGKILL it to tear everything down */
    int status_fd;   /* read end for csb_records (O_CLOEXEC); EOF once pid 1 is gone        */
    int lifeline_fd; /* write end (O_CLOEXEC); closing it makes pid 1 exit                  */
    int err_step;    /* when csb_spawn returns -1 */
    int err_errno;
    int err_index;
};

/* Start the sandbox. Returns 0 and fills `out`, or -1 with out->err_* set. Thread-safe as long
 * as `cfg` is not mutated concurrently. */
int csb_spawn(const struct csb_config *cfg, struct csb_result *out);

/* Parent side, optional: an id-mapped, read-only, detached clone of the host directory `path`
 * (open_tree + mount_setattr(MOUNT_ATTR_IDMAP)), in which files owned by host uid/gid 0 appear
 * owned by `outside_uid`/`outside_gid` — the sandbox's identity. Used for overlay lower layers
 * that are root-owned (e.g. /usr/src/<module>-<version>): without it the build could not create
 * files in their subdirectories. Returns the tree fd (O_CLOEXEC) or -1 with errno. Needs root
 * and a filesystem that supports id-mapped mounts. */
int csb_idmapped_tree(const char *path, unsigned int outside_uid, unsigned int outside_gid);

/* Parent side: a detached, recursive clone of the host path `path` (open_tree with
 * OPEN_TREE_CLONE | AT_RECURSIVE | OPEN_TREE_CLOEXEC), looked up with the supervisor's own
 * credentials, so the sandbox can attach it even where its unprivileged identity could not
 * traverse the path (a source under a 0700 directory). Returns the fd or -1 with errno. */
int csb_clone_tree(const char *path);

/* Parent side (mode.c): can this process create a user namespace? Clones a throw-away child
 * with CLONE_NEWUSER. Returns 0, or the errno of the refusal (EPERM in a chroot, EINVAL, ENOSPC
 * with user.max_user_namespaces=0). */
int csb_probe_userns(void);

/* Parent side (mode.c): 1 when the effective uid is 0 and CAP_SYS_ADMIN is effective (real root,
 * the precondition of CSB_MODE_ROOT), else 0. */
int csb_is_privileged_root(void);

/* memfd_create(name, MFD_CLOEXEC) — Swift's Glibc module is built without _GNU_SOURCE. Used to
 * receive libseccomp's BPF export (seccomp_export_bpf writes to an fd in libseccomp 2.5). */
int csb_memfd(const char *name);

/* statfs(path).f_type, or -1 with errno (cgroup v1/v2 detection; sys/vfs.h is not in Swift's
 * Glibc module). */
long csb_fs_magic(const char *path);

/* pipe2(fds, O_CLOEXEC). */
int csb_pipe_cloexec(int fds[2]);

/* Human-readable name of a csb_step (static string). */
const char *csb_step_name(int step);

#ifdef __cplusplus
}
#endif
#endif
