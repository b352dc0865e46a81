/* SPDX-License-Identifier: MIT */
/*
 * A project kept in sync with a folder (blocking: run on the pool). Both
 * sides are compared with a base: for each file, the folder's (mtime,
 * size) when both sides last agreed on it (the push wrote it, or the scan
 * read it). A folder file that differs from its base (or, with no base
 * entry, is newer than the last scan) changed on the folder side: the
 * push never overwrites it (the next scan takes it into the project), so
 * an edit made in the folder is never lost to a push. Push: the project's
 * files written into the folder where the folder side did not change and
 * the content differs, each replaced whole (ad_replace_at). Scan: the
 * folder's changed files that differ from the project, as changes. Every
 * open stays below the folder (ad_openat_beneath: no symlink leads out);
 * links, dot files and folders, files over 512 KiB or not UTF-8 are not
 * taken. A file deleted on either side is not deleted on the other (a
 * sync never loses a file).
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

static int64_t mtime_ns(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* base[rel] = the folder file's state now agreed on. */
static void base_set(json_t *base, const char *rel, const struct stat *st)
{
    json_object_set_new(base, rel,
                        json_pack("[I, I]", (json_int_t)mtime_ns(st), (json_int_t)st->st_size));
}

/* Whether the folder's file (st) changed on the folder side since both
 * sides last agreed on it. */
static bool folder_changed(const json_t *base, const char *rel, const struct stat *st,
                           int64_t since_ms)
{
    json_t *b = json_object_get(base, rel);
    if (b == NULL) {
        return mtime_ns(st) / 1000000 > since_ms;
    }
    return json_integer_value(json_array_get(b, 0)) != mtime_ns(st) ||
           json_integer_value(json_array_get(b, 1)) != st->st_size;
}

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

/* Whether the file open as fd holds exactly data. */
static bool same_content(int fd, const char *data, size_t len)
{
    char buf[8192];
    bool same = true;
    for (size_t off = 0; same && off < len;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        same = n > 0 && (size_t)n <= len - off && memcmp(buf, data + off, (size_t)n) == 0;
        off += n > 0 ? (size_t)n : 0;
    }
    return same;
}

/* One project file into the folder: 1 written, 0 left alone, -1 failed. */
static int push_file(int rootfd, const char *rel, const json_t *c, int64_t since_ms, json_t *base)
{
    const char *data = json_string_value(c);
    size_t len = json_string_length(c);
    struct stat st;
    int fd = ad_openat_beneath(rootfd, rel, O_RDONLY | O_NOFOLLOW);
    if (fd >= 0) {
        bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        bool changed = regular && folder_changed(base, rel, &st, since_ms);
        bool same = regular && !changed && (size_t)st.st_size == len && same_content(fd, data, len);
        close(fd);
        if (same) {
            base_set(base, rel, &st); /* the same on both sides */
        }
        if (!regular || changed || same) {
            return 0; /* not a file, the folder's edit (the next scan takes it in), or as is */
        }
    }
    const char *name = NULL;
    int dfd = parent_dir(rootfd, rel, &name);
    bool ok = dfd >= 0 && ad_replace_at(dfd, name, data, len, 0644, &st) == 0;
    if (dfd >= 0) {
        close(dfd);
    }
    if (ok) {
        base_set(base, rel, &st);
    }
    return ok ? 1 : -1;
}

int ad_llm_sync_push(const json_t *project, const char *dir, int64_t since_ms, json_t *base,
                     size_t *written)
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
        int n =
            rel != NULL ? push_file(rootfd, rel, json_object_get(f, "content"), since_ms, base) : 0;
        rc = n < 0 ? AD_EIO : rc;
        *written += n > 0;
    }
    close(rootfd);
    return rc;
}

/* ---- the folder's changes ---------------------------------------------------------------- */

typedef struct {
    const json_t *files; /* the project's, by path */
    int64_t since_ms;
    json_t *base;
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
    if (!folder_changed(s->base, rel, st, s->since_ms) || st->st_size > SYNC_FILE_MAX ||
        !ad_llm_path_ok(rel, strlen(rel))) {
        return;
    }
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    char *buf = fd >= 0 ? ad_xmalloc((size_t)st->st_size + 1) : NULL;
    ssize_t n = buf != NULL ? read(fd, buf, (size_t)st->st_size) : -1;
    if (fd >= 0) {
        close(fd);
    }
    json_t *have = project_file(s->files, rel);
    if (n == st->st_size && ad_utf8_valid(buf, (size_t)n)) {
        if (have == NULL || json_string_length(have) != (size_t)n ||
            memcmp(json_string_value(have), buf, (size_t)n) != 0) {
            json_array_append_new(s->changes,
                                  json_pack("{s:s, s:s%}", "path", rel, "content", buf, (size_t)n));
        }
        base_set(s->base, rel, st); /* agreed once the changes are saved */
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

json_t *ad_llm_sync_scan(const json_t *project, const char *dir, int64_t since_ms, json_t *base)
{
    int rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    scan_t s = {.files = json_object_get(project, "files"),
                .since_ms = since_ms,
                .base = base,
                .changes = json_array()};
    if (rootfd >= 0) {
        scan_dir(&s, rootfd, "", 0);
    }
    return s.changes;
}
