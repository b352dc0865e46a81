/* SPDX-License-Identifier: MIT */
/*
 * Tasks (the Tasks extension, both eras): an agent started as a task is
 * its run. The task's id is the run's; its row (src/store, migration
 * 2670) binds it to the agent's organisation and, once the run's prompt
 * is done, keeps its end: completed when the run's first turn ended (or
 * the run exited 0), failed when that turn or the run failed, cancelled
 * when the run was stopped, with the agent's answer as the tool result.
 * The end is found from the store (the run, the agent's status history),
 * at each bus event of a task's agent and when the daemon starts, so a
 * task whose run ended while agentd was down ends when it is back. Status
 * changes go to the streams that follow the task: a session's GET stream
 * (notifications/tasks/status), a subscriptions/listen stream
 * (notifications/tasks) and the tasks/result calls that wait for it.
 */
#include "mcp/mcp_int.h"
#include "tables/agents.h"
#include "tables/mcptasks.h"
#include "tables/messages.h"
#include "tables/runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TASKS_PAGE 50

/* ---- a task as each era says it -------------------------------------------------------- */

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool terminal(const json_t *row)
{
    const char *st = str(row, "status");
    return st != NULL && strcmp(st, "working") != 0;
}

/* A working task's message: what its agent waits on, if anything. */
static json_t *live_message(ad_mcp_t *m, const json_t *row)
{
    ad_row_agent_t agent = {0};
    json_t *msg = NULL;
    const char *agent_id = str(row, "agentId");
    if (agent_id != NULL && ad_store_agent_row(m->store, agent_id, &agent) == 0) {
        const ad_row_status_reason_t *why = agent.status_reason;
        if (why != NULL && why->code != NULL && strcmp(why->code, "approval_requested") == 0 &&
            agent.status == AD_ROW_AGENT_STATUS_WAITING) {
            char text[600];
            snprintf(text, sizeof(text), "waiting for a decision (decide_approval %s): %s",
                     why->ref != NULL ? why->ref : "", why->text != NULL ? why->text : "");
            msg = json_string(text);
        }
    }
    ad_row_agent_cleanup(&agent);
    return msg;
}

/* The task of row: a Task (2025-11-25) or, modern, a DetailedTask. */
static json_t *task_json(ad_mcp_t *m, const json_t *row, bool modern)
{
    char created[AD_TIME_MAX], updated[AD_TIME_MAX];
    ad_time_format(json_integer_value(json_object_get(row, "createdAt")), created);
    ad_time_format(json_integer_value(json_object_get(row, "updatedAt")), updated);
    const char *status = str(row, "status");
    json_t *res = json_object_get(row, "result");
    /* the current revision: a tool error is a completed task (failed is
     * for JSON-RPC errors, which a run never is) */
    if (modern && strcmp(status, "failed") == 0) {
        status = "completed";
    }
    json_t *t =
        json_pack("{s:s, s:s, s:s, s:s, s:n, s:i}", "taskId", str(row, "taskId"), "status", status,
                  "createdAt", created, "lastUpdatedAt", updated, modern ? "ttlMs" : "ttl",
                  modern ? "pollIntervalMs" : "pollInterval", MCP_POLL_MS);
    json_t *msg =
        terminal(row) ? json_incref(json_object_get(row, "statusMessage")) : live_message(m, row);
    if (json_is_string(msg)) {
        json_object_set(t, "statusMessage", msg);
    }
    json_decref(msg);
    if (modern && strcmp(status, "completed") == 0 && json_is_object(res)) {
        json_object_set(t, "result", res);
    }
    return t;
}

/* The task of id that x's caller may see, or NULL after answering
 * "not found" (another org's task answers as a missing one). */
static json_t *visible(mcp_x_t *x, const char *id)
{
    json_t *row = NULL;
    if (id == NULL || strlen(id) >= AD_ID_MAX ||
        ad_store_mcp_task_get(x->m->store, id, &row) != 0 ||
        !ad_principal_sees(&x->who, str(row, "orgId"))) {
        json_decref(row);
        ad_mcp_x_error(x, 200, RPC_INVALID_PARAMS, NULL, "Failed to retrieve task: Task not found");
        return NULL;
    }
    return row;
}

