/* SPDX-License-Identifier: MIT */
/*
 * Gemini CLI's chats of a worktree, shown to the owner's gemini agents of
 * that worktree (proc_int.h, issue #76), as Claude's project folder is
 * (clicfg.c): the CLI keeps a folder's chats in ~/.gemini/tmp/<name>/,
 * <name> given by its registry ~/.gemini/projects.json {"projects":
 * {"<folder>": "<name>"}}. When the user's registry names the worktree's
 * folder, that tmp/<name> folder is shown read-write in the agent's home
 * at the same place, and the agent's own registry (in its home) is made to
 * name it so too, so `gemini --resume <id>` in the agent finds a chat the
 * user had there (an adopted session) and the user finds the agent's.
 * Both registries are read as untrusted JSON: bounded, a regular file, no
 * link followed, and a name that is one plain path segment. A chat of a
 * node's user adopted there is put in a project folder this file makes for
 * the worktree's copy (ad_proc_gemini_place: the name, its .project_root
 * mark and the registry, as the CLI makes them).
 */
#include "proc/claudesess.h"
#include "proc/proc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REGISTRY_MAX (1u << 20)
#define NAME_MAX_LEN 200

/* A regular file's text (at most max bytes), no link followed; NULL when
 * there is none or it is larger. */
static json_t *read_json(const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0) {
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        close(fd);
        return NULL;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = ad_xmalloc(n + 1);
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    json_t *j = json_loadb(buf, got, 0, NULL);
    free(buf);
    return j;
}

/* One plain path segment: letters, digits, '.', '_' and '-', not "." or
 * "..", at most NAME_MAX_LEN bytes. */
static bool plain_name(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > NAME_MAX_LEN || strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* The agent's own registry (mine/projects.json) names wt as name, the
 * rest of it kept. */
static void register_name(const char *mine, const char *wt, const char *name)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/projects.json", mine) >= sizeof(path)) {
        return;
    }
    json_t *reg = read_json(path, REGISTRY_MAX);
    if (!json_is_object(reg)) {
        json_decref(reg);
        reg = json_object();
    }
    json_t *projects = json_object_get(reg, "projects");
    if (!json_is_object(projects)) {
        projects = json_object();
        json_object_set_new(reg, "projects", projects);
    }
    const char *had = json_string_value(json_object_get(projects, wt));
    if (had == NULL || strcmp(had, name) != 0) {
        json_object_set_new(projects, wt, json_string(name));
        char *text = json_dumps(reg, JSON_INDENT(2));
        int dfd = open(mine, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        int rc = text == NULL || dfd < 0
                     ? EIO
                     : ad_replace_at(dfd, "projects.json", text, strlen(text), 0600, NULL);
        if (rc != 0) {
            ad_log(AD_LOG_WARN, "proc", "cannot write the agent's gemini projects err=\"%s\"",
                   strerror(rc));
        }
        if (dfd >= 0) {
            close(dfd);
        }
        free(text);
    }
    json_decref(reg);
}

bool ad_proc_gemini_project(const char *user, const char *mine, const char *wt,
                            ad_proc_cfg_bind_t *out)
{
    char path[PATH_MAX], name[NAME_MAX_LEN + 1];
    struct stat st;
    if (wt == NULL || wt[0] != '/' ||
        (size_t)snprintf(path, sizeof(path), "%s/projects.json", user) >= sizeof(path)) {
        return false;
    }
    json_t *reg = read_json(path, REGISTRY_MAX);
    const char *n = json_string_value(json_object_get(json_object_get(reg, "projects"), wt));
    bool ok = plain_name(n);
    if (ok) {
        snprintf(name, sizeof(name), "%s", n);
    }
    json_decref(reg);
    /* the folder itself, not a link to somewhere else */
    if (!ok ||
        (size_t)snprintf(out->src, sizeof(out->src), "%s/tmp/%s", user, name) >= sizeof(out->src) ||
        lstat(out->src, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return false;
    }
    snprintf(out->dst, sizeof(out->dst), ".gemini/tmp/%s", name);
    out->rw = true;
    register_name(mine, wt, name);
    return true;
}

/* The CLI's name for a folder it has not met: its last part in lower case,
 * each run of other characters than a-z and 0-9 one '-', none at the ends. */
static void slug_of(const char *wt, char *out, size_t outsz)
{
    const char *base = strrchr(wt, '/') != NULL ? strrchr(wt, '/') + 1 : wt;
    size_t o = 0;
    for (const char *p = base; *p != '\0' && o + 1 < outsz; p++) {
        char c = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (ok) {
            out[o++] = c;
        } else if (o > 0 && out[o - 1] != '-') {
            out[o++] = '-';
        }
    }
    while (o > 0 && out[o - 1] == '-') {
        o--;
    }
    out[o] = '\0';
    if (o == 0) {
        snprintf(out, outsz, "project");
    }
}

/* Whether name may be wt's in cfg: no other folder's in the registry and
 * its tmp/<name>/.project_root absent or saying wt. */
static bool name_free(const char *cfg, const json_t *projects, const char *wt, const char *name)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)projects, key, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0 && strcmp(key, wt) != 0) {
            return false;
        }
    }
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/tmp/%s/.project_root", cfg, name) >=
        sizeof(path)) {
        return false;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        return errno == ENOENT;
    }
    char buf[PATH_MAX];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n < 0) {
        return false;
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) {
        buf[--n] = '\0';
    }
    return strcmp(buf, wt) == 0;
}

int ad_proc_gemini_place(const char *cfg, size_t trusted, const char *wt, char *name, size_t namesz)
{
    char path[PATH_MAX], base[NAME_MAX_LEN - 8], pick[NAME_MAX_LEN + 1] = "";
    if (wt == NULL || wt[0] != '/' ||
        (size_t)snprintf(path, sizeof(path), "%s/projects.json", cfg) >= sizeof(path)) {
        return EINVAL;
    }
    json_t *reg = read_json(path, REGISTRY_MAX);
    json_t *projects = json_object_get(reg, "projects");
    const char *had = json_string_value(json_object_get(projects, wt));
    if (plain_name(had) && name_free(cfg, projects, wt, had)) {
        snprintf(pick, sizeof(pick), "%s", had);
    }
    slug_of(wt, base, sizeof(base));
    for (int i = 0; pick[0] == '\0' && i < 100; i++) {
        char c[NAME_MAX_LEN + 1];
        snprintf(c, sizeof(c), i == 0 ? "%s" : "%s-%d", base, i);
        if (name_free(cfg, projects, wt, c)) {
            snprintf(pick, sizeof(pick), "%s", c);
        }
    }
    json_decref(reg);
    char dir[PATH_MAX];
    if (pick[0] == '\0' ||
        (size_t)snprintf(dir, sizeof(dir), "%s/tmp/%s", cfg, pick) >= sizeof(dir)) {
        return EEXIST;
    }
    int err = ad_proc_cli_file_write(dir, trusted, ".project_root", wt, strlen(wt));
    if (err == 0) {
        register_name(cfg, wt, pick);
    }
    snprintf(name, namesz, "%s", pick);
    return err;
}
