/* SPDX-License-Identifier: MIT */
/*
 * The agent CLI's config for an agent of the owner's organisation
 * (proc_int.h, issue #73). The user's ~/.claude, ~/.codex and ~/.gemini
 * are never shown read-write: what is written there (a hook in
 * settings.json, CLAUDE.md, a plugin, an MCP server, codex's notify
 * program) runs later in the user's own, unsandboxed sessions. The agent's
 * folder is one of its own home (<data-dir>/homes/<agent>/.claude, kept
 * across its runs), into which go:
 *   - read-write, what keeps the CLI signed in and its sessions where the
 *     user finds them: Claude's .credentials.json (a token refresh is
 *     written back) and projects/<the worktree's folder name>, codex's
 *     auth.json and sessions, gemini's oauth_creds.json,
 *     google_accounts.json and tmp/<the worktree's name> when the user's
 *     registry has one (gemcfg.c);
 *   - read-only, the user's settings, instructions, agents, commands,
 *     skills, plugins, extensions and rules (those there), so the agent
 *     works as the user's CLI does and cannot change them;
 *   - ~/.claude.json as a copy made at each start (its account and
 *     onboarding state, MCP servers), which the agent changes for itself.
 */
#include "proc/claudesess.h"
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
 * A-Z a-z 0-9 made '-' (proc.h). */
void ad_proc_claude_project_name(const char *wt, char *out, size_t outsz)
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
    int fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
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

/* What of each CLI's folder in the user's home its agents get. */
typedef struct {
    const char *cli, *dir;
    const char *const *rw; /* read-write: what keeps it signed in, its sessions */
    const char *const *ro; /* read-only: what the user's CLI runs or obeys */
    const char *copy;      /* a file beside the folder copied at each start, or NULL */
    bool project;          /* Claude's projects/<worktree> folder, read-write */
} layout_t;

static const char *const claude_rw[] = {".credentials.json", NULL};
static const char *const claude_ro[] = {"settings.json", "CLAUDE.md", "agents",        "commands",
                                        "skills",        "plugins",   "output-styles", NULL};
/* codex: config.toml holds mcp_servers and notify (a program it runs),
 * rules/ the commands it may run unasked */
static const char *const codex_rw[] = {"auth.json", "sessions", NULL};
static const char *const codex_ro[] = {"config.toml", "AGENTS.md", "prompts",
                                       "rules",       "skills",    NULL};
/* gemini: settings.json holds mcpServers and hooks */
static const char *const gemini_rw[] = {"oauth_creds.json", "google_accounts.json", NULL};
static const char *const gemini_ro[] = {"settings.json", "GEMINI.md", "commands", "extensions",
                                        NULL};
static const layout_t layouts[] = {
    {"claude", ".claude", claude_rw, claude_ro, ".claude.json", true},
    {"codex", ".codex", codex_rw, codex_ro, NULL, false},
    {"gemini", ".gemini", gemini_rw, gemini_ro, NULL, false},
};

static void add(ad_proc_cfg_bind_t *out, size_t max, size_t *n, bool rw, const char *dir,
                const char *user, const char *name)
{
    struct stat st;
    if (*n >= max) {
        return;
    }
    ad_proc_cfg_bind_t *b = &out[*n];
    snprintf(b->src, sizeof(b->src), "%.*s/%s", PATH_MAX - 64, user, name);
    snprintf(b->dst, sizeof(b->dst), "%s/%s", dir, name);
    if (lstat(b->src, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
        b->rw = rw;
        (*n)++;
    }
}

size_t ad_proc_cli_config(const char *cli, const char *home, const char *agent_home, const char *wt,
                          ad_proc_cfg_bind_t *out, size_t max)
{
    const layout_t *l = NULL;
    for (size_t i = 0; cli != NULL && i < AD_ARRAY_LEN(layouts); i++) {
        l = strcmp(cli, layouts[i].cli) == 0 ? &layouts[i] : l;
    }
    size_t n = 0;
    char user[PATH_MAX], mine[PATH_MAX];
    if (l == NULL || (size_t)snprintf(user, sizeof(user), "%s/%s", home, l->dir) >= sizeof(user) ||
        (size_t)snprintf(mine, sizeof(mine), "%s/%s", agent_home, l->dir) >= sizeof(mine) ||
        (mkdir(mine, 0700) != 0 && errno != EEXIST)) {
        return 0;
    }
    int dfd =
        l->copy != NULL ? open(agent_home, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW) : -1;
    if (dfd >= 0) {
        char src[PATH_MAX];
        snprintf(src, sizeof(src), "%.*s/%s", PATH_MAX - 64, home, l->copy);
        copy_into(src, dfd, l->copy);
        close(dfd);
    }
    for (size_t i = 0; l->ro[i] != NULL; i++) {
        add(out, max, &n, false, l->dir, user, l->ro[i]);
    }
    for (size_t i = 0; l->rw[i] != NULL; i++) {
        add(out, max, &n, true, l->dir, user, l->rw[i]);
    }
    /* the CLI names it after its working folder as getcwd() has it */
    struct stat st;
    char proj[PATH_MAX], name[PATH_MAX / 2], real[PATH_MAX];
    const char *wtp = wt != NULL && realpath(wt, real) != NULL ? real : wt;
    ad_proc_claude_project_name(wtp != NULL ? wtp : "", name, sizeof(name));
    /* Gemini CLI's chats of the worktree's folder, when the user has some (gemcfg.c) */
    if (strcmp(l->cli, "gemini") == 0 && n < max &&
        ad_proc_gemini_project(user, mine, wtp, &out[n])) {
        n++;
    }
    if (l->project && n < max && name[0] != '\0' &&
        (size_t)snprintf(proj, sizeof(proj), "%s/projects", user) < sizeof(proj) &&
        lstat(user, &st) == 0 && S_ISDIR(st.st_mode) &&
        (mkdir(proj, 0700) == 0 || errno == EEXIST)) {
        ad_proc_cfg_bind_t *b = &out[n];
        snprintf(b->src, sizeof(b->src), "%.*s/%.*s", PATH_MAX / 2 - 64, proj, PATH_MAX / 2 - 64,
                 name);
        snprintf(b->dst, sizeof(b->dst), "%s/projects/%s", l->dir, name);
        if ((mkdir(b->src, 0700) == 0 || errno == EEXIST) && lstat(b->src, &st) == 0 &&
            S_ISDIR(st.st_mode)) {
            b->rw = true;
            n++;
        }
    }
    return n;
}
