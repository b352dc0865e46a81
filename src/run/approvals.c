/* SPDX-License-Identifier: MIT */
/*
 * Permission prompts of a run, the same for every executor (issue #33; how
 * an executor plugs in: run_int.h, ad_run_approver_t): the agent asks,
 * agentd stores an approval, publishes approval_requested and sets the
 * agent `waiting`; a user's decision (ad_runner_approval_answer) goes back
 * through the run's approver. Claude's (--permission-prompt-tool stdio,
 * docs/internals/run.md "Approvals over the CLI's own stdio") is the first: the
 * CLI writes a control_request can_use_tool on stdout and waits, the answer
 * is a control_response line on the run's stdin. Only the process agentd
 * started reads that pipe, so no other party can answer for the user.
 *
 * Threads: loop thread only.
 */
#include "run/features.h"
#include "run/run_int.h"
#include "tables/approvals.h"

#include <stdlib.h>
#include <string.h>

/* A permission prompt the CLI waits on: agentd's approval id, the CLI's
 * request id and the call it is about ("" when none). */
typedef struct {
    char id[AD_ID_MAX];
    char request_id[AD_RUN_REQUEST_ID_MAX];
    char tool_use_id[AD_RUN_REQUEST_ID_MAX];
} approval_t;

/* The approvals feature's state of a run (feature.h): its prompts, at
 * most AD_RUN_APPROVALS_MAX at once, and the last calls the user denied
 * (by tool id): their tool_end says denied, so a client that sees it
 * before approval_decided (the CLI is answered before the decision is
 * stored) does not read a failure. Allocated at the run's first prompt:
 * most runs (a command, an agent allowed everything) have none, and these
 * 13 KB inside every run were a quarter of agentd's memory per agent
 * (issue #38, F1). */
typedef struct {
    approval_t v[AD_RUN_APPROVALS_MAX];
    size_t n; /* pending now */
    char denied[AD_RUN_APPROVALS_MAX][AD_RUN_REQUEST_ID_MAX];
    unsigned ndenied;                  /* entries written, the next at % max */
    const ad_run_approver_t *approver; /* NULL: the executor's (approver_of) */
} appr_t;

static appr_t *appr_peek(const ad_run_t *run)
{
    return ad_run_ctx_peek(run, AD_RUN_FEAT_APPROVALS);
}

static size_t npending(const ad_run_t *run)
{
    const appr_t *a = appr_peek(run);
    return a != NULL ? a->n : 0;
}

size_t ad_run_approvals_pending(const ad_run_t *run)
{
    return npending(run);
}

void ad_run_approver_set(ad_run_t *run, const ad_run_approver_t *approver)
{
    ((appr_t *)ad_run_ctx(run, AD_RUN_FEAT_APPROVALS))->approver = approver;
}

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
    appr_t *a = appr_peek(run);
    a->v[i] = a->v[a->n - 1];
    a->n--;
}

/* The next prompt's slot (the run's first allocates them all); the
 * caller has checked there is room. */
static approval_t *add_slot(ad_run_t *run)
{
    appr_t *a = ad_run_ctx(run, AD_RUN_FEAT_APPROVALS);
    return &a->v[a->n++];
}

