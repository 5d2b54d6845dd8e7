/*
 * mnt.c — build the sandbox's root filesystem (bubblewrap's two-pivot scheme).
 *
 *  1. mount(NULL, "/", MS_REC|MS_PRIVATE): nothing we do may propagate to the host (systemd
 *     makes "/" shared).
 *  2. A small tmpfs on /tmp becomes a temporary root: pivot_root(".", "oldroot") puts the host
 *     root at /oldroot. Host paths are then addressed as /oldroot/<path>, so sources anywhere
 *     (even under the host's /tmp) stay reachable, and the sandbox root is built at /newroot.
 *  3. /newroot is its own tmpfs; the Swift-computed operations fill it (recursive read-only
 *     binds, overlay, tmpfs, proc, dev nodes, synthesized files, symlinks).
 *  4. /oldroot is detached, then pivot_root(".", ".") inside /newroot and a lazy unmount of the
 *     stacked base remove every trace of the host root; "/" is made read-only.
 *
 * Caller-supplied host paths (binds, overlay layers, headers) are not looked up here at all: the
 * parent cloned them (tree.c) and CSB_OP_ATTACH moves the clones in, so a path the sandbox's
 * identity cannot traverse still works. Only the base system (/usr, /lib*, /etc files, /dev
 * nodes) is bound by name from /oldroot.
 *
 * In CSB_MODE_ROOT (a chroot, no user namespace) the same steps run as real root. pivot_root
 * and making "/" private both need the (chroot's) root to be a mount point: true for
 * arch-chroot, the Debian installer's /target, `chroot /mnt` of a mounted file system. A chroot
 * into a plain directory (debootstrap's tree) is handled by leave_plain_chroot() below.
 *
 * Read-only binds use mount_setattr(AT_RECURSIVE) rather than MS_REMOUNT: a remount is not
 * recursive, and inside a user namespace it must repeat the locked flags (nsjail
 * computeRemountFlags). Adding RDONLY/NOSUID/NODEV with mount_setattr never trips over those.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int pivot_root_(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

static unsigned long ms_flags(unsigned int f) {
    unsigned long m = 0;
    if (f & CSB_F_RDONLY) m |= MS_RDONLY;
    if (f & CSB_F_NOSUID) m |= MS_NOSUID;
    if (f & CSB_F_NODEV) m |= MS_NODEV;
    if (f & CSB_F_NOEXEC) m |= MS_NOEXEC;
    return m;
}

static int set_attr(const char *path, unsigned int f, int recursive) {
    struct mount_attr attr = {0};
    if (f & CSB_F_RDONLY) attr.attr_set |= MOUNT_ATTR_RDONLY;
    if (f & CSB_F_NOSUID) attr.attr_set |= MOUNT_ATTR_NOSUID;
    if (f & CSB_F_NODEV) attr.attr_set |= MOUNT_ATTR_NODEV;
    if (f & CSB_F_NOEXEC) attr.attr_set |= MOUNT_ATTR_NOEXEC;
    if (attr.attr_set == 0) return 0;
    return (int)syscall(SYS_mount_setattr, AT_FDCWD, path,
                        (recursive ? AT_RECURSIVE : 0) | AT_NO_AUTOMOUNT, &attr, sizeof attr);
}

/* mkdir -p the parent directory of `path` (stack copy). */
static int mkdir_parent(const char *path) {
    char buf[PATH_MAX];
    size_t n = csb_strlen(path);
    if (n >= sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (size_t i = 0; i <= n; i++) buf[i] = path[i];
    while (n > 1 && buf[n - 1] != '/') n--;
    if (n <= 1) return 0;
    buf[n - 1] = '\0';
    return csb_mkdir_p(buf, 0755);
}

/* The mount point for a bind or an attached tree: a directory, or an empty regular file. */
static int make_target(const char *dst, int is_dir) {
    if (is_dir) return csb_mkdir_p(dst, 0755);
    /* Files and device nodes are bound onto an empty regular file (no mknod in a userns).
     * A file that already exists (under the read-only /usr) is used as it is. */
    struct stat tst;
    if (lstat(dst, &tst) < 0 || !S_ISREG(tst.st_mode)) {
        if (mkdir_parent(dst) < 0) return -1;
        int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0) return -1;
        close(fd);
    }
    return 0;
}

