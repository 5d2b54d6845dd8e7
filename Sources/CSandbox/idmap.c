/*
 * idmap.c — parent side: id-mapped clones of overlay lower layers.
 *
 * DAC inside the sandbox sees host root (unmapped in the sandbox's user namespace) as
 * "nobody", so a root-owned source tree used as an overlay lower layer is read-only even in the
 * merged view: the build could not create objects in its subdirectories. An id-mapped mount of
 * the lower layer maps on-disk uid/gid 0 to the sandbox's outside uid/gid, so the merged view is
 * owned by the build user while the pristine tree on disk is never written (overlay never writes
 * to a lower layer, and the clone is read-only too).
 *
 * Creating the id-mapping needs a user namespace carrying the mapping: we clone a throw-away
 * child into a new user namespace, write its maps, keep an fd to /proc/<pid>/ns/user and let the
 * child exit. Runs in the multithreaded parent, so the child only calls read() and _exit().
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int userns_fd_for(unsigned int uid, unsigned int gid) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        char c;
        close(p[1]); /* or our own copy would keep the pipe from reaching EOF */
        (void)read(p[0], &c, 1); /* wait until the parent has opened our namespace */
        _exit(0);
    }
    int e = errno, fd = -1;
    close(p[0]);
    if (pid > 0) {
        char path[64], map[64];
        int n = snprintf(map, sizeof map, "0 %u 1\n", uid);
        snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
        if (csb_write_file(path, map, (size_t)n) == 0) {
            snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
            (void)csb_write_file(path, "deny", 4);
            n = snprintf(map, sizeof map, "0 %u 1\n", gid);
            snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
            if (csb_write_file(path, map, (size_t)n) == 0) {
                snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
            }
        }
        e = errno;
        close(p[1]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
    } else {
        close(p[1]);
    }
    errno = e;
    return fd;
}

int csb_idmapped_tree(const char *path, unsigned int outside_uid, unsigned int outside_gid) {
    int ns = userns_fd_for(outside_uid, outside_gid);
    if (ns < 0) return -1;
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path,
                            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (tree < 0) {
        int e = errno;
        close(ns);
        errno = e;
        return -1;
    }
    struct mount_attr attr = {0};
    attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    attr.userns_fd = (uint64_t)ns;
    int rc = (int)syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                          sizeof attr);
    int e = errno;
    close(ns);
    if (rc < 0) {
        close(tree);
        errno = e;
        return -1;
    }
    return tree;
}
