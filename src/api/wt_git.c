/* SPDX-License-Identifier: MIT */
/*
 * DELETE /api/worktrees/:id (its agents stopped first, then the files and
 * the row), and the git reads and moves of one worktree: checkout,
 * branches, status and diff, each git work on the thread pool. Events:
 * worktree_deleted {id, workspaceId, agentIds}, worktree_updated {row,
 * change: branch}. Split from worktrees.c by route group; no git and no
 * SQL here.
 */
#include "api/api_int.h"
#include "run/run.h"

#include <string.h>

/* ---- DELETE /api/worktrees/:id ----------------------------------------------------------- */

static void wt_row_deleted(int rc, json_t *result, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (rc != 0 && rc != AD_ENOENT) {
        ad_res_error_code(c->req, rc, NULL, "the worktree was removed but its row was not");
    } else {
        json_t *agents = json_object_get(result, "agentIds");
        ad_api_publish_wt_deleted(c->app, ad_api_jstr(c->wt, "id"),
                                  ad_api_jstr(c->wt, "workspaceId"), ad_api_jstr(c->wt, "orgId"),
                                  agents);
        ad_res_json(c->req, 200,
                    json_pack("{s:b, s:O, s:O, s:O}", "deleted", true, "worktree", c->wt, "git",
                              c->git, "agentIds", agents ? agents : json_array()));
    }
    json_decref(result);
    ad_api_gctx_free(c);
}

static void wt_removed(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (!ad_api_git_step_ok(c, res, false)) {
        return;
    }
    c->git = json_incref(res->data);
    json_t *args = json_pack("{s:s?}", "id", ad_api_jstr(c->wt, "id"));
    ad_store_write(c->app->store, ad_store_op_worktree_delete, args, wt_row_deleted, c);
}

/* Every agent is stopped (or one stop failed): remove the files. */
static void wt_remove_files(ad_api_gctx_t *c)
{
    if (c->stop_rc != 0) {
        ad_res_error_code(c->req, c->stop_rc, NULL,
                          "cannot stop the agents running in this worktree");
        ad_api_gctx_free(c);
        return;
    }
    json_t *ws = NULL;
    int rc = ad_store_workspace_get(c->app->store, ad_api_jstr(c->wt, "workspaceId"), &ws);
    if (rc != 0) {
        ad_res_error_code(c->req, rc, NULL, "cannot read the worktree's workspace");
        ad_api_gctx_free(c);
        return;
    }
    c->ws = ws;
    json_t *heads = ad_api_merged_heads(c->app, ad_api_jstr(c->wt, "id"));
    ad_git_args_t a = {.repo_path = ad_api_jstr(c->ws, "path"),
                       .path = ad_api_jstr(c->wt, "path"),
                       .force = c->force,
                       .base = ad_api_jstr(c->wt, "baseBranch"),
                       .merged = heads};
    ad_api_git_queue(c, AD_GIT_OP_REMOVE, &a, wt_removed);
    json_decref(heads);
}

static void wt_agent_stopped(int rc, json_t *result, const char *msg, void *ud)
{
    ad_api_gctx_t *c = ud;
    AD_UNUSED(result); /* borrowed */
    if (rc != 0 && rc != AD_ENOENT && c->stop_rc == 0) {
        ad_log(AD_LOG_WARN, "api", "stopping an agent before a worktree delete failed msg=\"%s\"",
               msg ? msg : ad_strerror(rc));
        c->stop_rc = rc;
    }
    if (--c->stopping > 0) {
        return;
    }
    if (ad_api_gctx_still_open(c)) {
        wt_remove_files(c);
    }
}

/* Stops the agents running in c->wt (gracefully, as a user's stop would),
 * then removes the files. */
