/* SPDX-License-Identifier: MIT */
/*
 * What an agent's sandbox shows (sandbox.c runs it), built from a policy
 * already resolved: its worktree read-write, the repository's git folder it
 * commits into (its hooks and config read-only: a hook written there would
 * run outside, in the owner's checkout), the agent CLI's own folder
 * read-only, the paths an admin gave the agent, the data dir masked by an
 * empty folder wherever a bind would show it, and its own home
 * <data-dir>/homes/<agent> at /home/agent. Agents of the owner's
 * organisation also get what of the CLI's config of agentd's user keeps a
 * logged-in CLI working, read-write, and its settings read-only (clicfg.c), and
 * ~/.gitconfig read-only (who commits); other organisations never see them.
 *
 * Every path is this machine's: a control plane builds its local agents'
 * boxes (src/run/sandbox.c reads the policy from the store), a worker node
 * its own agents' from the policy the plane sent, for its own worktree and
 * data dir (src/node/worker.c; docs/nodes.md).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proc/proc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOME_IN "/home/agent"

static const char *keep(ad_proc_box_t *x, const char *s)
{
    if (x->nstrs >= AD_ARRAY_LEN(x->strs)) {
        x->full = true;
        return NULL;
    }
    char *c = ad_xstrdup(s);
    x->strs[x->nstrs++] = c;
    return c;
}

static void add_bind(ad_proc_box_t *x, ad_proc_bind_kind_t kind, const char *src, const char *dst)
{
    if (x->sb.nbinds >= AD_ARRAY_LEN(x->binds)) {
        x->full = true; /* the start is refused: a cover left out would show too much */
        return;
    }
    const char *s = src != NULL ? keep(x, src) : NULL;
    const char *d = keep(x, dst);
    if (d == NULL || (src != NULL && s == NULL)) {
        return;
    }
    x->binds[x->sb.nbinds++] = (ad_proc_bind_t){.kind = kind, .src = s, .dst = d};
}

void ad_proc_box_cleanup(ad_proc_box_t *x)
{
    for (size_t i = 0; i < x->nstrs; i++) {
        free(x->strs[i]);
    }
    memset(x, 0, sizeof(*x));
}

/* Whether a and b are the same folder or one holds the other. */
static bool overlaps(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/') {
        la--;
    }
    while (lb > 1 && b[lb - 1] == '/') {
        lb--;
    }
    size_t l = la < lb ? la : lb;
    if (l == 1) { /* one of them is "/" */
        return true;
    }
    return strncmp(a, b, l) == 0 && (la == lb || (la > lb ? a[l] : b[l]) == '/');
}

bool ad_proc_box_path_ok(const char *data_dir, const char *path, char *why, size_t whysz)
{
    char real[PATH_MAX], data[PATH_MAX];
    if (path == NULL || path[0] != '/' || strstr(path, "/../") != NULL ||
        strlen(path) >= PATH_MAX - 1) {
        snprintf(why, whysz, "must be an absolute path without '..'");
        return false;
    }
    if (realpath(path, real) == NULL) {
        snprintf(why, whysz, "%s: %s", path, strerror(errno));
        return false;
    }
    if (realpath(data_dir, data) == NULL) {
        snprintf(data, sizeof(data), "%s", data_dir);
    }
    if (overlaps(real, data) || overlaps(path, data_dir)) {
        snprintf(why, whysz, "%s overlaps agentd's data dir, which no agent may see", path);
        return false;
    }
    return true;
}

/* The folder of the CLI's real program (node_modules/.bin/claude leads
 * to the package's cli.js, which needs its package), read-only. */
