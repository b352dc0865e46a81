/* SPDX-License-Identifier: MIT */
/*
 * Approvals over REST (docs/DECISIONS.md "Approvals over the CLI's own
 * stdio"): GET /api/agents/:id/approvals?pending=true lists an agent's
 * permission prompts, POST /api/approvals/:id {decision: allow | deny |
 * allow_always} decides one: the answer goes to the running CLI first
 * (src/run), then the row is stored as decided and approval_decided is
 * published to the agent's org. Deciding is WRITE in the agent's org (allowing
 * what the agent's permissions do not already allow is ADMIN); an
 * approval of another org is answered like a missing one (404).
 */
#include "agent/agent.h"
#include "run/run.h"
#include "api/api_int.h"

#include <string.h>

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    if (!ad_api_visible(app, r, AD_API_AGENT, id, NULL)) {
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
    const char *id = ad_req_param(r, "id");
    json_t *a = NULL;
    int rc = ad_store_approval_get(app->store, id, &a);
    const char *org = json_string_value(json_object_get(a, "orgId"));
    if (rc == 0 && !ad_principal_sees(ad_api_who(r), org != NULL ? org : "")) {
        rc = AD_ENOENT;
    }
    if (rc != 0) {
        json_decref(a);
        ad_api_fail(r, rc, "approval", id);
        return NULL;
    }
    return a;
}

static void decided(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "approval", ad_req_param(r, "id"));
        return;
    }
    const char *agent = json_string_value(json_object_get(result, "agentId"));
    const char *org = json_string_value(json_object_get(result, "orgId"));
    const char *run = json_string_value(json_object_get(result, "runId"));
    json_t *ev = json_pack("{s:O}", "approval", result);
    ad_api_publish(app, "approval_decided", ev, "agent", agent, "run", run, "org", org, NULL);
    json_decref(ev);
    ad_res_json(r, 200, json_incref(result));
}

static int parse_decision(const char *s, ad_approval_decision_t *d)
{
    if (strcmp(s, "allow") == 0) {
        *d = AD_APPROVAL_ALLOW;
    } else if (strcmp(s, "deny") == 0) {
        *d = AD_APPROVAL_DENY;
    } else if (strcmp(s, "allow_always") == 0) {
        *d = AD_APPROVAL_ALLOW_ALWAYS;
    } else {
        return AD_EINVAL;
    }
    return 0;
}

/* Sends the decision to the CLI, then stores it. A run that no longer
 * waits on the approval is a 409 and its row is not changed here (the run's
 * end or the CLI's withdrawal marks it). */
static void answer(ad_app_t *app, ad_req_t *r, json_t *a, const char *decision)
{
    ad_approval_decision_t d = AD_APPROVAL_ALLOW;
    (void)parse_decision(decision, &d);
    const char *id = json_string_value(json_object_get(a, "id"));
    const char *status = json_string_value(json_object_get(a, "status"));
    int rc = status != NULL && strcmp(status, "pending") == 0 ? 0 : AD_ESTATE;
    if (rc == 0) {
        rc = ad_runner_approval_answer(
            app->runner, json_string_value(json_object_get(a, "agentId")), id, d,
            json_string_value(json_object_get(a, "toolName")), json_object_get(a, "input"));
    }
    if (rc != 0) {
        ad_res_error(r, 409, "CONFLICT", json_pack("{s:s, s:s?}", "id", id, "status", status),
                     "approval %s is %s: its run no longer waits for a decision", id,
                     rc == AD_ESTATE && status != NULL ? status : "not awaited");
        return;
    }
    const ad_principal_t *who = ad_api_who(r);
    json_t *args = json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", id, "decision", decision, "status",
                             d == AD_APPROVAL_DENY ? "denied" : "allowed", "by", who->name, "now",
                             (json_int_t)ad_wall_ms());
    ad_api_write(app, r, ad_store_op_approval_decide, args, decided);
}

/* Whether an entry of the agent's permissions already lets tool run: a
 * seed word whose tools name it ("execute" -> Bash) or the bare tool. A
 * rule with an argument ("Bash(git log *)") is the CLI's to match, so it
 * does not count here. */
static bool perms_allow(json_t *perms, const char *tool)
{
    size_t i, tl = tool != NULL ? strlen(tool) : 0;
    json_t *v;
    json_array_foreach(perms, i, v)
    {
        const char *e = json_string_value(v);
        if (e != NULL && tl > 0 && strcmp(e, tool) == 0) {
            return true; /* the word itself: an ACP approval's tool is one */
        }
        const char *tools = e != NULL ? ad_permission_tools(e) : NULL;
        for (const char *p = tools; tl > 0 && p != NULL && *p != '\0';) {
            size_t n = strcspn(p, ",");
            if (n == tl && strncmp(p, tool, tl) == 0) {
                return true;
            }
            p += n + (p[n] == ',');
        }
    }
    return false;
}

/* Allowing a call is running a program on someone's say-so: a write token
 * (which starts none) may allow only what the agent's permissions already
 * allow, and deny anything; allow_always changes the permissions, so it is
 * an admin's, like PATCHing them. false after answering 403. */
static bool decision_scope_ok(ad_app_t *app, ad_req_t *r, json_t *a, const char *decision)
{
    if (strcmp(decision, "deny") == 0 || ad_principal_can(ad_api_who(r), AD_SCOPE_ADMIN)) {
        return true;
    }
    bool ok = false;
    if (strcmp(decision, "allow") == 0) {
        json_t *agent = NULL;
        const char *agent_id = json_string_value(json_object_get(a, "agentId"));
        if (agent_id != NULL && ad_store_agent_get(app->store, agent_id, &agent) == 0) {
            ok = perms_allow(json_object_get(agent, "permissions"),
                             json_string_value(json_object_get(a, "toolName")));
        }
        json_decref(agent);
    }
    if (!ok) {
        ad_res_error(r, 403, "FORBIDDEN",
                     json_pack("{s:s, s:s}", "scope", ad_scope_name(ad_api_who(r)->scope), "needed",
                               "admin"),
                     "admin is needed to %s a call the agent's permissions do not allow", decision);
    }
    return ok;
}

static void decide(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *a = load(app, r);
    if (a == NULL) {
        return;
    }
    json_t *body = ad_req_json(r);
    const char *decision = NULL;
    if (body != NULL &&
        ad_api_enum(r, body, "decision", true, "allow,deny,allow_always", &decision) == 0 &&
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
