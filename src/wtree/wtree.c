/* SPDX-License-Identifier: MIT */
/*
 * The engine and what every request of it shares (wtree_int.h): the
 * context carried across steps, the outcome given once, the git work
 * queued on the pool, the events of worktrees, and the checks and view of
 * a workspace's setup.
 */
#include "wtree/wtree_int.h"
#include "node/node.h"
#include "run/run.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ad_wtree_t *ad_wtree_new(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store, ad_bus_t *bus,
                         struct ad_runner *runner, struct ad_procs *procs)
{
    AD_ASSERT_LOOP();
    ad_wtree_t *W = ad_xcalloc(1, sizeof(*W));
    W->loop = loop;
    W->cfg = cfg;
    W->store = store;
    W->bus = bus;
    W->runner = runner;
    W->procs = procs;
    return W;
}

void ad_wtree_close(ad_wtree_t *W)
{
    if (W == NULL) {
        return;
    }
    W->closed = true;
    W->store = NULL;
    W->runner = NULL;
    W->procs = NULL;
    if (W->inflight == 0) {
        free(W);
    }
}

ad_wtree_ctx_t *ad_wtree_ctx_new(ad_wtree_t *W, ad_wtree_cb cb, void *ud)
{
    ad_wtree_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->W = W;
    c->cb = cb;
    c->ud = ud;
    W->inflight++;
    return c;
}

void ad_wtree_ctx_free(ad_wtree_ctx_t *c)
{
    ad_wtree_t *W = c->W;
    json_decref(c->body);
    json_decref(c->ws);
    json_decref(c->wt);
    json_decref(c->git);
    json_decref(c->setup);
    free(c);
    if (--W->inflight == 0 && W->closed) {
        free(W);
    }
}

static void give(ad_wtree_ctx_t *c, const ad_wtree_out_t *o)
{
    ad_wtree_cb cb = c->cb;
    c->cb = NULL;
    if (cb != NULL) {
        cb(c->ud, o);
    }
}

void ad_wtree_done(ad_wtree_ctx_t *c, json_t *data)
{
    ad_wtree_out_t o = {.data = data};
    give(c, &o);
}