static void cli_binds(ad_proc_box_t *x, const char *data_dir, const char *exe)
{
    char real[PATH_MAX];
    if (exe == NULL || realpath(exe, real) == NULL) {
        return;
    }
    snprintf(x->exe, sizeof(x->exe), "%s", real);
    char *slash = strrchr(real, '/');
    if (slash == NULL || slash == real) {
        return;
    }
    *slash = '\0';
    /* A CLI from npm finds its parts in sibling packages (codex's native
     * binary is @openai/codex-linux-x64): its whole node_modules. */
    char *nm = strstr(real, "/node_modules/");
    if (nm != NULL) {
        nm[strlen("/node_modules")] = '\0';
    }
    static const char *const sys[] = {"/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"};
    for (size_t i = 0; i < AD_ARRAY_LEN(sys); i++) {
        if (overlaps(real, sys[i]) && strlen(real) >= strlen(sys[i])) {
            return;
        }
    }
    char why[200];
    if (ad_proc_box_path_ok(data_dir, real, why, sizeof(why))) {
        add_bind(x, AD_PROC_BIND_RO, real, real);
    }
}

/* The CLI's own config of agentd's user, for the owner's agents: its own
 * folder in the agent's home, with what keeps the CLI signed in read-write
 * and the user's settings read-only (clicfg.c, issue #73). */
static void cli_config(ad_proc_box_t *x, const char *data_dir, const char *cli,
                       const char *agent_home, const char *wt)
{
    const char *home = getenv("HOME");
    if (home == NULL || home[0] != '/' || cli == NULL) {
        return;
    }
    enum { MAX = 16 };
    ad_proc_cfg_bind_t *b = ad_xcalloc(MAX, sizeof(*b));
    size_t n = ad_proc_cli_config(cli, home, agent_home, wt, b, MAX);
    for (size_t i = 0; i < n; i++) {
        char dst[PATH_MAX], why[200];
        snprintf(dst, sizeof(dst), HOME_IN "/%.*s", PATH_MAX - 32, b[i].dst);
        if (ad_proc_box_path_ok(data_dir, b[i].src, why, sizeof(why))) {
            add_bind(x, b[i].rw ? AD_PROC_BIND_RW : AD_PROC_BIND_RO, b[i].src, dst);
        }
    }
    free(b);
    /* git's identity for the agent's commits, read-only */
    char src[PATH_MAX], why[200];
    snprintf(src, sizeof(src), "%.*s/.gitconfig", PATH_MAX - 32, home);
    if (access(src, R_OK) == 0 && ad_proc_box_path_ok(data_dir, src, why, sizeof(why))) {
        add_bind(x, AD_PROC_BIND_RO, src, HOME_IN "/.gitconfig");
    }
}

/* Claude Code prints "Claude configuration file not found" (and how to
 * restore a backup of ~/.claude/backups) at each start in a home without
 * ~/.claude.json: the agent's home gets an empty one (the owner's, when
 * bound, covers it). */
static void claude_json(const char *home, const char *cli)
{
    char p[PATH_MAX + 16];
    if (cli == NULL || strcmp(cli, "claude") != 0 ||
        (size_t)snprintf(p, sizeof(p), "%s/.claude.json", home) >= sizeof(p)) {
        return;
    }
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        (void)!write(fd, "{}\n", 3);
        close(fd);
    }
}

/* <data-dir>/<sub>, made 0700, into out; false when it cannot be. */
static bool sub_dir(const char *data_dir, const char *sub, char *out, size_t outsz)
{
    return (size_t)snprintf(out, outsz, "%s/%s", data_dir, sub) < outsz &&
           (mkdir(out, 0700) == 0 || errno == EEXIST);
}

/* --sandbox-paths: read-only for every agent (one that would show the
 * data dir is left out, with a warning). */
static void daemon_paths(ad_proc_box_t *x, const char *data_dir, const char *list)
{
    for (const char *p = list != NULL ? list : ""; *p != '\0';) {
        size_t n = strcspn(p, ",");
        char path[PATH_MAX], why[300];
        if (n > 0 && n < sizeof(path)) {
            memcpy(path, p, n);
            path[n] = '\0';
            if (ad_proc_box_path_ok(data_dir, path, why, sizeof(why))) {
                add_bind(x, AD_PROC_BIND_RO, path, path);
            } else {
                ad_log(AD_LOG_WARN, "proc", "--sandbox-paths entry left out why=\"%s\"", why);
            }
        }
        p += n + (p[n] == ',');
    }
}

