/* SPDX-License-Identifier: MIT */
/*
 * The Claude CLI's config for an agent of the owner's organisation
 * (proc_int.h, issue #73). The user's ~/.claude is never shown read-write:
 * what is written there (a hook in settings.json, CLAUDE.md, a plugin, an
 * MCP server in ~/.claude.json) runs later in the user's own, unsandboxed
 * sessions. The agent's ~/.claude is a folder of its own home
 * (<data-dir>/homes/<agent>/.claude, kept across its runs), into which go:
 *   - read-write, what keeps the CLI signed in and its sessions where the
 *     user finds them: ~/.claude/.credentials.json (a token refresh is
 *     written back) and ~/.claude/projects/<the worktree's folder name>;
 *   - read-only, the user's settings.json, CLAUDE.md, agents, commands,
 *     skills, output-styles and plugins (when there), so the agent works as
 *     the user's CLI does and cannot change them;
 *   - ~/.claude.json as a copy made at each start (its account and
 *     onboarding state), which the agent may change for itself only.
 */
#include "proc/proc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CLAUDE_JSON_MAX (64u << 20)

/* The CLI's name for a project folder: the path with every character but
 * A-Z a-z 0-9 made '-'. */
static void project_name(const char *wt, char *out, size_t outsz)
{
    size_t o = 0;
    for (const char *p = wt; *p != '\0' && o + 1 < outsz; p++) {
        char c = *p;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        out[o++] = alnum ? c : '-';
    }
    out[o] = '\0';
}

/* src (the user's, no link followed) copied into the folder dfd as name,
 * 0600, whole or not at all. */
static void copy_into(const char *src, int dfd, const char *name)
{
    int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size > CLAUDE_JSON_MAX) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    size_t n = (size_t)st.st_size;
    char *buf = ad_xmalloc(n + 1);
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    int rc = ad_replace_at(dfd, name, buf, got, 0600, NULL);
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "proc", "cannot copy the CLI's config name=%s err=\"%s\"", name,
               strerror(rc));
    }
    free(buf);
}

size_t ad_proc_claude_config(const char *home, const char *agent_home, const char *wt,
                             ad_proc_cfg_bind_t *out, size_t max)
{
    size_t n = 0;
    char user[PATH_MAX], mine[PATH_MAX];
    if ((size_t)snprintf(user, sizeof(user), "%s/.claude", home) >= sizeof(user) ||
        (size_t)snprintf(mine, sizeof(mine), "%s/.claude", agent_home) >= sizeof(mine) ||
        (mkdir(mine, 0700) != 0 && errno != EEXIST)) {
        return 0;
    }
    int dfd = open(agent_home, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (dfd >= 0) {
        char src[PATH_MAX];
        snprintf(src, sizeof(src), "%s/.claude.json", home);
        copy_into(src, dfd, ".claude.json");
        close(dfd);
    }
    static const char *const ro[] = {"settings.json", "CLAUDE.md", "agents",        "commands",
                                     "skills",        "plugins",   "output-styles", NULL};
    struct stat st;
    for (size_t i = 0; ro[i] != NULL && n < max; i++) {
        ad_proc_cfg_bind_t *b = &out[n];
        snprintf(b->src, sizeof(b->src), "%.*s/%s", PATH_MAX - 64, user, ro[i]);
        snprintf(b->dst, sizeof(b->dst), "%s", ro[i]);
        if (lstat(b->src, &st) == 0) {
            b->rw = false;
            n++;
        }
    }
    if (n < max) {
        ad_proc_cfg_bind_t *b = &out[n];
        snprintf(b->src, sizeof(b->src), "%.*s/.credentials.json", PATH_MAX - 64, user);
        snprintf(b->dst, sizeof(b->dst), ".credentials.json");
        if (lstat(b->src, &st) == 0 && S_ISREG(st.st_mode)) {
            b->rw = true;
            n++;
        }
    }
    /* the CLI names it after its working folder as getcwd() has it */
    char proj[PATH_MAX], name[PATH_MAX / 2], real[PATH_MAX];
    project_name(wt != NULL && realpath(wt, real) != NULL ? real
                 : wt != NULL                             ? wt
                                                          : "",
                 name, sizeof(name));
    if (n < max && name[0] != '\0' &&
        (size_t)snprintf(proj, sizeof(proj), "%s/projects", user) < sizeof(proj) &&
        lstat(user, &st) == 0 && S_ISDIR(st.st_mode) &&
        (mkdir(proj, 0700) == 0 || errno == EEXIST)) {
        ad_proc_cfg_bind_t *b = &out[n];
        snprintf(b->src, sizeof(b->src), "%.*s/%.*s", PATH_MAX / 2 - 64, proj, PATH_MAX / 2 - 64,
                 name);
        snprintf(b->dst, sizeof(b->dst), "projects/%s", name);
        if ((mkdir(b->src, 0700) == 0 || errno == EEXIST) && lstat(b->src, &st) == 0 &&
            S_ISDIR(st.st_mode)) {
            b->rw = true;
            n++;
        }
    }
    return n;
}
