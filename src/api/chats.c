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
#include "defs/defs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTENT_MAX (256 * 1024)
#define PAGE_DEFAULT 100 /* the newest messages GET /api/chats/:id gives */
#define PAGE_MAX 200     /* a page of GET /api/chats/:id/messages */
#define DEFAULT_MODEL "claude-sonnet-4-5"
#define DEFAULT_OPENAI_MODEL "gpt-4o-mini"

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
    if (chat == NULL || (body = ad_req_json(r)) == NULL ||
        ad_api_str(r, body, "content", true, CONTENT_MAX, &content) != 0) {
        goto out;
    }
    if (content[0] == '\0') {
        ad_api_invalid(r, "content", "must not be empty");
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
    ad_api_publish(app, "chat_created", chat, "chat", ad_api_jstr(chat, "id"), "org",
                   ad_api_jstr(chat, "orgId"), NULL);
    ad_res_json(r, 201, json_incref(chat));
}

static int chat_fields(ad_req_t *r, json_t *body, json_t *args)
{
    const char *model = NULL, *provider = "anthropic", *s[4] = {NULL, NULL, NULL, NULL};
    static const char *const keys[] = {"system", "definition", "projectId", "title"};
    static const size_t caps[] = {CONTENT_MAX, 200, AD_ID_MAX - 1, 200};
    int64_t max_tokens = 0;
    bool has_max = false;
    if (ad_api_enum(r, body, "provider", false, "anthropic,openai", &provider) != 0 ||
        ad_api_str(r, body, "model", false, 127, &model) != 0 ||
        ad_api_int(r, body, "maxTokens", false, 1, 128000, &max_tokens, &has_max) != 0) {
        return -1;
    }
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        if (ad_api_str(r, body, keys[i], false, caps[i], &s[i]) != 0) {
            return -1;
        }
        if (s[i] != NULL) {
            json_object_set_new(args, keys[i], json_string(s[i]));
        }
    }
    bool openai = strcmp(provider, "openai") == 0;
    double tmax = openai ? 2 : 1;
    json_t *t = json_object_get(body, "temperature");
    if (t != NULL &&
        (!json_is_number(t) || json_number_value(t) < 0 || json_number_value(t) > tmax)) {
        return ad_api_invalid(r, "temperature",
                              openai ? "must be a number from 0 to 2"
                                     : "must be a number from 0 to 1");
    }
    if (model != NULL && model[0] == '\0') {
        return ad_api_invalid(r, "model", "must not be empty");
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
    const char *prompt = ad_api_jstr(def, "systemPrompt");
    if (json_object_get(args, "system") == NULL && prompt != NULL && prompt[0] != '\0') {
        json_object_set_new(args, "system", json_string(prompt));
    }
    const char *model = ad_chat_def_model(def);
    if (json_is_true(json_object_get(args, "defaultModel")) && model != NULL) {
        json_object_set_new(args, "model", json_string(model));
    }
    json_object_del(args, "defaultModel");
    ad_api_write(app, r, ad_store_op_chat_insert, args, created);
}

/* A chat's project must be one of its organisation's (its usage is added
 * to the project's). False after answering 422. */