/* The network through agentd's proxy (src/hold/netproxy.c): its policy
 * ("*" for network "on", an allow-list's hosts, "=ADDR:PORT" for each
 * host service) and the bridge's host-service listeners, and the agent's
 * folder at the shared proxy, <data-dir>/proxy/<agent> (its socket in it;
 * the sandbox sees it at /run/agentd-proxy only). Network "off" without host services has
 * no proxy: the loopback alone. */
static int net_allow(ad_proc_box_t *x, const ad_proc_box_in_t *in, char *err, size_t errsz)
{
    ad_proc_net_t net = {.network = in->network,
                         .allow = in->allow,
                         .nallow = in->nallow,
                         .services = in->services,
                         .nservices = in->nservices,
                         .otlp = in->otlp};
    return ad_proc_net_fill(in->data_dir, in->agent_id, &net, x->net_allow, sizeof(x->net_allow),
                            x->net_bridge, sizeof(x->net_bridge), x->net_sock, sizeof(x->net_sock),
                            &x->sb, err, errsz);
}

/* The worktree, its git folder and the paths an admin gave, the data dir
 * covered over them and what lives inside it shown again. */
static void work_binds(ad_proc_box_t *x, const ad_proc_box_in_t *in)
{
    ad_proc_bind_kind_t wt_kind = in->read_only ? AD_PROC_BIND_RO : AD_PROC_BIND_RW;
    const char *wt = in->wt, *data = in->data_dir;
    /* the common git folder as agentd's rows give it (the caller checked
     * the worktree's .git and commondir against them): what the agent's
     * files say is never read here */
    char common[PATH_MAX];
    bool has_git = in->git_common != NULL && in->git_common[0] == '/' &&
                   realpath(in->git_common, common) != NULL;
    add_bind(x, wt_kind, wt, wt);
    if (has_git && !overlaps(common, wt)) {
        add_bind(x, wt_kind, common, common);
    }
    if (in->exe != NULL) {
        cli_binds(x, data, in->exe);
    }
    daemon_paths(x, data, in->sandbox_paths);
    for (size_t i = 0; i < in->npaths; i++) {
        add_bind(x, in->paths[i].write ? AD_PROC_BIND_RW : AD_PROC_BIND_RO, in->paths[i].path,
                 in->paths[i].path);
    }
    add_bind(x, AD_PROC_BIND_HIDE, NULL, data);
    if (overlaps(wt, data) && strlen(wt) > strlen(data)) {
        add_bind(x, wt_kind, wt, wt);
    }
    if (has_git && overlaps(common, data) && strlen(common) > strlen(data) &&
        !overlaps(common, wt)) {
        add_bind(x, wt_kind, common, common);
    }
    if (has_git) {
        char hooks[PATH_MAX + 16], conf[PATH_MAX + 16];
        snprintf(hooks, sizeof(hooks), "%s/hooks", common);
        snprintf(conf, sizeof(conf), "%s/config", common);
        add_bind(x, AD_PROC_BIND_RO_TRY, hooks, hooks);
        add_bind(x, AD_PROC_BIND_RO_TRY, conf, conf);
    }
}

/* What the program needs (toolbox.c), read-only, for the owner's
 * organisation's agents: a toolchain tree of the home also at its place
 * under /home/agent, where a tool that looks in $HOME (rustup, asdf, mise)
 * finds it. A path needed that may not be shown refuses the start, saying
 * which and how to allow it. */
