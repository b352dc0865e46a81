/* SPDX-License-Identifier: MIT */
/*
 * /api/workflows (issue #40, seed 002): multi-agent workflows run as a
 * crew. POST (admin: it starts agents) checks every step, makes the crew,
 * one agent per step and the workflow in one transaction, and hands it to
 * the engine (src/flow), which starts the steps as their needs are met;
 * GET lists and reads them (the caller's organisation), POST
 * .../:id/stop (write, as a crew's stop) ends them. Events:
 * workflow_update {workflow} on crew:<id> and the organisation's topic.
 * Its routes are listed in docs/api.md, the file's shape in
 * docs/workbench.md.
 */
#include "api/workbench.h"
#include "flow/flow.h"
#include "tables/workflows.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- create: the steps' agents made one by one by src/flow (a definition
 * is read on the pool), then everything written at once ---------------------------- */

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    char org[AD_ID_MAX], wt[AD_ID_MAX];
} mk_t;

static void inserted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "workflow", NULL);
        return;
    }
    json_t *wf = NULL;
    if (ad_store_workflow_get(app->store, ad_api_jstr(result, "id"), &wf) != 0) {
        ad_api_fail(r, AD_EINTERNAL, "workflow", NULL);
    } else {
        ad_flow_publish(app->bus, wf);
        ad_res_json(r, 201, json_incref(wf));
        ad_flow_kick(app->flow);
    }
    json_decref(wf); /* result is ad_api_write's */
}

/* A step's agent, checked as POST /api/agents does, as the caller. */
static json_t *mk_agent(void *ud, json_t *body, const char *def_name)
{
    mk_t *k = ud;
    return ad_api_agent_args(k->app, k->req, body, k->wt, k->org, def_name);
}

static void mk_def_found(ad_app_t *app, ad_req_t *r, json_t *def, void *ud)
{
    AD_UNUSED(app);
    AD_UNUSED(r);
    ad_flow_build_def(ud, def);
}

static int mk_find_def(void *ud, ad_flow_build_t *b, const char *name)
{
    mk_t *k = ud;
    return ad_api_def_find(k->app, k->req, name, mk_def_found, b);
}

static void mk_done(void *ud, json_t *args, const char *field, const char *why)
{
    mk_t *k = ud;
    if (args != NULL) {
        ad_api_write(k->app, k->req, ad_store_op_workflow_insert, args, inserted);
    } else if (field != NULL) {
        ad_api_invalid(k->req, field, why);
    } else if (why != NULL) {
        ad_res_error(k->req, 500, "INTERNAL", NULL, "%s", why);
    }
    free(k);
}

static const ad_flow_build_ops_t mk_ops = {mk_agent, mk_find_def, mk_done};

static void wf_create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    ad_field_err_t e;
    char org[AD_ID_MAX];
    int vrc = 0;
    if (body == NULL) {
        return;
    }
    if (ad_flow_body_check(body, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else if ((vrc = ad_auth_row_org(app->store, ad_api_who(r), AD_STORE_ROW_WORKTREE,
                                      ad_api_jstr(body, "worktreeId"), org)) != 0) {
        ad_res_error_code(r, vrc, json_pack("{s:s}", "field", "worktreeId"), "worktree not found");
    } else {
        mk_t *k = ad_xcalloc(1, sizeof(*k));
        *k = (mk_t){.app = app, .req = r};
        snprintf(k->org, sizeof(k->org), "%s", org);
        snprintf(k->wt, sizeof(k->wt), "%s", ad_api_jstr(body, "worktreeId"));
        ad_flow_build(body, org, &mk_ops, k);
    }
    json_decref(body);
}

static void wf_list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const ad_principal_t *who = ad_api_who(r);
    json_t *all = NULL;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    int rc = ad_store_workflow_list(app->store, who->owner ? "" : who->org_id, false, &all);
    if (rc != 0) {
        ad_api_fail(r, rc, "workflows", NULL);
    } else {
        ad_res_json(r, 200, json_pack("{s:o}", "workflows", all));
    }
}

static void wf_get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *wf = ad_api_row_load(app, r, ad_store_workflow_get, "workflow");
    if (wf != NULL) {
        ad_res_json(r, 200, wf);
    }
}

/* The stop is committed: a read after the answer sees it. */
static void stop_saved(int rc, json_t *wf, void *ud)
{
    if (rc != 0) {
        ad_api_fail(ud, rc, "workflow", NULL);
    } else {
        ad_res_json(ud, 200, wf);
    }
}

static void wf_stop(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *wf = ad_api_row_load(app, r, ad_store_workflow_get, "workflow");
    if (wf == NULL) {
        return;
    }
    if (ad_flow_stop_kept(app->flow, wf, stop_saved, r) != 0) {
        ad_res_error(r, 409, "CONFLICT", json_pack("{s:s}", "status", ad_api_jstr(wf, "status")),
                     "the workflow is not running");
    }
    json_decref(wf);
}

void ad_api_workflows_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "GET", "/api/workflows", AD_ACCESS_READ, wf_list, app);
    ad_server_route(s, "POST", "/api/workflows", AD_ACCESS_ADMIN, wf_create, app);
    ad_server_route(s, "GET", "/api/workflows/:id", AD_ACCESS_READ, wf_get, app);
    ad_server_route(s, "POST", "/api/workflows/:id/stop", AD_ACCESS_WRITE, wf_stop, app);
}
