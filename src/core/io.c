/* SPDX-License-Identifier: MIT */
/*
 * Whole writes to a file descriptor: the loop every caller of write(2) on a
 * blocking file or pipe needs (short writes, EINTR). What a failure means
 * is the caller's to say.
 */
#include "core.h"

#include <errno.h>
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