void ad_wtree_fail(ad_wtree_ctx_t *c, int rc, json_t *details, const char *fmt, ...)
{
    char msg[AD_GIT_MSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ad_wtree_out_t o = {.rc = rc, .msg = msg, .details = details};
    give(c, &o);
    json_decref(details);
}

void ad_wtree_fail_store(ad_wtree_ctx_t *c, int rc, const char *what, const char *id)
{
    char msg[256];
    ad_err_about(rc, what, msg, sizeof(msg));
    ad_wtree_fail(c, rc, rc == AD_ENOENT && id != NULL ? json_pack("{s:s}", "id", id) : NULL, "%s",
                  msg);
}

void ad_wtree_git_fail(ad_wtree_ctx_t *c, const ad_git_result_t *res)
{
    ad_wtree_out_t o = {.rc = res->rc, .git = res};
    give(c, &o);
}

void ad_wtree_finish(ad_wtree_ctx_t *c, json_t *data)
{
    ad_wtree_done(c, data);
    ad_wtree_ctx_free(c);
}

bool ad_wtree_still_open(ad_wtree_ctx_t *c)
{
    if (!c->W->closed) {
        return true;
    }
    ad_wtree_fail(c, AD_ECLOSED, NULL, "agentd is shutting down");
    ad_wtree_ctx_free(c);
    return false;
}

bool ad_wtree_step_ok(ad_wtree_ctx_t *c, const ad_git_result_t *res)
{
    if (!ad_wtree_still_open(c)) {
        return false;
    }
    if (res->rc != 0) {
        ad_wtree_git_fail(c, res);
        ad_wtree_ctx_free(c);
        return false;
    }
    return true;
}

/* A git call on its way: when it began, and whose completion follows. */
typedef struct {
    ad_wtree_ctx_t *c;
    ad_git_done_cb cb;
    int64_t started_ms;
} git_call_t;

/* git_operation {id, op, worktreeId?, workspaceId?, durationMs, error?}:
 * what src/otel makes a span of. */
static void git_called(const ad_git_result_t *res, void *ud)
{
    git_call_t *g = ud;
    ad_wtree_ctx_t *c = g->c;
    json_t *holder = c->wt != NULL ? c->wt : c->ws;
    const char *wt = c->wt != NULL ? ad_wtree_jstr(c->wt, "id") : NULL;
    const char *ws =
        c->wt != NULL ? ad_wtree_jstr(c->wt, "workspaceId") : ad_wtree_jstr(c->ws, "id");
    char id[AD_ID_MAX];
    ad_id_new("git", id);
    json_t *p = json_pack("{s:s, s:s, s:s?, s:s?, s:I}", "id", id, "op", ad_git_op_name(res->op),
                          "worktreeId", wt, "workspaceId", ws, "durationMs",
                          (json_int_t)(ad_wall_ms() - g->started_ms));
    if (res->rc == AD_EPERM && strcmp(res->err.reason, "untrusted_git") == 0 && c->wt != NULL) {
        ad_wtree_trust_audit(c->W, c->wt, ad_git_op_name(res->op), res->err.msg);
    }
    if (res->rc != 0) {
        json_object_set_new(
            p, "error",
            json_string(res->err.reason[0] != '\0' ? res->err.reason : ad_strerror(res->rc)));
    }
    if (!c->W->closed && ws != NULL) {
        ad_wtree_emit(c->W, "git_operation", p, "workspace", ws, "org",
                      ad_wtree_jstr(holder, "orgId"), NULL);
    }
    json_decref(p);
    ad_git_done_cb cb = g->cb;
    free(g);
    cb(res, c);
}

void ad_wtree_set_plane(ad_wtree_t *W, struct ad_plane *plane)
{
    W->plane = plane;
}

bool ad_wtree_on_node(ad_wtree_t *W, const char *path)
{
    char run[AD_ID_MAX], node[64];
    return W->plane != NULL && W->runner != NULL && path != NULL &&
           ad_runner_remote_at(W->runner, path, run, node, sizeof(node));
}

/* A worktree whose agent runs on a worker node (issue #34): its status,
 * working changes and a commit of them are the node's (asked over its
 * link); what would move branches here waits for the run's end, when the
 * node's work is home (docs/nodes.md). Otherwise git runs here: true. */
static bool on_node(git_call_t *g, ad_git_op_t op, const ad_git_args_t *a, int *rc)
{
    ad_wtree_t *W = g->c->W;
    char run[AD_ID_MAX], node[64];
    if (W->plane == NULL || W->runner == NULL || a->path == NULL ||
        !ad_runner_remote_at(W->runner, a->path, run, node, sizeof(node))) {
        return true;
    }
    switch (op) {
    case AD_GIT_OP_STATUS:
    case AD_GIT_OP_DIFF:
    case AD_GIT_OP_COMMIT:
        *rc = ad_plane_git_rpc(W->plane, run, op, a, git_called, g);
        return false;
    case AD_GIT_OP_REVIEW:
    case AD_GIT_OP_COMMITS:
        if (!g->c->node_read) {
            return true; /* the merge base, found here first (review.c) */
        }
        *rc = ad_plane_git_rpc(W->plane, run, op, a, git_called, g);
        return false;
    case AD_GIT_OP_MERGE:
    case AD_GIT_OP_REBASE:
    case AD_GIT_OP_PUSH:
    case AD_GIT_OP_CHECKOUT:
    case AD_GIT_OP_COMMIT_FILES: {
        ad_wtree_ctx_t *c = g->c;
        free(g);
        ad_wtree_out_t o = {.rc = AD_ESTATE,
                            .code = "WORKTREE_ON_NODE",
                            .details = json_pack("{s:s, s:s}", "node", node, "runId", run)};
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "the agent works in this worktree on node %s: its work comes here when its run "
                 "ends; stop it first",
                 node);
        o.msg = msg;
        give(c, &o);
        json_decref(o.details);
        ad_wtree_ctx_free(c);
        *rc = AD_ESTATE;
        return false;
    }
    default:
        return true;
    }
}

