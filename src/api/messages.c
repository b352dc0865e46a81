/* SPDX-License-Identifier: MIT */
/*
 * /api/agents/:id/messages: one page of an agent's messages, newest first,
 * with a stable cursor; and recording a message (published as
 * message_created). Sending a prompt to a running agent is the agent
 * subsystem's /api/agents/:id/message.
 */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

#define ROLES "user,assistant,system,tool"
#define PAGE_DEFAULT 50
#define PAGE_MAX 200
#define CONTENT_MAX (16u << 20)

static void page(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    int limit = PAGE_DEFAULT;
    const char *ls = ad_req_query(r, "limit");
    if (ls != NULL && ls[0] != '\0') {
        long v = 0;
        size_t n = strlen(ls);
        if (n > 6 || strspn(ls, "0123456789") != n) {
            api_invalid(r, "limit", "must be a whole number from 1 to 200");
            return;
        }
        for (size_t i = 0; i < n; i++) {
            v = v * 10 + (ls[i] - '0');
        }
        if (v < 1 || v > PAGE_MAX) {
            api_invalid(r, "limit", "must be a whole number from 1 to 200");
            return;
        }
        limit = (int)v;
    }
    const char *before = ad_req_query(r, "before");
    if (before != NULL && before[0] == '\0') {
        before = NULL;
    }
    json_t *out = NULL;
    int rc = ad_store_message_page(app->store, id, limit, before, &out);
    if (rc == AD_EINVAL) {
        api_invalid(r, "before", "is not a cursor from this agent's messages");
        return;
    }
    if (rc != 0) {
        api_fail(r, rc, "agent", id);
        return;
    }
    ad_res_json(r, 200, out);
}

static void created(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        api_fail(r, rc, rc == AD_ENOENT ? "agent" : "message", ad_req_param(r, "id"));
        return;
    }
    json_t *m = json_object_get(result, "message");
    json_t *p = json_pack("{s:O}", "message", m);
    api_publish(app, "message_created", p, "agent",
                json_string_value(json_object_get(m, "agentId")), "worktree",
                json_string_value(json_object_get(result, "worktreeId")), "workspace",
                json_string_value(json_object_get(result, "workspaceId")), NULL);
    json_decref(p);
    ad_res_json(r, 201, json_incref(m));
}

/* toolInput/toolOutput: a string, or any JSON value kept as its text. */
static int text_or_json(ad_req_t *r, json_t *body, const char *key, json_t *args)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (json_is_string(v)) {
        json_object_set(args, key, v);
        return 0;
    }
    char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (txt == NULL) {
        return api_invalid(r, key, "must be a string or JSON");
    }
    json_object_set_new(args, key, json_string(txt));
    free(txt);
    return 0;
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    json_t *args = json_object();
    const char *content = NULL, *role = NULL, *tool = NULL, *run = NULL;
    int64_t tokens = 0;
    bool has_tokens = false, complete = true;
    if (api_str(r, body, "content", true, CONTENT_MAX, &content) != 0 ||
        api_enum(r, body, "role", false, ROLES, &role) != 0 ||
        api_str(r, body, "toolName", false, 200, &tool) != 0 ||
        api_str(r, body, "runId", false, AD_ID_MAX, &run) != 0 ||
        api_int(r, body, "tokenCount", false, 0, INT64_C(1) << 40, &tokens, &has_tokens) != 0 ||
        api_bool(r, body, "isComplete", &complete, NULL) != 0 ||
        text_or_json(r, body, "toolInput", args) != 0 ||
        text_or_json(r, body, "toolOutput", args) != 0) {
        goto out;
    }
    char id[AD_ID_MAX];
    ad_id_new("msg", id);
    json_object_set_new(args, "id", json_string(id));
    json_object_set_new(args, "agentId", json_string(ad_req_param(r, "id")));
    json_object_set_new(args, "role", json_string(role != NULL ? role : "user"));
    json_object_set_new(args, "content", json_string(content));
    if (tool != NULL) {
        json_object_set_new(args, "toolName", json_string(tool));
    }
    if (run != NULL) {
        json_object_set_new(args, "runId", json_string(run));
    }
    json_object_set_new(args, "tokenCount", json_integer(tokens));
    json_object_set_new(args, "isComplete", json_boolean(complete));
    json_object_set_new(args, "now", json_integer(ad_wall_ms()));
    api_write(app, r, ad_store_op_message_insert, args, created);
    args = NULL;
out:
    json_decref(args);
    json_decref(body);
}

void api_messages_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/agents/:id/messages", page, app);
    ad_server_route(app->server, "POST", "/api/agents/:id/messages", create, app);
}
