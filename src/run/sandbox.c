/* SPDX-License-Identifier: MIT */
/*
 * What an agent's sandbox shows (src/proc runs it): its worktree read-write,
 * the repository's git folder it commits into (its hooks and config
 * read-only: a hook written there would run outside, in the owner's
 * checkout), the agent CLI's own folder read-only, the paths an admin gave
 * the agent (state.sandbox.paths), the data dir masked by an empty folder
 * wherever a bind would show it, and its own home <data-dir>/homes/<agent>
 * at /home/agent. Agents of the owner's organisation also get the CLI's
 * config of agentd's user (~/.claude, ~/.claude.json, ~/.codex, ~/.gemini)
 * so a logged-in CLI keeps working, and ~/.gitconfig read-only (who
 * commits); other organisations never see them.
 *
 * state.sandbox: absent (the default: sandboxed, network on), "none"
 * (unconfined; only the owner may set it), or {network: "on"|"off",
 * paths: ["/ro/path", {"path": "/rw/path", "write": true}]}. A workspace's
 * sandbox {network, paths} (an admin's) fills what the agent's leaves out
 * (ad_run_sandbox_effective).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "run/run_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOME_IN "/home/agent"

static const char *keep(ad_run_sbx_t *x, const char *s)
{
    if (x->nstrs >= AD_ARRAY_LEN(x->strs)) {
        x->full = true;
        return NULL;
    }
    char *c = ad_xstrdup(s);
    x->strs[x->nstrs++] = c;
    return c;
}

static void add_bind(ad_run_sbx_t *x, ad_proc_bind_kind_t kind, const char *src, const char *dst)
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

void ad_run_sandbox_cleanup(ad_run_sbx_t *x)
{
    for (size_t i = 0; i < x->nstrs; i++) {
        free(x->strs[i]);
    }
    json_decref(x->policy);
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

bool ad_run_sandbox_path_ok(const ad_config_t *cfg, const char *path, char *why, size_t whysz)
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
    if (realpath(cfg->data_dir, data) == NULL) {
        snprintf(data, sizeof(data), "%s", cfg->data_dir);
    }
    if (overlaps(real, data) || overlaps(path, cfg->data_dir)) {
        snprintf(why, whysz, "%s overlaps agentd's data dir, which no agent may see", path);
        return false;
    }
    return true;
}

/* The common git folder of the worktree at wt (its .git, or where a
 * linked worktree's .git file and commondir lead); false when none. */
static bool git_common(const char *wt, char *out, size_t outsz)
{
    char p[PATH_MAX + 16], line[PATH_MAX + 16];
    snprintf(p, sizeof(p), "%s/.git", wt);
    struct stat st;
    if (lstat(p, &st) != 0) {
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        return realpath(p, out) != NULL && strlen(out) < outsz;
    }
    FILE *f = fopen(p, "re");
    if (f == NULL || fgets(line, sizeof(line), f) == NULL || strncmp(line, "gitdir: ", 8) != 0) {
        if (f != NULL) {
            fclose(f);
        }
        return false;
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    char gitdir[PATH_MAX + 16];
    if (line[8] == '/') {
        snprintf(gitdir, sizeof(gitdir), "%s", line + 8);
    } else {
        snprintf(gitdir, sizeof(gitdir), "%s/%s", wt, line + 8);
    }
    snprintf(p, sizeof(p), "%.*s/commondir", PATH_MAX, gitdir);
    char common[PATH_MAX + 16] = "";
    f = fopen(p, "re");
    if (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '/') {
            snprintf(common, sizeof(common), "%s", line);
        } else {
            snprintf(common, sizeof(common), "%.*s/%.*s", PATH_MAX / 2, gitdir, PATH_MAX / 2, line);
        }
    }
    if (f != NULL) {
        fclose(f);
    }
    char real[PATH_MAX];
    if (realpath(common[0] != '\0' ? common : gitdir, real) == NULL || strlen(real) >= outsz) {
        return false;
    }
    snprintf(out, outsz, "%s", real);
    return true;
}

/* The folder of the CLI's real program (node_modules/.bin/claude leads
 * to the package's cli.js, which needs its package), read-only. */
