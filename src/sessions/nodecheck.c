/* SPDX-License-Identifier: MIT */
/*
 * What a node says of its user's sessions, taken only in the shapes this
 * machine's own scan gives (a node's answer is input: a node's agentd may be
 * old, broken or someone else's). A session is rebuilt field by field,
 * each checked and bounded, with node {id, name} added; a message the same.
 * Anything else is dropped. Pure.
 */
#include "sessions/sessions_int.h"

#include <string.h>

/* A string of at most max bytes that is UTF-8, or NULL. */
static const char *str_max(const json_t *o, const char *key, size_t max)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) && json_string_length(v) <= max &&
                   ad_utf8_valid(json_string_value(v), json_string_length(v))
               ? json_string_value(v)
               : NULL;
}

/* A time as the scan writes it (RFC 3339), or NULL. */
static const char *time_of(const json_t *o, const char *key)
{
    const char *t = str_max(o, key, 40);
    int64_t ms;
    return t != NULL && ad_time_parse(t, &ms) == 0 ? t : NULL;
}

json_t *sess_node_session(const json_t *in, const char *node_id, const char *node_name)
{
    const char *tool = str_max(in, "tool", 16), *id = str_max(in, "sessionId", AD_SESS_ID_MAX);
    const char *cwd = str_max(in, "cwd", 4096), *last = time_of(in, "lastActivity");
    json_t *size = json_object_get(in, "size");
    if (!json_is_object(in) || ad_sess_tool_check(tool, NULL) != 0 ||
        ad_sess_id_check(id, NULL) != 0 || last == NULL || (cwd != NULL && cwd[0] != '/')) {
        return NULL;
    }
    return json_pack(
        "{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s?, s:s?, s:I, s:b, s:{s:s, s:s}}", "tool", tool,
        "sessionId", id, "cwd", cwd, "gitBranch", str_max(in, "gitBranch", 255), "startedAt",
        time_of(in, "startedAt"), "lastActivity", last, "firstMessage",
        str_max(in, "firstMessage", 4 * AD_SESS_PREVIEW_MAX), "lastMessage",
        str_max(in, "lastMessage", 4 * AD_SESS_PREVIEW_MAX), "size",
        json_is_integer(size) && json_integer_value(size) >= 0 ? json_integer_value(size)
                                                               : (json_int_t)0,
        "live", json_is_true(json_object_get(in, "live")), "node", "id", node_id, "name",
        node_name);
}

json_t *sess_node_messages(const json_t *in)
{
    static const char *const roles[] = {"user", "assistant", "tool", "system"};
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(in, i, m)
    {
        if (i >= AD_SESS_MESSAGES_MAX) {
            break;
        }
        const char *role = str_max(m, "role", 16),
                   *content = str_max(m, "content", AD_SESS_TEXT_MAX);
        bool known = false;
        for (size_t k = 0; role != NULL && k < AD_ARRAY_LEN(roles); k++) {
            known |= strcmp(role, roles[k]) == 0;
        }
        if (!known || content == NULL) {
            continue;
        }
        json_array_append_new(
            out, json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:b, s:b, s:s?}", "role", role, "content",
                           content, "toolName", str_max(m, "toolName", 256), "toolInput",
                           str_max(m, "toolInput", AD_SESS_TEXT_MAX), "toolOutput",
                           str_max(m, "toolOutput", AD_SESS_TEXT_MAX), "isComplete",
                           !json_is_false(json_object_get(m, "isComplete")), "isError",
                           json_is_true(json_object_get(m, "isError")), "createdAt",
                           time_of(m, "createdAt")));
    }
    return out;
}