static void wt_stop_agents(ad_api_gctx_t *c)
{
    json_t *agents = NULL;
    int rc = ad_store_agent_list(c->app->store, ad_api_jstr(c->wt, "id"), NULL, false, "", &agents);
    if (rc != 0) {
        ad_res_error_code(c->req, rc, NULL, "cannot read the worktree's agents");
        ad_api_gctx_free(c);
        return;
    }
    /* alive: running, or between turns (waiting) or paused with a process */
    json_t *running = json_array();
    size_t k;
    json_t *a;
    json_array_foreach(json_object_get(agents, "agents"), k, a)
    {
        const char *st = ad_api_jstr(a, "status");
        if (st != NULL && (strcmp(st, "running") == 0 || strcmp(st, "waiting") == 0 ||
                           strcmp(st, "paused") == 0)) {
            json_array_append(running, a);
        }
    }
    json_object_set_new(agents, "alive", running);
    if (json_array_size(running) > 0 && c->app->runner == NULL) {
        ad_res_error(c->req, 409, "CONFLICT", json_pack("{s:s}", "reason", "agents_running"),
                     "agents are running in this worktree and no supervisor can stop them");
        ad_api_gctx_free(c);
        json_decref(agents);
        return;
    }
    /* Count first so a stop that completes at once cannot finish early. */
    c->stopping = 1;
    size_t i;
    json_t *v;
    json_array_foreach(running, i, v)
    {
        c->stopping++;
        if (ad_runner_stop(c->app->runner, ad_api_jstr(v, "id"), false, wt_agent_stopped, c) != 0) {
            c->stopping--; /* not running after all: nothing to wait for */
        }
    }
    json_decref(agents);
    wt_agent_stopped(0, NULL, NULL, c);
}

/* The refusal check came back: refuse, or go on to stop and remove. */
static void wt_delete_checked(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (!ad_api_git_step_ok(c, res, false)) {
        return;
    }
    json_decref(c->ws);
    c->ws = NULL;
    wt_stop_agents(c);
}

/* DELETE /api/worktrees/:id?force=: uncommitted or unpushed work refuses
 * the removal (409, files listed) unless force, and that check comes
 * before any agent is stopped. Then the agents running in the worktree are
 * stopped and the folder removed and pruned (git checks again, so work
 * made meanwhile is not lost either). */
static void wt_delete(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *wt = ad_api_load_worktree(app, req);
    bool force = false;
    if (wt == NULL) {
        return;
    }
    if (ad_api_query_bool(req, "force", false, &force) != 0) {
        json_decref(wt);
        return;
    }
    if (json_is_true(json_object_get(wt, "isMain"))) {
        ad_res_error(req, 409, "CONFLICT", json_pack("{s:s}", "reason", "main_worktree"),
                     "%s is the workspace's main worktree; it cannot be deleted",
                     ad_api_jstr(wt, "path"));
        json_decref(wt);
        return;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    c->wt = wt;
    c->force = force;
    json_t *ws = NULL;
    if (force || ad_store_workspace_get(app->store, ad_api_jstr(wt, "workspaceId"), &ws) != 0) {
        wt_stop_agents(c); /* forced (or no workspace row: the removal reports it) */
        return;
    }
    c->ws = ws;
    /* A merged worktree (recorded, or its tree on the base) is no work lost. */
    json_t *heads = ad_api_merged_heads(app, ad_api_jstr(wt, "id"));
    ad_git_args_t a = {.repo_path = ad_api_jstr(ws, "path"),
                       .path = ad_api_jstr(wt, "path"),
                       .base = ad_api_jstr(wt, "baseBranch"),
                       .merged = heads};
    ad_api_git_queue(c, AD_GIT_OP_REMOVE_CHECK, &a, wt_delete_checked);
    json_decref(heads);
}

/* ---- checkout, branches, status, diff, setup ------------------------------------------- */

static void wt_branch_saved(int rc, json_t *result, void *ud)
{
    ad_api_gctx_t *c = ud;
    json_t *wt = rc == 0 ? json_object_get(result, "worktree") : c->wt;
    if (rc == 0) {
        ad_api_publish_wt(c->app, "worktree_updated", "branch", wt);
    }
    ad_res_json(c->req, 200, json_pack("{s:O, s:O}", "worktree", wt, "checkout", c->git));
    json_decref(result);
    ad_api_gctx_free(c);
}

static void wt_checked_out(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (!ad_api_git_step_ok(c, res, false)) {
        return;
    }
    c->git = json_incref(res->data);
    json_t *args = json_pack("{s:s?, s:I, s:s?}", "id", ad_api_jstr(c->wt, "id"), "now",
                             (json_int_t)ad_wall_ms(), "branch", ad_api_jstr(res->data, "branch"));
    ad_store_write(c->app->store, ad_store_op_worktree_update, args, wt_branch_saved, c);
}

static void wt_checkout(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    char why[200];
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *body = ad_req_json(req);
    if (body == NULL) {
        return;
    }
    const char *branch = ad_api_jstr(body, "branch");
    json_t *create = json_object_get(body, "create");
    if (!ad_git_branch_name_valid(branch, why, sizeof(why))) {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "branch"), "%s",
                     branch == NULL ? "branch is required" : why);
        json_decref(body);
        return;
    }
    if (create != NULL && !json_is_boolean(create)) {
        ad_res_error(req, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "create"),
                     "create must be a boolean");
        json_decref(body);
        return;
    }
    json_t *wt = ad_api_load_worktree(app, req);
    if (wt == NULL) {
        json_decref(body);
        return;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    c->wt = wt;
    c->body = body;
    ad_git_args_t a = {
        .path = ad_api_jstr(wt, "path"), .branch = branch, .create_branch = json_is_true(create)};
    ad_api_git_queue(c, AD_GIT_OP_CHECKOUT, &a, wt_checked_out);
}

