/* SPDX-License-Identifier: MIT */
/*
 * An outside session adopted (writer thread): the agent made by the
 * agents family's own insert (with the session's id, so its next start
 * resumes it) and the session's messages written as the agent's
 * transcript by the messages family's insert, in one transaction: both,
 * or neither. The checks are the caller's (src/api/external.c); the
 * messages are what ad_sessions_read gave.
 */
#include "sessions/sessions.h"

#include "tables/agents.h"
#include "tables/messages.h"

#include <string.h>

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int one_message(ad_store_tx_t *tx, const char *agent_id, const json_t *msg, int64_t now)
{
    char id[AD_ID_MAX];
    if (ad_id_new("msg", id) != 0) {
        return AD_EINTERNAL;
    }
    int64_t at = now;
    const char *ts = jstr(msg, "createdAt");
    if (ts == NULL || ad_time_parse(ts, &at) != 0) {
        at = now;
    }
    ad_store_message_t m = {
        .id = id,
        .agent_id = agent_id,
        .role = jstr(msg, "role"),
        .content = jstr(msg, "content"),
        .tool_name = jstr(msg, "toolName"),
        .tool_input = jstr(msg, "toolInput"),
        .tool_output = jstr(msg, "toolOutput"),
        .is_complete = !json_is_false(json_object_get(msg, "isComplete")),
        .is_error = json_is_true(json_object_get(msg, "isError")),
        .now = at,
    };
    if (m.role == NULL) {
        return 0;
    }
    return ad_store_message_insert(tx, &m);
}

int ad_sessions_op_adopt(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    json_t *agent = json_object_get(args, "agent");
    json_t *msgs = json_object_get(args, "messages");
    int rc = ad_store_op_agent_insert(tx, agent, result);
    if (rc != 0) {
        return rc;
    }
    const char *agent_id = jstr(agent, "id");
    int64_t now = json_integer_value(json_object_get(agent, "now"));
    size_t i;
    json_t *msg;
    json_array_foreach(msgs, i, msg)
    {
        rc = one_message(tx, agent_id, msg, now);
        if (rc != 0) {
            json_decref(*result);
            *result = NULL;
            return rc;
        }
    }
    json_object_set_new(*result, "imported", json_integer((json_int_t)json_array_size(msgs)));
    return 0;
}

json_t *ad_sessions_adopt_args(json_t *agent, const json_t *data)
{
    json_t *s = json_object_get(data, "session");
    json_object_set(agent, "sessionId", json_object_get(s, "sessionId"));
    return json_pack("{s:o, s:O}", "agent", agent, "messages", json_object_get(data, "messages"));
}