int ad_wtree_queue(ad_wtree_ctx_t *c, ad_git_op_t op, const ad_git_args_t *a, ad_git_done_cb cb)
{
    git_call_t *g = ad_xcalloc(1, sizeof(*g));
    g->c = c;
    g->cb = cb;
    g->started_ms = ad_wall_ms();
    int rc = 0;
    /* no route reads a path that resolves into the data dir (issue #73) */
    if (op != AD_GIT_OP_OPEN && (ad_wtree_reads_data_dir(c->W, a->path, a->file) ||
                                 ad_wtree_reads_data_dir(c->W, a->repo_path, NULL))) {
        free(g);
        ad_wtree_fail(c, AD_EPERM, json_pack("{s:s}", "field", "path"),
                      "that path leads into agentd's data dir");
        ad_wtree_ctx_free(c);
        return AD_EPERM;
    }
    if (!on_node(g, op, a, &rc)) {
        if (rc != 0 && rc != AD_ESTATE) {
            free(g);
            ad_wtree_fail(c, AD_EINTERNAL, NULL, "cannot ask the node: %s", ad_strerror(rc));
            ad_wtree_ctx_free(c);
        }
        return rc;
    }
    ad_git_args_t t = *a;
    char repo[4096];
    if (t.trust_repo == NULL) {
        bool on_repo = (op == AD_GIT_OP_LIST || op == AD_GIT_OP_ADD) && a->repo_path != NULL &&
                       c->ws != NULL && ad_wtree_jstr(c->ws, "path") != NULL &&
                       strcmp(a->repo_path, ad_wtree_jstr(c->ws, "path")) == 0;
        t.trust_repo = ad_wtree_trust_repo(c, on_repo ? NULL : a->path, repo, sizeof(repo));
    }
    rc = ad_git_queue(c->W->loop, op, &t, git_called, g);
    if (rc != 0) {
        free(g);
        ad_wtree_fail(c, AD_EINTERNAL, NULL, "cannot queue git work: %s", ad_strerror(rc));
        ad_wtree_ctx_free(c);
    }
    return rc;
}

const char *ad_wtree_jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* ---- events ------------------------------------------------------------------------ */

void ad_wtree_emit(ad_wtree_t *W, const char *type, json_t *payload, ...)
{
    char buf[8][AD_ID_MAX + 16];
    const char *topics[8];
    size_t n = 0;
    va_list ap;
    va_start(ap, payload);
    for (;;) {
        const char *prefix = va_arg(ap, const char *);
        if (prefix == NULL) {
            break;
        }
        const char *id = va_arg(ap, const char *);
        if (id == NULL || n == AD_ARRAY_LEN(buf)) {
            continue;
        }
        if (id[0] == '\0') {
            snprintf(buf[n], sizeof(buf[n]), "%s", prefix);
        } else {
            snprintf(buf[n], sizeof(buf[n]), "%s:%s", prefix, id);
        }
        topics[n] = buf[n];
        n++;
    }
    va_end(ap);
    ad_bus_publish(W->bus, type, topics, n, payload);
}

void ad_wtree_publish(ad_wtree_t *W, const char *type, const char *change, json_t *wt)
{
    json_t *p = json_deep_copy(wt);
    if (change != NULL) {
        json_object_set_new(p, "change", json_string(change));
    }
    ad_wtree_emit(W, type, p, "worktree", ad_wtree_jstr(wt, "id"), "org",
                  ad_wtree_jstr(wt, "orgId"), "workspace", ad_wtree_jstr(wt, "workspaceId"), NULL);
    json_decref(p);
}

void ad_wtree_publish_row(ad_wtree_t *W, json_t *wt)
{
    if (W != NULL) {
        ad_wtree_emit(W, "worktree_updated", wt, "worktree", ad_wtree_jstr(wt, "id"), "workspace",
                      ad_wtree_jstr(wt, "workspaceId"), "org", ad_wtree_jstr(wt, "orgId"), NULL);
    }
}

void ad_wtree_publish_order(ad_wtree_t *W, json_t *worktrees)
{
    size_t i;
    json_t *wt;
    json_array_foreach(W != NULL ? worktrees : NULL, i, wt)
    {
        json_t *p = json_pack("{s:O, s:O}", "id", json_object_get(wt, "id"), "displayOrder",
                              json_object_get(wt, "displayOrder"));
        ad_wtree_emit(W, "worktree_updated", p, "worktree", ad_wtree_jstr(wt, "id"), "workspace",
                      ad_wtree_jstr(wt, "workspaceId"), "org", ad_wtree_jstr(wt, "orgId"), NULL);
        json_decref(p);
    }
}