static int find_request(const ad_run_t *run, const char *request_id)
{
    const appr_t *a = appr_peek(run);
    for (size_t i = 0; a != NULL && i < a->n; i++) {
        if (strcmp(a->v[i].request_id, request_id) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* ---- Claude's control protocol: the first approver ---------------------------- */

/* The control_response line for request_id with the permission result
 * (stolen), newline included. Owned. */
static char *response_line(const char *request_id, json_t *result, size_t *len)
{
    json_t *line = json_pack("{s:s, s:{s:s, s:s, s:o}}", "type", "control_response", "response",
                             "subtype", "success", "request_id", request_id, "response", result);
    char *out = ad_json_line(line, JSON_COMPACT, len);
    json_decref(line);
    return out;
}

static int write_result(ad_run_t *run, const char *request_id, json_t *result)
{
    size_t len = 0;
    char *line = response_line(request_id, result, &len);
    int rc = run->proc == NULL ? AD_ESTATE
             : line != NULL    ? ad_proc_write(run->proc, line, len)
                               : AD_EINTERNAL;
    free(line);
    return rc;
}

static void claude_refuse(ad_run_t *run, const char *request_id)
{
    json_t *deny = json_pack("{s:s, s:s}", "behavior", "deny", "message",
                             "agentd: too many tool calls are waiting for approval");
    (void)write_result(run, request_id, deny);
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

static int claude_answer(ad_run_t *run, const char *request_id, ad_approval_decision_t d,
                         const char *tool, json_t *input)
{
    return write_result(run, request_id, decision_result(d, tool, input));
}

static const ad_run_approver_t claude_approver = {claude_answer, claude_refuse};

/* ---- Codex app-server: accept, decline or acceptForSession ----------------------- */

static int codex_answer(ad_run_t *run, const char *request_id, ad_approval_decision_t d,
                        const char *tool, json_t *input)
{
    AD_UNUSED(tool);
    AD_UNUSED(input);
    const char *decision = d == AD_APPROVAL_DENY           ? "decline"
                           : d == AD_APPROVAL_ALLOW_ALWAYS ? "acceptForSession"
                                                           : "accept";
    size_t len = 0;
    char *line = ad_codex_app_answer(run->parser, request_id, decision, &len);
    int rc = run->proc == NULL ? AD_ESTATE
             : line != NULL    ? ad_proc_write(run->proc, line, len)
                               : AD_EINTERNAL;
    free(line);
    return rc;
}

static void codex_refuse(ad_run_t *run, const char *request_id)
{
    (void)codex_answer(run, request_id, AD_APPROVAL_DENY, NULL, NULL);
}

static const ad_run_approver_t codex_approver = {codex_answer, codex_refuse};

/* ---- ACP: the option the agent offered that fits the decision --------------------- */

static int acp_answer(ad_run_t *run, const char *request_id, ad_approval_decision_t d,
                      const char *tool, json_t *input)
{
    ad_acp_decision_t ad = d == AD_APPROVAL_DENY           ? AD_ACP_DENY
                           : d == AD_APPROVAL_ALLOW_ALWAYS ? AD_ACP_ALLOW_ALWAYS
                                                           : AD_ACP_ALLOW;
    if (run->proc == NULL) {
        return AD_ESTATE;
    }
    /* the approval as stored: a request asked before a restart is not in
     * this daemon's parser (the options the agent offered, or the fs or
     * terminal request held) */
    ad_recs_t recs;
    ad_recs_init(&recs);
    bool known = ad_acp_decide(run->parser, request_id, ad, tool, input, &recs);
    ad_run_acp_apply(run, &recs);
    ad_recs_cleanup(&recs);
    return known ? 0 : AD_ENOENT;
}

static void acp_refuse(ad_run_t *run, const char *request_id)
{
    (void)acp_answer(run, request_id, AD_APPROVAL_DENY, NULL, NULL);
}

static const ad_run_approver_t acp_approver = {acp_answer, acp_refuse};

/* The run's own approver, else its executor's. */
static const ad_run_approver_t *approver_of(const ad_run_t *run)
{
    const appr_t *a = appr_peek(run);
    if (a != NULL && a->approver != NULL) {
        return a->approver;
    }
    return run->how.exec == AD_EXEC_ACP ? &acp_approver
           : run->how.rpc               ? &codex_approver
                                        : &claude_approver;
}

/* ---- the executor-neutral record ------------------------------------------------ */

/* Too many prompts at once: the agent gets a denial and the user a notice. */
static void refuse_request(ad_run_t *run, const char *request_id)
{
    approver_of(run)->refuse(run, request_id);
    ad_log(AD_LOG_WARN, "runner", "approval refused, %d pending agent=%s", AD_RUN_APPROVALS_MAX,
           run->agent_id);
}

void ad_run_approval_withdrawn(ad_run_t *run, const char *request_id)
{
    int i = find_request(run, request_id);
    if (i >= 0) {
        forget(run, (size_t)i);
        close_approvals(run, request_id, "cancelled");
    }
}

void ad_run_approval_request(ad_run_t *run, const ad_run_approval_req_t *req)
{
    if (req->request_id == NULL || req->tool_name == NULL ||
        strlen(req->request_id) >= AD_RUN_REQUEST_ID_MAX ||
        find_request(run, req->request_id) >= 0) {
        return;
    }
    if (npending(run) >= AD_RUN_APPROVALS_MAX) {
        refuse_request(run, req->request_id);
        return;
    }
    char id[AD_ID_MAX];
    ad_id_new("ap", id);
    approval_t *slot = add_slot(run);
    snprintf(slot->id, sizeof(slot->id), "%s", id);
    snprintf(slot->request_id, sizeof(slot->request_id), "%s", req->request_id);
    snprintf(slot->tool_use_id, sizeof(slot->tool_use_id), "%s",
             req->tool_use_id != NULL ? req->tool_use_id : "");
    json_t *input = json_is_object(req->input) ? req->input : NULL;
    json_t *args =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:O?, s:s?, s:I}", "id", id, "agentId",
                  run->agent_id, "runId", run->run_id, "orgId", run->org_id, "requestId",
                  req->request_id, "toolName", req->tool_name, "toolUseId", req->tool_use_id,
                  "input", input, "description", req->description, "now", (json_int_t)ad_wall_ms());
    if (input == NULL) {
        json_object_set_new(args, "input", json_object());
    }
    approval_ctx_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = run->r;
    ad_run_topics_copy(&c->topics, &run->topics);
    ad_store_write(run->r->store, ad_store_op_approval_insert, args, on_inserted, c);
    ad_store_status_reason_t why;
    ad_status_reason_set(&why, "approval_requested", id, "approval %s requested: %s", id,
                         req->tool_name);
    ad_run_set_status(run, NULL, AD_ROW_AGENT_STATUS_WAITING, &why, NULL, NULL);
}

/* An AD_REC_APPROVAL, Claude's can_use_tool control_request (parsed in
 * src/agent/claude.c): a new approval, or a withdrawn one cancelled. */
static bool approvals_record(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->type != AD_REC_APPROVAL) {
        return false;
    }
    if (rec->subtype == NULL) {
        return true;
    }
    if (rec->is_error) { /* withdrawn by the CLI */
        ad_run_approval_withdrawn(run, rec->subtype);
        return true;
    }
    ad_run_approval_request(run, &(ad_run_approval_req_t){.request_id = rec->subtype,
                                                          .tool_name = rec->tool_name,
                                                          .tool_use_id = rec->tool_id,
                                                          .input = rec->json,
                                                          .description = rec->text});
    return true;
}

/* A run taken up after a restart: the approvals it still waits on (stored
 * pending, with the CLI's request ids) can be answered again. */
static void approvals_attach(ad_run_t *run, ad_run_start_t *s)
{
    AD_UNUSED(s);
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
            strlen(rid) >= AD_RUN_REQUEST_ID_MAX || npending(run) == AD_RUN_APPROVALS_MAX ||
            find_request(run, rid) >= 0) {
            continue;
        }
        approval_t *slot = add_slot(run);
        snprintf(slot->id, sizeof(slot->id), "%s", id);
        snprintf(slot->request_id, sizeof(slot->request_id), "%s", rid);
        const char *tu = json_string_value(json_object_get(a, "toolUseId"));
        snprintf(slot->tool_use_id, sizeof(slot->tool_use_id), "%s", tu != NULL ? tu : "");
    }
    json_decref(rows);
}

