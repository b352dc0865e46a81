/* SPDX-License-Identifier: MIT */
/*
 * Bus events to OTLP spans (JSON, as OTLP/HTTP's JSON encoding has them:
 * hex ids, times in Unix nanoseconds as strings, typed attribute values).
 * run_ended makes the run's `invoke_agent` span from the stored run (its
 * start, end, status, tokens and cost; the end stretched over its tool
 * calls'), so a run that started before a
 * restart still gets its span; tool_start is remembered (name, time) until
 * its tool_end; approval_decided makes the wait from the approval's own
 * times; a turn runs from the run's start or a message to the turn's end
 * (agent_status with turn_ended or turn_failed, or the run's end);
 * git_operation is a git call agentd made, a trace of its own.
 */
#include "otel/otel.h"

#include <stdio.h>
#include <string.h>

#define OTEL_OPEN_TOOLS_MAX 4096
#define STATUS_ERROR 2
#define KIND_INTERNAL 1

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A time field (ms as an integer, or RFC 3339), or dflt. */
static int64_t time_of(const json_t *o, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(o, key);
    int64_t ms = 0;
    if (json_is_integer(v)) {
        return json_integer_value(v);
    }
    return json_is_string(v) && ad_time_parse(json_string_value(v), &ms) == 0 ? ms : dflt;
}

static json_t *nanos(int64_t ms)
{
    char b[32];
    snprintf(b, sizeof(b), "%lld000000", (long long)(ms > 0 ? ms : 0));
    return json_string(b);
}

static void attr_str(json_t *attrs, const char *key, const char *v)
{
    if (v != NULL) {
        json_array_append_new(attrs,
                              json_pack("{s:s, s:{s:s}}", "key", key, "value", "stringValue", v));
    }
}

static void attr_int(json_t *attrs, const char *key, const json_t *v)
{
    if (json_is_integer(v)) {
        char b[32];
        snprintf(b, sizeof(b), "%lld", (long long)json_integer_value(v));
        json_array_append_new(attrs,
                              json_pack("{s:s, s:{s:s}}", "key", key, "value", "intValue", b));
    }
}

static void attr_double(json_t *attrs, const char *key, const json_t *v)
{
    if (json_is_number(v)) {
        json_array_append_new(attrs, json_pack("{s:s, s:{s:f}}", "key", key, "value", "doubleValue",
                                               json_number_value(v)));
    }
}

/* A span of run run_id: its own (child NULL) or one below it. */
static json_t *span(const char *run_id, const char *child, const char *name, int64_t start,
                    int64_t end, json_t *attrs)
{
    if (child != NULL) {
        attr_str(attrs, "agentd.run.id", run_id);
    }
    char trace[33], id[17], parent[17];
    ad_trace_ids(run_id, child, trace, id);
    json_t *s = json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:o}", "traceId", trace, "spanId", id,
                          "name", name, "kind", KIND_INTERNAL, "startTimeUnixNano", nanos(start),
                          "endTimeUnixNano", nanos(end > start ? end : start), "attributes", attrs);
    if (child != NULL) {
        ad_trace_ids(run_id, NULL, trace, parent);
        json_object_set_new(s, "parentSpanId", json_string(parent));
    }
    return s;
}

static void set_error(json_t *s, const char *message)
{
    json_object_set_new(s, "status",
                        json_pack("{s:i, s:s}", "code", STATUS_ERROR, "message",
                                  message != NULL ? message : "error"));
}

/* open["end/<runId>"] = the latest end of the run's tool spans. A line read
 * after the run's exit was seen (its time is when agentd read it) ends
 * after the run's endedAt; the run's span stretches to cover it. */
static void child_ended(json_t *open, const char *run_id, int64_t end)
{
    char key[300];
    snprintf(key, sizeof(key), "end/%s", run_id);
    json_t *was = json_object_get(open, key);
    if (was == NULL && json_object_size(open) >= OTEL_OPEN_TOOLS_MAX) {
        return; /* the run's span keeps its own end */
    }
    if (was == NULL || json_integer_value(was) < end) {
        json_object_set_new(open, key, json_integer((json_int_t)end));
    }
}

static int64_t children_end(json_t *open, const char *run_id)
{
    char key[300];
    snprintf(key, sizeof(key), "end/%s", run_id);
    int64_t end = json_integer_value(json_object_get(open, key));
    json_object_del(open, key);
    return end;
}

static json_t *run_span(json_t *p, int64_t ts, json_t *open)
{
    json_t *run = json_object_get(p, "run");
    const char *id = str(run, "id");
    if (id == NULL) {
        return NULL;
    }
    json_t *attrs = json_array();
    attr_str(attrs, "gen_ai.operation.name", "invoke_agent");
    attr_str(attrs, "gen_ai.agent.id", str(run, "agentId"));
    attr_str(attrs, "gen_ai.agent.name", str(run, "name"));
    attr_str(attrs, "agentd.run.id", id);
    attr_str(attrs, "agentd.run.status", str(run, "status"));
    attr_int(attrs, "gen_ai.usage.input_tokens", json_object_get(run, "inputTokens"));
    attr_int(attrs, "gen_ai.usage.output_tokens", json_object_get(run, "outputTokens"));
    attr_int(attrs, "agentd.run.turns", json_object_get(run, "numTurns"));
    attr_double(attrs, "agentd.cost_usd", json_object_get(run, "costUsd"));
    int64_t end = time_of(run, "endedAt", ts), kids = children_end(open, id);
    end = kids > end ? kids : end;
    json_t *s = span(id, NULL, "invoke_agent", time_of(run, "startedAt", end), end, attrs);
    const char *st = str(run, "status");
    if (st != NULL && (strcmp(st, "failed") == 0 || strcmp(st, "lost") == 0)) {
        set_error(s, st);
    }
    return s;
}