static bool same_org_project(ad_app_t *app, ad_req_t *r, const char *project, const char *org)
{
    json_t *p = NULL;
    bool ok = project == NULL || (ad_store_project_get(app->store, project, &p) == 0 &&
                                  strcmp(ad_api_jstr(p, "orgId"), org) == 0);
    json_decref(p);
    if (!ok) {
        ad_api_invalid(r, "projectId", "is not a project of this organisation");
    }
    return ok;
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    char org[AD_ID_MAX], id[AD_ID_MAX];
    bool failed = false;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    json_t *body = ad_api_body_optional(r, &failed);
    if (failed) {
        return;
    }
    if (body == NULL) {
        body = json_object();
    }
    json_t *args = json_object();
    if (chat_fields(r, body, args) == 0 && ad_api_org_for(app, r, body, org) == 0 &&
        same_org_project(app, r, ad_api_jstr(args, "projectId"), org)) {
        ad_id_new("chat", id);
        json_object_set_new(args, "id", json_string(id));
        json_object_set_new(args, "orgId", json_string(org));
        json_object_set_new(args, "now", json_integer(ad_wall_ms()));
        json_object_set_new(args, "defaultModel",
                            json_boolean(json_object_get(body, "model") == NULL));
        const char *def = ad_api_jstr(args, "definition");
        if (def == NULL) {
            json_object_del(args, "defaultModel");
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
    size_t i;
    json_t *c;
    json_array_foreach(rows, i, c)
    {
        json_object_set_new(c, "streaming",
                            json_boolean(ad_chat_streaming(app->chat, ad_api_jstr(c, "id"))));
    }
    ad_res_json(r, 200, json_pack("{s:o}", "chats", rows));
}

/* The messages of a chat are read on the pool (up to 1,000 rows). An
 * answer in flight shows what has arrived so far. */
typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    json_t *chat; /* GET /api/chats/:id: the row */
    char id[AD_ID_MAX];
} read_t;

static void got_messages(int rc, json_t *page, void *ud)
{
    read_t *q = ud;
    ad_req_t *r = q->req;
    json_t *chat = q->chat;
    if (rc != 0) {
        json_decref(chat);
        ad_api_fail(r, rc, "messages", NULL);
    } else {
        ad_chat_live_text(q->app->chat, q->id, json_object_get(page, "messages"));
        json_object_set(chat, "messages", json_object_get(page, "messages"));
        json_object_set(chat, "hasMore", json_object_get(page, "hasMore"));
        json_decref(page);
        ad_res_json(r, 200, chat);
    }
    free(q);
}

static read_t *read_new(ad_app_t *app, ad_req_t *r, json_t *chat)
{
    read_t *q = ad_xcalloc(1, sizeof(*q));
    q->app = app;
    q->req = r;
    snprintf(q->id, sizeof(q->id), "%s", ad_api_jstr(chat, "id"));
    return q;
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *chat = chat_load(app, r);
    if (chat != NULL) {
        /* Said before the read: an answer that ends during it is committed
         * before its stream goes, so "not streaming" means the rows read
         * hold the saved answer. */
        json_object_set_new(chat, "streaming",
                            json_boolean(ad_chat_streaming(app->chat, ad_api_jstr(chat, "id"))));
        read_t *q = read_new(app, r, chat);
        q->chat = chat; /* owned until got_messages */
        ad_store_chat_messages_page(app->store, q->id, NULL, PAGE_DEFAULT, got_messages, q);
    }
}

static void got_page(int rc, json_t *page, void *ud)
{
    read_t *q = ud;
    ad_req_t *r = q->req;
    if (rc == AD_ENOENT) {
        ad_api_invalid(r, "before", "is not a message of this chat");
    } else if (rc != 0) {
        ad_api_fail(r, rc, "messages", NULL);
    } else {
        ad_chat_live_text(q->app->chat, q->id, json_object_get(page, "messages"));
        ad_res_json(r, 200, page);
        page = NULL;
    }
    json_decref(page);
    free(q);
}

/* GET /api/chats/:id/messages?before=<message id>&limit= (1 to 200, 50 by
 * default): the page of messages before that one (the newest without it),
 * oldest first, {messages, hasMore}. */
static void messages_page(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *before = ad_req_query(r, "before"), *lim = ad_req_query(r, "limit");
    long limit = 50;
    if (lim != NULL) {
        char *end = NULL;
        limit = strtol(lim, &end, 10);
        if (end == lim || *end != '\0' || limit < 1 || limit > PAGE_MAX) {
            ad_api_invalid(r, "limit", "must be 1 to 200");
            return;
        }
    }
    if (before != NULL && (before[0] == '\0' || strlen(before) >= AD_ID_MAX)) {
        ad_api_invalid(r, "before", "must be a message id");
        return;
    }
    json_t *chat = chat_load(app, r);
    if (chat == NULL) {
        return;
    }
    read_t *q = read_new(app, r, chat); /* owned until got_page */
    ad_store_chat_messages_page(app->store, q->id, before, (int)limit, got_page, q);
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
    if (rc != 0) {
        ad_api_fail(r, rc, "chat", NULL);
        return;
    }
    ad_res_json(r, 200, json_incref(result));
    AD_UNUSED(app);
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
    const ad_principal_t *who = ad_api_who(r);
    char prefix[AD_ID_MAX + 2] = "";
    if (!who->owner) {
        snprintf(prefix, sizeof(prefix), "%s|", who->org_id);
    }
    ad_res_json(r, 200,
                json_pack("{s:o, s:I}", "limits", ad_chat_limits(app->chat, prefix), "queueMax",
                          (json_int_t)ad_chat_queue_max()));
}

void ad_api_chats_register(ad_app_t *app)
{
    ad_api_defs_register(app);
    ad_api_projects_register(app);
    app->chat = ad_chat_new(app->loop, app->store, app->bus, app->creds);
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

void ad_api_chats_close(ad_app_t *app)
{
    ad_defwatch_stop(app->defwatch);
    app->defwatch = NULL;
    ad_chat_free(app->chat);
    app->chat = NULL;
}
