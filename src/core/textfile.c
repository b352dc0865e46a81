/* SPDX-License-Identifier: MIT */
/*
 * An agent's text files below its worktree (ACP's fs/read_text_file and
 * fs/write_text_file), served where the worktree is: by src/run for a run
 * here, by the node for a run on a worker node (src/node). Every path is
 * opened beneath the root (ad_open_beneath), the last name of a write is
 * never followed, and the caller may refuse an opened file by its fd (the
 * control plane's data dir, which the agent's sandbox hides).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH */
#endif
#include "core.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *ad_textfile_why(int err)
{
    switch (err) {
    case 0:
        return NULL;
    case ENOENT:
        return AD_TEXTFILE_NOT_FOUND;
    case EXDEV:
    case ELOOP:
        return "path is outside the worktree";
    case EFBIG:
        return "not a regular file of at most 4 MiB";
    case EILSEQ:
        return "the file is not UTF-8 text";
    case EIO:
        return "the file cannot be read";
    case ENOSPC:
        return "the file cannot be written";
    default:
        return "the file cannot be opened";
    }
}

/* Lines [line, line+limit) of text (1-based; 0 limit: to the end). */
static json_t *lines_of(const char *text, size_t n, int64_t line, int64_t limit)
{
    size_t a = 0;
    for (int64_t l = 1; l < line && a < n; a++) {
        l += text[a] == '\n';
    }
    size_t b = a;
    for (int64_t k = 0; b < n && (limit <= 0 || k < limit); b++) {
        if (text[b] == '\n' && ++k == limit) {
            b++;
            break;
        }
    }
    return json_stringn(text + a, b - a);
}

static bool refused(int fd, ad_textfile_refuse_fn refuse, void *ud)
{
    return fd >= 0 && refuse != NULL && refuse(fd, ud);
}

int ad_textfile_read(const char *root, const char *rel, int64_t line, int64_t limit,
                     ad_textfile_refuse_fn refuse, void *ud, json_t **content)
{
    *content = NULL;
    int fd = ad_open_beneath(root, rel, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    int e = errno;
    if (refused(fd, refuse, ud)) {
        close(fd);
        return EXDEV;
    }
    if (fd < 0) {
        return e;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > AD_TEXTFILE_MAX) {
        close(fd);
        return EFBIG;
    }
    char *buf = ad_xmalloc((size_t)st.st_size + 1);
    ssize_t n = read(fd, buf, (size_t)st.st_size);
    close(fd);
    json_t *c = n >= 0 ? lines_of(buf, (size_t)n, line > 0 ? line : 1, limit) : NULL;
    free(buf);
    if (c == NULL) {
        return n < 0 ? EIO : EILSEQ;
    }
    *content = c;
    return 0;
}

/* The folder rel is in, opened beneath root, and rel's last name. */
static int parent_of(const char *root, const char *rel, const char **base)
{
    const char *slash = strrchr(rel, '/');
    *base = slash != NULL ? slash + 1 : rel;
    if (slash == NULL) {
        return open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    char *dir = ad_xstrndup(rel, (size_t)(slash - rel));
    int fd = ad_open_beneath(root, dir, O_PATH | O_DIRECTORY);
    free(dir);
    return fd;
}

int ad_textfile_write(const char *root, const char *rel, const char *data, size_t n,
                      ad_textfile_refuse_fn refuse, void *ud)
{
    const char *base = NULL;
    int dfd = parent_of(root, rel, &base);
    int e = errno;
    if (refused(dfd, refuse, ud)) {
        close(dfd);
        return EXDEV;
    }
    if (dfd < 0 || base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        if (dfd >= 0) {
            close(dfd);
        }
        return dfd < 0 ? e : EINVAL;
    }
    /* replaced whole, so a full disk leaves the old file; the last name is
     * never followed: a symlink there is refused */
    e = ad_replace_at(dfd, base, data, n, 0644, NULL);
    close(dfd);
    if (e == ENOSPC || e == EDQUOT || e == EFBIG || e == EIO) {
        return ENOSPC; /* "cannot be written" */
    }
    return e == ELOOP ? EXDEV : e;
}
