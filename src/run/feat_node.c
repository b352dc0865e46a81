/* SPDX-License-Identifier: MIT */
/*
 * The worker-node feature (issue #34, src/node; issue #79): a run placed
 * on a node of its organisation. Where it runs (state.node or
 * state.placement), the sandbox policy its node builds, the spawn sent
 * on the node's link (the process is a relay's socket pair, an ordinary
 * held process here), the CLI version the node found, and what the plane
 * says of the node while the run lives (unreachable, back, lost).
 *
 * Owns (its state, allocated when the node is first heard of): whether
 * the node is unreachable now and since when, why the plane gave the run
 * up, and the agent's folder on the node. run->node_id (core: where the
 * run is) says whether a run is on a node.
 * Hooks: started (the node's CLI version), attach (the folder), free.
 */
#include "run/features.h"
#include "tables/gitrows.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    bool unreachable;
    int64_t unreachable_since; /* wall ms */
    char lost[200];            /* why the plane gave the run up ("": it did not) */
    bool dropped;              /* another plane owns it now: no end here (issue #77) */
    /* the folder as the agent sees it on its node (ad_plane_agent_cwd),
     * told as its ACP session's and codex app-server's cwd; NULL: none */
    char *agent_cwd;
} node_t;

static node_t *node_of(ad_run_t *run)
{
    return ad_run_ctx(run, AD_RUN_FEAT_NODE);
}

/* Whether the run has no folder of its node yet. */
static bool no_agent_cwd(const ad_run_t *run)
{
    const node_t *n = ad_run_ctx_peek(run, AD_RUN_FEAT_NODE);
    return n == NULL || n->agent_cwd == NULL;
}

const char *ad_run_agent_cwd(const ad_run_t *run)
{
    const node_t *n = ad_run_ctx_peek(run, AD_RUN_FEAT_NODE);
    return n != NULL && n->agent_cwd != NULL ? n->agent_cwd : run->cwd;
}

const char *ad_run_node_lost(const ad_run_t *run)
{
    const node_t *n = ad_run_ctx_peek(run, AD_RUN_FEAT_NODE);
    return n != NULL ? n->lost : "";
}

bool ad_run_node_dropped(const ad_run_t *run)
{
    const node_t *n = ad_run_ctx_peek(run, AD_RUN_FEAT_NODE);
    return n != NULL && n->dropped;
}

void ad_run_node_live(const ad_run_t *run, json_t *live)
{
    if (run->node_id[0] == '\0') {
        return;
    }
    const node_t *n = ad_run_ctx_peek(run, AD_RUN_FEAT_NODE);
    bool unreachable = n != NULL && n->unreachable;
    char name[64] = "", at[AD_TIME_MAX];
    ad_plane_run_node(run->r->plane, run->run_id, name, sizeof(name), NULL);
    ad_time_format(n != NULL ? n->unreachable_since : 0, at);
    json_object_set_new(live, "unreachable", json_boolean(unreachable));
    json_object_set_new(live, "node",
                        json_pack("{s:s, s:s, s:s?}", "id", run->node_id, "name", name,
                                  "unreachableSince", unreachable ? at : NULL));
}

/* A run on a node: the folder its agent works in there, when the node has
 * said where its folders are (else the agent is told this plane's path,
 * as before nodes said it). */
static void node_cwd(ad_run_t *run, const ad_run_start_t *s)
{
    ad_runner_t *r = run->r;
    const char *wt = s->agent.worktree_id;
    char path[4200];
    if (r->plane != NULL && run->node_id[0] != '\0' && no_agent_cwd(run) &&
        ad_plane_agent_cwd(r->plane, run->node_id, s->ws[0] != '\0' ? wt : NULL, run->agent_id,
                           path, sizeof(path))) {
        node_of(run)->agent_cwd = ad_xstrdup(path);
    }
}

/* The CLI an executor needs on a node (NULL: a command's own program). */
static const char *exec_cli(const ad_run_start_t *s)
{
    switch (s->spec.executor) {
    case AD_EXEC_CLAUDE:
        return "claude";
    case AD_EXEC_CODEX:
        return "codex";
    case AD_EXEC_GEMINI:
        return "gemini";
    default:
        return NULL;
    }
}

