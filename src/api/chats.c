/* SPDX-License-Identifier: MIT */
/*
 * /api/chats: conversations with Claude through the Messages API, or with
 * an OpenAI-compatible server, answers streamed live as events on
 * chat:<id> by the chat engine (src/chat, which owns the streams and the
 * rate-limit queue). These handlers check the input, read and write the
 * rows and hand the turns to the engine.
 * Its routes are listed in docs/api.md, their bodies and answers in
 * docs/workbench.md.
 */
#include "api/workbench.h"
#include "chat/chat.h"
#include "creds/creds.h"
#include "tables/llm.h"

#include <stdio.h>

#define PAGE_DEFAULT 100 /* the newest messages GET /api/chats/:id gives */

/* The chat of :id, visible to the caller (new reference), or NULL after
 * answering 404: another org's chat is as good as none. */
static json_t *chat_load(ad_app_t *app, ad_req_t *r)
{
    return ad_api_row_load(app, r, ad_store_chat_get, "chat");
}

bool ad_api_chat_key_ok(ad_app_t *app, ad_req_t *r, const char *org, const char *provider)
{
    if (ad_creds_key(app->creds, org, provider) != NULL) {
        return true;
    }
    ad_res_error(r, 422, "CREDENTIAL_MISSING", json_pack("{s:s}", "provider", provider),
                 "no %s credential for this organisation: PUT /api/credentials/%s", provider,
                 provider);
    return false;
}

bool ad_api_chat_admitted(ad_req_t *r, ad_chat_stream_t *s, const char *model, int64_t *wait)
{
    if (ad_chat_turn_admit(s, wait) == 0) {
        return true;
    }
    /* Its key's queue is full. */
    char secs[32];
    snprintf(secs, sizeof(secs), "%lld", (long long)((*wait + 999) / 1000));
    ad_res_header(r, "Retry-After", secs);
    ad_res_error(r, 429, "RATE_LIMITED", json_pack("{s:I}", "retryAfterMs", (json_int_t)*wait),
                 "the rate limit of %s is reached and its queue is full", model);
    ad_chat_turn_drop(s);
    return false;
}

/* ---- sending a message ----------------------------------------------------------------- */

static void turn_begun(void *ud, int rc, json_t *result, bool queued, int64_t wait_ms)
{
    ad_req_t *r = ud;
    if (result == NULL) {
        ad_api_fail(r, rc, "message", NULL);
        return;
    }
    json_t *out = json_pack("{s:s, s:O, s:O, s:b}", "sessionId", ad_req_param(r, "id"),
                            "userMessage", json_object_get(result, "user"), "assistantMessage",
                            json_object_get(result, "assistant"), "queued", queued);
    if (queued) {
        json_object_set_new(out, "waitMs", json_integer(wait_ms));
    }
    ad_res_json(r, rc == 0 ? 202 : 502, out);
}

static void send_message(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *chat = chat_load(app, r), *body = NULL;
    const char *content = NULL;
    ad_field_err_t e;
    if (chat == NULL || (body = ad_req_json(r)) == NULL) {
        goto out;
    }
    if (ad_chat_content_check(body, &content, &e) != 0) {
        ad_api_invalid_err(r, &e);
        goto out;
    }
    if (ad_chat_streaming(app->chat, ad_api_jstr(chat, "id"))) {
        ad_res_error(r, 409, "CONFLICT", NULL, "an answer is still streaming; stop it first");
        goto out;
    }
    const char *provider = ad_api_jstr(chat, "provider");
    provider = provider != NULL ? provider : "anthropic";
    if (!ad_api_chat_key_ok(app, r, ad_api_jstr(chat, "orgId"), provider)) {
        goto out;
    }
    ad_chat_stream_t *s = ad_chat_turn_new(app->chat, chat, content);
    int64_t wait = 0;
    if (!ad_api_chat_admitted(r, s, ad_api_jstr(chat, "model"), &wait)) {
        goto out;
    }
    ad_chat_turn_begin(s, content, turn_begun, r);
out:
    json_decref(body);
    json_decref(chat);
}

/* ---- the other routes ---------------------------------------------------------------- */

static void created(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "chat", NULL);
        return;
    }
    json_t *chat = json_object_get(result, "chat");
    ad_bus_publish_to(app->bus, "chat_created", chat, "chat", ad_api_jstr(chat, "id"), "org",
                      ad_api_jstr(chat, "orgId"), NULL);
    ad_res_json(r, 201, json_incref(chat));
}

/* With the definition found: its prompt and model fill what the request
 * left out. */
