/* SPDX-License-Identifier: MIT */
/*
 * Permission prompts of a Claude run (--permission-prompt-tool stdio,
 * docs/DECISIONS.md "Approvals over the CLI's own stdio"): the CLI writes a
 * control_request can_use_tool on stdout and waits; agentd stores it as an
 * approval, publishes approval_requested and sets the agent `waiting`; a
 * user's decision (ad_runner_approval_answer) goes back as a
 * control_response line on the run's stdin. Only the process agentd
 * started reads that pipe, so no other party can answer for the user.
 *
 * Threads: loop thread only.
 */
#include "run/run_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    ad_runner_t *r;
    ad_run_topics_t topics;
} approval_ctx_t;

static void on_inserted(int rc, json_t *result, void *ud)
{
    approval_ctx_t *c = ud;
    if (rc == 0 && result != NULL) {
        ad_run_publish(c->r, &c->topics, "approval_requested",
                       json_pack("{s:O}", "approval", result));
    } else {
        ad_log(AD_LOG_WARN, "runner", "approval not stored: %s", ad_strerror(rc));
    }
    json_decref(result);
    free(c);
}

static void on_closed(int rc, json_t *result, void *ud)
{
    AD_UNUSED(ud);
    json_decref(result);
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "runner", "approvals not closed: %s", ad_strerror(rc));
    }
}

/* Ends pending approvals of the run (request_id NULL: all of them). */
static void close_approvals(ad_run_t *run, const char *request_id, const char *status)
{
    json_t *args = json_pack("{s:s, s:s?, s:s, s:I}", "runId", run->run_id, "requestId", request_id,
                             "status", status, "now", (json_int_t)ad_wall_ms());
    ad_store_write(run->r->store, ad_store_op_approval_close, args, on_closed, NULL);
    ad_run_publish(run->r, &run->topics, "approval_updated",
                   json_pack("{s:s, s:s, s:s}", "agentId", run->agent_id, "runId", run->run_id,
                             "status", status));
}

static void forget(ad_run_t *run, size_t i)
{
    run->approvals[i] = run->approvals[run->napprovals - 1];
    run->napprovals--;
}

static int find_request(const ad_run_t *run, const char *request_id)
{
    for (size_t i = 0; i < run->napprovals; i++) {
        if (strcmp(run->approvals[i].request_id, request_id) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* The control_response line for request_id with the permission result
 * (stolen), newline included. Owned. */
static char *response_line(const char *request_id, json_t *result, size_t *len)
{
    json_t *line = json_pack("{s:s, s:{s:s, s:s, s:o}}", "type", "control_response", "response",
                             "subtype", "success", "request_id", request_id, "response", result);
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (text == NULL) {
        return NULL;
    }
    size_t n = strlen(text);
    char *out = ad_xmalloc(n + 2);
    memcpy(out, text, n);
    out[n] = '\n';
    out[n + 1] = '\0';
    free(text);
    *len = n + 1;
    return out;
}

static int write_result(ad_run_t *run, const char *request_id, json_t *result)
{
    size_t len = 0;
    char *line = NULL;
    if (run->rpc) { /* codex app-server: accept, decline or acceptForSession */
        const char *behavior = json_string_value(json_object_get(result, "behavior"));
        bool deny = behavior == NULL || strcmp(behavior, "allow") != 0;
        const char *decision = deny ? "decline"
                               : json_object_get(result, "updatedPermissions") != NULL
                                   ? "acceptForSession"
                                   : "accept";
        line = ad_codex_app_answer(run->parser, request_id, decision, &len);
        json_decref(result);
    } else {
        line = response_line(request_id, result, &len);
    }
    int rc = run->proc == NULL ? AD_ESTATE
             : line != NULL    ? ad_proc_write(run->proc, line, len)
                               : AD_EINTERNAL;
    free(line);
    return rc;
}

/* An ACP agent's answer: the option it offered that fits the decision. */
static int write_acp(ad_run_t *run, const char *request_id, ad_approval_decision_t d)
{
    ad_acp_decision_t ad = d == AD_APPROVAL_DENY           ? AD_ACP_DENY
                           : d == AD_APPROVAL_ALLOW_ALWAYS ? AD_ACP_ALLOW_ALWAYS
                                                           : AD_ACP_ALLOW;
    size_t len = 0;
    char *line = ad_acp_permission_answer(run->parser, request_id, ad, &len);
    int rc = run->proc == NULL ? AD_ESTATE
             : line != NULL    ? ad_proc_write(run->proc, line, len)
                               : AD_ENOENT;
    free(line);
    return rc;
}

/* Too many prompts at once: the CLI gets a denial and the user a notice. */
static void refuse_request(ad_run_t *run, const char *request_id)
{
    if (run->exec == AD_EXEC_ACP) {
        (void)write_acp(run, request_id, AD_APPROVAL_DENY);
        return;
    }
    json_t *deny = json_pack("{s:s, s:s}", "behavior", "deny", "message",
                             "agentd: too many tool calls are waiting for approval");
    (void)write_result(run, request_id, deny);
    ad_log(AD_LOG_WARN, "runner", "approval refused, %d pending agent=%s", AD_RUN_APPROVALS_MAX,
           run->agent_id);
}

void ad_run_on_approval_rec(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->subtype == NULL || strlen(rec->subtype) >= sizeof(run->approvals[0].request_id)) {
        return;
    }
    int i = find_request(run, rec->subtype);
    if (rec->is_error) { /* withdrawn by the CLI */
        if (i >= 0) {
            forget(run, (size_t)i);
            close_approvals(run, rec->subtype, "cancelled");
        }
        return;
    }
    if (i >= 0 || rec->tool_name == NULL) {
        return;
    }
    if (run->napprovals >= AD_RUN_APPROVALS_MAX) {
        refuse_request(run, rec->subtype);
        return;
    }
    char id[AD_ID_MAX];
    ad_id_new("ap", id);
    snprintf(run->approvals[run->napprovals].id, AD_ID_MAX, "%s", id);
    snprintf(run->approvals[run->napprovals].request_id, sizeof(run->approvals[0].request_id), "%s",
             rec->subtype);
    run->napprovals++;
    json_t *args =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:O, s:s?, s:I}", "id", id, "agentId",
                  run->agent_id, "runId", run->run_id, "orgId", run->org_id, "requestId",
                  rec->subtype, "toolName", rec->tool_name, "toolUseId", rec->tool_id, "input",
                  rec->json, "description", rec->text, "now", (json_int_t)ad_wall_ms());
    approval_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = run->r;
    ad_run_topics_copy(&c->topics, &run->topics);
    ad_store_write(run->r->store, ad_store_op_approval_insert, args, on_inserted, c);
    ad_store_agent_runtime_t u = {.context_level = -1};
    ad_run_agent_update_why(run, &u, AD_AGENT_STATUS_WAITING, "approval", NULL, NULL);
}

