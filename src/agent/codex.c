/* SPDX-License-Identifier: MIT */
/*
 * Codex `exec --json` output (reference agent-protocols.md B): thread.started
 * (the session to resume), items (agent messages, commands, file changes,
 * MCP tool calls, web searches) and turn.completed/turn.failed. Items that
 * are tools become tool_start/tool_end pairs keyed by the item id.
 */
#include "agent/agent_int.h"

#include <stdlib.h>
#include <string.h>

/* The tool name shown for a tool-like item type, or NULL if not a tool. */
static const char *tool_name_of(const char *itype)
{
    static const struct {
        const char *type;
        const char *name;
    } map[] = {{"command_execution", "Bash"},
               {"file_change", "Edit"},
               {"mcp_tool_call", "mcp"},
               {"web_search", "WebSearch"}};
    for (size_t i = 0; i < AD_ARRAY_LEN(map); i++) {
        if (strcmp(itype, map[i].type) == 0) {
            return map[i].name;
        }
    }
    return NULL;
}

/* Params of a tool item: the item without its bookkeeping fields. */
static json_t *tool_params(json_t *item, const char *itype)
{
    json_t *params = json_object();
    if (strcmp(itype, "command_execution") == 0) {
        json_object_set(params, "command", json_object_get(item, "command"));
    } else if (strcmp(itype, "file_change") == 0) {
        json_object_set(params, "changes", json_object_get(item, "changes"));
    } else if (strcmp(itype, "mcp_tool_call") == 0) {
        json_object_set(params, "server", json_object_get(item, "server"));
        json_object_set(params, "tool", json_object_get(item, "tool"));
        json_object_set(params, "arguments", json_object_get(item, "arguments"));
    } else {
        json_object_set(params, "query", json_object_get(item, "query"));
    }
    /* json_object_set with a NULL value fails and leaves nothing: fine. */
    return params;
}

static char *tool_output(json_t *item, const char *itype)
{
    if (strcmp(itype, "command_execution") == 0) {
        return ad_json_strdup(item, "aggregated_output");
    }
    json_t *err = json_object_get(item, "error");
    if (ad_json_str(err, "message") != NULL) {
        return ad_json_strdup(err, "message");
    }
    json_t *res = json_object_get(item, "result");
    if (res != NULL) {
        return json_dumps(res, JSON_COMPACT);
    }
    return NULL;
}

/* A tool item starts: tool_start and its message (not complete yet). */
static void tool_started(ad_parser_t *p, json_t *item, const char *itype, const char *id,
                         const char *name, uint64_t now, ad_recs_t *out)
{
    json_t *params = tool_params(item, itype);
    ad_tool_open(p, id, name, params, now);
    ad_rec_t *r = ad_rec_push(out, AD_REC_TOOL_START);
    r->tool_id = ad_xstrdup(id);
    r->tool_name = ad_xstrdup(name);
    r->json = json_incref(params);
    r = ad_rec_push(out, AD_REC_MESSAGE);
    r->role = AD_ROLE_TOOL;
    r->tool_id = ad_xstrdup(id);
    r->tool_name = ad_xstrdup(name);
    r->json = params;
    r->is_complete = false;
}

/* A tool item completes: tool_end and the completed message. */
static void tool_completed(ad_parser_t *p, json_t *item, const char *itype, const char *id,
                           const char *name, uint64_t now, ad_recs_t *out)
{
    const char *status = ad_json_str(item, "status");
    bool failed = status != NULL && strcmp(status, "completed") != 0;
    int code = (int)ad_json_int(item, "exit_code", -1);
    if (code > 0) {
        failed = true;
    }
    open_tool_t t;
    ad_tool_end(p, id, failed, code, now, out, &t);
    ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
    r->role = AD_ROLE_TOOL;
    r->tool_id = ad_xstrdup(id);
    r->tool_name = t.name != NULL ? t.name : ad_xstrdup(name);
    r->json = t.input;
    t.name = NULL;
    t.input = NULL;
    ad_open_tool_free(&t);
    r->tool_output = tool_output(item, itype);
    r->exit_code = code;
    r->is_error = failed;
    r->is_complete = true;
}

