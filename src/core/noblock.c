/* SPDX-License-Identifier: MIT */
/*
 * core: opens that never wait on a FIFO. An agent sees its worktree and the
 * repository's common git folder read-write, so it can put a FIFO where
 * libgit2 will read a file (a worktree's `index`, a loose ref, an object).
 * libgit2 opens its files with a plain blocking open(2), and an open of a
 * FIFO for reading waits for a writer: every `diff` of that worktree then
 * parked a thread of the pool, which git and the store share, until none
 * was left (and a mutation held git's write lock while it waited). A check
 * before the open cannot help: the agent picks when to swap the file.
 *
 * So agentd defines open(2) itself. The definition is in the executable and
 * exported (Makefile: exports.list), so libgit2's calls, bound at run time
 * when agentd-git.so is loaded, reach it before libc's. It passes every call
 * through to the next open (libc's, or a sanitizer's) unchanged, except on a
 * thread inside ad_untrusted_opens_begin()/end() (src/git/async.c: around
 * each git operation and its trust check). There the open is made
 * O_NONBLOCK, so it never waits, and what it opened must not be a FIFO
 * (through a link or not): one is closed again and the open fails with
 * EPERM, which libgit2 reports as it reports any failed open; end() names
 * the first such path, and async.c refuses the operation as the trust root
 * refuses (409, "untrusted_git", a row of the audit). O_NONBLOCK is taken
 * off again unless the caller asked for it, so a file reads as it always
 * did.
 *
 * A device is let through: an agent cannot make one (no CAP_MKNOD in its
 * namespace), a link to one opens without waiting, and git reads as many
 * bytes of it as its size says, none. agentd's own /dev/null opens on these
 * threads need it, as do the children forked there before their exec (the
 * git program of a push, a setup, a bundle: a child with a timeout of its
 * own, which does not come here after its exec).
 */
/* The build's -D_FILE_OFFSET_BITS=64 names open() "open64" in glibc's
 * headers; libgit2 calls "open", so both are defined here by their own
 * names (the same call on a 64-bit system). */
#undef _FILE_OFFSET_BITS
#undef _FORTIFY_SOURCE
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "core/core.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef int (*open_fn)(const char *, int, ...);

static _Thread_local int untrusted;     /* depth of begin() on this thread */
static _Thread_local char refused[512]; /* the first open refused since */
static _Atomic(open_fn) next_open;

void ad_untrusted_opens_begin(void)
{
    if (untrusted++ == 0) {
        refused[0] = '\0';
    }
}

bool ad_untrusted_opens_end(char *path, size_t pathsz)
{
    if (untrusted > 0) {
        untrusted--;
    }
    if (refused[0] == '\0') {
        return false;
    }
    if (pathsz > 0) {
        snprintf(path, pathsz, "%s", refused);
    }
    return true;
}

/* libc's open (or the sanitizer's in front of it), found at load: never
 * looked up later, in a child forked between fork and exec. */
__attribute__((constructor)) static void find_next(void)
{
    atomic_store_explicit(&next_open, (open_fn)dlsym(RTLD_NEXT, "open"), memory_order_release);
}

/* The next open; the system call itself before find_next() ran (another
 * constructor's open) or if it found none. */
static int call_next(const char *path, int flags, mode_t mode)
{
    open_fn f = atomic_load_explicit(&next_open, memory_order_acquire);
    if (f == NULL) {
        return (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode);
    }
    return f(path, flags, mode);
}

static int guarded_open(const char *path, int flags, mode_t mode)
{
    if (untrusted == 0) {
        return call_next(path, flags, mode);
    }
    int fd = call_next(path, flags | O_NONBLOCK, mode);
    if (fd < 0) {
        return fd;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISFIFO(st.st_mode)) {
        close(fd);
        if (refused[0] == '\0') {
            snprintf(refused, sizeof(refused), "%s", path);
        }
        errno = EPERM;
        return -1;
    }
    if ((flags & O_NONBLOCK) == 0 && (flags & O_PATH) == 0) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
            int err = errno;
            close(fd);
            errno = err;
            return -1;
        }
    }
    return fd;
}

/* The mode argument is there only when the flags create a file. */
#define MODE_ARG(flags, mode)                                                                      \
    do {                                                                                           \
        if (((flags)&O_CREAT) != 0 || ((flags)&O_TMPFILE) == O_TMPFILE) {                          \
            va_list ap;                                                                            \
            va_start(ap, flags);                                                                   \
            (mode) = (mode_t)va_arg(ap, int);                                                      \
            va_end(ap);                                                                            \
        }                                                                                          \
    } while (0)

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return guarded_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    return guarded_open(path, flags, mode);
}