static int do_bind(const struct csb_op *op) {
    struct stat st;
    if (stat(op->src, &st) < 0) return -1;
    if (make_target(op->dst, S_ISDIR(st.st_mode)) < 0) return -1;
    /* MS_REC: a non-recursive bind would expose what submounts hide. */
    if (mount(op->src, op->dst, NULL, MS_BIND | MS_REC, NULL) < 0) return -1;
    return set_attr(op->dst, op->flags, 1);
}

/* Attach a detached tree the parent cloned (tree.c, idmap.c). Targets outside CSB_NEW_ROOT live
 * on the base tmpfs and vanish with it; overlay keeps its own private clones of its layers, so a
 * layer attached there stays valid. The clone of a shared mount joins its peer group: made
 * private at once, so nothing we do to it reaches the host. */
static int do_attach(const struct csb_op *op) {
    int fd = (int)op->mode;
    struct stat st;
    if (fstat(fd, &st) < 0) return -1;
    if (make_target(op->dst, S_ISDIR(st.st_mode)) < 0) return -1;
    if (syscall(SYS_move_mount, fd, "", AT_FDCWD, op->dst, MOVE_MOUNT_F_EMPTY_PATH) < 0) return -1;
    if (mount(NULL, op->dst, NULL, MS_REC | MS_PRIVATE, NULL) < 0) return -1;
    return set_attr(op->dst, op->flags, 1);
}

/* EINVAL from making "/" private: is it because "/" is no mount point? */
static int root_is_mount_point(void) {
    struct statx stx;
    if (statx(AT_FDCWD, "/", AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &stx) < 0) return 1;
    if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) return 1;
    return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

/* A chroot into a plain directory: "/" is no mount point, so neither MS_PRIVATE on it nor
 * pivot_root work. We are real root in our own, new mount namespace (CSB_MODE_ROOT only), so:
 * step out of the chroot (chroot into its /tmp while the cwd stays at its root, then ".." up to
 * the namespace's root), make the whole namespace private there — nothing we mount may reach the
 * host — and step back in through a descriptor of the chroot's root. Then a recursive clone of
 * the chroot's root stands in for the host root below /oldroot (see csb_mnt_build_root). The
 * namespace's real root stays below, unreachable: the command has no CAP_SYS_CHROOT and no fd. */
static int leave_plain_chroot(int *rootclone) {
    int back = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (back < 0) return -1;
    if (chdir("/") < 0 || chroot("/tmp") < 0) goto fail;
    for (int i = 0; i < 4096; i++) /* ".." at the namespace's root stays there */
        if (chdir("..") < 0) goto fail;
    if (chroot(".") < 0) goto fail;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) goto fail;
    if (fchdir(back) < 0 || chroot(".") < 0 || chdir("/") < 0) goto fail;
    *rootclone = (int)syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (*rootclone < 0) goto fail;
    close(back);
    return 0;
fail: {
    int e = errno;
    close(back);
    errno = e;
    return -1;
}
}

static int do_op(const struct csb_op *op) {
    switch (op->kind) {
    case CSB_OP_BIND:
        return do_bind(op);
    case CSB_OP_OVERLAY:
        if (csb_mkdir_p(op->dst, 0755) < 0) return -1;
        return mount("overlay", op->dst, "overlay", ms_flags(op->flags), op->data);
    case CSB_OP_TMPFS:
        if (csb_mkdir_p(op->dst, 0755) < 0) return -1;
        return mount("tmpfs", op->dst, "tmpfs", ms_flags(op->flags), op->data);
    case CSB_OP_PROC:
        /* Works because we are pid 1 of the new pid namespace, created together with the user
         * namespace that owns our mount namespace. */
        if (csb_mkdir_p(op->dst, 0555) < 0) return -1;
        return mount("proc", op->dst, "proc", ms_flags(op->flags), NULL);
    case CSB_OP_MKDIR:
        return csb_mkdir_p(op->dst, op->mode ? op->mode : 0755);
    case CSB_OP_FILE: {
        if (mkdir_parent(op->dst) < 0) return -1;
        int fd = open(op->dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                      op->mode ? op->mode : 0644);
        if (fd < 0) return -1;
        int rc = csb_write_all(fd, op->data, op->data_len);
        int saved = errno;
        close(fd);
        errno = saved;
        return rc;
    }
    case CSB_OP_SYMLINK:
        if (mkdir_parent(op->dst) < 0) return -1;
        return symlink(op->data, op->dst);
    case CSB_OP_ATTACH:
        return do_attach(op);
    case CSB_OP_SEAL:
        return set_attr(op->dst, op->flags, 0);
    default:
        errno = EINVAL;
        return -1;
    }
}

