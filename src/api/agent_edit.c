/* SPDX-License-Identifier: MIT */
/*
 * /api/agents/:id changes (docs/api.md, "Workspaces, worktrees and
 * agents"): update, archive or delete, restore, fork, and reorder within
 * a worktree. Answered after the
 * commit and published as agent_update (src/run's ad_run_agent_publish).
 */
#include "run/run.h"
#include "api/api_int.h"

#include <string.h>

/* A crew joined or left while the agent runs: its run's tool events go to
 * the new crew's graph at once (not from its next run). */
static void patched(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    json_t *a = json_object_get(result, "agent");
    if (rc == 0 && app->runner != NULL) {
        ad_runner_set_crew(app->runner, ad_api_jstr(a, "id"), ad_api_jstr(a, "crewId"));
    }
    ad_api_agent_done_200(app, r, rc, result);
}

static void patch(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    json_t *args = json_object();
    int64_t order = 0;
    bool has_order = false;
    char org[AD_ID_MAX];
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, ad_req_param(r, "id"), org) ||
        !ad_api_agent_patch_scope_ok(r, body) ||
        ad_api_agent_common_fields(app, r, body, args, org) != 0 ||
        ad_api_agent_patch_state(app, r, body, args) != 0 ||
        ad_api_int(r, body, "displayOrder", false, -1000000000, 1000000000, &order, &has_order) !=
            0) {
        goto out;
    }
    if ((json_object_get(args, "node") != NULL || json_object_get(args, "placement") != NULL) &&
        app->runner != NULL && ad_runner_is_running(app->runner, ad_req_param(r, "id"))) {
        /* its run stays where it is: the place changes while it is stopped */
        ad_res_error_code(r, AD_ESTATE, NULL,
                          "the agent is running; stop it before changing where it runs");
        goto out;
    }
    ad_row_agent_t cur = {0};
    bool refused = ad_api_jstr(args, "mode") != NULL &&
                   ad_store_agent_row(app->store, ad_req_param(r, "id"), &cur) == 0 &&
                   ad_api_agent_root_auto(app, r, ad_api_jstr(args, "mode"),
                                          ad_row_executor_name(cur.executor));
    ad_row_agent_cleanup(&cur);
    if (refused) {
        goto out;
    }
    if (has_order) {
        json_object_set_new(args, "displayOrder", json_integer(order));
    }
    json_object_set_new(args, "id", json_string(ad_req_param(r, "id")));
    json_object_set_new(args, "now", json_integer(ad_wall_ms()));
    ad_api_write(app, r, ad_store_op_agent_update, args, patched);
    args = NULL;
out:
    json_decref(args);
    json_decref(body);
}

static void deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc == AD_ESTATE) {
        ad_res_error_code(r, rc, NULL, "the agent is running; stop it before deleting it");
        return;
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "agent", ad_req_param(r, "id"));
        return;
    }
    json_t *a = json_object_get(result, "agent");
    const char *ws = json_string_value(json_object_get(result, "workspaceId"));
    json_t *p = json_pack("{s:O, s:b}", "id", json_object_get(a, "id"), "deleted", 1);
    ad_run_agent_publish(app->bus, p, a, ws);
    json_decref(p);
    ad_res_send(r, 204, NULL, NULL, 0);
}

static void del(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    bool archive = true;
    if (ad_api_query_bool(r, "archive", true, &archive) != 0 ||
        !ad_api_visible(app, r, AD_STORE_ROW_AGENT, ad_req_param(r, "id"), NULL)) {
        return;
    }
    if (archive && app->runner != NULL) {
        /* An archived agent does not keep running out of sight: its run is
         * stopped gracefully (the run records it). */
        ad_runner_stop(app->runner, ad_req_param(r, "id"), false, NULL, NULL);
        ad_runner_queue_cancel(app->runner, ad_req_param(r, "id"), false, NULL, NULL); /* #77 */
    }
    json_t *args = json_pack("{s:s, s:b, s:I}", "id", ad_req_param(r, "id"), "archive", archive,
                             "now", (json_int_t)ad_wall_ms());
    ad_api_write(app, r, ad_store_op_agent_delete, args, archive ? ad_api_agent_done_200 : deleted);
}

static void restored(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc == AD_ESTATE) {
        ad_res_error_code(r, rc, json_pack("{s:s}", "reason", "worktree_removed"),
                          "the agent's worktree was removed: it stays archived");
        return;
    }
    ad_api_agent_done_200(app, r, rc, result);
}

