/* SPDX-License-Identifier: MIT */
/*
 * What a chat request may hold, checked before a chat is stored or a
 * stateless call streams (the REST layer answers 422 with the reason): a
 * new chat's fields, a stateless call's session id and messages, and the
 * prompt and model an agent definition stands for. Pure (no stream), but
 * for a new chat's project: the store says whether it is its
 * organisation's (ad_chat_new_args).
 */
#include "chat/chat.h"
#include "store/store.h"
#include "tables/llm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTENT_MAX (256 * 1024)
#define STATELESS_MESSAGES_MAX 200
#define DEFAULT_MODEL "claude-sonnet-4-5"
#define DEFAULT_OPENAI_MODEL "gpt-4o-mini"

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

int ad_chat_spec(const json_t *body, json_t *args, ad_field_err_t *e)
{
    const char *model = NULL, *provider = "anthropic", *v[4] = {NULL, NULL, NULL, NULL};
    static const char *const keys[] = {"system", "definition", "projectId", "title"};
    static const size_t caps[] = {CONTENT_MAX, 200, AD_ID_MAX - 1, 200};
    int64_t max_tokens = 0;
    bool has_max = false;
    if (ad_field_enum(body, "provider", false, "anthropic,openai", &provider, e) != 0 ||
        ad_field_str(body, "model", false, 127, &model, e) != 0 ||
        ad_field_int(body, "maxTokens", false, 1, 128000, &max_tokens, &has_max, e) != 0) {
        return AD_EINVAL;
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        if (ad_field_str(body, keys[i], false, caps[i], &v[i], e) != 0) {
            return AD_EINVAL;
        }
        if (v[i] != NULL) {
            json_object_set_new(args, keys[i], json_string(v[i]));
        }
    }
    bool openai = strcmp(provider, "openai") == 0;
    json_t *t = json_object_get(body, "temperature");
    if (t != NULL && (!json_is_number(t) || json_number_value(t) < 0 ||
                      json_number_value(t) > (openai ? 2 : 1))) {
        return ad_field_fail(e, "temperature", "must be a number from 0 to %d", openai ? 2 : 1);
    }
    if (model != NULL && model[0] == '\0') {
        return ad_field_fail(e, "model", "must not be empty");
    }
    json_object_set_new(args, "provider", json_string(provider));
    json_object_set_new(args, "model",
                        json_string(model != NULL ? model
                                    : openai      ? DEFAULT_OPENAI_MODEL
                                                  : DEFAULT_MODEL));
    if (t != NULL) {
        json_object_set(args, "temperature", t);
    }
    if (has_max) {
        json_object_set_new(args, "maxTokens", json_integer(max_tokens));
    }
    return 0;
}

void ad_chat_spec_def(json_t *args, const json_t *def)
{
    const char *prompt = json_string_value(json_object_get(def, "systemPrompt"));
    if (json_object_get(args, "system") == NULL && prompt != NULL && prompt[0] != '\0') {
        json_object_set_new(args, "system", json_string(prompt));
    }
    const char *model = ad_chat_def_model(def);
    if (json_is_true(json_object_get(args, "defaultModel")) && model != NULL) {
        json_object_set_new(args, "model", json_string(model));
    }
    json_object_del(args, "defaultModel");
}

int ad_chat_new_args(struct ad_store *st, json_t *args, const char *org, const json_t *body,
                     ad_field_err_t *e)
{
    const char *project = json_string_value(json_object_get(args, "projectId"));
    json_t *p = NULL;
    bool ok = project == NULL || (ad_store_project_get(st, project, &p) == 0 &&
                                  strcmp(json_string_value(json_object_get(p, "orgId")), org) == 0);
    json_decref(p);
    if (!ok) {
        return ad_field_fail(e, "projectId", "is not a project of this organisation");
    }
    char id[AD_ID_MAX];
    ad_id_new("chat", id);
    json_object_set_new(args, "id", json_string(id));
    json_object_set_new(args, "orgId", json_string(org));
    json_object_set_new(args, "now", json_integer(ad_wall_ms()));
    if (json_object_get(args, "definition") != NULL) {
        json_object_set_new(args, "defaultModel",
                            json_boolean(json_object_get(body, "model") == NULL));
    }
    return 0;
}

int ad_chat_stateless_spec(const json_t *body, json_t **spec, json_t **messages, ad_field_err_t *e)
{
    const char *session = NULL, *model = NULL, *system = NULL, *provider = "anthropic";
    int64_t max_tokens = 0;
    bool has_max = false;
    if (ad_field_str(body, "sessionId", true, 64, &session, e) != 0 ||
        ad_field_str(body, "model", true, 127, &model, e) != 0 ||
        ad_field_str(body, "systemPrompt", false, AD_CHAT_CONTENT_MAX, &system, e) != 0 ||
        ad_field_enum(body, "provider", false, "anthropic,openai", &provider, e) != 0 ||
        ad_field_int(body, "maxTokens", false, 1, 128000, &max_tokens, &has_max, e) != 0) {
        return AD_EINVAL;
    }
    if (!ad_chat_session_id_ok(session)) {
        return ad_field_fail(e, "sessionId", "1 to 64 of A-Z a-z 0-9 - _, not starting chat_");
    }
    if (model[0] == '\0') {
        return ad_field_fail(e, "model", "must not be empty");
    }
    char why[128];
    *messages = ad_chat_messages_check(json_object_get(body, "messages"), why, sizeof(why));
    if (*messages == NULL) {
        return ad_field_fail(e, "messages", "%s", why);
    }
    *spec = json_pack("{s:s, s:s, s:s, s:s?}", "id", session, "model", model, "provider", provider,
                      "system", system);
    if (has_max) {
        json_object_set_new(*spec, "maxTokens", json_integer(max_tokens));
    }
    return 0;
}

int ad_chat_content_check(const json_t *body, const char **content, ad_field_err_t *e)
{
    if (ad_field_str(body, "content", true, AD_CHAT_CONTENT_MAX, content, e) != 0) {
        return AD_EINVAL;
    }
    return (*content)[0] == '\0' ? ad_field_fail(e, "content", "must not be empty") : 0;
}

int ad_chat_page_query(const char *lim, const char *before, int *limit, ad_field_err_t *e)
{
    long n = 50;
    if (lim != NULL) {
        char *end = NULL;
        n = strtol(lim, &end, 10);
        if (end == lim || *end != '\0' || n < 1 || n > 200) {
            return ad_field_fail(e, "limit", "must be 1 to 200");
        }
    }
    if (before != NULL && (before[0] == '\0' || strlen(before) >= AD_ID_MAX)) {
        return ad_field_fail(e, "before", "must be a message id");
    }
    *limit = (int)n;
    return 0;
}