/* ---- telling the streams ----------------------------------------------------------------- */

static void notify(ad_mcp_t *m, const char *id)
{
    json_t *row = NULL;
    if (ad_store_mcp_task_get(m->store, id, &row) != 0) {
        return;
    }
    json_t *legacy = task_json(m, row, false);
    json_t *modern = task_json(m, row, true);
    char *seen = json_dumps(legacy, JSON_COMPACT | JSON_SORT_KEYS);
    const char *before = str(m->notified, id);
    bool changed = seen != NULL && (before == NULL || strcmp(before, seen) != 0);
    if (seen != NULL && !terminal(row)) {
        json_object_set_new(m->notified, id, json_string(seen));
    } else {
        json_object_del(m->notified, id);
    }
    free(seen);
    for (mcp_stream_t *s = m->streams; s != NULL; s = s->next) {
        json_t *msg = NULL;
        if (s->kind == MCP_STREAM_GET && changed) {
            mcp_session_t *ss = NULL;
            for (ss = m->sessions; ss != NULL && ss->get != s; ss = ss->next) {
            }
            if (ss != NULL && json_object_get(ss->tasks, id) != NULL) {
                msg = json_pack("{s:s, s:s, s:O}", "jsonrpc", "2.0", "method",
                                "notifications/tasks/status", "params", legacy);
            }
        } else if (s->kind == MCP_STREAM_LISTEN && changed &&
                   json_object_get(s->task_ids, id) != NULL) {
            json_t *params = json_deep_copy(modern);
            json_object_set_new(
                params, "_meta",
                json_pack("{s:O}", "io.modelcontextprotocol/subscriptionId", s->id));
            msg = json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", "notifications/tasks",
                            "params", params);
        } else if (s->kind == MCP_STREAM_RESULT && strcmp(s->task, id) == 0 && terminal(row)) {
            json_t *res = json_deep_copy(json_object_get(row, "result"));
            if (!json_is_object(res)) {
                json_decref(res);
                res = json_object();
            }
            json_object_set_new(res, "_meta",
                                json_pack("{s:{s:s}}", MCP_RELATED_TASK, "taskId", id));
            json_t *done =
                json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", s->id, "result", res);
            ad_mcp_stream_send(s, done);
            json_decref(done);
            ad_mcp_stream_close(s);
        }
        if (msg != NULL) {
            ad_mcp_stream_send(s, msg);
            json_decref(msg);
        }
    }
    json_decref(legacy);
    json_decref(modern);
    json_decref(row);
}

/* ---- ending a task ---------------------------------------------------------------------- */

typedef struct {
    ad_mcp_t *m;
    char id[AD_ID_MAX];
    char agent[AD_ID_MAX];
    mcp_x_t *x; /* tasks/cancel: answered once it is stored */
} end_t;

/* The agent's answer in run_id: its newest assistant message there. */
static json_t *answer_of(ad_mcp_t *m, const char *agent_id, const char *run_id)
{
    json_t *page = NULL;
    json_t *found = NULL;
    if (ad_store_message_page(m->store, agent_id, 50, NULL, &page) == 0) {
        size_t i;
        json_t *msg;
        json_array_foreach(json_object_get(page, "messages"), i, msg)
        {
            const char *role = str(msg, "role"), *run = str(msg, "runId");
            if (found == NULL && role != NULL && strcmp(role, "assistant") == 0 && run != NULL &&
                strcmp(run, run_id) == 0 && str(msg, "content") != NULL) {
                found = json_incref(json_object_get(msg, "content"));
            }
        }
    }
    json_decref(page);
    return found;
}

