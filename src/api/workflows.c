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

#include <stdlib.h>
#include <string.h>

#define WF_TICK_MS 250

static void changed(void *ud, const json_t *wf)
{
    ad_app_t *app = ud;
    ad_api_publish(app, "workflow_update", (json_t *)wf /* borrowed */, "crew",
                   json_string_value(json_object_get(wf, "crewId")), "org",
                   json_string_value(json_object_get(wf, "orgId")), NULL);
}

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
        changed(app, wf);
        ad_res_json(r, 201, json_incref(wf));
        ad_flow_kick(app->api->flow);
    }
    json_decref(wf); /* result is ad_api_write's */
}

static void build_next(mk_t *k);

/* The agent of step k->next from its body (definition applied). */
static bool add_agent(mk_t *k, json_t *agent_body, const char *def_name)
{
    json_t *step = json_array_get(json_object_get(k->body, "steps"), k->next);
    char name[300];
    snprintf(name, sizeof(name), "%s/%s", ad_api_jstr(k->args, "name"), ad_api_jstr(step, "id"));
    if (json_object_get(agent_body, "name") == NULL) {
        json_object_set_new(agent_body, "name", json_string(name));
    }
    json_object_del(agent_body, "crewId"); /* the workflow's, made with it */
    json_t *a = ad_api_agent_args(k->app, k->req, agent_body, k->wt, k->org, def_name);
    if (a == NULL) {
        return false;
    }
    json_object_set_new(a, "crewId", json_string(ad_api_jstr(k->args, "crewId")));
    json_object_set_new(json_object_get(json_object_get(json_object_get(k->args, "state"), "steps"),
                                        ad_api_jstr(step, "id")),
                        "agentId", json_string(ad_api_jstr(a, "id")));
    json_array_append_new(json_object_get(k->args, "agents"), a);
    k->next++;
    return true;
}

static void def_found(ad_app_t *app, ad_req_t *r, json_t *def, void *ud)
{
    AD_UNUSED(app);
    mk_t *k = ud;
    json_t *step = json_array_get(json_object_get(k->body, "steps"), k->next);
    json_t *agent = json_deep_copy(json_object_get(step, "agent"));
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
        json_t *agent = json_deep_copy(json_object_get(step, "agent"));
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

/* The spec kept: each step's id, needs and prompt (its agent is a row). */
static json_t *spec_of(json_t *body, json_t **state)
{
    json_t *steps = json_array(), *st = json_object();
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(body, "steps"), i, s)
    {
        json_t *needs = json_object_get(s, "needs");
        json_array_append_new(steps,
                              json_pack("{s:s, s:o, s:s}", "id", ad_api_jstr(s, "id"), "needs",
                                        needs != NULL ? json_incref(needs) : json_array(), "prompt",
                                        ad_api_jstr(s, "prompt")));
        json_object_set_new(st, ad_api_jstr(s, "id"), json_pack("{s:s}", "status", "pending"));
    }
    *state = json_pack("{s:o}", "steps", st);
    json_t *budget = json_object_get(body, "budgetUsd");
    return json_pack("{s:s, s:O?, s:o}", "input",
                     ad_api_jstr(body, "input") ? ad_api_jstr(body, "input") : "", "budgetUsd",
                     budget, "steps", steps);
}

/* Each step has an agent body (object) or a definition (and maybe an
 * agent body to add to it). -1 after answering 422. */
static int steps_agents_ok(ad_req_t *r, json_t *steps)
{
    size_t i;
    json_t *s;
    json_array_foreach(steps, i, s)
    {
        json_t *agent = json_object_get(s, "agent");
        json_t *def = json_object_get(s, "definition");
        char field[48];
        snprintf(field, sizeof(field), "steps[%zu].%s", i, def != NULL ? "definition" : "agent");
        if ((agent != NULL && !json_is_object(agent)) || (def != NULL && !json_is_string(def)) ||
            (agent == NULL && def == NULL)) {
            return ad_api_invalid(r, field, "each step needs an agent object or a definition");
        }
        if (agent == NULL) {
            json_object_set_new(s, "agent", json_object());
        }
        if (json_object_get(json_object_get(s, "agent"), "worktreeId") != NULL) {
            snprintf(field, sizeof(field), "steps[%zu].agent.worktreeId", i);
            return ad_api_invalid(r, field, "is the workflow's (worktreeId at the top)");
        }
    }
    return 0;
}