static void cli_binds(ad_run_sbx_t *x, const ad_config_t *cfg, const char *exe)
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
    if (ad_run_sandbox_path_ok(cfg, real, why, sizeof(why))) {
        add_bind(x, AD_PROC_BIND_RO, real, real);
    }
}

/* The CLI's own config of agentd's user, for the owner's agents. */
static void cli_config(ad_run_sbx_t *x, const ad_config_t *cfg, ad_executor_t ex)
{
    const char *home = getenv("HOME");
    if (home == NULL || home[0] != '/') {
        return;
    }
    static const char *const claude[] = {".claude", ".claude.json"};
    static const char *const codex[] = {".codex"};
    static const char *const gemini[] = {".gemini"};
    const char *const *names = ex == AD_EXEC_CLAUDE   ? claude
                               : ex == AD_EXEC_CODEX  ? codex
                               : ex == AD_EXEC_GEMINI ? gemini
                                                      : NULL;
    size_t n = ex == AD_EXEC_CLAUDE ? 2 : names != NULL ? 1 : 0;
    for (size_t i = 0; i < n; i++) {
        char src[PATH_MAX], dst[PATH_MAX], why[200];
        snprintf(src, sizeof(src), "%.*s/%s", PATH_MAX - 32, home, names[i]);
        snprintf(dst, sizeof(dst), HOME_IN "/%s", names[i]);
        struct stat st;
        if (lstat(src, &st) == 0 && ad_run_sandbox_path_ok(cfg, src, why, sizeof(why))) {
            add_bind(x, AD_PROC_BIND_RW, src, dst);
        }
    }
    /* git's identity for the agent's commits, read-only */
    char src[PATH_MAX], why[200];
    snprintf(src, sizeof(src), "%.*s/.gitconfig", PATH_MAX - 32, home);
    if (access(src, R_OK) == 0 && ad_run_sandbox_path_ok(cfg, src, why, sizeof(why))) {
        add_bind(x, AD_PROC_BIND_RO, src, HOME_IN "/.gitconfig");
    }
}

/* An owner's agent whose env names its own HOME (an admin's choice, with
 * allowUnsafeEnv) keeps it across runs: the folder is bound read-write
 * where it is, unless it would show the data dir. */
static void own_home(ad_run_sbx_t *x, const ad_config_t *cfg, json_t *env)
{
    const char *home = json_string_value(json_object_get(env, "HOME"));
    char why[300];
    struct stat st;
    if (home != NULL && home[0] == '/' && stat(home, &st) == 0 && S_ISDIR(st.st_mode) &&
        ad_run_sandbox_path_ok(cfg, home, why, sizeof(why))) {
        add_bind(x, AD_PROC_BIND_RW, home, home);
    }
}

/* <data-dir>/homes/<agent>, made 0700. */
static int home_dir(const ad_config_t *cfg, const char *agent_id, char *out, size_t outsz,
                    char *err, size_t errsz)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%.*s/homes", PATH_MAX - 16, cfg->data_dir);
    if ((mkdir(dir, 0700) != 0 && errno != EEXIST) ||
        (size_t)snprintf(out, outsz, "%s/%s", dir, agent_id) >= outsz ||
        (mkdir(out, 0700) != 0 && errno != EEXIST)) {
        snprintf(err, errsz, "cannot make the agent's home in %s: %s", dir, strerror(errno));
        return AD_EIO;
    }
    return 0;
}

/* state.sandbox's paths, checked again at start (a stored agent may
 * predate a move of the data dir). */
static int extra_paths(ad_run_sbx_t *x, const ad_config_t *cfg, json_t *paths, char *err,
                       size_t errsz)
{
    size_t i;
    json_t *v;
    json_array_foreach(paths, i, v)
    {
        const char *p = json_is_string(v) ? json_string_value(v)
                                          : json_string_value(json_object_get(v, "path"));
        bool write = json_is_true(json_object_get(v, "write"));
        char why[300];
        if (!ad_run_sandbox_path_ok(cfg, p, why, sizeof(why))) {
            snprintf(err, errsz, "sandbox path %zu: %s", i, why);
            return AD_EINVAL;
        }
        add_bind(x, write ? AD_PROC_BIND_RW : AD_PROC_BIND_RO, p, p);
    }
    return 0;
}

