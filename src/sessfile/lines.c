/* SPDX-License-Identifier: MIT */
/*
 * A session file's lines in a window of bytes, read with pread in chunks:
 * a line longer than AD_SESS_LINE_MAX is skipped whole (never held), so a
 * hostile file costs at most one chunk and one line of memory.
 */
#include "sessfile/sessfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (256u << 10)

typedef struct {
    char *line;
    size_t len;
    bool skipping; /* inside a line that is too long, or the cut first one */
    ad_sess_line_fn fn;
    void *ud;
} acc_t;

static void take(acc_t *a, const char *p, size_t n, bool ends)
{
    if (!a->skipping) {
        if (a->len + n > AD_SESS_LINE_MAX) {
            a->skipping = true;
            a->len = 0;
        } else {
            memcpy(a->line + a->len, p, n);
            a->len += n;
        }
    }
    if (ends) {
        if (!a->skipping && a->len > 0) {
            a->fn(a->ud, a->line, a->len);
        }
        a->len = 0;
        a->skipping = false;
    }
}

int ad_sess_lines(int fd, int64_t from, int64_t to, ad_sess_line_fn fn, void *ud)
{
    acc_t a = {.line = ad_xmalloc(AD_SESS_LINE_MAX), .skipping = from > 0, .fn = fn, .ud = ud};
    char *buf = ad_xmalloc(CHUNK);
    int rc = 0;
    for (int64_t off = from < 0 ? 0 : from; off < to;) {
        size_t want = (size_t)(to - off) < CHUNK ? (size_t)(to - off) : CHUNK;
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            rc = got < 0 ? AD_EIO : 0;
            break;
        }
        off += got;
        const char *p = buf, *end = buf + got;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            take(&a, p, (size_t)((nl != NULL ? nl : end) - p), nl != NULL);
            p = nl != NULL ? nl + 1 : end;
        }
    }
    /* a last line without '\n' may still be being written: left for the next read */
    free(buf);
    free(a.line);
    return rc;
}
