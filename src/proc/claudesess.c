/* SPDX-License-Identifier: MIT */
/*
 * Claude Code's session files, found and put in place for a live move of
 * an agent between machines (issue #76, src/move; proc.h). The folder is
 * the one the run's own arrangement gives the CLI (agentbox.c binds the
 * agent's home, clicfg.c the user's projects/<worktree> folder for the
 * owner's agents; env.c lets state.env's HOME override agentd's), so the
 * file put there is the one `claude --resume <id>` reads. A session id is
 * checked to be one (never a path), the file is read and written with no
 * link followed at its name or its folder, and bounded. Any thread.
 */
#include "proc/claudesess.h"
#include "proc/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool is_dir(const char *p)
{
    struct stat st;
    return p != NULL && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

bool ad_proc_claude_sid_ok(const char *sid)
{
    size_t n = sid != NULL ? strlen(sid) : 0;
    if (n == 0 || n > 64) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = sid[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-')) {
            return false;
        }
    }
    return true;
}

/* An agent's id: letters, digits and '_' (a folder's name, never a path). */
static bool id_ok(const char *id)
{
    size_t n = id != NULL ? strlen(id) : 0;
    if (n == 0 || n >= AD_ID_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            return false;
        }
    }
    return true;
}

/* The worktree's path as getcwd() will say it there: its real path, or
 * its parent's real path and its last part when it is not made yet. */
void ad_proc_real_wt(const char *wt, char *out, size_t outsz)
{
    char real[PATH_MAX];
    if (realpath(wt, real) != NULL) {
        snprintf(out, outsz, "%s", real);
        return;
    }
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", wt);
    char *slash = strrchr(parent, '/');
    if (slash != NULL && slash != parent) {
        *slash = '\0';
        if (realpath(parent, real) != NULL) {
            snprintf(out, outsz, "%.2048s/%.1024s", real, slash + 1);
            return;
        }
    }
    snprintf(out, outsz, "%s", wt);
}

int ad_proc_cli_dir(const ad_proc_claude_where_t *w, const char *dot, char *out, size_t outsz,
                    size_t *trusted, bool *users)
{
    if (w->wt == NULL || w->wt[0] != '/' || !id_ok(w->agent_id) || dot == NULL || dot[0] != '.' ||
        strchr(dot, '/') != NULL || strlen(dot) < 2 || strlen(dot) > 16 || strcmp(dot, "..") == 0) {
        return AD_EINVAL;
    }
    size_t root = 0; /* the part no agent can change: its root */
    bool own = w->own_home != NULL && w->own_home[0] == '/' && (!w->boxed || w->owners);
    char user_cfg[PATH_MAX] = "";
    if (w->user_home != NULL && w->user_home[0] == '/') {
        snprintf(user_cfg, sizeof(user_cfg), "%.*s/%.16s", PATH_MAX - 32, w->user_home, dot);
    }
    *users = false;
    int n;
    if (own) {
        n = snprintf(out, outsz, "%.*s/%.16s", PATH_MAX - 32, w->own_home, dot);
        root = strlen(w->own_home);
    } else if (user_cfg[0] != '\0' && (!w->boxed || (w->owners && is_dir(user_cfg)))) {
        /* the agent is shown the part of it its runs use */
        n = snprintf(out, outsz, "%s", user_cfg);
        root = strlen(user_cfg);
        *users = true;
    } else if (w->data_dir != NULL && w->data_dir[0] != '\0') {
        n = snprintf(out, outsz, "%.*s/homes/%s/%.16s", PATH_MAX - 200, w->data_dir, w->agent_id,
                     dot);
        root = strlen(w->data_dir) + strlen("/homes");
    } else {
        return AD_EINVAL;
    }
    if (n < 0 || (size_t)n >= outsz) {
        return AD_EINVAL;
    }
    *trusted = root;
    return 0;
}

int ad_proc_claude_projects(const ad_proc_claude_where_t *w, char *out, size_t outsz,
                            size_t *trusted)
{
    char cfg[PATH_MAX];
    bool users;
    if (ad_proc_cli_dir(w, ".claude", cfg, sizeof(cfg), trusted, &users) != 0) {
        return AD_EINVAL;
    }
    char real[PATH_MAX], name[PATH_MAX / 2];
    ad_proc_real_wt(w->wt, real, sizeof(real));
    ad_proc_claude_project_name(real, name, sizeof(name));
    if (name[0] == '\0' || (size_t)snprintf(out, outsz, "%s/projects/%s", cfg, name) >= outsz) {
        return AD_EINVAL;
    }
    return 0;
}

/* The folder dir opened: its first trusted bytes (a root no agent can
 * change) as they are, each part after that with no link followed (an
 * agent may write in its home: a link there must not lead a move's file
 * elsewhere), made 0700 when missing and make is set. A descriptor, or -1
 * with errno. */