static void wf_create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    const char *name = NULL, *wt = NULL, *input = NULL;
    char field[64] = "", why[128] = "";
    json_t *budget = json_object_get(body, "budgetUsd");
    if (body == NULL || ad_api_str(r, body, "name", true, 200, &name) != 0 ||
        ad_api_str(r, body, "worktreeId", true, AD_ID_MAX, &wt) != 0 ||
        ad_api_str(r, body, "input", false, AD_FLOW_PROMPT_MAX, &input) != 0) {
        json_decref(body);
        return;
    }
    if (budget != NULL && (!json_is_number(budget) || json_number_value(budget) <= 0)) {
        ad_api_invalid(r, "budgetUsd", "must be a positive number (USD)");
    } else if (ad_flow_check(json_object_get(body, "steps"), field, sizeof(field), why,
                             sizeof(why)) != 0) {
        ad_api_invalid(r, field, why);
    } else if (steps_agents_ok(r, json_object_get(body, "steps")) == 0) {
        mk_t *k = ad_xcalloc(1, sizeof(*k));
        int vrc = ad_api_row_org(app, ad_api_who(r), AD_API_WORKTREE, wt, k->org);
        if (vrc != 0) {
            ad_res_error_code(r, vrc, json_pack("{s:s}", "field", "worktreeId"),
                              "worktree not found");
            free(k);
        } else {
            char id[AD_ID_MAX], crew[AD_ID_MAX];
            ad_id_new("wf", id);
            ad_id_new("crew", crew);
            json_t *state = NULL;
            json_t *spec = spec_of(body, &state);
            k->app = app;
            k->req = r;
            k->body = json_incref(body);
            k->wt = ad_api_jstr(body, "worktreeId");
            k->args = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:[]}", "id", id, "orgId",
                                k->org, "crewId", crew, "name", name, "spec", spec, "state", state,
                                "now", (json_int_t)ad_wall_ms(), "agents");
            build_next(k);
        }
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

typedef struct {
    ad_req_t *req;
    json_t *wf;
} stopped_t;

/* The stop is committed: a read after the answer sees it. */
static void stop_saved(int rc, void *ctx)
{
    stopped_t *c = ctx;
    if (rc != 0) {
        ad_api_fail(c->req, rc, "workflow", NULL);
        json_decref(c->wf);
    } else {
        ad_res_json(c->req, 200, c->wf);
    }
    free(c);
}

static void wf_stop(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *wf = ad_api_row_load(app, r, ad_store_workflow_get, "workflow");
    if (wf == NULL) {
        return;
    }
    json_t *now = NULL;
    if (app->api->flow == NULL || ad_flow_stop(app->api->flow, wf, &now) != 0) {
        ad_res_error(r, 409, "CONFLICT", json_pack("{s:s}", "status", ad_api_jstr(wf, "status")),
                     "the workflow is not running");
    } else {
        stopped_t *c = ad_xmalloc(sizeof(*c));
        *c = (stopped_t){.req = r, .wf = now};
        ad_store_flush(app->store, stop_saved, c);
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
    if (app->store != NULL && app->runner != NULL && app->api != NULL) {
        app->api->flow = ad_flow_new(app->loop, app->store, app->runner, WF_TICK_MS, changed, app);
    }
}

void ad_api_workflows_close(ad_app_t *app)
{
    if (app->api != NULL) {
        ad_flow_close(app->api->flow);
        app->api->flow = NULL;
    }
}