/* Why no node fits, node by node, into err ("n1: why; n2: why"). */
static void no_fit(json_t *reasons, const char *lead, char *err, size_t errsz)
{
    size_t off = (size_t)snprintf(err, errsz, "%s", lead);
    size_t i;
    json_t *x;
    json_array_foreach(reasons, i, x)
    {
        int n = snprintf(err + off, off < errsz ? errsz - off : 0, "%s%s: %s", i ? "; " : ": ",
                         json_string_value(json_object_get(x, "node")),
                         json_string_value(json_object_get(x, "why")));
        off += n > 0 ? (size_t)n : 0;
    }
    if (json_array_size(reasons) == 0 && off < errsz) {
        snprintf(err + off, errsz - off, ": no node has joined this organisation");
    }
}

/* Where the agent runs: its state.node names a node of its org (by name
 * or id), or its state.placement asks for one that fits ({labels, gpu,
 * memoryMb}, and its CLI installed); node_id gets it, or "" for here.
 * AD_EINVAL (no such node, or none that could run it) or AD_ESTATE (the
 * node is not connected, or none can take it now), with err. *gpu: the
 * run takes a GPU. */
int ad_run_node_place(ad_runner_t *r, const ad_run_start_t *s, char node_id[AD_ID_MAX], bool *gpu,
                      char *err, size_t errsz)
{
    node_id[0] = '\0';
    const char *name = json_string_value(json_object_get(s->state, "node"));
    json_t *want = json_object_get(s->state, "placement");
    *gpu = json_is_true(json_object_get(want, "gpu"));
    if ((name == NULL || name[0] == '\0') && !json_is_object(want)) {
        return 0;
    }
    const char *org = s->agent.org_id;
    org = org != NULL ? org : AD_ORG_DEFAULT;
    if (r->plane == NULL) {
        snprintf(err, errsz, "this agentd has no worker nodes");
        return AD_EINVAL;
    }
    if (name == NULL || name[0] == '\0') {
        json_t *reasons = NULL;
        int rc = ad_plane_place(r->plane, org, want, exec_cli(s), s->ws, node_id, &reasons);
        if (rc != 0) {
            no_fit(reasons, rc == AD_ESTATE ? "no node can take it now" : "no node fits", err,
                   errsz);
        }
        json_decref(reasons);
        return rc == AD_ESTATE ? AD_ESTATE : rc != 0 ? AD_EINVAL : 0;
    }
    bool connected = false;
    if (ad_plane_find(r->plane, org, name, node_id, &connected) != 0) {
        snprintf(err, errsz, "no node named %s in the agent's organisation", name);
        return AD_EINVAL;
    }
    if (!connected) {
        ad_plane_not_here(r->plane, node_id, name, err, errsz);
        return AD_ESTATE;
    }
    char why[160];
    if (ad_plane_node_room(r->plane, node_id, why, sizeof(why)) != 0) {
        snprintf(err, errsz, "node %s takes no new run now: %s", name, why);
        return AD_ESTATE; /* cordoned, draining, or full (issue #77) */
    }
    return 0;
}

/* The sandbox of a run on node_id: the policy the control plane computes
 * (the agent's over its workspace's), which the node builds for its own
 * worktree and data dir (src/node/worker.c). Its paths are this
 * machine's, so they do not go; the network, the CLI (its config, for the
 * owner's agents) and plan mode's read-only worktree do. s->sbx reads as a
 * sandbox with a home (HOME, TMPDIR, codex's own sandbox off) unless the
 * run is unconfined there. AD_EPERM when the node has no sandbox and the
 * agent is not the owner's organisation's. */
