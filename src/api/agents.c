/* SPDX-License-Identifier: MIT */
/*
 * /api/agents (docs/api.md, "Workspaces, worktrees and agents"): list
 * with filters, get, and create with defaults (from a definition too). The fields a create or
 * update checks are agent_fields.c's, update, delete, restore, fork and reorder agent_edit.c's.
 * Every change is answered after its commit and published as agent_update to the agent's, its
 * worktree's and its workspace's topics. start/stop/message are runs.c's.
 */
#include "agent/agent.h"
#include "compat/compat.h"
#include "run/run.h"
#include "api/workbench.h"
#include "rows.h"

#include <string.h>

#define EXECUTORS AD_ROW_EXECUTOR_CHOICES

/* For writes whose result is {agent, workspaceId}: publish, answer. */
static void answer_agent(ad_app_t *app, ad_req_t *r, int rc, json_t *result, int status)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "agent", ad_req_param(r, "id"));
        return;
    }
    json_t *a = json_object_get(result, "agent");
    ad_run_agent_publish(app->bus, a, a, json_string_value(json_object_get(result, "workspaceId")));
    ad_res_json(r, status, json_incref(a));
}

void ad_api_agent_done_200(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    answer_agent(app, r, rc, result, 200);
}

void ad_api_agent_done_201(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    answer_agent(app, r, rc, result, 201);
}

static void created(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc == AD_ENOENT) {
        ad_res_error_code(r, rc, json_pack("{s:s}", "field", "worktreeId"), "worktree not found");
        return;
    }
    answer_agent(app, r, rc, result, 201);
}

/* Auto mode for Claude Code as root is refused before the agent exists
 * (else it is created and then fails at every start): 422 unless the
 * owner set allow_root_auto. executor NULL is the default, claude. True
 * after answering. */
bool ad_api_agent_root_auto(ad_app_t *app, ad_req_t *r, const char *mode, const char *executor)
{
    const char *why = ad_run_root_auto_refused(app->store, mode, executor);
    if (why != NULL) {
        ad_res_error(r, 422, "VALIDATION_ERROR",
                     json_pack("{s:s, s:s}", "field", "mode", "reason", "root_auto"), "%s", why);
    }
    return why != NULL;
}

/* The agents list's text is bounded: 10,000 rows of long names and
 * reasons fit many times over. */
#define LIST_TEXT_MAX (64u << 20)

typedef struct {
    const ad_runner_t *runner;
    const char *seed_status;
} list_out_t;

/* A row of the list as it goes out: as it is live (a stop under way), and
 * the seeds' status filter. */
static void list_row(void *ud, const char *id, const char *status, ad_store_agent_out_t *o)
{
    list_out_t *lo = ud;
    status = ad_runner_row_live(lo->runner, id, status, o);
    o->skip = !ad_compat_manager_shown(status, lo->seed_status);
}

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *status = ad_req_query(r, "status"), *seed_status = NULL;
    ad_store_agent_query_t q = {.org = ad_principal_filter(ad_api_who(r))};
    ad_field_err_t e;
    status = status != NULL && status[0] != '\0' ? status : NULL;
    if (ad_api_seed_status_filter(r, &status, &seed_status) != 0) {
        return;
    }
    if (ad_store_agent_list_parse(&q, status, ad_api_query_get, r, &e) != 0) {
        ad_api_invalid_err(r, &e);
        return;
    }
    if (q.worktree_id != NULL &&
        !ad_api_visible(app, r, AD_STORE_ROW_WORKTREE, q.worktree_id, NULL)) {
        return;
    }
    if (ad_req_dialect(r)) { /* a dialect rewrites the tree: it gets one */
        json_t *out = NULL;
        int rc = ad_store_agent_list(app->store, q.worktree_id, q.status, q.include_deleted, q.org,
                                     &out);
        if (rc != 0) {
            ad_api_fail(r, rc, "worktree", q.worktree_id);
            return;
        }
        /* a stop under way reads "stopping" */
        ad_runner_agents_live(app->runner, json_object_get(out, "agents"));
        ad_compat_manager_filter_agents(json_object_get(out, "agents"), seed_status);
        ad_res_json(r, 200, out);
        return;
    }
    /* Written row by row, no json_t: 10,000 agents were 250,000 of them. */
    list_out_t lo = {.runner = app->runner, .seed_status = seed_status};
    ad_buf_t b;
    ad_buf_init(&b, LIST_TEXT_MAX);
    int rc = ad_store_agent_list_text(app->store, &q, list_row, &lo, &b);
    if (rc != 0) {
        ad_buf_cleanup(&b);
        ad_api_fail(r, rc, "worktree", q.worktree_id);
        return;
    }
    ad_res_send_buf(r, 200, "application/json", &b);
}