static void end_done(int rc, json_t *result, void *ud)
{
    end_t *e = ud;
    ad_mcp_t *m = e->m;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "mcp", "task end not stored task=%s error=%s", e->id, ad_strerror(rc));
    }
    const char *held = str(m->working, e->agent);
    if (held != NULL && strcmp(held, e->id) == 0) {
        json_object_del(m->working, e->agent);
    }
    if (!m->closing) {
        notify(m, e->id);
    }
    mcp_x_t *x = e->x;
    json_decref(result);
    free(e);
    if (x != NULL) {
        json_t *row = visible(x, json_string_value(json_object_get(x->params, "taskId")));
        if (row != NULL) {
            ad_mcp_x_result(x, x->modern ? json_object() : task_json(m, row, false));
            json_decref(row);
        }
    }
    ad_mcp_unref(m);
}

/* Stores the end of task row: status, why, and the tool result. */
static void end_task(ad_mcp_t *m, const json_t *row, const char *status, const char *why,
                     mcp_x_t *x)
{
    const char *id = str(row, "taskId"), *agent = str(row, "agentId");
    json_t *text = strcmp(status, "cancelled") == 0 ? NULL : answer_of(m, agent, id);
    const char *answer = json_string_value(text);
    json_t *result = json_pack("{s:[{s:s, s:s}], s:{s:s, s:s, s:s, s:s?}, s:b}", "content", "type",
                               "text", "text", answer != NULL ? answer : why, "structuredContent",
                               "agentId", agent, "runId", id, "status", status, "answer", answer,
                               "isError", strcmp(status, "completed") != 0);
    json_decref(text);
    end_t *e = ad_xcalloc(1, sizeof(*e));
    e->m = m;
    e->x = x;
    snprintf(e->id, sizeof(e->id), "%s", id);
    snprintf(e->agent, sizeof(e->agent), "%s", agent);
    m->inflight++;
    ad_store_write(m->store, ad_store_op_mcp_task_end,
                   json_pack("{s:s, s:s, s:s, s:o, s:I}", "id", id, "status", status,
                             "statusMessage", why, "result", result, "now",
                             (json_int_t)ad_wall_ms()),
                   end_done, e);
}

/* Whether the run's first turn has ended: the first turn_ended or
 * turn_failed of its agent since the run started (into code and text). */
static bool turn_ended(ad_mcp_t *m, const char *agent, int64_t started, char *code, size_t codesz,
                       char *text, size_t textsz)
{
    json_t *hist = NULL;
    bool found = false;
    if (ad_store_status_history(m->store, agent, 200, &hist) != 0) {
        return false;
    }
    json_t *entries = json_object_get(hist, "entries");
    for (size_t i = json_array_size(entries); i-- > 0;) { /* oldest first */
        json_t *e = json_array_get(entries, i);
        const char *c = str(e, "code");
        if (!found && json_integer_value(json_object_get(e, "at")) >= started && c != NULL &&
            (strcmp(c, "turn_ended") == 0 || strcmp(c, "turn_failed") == 0)) {
            snprintf(code, codesz, "%s", c);
            snprintf(text, textsz, "%s", str(e, "text") != NULL ? str(e, "text") : c);
            found = true;
        }
    }
    json_decref(hist);
    return found;
}

/* Looks at a working task's run: ends the task when its prompt is done,
 * else tells the streams what changed. */
static void reconcile(ad_mcp_t *m, const char *id)
{
    json_t *row = NULL, *run = NULL;
    if (ad_store_mcp_task_get(m->store, id, &row) != 0 || terminal(row)) {
        json_decref(row);
        return;
    }
    int rc = ad_store_run_get(m->store, id, &run);
    const char *rs = rc == 0 ? str(run, "status") : "lost";
    int64_t started = 0;
    if (rc == 0 &&
        ad_time_parse(str(run, "startedAt") != NULL ? str(run, "startedAt") : "", &started) != 0) {
        started = json_integer_value(json_object_get(row, "createdAt")) - 60000;
    }
    char code[32], text[600];
    if (strcmp(rs, "running") != 0) {
        bool ok = strcmp(rs, "succeeded") == 0, stopped = strcmp(rs, "stopped") == 0;
        snprintf(text, sizeof(text), "the run %s", rs);
        end_task(m, row, ok ? "completed" : stopped ? "cancelled" : "failed", text, NULL);
    } else if (turn_ended(m, str(row, "agentId"), started - 1, code, sizeof(code), text,
                          sizeof(text))) {
        end_task(m, row, strcmp(code, "turn_ended") == 0 ? "completed" : "failed", text, NULL);
    } else {
        notify(m, id);
    }
    json_decref(run);
    json_decref(row);
}

