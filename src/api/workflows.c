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
#include "agent/agent.h"
#include "api/workbench.h"
#include "flow/flow.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- create: the steps' agents built one by one (a definition is read
 * on the pool), then everything written at once ---------------------------------- */

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    json_t *body; /* the request's */
    json_t *args; /* the store's: {id, orgId, crewId, name, spec, state, now, agents} */
    char org[AD_ID_MAX];
    const char *wt;
    size_t next; /* the step whose agent is built next */
} mk_t;

static void mk_free(mk_t *k)
{
    json_decref(k->body);
    json_decref(k->args);
    free(k);
}

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

static void build_next(mk_t *k);

/* The agent of step k->next from its body (definition applied): checked
 * as POST /api/agents does, as the caller. */
static bool add_agent(mk_t *k, json_t *agent_body, const char *def_name)
{
    json_t *a = ad_api_agent_args(k->app, k->req, agent_body, k->wt, k->org, def_name);
    if (a == NULL) {
        return false;
    }
    ad_flow_add_agent(k->args, k->body, k->next++, a);
    return true;
}

static void def_found(ad_app_t *app, ad_req_t *r, json_t *def, void *ud)
{
    AD_UNUSED(app);
    mk_t *k = ud;
    json_t *step = json_array_get(json_object_get(k->body, "steps"), k->next);
    json_t *agent = ad_flow_step_agent(k->args, k->body, k->next);
    const char *def_name = ad_api_jstr(step, "definition");
    if (def == NULL || json_object_get(def, "error") != NULL) {
        char field[48];
        snprintf(field, sizeof(field), "steps[%zu].definition", k->next);
        ad_api_invalid(r, field,
                       def == NULL ? "no such definition" : "the definition has an error");
    } else {
        ad_agent_def_apply(agent, def);
        if (add_agent(k, agent, def_name)) {
            json_decref(agent);
            build_next(k);
            return;
        }
    }
    json_decref(agent);
    mk_free(k);
}

static void build_next(mk_t *k)
{
    json_t *steps = json_object_get(k->body, "steps");
    while (k->next < json_array_size(steps)) {
        json_t *step = json_array_get(steps, k->next);
        const char *def = ad_api_jstr(step, "definition");
        if (def != NULL) {
            if (ad_api_def_find(k->app, k->req, def, def_found, k) != 0) {
                ad_res_error(k->req, 500, "INTERNAL", NULL, "cannot read the definitions");
                mk_free(k);
            }
            return; /* on in def_found */
        }
        json_t *agent = ad_flow_step_agent(k->args, k->body, k->next);
        bool ok = add_agent(k, agent, NULL);
        json_decref(agent);
        if (!ok) {
            mk_free(k);
            return;
        }
    }
    json_t *args = k->args;
    k->args = NULL;
    ad_api_write(k->app, k->req, ad_store_op_workflow_insert, args, inserted);
    mk_free(k);
}

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
        *k = (mk_t){.app = app, .req = r, .body = json_incref(body)};
        snprintf(k->org, sizeof(k->org), "%s", org);
        k->wt = ad_api_jstr(body, "worktreeId");
        k->args = ad_flow_insert_args(body, org);
        build_next(k);
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