static int tool_binds(ad_proc_box_t *x, const ad_proc_box_in_t *in, char *err, size_t errsz)
{
    /* this machine's files are the owner's to show: another organisation's
     * admin may not name them (as its sandbox paths, docs/security.md) */
    if ((in->program == NULL && in->argv == NULL) || !in->owners) {
        return 0;
    }
    const char *shown[AD_PROC_BOX_BINDS], *rw[AD_PROC_BOX_BINDS];
    size_t nshown = 0, nrw = 0;
    for (size_t i = 0; i < x->sb.nbinds && nshown < AD_ARRAY_LEN(shown); i++) {
        if (x->binds[i].kind == AD_PROC_BIND_RO || x->binds[i].kind == AD_PROC_BIND_RW) {
            shown[nshown++] = x->binds[i].dst;
        }
        if (x->binds[i].kind == AD_PROC_BIND_RW && x->binds[i].src != NULL &&
            strcmp(x->binds[i].src, x->binds[i].dst) == 0) {
            rw[nrw++] = x->binds[i].dst;
        }
    }
    ad_proc_tools_in_t ti = {.program = in->program,
                             .argv = in->argv,
                             .wt = in->wt,
                             .data_dir = in->data_dir,
                             .home = in->home,
                             .path = in->path,
                             .shown = shown,
                             .nshown = nshown,
                             .writable = rw,
                             .nwritable = nrw};
    ad_proc_tools_t *t = ad_xcalloc(1, sizeof(*t));
    ad_proc_tools(&ti, t);
    if (t->hidden[0] != '\0') {
        bool data = strstr(t->hidden_why, "data dir") != NULL;
        snprintf(err, errsz, "%s is outside the agent's sandbox (%s); %s", t->hidden, t->hidden_why,
                 data ? "move it out of agentd's data dir"
                      : "add it with --sandbox-paths or the agent's sandbox paths "
                        "(sandbox.paths) if the agent should see it");
        free(t);
        return AD_EINVAL;
    }
    size_t hl = in->home != NULL ? strlen(in->home) : 0;
    for (size_t i = 0; i < t->n; i++) {
        add_bind(x, AD_PROC_BIND_RO, t->root[i], t->root[i]);
        if (t->mirror[i] && hl > 1 && strncmp(t->root[i], in->home, hl) == 0 &&
            t->root[i][hl] == '/') {
            char dst[PATH_MAX];
            snprintf(dst, sizeof(dst), HOME_IN "%.*s", PATH_MAX - 32, t->root[i] + hl);
            add_bind(x, AD_PROC_BIND_RO, t->root[i], dst);
        }
    }
    free(t);
    return 0;
}

/* A home's secrets inside a folder shown (a toolchain tree, a
 * --sandbox-paths folder) are covered: an empty folder or file. */
static void cover_secrets(ad_proc_box_t *x, const char *home)
{
    size_t n0 = x->sb.nbinds;
    for (size_t i = 0; i < n0; i++) {
        ad_proc_bind_t b = x->binds[i];
        if (b.src == NULL || b.kind == AD_PROC_BIND_HIDE || b.kind == AD_PROC_BIND_NULL) {
            continue;
        }
        char found[8][PATH_MAX];
        size_t n = ad_proc_home_secrets_in(home, b.src, found, AD_ARRAY_LEN(found));
        for (size_t k = 0; k < n; k++) {
            char dst[PATH_MAX];
            struct stat st;
            snprintf(dst, sizeof(dst), "%.*s%.*s", PATH_MAX / 2, b.dst, PATH_MAX / 2 - 1,
                     found[k] + strlen(b.src));
            add_bind(x,
                     stat(found[k], &st) == 0 && S_ISDIR(st.st_mode) ? AD_PROC_BIND_HIDE
                                                                     : AD_PROC_BIND_NULL,
                     NULL, dst);
        }
    }
}

static size_t depth_len(const char *p)
{
    size_t l = strlen(p);
    while (l > 1 && p[l - 1] == '/') {
        l--;
    }
    return l;
}

