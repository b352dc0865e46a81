/* SPDX-License-Identifier: MIT */
/*
 * A project kept in sync with a folder (blocking: run on the pool). Push:
 * the project's files written into the folder (a file whose content is
 * already there is left alone). Scan: the folder's files changed since the
 * last sync, as changes for the project. Every open stays below the folder
 * (ad_openat_beneath: no symlink leads out); links, dot files and folders,
 * files over 512 KiB or not UTF-8 are not taken. A file deleted on either
 * side is not deleted on the other (a sync never loses a file).
 */
#include "llm/llm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SYNC_FILE_MAX (512 * 1024)
#define SYNC_FILES_MAX 2000
#define SYNC_DEPTH_MAX 8

/* The folder of rel's parent below rootfd, made as needed (never through
 * a link): an fd, or -1. *base is rel's last segment. */
static int parent_dir(int rootfd, const char *rel, const char **base)
{
    int dfd = dup(rootfd);
    const char *p = rel;
    const char *slash;
    while (dfd >= 0 && (slash = strchr(p, '/')) != NULL) {
        char seg[256];
        size_t n = (size_t)(slash - p);
        if (n == 0 || n >= sizeof(seg)) {
            close(dfd);
            return -1;
        }
        memcpy(seg, p, n);
        seg[n] = '\0';
        if (mkdirat(dfd, seg, 0755) != 0 && errno != EEXIST) {
            close(dfd);
            return -1;
        }
        int next = openat(dfd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(dfd);
        dfd = next;
        p = slash + 1;
    }
    *base = p;
    return dfd;
}

/* Whether the file at rel below rootfd holds exactly data. */
static bool same_content(int rootfd, const char *rel, const char *data, size_t len)
{
    int fd = ad_openat_beneath(rootfd, rel, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) {
        return false;
    }
    struct stat st;
    bool same = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len;
    char buf[8192];
    for (size_t off = 0; same && off < len;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        same = n > 0 && (size_t)n <= len - off && memcmp(buf, data + off, (size_t)n) == 0;
        off += n > 0 ? (size_t)n : 0;
    }
    close(fd);
    return same;
}

int ad_llm_sync_push(const json_t *project, const char *dir, size_t *written)
{
    int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (rootfd < 0) {
        return AD_ENOENT;
    }
    *written = 0;
    int rc = 0;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(project, "files"), i, f)
    {
        const char *rel = json_string_value(json_object_get(f, "path"));
        json_t *c = json_object_get(f, "content");
        const char *base = NULL;
        if (rel == NULL || same_content(rootfd, rel, json_string_value(c), json_string_length(c))) {
            continue;
        }
        int dfd = parent_dir(rootfd, rel, &base);
        int fd = dfd >= 0 ? openat(dfd, base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                                   0644)
                          : -1;
        bool ok = fd >= 0 && write(fd, json_string_value(c), json_string_length(c)) ==
                                 (ssize_t)json_string_length(c);
        ok = (fd < 0 || close(fd) == 0) && ok;
        if (dfd >= 0) {
            close(dfd);
        }
        rc = ok ? rc : AD_EIO;
        *written += ok;
    }
    close(rootfd);
    return rc;
}

/* ---- the folder's changes ---------------------------------------------------------------- */

typedef struct {
    const json_t *files; /* the project's, by path */
    int64_t since_ms;
    json_t *changes;
    size_t seen;
} scan_t;

/* The project's content of rel, or NULL. */
static json_t *project_file(const json_t *files, const char *rel)
{
    size_t i;
    json_t *f;
    json_array_foreach((json_t *)files, i, f)
    {
        if (strcmp(json_string_value(json_object_get(f, "path")), rel) == 0) {
            return json_object_get(f, "content");
        }
    }
    return NULL;
}

static void take_file(scan_t *s, int dfd, const char *name, const char *rel, const struct stat *st)
{
    int64_t mtime = (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
    if (mtime <= s->since_ms || st->st_size > SYNC_FILE_MAX || !ad_llm_path_ok(rel, strlen(rel))) {
        return;
    }
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    char *buf = fd >= 0 ? ad_xmalloc((size_t)st->st_size + 1) : NULL;
    ssize_t n = buf != NULL ? read(fd, buf, (size_t)st->st_size) : -1;
    if (fd >= 0) {
        close(fd);
    }
    json_t *have = project_file(s->files, rel);
    if (n == st->st_size && ad_utf8_valid(buf, (size_t)n) &&
        (have == NULL || json_string_length(have) != (size_t)n ||
         memcmp(json_string_value(have), buf, (size_t)n) != 0)) {
        json_array_append_new(s->changes,
                              json_pack("{s:s, s:s%}", "path", rel, "content", buf, (size_t)n));
    }
    free(buf);
}

static void scan_dir(scan_t *s, int dfd, const char *prefix, int depth)
{
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && s->seen < SYNC_FILES_MAX) {
        if (e->d_name[0] == '.') {
            continue; /* ., .., .git, editors' and agentd's own files */
        }
        char rel[600];
        if (snprintf(rel, sizeof(rel), "%s%s", prefix, e->d_name) >= (int)sizeof(rel)) {
            continue;
        }
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        s->seen++;
        if (S_ISREG(st.st_mode)) {
            take_file(s, dirfd(d), e->d_name, rel, &st);
        } else if (S_ISDIR(st.st_mode) && depth < SYNC_DEPTH_MAX) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            char next[610];
            snprintf(next, sizeof(next), "%s/", rel);
            if (sub >= 0) {
                scan_dir(s, sub, next, depth + 1);
            }
        }
    }
    closedir(d);
}

json_t *ad_llm_sync_scan(const json_t *project, const char *dir, int64_t since_ms)
{
    int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    scan_t s = {
        .files = json_object_get(project, "files"), .since_ms = since_ms, .changes = json_array()};
    if (rootfd >= 0) {
        scan_dir(&s, rootfd, "", 0);
    }
    return s.changes;
}