bool ad_run_tool_denied(const ad_run_t *run, const char *tool_id)
{
    const appr_t *a = appr_peek(run);
    unsigned n = a == NULL                           ? 0
                 : a->ndenied < AD_RUN_APPROVALS_MAX ? a->ndenied
                                                     : AD_RUN_APPROVALS_MAX;
    for (unsigned i = 0; tool_id != NULL && i < n; i++) {
        if (strcmp(a->denied[i], tool_id) == 0) {
            return true;
        }
    }
    return false;
}

/* The run has ended: its pending approvals are expired. */
static void approvals_exit(ad_run_t *run, const ad_proc_exit_t *ex)
{
    AD_UNUSED(ex);
    appr_t *a = appr_peek(run);
    if (a != NULL && a->n > 0) {
        a->n = 0;
        close_approvals(run, NULL, "expired");
    }
}

int ad_runner_approval_answer(ad_runner_t *r, const char *agent_id, const char *approval_id,
                              ad_approval_decision_t d, const char *tool, json_t *input)
{
    ad_run_t *run = ad_run_find(r, agent_id);
    if (run == NULL || run->proc == NULL || !ad_proc_alive(run->proc)) {
        return AD_ENOENT;
    }
    appr_t *a = appr_peek(run);
    size_t i = 0;
    while (a != NULL && i < a->n && strcmp(a->v[i].id, approval_id) != 0) {
        i++;
    }
    if (a == NULL || i == a->n) {
        return AD_ENOENT;
    }
    int rc = approver_of(run)->answer(run, a->v[i].request_id, d, tool, input);
    if (rc != 0) {
        return rc;
    }
    if (d == AD_APPROVAL_DENY && a->v[i].tool_use_id[0] != '\0') {
        char *slot = a->denied[a->ndenied++ % AD_RUN_APPROVALS_MAX];
        memcpy(slot, a->v[i].tool_use_id, sizeof(a->denied[0]));
    }
    forget(run, i);
    if (a->n == 0) {
        ad_store_status_reason_t why;
        ad_status_reason_set(&why, "approval_answered", approval_id, "approval %s answered: %s",
                             approval_id,
                             d == AD_APPROVAL_DENY           ? "deny"
                             : d == AD_APPROVAL_ALLOW_ALWAYS ? "allow always"
                                                             : "allow");
        ad_run_set_status(run, NULL, AD_ROW_AGENT_STATUS_RUNNING, &why, NULL, NULL);
    }
    return 0;
}

