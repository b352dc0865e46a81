/* SPDX-License-Identifier: MIT */
/*
 * POST /api/worktrees: a real git worktree made on the thread pool, its row
 * written, then the workspace's setup (files, then command) run in it after
 * the answer; GET and POST /api/worktrees/:id/setup: the last setup's
 * outcome, and running it again (an unapproved command only with approve).
 * Events: worktree_created {row}, worktree_updated {row, change: setup}.
 * The requests run in src/wtree (worktree.c); this file reads and checks
 * them. Split from worktrees.c by route group; no git and no SQL here.
 */
#include "api/api_int.h"
#include "tables/gitrows.h"

#include <limits.h>

/* ---- POST /api/worktrees --------------------------------------------------------------- */

/* The checks of a create body (src/wtree): 0, or -1 after answering 422. */
static int create_ok(ad_req_t *req, json_t *body)
{
    ad_field_err_t e;
    return ad_wtree_create_check(body, &e) != 0 ? ad_api_git_invalid(req, &e) : 0;
}

static void wt_create(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    char path[PATH_MAX];
    json_t *body = NULL, *ws = NULL;
    if (!ad_api_need_store(app, req) || (body = ad_req_json(req)) == NULL ||
        create_ok(req, body) != 0) {
        goto out;
    }
    const char *ws_id = ad_api_jstr(body, "workspaceId");
    if (!ad_api_visible(app, req, AD_STORE_ROW_WORKSPACE, ws_id, NULL)) {
        goto out;
    }
    int rc = ad_store_git_workspace_get(app->store, ws_id, &ws);
    if (rc != 0) {
        ad_res_error_code(req, rc, NULL, "no workspace %s", ws_id);
        goto out;
    }
    if (ad_git_worktree_default_path(ad_api_jstr(ws, "path"),
                                     app->cfg ? app->cfg->worktree_base : NULL,
                                     ad_api_jstr(body, "name"), path, sizeof(path)) != 0) {
        ad_res_error(req, 500, "INTERNAL", NULL,
                     "cannot place the worktree: --worktree-base must be an absolute folder");
        goto out;
    }
    /* An unapproved setup command runs only when an admin asks for it with
     * runSetupCommand: true (which approves it); else the answer names it. */
    bool approve = json_is_true(json_object_get(body, "runSetupCommand"));
    if (approve && !json_is_true(json_object_get(ws, "isSetupCommandApproved")) &&
        ad_api_jstr(ws, "setupCommand") != NULL && ad_api_jstr(ws, "setupCommand")[0] != '\0' &&
        !ad_api_require(req, AD_SCOPE_ADMIN, "running a setup command")) {
        goto out;
    }
    ad_wtree_create_t spec = {.ws = ws,
                              .body = body,
                              .path = path,
                              .setup = ad_wtree_setup_for(app->wtree, ws, approve),
                              /* the Claude Manager seed's client names a new
                               * branch without createBranch (docs/internals/compat.md) */
                              .make_branch = ad_req_dialect(req)};
    ad_wtree_create(app->wtree, &spec, ad_api_wtree_201, req);
out:
    json_decref(ws);
    json_decref(body);
}

/* ---- GET|POST /api/worktrees/:id/setup ------------------------------------------------- */

static void wt_setup_get(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    json_t *wt = NULL;
    if (ad_api_need_store(app, req) && (wt = ad_api_load_worktree(app, req)) != NULL) {
        json_t *setup = json_object_get(wt, "setup");
        ad_res_json(req, 200, json_pack("{s:O}", "setup", setup ? setup : json_null()));
        json_decref(wt);
    }
}

static void setup_started(void *ud, const ad_wtree_out_t *o)
{
    if (o->rc == AD_EPERM) { /* an unapproved command, named so the UI can show it */
        ad_res_error(ud, 409, "SETUP_NOT_APPROVED", json_incref(o->details), "%s", o->msg);
    } else {
        ad_api_wtree_reply(ud, o, 202, NULL, false);
    }
}

/* POST /api/worktrees/:id/setup {approve?}: runs the workspace's setup
 * (files, then command) again in this worktree. A command nobody approved
 * runs only with approve: true, which approves it; else 409 with the
 * command, so the UI can show it first. 202 {worktreeId, setup}; the
 * outcome arrives as worktree_updated. */
static void wt_setup_run(ad_req_t *req, void *ud)
{
    ad_app_t *app = ud;
    bool failed = false, approve = false;
    json_t *body = ad_req_json_optional(req, &failed);
    json_t *wt = NULL, *ws = NULL;
    if (failed || ad_api_bool(req, body, "approve", &approve, NULL) != 0 ||
        !ad_api_need_store(app, req) || (wt = ad_api_load_worktree(app, req)) == NULL) {
        goto out;
    }
    int rc = ad_store_git_workspace_get(app->store, ad_api_jstr(wt, "workspaceId"), &ws);
    if (rc != 0) {
        ad_res_error_code(req, rc, NULL, "cannot read the worktree's workspace");
        goto out;
    }
    ad_wtree_setup_run(app->wtree, wt, ws, approve, setup_started, req);
out:
    json_decref(body);
    json_decref(wt);
    json_decref(ws);
}

void ad_api_wt_create_register(ad_app_t *app)
{
    ad_server_route(app->server, "POST", "/api/worktrees", AD_ACCESS_WRITE, wt_create, app);
}

void ad_api_wt_setup_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/worktrees/:id/setup", AD_ACCESS_READ, wt_setup_get, app);
    ad_server_route(s, "POST", "/api/worktrees/:id/setup", AD_ACCESS_ADMIN, wt_setup_run, app);
}