void ad_wtree_publish_ws(ad_wtree_t *W, json_t *ws)
{
    if (W != NULL) {
        ad_wtree_emit(W, "workspace_updated", ws, "workspace", ad_wtree_jstr(ws, "id"), "org",
                      ad_wtree_jstr(ws, "orgId"), NULL);
    }
}

void ad_wtree_publish_ws_deleted(ad_wtree_t *W, json_t *result)
{
    json_t *ws = json_object_get(result, "workspace");
    const char *id = ad_wtree_jstr(ws, "id");
    if (W == NULL) {
        return;
    }
    json_t *p = json_pack("{s:s, s:O, s:O, s:b}", "id", id, "worktreeIds",
                          json_object_get(result, "worktreeIds"), "agentIds",
                          json_object_get(result, "agentIds"), "archived", 1);
    ad_wtree_emit(W, "workspace_deleted", p, "workspace", id, "system", "", "org",
                  ad_wtree_jstr(ws, "orgId"), NULL);
    json_decref(p);
}

void ad_wtree_publish_deleted(ad_wtree_t *W, const char *id, const char *ws_id, const char *org,
                              json_t *agents)
{
    json_t *p = json_pack("{s:s, s:s, s:o}", "id", id, "workspaceId", ws_id, "agentIds",
                          agents != NULL ? json_incref(agents) : json_array());
    ad_wtree_emit(W, "worktree_deleted", p, "worktree", id, "workspace", ws_id, "org", org, NULL);
    json_decref(p);
}

void ad_wtree_publish_agent_flag(ad_wtree_t *W, const char *agent_id, const char *ws_id,
                                 const char *org, bool vanished)
{
    json_t *p = json_pack("{s:s, s:b}", "id", agent_id, "worktreeVanished", vanished);
    ad_wtree_emit(W, "agent_update", p, "agent", agent_id, "workspace", ws_id, "org", org, NULL);
    json_decref(p);
}

/* ---- a workspace's setup ---------------------------------------------------------------- */

static bool rel_path_ok(const char *p)
{
    if (p == NULL || p[0] == '\0' || p[0] == '/' || strlen(p) > 1024) {
        return false;
    }
    const char *s = p;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        if (len == 0 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) {
            return false;
        }
        if (slash == NULL) {
            return true;
        }
        s = slash + 1;
    }
}

int ad_wtree_setup_files_check(const json_t *body, char *msg, size_t msgsz, json_t **details)
{
    json_t *files = json_object_get(body, "setupFiles");
    if (files == NULL) {
        return 0;
    }
    if (!json_is_array(files) || json_array_size(files) > AD_WTREE_SETUP_FILES_MAX) {
        *details = json_pack("{s:s}", "field", "setupFiles");
        snprintf(msg, msgsz, "setupFiles must be a list of at most %d relative paths",
                 AD_WTREE_SETUP_FILES_MAX);
        return AD_EINVAL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(files, i, v)
    {
        if (!json_is_string(v) || !rel_path_ok(json_string_value(v))) {
            *details = json_pack("{s:s, s:I}", "field", "setupFiles", "index", (json_int_t)i);
            snprintf(msg, msgsz,
                     "setupFiles[%zu] must be a relative path inside the repository (no '..')", i);
            return AD_EINVAL;
        }
    }
    return 0;
}

int ad_wtree_setup_command_check(const json_t *body, char *msg, size_t msgsz, json_t **details)
{
    json_t *cmd = json_object_get(body, "setupCommand");
    if (cmd != NULL &&
        (!json_is_string(cmd) || json_string_length(cmd) > AD_WTREE_SETUP_COMMAND_MAX)) {
        *details = json_pack("{s:s}", "field", "setupCommand");
        snprintf(msg, msgsz, "setupCommand must be a string of at most %d bytes",
                 AD_WTREE_SETUP_COMMAND_MAX);
        return AD_EINVAL;
    }
    return 0;
}

json_t *ad_wtree_setup_view(json_t *ws)
{
    json_t *files = json_object_get(ws, "setupFiles");
    const char *cmd = ad_wtree_jstr(ws, "setupCommand");
    return json_pack("{s:o, s:s, s:b}", "setupFiles",
                     files != NULL ? json_incref(files) : json_array(), "setupCommand",
                     cmd != NULL ? cmd : "", "setupCommandApproved",
                     json_is_true(json_object_get(ws, "isSetupCommandApproved")));
}
