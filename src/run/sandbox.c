/* SPDX-License-Identifier: MIT */
/*
 * An agent's sandbox policy (src/proc/agentbox.c builds what it shows,
 * src/proc runs it): state.sandbox is absent (the default: sandboxed,
 * network on), "none" (unconfined; only the owner may set it), or
 * {network: "on"|"off"|{allow: [host[:port]]}, paths: ["/ro/path",
 * {"path": "/rw/path", "write": true}], hostServices: ["ADDR:PORT"]}.
 * Network "on" is the internet through agentd's proxy, never the host;
 * hostServices opens named services of the host (the owner's
 * organisation's admins). A workspace's sandbox {network, paths,
 * hostServices} (an admin's) fills what the agent's leaves out
 * (ad_run_sandbox_effective).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "run/features.h"
#include "run/run_int.h"
#include "tables/accounts.h"
#include "tables/workspaces.h"

#include <stdlib.h>
#include <string.h>

void ad_run_sandbox_cleanup(ad_run_sbx_t *x)
{
    ad_proc_box_cleanup(&x->box);
    json_decref(x->policy);
    memset(x, 0, sizeof(*x));
}

bool ad_run_sandbox_path_ok(const ad_config_t *cfg, const char *path, char *why, size_t whysz)
{
    return ad_proc_box_path_ok(cfg->data_dir, path, why, whysz);
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
    /* shown only when set: agents without it read as before */
    json_t *a = json_object_get(agent_pol, "hostServices"),
           *w = json_object_get(ws_pol, "hostServices");
    if (a != NULL || w != NULL) {
        json_object_set(out, "hostServices", a != NULL ? a : w);
        json_object_set_new(from, "hostServices", json_string(a != NULL ? "agent" : "workspace"));
    }
    json_object_set_new(out, "from", from);
    return out;
}

json_t *ad_run_sandbox_of(ad_store_t *st, const ad_row_agent_t *agent)
{
    json_t *pol = json_object_get(agent->state, "sandbox");
    const char *wt = agent->worktree_id;
    json_t *ws = NULL; /* {sandbox}: one read, where the agent's page asks often */
    int rc = wt != NULL ? ad_store_worktree_sandbox(st, wt, &ws) : AD_ENOENT;
    if (rc != 0 && rc != AD_ENOENT) {
        return NULL;
    }
    json_t *out = ad_run_sandbox_effective(pol, json_object_get(ws, "sandbox"));
    json_decref(ws);
    return out;
}

int ad_run_agent_row(ad_store_t *st, const char *id, ad_row_agent_t *out)
{
    json_t *ws = NULL; /* its workspace's policy, read in the same statement */
    int rc = ad_store_agent_row_sandbox(st, id, out, &ws);
    if (rc == 0) {
        out->sandbox_effective =
            ad_run_sandbox_effective(json_object_get(out->state, "sandbox"), ws);
    }
    json_decref(ws);
    return rc;
}

const char *ad_run_sandbox_cli(ad_executor_t ex)
{
    return ex == AD_EXEC_CLAUDE   ? "claude"
           : ex == AD_EXEC_CODEX  ? "codex"
           : ex == AD_EXEC_GEMINI ? "gemini"
                                  : NULL;
}

/* The network of a policy ({network}) into in: on, off, or an allow-list
 * (its strings borrowed from pol, into allow, which holds max). */
static int network(json_t *pol, ad_proc_box_in_t *in, const char **allow, size_t max, char *err,
                   size_t errsz)
{
    json_t *net = json_object_get(pol, "network");
    in->network = !(json_is_string(net) && strcmp(json_string_value(net), "off") == 0);
    json_t *list = json_object_get(net, "allow");
    if (list == NULL) {
        return 0;
    }
    in->network = false;
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > max) {
        snprintf(err, errsz, "sandbox network allow list: 1 to %zu host[:port] entries", max);
        return AD_EINVAL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        allow[i] = json_string_value(v);
        if (allow[i] == NULL) {
            snprintf(err, errsz, "sandbox network allow list: entry %zu is not a host[:port]", i);
            return AD_EINVAL;
        }
    }
    in->allow = allow;
    in->nallow = json_array_size(list);
    return 0;
}

/* The agent's git folders from agentd's rows (its worktree's workspace),
 * its worktree's .git and commondir checked against them (issue #73):
 * 0 with t (t->common "" when the agent has no worktree), or AD_EPERM
 * with err, and a row of the audit. */