/* --sandbox-paths: read-only for every agent (one that would show the
 * data dir is left out, with a warning). */
static void daemon_paths(ad_run_sbx_t *x, const ad_config_t *cfg)
{
    for (const char *p = cfg->sandbox_paths; *p != '\0';) {
        size_t n = strcspn(p, ",");
        char path[PATH_MAX], why[300];
        if (n > 0 && n < sizeof(path)) {
            memcpy(path, p, n);
            path[n] = '\0';
            if (ad_run_sandbox_path_ok(cfg, path, why, sizeof(why))) {
                add_bind(x, AD_PROC_BIND_RO, path, path);
            } else {
                ad_log(AD_LOG_WARN, "runner", "--sandbox-paths entry left out why=\"%s\"", why);
            }
        }
        p += n + (p[n] == ',');
    }
}

/* network {allow: [...]}: the list for the proxy (src/hold/netproxy.c)
 * and its socket, <data-dir>/proxy/<agent> (0700 folder; the sandbox sees
 * it at /run/agentd-proxy.sock only). */
static int net_allow(ad_run_sbx_t *x, const ad_config_t *cfg, json_t *allow, const char *agent_id,
                     char *err, size_t errsz)
{
    size_t i, off = 0;
    json_t *v;
    json_array_foreach(allow, i, v)
    {
        const char *h = json_string_value(v);
        if (h == NULL || strchr(h, ',') != NULL || off + strlen(h) + 2 >= sizeof(x->net_allow)) {
            snprintf(err, errsz, "sandbox network allow list: entry %zu is not a host[:port]", i);
            return AD_EINVAL;
        }
        off += (size_t)snprintf(x->net_allow + off, sizeof(x->net_allow) - off, "%s%s",
                                off > 0 ? "," : "", h);
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%.*s/proxy", PATH_MAX - 16, cfg->data_dir);
    if ((mkdir(dir, 0700) != 0 && errno != EEXIST) ||
        (size_t)snprintf(x->net_sock, sizeof(x->net_sock), "%s/%s", dir, agent_id) >=
            sizeof(x->net_sock)) {
        snprintf(err, errsz,
                 "cannot make the agent's network proxy socket in %s (a unix socket path "
                 "is at most 107 bytes): %s",
                 dir, strerror(errno));
        return AD_EIO;
    }
    x->sb.net_allow = x->net_allow;
    x->sb.net_sock = x->net_sock;
    return 0;
}

json_t *ad_run_sandbox_effective(json_t *agent_pol, json_t *ws_pol)
{
    if (json_is_string(agent_pol) && strcmp(json_string_value(agent_pol), "none") == 0) {
        return json_string("none");
    }
    json_t *out = json_object(), *from = json_object();
    static const char *const keys[] = {"network", "paths"};
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        json_t *a = json_object_get(agent_pol, keys[i]), *w = json_object_get(ws_pol, keys[i]);
        json_t *v = a != NULL ? a : w;
        json_object_set_new(out, keys[i],
                            v != NULL ? json_incref(v)
                            : i == 0  ? json_string("on")
                                      : json_array());
        json_object_set_new(from, keys[i],
                            json_string(a != NULL   ? "agent"
                                        : w != NULL ? "workspace"
                                                    : "default"));
    }
    json_object_set_new(out, "from", from);
    return out;
}

json_t *ad_run_sandbox_of(ad_store_t *st, json_t *agent)
{
    json_t *pol = json_object_get(json_object_get(agent, "state"), "sandbox");
    const char *wt = json_string_value(json_object_get(agent, "worktreeId"));
    char ws_id[AD_ID_MAX];
    json_t *ws = NULL;
    int rc = wt != NULL ? ad_store_worktree_workspace(st, wt, ws_id) : AD_ENOENT;
    if (rc == 0) {
        rc = ad_store_workspace_get(st, ws_id, &ws);
    }
    if (rc != 0 && rc != AD_ENOENT) {
        return NULL;
    }
    json_t *out = ad_run_sandbox_effective(pol, json_object_get(ws, "sandbox"));
    json_decref(ws);
    return out;
}