int ad_run_node_sandbox(ad_runner_t *r, ad_run_start_t *s, const char *node_id, char *err,
                        size_t errsz)
{
    json_t *own = json_object_get(s->state, "sandbox");
    if (own != NULL && !json_is_object(own) &&
        !(json_is_string(own) && strcmp(json_string_value(own), "none") == 0)) {
        snprintf(err, errsz, "state.sandbox must be \"none\" or {network, paths}");
        return AD_EINVAL;
    }
    json_t *pol = ad_run_sandbox_of(r->store, &s->agent);
    if (pol == NULL) {
        snprintf(err, errsz, "cannot read the sandbox policy of the agent's workspace");
        return AD_EIO;
    }
    const char *org = s->agent.org_id;
    bool owners = org == NULL || strcmp(org, AD_ORG_DEFAULT) == 0;
    bool none = json_is_string(pol) && strcmp(json_string_value(pol), "none") == 0;
    json_t *node = ad_plane_node(r->plane, node_id);
    json_t *caps = json_object_get(node, "caps");
    bool has = json_is_true(json_object_get(caps, "sandbox"));
    int rc = 0;
    if (!none && !has && !owners) {
        const char *why = json_string_value(json_object_get(caps, "sandboxWhy"));
        snprintf(err, errsz,
                 "agents of an organisation other than the owner's run only in a sandbox, and "
                 "node %s has none (%s)",
                 json_string_value(json_object_get(node, "name")), why != NULL ? why : "unknown");
        rc = AD_EPERM;
    }
    json_t *net = json_object_get(pol, "network");
    json_t *allow = json_object_get(net, "allow");
    bool read_only;
    ad_executor_t ex = ad_run_box_kind(s, &read_only);
    s->remote_sandbox = json_pack(
        "{s:b, s:b, s:b, s:s?, s:b, s:b, s:O?}", "none", none, "owners", owners, "network",
        !(json_is_string(net) && strcmp(json_string_value(net), "off") == 0) && allow == NULL,
        "cli", ad_run_sandbox_cli(ex), "readOnly", read_only, "program", ex != AD_EXEC_COMMAND,
        "allow", allow);
    s->sbx.box.none = none || !has;
    s->sbx.box.home = s->sbx.box.none ? NULL : "/home/agent";
    json_decref(node);
    json_decref(pol);
    return rc;
}

/* The spawn a node is asked for: the launch's argv and environment, the
 * terminal, how long its holder waits for a control plane. Its own
 * working directory is the node's (docs/nodes.md). */
static json_t *spawn_msg(const ad_runner_t *r, const ad_run_t *run, const ad_proc_opts_t *o,
                         bool gpu, json_t *config, const ad_run_start_t *s)
{
    json_t *argv = json_array(), *env = json_array();
    for (size_t i = 0; o->argv[i] != NULL; i++) {
        json_array_append_new(argv, json_string(o->argv[i]));
    }
    for (size_t i = 0; o->env != NULL && o->env[i] != NULL; i++) {
        json_array_append_new(env, json_string(o->env[i]));
    }
    json_t *m = json_pack("{s:s, s:o, s:o, s:b, s:i, s:i, s:I, s:b, s:O?, s:O?}", "agent",
                          run->agent_id, "argv", argv, "env", env, "pty", o->pty, "rows", 24,
                          "cols", 80, "holdWaitSec", (json_int_t)r->cfg->hold_wait_sec, "gpu", gpu,
                          "config", config, "sandbox", s->remote_sandbox);
    const char *wt_id = s->agent.worktree_id;
    const char *ws_id = s->ws;
    if (wt_id != NULL && wt_id[0] != '\0' && ws_id != NULL && ws_id[0] != '\0') {
        /* the node works in a worktree of its own mirror (docs/nodes.md) */
        json_object_set_new(m, "worktree",
                            json_pack("{s:s, s:s}", "id", wt_id, "workspace", ws_id));
    }
    return m;
}

/* A one-turn CLI's version on a node: the one the node found on its PATH
 * (its `--version`, read once as the node started; caps.clis), not probed
 * per run as locally (docs/nodes.md). */
static void remote_version(ad_run_t *run, const ad_run_start_t *s)
{
    ad_runner_t *r = run->r;
    const char *cli = exec_cli(s);
    json_t *node = cli != NULL ? ad_plane_node(r->plane, run->node_id) : NULL;
    const char *line = json_string_value(json_object_get(
        json_object_get(json_object_get(json_object_get(node, "caps"), "clis"), cli), "version"));
    char version[64] = "";
    if (line != NULL) {
        (void)ad_cli_version_parse(line, version, sizeof(version));
    }
    json_decref(node);
    if (cli != NULL) {
        ad_run_version_set(run, version);
    }
}