/* ---- following the bus -------------------------------------------------------------------- */

static int deliver(void *ud, const ad_bus_event_t *ev)
{
    ad_mcp_t *m = ud;
    const char *type = ad_bus_event_type(ev);
    if (strcmp(type, "agent_status") != 0 && strcmp(type, "run_ended") != 0 &&
        strncmp(type, "approval_", 9) != 0) {
        return 0;
    }
    if (ad_bus_event_remote(ev)) {
        return 0; /* another plane's agent: that plane ends its task */
    }
    size_t len;
    const char *text = ad_bus_event_payload_text(ev, &len);
    json_t *p = json_loadb(text, len, 0, NULL);
    const char *agent = str(p, "agentId");
    if (agent == NULL) {
        agent = str(json_object_get(p, "run"), "agentId");
    }
    if (agent == NULL) {
        agent = str(json_object_get(p, "approval"), "agentId");
    }
    const char *id = agent != NULL ? str(m->working, agent) : NULL;
    if (id != NULL) {
        char copy[AD_ID_MAX];
        snprintf(copy, sizeof(copy), "%s", id);
        reconcile(m, copy);
    }
    json_decref(p);
    return 0;
}

static void overflow(void *ud, uint64_t last_seq)
{
    AD_UNUSED(ud);
    AD_UNUSED(last_seq);
}

static const ad_bus_sub_ops_t ops = {.deliver = deliver, .overflow = overflow};

void ad_mcp_tasks_start(ad_mcp_t *m)
{
    m->sub = ad_bus_sub_new(m->bus, &ops, m, 0);
    static const char *const topics[] = {"agent:*"};
    ad_bus_subscribe(m->sub, topics, 1, false, 0);
    json_t *rows = NULL;
    if (ad_store_mcp_task_list(m->store, "", NULL, "working", 1000, &rows) != 0) {
        return;
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_object_set_new(m->working, str(row, "agentId"), json_string(str(row, "taskId")));
    }
    json_array_foreach(rows, i, row)
    {
        reconcile(m, str(row, "taskId")); /* what ended while agentd was down */
    }
    json_decref(rows);
}

void ad_mcp_tasks_stop(ad_mcp_t *m)
{
    ad_bus_sub_free(m->sub);
    m->sub = NULL;
}

/* ---- making a task ------------------------------------------------------------------------ */

typedef struct {
    mcp_x_t *x;
    char id[AD_ID_MAX];
    char agent[AD_ID_MAX];
} made_t;

static void watch(mcp_x_t *x, const char *id)
{
    mcp_session_t *s =
        x->session[0] != '\0' ? ad_mcp_session_find(x->m, x->session, &x->cred) : NULL;
    if (s != NULL && json_object_size(s->tasks) < MCP_SESSION_TASKS_MAX) {
        json_object_set_new(s->tasks, id, json_true());
    }
}

static void created(int rc, json_t *result, void *ud)
{
    made_t *c = ud;
    mcp_x_t *x = c->x;
    ad_mcp_t *m = x->m;
    json_decref(result);
    json_t *row = NULL;
    if (rc != 0 || ad_store_mcp_task_get(m->store, c->id, &row) != 0) {
        ad_mcp_x_result(x, ad_mcp_tool_result(
                               json_pack("{s:{s:s, s:s}}", "error", "code", "INTERNAL", "message",
                                         "the agent started, but its task was not stored"),
                               true));
        free(c);
        return;
    }
    json_object_set_new(m->working, c->agent, json_string(c->id));
    watch(x, c->id);
    json_t *t = task_json(m, row, x->modern);
    json_object_del(t, "result");
    json_t *out;
    if (x->modern) {
        out = t;
        json_object_set_new(out, "resultType", json_string("task"));
    } else {
        out = json_pack("{s:o, s:{s:s}}", "task", t, "_meta",
                        "io.modelcontextprotocol/model-immediate-response",
                        "The agent is working on it: its task ends with the agent's answer.");
    }
    ad_mcp_x_result(x, out);
    json_decref(row);
    reconcile(m, c->id); /* a prompt done before the row was there */
    free(c);
}

