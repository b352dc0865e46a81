/* SPDX-License-Identifier: MIT */
/*
 * From parser records to the JSON the rest of agentd speaks: the payloads of
 * agent_output, tool_start, tool_end and agent_context events (docs/events.md)
 * and the wire fields of a stored message. Publishing and storing are the
 * runner's job.
 */
#include "agent/agent.h"

#include <string.h>

/* json_string() that never fails on our own (already valid UTF-8) text. */
static json_t *str_or_null(const char *s)
{
    json_t *v = s != NULL ? json_string(s) : NULL;
    return v != NULL ? v : json_null();
}

static void set_ids(json_t *o, const ad_rec_ids_t *ids, bool crew)
{
    json_object_set_new(o, "agentId", str_or_null(ids->agent_id));
    json_object_set_new(o, "runId", str_or_null(ids->run_id));
    if (crew) {
        json_object_set_new(o, "crewId", str_or_null(ids->crew_id));
    }
}

json_t *ad_rec_event(const ad_rec_t *r, const ad_rec_ids_t *ids, const char **type)
{
    json_t *o = NULL;
    *type = NULL;
    switch (r->type) {
    case AD_REC_OUTPUT:
    case AD_REC_DELTA:
    case AD_REC_NOTICE:
        o = json_object();
        set_ids(o, ids, false);
        json_object_set_new(o, "stream",
                            json_string(r->type == AD_REC_NOTICE ? "system" : "stdout"));
        json_object_set_new(o, "content", str_or_null(r->text != NULL ? r->text : ""));
        json_object_set_new(o, "isComplete", json_boolean(r->type != AD_REC_DELTA));
        *type = "agent_output";
        break;
    case AD_REC_TOOL_START:
        o = json_object();
        json_object_set_new(o, "toolId", str_or_null(r->tool_id));
        json_object_set_new(o, "name", str_or_null(r->tool_name));
        json_object_set_new(o, "params", r->json != NULL ? json_incref(r->json) : json_object());
        set_ids(o, ids, true);
        *type = "tool_start";
        break;
    case AD_REC_TOOL_END:
        o = json_object();
        json_object_set_new(o, "toolId", str_or_null(r->tool_id));
        json_object_set_new(o, "durationMs", json_integer(r->duration_ms));
        json_object_set_new(o, "status", json_string(r->is_error ? "error" : "success"));
        json_object_set_new(o, "exitCode",
                            r->exit_code >= 0 ? json_integer(r->exit_code) : json_null());
        *type = "tool_end";
        break;
    case AD_REC_CONTEXT:
        o = json_object();
        json_object_set_new(o, "agentId", str_or_null(ids->agent_id));
        json_object_set_new(o, "level", json_integer(r->level));
        *type = "agent_context";
        break;
    case AD_REC_EVENT:
        if (!json_is_object(r->json) || r->subtype == NULL) {
            return NULL;
        }
        o = json_deep_copy(r->json);
        json_object_del(o, "type");
        if (json_object_get(o, "agentId") == NULL) {
            json_object_set_new(o, "agentId", str_or_null(ids->agent_id));
        }
        if (json_object_get(o, "runId") == NULL) {
            json_object_set_new(o, "runId", str_or_null(ids->run_id));
        }
        *type = r->subtype;
        break;
    case AD_REC_MESSAGE:
    case AD_REC_APPROVAL:
    case AD_REC_WRITE:
    case AD_REC_SESSION:
    case AD_REC_RESULT:
    case AD_REC_TOKENS:
    case AD_REC_REQUEST:
    case AD_REC_FAULT:
        return NULL;
    }
    return o;
}

json_t *ad_rec_message_json(const ad_rec_t *r)
{
    if (r->type != AD_REC_MESSAGE) {
        return NULL;
    }
    json_t *o = json_object();
    json_object_set_new(o, "role", json_string(ad_role_name(r->role)));
    json_object_set_new(o, "content", str_or_null(r->text));
    json_object_set_new(o, "tokenCount",
                        r->token_count > 0 ? json_integer(r->token_count) : json_null());
    json_object_set_new(o, "toolName", str_or_null(r->tool_name));
    json_object_set_new(o, "toolInput", r->json != NULL ? json_incref(r->json) : json_null());
    json_object_set_new(o, "toolOutput", str_or_null(r->tool_output));
    json_object_set_new(o, "isComplete", json_boolean(r->is_complete));
    return o;
}