static void wt_read_done(const ad_git_result_t *res, void *ud)
{
    ad_api_gctx_t *c = ud;
    if (res->rc != 0) {
        ad_api_git_reply_error(c->req, res, false);
    } else {
        ad_res_json(c->req, 200, json_incref(res->data));
    }
    ad_api_gctx_free(c);
}

/* GET branches|status|diff: one git read of the worktree's folder. */
static void wt_read(ad_req_t *req, ad_app_t *app, ad_git_op_t op)
{
    if (!ad_api_need_store(app, req)) {
        return;
    }
    json_t *wt = ad_api_load_worktree(app, req);
    if (wt == NULL) {
        return;
    }
    ad_api_gctx_t *c = ad_api_gctx_new(app, req);
    c->wt = wt;
    ad_git_args_t a = {.path = ad_api_jstr(wt, "path")};
    if (op == AD_GIT_OP_DIFF) {
        a.file = ad_req_query(req, "path");
    }
    ad_api_git_queue(c, op, &a, wt_read_done);
}

static void wt_status(ad_req_t *req, void *ud)
{
    wt_read(req, ud, AD_GIT_OP_STATUS);
}

static void wt_branches(ad_req_t *req, void *ud)
{
    wt_read(req, ud, AD_GIT_OP_BRANCHES);
}

/* Without against: the working changes against HEAD; with it, the work
 * since the merge base with that ref ("base": the stored base branch). */
static void wt_diff(ad_req_t *req, void *ud)
{
    if (ad_req_query(req, "against") != NULL) {
        ad_api_wt_review(req, ud);
        return;
    }
    wt_read(req, ud, AD_GIT_OP_DIFF);
}

void ad_api_wt_git_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "DELETE", "/api/worktrees/:id", AD_ACCESS_WRITE, wt_delete, app);
    ad_server_route(s, "POST", "/api/worktrees/:id/checkout", AD_ACCESS_WRITE, wt_checkout, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/branches", AD_ACCESS_READ, wt_branches, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/status", AD_ACCESS_READ, wt_status, app);
    ad_server_route(s, "GET", "/api/worktrees/:id/diff", AD_ACCESS_READ, wt_diff, app);
}