void ad_run_approvals_restore(ad_run_t *run)
{
    json_t *rows = NULL;
    if (ad_store_approval_pending_of_run(run->r->store, run->run_id, &rows) != 0) {
        ad_log(AD_LOG_WARN, "runner", "pending approvals not read run=%s", run->run_id);
        return;
    }
    size_t i;
    json_t *a;
    json_array_foreach(rows, i, a)
    {
        const char *id = json_string_value(json_object_get(a, "id"));
        const char *rid = json_string_value(json_object_get(a, "requestId"));
        if (id == NULL || rid == NULL || strlen(id) >= AD_ID_MAX ||
            strlen(rid) >= sizeof(run->approvals[0].request_id) ||
            run->napprovals == AD_RUN_APPROVALS_MAX || find_request(run, rid) >= 0) {
            continue;
        }
        snprintf(run->approvals[run->napprovals].id, AD_ID_MAX, "%s", id);
        snprintf(run->approvals[run->napprovals].request_id, sizeof(run->approvals[0].request_id),
                 "%s", rid);
        run->napprovals++;
    }
    json_decref(rows);
}

void ad_run_approvals_end(ad_run_t *run)
{
    if (run->napprovals > 0) {
        run->napprovals = 0;
        close_approvals(run, NULL, "expired");
    }
}

/* The permission result for a decision: allow (with the input, as the CLI
 * wants it back), allow_always (and a session rule for the tool, so this
 * run asks no more), or deny. New reference. */
static json_t *decision_result(ad_approval_decision_t d, const char *tool, json_t *input)
{
    if (d == AD_APPROVAL_DENY) {
        return json_pack("{s:s, s:s}", "behavior", "deny", "message",
                         "The user denied this tool call.");
    }
    json_t *res = json_pack("{s:s, s:O}", "behavior", "allow", "updatedInput",
                            json_is_object(input) ? input : json_object());
    if (d == AD_APPROVAL_ALLOW_ALWAYS && tool != NULL) {
        json_object_set_new(res, "updatedPermissions",
                            json_pack("[{s:s, s:[{s:s}], s:s, s:s}]", "type", "addRules", "rules",
                                      "toolName", tool, "behavior", "allow", "destination",
                                      "session"));
    }
    return res;
}

int ad_runner_approval_answer(ad_runner_t *r, const char *agent_id, const char *approval_id,
                              ad_approval_decision_t d, const char *tool, json_t *input)
{
    ad_run_t *run = ad_run_find(r, agent_id);
    if (run == NULL || run->proc == NULL || !ad_proc_alive(run->proc)) {
        return AD_ENOENT;
    }
    size_t i = 0;
    while (i < run->napprovals && strcmp(run->approvals[i].id, approval_id) != 0) {
        i++;
    }
    if (i == run->napprovals) {
        return AD_ENOENT;
    }
    int rc = run->exec == AD_EXEC_ACP
                 ? write_acp(run, run->approvals[i].request_id, d)
                 : write_result(run, run->approvals[i].request_id, decision_result(d, tool, input));
    if (rc != 0) {
        return rc;
    }
    forget(run, i);
    if (run->napprovals == 0) {
        ad_store_agent_runtime_t u = {.context_level = -1};
        ad_run_agent_update(run, &u, AD_AGENT_STATUS_RUNNING, NULL, NULL);
    }
    return 0;
}