static json_t *tool_span(json_t *p, int64_t ts, json_t *tools)
{
    const char *run_id = str(p, "runId"), *tool = str(p, "toolId");
    char key[600], child[300];
    if (run_id == NULL || tool == NULL) {
        return NULL;
    }
    snprintf(key, sizeof(key), "%s/%s", run_id, tool);
    snprintf(child, sizeof(child), "tool/%s", tool);
    json_t *open = json_object_get(tools, key);
    const char *name = json_string_value(json_array_get(open, 0));
    json_t *dur = json_object_get(p, "durationMs");
    int64_t start = json_is_number(dur) ? ts - (int64_t)json_number_value(dur)
                    : open != NULL      ? json_integer_value(json_array_get(open, 1))
                                        : ts;
    char title[300];
    snprintf(title, sizeof(title), "execute_tool %s", name != NULL ? name : "");
    json_t *attrs = json_array();
    attr_str(attrs, "gen_ai.operation.name", "execute_tool");
    attr_str(attrs, "gen_ai.tool.name", name);
    attr_str(attrs, "gen_ai.tool.call.id", tool);
    attr_str(attrs, "gen_ai.agent.id", str(p, "agentId"));
    attr_int(attrs, "agentd.tool.exit_code", json_object_get(p, "exitCode"));
    json_t *s = span(run_id, child, name != NULL ? title : "execute_tool", start, ts, attrs);
    if (strcmp(str(p, "status") != NULL ? str(p, "status") : "", "error") == 0) {
        set_error(s, "the tool failed");
    }
    json_object_del(tools, key);
    child_ended(tools, run_id, ts);
    return s;
}

static void tool_open(json_t *p, int64_t ts, json_t *tools)
{
    const char *run_id = str(p, "runId"), *tool = str(p, "toolId");
    if (run_id == NULL || tool == NULL) {
        return;
    }
    if (json_object_size(tools) >= OTEL_OPEN_TOOLS_MAX) {
        json_object_clear(tools); /* calls that never ended: their spans are lost, not the daemon */
    }
    char key[600];
    snprintf(key, sizeof(key), "%s/%s", run_id, tool);
    const char *name = str(p, "name");
    json_object_set_new(tools, key, json_pack("[s, I]", name != NULL ? name : "", (json_int_t)ts));
}

static json_t *approval_span(json_t *p, int64_t ts)
{
    json_t *a = json_object_get(p, "approval");
    const char *run_id = str(a, "runId"), *id = str(a, "id");
    if (run_id == NULL || id == NULL) {
        return NULL;
    }
    char child[300];
    snprintf(child, sizeof(child), "approval/%s", id);
    json_t *attrs = json_array();
    attr_str(attrs, "agentd.approval.id", id);
    attr_str(attrs, "agentd.approval.decision", str(a, "decision"));
    attr_str(attrs, "gen_ai.tool.name", str(a, "toolName"));
    attr_str(attrs, "gen_ai.agent.id", str(a, "agentId"));
    return span(run_id, child, "agentd.approval", time_of(a, "createdAt", ts),
                time_of(a, "decidedAt", ts), attrs);
}

/* ---- turns ------------------------------------------------------------------------ */

/* open["agent/<id>"] = [runId, turn number, turn start ms or 0]. */
static json_t *agent_state(json_t *open, const char *agent)
{
    char key[300];
    snprintf(key, sizeof(key), "agent/%s", agent != NULL ? agent : "");
    return json_object_get(open, key);
}

static void turn_begin(json_t *open, const char *agent, const char *run, int64_t ts)
{
    if (agent == NULL) {
        return;
    }
    json_t *st = agent_state(open, agent);
    if (run == NULL && st == NULL) {
        return; /* a run that began before this daemon did: its turns are not known */
    }
    if (st != NULL && json_integer_value(json_array_get(st, 2)) != 0 && run == NULL) {
        return; /* a message mid-turn steers it */
    }
    if (json_object_size(open) >= OTEL_OPEN_TOOLS_MAX) {
        json_object_clear(open);
    }
    char key[300];
    snprintf(key, sizeof(key), "agent/%s", agent);
    json_int_t n = run != NULL ? 1 : json_integer_value(json_array_get(st, 1)) + 1;
    const char *r = run != NULL ? run : json_string_value(json_array_get(st, 0));
    json_object_set_new(open, key, json_pack("[s, I, I]", r, n, (json_int_t)ts));
}