ad_approval_decision_t ad_approval_decision_of(const char *s)
{
    if (s != NULL && strcmp(s, "deny") == 0) {
        return AD_APPROVAL_DENY;
    }
    if (s != NULL && strcmp(s, "allow_always") == 0) {
        return AD_APPROVAL_ALLOW_ALWAYS;
    }
    return AD_APPROVAL_ALLOW;
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

int ad_runner_approval_decide(ad_runner_t *r, const json_t *a, const char *decision)
{
    const char *status = jstr(a, "status");
    if (status == NULL || strcmp(status, "pending") != 0) {
        return AD_ESTATE;
    }
    return ad_runner_approval_answer(r, jstr(a, "agentId"), jstr(a, "id"),
                                     ad_approval_decision_of(decision), jstr(a, "toolName"),
                                     json_object_get(a, "input"));
}

json_t *ad_run_approval_args(const json_t *a, const char *decision, const char *by, int64_t now)
{
    bool deny = ad_approval_decision_of(decision) == AD_APPROVAL_DENY;
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", jstr(a, "id"), "decision", decision,
                     "status", deny ? "denied" : "allowed", "by", by, "now", (json_int_t)now);
}

static bool ad_run_approval_allowed(ad_store_t *st, const json_t *a)
{
    ad_row_agent_t agent = {0};
    const char *agent_id = jstr(a, "agentId");
    bool ok = agent_id != NULL && ad_store_agent_row(st, agent_id, &agent) == 0 &&
              ad_permissions_allow(agent.permissions, jstr(a, "toolName"));
    ad_row_agent_cleanup(&agent);
    return ok;
}

bool ad_run_approval_may(ad_store_t *st, const json_t *a, const char *decision, bool admin)
{
    if (strcmp(decision, "deny") == 0 || admin) {
        return true;
    }
    return strcmp(decision, "allow") == 0 && ad_run_approval_allowed(st, a);
}

void ad_run_approval_publish(ad_bus_t *bus, json_t *decided)
{
    json_t *ev = json_pack("{s:O}", "approval", decided);
    ad_bus_publish_to(bus, "approval_decided", ev, "agent",
                      json_string_value(json_object_get(decided, "agentId")), "run",
                      json_string_value(json_object_get(decided, "runId")), "org",
                      json_string_value(json_object_get(decided, "orgId")), NULL);
    json_decref(ev);
}

const ad_run_feature_t ad_run_feat_approvals = {
    .name = "approvals",
    .ctx_size = sizeof(appr_t),
    .attach = approvals_attach,
    .record = approvals_record,
    .exit = approvals_exit,
};