static void with_definition(ad_app_t *app, ad_req_t *r, json_t *def, void *ud)
{
    json_t *args = ud;
    if (def == NULL || json_object_get(def, "error") != NULL) {
        ad_api_invalid(r, "definition",
                       def == NULL ? "is not a definition you can see"
                                   : "has errors (see GET /api/definitions)");
        json_decref(args);
        return;
    }
    ad_chat_spec_def(args, def);
    ad_api_write(app, r, ad_store_op_chat_insert, args, created);
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char org[AD_ID_MAX];
    bool failed = false;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    json_t *body = ad_req_json_optional(r, &failed);
    if (failed) {
        return;
    }
    if (body == NULL) {
        body = json_object();
    }
    json_t *args = json_object();
    ad_field_err_t e;
    if (ad_chat_spec(body, args, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else if (ad_api_org_for(app, r, body, org) != 0) {
        /* answered */
    } else if (ad_chat_new_args(app->store, args, org, body, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else {
        const char *def = ad_api_jstr(args, "definition");
        if (def == NULL) {
            ad_api_write(app, r, ad_store_op_chat_insert, args, created);
        } else if (ad_api_def_find(app, r, def, with_definition, args) != 0) {
            ad_res_error(r, 500, "INTERNAL", NULL, "cannot read the definitions");
            json_decref(args);
        }
        args = NULL;
    }
    json_decref(args);
    json_decref(body);
}

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *rows = NULL;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    int rc = ad_store_chat_list(app->store, ad_principal_filter(ad_api_who(r)), 200, &rows);
    if (rc != 0) {
        ad_api_fail(r, rc, "chats", NULL);
        return;
    }
    ad_chat_mark_streaming(app->chat, rows);
    ad_res_json(r, 200, json_pack("{s:o}", "chats", rows));
}

/* The messages of a chat are read on the pool (up to 1,000 rows), the
 * answer in flight showing what has arrived so far (src/chat). */
static void got_messages(int rc, json_t *out, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        json_decref(out); /* ours either way */
    }
    if (rc == AD_ENOENT && ad_req_query(r, "before") != NULL) {
        ad_api_invalid(r, "before", "is not a message of this chat");
    } else if (rc != 0) {
        ad_api_fail(r, rc, "messages", NULL);
    } else {
        ad_res_json(r, 200, out);
    }
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *chat = chat_load(app, r);
    if (chat != NULL) {
        ad_chat_messages(app->chat, chat, ad_api_jstr(chat, "id"), NULL, PAGE_DEFAULT, got_messages,
                         r);
    }
}

/* GET /api/chats/:id/messages?before=<message id>&limit= (1 to 200, 50 by
 * default): the page of messages before that one (the newest without it),
 * oldest first, {messages, hasMore}. */
static void messages_page(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *before = ad_req_query(r, "before");
    int limit = 0;
    ad_field_err_t e;
    if (ad_chat_page_query(ad_req_query(r, "limit"), before, &limit, &e) != 0) {
        ad_api_invalid_err(r, &e);
        return;
    }
    json_t *chat = chat_load(app, r);
    if (chat == NULL) {
        return;
    }
    ad_chat_messages(app->chat, NULL, ad_api_jstr(chat, "id"), before, limit, got_messages, r);
    json_decref(chat);
}

static void stopped(void *ud, int rc, json_t *message)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_api_fail(r, rc, "answer", NULL);
    } else {
        ad_res_json(r, 200, json_incref(message));
    }
}

static void stop(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *chat = chat_load(app, r);
    if (chat == NULL) {
        return;
    }
    /* answered with the stopped message once it is saved */
    int rc = ad_chat_stop(app->chat, ad_api_jstr(chat, "id"), stopped, r);
    json_decref(chat);
    if (rc != 0) {
        ad_res_error(r, 409, "CONFLICT", NULL, "no answer is streaming");
    }
}

static void deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(app);
    ad_api_answer(r, rc, json_incref(result), "chat", NULL);
}

static void delete_chat(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *chat = chat_load(app, r);
    if (chat == NULL) {
        return;
    }
    ad_chat_cancel(app->chat, ad_api_jstr(chat, "id"));
    ad_api_write(app, r, ad_store_op_chat_delete, json_pack("{s:s}", "id", ad_api_jstr(chat, "id")),
                 deleted);
    json_decref(chat);
}

/* GET /api/ratelimits: the caller's organisation's buckets. */
static void ratelimits(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_res_json(r, 200, ad_chat_limits_of(app->chat, ad_principal_filter(ad_api_who(r))));
}

void ad_api_chats_register(ad_app_t *app)
{
    ad_api_defs_register(app);
    ad_api_projects_register(app);
    ad_server_route(app->server, "POST", "/api/chats", AD_ACCESS_WRITE, create, app);
    ad_api_chat_stream_register(app); /* chat_stream.c */
    ad_server_route(app->server, "GET", "/api/chats", AD_ACCESS_READ, list, app);
    ad_server_route(app->server, "GET", "/api/chats/:id", AD_ACCESS_READ, get, app);
    ad_server_route(app->server, "DELETE", "/api/chats/:id", AD_ACCESS_WRITE, delete_chat, app);
    ad_server_route(app->server, "POST", "/api/chats/:id/messages", AD_ACCESS_WRITE, send_message,
                    app);
    ad_server_route(app->server, "GET", "/api/chats/:id/messages", AD_ACCESS_READ, messages_page,
                    app);
    ad_server_route(app->server, "POST", "/api/chats/:id/stop", AD_ACCESS_WRITE, stop, app);
    ad_server_route(app->server, "GET", "/api/ratelimits", AD_ACCESS_READ, ratelimits, app);
}