int ad_run_sandbox(ad_runner_t *r, json_t *agent, const char *agent_id, ad_executor_t ex,
                   bool read_only, const char *wt, const char *exe, ad_run_sbx_t *x, char *err,
                   size_t errsz)
{
    ad_proc_bind_kind_t wt_kind = read_only ? AD_PROC_BIND_RO : AD_PROC_BIND_RW;
    memset(x, 0, sizeof(*x));
    json_t *pol = json_object_get(json_object_get(agent, "state"), "sandbox");
    if (pol != NULL && !json_is_object(pol) &&
        !(json_is_string(pol) && strcmp(json_string_value(pol), "none") == 0)) {
        snprintf(err, errsz, "state.sandbox must be \"none\" or {network, paths}");
        return AD_EINVAL;
    }
    x->policy = ad_run_sandbox_of(r->store, agent);
    if (x->policy == NULL) {
        snprintf(err, errsz, "cannot read the sandbox policy of the agent's workspace");
        return AD_EIO;
    }
    pol = x->policy; /* the agent's own over its workspace's */
    const char *org = json_string_value(json_object_get(agent, "orgId"));
    bool owners = org == NULL || strcmp(org, AD_ORG_DEFAULT) == 0;
    if (json_is_string(pol) && strcmp(json_string_value(pol), "none") == 0) {
        x->none = true;
        ad_log(AD_LOG_WARN, "runner", "agent runs unconfined (sandbox none) agent=%s", agent_id);
        return 0;
    }
    const char *why = NULL;
    if (!ad_procs_sandbox(r->procs, &why)) {
        if (!owners) {
            snprintf(err, errsz,
                     "agents of an organisation other than the owner's run only in a sandbox, "
                     "and this machine has none (%s); see /api/requirements",
                     why);
            return AD_EPERM;
        }
        x->none = true;
        return 0;
    }
    const char *net = json_string_value(json_object_get(pol, "network"));
    x->sb.network = net == NULL || strcmp(net, "off") != 0;
    json_t *allow = json_object_get(json_object_get(pol, "network"), "allow");
    if (allow != NULL) {
        x->sb.network = false;
        int rc = net_allow(x, r->cfg, allow, agent_id, err, errsz);
        if (rc != 0) {
            return rc;
        }
    }
    x->sb.binds = x->binds;
    char common[PATH_MAX];
    bool has_git = git_common(wt, common, sizeof(common));
    add_bind(x, wt_kind, wt, wt);
    if (has_git && !overlaps(common, wt)) {
        add_bind(x, wt_kind, common, common);
    }
    if (ex != AD_EXEC_COMMAND) {
        cli_binds(x, r->cfg, exe);
    }
    daemon_paths(x, r->cfg);
    int rc = extra_paths(x, r->cfg, json_object_get(pol, "paths"), err, errsz);
    if (rc != 0) {
        return rc;
    }
    /* Whatever a bind above holds of the data dir is covered again, and
     * then what lives inside it (a worktree there) shown again. */
    const char *data = r->cfg->data_dir;
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
    char home[PATH_MAX];
    rc = home_dir(r->cfg, agent_id, home, sizeof(home), err, errsz);
    if (rc != 0) {
        return rc;
    }
    add_bind(x, AD_PROC_BIND_RW, home, HOME_IN);
    if (owners) {
        cli_config(x, r->cfg, ex);
        own_home(x, r->cfg, json_object_get(json_object_get(agent, "state"), "env"));
    }
    x->home = HOME_IN;
    if (x->full) {
        snprintf(err, errsz, "the agent's sandbox has more than %d paths; give it fewer",
                 AD_RUN_SBX_BINDS);
        return AD_EINVAL;
    }
    return 0;
}

void ad_run_sandbox_show(ad_run_sbx_t *x, const char *path)
{
    if (!x->none && x->home != NULL) {
        add_bind(x, AD_PROC_BIND_RO, path, path);
    }
}