/* The workspace's setup files and its setup command, once approved, go
 * with a node's new worktree of it, as locally: the node runs the command
 * in its sandbox and says how it went (docs/nodes.md). */
static void worktree_setup(ad_runner_t *r, const char *run_id, const char *ws_id)
{
    json_t *ws = NULL;
    if (ad_store_git_workspace_get(r->store, ws_id, &ws) == 0) {
        bool approved = json_is_true(json_object_get(ws, "isSetupCommandApproved"));
        ad_plane_run_setup(r->plane, run_id, json_string_value(json_object_get(ws, "path")),
                           json_object_get(ws, "setupFiles"),
                           approved ? json_string_value(json_object_get(ws, "setupCommand"))
                                    : NULL);
    }
    json_decref(ws);
}

/* The run's process on node_id: the plane's relay, an ordinary held
 * process on its socket pair (src/proc, ad_proc_attach_fd). */
int ad_run_node_spawn(ad_runner_t *r, ad_run_t *run, const ad_proc_opts_t *o, const char *node_id,
                      bool gpu, const ad_run_start_t *s, char *err, size_t errsz)
{
    int fd = -1;
    const char *wt = s->agent.worktree_id;
    int rc = ad_plane_run_open(r->plane, node_id, run->run_id,
                               spawn_msg(r, run, o, gpu, s->remote_config, s), &fd, err, errsz);
    if (rc != 0) {
        return rc;
    }
    ad_proc_resume_t at = {.pty = o->pty};
    rc = ad_proc_attach_fd(r->procs, o, &at, fd, &run->proc);
    if (rc != 0) {
        ad_plane_run_done(r->plane, run->run_id);
        snprintf(err, errsz, "shutting down");
        return rc;
    }
    snprintf(run->node_id, sizeof(run->node_id), "%s", node_id);
    node_cwd(run, s);
    ad_plane_run_worktree(r->plane, run->run_id, wt, s->ws, s->path);
    worktree_setup(r, run->run_id, s->ws);
    return 0;
}

/* ---- the plane's word on the run's node -------------------------------------------- */

/* The plane's word on a run's node (src/node): unreachable (its agent
 * keeps its status: it runs on, unseen) or back, published on the run's
 * topics. */
static void on_reachable(void *ud, const char *run_id, bool reachable, int64_t since,
                         const char *node)
{
    ad_run_t *run = ad_run_find_by_run(ud, run_id);
    if (run == NULL || node_of(run)->unreachable == !reachable) {
        return;
    }
    node_of(run)->unreachable = !reachable;
    node_of(run)->unreachable_since = since;
    char at[AD_TIME_MAX];
    ad_time_format(since, at);
    if (!reachable) {
        ad_run_publish(run->r, &run->topics, "run_unreachable",
                       json_pack("{s:s, s:s, s:s, s:s, s:s}", "agentId", run->agent_id, "runId",
                                 run->run_id, "nodeId", run->node_id, "node", node, "since", at));
    } else {
        int64_t ms = ad_wall_ms() - since;
        ad_run_publish(run->r, &run->topics, "run_reachable",
                       json_pack("{s:s, s:s, s:s, s:s, s:I}", "agentId", run->agent_id, "runId",
                                 run->run_id, "nodeId", run->node_id, "node", node, "unreachableMs",
                                 (json_int_t)(ms > 0 ? ms : 0)));
    }
}

static void on_node_lost(void *ud, const char *run_id, const char *why)
{
    ad_run_t *run = ad_run_find_by_run(ud, run_id);
    if (run != NULL) {
        snprintf(node_of(run)->lost, sizeof(node_of(run)->lost), "%s", why);
    }
}

static void on_dropped(void *ud, const char *run_id)
{
    ad_run_t *run = ad_run_find_by_run(ud, run_id);
    if (run != NULL) {
        node_of(run)->dropped = true;
    }
}

/* ---- a run taken back (issue #77) ------------------------------------------------------ */