/* The agent as its typed row: as it is live (a stop under way), with the
 * sandbox it gets; the answer is the codec's JSON of it. Another org's
 * agent is a 404. */
static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_need_store(app, r)) {
        return;
    }
    ad_row_agent_t a = {0};
    int rc =
        id != NULL && strlen(id) < AD_ID_MAX ? ad_run_agent_row(app->store, id, &a) : AD_ENOENT;
    if (rc == 0 && !ad_principal_sees(ad_api_who(r), a.org_id)) {
        rc = AD_ENOENT;
    }
    if (rc != 0) {
        ad_row_agent_cleanup(&a);
        ad_api_fail(r, rc, "agent", id);
        return;
    }
    ad_runner_agent_row_live(app->runner, &a);
    ad_res_json(r, 200, ad_row_agent_encode(&a));
    ad_row_agent_cleanup(&a);
}

static void create_body(ad_app_t *app, ad_req_t *r, json_t *body, const char *def_name);

static void def_found(ad_app_t *app, ad_req_t *r, json_t *def, void *ud)
{
    json_t *body = ud;
    const char *name = ad_api_jstr(body, "definition");
    if (def == NULL || json_object_get(def, "error") != NULL) {
        ad_api_invalid(r, "definition",
                       def == NULL ? "no such definition" : "the definition has an error");
        json_decref(body);
        return;
    }
    ad_agent_def_apply(body, def);
    create_body(app, r, body, name);
}

/* A new agent that may run tools unasked at its first start (permissions
 * beyond "read", or auto mode) is an admin's, as changing them is (see
 * patch_scope_ok): a write token could otherwise leave one for the admin
 * to start. false after answering 403. */
static bool create_scope_ok(ad_req_t *r, json_t *body)
{
    return !ad_run_spec_unasked(body) ||
           ad_api_require(r, AD_SCOPE_ADMIN,
                          "an agent that may run tools unasked (permissions beyond read, or auto "
                          "mode)");
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    if (!create_scope_ok(r, body)) {
        json_decref(body);
        return;
    }
    const char *def = NULL, *executor = NULL;
    if (ad_api_str(r, body, "definition", false, 200, &def) != 0 ||
        ad_api_enum(r, body, "executor", false, EXECUTORS, &executor) != 0) {
        json_decref(body);
        return;
    }
    if (def == NULL) {
        create_body(app, r, body, NULL);
        return;
    }
    if (executor != NULL && strcmp(executor, "claude") != 0) {
        ad_api_invalid(r, "definition", "is for claude agents");
        json_decref(body);
        return;
    }
    if (ad_api_def_find(app, r, def, def_found, body) != 0) {
        ad_res_error(r, 500, "INTERNAL", NULL, "cannot read the definitions");
        json_decref(body);
    }
}

json_t *ad_api_agent_args(ad_app_t *app, ad_req_t *r, json_t *body, const char *wt, const char *org,
                          const char *def_name)
{
    json_t *args = json_object();
    const char *executor = NULL;
    if (ad_api_agent_common_fields(app, r, body, args, org) != 0 ||
        ad_api_enum(r, body, "executor", false, EXECUTORS, &executor) != 0) {
        json_decref(args);
        return NULL;
    }
    ad_run_agent_defaults(app->store, args);
    if (ad_api_agent_run_fields(app, r, body, executor, args) != 0 ||
        ad_api_agent_root_auto(app, r, ad_api_jstr(args, "mode"), executor)) {
        json_decref(args);
        return NULL;
    }
    ad_run_agent_finish(args, wt, executor, def_name, (int64_t)ad_wall_ms());
    return args;
}

/* The create itself; body is owned. def_name: the definition it came from,
 * kept in the agent's state. */
static void create_body(ad_app_t *app, ad_req_t *r, json_t *body, const char *def_name)
{
    const char *wt = NULL;
    char org[AD_ID_MAX];
    if (ad_api_str(r, body, "worktreeId", true, AD_ID_MAX, &wt) == 0) {
        int vrc = ad_auth_row_org(app->store, ad_api_who(r), AD_STORE_ROW_WORKTREE, wt, org);
        json_t *args = NULL;
        if (vrc != 0) {
            ad_res_error_code(r, vrc, json_pack("{s:s}", "field", "worktreeId"),
                              "worktree not found");
        } else if ((args = ad_api_agent_args(app, r, body, wt, org, def_name)) != NULL) {
            ad_api_write(app, r, ad_store_op_agent_insert, args, created);
        }
    }
    json_decref(body);
}

void ad_api_agents_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/agents", AD_ACCESS_READ, list, app);
    ad_server_route(app->server, "POST", "/api/agents", AD_ACCESS_WRITE, create, app);
    ad_server_route(app->server, "GET", "/api/agents/:id", AD_ACCESS_READ, get, app);
    ad_api_agent_edit_register(app); /* agent_edit.c */
}