static void on_tool_item(ad_parser_t *p, bool started, bool completed, json_t *item,
                         const char *itype, const char *tname, uint64_t now, ad_recs_t *out)
{
    const char *id = ad_json_str(item, "id");
    char name[160];
    if (strcmp(itype, "mcp_tool_call") == 0) {
        snprintf(name, sizeof(name), "%s.%s",
                 ad_json_str(item, "server") ? ad_json_str(item, "server") : "mcp",
                 ad_json_str(item, "tool") ? ad_json_str(item, "tool") : "tool");
    } else {
        snprintf(name, sizeof(name), "%s", tname);
    }
    bool was_open = false;
    /* Some items (file_change) arrive only as completed: open them now so
     * every tool_end has its tool_start. */
    if (completed && id != NULL) {
        open_tool_t probe;
        was_open = ad_tool_close(p, id, &probe);
        if (was_open) {
            ad_tool_open(p, probe.id, probe.name, probe.input, probe.start_ms);
            ad_open_tool_free(&probe);
        }
    }
    if (started || (completed && !was_open)) {
        tool_started(p, item, itype, id != NULL ? id : "", name, now, out);
    }
    if (completed) {
        tool_completed(p, item, itype, id != NULL ? id : "", name, now, out);
    }
}

static void on_item(ad_parser_t *p, const char *etype, json_t *item, uint64_t now, ad_recs_t *out)
{
    const char *itype = ad_json_str(item, "type");
    if (itype == NULL) {
        return;
    }
    bool started = strcmp(etype, "item.started") == 0;
    bool completed = strcmp(etype, "item.completed") == 0;
    const char *tname = tool_name_of(itype);
    if (tname != NULL) {
        on_tool_item(p, started, completed, item, itype, tname, now, out);
        return;
    }
    if (!completed) {
        return;
    }
    if (strcmp(itype, "agent_message") == 0) {
        ad_rec_t *r = ad_rec_push(out, AD_REC_MESSAGE);
        r->role = AD_ROLE_ASSISTANT;
        r->text = ad_json_strdup(item, "text");
        r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
        r->is_complete = true;
    } else if (strcmp(itype, "reasoning") == 0) {
        const char *t = ad_json_str(item, "text");
        if (t != NULL) {
            ad_rec_notice(out, "reasoning", t, item);
        }
    } else if (strcmp(itype, "error") == 0) {
        const char *m = ad_json_str(item, "message");
        ad_rec_notice(out, "error", m != NULL ? m : "error", item);
    }
    /* todo_list, plan, unknown items: nothing to show. */
}

bool ad_codex_parse(ad_parser_t *p, json_t *obj, uint64_t now, ad_recs_t *out)
{
    const char *type = ad_json_str(obj, "type");
    if (type == NULL) {
        return false;
    }
    if (strcmp(type, "thread.started") == 0) {
        ad_parser_set_session(p, ad_json_str(obj, "thread_id"), NULL);
        ad_rec_t *r = ad_rec_push(out, AD_REC_SESSION);
        r->session_id = ad_json_strdup(obj, "thread_id");
        r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
    } else if (strcmp(type, "turn.started") == 0) {
        /* nothing */
    } else if (strncmp(type, "item.", 5) == 0) {
        json_t *item = json_object_get(obj, "item");
        if (!json_is_object(item)) {
            return false;
        }
        on_item(p, type, item, now, out);
    } else if (strcmp(type, "turn.completed") == 0) {
        json_t *u = json_object_get(obj, "usage");
        ad_rec_t *r = ad_rec_push(out, AD_REC_RESULT);
        r->subtype = ad_xstrdup("success");
        r->session_id = p->session_id != NULL ? ad_xstrdup(p->session_id) : NULL;
        r->model = p->model != NULL ? ad_xstrdup(p->model) : NULL;
        /* cached_input_tokens is a subset of input_tokens (reference B). */
        int64_t input = ad_json_int(u, "input_tokens", 0);
        int64_t cached = ad_json_int(u, "cached_input_tokens", 0);
        r->usage.cache_read_tokens = cached;
        r->usage.input_tokens = input >= cached ? input - cached : input;
        r->usage.output_tokens = ad_json_int(u, "output_tokens", 0);
        r->usage.cache_creation_tokens = ad_json_int(u, "cache_write_input_tokens", 0);
        r->num_turns = 1;
    } else if (strcmp(type, "turn.failed") == 0) {
        json_t *e = json_object_get(obj, "error");
        ad_rec_t *r = ad_rec_push(out, AD_REC_RESULT);
        r->subtype = ad_xstrdup("error");
        r->is_error = true;
        r->text = ad_json_strdup(e, "message");
        if (r->text == NULL) {
            r->text = ad_xstrdup("turn failed");
        }
        r->session_id = p->session_id != NULL ? ad_xstrdup(p->session_id) : NULL;
        r->num_turns = 1;
    } else if (strcmp(type, "error") == 0) {
        const char *m = ad_json_str(obj, "message");
        ad_rec_notice(out, "error", m != NULL ? m : "error", obj);
    } else {
        return false;
    }
    return true;
}