/* bwrap mounts in order, a later one over an earlier: a folder before
 * what is inside it (stable by the length of where it is shown), so a
 * read-write worktree inside a read-only --sandbox-paths folder stays
 * writable and a read-only hooks folder inside it stays read-only. */
static void order_binds(ad_proc_box_t *x)
{
    for (size_t i = 1; i < x->sb.nbinds; i++) {
        ad_proc_bind_t b = x->binds[i];
        size_t l = depth_len(b.dst), j = i;
        while (j > 0 && depth_len(x->binds[j - 1].dst) > l) {
            x->binds[j] = x->binds[j - 1];
            j--;
        }
        x->binds[j] = b;
    }
}

int ad_proc_box(const ad_procs_t *s, const ad_proc_box_in_t *in, ad_proc_box_t *x, char *err,
                size_t errsz)
{
    memset(x, 0, sizeof(*x));
    if (in->unconfined) {
        x->none = true;
        ad_log(AD_LOG_WARN, "proc", "agent runs unconfined (sandbox none) agent=%s", in->agent_id);
        return 0;
    }
    const char *why = NULL;
    if (!ad_procs_sandbox(s, &why)) {
        if (!in->owners) {
            snprintf(err, errsz,
                     "agents of an organisation other than the owner's run only in a sandbox, "
                     "and this machine has none (%s); see /api/requirements",
                     why);
            return AD_EPERM;
        }
        x->none = true;
        return 0;
    }
    x->sb.network = false; /* a namespace of its own, whatever the policy */
    int rc = net_allow(x, in, err, errsz);
    if (rc != 0) {
        return rc;
    }
    /* the admin's paths, checked again at start (a stored agent may
     * predate a move of the data dir) */
    for (size_t i = 0; i < in->npaths; i++) {
        char no[300];
        if (!ad_proc_box_path_ok(in->data_dir, in->paths[i].path, no, sizeof(no))) {
            snprintf(err, errsz, "sandbox path %zu: %s", i, no);
            return AD_EINVAL;
        }
    }
    x->sb.binds = x->binds;
    work_binds(x, in);
    char home[PATH_MAX], homes[PATH_MAX];
    if (!sub_dir(in->data_dir, "homes", homes, sizeof(homes)) ||
        !sub_dir(homes, in->agent_id, home, sizeof(home))) {
        snprintf(err, errsz, "cannot make the agent's home in %s: %s", homes, strerror(errno));
        return AD_EIO;
    }
    add_bind(x, AD_PROC_BIND_RW, home, HOME_IN);
    claude_json(home, in->cli);
    if (in->owners) {
        cli_config(x, in->data_dir, in->cli, home, in->wt);
        /* an owner's agent whose env names its own HOME (an admin's choice,
         * with allowUnsafeEnv) keeps it across runs, bound where it is */
        struct stat st;
        char no[300];
        if (in->own_home != NULL && in->own_home[0] == '/' && stat(in->own_home, &st) == 0 &&
            S_ISDIR(st.st_mode) &&
            ad_proc_box_path_ok(in->data_dir, in->own_home, no, sizeof(no))) {
            add_bind(x, AD_PROC_BIND_RW, in->own_home, in->own_home);
        }
    }
    int trc = tool_binds(x, in, err, errsz);
    if (trc != 0) {
        return trc;
    }
    cover_secrets(x, in->home != NULL ? in->home : getenv("HOME"));
    order_binds(x);
    x->home = HOME_IN;
    if (x->full) {
        snprintf(err, errsz, "the agent's sandbox has more than %d paths; give it fewer",
                 AD_PROC_BOX_BINDS);
        return AD_EINVAL;
    }
    return 0;
}

void ad_proc_box_show(ad_proc_box_t *x, const char *path)
{
    if (!x->none && x->home != NULL) {
        add_bind(x, AD_PROC_BIND_RO, path, path);
    }
}