void ad_mcp_task_create(mcp_x_t *x, json_t *agent)
{
    const char *run = str(agent, "runId"), *id = str(agent, "id"), *org = str(agent, "orgId");
    if (run == NULL || id == NULL) {
        ad_mcp_x_result(x,
                        ad_mcp_tool_result(json_pack("{s:{s:s, s:s}}", "error", "code", "INTERNAL",
                                                     "message", "the start did not name its run"),
                                           true));
        return;
    }
    made_t *c = ad_xcalloc(1, sizeof(*c));
    c->x = x;
    snprintf(c->id, sizeof(c->id), "%s", run);
    snprintf(c->agent, sizeof(c->agent), "%s", id);
    ad_store_write(x->m->store, ad_store_op_mcp_task_insert,
                   json_pack("{s:s, s:s, s:s, s:I}", "id", run, "orgId",
                             org != NULL ? org : AD_ORG_DEFAULT, "agentId", id, "now",
                             (json_int_t)ad_wall_ms()),
                   created, c);
}

/* ---- the methods ---------------------------------------------------------------------------- */

static void cancel_stopped(mcp_x_t *x, int status, json_t *body, void *ud)
{
    json_t *row = ud;
    json_decref(body);
    if (status == 403 || status == 401) {
        json_decref(row);
        ad_mcp_x_error(x, 200, RPC_INVALID_PARAMS, NULL,
                       "Cannot cancel task: this token's scope (%s) cannot stop agents (write)",
                       ad_scope_name(x->who.scope));
        return;
    }
    /* stopped, or not running any more: the task is cancelled either way */
    end_task(x->m, row, "cancelled", "cancelled by the client", x);
    json_decref(row);
}

static void cancel(mcp_x_t *x, json_t *row)
{
    if (terminal(row)) {
        if (x->modern) {
            ad_mcp_x_result(x, json_object()); /* cooperative: it already ended */
        } else {
            ad_mcp_x_error(x, 200, RPC_INVALID_PARAMS, NULL,
                           "Cannot cancel task: already in terminal status '%s'",
                           str(row, "status"));
        }
        json_decref(row);
        return;
    }
    char enc[200], path[300];
    ad_url_encode(str(row, "agentId"), enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/agents/%s/stop", enc);
    ad_mcp_rest(x, "POST", path, json_object(), cancel_stopped, row);
}

static void list(mcp_x_t *x)
{
    const char *cursor = str(x->params, "cursor");
    if (cursor != NULL) {
        json_t *row = visible(x, cursor);
        if (row == NULL) {
            return;
        }
        json_decref(row);
    }
    json_t *rows = NULL;
    if (ad_store_mcp_task_list(x->m->store, ad_principal_filter(&x->who), cursor, NULL, TASKS_PAGE,
                               &rows) != 0) {
        ad_mcp_x_error(x, 200, RPC_INTERNAL, NULL, "the tasks cannot be read");
        return;
    }
    json_t *tasks = json_array();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_array_append_new(tasks, task_json(x->m, row, false));
    }
    json_t *out = json_pack("{s:o}", "tasks", tasks);
    if (json_array_size(rows) == TASKS_PAGE) {
        json_object_set_new(out, "nextCursor",
                            json_string(str(json_array_get(rows, TASKS_PAGE - 1), "taskId")));
    }
    json_decref(rows);
    ad_mcp_x_result(x, out);
}

