/* SPDX-License-Identifier: MIT */
/*
 * /api/worktrees: list (by workspace), get, update (name, branch, sortMode,
 * displayOrder, baseBranch) and reorder; create and delete real git worktrees (with the
 * workspace's setup, and stopping their agents first), checkout, branches,
 * status and diff, which are git work src/wtree runs on the pool. Events on
 * worktree:<wt> and workspace:<ws>: worktree_created {row},
 * worktree_updated {row, change: branch, vanished, restored or setup},
 * worktree_deleted {id, workspaceId, agentIds}, and agent_update {id,
 * worktreeVanished} for agents whose worktree vanished outside agentd or
 * came back. No git and no SQL here. This file has the rows' routes (list,
 * get, update, reorder); creating and the setup are wt_create.c's, deleting
 * and the git reads and moves wt_git.c's.
 */
#include "api/api_int.h"
#include "run/run.h"
#include "tables/workspaces.h"

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *ws = ad_req_query(r, "workspaceId");
    if (ws != NULL && ws[0] == '\0') {
        ws = NULL;
    }
    json_t *out = NULL;
    if (ws != NULL && !ad_api_visible(app, r, AD_STORE_ROW_WORKSPACE, ws, NULL)) {
        return;
    }
    int rc = ad_store_worktree_list(app->store, ws, ad_principal_filter(ad_api_who(r)), &out);
    ad_api_answer(r, rc, out, "worktrees", NULL);
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *wt = ad_api_row_load(app, r, ad_store_worktree_get, "worktree");
    if (wt != NULL) {
        ad_res_json(r, 200, wt);
    }
}

static void updated(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "worktree", ad_req_param(r, "id"));
        return;
    }
    json_t *wt = json_object_get(result, "worktree");
    ad_wtree_publish_row(app->wtree, wt);
    ad_res_json(r, 200, json_incref(wt));
}

static void patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    json_t *args = NULL;
    ad_field_err_t e;
    if (!ad_api_visible(app, r, AD_STORE_ROW_WORKTREE, ad_req_param(r, "id"), NULL)) {
        goto out;
    }
    if (ad_wtree_update_args(ad_req_param(r, "id"), body, (int64_t)ad_wall_ms(), &args, &e) != 0) {
        ad_api_invalid_err(r, &e);
        goto out;
    }
    ad_api_write(app, r, ad_store_op_worktree_update, args, updated);
out:
    json_decref(body);
}

static void reordered(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc == AD_EINVAL) {
        ad_api_invalid(r, "ids", "every id must be a worktree of workspaceId");
        return;
    }
    if (rc != 0) {
        const char *id = json_string_value(json_object_get(result, "id"));
        ad_api_fail(r, rc, "worktree", id);
        return;
    }
    ad_wtree_publish_order(app->wtree, json_object_get(result, "worktrees"));
    ad_res_json(r, 200, json_incref(result));
}

static void reorder(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    json_t *ids = NULL;
    const char *ws = NULL;
    bool ok = ad_api_str_array(r, body, "ids", true, 10000, AD_ID_MAX, &ids) == 0 &&
              ad_api_str(r, body, "workspaceId", false, AD_ID_MAX, &ws) == 0 &&
              (ws == NULL || ad_api_visible(app, r, AD_STORE_ROW_WORKSPACE, ws, NULL));
    size_t i;
    json_t *v;
    json_array_foreach(ok ? ids : NULL, i, v)
    {
        if (!ad_api_visible(app, r, AD_STORE_ROW_WORKTREE, json_string_value(v), NULL)) {
            ok = false;
            break;
        }
    }
    if (ok) {
        ad_api_write(app, r, ad_store_op_worktree_reorder,
                     json_pack("{s:O, s:I, s:s?}", "ids", ids, "now", (json_int_t)ad_wall_ms(),
                               "workspaceId", ws),
                     reordered);
    }
    json_decref(body);
}

void ad_api_worktrees_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/worktrees", AD_ACCESS_READ, list, app);
    ad_server_route(s, "POST", "/api/worktrees/reorder", AD_ACCESS_WRITE, reorder, app);
    ad_server_route(s, "GET", "/api/worktrees/:id", AD_ACCESS_READ, get, app);
    ad_server_route(s, "PATCH", "/api/worktrees/:id", AD_ACCESS_WRITE, patch, app);
    ad_api_wt_create_register(app); /* wt_create.c */
    ad_api_wt_git_register(app);    /* wt_git.c */
    ad_api_wt_setup_register(app);  /* wt_create.c */
}
