/*
 * tree.c — parent side: detached clones of caller-supplied host paths.
 *
 * The sandbox's identity (the outside uid) may be unable to look a path up: a module source
 * under a 0700 `mktemp -d`, or /root/foo-1.0. The supervisor, root on the host, clones the tree
 * with its own credentials and hands the child the descriptor; the child attaches it with
 * move_mount (mnt.c, CSB_OP_ATTACH) and never resolves that host path by name. Nothing is
 * attached anywhere until then: a detached clone lives in an anonymous mount namespace and
 * vanishes with its last descriptor.
 */
#include "internal.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

int csb_clone_tree(const char *path) {
    /* AT_RECURSIVE: a non-recursive clone would expose what submounts of `path` hide. */
    return (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
}
