/* SPDX-License-Identifier: MIT */
/*
 * What a chat request may hold, checked before a chat is stored or a
 * stateless call streams (the REST layer answers 422 with the reason): a
 * stateless call's session id and messages, and the model an agent
 * definition stands for. Pure: no store, no stream.
 */
#include "chat/chat.h"

#include <stdio.h>
#include <string.h>

#define CONTENT_MAX (256 * 1024)
#define STATELESS_MESSAGES_MAX 200

bool ad_chat_session_id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 64 || strncmp(id, "chat_", 5) == 0) {
        return false; /* chat_...: a stored chat's events are not to be mixed in */
    }
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

json_t *ad_chat_messages_check(const json_t *in, char *why, size_t whysz)
{
    size_t n = json_array_size(in);
    if (!json_is_array(in) || n == 0 || n > STATELESS_MESSAGES_MAX) {
        snprintf(why, whysz, "must be 1 to 200 {role, content} objects");
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(in, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        json_t *content = json_object_get(m, "content");
        if (role == NULL || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0) ||
            !json_is_string(content) || json_string_length(content) == 0 ||
            json_string_length(content) > CONTENT_MAX) {
            json_decref(out);
            snprintf(why, whysz, "each needs role user or assistant and a non-empty content");
            return NULL;
        }
        json_array_append_new(out, json_pack("{s:s, s:O}", "role", role, "content", content));
    }
    return out;
}

/* A definition's model: its own (Claude Code's aliases understood), else
 * one for its tier. NULL: keep the default. */
const char *ad_chat_def_model(const json_t *def)
{
    static const char *const alias[][2] = {
        {"sonnet", "claude-sonnet-4-5"}, {"opus", "claude-opus-4-1"},
        {"haiku", "claude-haiku-4-5"},   {"balanced", "claude-sonnet-4-5"},
        {"thorough", "claude-opus-4-1"}, {"fast", "claude-haiku-4-5"}};
    const char *m = json_string_value(json_object_get(def, "model"));
    if (m == NULL || strcmp(m, "inherit") == 0) {
        m = json_string_value(json_object_get(def, "tier"));
    }
    for (size_t i = 0; m != NULL && i < AD_ARRAY_LEN(alias); i++) {
        if (strcmp(m, alias[i][0]) == 0) {
            return alias[i][1];
        }
    }
    return m != NULL && strncmp(m, "claude-", 7) == 0 ? m : NULL;
}
