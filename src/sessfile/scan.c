/* SPDX-License-Identifier: MIT */
/*
 * Finding the session files (thread pool): Claude Code's
 * <home>/.claude/projects/<folder>/<id>.jsonl, Codex's
 * <home>/.codex/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl and Gemini
 * CLI's <home>/.gemini/tmp/<project>/chats/session-<id>.jsonl (its folder
 * in <project>/.project_root). The CLI's
 * folder is opened beneath home, and below it only real folders and
 * regular files are taken (a symlink is never followed, whatever it points
 * at), at most AD_SESS_FILES_MAX a CLI; each listed file's summary comes
 * from its head and tail (AD_SESS_WINDOW each), or from the last scan when
 * its size and time did not change.
 */
#include "sessfile/sessfile.h"

#include <dirent.h>
#include <limits.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const roots[AD_SESS_TOOLS] = {".claude/projects", ".codex/sessions",
                                                 ".gemini/tmp"};
/* The folders between the CLI's folder and its files: <folder>/, YYYY/MM/DD/,
 * <project>/chats/. */
static const int depths[AD_SESS_TOOLS] = {1, 3, 2};

int ad_sess_root_open(const char *home, ad_sess_tool_t tool)
{
    if (home == NULL || home[0] != '/') {
        return -1;
    }
    return ad_open_beneath(home, roots[tool], O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

int ad_sess_file_open(const char *home, ad_sess_tool_t tool, const char *rel)
{
    int root = ad_sess_root_open(home, tool);
    if (root < 0) {
        return -1;
    }
    int fd = ad_openat_beneath(root, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    close(root);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

void ad_sess_info_clear(ad_sess_info_t *s)
{
    free(s->cwd);
    free(s->first);
    free(s->last);
    s->cwd = s->first = s->last = NULL;
}

void ad_sess_set_cwd(ad_sess_info_t *s, const char *path)
{
    if (path != NULL && path[0] == '/' && strlen(path) < PATH_MAX) {
        free(s->cwd);
        s->cwd = ad_xstrdup(path);
    }
}

void ad_sess_infos_free(ad_sess_info_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ad_sess_info_clear(&v[i]);
    }
    free(v);
}

typedef struct {
    ad_sess_info_t *v;
    size_t n, cap;
} found_t;

/* A file name's session id: Claude's "<id>.jsonl", Codex's
 * "rollout-<time>-<uuid>.jsonl" (the uuid, 36 characters). */
static bool id_of(ad_sess_tool_t tool, const char *name, char id[AD_SESS_ID_MAX])
{
    size_t n = strlen(name);
    if (n <= 6 || strcmp(name + n - 6, ".jsonl") != 0) {
        return false;
    }
    n -= 6;
    const char *start = name;
    if (tool == AD_SESS_GEMINI) { /* session-<time>-<id8>.jsonl: the stem after "session-" */
        if (strncmp(name, "session-", 8) != 0) {
            return false;
        }
        start = name + 8;
        n -= 8;
    } else if (tool == AD_SESS_CODEX) {
        if (strncmp(name, "rollout-", 8) != 0 || n < 8 + 36) {
            return false;
        }
        start = name + n - 36;
        n = 36;
    }
    if (n >= AD_SESS_ID_MAX) {
        return false;
    }
    memcpy(id, start, n);
    id[n] = '\0';
    return ad_sess_id_check(id, NULL) == 0;
}

static void add_file(found_t *f, ad_sess_tool_t tool, int dfd, const char *dir, const char *name)
{
    char id[AD_SESS_ID_MAX];
    struct stat st;
    if (f->n >= AD_SESS_FILES_MAX * AD_SESS_TOOLS || !id_of(tool, name, id) ||
        fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
        return;
    }
    ad_sess_info_t s = {.tool = tool, .size = st.st_size, .dev = st.st_dev, .ino = st.st_ino};
    s.mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    memcpy(s.id, id, sizeof(id));
    if ((size_t)snprintf(s.rel, sizeof(s.rel), "%s/%s", dir, name) >= sizeof(s.rel)) {
        return;
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->v = ad_xrealloc(f->v, f->cap * sizeof(*f->v));
    }
    f->v[f->n++] = s;
}

/* The folder name below dfd opened as a real folder (no link): an fd or -1. */
static int subdir(int dfd, const char *name)
{
    struct stat st;
    if (name[0] == '.' || fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(st.st_mode)) {
        return -1;
    }
    return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* The files of folder dfd (path rel below the root), and depth more
 * levels of folders below it (Codex's YYYY/MM/DD). Takes dfd. */
static void walk(found_t *f, ad_sess_tool_t tool, int dfd, const char *rel, int depth, size_t start)
{
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return;
    }
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d)) != NULL && entries++ < 4 * AD_SESS_FILES_MAX &&
           f->n - start < AD_SESS_FILES_MAX) {
        if (depth == 0) {
            add_file(f, tool, dfd, rel, e->d_name);
            continue;
        }
        int sub = subdir(dfd, e->d_name);
        char path[512];
        int w = snprintf(path, sizeof(path), "%s%s%s", rel, rel[0] ? "/" : "", e->d_name);
        if (sub >= 0 && w > 0 && (size_t)w < sizeof(path)) {
            walk(f, tool, sub, path, depth - 1, start);
        } else if (sub >= 0) {
            close(sub);
        }
    }
    closedir(d);
}

static int newest_first(const void *a, const void *b)
{
    const ad_sess_info_t *x = a, *y = b;
    return x->mtime_ms < y->mtime_ms ? 1 : x->mtime_ms > y->mtime_ms ? -1 : 0;
}

static void summary_line(void *ud, const char *line, size_t len)
{
    ad_sess_summary_line(ud, line, len);
}

/* Gemini's folder: <project>/.project_root beside <project>/chats, the
 * path in one line (no link followed, at most a path's length). */
static void project_root(const char *home, ad_sess_info_t *s)
{
    char rel[sizeof(s->rel)];
    const char *slash = strchr(s->rel, '/');
    if (slash == NULL || (size_t)snprintf(rel, sizeof(rel), "%.*s/.project_root",
                                          (int)(slash - s->rel), s->rel) >= sizeof(rel)) {
        return;
    }
    int fd = ad_sess_file_open(home, AD_SESS_GEMINI, rel);
    if (fd < 0) {
        return;
    }
    char buf[PATH_MAX];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    if (n <= 0) {
        return;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (ad_utf8_valid(buf, strlen(buf))) {
        ad_sess_set_cwd(s, buf);
    }
}

/* s's summary from the last scan's entry, or from its file's head and tail. */
static void summarize(const char *home, ad_sess_info_t *s, const ad_sess_info_t *prev,
                      size_t n_prev)
{
    for (size_t i = 0; i < n_prev; i++) {
        const ad_sess_info_t *p = &prev[i];
        if (p->tool == s->tool && p->size == s->size && p->mtime_ms == s->mtime_ms &&
            strcmp(p->rel, s->rel) == 0) {
            *s = *p;
            s->cwd = p->cwd != NULL ? ad_xstrdup(p->cwd) : NULL;
            s->first = p->first != NULL ? ad_xstrdup(p->first) : NULL;
            s->last = p->last != NULL ? ad_xstrdup(p->last) : NULL;
            return;
        }
    }
    if (s->tool == AD_SESS_GEMINI) {
        project_root(home, s);
    }
    int fd = ad_sess_file_open(home, s->tool, s->rel);
    if (fd < 0) {
        return;
    }
    int64_t head_end = s->size < (int64_t)AD_SESS_WINDOW ? s->size : (int64_t)AD_SESS_WINDOW;
    ad_sess_lines(fd, 0, head_end, summary_line, s);
    if (s->size > head_end) {
        int64_t from = s->size - (int64_t)AD_SESS_WINDOW;
        ad_sess_lines(fd, from > head_end ? from : head_end, s->size, summary_line, s);
    }
    close(fd);
}

void ad_sess_scan(const char *home, const ad_sess_info_t *prev, size_t n_prev, ad_sess_info_t **out,
                  size_t *n)
{
    found_t f = {0};
    for (int t = 0; t < AD_SESS_TOOLS; t++) {
        int root = ad_sess_root_open(home, (ad_sess_tool_t)t);
        if (root >= 0) {
            walk(&f, (ad_sess_tool_t)t, root, "", depths[t], f.n);
        }
    }
    if (f.n > 0) {
        qsort(f.v, f.n, sizeof(*f.v), newest_first);
    }
    if (f.n > AD_SESS_LIST_MAX) {
        f.n = AD_SESS_LIST_MAX;
    }
    for (size_t i = 0; i < f.n; i++) {
        summarize(home, &f.v[i], prev, n_prev);
    }
    ad_sess_live_mark(f.v, f.n, ad_wall_ms());
    *out = f.v;
    *n = f.n;
}

/* Whether a file whose name gives stem may be session id: the same, or
 * for Gemini a chat's id (its header's, parse.c) whose first 8 characters
 * end the name ("<time>-<id8>"); the header decides after the read. */
static bool id_matches(ad_sess_tool_t tool, const char *stem, const char *id)
{
    size_t n = strlen(stem);
    if (strcmp(stem, id) == 0) {
        return true;
    }
    return tool == AD_SESS_GEMINI && n > 9 && strlen(id) > 8 && stem[n - 9] == '-' &&
           memcmp(stem + n - 8, id, 8) == 0;
}

int ad_sess_find(const char *home, ad_sess_tool_t tool, const char *id, ad_sess_info_t *out)
{
    found_t f = {0};
    int root = ad_sess_root_open(home, tool);
    if (root >= 0) {
        walk(&f, tool, root, "", depths[tool], 0);
    }
    int rc = AD_ENOENT;
    bool by_name = false; /* the file's own name is id */
    for (size_t i = 0; i < f.n; i++) {
        if (id_matches(tool, f.v[i].id, id) && (rc != 0 || f.v[i].mtime_ms > out->mtime_ms)) {
            *out = f.v[i];
            by_name = strcmp(f.v[i].id, id) == 0;
            rc = 0;
        }
    }
    free(f.v);
    if (rc == 0) {
        summarize(home, out, NULL, 0);
        ad_sess_live_mark(out, 1, ad_wall_ms());
        if (!by_name && strcmp(out->id, id) != 0) { /* a chat's header names another session */
            ad_sess_info_clear(out);
            rc = AD_ENOENT;
        }
    }
    return rc;
}

json_t *ad_sess_info_json(const ad_sess_info_t *s)
{
    char started[AD_TIME_MAX], last[AD_TIME_MAX];
    int64_t last_ms = s->mtime_ms > s->last_ms ? s->mtime_ms : s->last_ms;
    ad_time_format(last_ms, last);
    ad_time_format(s->started_ms, started);
    return json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s?, s:s?, s:I, s:b}", "tool",
                     ad_sess_tool_name(s->tool), "sessionId", s->id, "cwd", s->cwd, "gitBranch",
                     s->branch[0] ? s->branch : NULL, "startedAt",
                     s->started_ms > 0 ? started : NULL, "lastActivity", last, "firstMessage",
                     s->first, "lastMessage", s->last, "size", (json_int_t)s->size, "live",
                     s->live);
}