void ad_mcp_tasks_call(mcp_x_t *x)
{
    const char *m = x->method;
    if (x->modern && !ad_mcp_x_tasks_ok(x)) {
        ad_mcp_x_error(
            x, 400, MCP_MISSING_CAPABILITY,
            json_pack("{s:{s:{s:{}}}}", "requiredCapabilities", "extensions", MCP_TASKS_EXT),
            "Missing required client capability");
        return;
    }
    if (strcmp(m, "tasks/list") == 0 && !x->modern) {
        list(x);
        return;
    }
    bool known = strcmp(m, "tasks/get") == 0 || strcmp(m, "tasks/cancel") == 0 ||
                 (strcmp(m, "tasks/result") == 0 && !x->modern) ||
                 (strcmp(m, "tasks/update") == 0 && x->modern);
    if (!known) {
        ad_mcp_x_error(x, x->modern ? 404 : 200, RPC_NOT_FOUND, NULL, "Method not found: %s", m);
        return;
    }
    const char *id = str(x->params, "taskId");
    json_t *row = visible(x, id);
    if (row == NULL) {
        return;
    }
    watch(x, id);
    if (strcmp(m, "tasks/get") == 0) {
        ad_mcp_x_result(x, task_json(x->m, row, x->modern));
        json_decref(row);
    } else if (strcmp(m, "tasks/update") == 0) {
        json_decref(row);
        ad_mcp_x_result(x, json_object()); /* agentd's tasks ask nothing of the client */
    } else if (strcmp(m, "tasks/cancel") == 0) {
        cancel(x, row);
    } else if (terminal(row)) {
        json_t *res = json_deep_copy(json_object_get(row, "result"));
        if (!json_is_object(res)) {
            json_decref(res);
            res = json_object();
        }
        json_object_set_new(res, "_meta", json_pack("{s:{s:s}}", MCP_RELATED_TASK, "taskId", id));
        json_decref(row);
        ad_mcp_x_result(x, res);
    } else {
        char copy[AD_ID_MAX];
        snprintf(copy, sizeof(copy), "%s", id);
        json_decref(row);
        mcp_stream_t *s = ad_mcp_stream_open(x, MCP_STREAM_RESULT); /* waits for the end */
        if (s != NULL) {
            snprintf(s->task, sizeof(s->task), "%s", copy);
        }
    }
}

void ad_mcp_listen(mcp_x_t *x)
{
    json_t *want = json_object_get(x->params, "notifications");
    json_t *ids = json_object_get(want, "taskIds");
    if (ids != NULL && !ad_mcp_x_tasks_ok(x)) {
        ad_mcp_x_error(
            x, 400, MCP_MISSING_CAPABILITY,
            json_pack("{s:{s:{s:{}}}}", "requiredCapabilities", "extensions", MCP_TASKS_EXT),
            "Missing required client capability");
        return;
    }
    json_t *agreed = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        json_t *row = NULL;
        const char *id = json_string_value(v);
        if (id != NULL && json_object_size(agreed) < MCP_SESSION_TASKS_MAX &&
            ad_store_mcp_task_get(x->m->store, id, &row) == 0 &&
            ad_principal_sees(&x->who, str(row, "orgId"))) {
            json_object_set_new(agreed, id, json_true());
        }
        json_decref(row);
    }
    json_t *id = json_incref(x->id);
    ad_mcp_t *m = x->m;
    mcp_stream_t *s = ad_mcp_stream_open(x, MCP_STREAM_LISTEN);
    if (s == NULL) {
        json_decref(agreed);
        json_decref(id);
        return;
    }
    s->task_ids = agreed;
    json_t *list = json_array();
    const char *key;
    json_object_foreach(agreed, key, v)
    {
        json_array_append_new(list, json_string(key));
    }
    json_t *ack =
        json_pack("{s:s, s:s, s:{s:{s:O}, s:{s:o}}}", "jsonrpc", "2.0", "method",
                  "notifications/subscriptions/acknowledged", "params", "_meta",
                  "io.modelcontextprotocol/subscriptionId", id, "notifications", "taskIds", list);
    ad_mcp_stream_send(s, ack);
    json_decref(ack);
    json_decref(id);
    json_object_foreach(agreed, key, v)
    {
        json_object_del(m->notified, key); /* the listener is told where each task is now */
        notify(m, key);
    }
}