static void restore(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, ad_req_param(r, "id"), NULL)) {
        return;
    }
    json_t *args =
        json_pack("{s:s, s:I}", "id", ad_req_param(r, "id"), "now", (json_int_t)ad_wall_ms());
    ad_api_write(app, r, ad_store_op_agent_restore, args, restored);
}

static void fork_agent(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, ad_req_param(r, "id"), NULL)) {
        return;
    }
    bool failed = false;
    json_t *body = ad_req_json_optional(r, &failed);
    if (failed) {
        return;
    }
    const char *name = NULL;
    if (ad_api_str(r, body, "name", false, 200, &name) != 0) {
        goto out;
    }
    if (name != NULL && name[0] == '\0') {
        ad_api_invalid(r, "name", "must not be empty");
        goto out;
    }
    /* worktreeId: place the fork in another worktree of the same org (for
     * example one branched from the parent's branch) */
    const char *wt = NULL;
    char porg[AD_ID_MAX], worg[AD_ID_MAX];
    if (ad_api_str(r, body, "worktreeId", false, AD_ID_MAX, &wt) != 0 ||
        !ad_api_visible(app, r, AD_STORE_ROW_AGENT, ad_req_param(r, "id"), porg) ||
        (wt != NULL && !ad_api_visible(app, r, AD_STORE_ROW_WORKTREE, wt, worg))) {
        goto out;
    }
    if (wt != NULL && strcmp(porg, worg) != 0) {
        ad_api_invalid(r, "worktreeId", "must be a worktree of the agent's organisation");
        goto out;
    }
    /* node or placement: where the fork runs (admin, as at create; issue #77) */
    const char *need = ad_run_spec_admin_need(body, NULL);
    json_t *place = json_object();
    ad_field_err_t e;
    if ((need != NULL && !ad_api_require(r, AD_SCOPE_ADMIN, need)) ||
        (ad_run_spec_place(body, place, &e) != 0 && ad_api_invalid_err(r, &e))) {
        json_decref(place);
        goto out;
    }
    char id[AD_ID_MAX];
    ad_id_new("ag", id);
    json_t *args =
        json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:o}", "id", ad_req_param(r, "id"), "newId", id,
                  "name", name, "worktreeId", wt, "now", (json_int_t)ad_wall_ms(), "place", place);
    ad_api_write(app, r, ad_store_op_agent_fork, args, ad_api_agent_done_201);
out:
    json_decref(body);
}

static void reordered(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc == AD_EINVAL) {
        const char *id = json_string_value(json_object_get(result, "id"));
        ad_res_error(r, 422, "VALIDATION_ERROR",
                     json_pack("{s:s, s:s, s:s?}", "field", "ids", "reason",
                               "every id must be an agent of the worktree", "id", id),
                     "ids: %s is not an agent of this worktree", id != NULL ? id : "?");
        return;
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "worktree", NULL);
        return;
    }
    ad_run_agents_order_publish(app->bus, result);
    ad_res_json(r, 200, json_pack("{s:O}", "agents", json_object_get(result, "agents")));
}

static void reorder(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *wt = NULL;
    json_t *ids = NULL;
    if (ad_api_str(r, body, "worktreeId", true, AD_ID_MAX, &wt) == 0 &&
        ad_api_str_array(r, body, "ids", true, 10000, AD_ID_MAX, &ids) == 0 &&
        ad_api_visible(app, r, AD_STORE_ROW_WORKTREE, wt, NULL)) {
        ad_api_write(app, r, ad_store_op_agent_reorder,
                     json_pack("{s:s, s:O, s:I}", "worktreeId", wt, "ids", ids, "now",
                               (json_int_t)ad_wall_ms()),
                     reordered);
    }
    json_decref(body);
}

void ad_api_agent_edit_register(ad_app_t *app)
{
    ad_server_route(app->server, "POST", "/api/agents/reorder", AD_ACCESS_WRITE, reorder, app);
    ad_server_route(app->server, "PATCH", "/api/agents/:id", AD_ACCESS_WRITE, patch, app);
    ad_server_route(app->server, "DELETE", "/api/agents/:id", AD_ACCESS_WRITE, del, app);
    ad_server_route(app->server, "POST", "/api/agents/:id/restore", AD_ACCESS_WRITE, restore, app);
    ad_server_route(app->server, "POST", "/api/agents/:id/fork", AD_ACCESS_WRITE, fork_agent, app);
}
