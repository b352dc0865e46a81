/* SPDX-License-Identifier: MIT */
/*
 * Approvals over REST (docs/internals/run.md "Approvals over the CLI's own
 * stdio"): GET /api/agents/:id/approvals?pending=true lists an agent's
 * permission prompts, POST /api/approvals/:id {decision: allow | deny |
 * allow_always} decides one: the answer goes to the running CLI first
 * (src/run), then the row is stored as decided and approval_decided is
 * published to the agent's org. Deciding is WRITE in the agent's org (allowing
 * what the agent's permissions do not already allow is ADMIN); an
 * approval of another org is answered like a missing one (404).
 */
#include "run/run.h"
#include "api/api_int.h"
#include "rows.h"
#include "tables/approvals.h"

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_STORE_ROW_AGENT, id, NULL)) {
        return;
    }
    bool pending = false;
    if (ad_api_query_bool(r, "pending", false, &pending) != 0) {
        return;
    }
    json_t *rows = NULL;
    int rc = ad_store_approval_list(app->store, id, pending, &rows);
    if (rc != 0) {
        ad_api_fail(r, rc, "approvals", id);
        return;
    }
    ad_res_json(r, 200, json_pack("{s:o}", "approvals", rows));
}

/* The approval of r's :id, visible to the caller (new reference), or NULL
 * after answering 404: another org's approval is as good as none. */
static json_t *load(ad_app_t *app, ad_req_t *r)
{
    return ad_api_row_load(app, r, ad_store_approval_get, "approval");
}

static void decided(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "approval", ad_req_param(r, "id"));
        return;
    }
    ad_run_approval_publish(app->bus, result);
    ad_res_json(r, 200, json_incref(result));
}

/* Sends the decision to the CLI, then stores it. A run that no longer
 * waits on the approval is a 409 and its row is not changed here (the run's
 * end or the CLI's withdrawal marks it). */
static void answer(ad_app_t *app, ad_req_t *r, json_t *a, const char *decision)
{
    const char *id = json_string_value(json_object_get(a, "id"));
    const char *status = json_string_value(json_object_get(a, "status"));
    int rc = ad_runner_approval_decide(app->runner, a, decision);
    if (rc != 0) {
        ad_res_error(r, 409, "CONFLICT", json_pack("{s:s, s:s?}", "id", id, "status", status),
                     "approval %s is %s: its run no longer waits for a decision", id,
                     rc == AD_ESTATE && status != NULL ? status : "not awaited");
        return;
    }
    json_t *args = ad_run_approval_args(a, decision, ad_api_who(r)->name, (int64_t)ad_wall_ms());
    ad_api_write(app, r, ad_store_op_approval_decide, args, decided);
}

/* Who may decide what is src/run's (ad_run_approval_may). false after
 * answering 403. */
static bool decision_scope_ok(ad_app_t *app, ad_req_t *r, json_t *a, const char *decision)
{
    const ad_principal_t *who = ad_api_who(r);
    if (ad_run_approval_may(app->store, a, decision, ad_principal_can(who, AD_SCOPE_ADMIN))) {
        return true;
    }
    ad_res_error(r, 403, "FORBIDDEN",
                 json_pack("{s:s, s:s}", "scope", ad_scope_name(who->scope), "needed", "admin"),
                 "admin is needed to %s a call the agent's permissions do not allow", decision);
    return false;
}

static void decide(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *a = load(app, r);
    if (a == NULL) {
        return;
    }
    if (ad_api_forwarded(app, r, json_string_value(json_object_get(a, "agentId")), false)) {
        json_decref(a); /* its run is another plane's: decided there (issue #77) */
        return;
    }
    json_t *body = ad_req_json(r);
    const char *decision = NULL;
    if (body != NULL &&
        ad_api_enum(r, body, "decision", true, AD_ROW_APPROVAL_DECISION_CHOICES, &decision) == 0 &&
        decision_scope_ok(app, r, a, decision)) {
        answer(app, r, a, decision);
    }
    json_decref(body);
    json_decref(a);
}

void ad_api_approvals_register(ad_app_t *app)
{
    if (app->runner == NULL) {
        return;
    }
    ad_server_route(app->server, "GET", "/api/agents/:id/approvals", AD_ACCESS_READ, list, app);
    ad_server_route(app->server, "POST", "/api/approvals/:id", AD_ACCESS_WRITE, decide, app);
}