static json_t *turn_end(json_t *open, const char *agent, int64_t ts, const char *code,
                        const char *text)
{
    json_t *st = agent_state(open, agent);
    int64_t start = json_integer_value(json_array_get(st, 2));
    if (st == NULL || start == 0) {
        return NULL;
    }
    const char *run = json_string_value(json_array_get(st, 0));
    json_int_t n = json_integer_value(json_array_get(st, 1));
    char child[64];
    snprintf(child, sizeof(child), "turn/%lld", (long long)n);
    json_t *attrs = json_array();
    attr_str(attrs, "gen_ai.agent.id", agent);
    json_t *num = json_integer(n);
    attr_int(attrs, "agentd.turn.number", num);
    json_decref(num);
    attr_str(attrs, "agentd.turn.end", code);
    json_t *s = span(run, child, "agentd.turn", start, ts, attrs);
    if (strcmp(code, "turn_failed") == 0 || strcmp(code, "failed") == 0 ||
        strcmp(code, "lost") == 0) {
        set_error(s, text);
    }
    json_array_set_new(st, 2, json_integer(0));
    return s;
}

/* agent_status: a message or the run's start begins a turn, its end ends it. */
static json_t *status_span(json_t *p, int64_t ts, json_t *open)
{
    const char *agent = str(p, "agentId");
    json_t *why = json_object_get(p, "statusReason");
    const char *code = str(why, "code");
    if (agent == NULL || code == NULL) {
        return NULL;
    }
    if (strcmp(code, "message_sent") == 0) {
        turn_begin(open, agent, NULL, time_of(why, "at", ts));
        return NULL;
    }
    if (strcmp(code, "turn_ended") == 0 || strcmp(code, "turn_failed") == 0) {
        return turn_end(open, agent, time_of(why, "at", ts), code, str(why, "text"));
    }
    return NULL;
}

/* ---- git ---------------------------------------------------------------------------- */

static json_t *git_span(json_t *p, int64_t ts)
{
    const char *op = str(p, "op"), *id = str(p, "id");
    if (op == NULL || id == NULL) {
        return NULL;
    }
    char trace[33], sid[17], name[96];
    ad_trace_ids(id, NULL, trace, sid); /* its own trace: no run asked for it */
    snprintf(name, sizeof(name), "agentd.git %s", op);
    json_t *attrs = json_array();
    attr_str(attrs, "agentd.git.operation", op);
    attr_str(attrs, "agentd.worktree.id", str(p, "worktreeId"));
    attr_str(attrs, "agentd.workspace.id", str(p, "workspaceId"));
    attr_str(attrs, "agentd.git.error", str(p, "error"));
    int64_t dur = json_integer_value(json_object_get(p, "durationMs"));
    json_t *s = json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:o}", "traceId", trace, "spanId", sid,
                          "name", name, "kind", KIND_INTERNAL, "startTimeUnixNano", nanos(ts - dur),
                          "endTimeUnixNano", nanos(ts), "attributes", attrs);
    if (str(p, "error") != NULL) {
        set_error(s, str(p, "error"));
    }
    return s;
}

const char *ad_otel_span_run(const json_t *s)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(s, "attributes"), i, a)
    {
        if (strcmp(str(a, "key") != NULL ? str(a, "key") : "", "agentd.run.id") == 0) {
            return str(json_object_get(a, "value"), "stringValue");
        }
    }
    return NULL;
}

static void add(json_t *out, json_t *s)
{
    if (s != NULL) {
        json_array_append_new(out, s);
    }
}

void ad_otel_spans_of(const char *type, json_t *payload, int64_t ts_ms, json_t *open, json_t *out)
{
    if (strcmp(type, "run_started") == 0) {
        json_t *run = json_object_get(payload, "run");
        turn_begin(open, str(run, "agentId"), str(run, "id"), time_of(run, "startedAt", ts_ms));
    } else if (strcmp(type, "agent_status") == 0) {
        add(out, status_span(payload, ts_ms, open));
    } else if (strcmp(type, "git_operation") == 0) {
        add(out, git_span(payload, ts_ms));
    } else if (strcmp(type, "run_ended") == 0) {
        json_t *run = json_object_get(payload, "run");
        const char *agent = str(run, "agentId");
        const char *st = str(run, "status");
        if (json_integer_value(json_array_get(agent_state(open, agent), 1)) > 1) {
            /* the last turn of a run that had turns (one that never ended a
             * turn, a one-shot CLI or a command, is its run span alone) */
            add(out, turn_end(open, agent, time_of(run, "endedAt", ts_ms),
                              st != NULL ? st : "ended", st));
        }
        char key[300];
        snprintf(key, sizeof(key), "agent/%s", agent != NULL ? agent : "");
        json_object_del(open, key);
        add(out, run_span(payload, ts_ms, open));
    } else if (strcmp(type, "tool_start") == 0) {
        tool_open(payload, ts_ms, open);
    } else if (strcmp(type, "tool_end") == 0) {
        add(out, tool_span(payload, ts_ms, open));
    } else if (strcmp(type, "approval_decided") == 0) {
        add(out, approval_span(payload, ts_ms));
    }
}