static int git_root(ad_runner_t *r, const ad_row_agent_t *agent, const char *agent_id,
                    const char *wt, ad_git_trust_t *t, char *err, size_t errsz)
{
    memset(t, 0, sizeof(*t));
    const char *wt_id = agent->worktree_id;
    json_t *row = NULL, *ws = NULL;
    if (wt_id == NULL || ad_store_worktree_get(r->store, wt_id, &row) != 0) {
        return 0; /* a working folder, no git: nothing of git is shown */
    }
    const char *ws_id = json_string_value(json_object_get(row, "workspaceId"));
    const char *repo = ws_id != NULL && ad_store_workspace_get(r->store, ws_id, &ws) == 0
                           ? json_string_value(json_object_get(ws, "path"))
                           : NULL;
    char why[700];
    int rc = ad_git_trust_check(repo, false, wt, t, why, sizeof(why));
    if (rc == AD_ENOENT) { /* the folder is gone: no git folder shown, the start says why */
        memset(t, 0, sizeof(*t));
        rc = 0;
    }
    if (rc != 0) {
        snprintf(err, errsz, "the agent's worktree was tampered with, so it does not start: %s",
                 why);
        ad_store_audit_t a;
        memset(&a, 0, sizeof(a));
        a.ts = ad_wall_ms();
        snprintf(a.token_name, sizeof(a.token_name), "agentd");
        const char *org = agent->org_id;
        snprintf(a.org_id, sizeof(a.org_id), "%s", org != NULL ? org : "");
        snprintf(a.method, sizeof(a.method), "START");
        snprintf(a.route, sizeof(a.route), "/api/agents/:id/start");
        snprintf(a.target_id, sizeof(a.target_id), "%s", agent_id);
        a.status = 409;
        snprintf(a.remote, sizeof(a.remote), "local");
        snprintf(a.detail, sizeof(a.detail), "start refused: %s", why);
        ad_store_audit_insert(r->store, &a);
        ad_log(AD_LOG_WARN, "runner", "start refused agent=%s why=\"%s\"", agent_id, why);
    }
    json_decref(row);
    json_decref(ws);
    return rc;
}

/* hostServices of a policy into in (borrowed from pol, into svc, which
 * holds max). */
static int host_services(json_t *pol, ad_proc_box_in_t *in, const char **svc, size_t max, char *err,
                         size_t errsz)
{
    json_t *list = json_object_get(pol, "hostServices");
    if (list == NULL) {
        return 0;
    }
    if (!json_is_array(list) || json_array_size(list) > max) {
        snprintf(err, errsz, "sandbox hostServices: at most %zu ADDR:PORT entries", max);
        return AD_EINVAL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        svc[i] = json_string_value(v);
        if (svc[i] == NULL) {
            snprintf(err, errsz, "sandbox hostServices: entry %zu is not ADDR:PORT", i);
            return AD_EINVAL;
        }
    }
    in->services = svc;
    in->nservices = json_array_size(list);
    return 0;
}

int ad_run_sandbox(ad_runner_t *r, const ad_row_agent_t *agent, const char *agent_id,
                   ad_executor_t ex, bool read_only, const char *wt, const char *exe,
                   const char *const *argv, const char *agent_path, ad_run_sbx_t *x, char *err,
                   size_t errsz)
{
    memset(x, 0, sizeof(*x));
    json_t *pol = json_object_get(agent->state, "sandbox");
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
    ad_git_trust_t *t = ad_xcalloc(1, sizeof(*t));
    int trc = git_root(r, agent, agent_id, wt, t, err, errsz);
    if (trc != 0) {
        free(t);
        return trc;
    }
    const char *org = agent->org_id;
    json_t *paths = json_object_get(pol, "paths");
    size_t np = json_array_size(paths);
    if (np > AD_PROC_BOX_BINDS) {
        free(t);
        snprintf(err, errsz, "the agent's sandbox has more than %d paths; give it fewer",
                 AD_PROC_BOX_BINDS);
        return AD_EINVAL;
    }
    ad_proc_box_path_t bp[AD_PROC_BOX_BINDS];
    for (size_t i = 0; i < np; i++) {
        json_t *v = json_array_get(paths, i);
        bp[i].path = json_is_string(v) ? json_string_value(v)
                                       : json_string_value(json_object_get(v, "path"));
        bp[i].write = json_is_true(json_object_get(v, "write"));
    }
    ad_proc_box_in_t in = {
        .data_dir = r->cfg->data_dir,
        .agent_id = agent_id,
        .wt = wt,
        .git_common = t->common[0] != '\0' ? t->common : NULL,
        .read_only = read_only,
        .exe = ex != AD_EXEC_COMMAND ? exe : NULL,
        .cli = ad_run_sandbox_cli(ex),
        .owners = org == NULL || strcmp(org, AD_ORG_DEFAULT) == 0,
        .unconfined = json_is_string(pol) && strcmp(json_string_value(pol), "none") == 0,
        .paths = bp,
        .npaths = np,
        .sandbox_paths = r->cfg->sandbox_paths,
        .program = exe,
        .argv = ex == AD_EXEC_COMMAND ? argv : NULL,
        .path = agent_path,
        .home = getenv("HOME"),
        .own_home =
            json_string_value(json_object_get(json_object_get(agent->state, "env"), "HOME")),
        /* agentd's own OTLP receiver, which add_telemetry (start.c) sends the
         * run's telemetry to: a door to its routes only (netproxy.c) */
        .otlp = r->otlp_endpoint != NULL && strncmp(r->otlp_endpoint, "http://", 7) == 0
                    ? r->otlp_endpoint + 7
                    : NULL};
    const char *allow[AD_RUN_SBX_ALLOW], *svc[AD_RUN_SBX_ALLOW];
    int rc = in.unconfined ? 0 : network(pol, &in, allow, AD_ARRAY_LEN(allow), err, errsz);
    rc =
        rc != 0 || in.unconfined ? rc : host_services(pol, &in, svc, AD_ARRAY_LEN(svc), err, errsz);
    rc = rc != 0 ? rc : ad_proc_box(r->procs, &in, &x->box, err, errsz);
    free(t);
    return rc;
}

