/* SPDX-License-Identifier: MIT */
/*
 * Whole writes to a file descriptor: the loop every caller of write(2) on a
 * blocking file or pipe needs (short writes, EINTR). What a failure means
 * is the caller's to say. And a file in a folder replaced whole, by a
 * rename.
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

size_t ad_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, c + done, n - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            if (w == 0) {
                errno = EIO; /* nothing taken and no reason given */
            }
            break;
        }
        done += (size_t)w;
    }
    return done;
}

int ad_replace_at(int dfd, const char *name, const void *p, size_t n, unsigned mode,
                  struct stat *st)
{
    static atomic_uint seq; /* pool threads may replace files at once */
    struct stat old;
    bool had = fstatat(dfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0;
    if (had && !S_ISREG(old.st_mode)) {
        return S_ISLNK(old.st_mode) ? ELOOP : S_ISDIR(old.st_mode) ? EISDIR : EINVAL;
    }
    char tmp[64];
    snprintf(tmp, sizeof(tmp), ".agentd-w-%ld-%u", (long)getpid(), atomic_fetch_add(&seq, 1));
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    had ? old.st_mode & 0777 : (mode_t)mode); /* set-id bits once it is whole */
    if (fd < 0) {
        return errno;
    }
    int e = 0;
    if (ad_write_all(fd, p, n) != n) {
        e = errno;
    } else if (had && fchown(fd, old.st_uid, old.st_gid) != 0 && errno != EPERM) {
        e = errno; /* keeps its owner where we may (root); else it is ours, as a new file */
    } else if (had && fchmod(fd, old.st_mode & 07777) != 0) {
        e = errno; /* the umask took bits off the open's mode (and a chown set-id bits) */
    } else if (st != NULL && fstat(fd, st) != 0) {
        e = errno;
    }
    if (close(fd) != 0 && e == 0) {
        e = errno;
    }
    if (e == 0 && renameat(dfd, tmp, dfd, name) != 0) {
        e = errno;
    }
    if (e != 0) {
        unlinkat(dfd, tmp, 0);
    }
    return e;
}