int csb_mnt_build_root(const struct csb_config *cfg, int *step, int *index, int *hostproc_fd) {
    *index = -1;
    *step = CSB_STEP_MAKE_PRIVATE;
    int rootclone = -1; /* set for a chroot into a plain directory */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        if (errno != EINVAL || cfg->mode != CSB_MODE_ROOT || root_is_mount_point()) return -1;
        *step = CSB_STEP_ROOT_MOUNTPOINT;
        if (leave_plain_chroot(&rootclone) < 0) return -1;
    }

    *step = CSB_STEP_BASE_TMPFS;
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755") < 0)
        return -1;
    *step = CSB_STEP_PIVOT_BASE;
    if (chdir("/tmp") < 0) return -1;
    if (mkdir("newroot", 0755) < 0 || mkdir("oldroot", 0755) < 0) return -1;
    if (rootclone >= 0) {
        /* Plain-directory chroot: the clone of its root becomes /oldroot, and the base tmpfs
         * (a mount root, unlike the chroot's) our root, by chroot instead of the pivot. */
        int rc = (int)syscall(SYS_move_mount, rootclone, "", AT_FDCWD, "oldroot", MOVE_MOUNT_F_EMPTY_PATH);
        int e = errno;
        close(rootclone);
        errno = e;
        if (rc < 0 || mount(NULL, "oldroot", NULL, MS_REC | MS_PRIVATE, NULL) < 0) return -1;
        if (chroot(".") < 0) return -1;
    } else if (pivot_root_(".", "oldroot") < 0) {
        return -1;
    }
    if (chdir("/") < 0) return -1;

    *step = CSB_STEP_NEWROOT_TMPFS;
    if (mount("tmpfs", CSB_NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") < 0)
        return -1;

    *step = CSB_STEP_OP;
    for (size_t i = 0; i < cfg->nops; i++) {
        *index = (int)i;
        if (do_op(&cfg->ops[i]) < 0) return -1;
    }
    *index = -1;

    /* The host procfs, kept as an O_PATH handle so the command can learn its own host pid
     * (readlinkat(fd, "self")) for attributing seccomp kills in the kernel log. The command
     * closes it before anything untrusted runs; pid 1 closes it right after fork. */
    *step = CSB_STEP_HOSTPROC;
    *hostproc_fd = open(CSB_OLD_ROOT "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);

    /* rprivate first, or the unmount events would propagate (bubblewrap's note). */
    *step = CSB_STEP_DETACH_OLDROOT;
    if (mount(CSB_OLD_ROOT, CSB_OLD_ROOT, NULL, MS_REC | MS_PRIVATE, NULL) < 0) return -1;
    if (umount2(CSB_OLD_ROOT, MNT_DETACH) < 0) return -1;

    *step = CSB_STEP_PIVOT;
    if (chdir(CSB_NEW_ROOT) < 0) return -1;
    if (pivot_root_(".", ".") < 0) return -1;
    if (umount2(".", MNT_DETACH) < 0) return -1;
    if (chdir("/") < 0) return -1;

    *step = CSB_STEP_ROOT_READONLY;
    if (set_attr("/", CSB_F_RDONLY | CSB_F_NOSUID | CSB_F_NODEV, 0) < 0) return -1;
    return 0;
}