void ad_run_sandbox_show(ad_run_sbx_t *x, const char *path)
{
    ad_proc_box_show(&x->box, path);
}

/* ---- a start's sandbox and the argv that runs in it (start.c) ------------------- */

/* Whose CLI's config the sandbox shows (an ACP preset is its CLI's), and
 * whether the worktree is read-only in it: codex (and codex-acp) run
 * commands without a sandbox of their own in agentd's, so in plan mode
 * the worktree is shown read-only. */
ad_executor_t ad_run_box_kind(const ad_run_start_t *s, bool *read_only)
{
    ad_executor_t ex = s->spec.executor;
    const char *acp = s->spec.acp_agent != NULL ? s->spec.acp_agent : "";
    *read_only = (ex == AD_EXEC_CODEX || (ex == AD_EXEC_ACP && strcmp(acp, "codex-acp") == 0)) &&
                 s->spec.mode == AD_MODE_PLAN;
    if (ex == AD_EXEC_ACP && acp[0] != '\0') {
        ex = strcmp(acp, "gemini") == 0            ? AD_EXEC_GEMINI
             : strcmp(acp, "claude-code-acp") == 0 ? AD_EXEC_CLAUDE
                                                   : AD_EXEC_CODEX;
    }
    return ex;
}

/* The agent's sandbox (sandbox.c), and the argv that runs in it: a CLI
 * by its real program, whose folder is what the sandbox shows of it. */
int ad_run_start_sandbox(ad_runner_t *r, const char *agent_id, ad_run_start_t *s, char *err,
                         size_t errsz)
{
    char exe[4096];
    const char *argv0 = s->launch.argv[0];
    const char *path = s->agent_path != NULL ? s->agent_path : getenv("PATH");
    bool found = argv0 != NULL && ad_path_which_in(argv0, path, s->path, exe, sizeof(exe)) == 0;
    bool read_only;
    ad_executor_t ex = ad_run_box_kind(s, &read_only);
    return ad_run_sandbox(r, &s->agent, agent_id, ex, read_only, s->path, found ? exe : NULL,
                          (const char *const *)s->launch.argv, path, &s->sbx, err, errsz);
}

/* The launch's argv (as apply_config left it), the real program first. */
void ad_run_sandbox_argv(ad_run_start_t *s)
{
    free(s->argv);
    s->argv = ad_xcalloc(s->launch.argc + 3, sizeof(char *));
    for (size_t i = 0; i < s->launch.argc; i++) {
        s->argv[i] = s->launch.argv[i];
    }
    if (!s->sbx.box.none && s->sbx.box.exe[0] != '\0') {
        s->argv[0] = s->sbx.box.exe;
    }
    /* Codex sandboxes its commands with bwrap of its own, which cannot
     * mount a /proc inside ours: in agentd's sandbox (the worktree
     * writable, or read-only in plan mode: the same bounds) it runs them
     * directly. */
    /* The same for Zed's codex-acp (Codex's own config flag). */
    const char *acp = s->spec.acp_agent != NULL ? s->spec.acp_agent : "";
    if (!s->sbx.box.none && s->spec.executor == AD_EXEC_ACP && strcmp(acp, "codex-acp") == 0) {
        s->argv[s->launch.argc] = "-c";
        s->argv[s->launch.argc + 1] = "sandbox_mode=\"danger-full-access\"";
    }
    if (!s->sbx.box.none && s->spec.executor == AD_EXEC_CODEX) {
        size_t j = 0;
        for (size_t i = 0; i < s->launch.argc; i++) {
            if (strcmp(s->launch.argv[i], "--sandbox") == 0 && i + 1 < s->launch.argc) {
                s->argv[j++] = "--dangerously-bypass-approvals-and-sandbox";
                i++;
                continue;
            }
            s->argv[j++] = s->argv[i];
        }
        s->argv[j] = NULL;
    }
}
