/* SPDX-License-Identifier: MIT */
/*
 * DELETE /api/worktrees/:id (refused while its agents run unless stop; the
 * folder removed, the row marked removed, its agents archived), and the git
 * reads and moves of one worktree: checkout, branches, status and diff.
 * Events: worktree_deleted {id, workspaceId, agentIds}, worktree_updated
 * {row, change: branch}. The requests run in src/wtree (worktree.c); this
 * file reads and checks them. Split from worktrees.c by route group; no git
 * and no SQL here.
 */
#include "api/api_int.h"

/* DELETE /api/worktrees/:id?force=&stop=: an agent of it that runs refuses
 * (409 agents_running, named) unless stop; uncommitted or unpushed work
 * refuses (409, files listed) unless force. Both checks come before any
 * agent is stopped (src/wtree, ad_wtree_delete). */
static void wt_delete(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    bool force = false, stop = false;
    json_t *wt = NULL;
    if (!ad_api_need_store(app, req) || (wt = ad_api_load_worktree(app, req)) == NULL ||
        ad_api_query_bool(req, "force", false, &force) != 0 ||
        ad_api_query_bool(req, "stop", false, &stop) != 0) {
        json_decref(wt);
        return;
    }
    if (json_is_true(json_object_get(wt, "isMain"))) {
        ad_res_error(req, 409, "CONFLICT", json_pack("{s:s}", "reason", "main_worktree"),
                     "%s is the workspace's main worktree; it cannot be deleted",
                     ad_api_jstr(wt, "path"));
    } else {
        ad_wtree_delete(app->wtree, wt, force, stop, ad_api_wtree_200, req);
    }
    json_decref(wt);
}

static void wt_checkout(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = NULL, *wt = NULL;
    ad_field_err_t e;
    if (!ad_api_need_store(app, req) || (body = ad_req_json(req)) == NULL) {
        return;
    }
    if (ad_wtree_checkout_check(body, &e) != 0) {
        ad_api_git_invalid(req, &e);
    } else if ((wt = ad_api_load_worktree(app, req)) != NULL) {
        ad_wtree_checkout(app->wtree, wt, ad_api_jstr(body, "branch"),
                          json_is_true(json_object_get(body, "create")), ad_api_wtree_200, req);
    }
    json_decref(wt);
    json_decref(body);
}

/* GET branches|status|diff: one git read of the worktree's folder. */
static void wt_read(ad_req_t *req, ad_app_t *app, ad_git_op_t op)
{
    json_t *wt = NULL;
    if (ad_api_need_store(app, req) && (wt = ad_api_load_worktree(app, req)) != NULL) {
        ad_wtree_read(app->wtree, wt, op, op == AD_GIT_OP_DIFF ? ad_req_query(req, "path") : NULL,
                      ad_api_wtree_200, req);
        json_decref(wt);
    }
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