static int open_dir(const char *dir, size_t trusted, bool make)
{
    char p[PATH_MAX];
    if (dir[0] != '/' || trusted == 0 || trusted > strlen(dir) ||
        (size_t)snprintf(p, sizeof(p), "%s", dir) >= sizeof(p)) {
        errno = EINVAL;
        return -1;
    }
    p[trusted] = '\0';
    if (make && mkdir(p, 0700) != 0 && errno != EEXIST) {
        return -1;
    }
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char *part = dir[trusted] == '/' ? p + trusted + 1 : p + trusted;
    snprintf(p, sizeof(p), "%s", dir);
    while (fd >= 0 && *part != '\0') {
        char *end = strchr(part, '/');
        if (end != NULL) {
            *end = '\0';
        }
        if (part[0] != '\0') {
            if (strcmp(part, ".") == 0 || strcmp(part, "..") == 0) {
                close(fd);
                errno = EINVAL;
                return -1;
            }
            if (make && mkdirat(fd, part, 0700) != 0 && errno != EEXIST) {
                int err = errno;
                close(fd);
                errno = err;
                return -1;
            }
            int next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
            int err = errno;
            close(fd);
            errno = err;
            fd = next;
        }
        part = end != NULL ? end + 1 : part + strlen(part);
    }
    return fd;
}

/* The session's file (its folder walked as open_dir does), opened for
 * reading: a descriptor and its size, or -1 with *err. */
static int open_session(const char *dir, size_t trusted, const char *sid, uint64_t *size, int *err)
{
    char name[80];
    *err = 0;
    if (!ad_proc_claude_sid_ok(sid)) {
        *err = EINVAL;
        return -1;
    }
    snprintf(name, sizeof(name), "%s.jsonl", sid);
    int dfd = open_dir(dir, trusted, false);
    if (dfd < 0) {
        *err = errno;
        return -1;
    }
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    *err = fd < 0 ? errno : 0;
    close(dfd);
    struct stat st;
    if (*err == 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        *err = EINVAL;
    } else if (*err == 0 && (uint64_t)st.st_size > AD_PROC_CLAUDE_SESSION_MAX) {
        *err = EFBIG;
    }
    if (*err != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

int ad_proc_claude_session_read_at(const char *dir, size_t trusted, const char *sid,
                                   uint64_t offset, size_t max, char **out, size_t *len,
                                   uint64_t *size)
{
    *out = NULL;
    *len = 0;
    int err = 0;
    int fd = open_session(dir, trusted, sid, size, &err);
    if (fd < 0) {
        return err;
    }
    size_t n = offset >= *size ? 0 : (size_t)(*size - offset < max ? *size - offset : max);
    char *buf = ad_xmalloc(n + 1);
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(offset + got));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 0;
}

int ad_proc_claude_session_read(const char *dir, size_t trusted, const char *sid, char **out,
                                size_t *len)
{
    uint64_t size = 0;
    return ad_proc_claude_session_read_at(dir, trusted, sid, 0, AD_PROC_CLAUDE_SESSION_MAX, out,
                                          len, &size);
}

int ad_proc_claude_session_put(const char *dir, size_t trusted, const char *sid, uint64_t offset,
                               const char *data, size_t len, bool final)
{
    if (!ad_proc_claude_sid_ok(sid) || offset > AD_PROC_CLAUDE_SESSION_MAX ||
        len > AD_PROC_CLAUDE_SESSION_MAX - offset) {
        return EINVAL;
    }
    int dfd = open_dir(dir, trusted, true);
    if (dfd < 0) {
        return errno;
    }
    char part[96], name[80];
    snprintf(part, sizeof(part), ".%s.jsonl.agentd-part", sid);
    snprintf(name, sizeof(name), "%s.jsonl", sid);
    /* the first part makes it anew; each next one must follow the last */
    int flags = O_WRONLY | O_CLOEXEC | O_NOFOLLOW | (offset == 0 ? O_CREAT | O_TRUNC : 0);
    int fd = openat(dfd, part, flags, 0600);
    int err = fd < 0 ? (errno == ENOENT ? EINVAL : errno) : 0; /* no first part: out of order */
    struct stat st;
    if (err == 0 &&
        (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != offset)) {
        err = EINVAL;
    }
    for (size_t put = 0; err == 0 && put < len;) {
        ssize_t w = pwrite(fd, data + put, len - put, (off_t)(offset + put));
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            err = w < 0 ? errno : EIO;
            break;
        }
        put += (size_t)w;
    }
    if (err == 0 && final && fsync(fd) != 0) {
        err = errno;
    }
    if (fd >= 0) {
        close(fd);
    }
    if (err == 0 && final && renameat(dfd, part, dfd, name) != 0) {
        err = errno;
    }
    if (err != 0) {
        unlinkat(dfd, part, 0);
    }
    close(dfd);
    return err;
}

int ad_proc_cli_file_write(const char *dir, size_t trusted, const char *name, const char *data,
                           size_t len)
{
    size_t n = name != NULL ? strlen(name) : 0;
    if (n == 0 || n > 255 || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0 || len > AD_PROC_CLAUDE_SESSION_MAX) {
        return EINVAL;
    }
    int dfd = open_dir(dir, trusted, true);
    if (dfd < 0) {
        return errno;
    }
    int err = ad_replace_at(dfd, name, data, len, 0600, NULL);
    close(dfd);
    return err;
}

int ad_proc_claude_session_write(const char *dir, size_t trusted, const char *sid, const char *data,
                                 size_t len)
{
    if (!ad_proc_claude_sid_ok(sid)) {
        return EINVAL;
    }
    char name[80];
    snprintf(name, sizeof(name), "%s.jsonl", sid);
    return ad_proc_cli_file_write(dir, trusted, name, data, len);
}