void ad_run_node_take_back(ad_runner_t *r, ad_run_t *run)
{
    if (r->plane == NULL || run->node_id[0] == '\0' || run->proc == NULL ||
        !ad_plane_run_lease_newer(r->plane, run->run_id)) {
        return;
    }
    ad_run_flush_all(run);
    int64_t out = 0, err = 0;
    ad_store_run_hold_offsets(r->store, run->run_id, &out, &err);
    ad_proc_held_skip(run->proc, (uint64_t)out, (uint64_t)err);
    ad_plane_run_lease_refresh(r->plane, run->run_id, (uint64_t)out, (uint64_t)err);
}

/* ---- a lost node's runs placed again (issue #77) ---------------------------------------- */

static void rescheduled(int rc, json_t *result, const char *msg, void *ud)
{
    char *agent_id = ud;
    bool queued = json_is_true(json_object_get(result, "queued"));
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "runner", "a lost run could not be placed again agent=%s error=\"%s\"",
               agent_id, msg != NULL ? msg : ad_strerror(rc));
    } else {
        ad_log(AD_LOG_INFO, "runner", "a lost run placed again agent=%s %s", agent_id,
               queued ? "queued: waiting for a node with room" : "started");
    }
    free(agent_id);
}

bool ad_run_node_reschedules(const ad_run_t *run)
{
    return run->node_id[0] != '\0' && ad_run_node_lost(run)[0] != '\0';
}

void ad_run_node_reschedule(ad_runner_t *r, const char *agent_id)
{
    ad_row_agent_t a;
    bool placed = false;
    if (ad_store_agent_row(r->store, agent_id, &a) == 0) {
        const char *node = json_string_value(json_object_get(a.state, "node"));
        placed = json_is_object(json_object_get(a.state, "placement")) &&
                 (node == NULL || node[0] == '\0') &&
                 !json_is_false(json_object_get(a.state, "reschedule")) && a.deleted_at == 0;
    }
    ad_row_agent_cleanup(&a);
    if (!placed) {
        return; /* pinned to its node, or told not to: it waits for a person */
    }
    char err[512] = "";
    ad_run_queue_ask_t q = {true, "reschedule"};
    char *ud = ad_xstrdup(agent_id);
    int rc = ad_runner_start_q(r, agent_id, NULL, NULL, &q, rescheduled, ud, err, sizeof(err));
    if (rc != 0) {
        rescheduled(rc, NULL, err, ud);
    }
}

bool ad_runner_remote_at(const ad_runner_t *r, const char *path, char run_id[AD_ID_MAX], char *node,
                         size_t nodesz)
{
    for (const ad_run_t *run = r->runs; run != NULL && path != NULL; run = run->next) {
        if (run->node_id[0] == '\0' || run->proc == NULL || run->cwd == NULL ||
            strcmp(run->cwd, path) != 0) {
            continue;
        }
        if (run_id != NULL) {
            snprintf(run_id, AD_ID_MAX, "%s", run->run_id);
        }
        if (node != NULL) {
            node[0] = '\0';
            ad_plane_run_node(r->plane, run->run_id, node, nodesz, NULL);
        }
        return true;
    }
    return false;
}

void ad_runner_set_plane(ad_runner_t *r, struct ad_plane *plane)
{
    r->plane = plane;
    ad_plane_hooks_t h = {
        .reachable = on_reachable, .lost = on_node_lost, .dropped = on_dropped, .ud = r};
    ad_plane_set_hooks(plane, &h);
}

/* ---- hooks ------------------------------------------------------------------------ */

static void node_started(ad_run_t *run, ad_run_start_t *s)
{
    if (s->launch.probe_version && run->node_id[0] != '\0') {
        remote_version(run, s);
    }
}

static void node_attach(ad_run_t *run, ad_run_start_t *s)
{
    node_cwd(run, s); /* (a node not back yet: this plane's path) */
}

static void node_free(ad_run_t *run, void *ctx)
{
    AD_UNUSED(run);
    free(((node_t *)ctx)->agent_cwd);
}

const ad_run_feature_t ad_run_feat_node = {
    .name = "node",
    .ctx_size = sizeof(node_t),
    .started = node_started,
    .attach = node_attach,
    .free = node_free,
};
