/* SPDX-License-Identifier: MIT */
/*
 * /api/chats: conversations with Claude through the Messages API, or with
 * an OpenAI-compatible server (src/llm), answers streamed live as events
 * of the seed's names on chat:<id>:
 * stream_token {sessionId, messageId, text}, stream_retry {sessionId,
 * status, waitMs, attempt}, stream_complete {sessionId, messageId,
 * fullMessage, usage, stopReason, stopped, toolCalls?}, stream_error {sessionId,
 * messageId, error, partial}. The user's message and a streaming
 * placeholder are written before the request starts; the answer, its usage
 * and cost (the model_prices setting), the chat's totals and the usage
 * tables are written together when it ends. Owns the streams in flight and
 * the rate-limit queue: a message its key's buckets cannot take now waits
 * (stream_queued {sessionId, messageId, waitMs}), first come first served.
 *   POST /api/chats {provider?: anthropic|openai, model, system?, definition?,
 *                    projectId?, temperature?, maxTokens?, title?, orgId?}
 *   GET  /api/chats   GET /api/chats/:id (with its newest 100 messages, hasMore)
 *   GET  /api/chats/:id/messages?before=&limit= (older pages)   DELETE /api/chats/:id
 *   POST /api/chats/:id/messages {content}   POST /api/chats/:id/stop
 *   GET  /api/ratelimits (each key's buckets and queue)
 */
#include "agent/agent.h"
#include "api/workbench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONTENT_MAX (256 * 1024)
#define ANSWER_MAX (4 * 1024 * 1024)
#define HISTORY_MAX 200
#define PAGE_DEFAULT 100 /* the newest messages GET /api/chats/:id gives */
#define PAGE_MAX 200     /* a page of GET /api/chats/:id/messages */
#define DEFAULT_MODEL "claude-sonnet-4-5"
#define DEFAULT_OPENAI_MODEL "gpt-4o-mini"
#define MAX_RETRIES 3
#define STALL_MS_DEFAULT 60000

typedef struct stream {
    struct stream *next;
    ad_app_t *app;
    char chat[AD_ID_MAX];
    char msg[AD_ID_MAX];
    char org[AD_ID_MAX];
    char model[128];
    ad_buf_t text;        /* the answer so far */
    ad_buf_t ev;          /* a token's event text, reused (token_event) */
    ad_llm_req_t *rq;     /* NULL until the placeholder is written */
    ad_req_t *stop_req;   /* a stop waiting for the answer's write */
    json_t *body;         /* the provider request, until it starts */
    const char *end_type; /* stream_complete or stream_error, once ended */
    json_t *end_event;    /* published after the answer's write commits */
    char rl_key[320];     /* <org>|<provider>|<model>: its rate-limit buckets */
    char provider[16];    /* anthropic or openai */
    int64_t est;          /* the input tokens charged before it started */
    struct stream *qnext; /* the wait queue, first come first served */
    bool queued;          /* waiting for the rate limit */
    int64_t wait_ms;      /* when queued: the wait it was told */
    bool sent;            /* the request went out (its usage is charged) */
    bool truncated;
} stream_t;

static ad_llm_t *llm;
static stream_t *streams;
static stream_t *qhead; /* streams waiting for their rate limit, oldest first */
static uv_timer_t *qtimer;
static ad_rl_t *rl;
static bool closing;

/* Limits until the provider says otherwise; AGENTD_LLM_RPM, _ITPM, _OTPM
 * and _QUEUE (requests that may wait per key) change them. */
static int64_t env_int(const char *name, int64_t def)
{
    const char *v = getenv(name);
    long long n = v != NULL ? strtoll(v, NULL, 10) : 0;
    return n > 0 && n <= 100000000 ? n : def;
}

static ad_rl_t *limits(void)
{
    if (rl == NULL) {
        ad_rl_limits_t d = {.requests = env_int("AGENTD_LLM_RPM", 50),
                            .input_tokens = env_int("AGENTD_LLM_ITPM", 200000),
                            .output_tokens = env_int("AGENTD_LLM_OTPM", 80000)};
        rl = ad_rl_new(&d);
    }
    return rl;
}

ad_llm_t *ad_api_llm(ad_app_t *app)
{
    if (llm == NULL) {
        llm = ad_llm_new(app->loop);
    }
    return llm;
}

static stream_t *stream_of(const char *chat)
{
    for (stream_t *s = streams; s != NULL; s = s->next) {
        if (strcmp(s->chat, chat) == 0) {
            return s;
        }
    }
    return NULL;
}

static void dequeue(stream_t *s)
{
    for (stream_t **p = &qhead; *p != NULL; p = &(*p)->qnext) {
        if (*p == s) {
            *p = s->qnext;
            break;
        }
    }
    if (s->queued) {
        int *w = ad_rl_waiting(limits(), s->rl_key, ad_wall_ms());
        if (w != NULL && *w > 0) {
            (*w)--;
        }
    }
    s->queued = false;
}

static void stream_free(stream_t *s)
{
    dequeue(s);
    for (stream_t **p = &streams; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    ad_buf_cleanup(&s->text);
    ad_buf_cleanup(&s->ev);
    json_decref(s->body);
    json_decref(s->end_event);
    free(s);
}

/* The chat of :id, visible to the caller (new reference), or NULL after
 * answering 404: another org's chat is as good as none. */
static json_t *chat_load(ad_app_t *app, ad_req_t *r)
{
    return ad_api_row_load(app, r, ad_store_chat_get, "chat");
}

static void publish(stream_t *s, const char *type, json_t *payload)
{
    ad_api_publish(s->app, type, payload, "chat", s->chat, "org", s->org, NULL);
    json_decref(payload);
}

/* ---- the provider's callbacks ----------------------------------------------------------- */

/* {sessionId, messageId, text} written straight into a buffer the stream
 * keeps and published as text: no JSON object is built and dumped per
 * token (the ids are ours, [A-Za-z0-9_-]; text was decoded from the
 * provider's JSON, so it is UTF-8). */
static void token_event(stream_t *s, const char *type, const char *text, size_t len)
{
    ad_buf_reset(&s->ev);
    int rc = ad_buf_puts(&s->ev, "{\"sessionId\":\"");
    rc = rc != 0 ? rc : ad_buf_puts(&s->ev, s->chat);
    rc = rc != 0 ? rc : ad_buf_puts(&s->ev, "\",\"messageId\":\"");
    rc = rc != 0 ? rc : ad_buf_puts(&s->ev, s->msg);
    rc = rc != 0 ? rc : ad_buf_puts(&s->ev, "\",\"text\":");
    rc = rc != 0 ? rc : ad_json_string(&s->ev, text, len);
    rc = rc != 0 ? rc : ad_buf_putc(&s->ev, '}');
    if (rc == 0) {
        ad_api_publish_text(s->app, type, s->ev.data, s->ev.len, "chat", s->chat, "org", s->org,
                            NULL);
    }
}

static void on_delta(void *ud, ad_llm_delta_t kind, const char *text, size_t len)
{
    stream_t *s = ud;
    if (kind == AD_LLM_TOOL) {
        return; /* put together by the stream (src/llm/tools.c), stored with the answer */
    }
    if (kind == AD_LLM_TEXT) {
        if (ad_buf_append(&s->text, text, len) != 0) {
            s->truncated = true;
            ad_llm_cancel(s->rq);
            return;
        }
    }
    token_event(s, kind == AD_LLM_TEXT ? "stream_token" : "stream_thinking", text, len);
}

static void on_retry(void *ud, int status, int64_t wait_ms, int attempt)
{
    stream_t *s = ud;
    publish(s, "stream_retry",
            json_pack("{s:s, s:s, s:i, s:I, s:i}", "sessionId", s->chat, "messageId", s->msg,
                      "status", status, "waitMs", (json_int_t)wait_ms, "attempt", attempt));
}

static void on_header(void *ud, const char *name, const char *value)
{
    stream_t *s = ud;
    ad_rl_header(limits(), s->rl_key, name, value, ad_wall_ms());
}

static double cost_of(ad_app_t *app, const char *model, const ad_llm_usage_t *u)
{
    json_t *settings = NULL;
    ad_price_t p;
    double cost = 0;
    if (ad_store_settings_get(app->store, &settings) == 0 &&
        ad_price_lookup(json_object_get(settings, "model_prices"), model, &p)) {
        double cached = p.cached_input > 0 ? p.cached_input : p.input;
        double write = p.cache_write > 0 ? p.cache_write : p.input;
        cost = ((double)u->input_tokens * p.input + (double)u->output_tokens * p.output +
                (double)u->cache_read_tokens * cached + (double)u->cache_write_tokens * write) /
               1e6;
    }
    json_decref(settings);
    return cost;
}

static json_t *usage_json(const ad_llm_usage_t *u, double cost)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:f}", "inputTokens", (json_int_t)u->input_tokens,
                     "outputTokens", (json_int_t)u->output_tokens, "cacheReadTokens",
                     (json_int_t)u->cache_read_tokens, "cacheWriteTokens",
                     (json_int_t)u->cache_write_tokens, "costUsd", cost);
}

/* After the answer's write: the end event, then the stop's answer (the
 * saved message), so a client that reads on the event sees the row. */
static void end_committed(stream_t *s, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "llm", "an answer was not saved chat=%s err=%s", s->chat,
               ad_errname(rc));
    }
    ad_api_publish(s->app, s->end_type, s->end_event, "chat", s->chat, "org", s->org, NULL);
    if (r != NULL && rc != 0) {
        ad_api_fail(r, rc, "answer", NULL);
    } else if (r != NULL) {
        ad_res_json(r, 200, json_incref(json_object_get(result, "message")));
    }
    stream_free(s);
}

static void end_written(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(app);
    end_committed(ad_req_data(r), r, rc, result);
}

static void end_written_bg(int rc, json_t *result, void *ud)
{
    end_committed(ud, NULL, rc, result);
    json_decref(result);
}

/* The answer's last write: the message, the chat's totals, the usage. */
static json_t *end_args(stream_t *s, const ad_llm_result_t *res, const char *status, double cost)
{
    const ad_llm_stream_t *st = res->stream;
    const char *model = st->model[0] != '\0' ? st->model : s->model;
    json_t *a = json_pack("{s:s, s:s, s:s%, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:i, s:I}", "chatId",
                          s->chat, "messageId", s->msg, "content",
                          s->text.data != NULL ? s->text.data : "", s->text.len, "status", status,
                          "model", model, "inputTokens", (json_int_t)st->usage.input_tokens,
                          "outputTokens", (json_int_t)st->usage.output_tokens, "cacheReadTokens",
                          (json_int_t)st->usage.cache_read_tokens, "cacheWriteTokens",
                          (json_int_t)st->usage.cache_write_tokens, "costUsd", cost, "attempts",
                          res->attempts, "now", (json_int_t)ad_wall_ms());
    if (st->stop_reason[0] != '\0') {
        json_object_set_new(a, "stopReason", json_string(st->stop_reason));
    }
    if (json_array_size(st->tools) > 0) {
        json_object_set_new(a, "toolCalls", ad_llm_tool_calls(st));
    }
    if (res->rc != 0 && res->rc != AD_ECLOSED) {
        char err[700];
        snprintf(err, sizeof(err), "%s: %s", res->error_type, res->error_message);
        json_object_set_new(a, "error", json_string(err));
    }
    return a;
}

static void on_end(void *ud, const ad_llm_result_t *res)
{
    stream_t *s = ud;
    s->rq = NULL;
    if (closing) {
        stream_free(s); /* the next start marks the answer interrupted */
        return;
    }
    if (s->sent) {
        ad_rl_settle(limits(), s->rl_key, s->est, &res->stream->usage, ad_wall_ms());
    }
    bool stopped = res->rc == AD_ECLOSED || (res->rc != 0 && s->truncated);
    const char *status = res->rc == 0 ? "complete" : stopped ? "stopped" : "error";
    const char *model = res->stream->model[0] ? res->stream->model : s->model;
    double cost = cost_of(s->app, model, &res->stream->usage);
    json_t *usage = usage_json(&res->stream->usage, cost);
    const char *text = s->text.data != NULL ? s->text.data : "";
    if (res->rc == 0 || stopped) {
        s->end_type = "stream_complete";
        s->end_event =
            json_pack("{s:s, s:s, s:s%, s:O, s:s, s:b}", "sessionId", s->chat, "messageId", s->msg,
                      "fullMessage", text, s->text.len, "usage", usage, "stopReason",
                      stopped ? "stopped" : res->stream->stop_reason, "stopped", stopped);
        if (json_array_size(res->stream->tools) > 0) {
            json_object_set_new(s->end_event, "toolCalls", ad_llm_tool_calls(res->stream));
        }
    } else {
        s->end_type = "stream_error";
        s->end_event =
            json_pack("{s:s, s:s, s:{s:s, s:s, s:i, s:i}, s:s%, s:O}", "sessionId", s->chat,
                      "messageId", s->msg, "error", "type", res->error_type, "message",
                      res->error_message, "status", res->http_status, "attempts", res->attempts,
                      "partial", text, s->text.len, "usage", usage);
    }
    json_decref(usage);
    json_t *args = end_args(s, res, status, cost);
    if (s->stop_req != NULL) {
        ad_req_set_data(s->stop_req, s);
        ad_api_write(s->app, s->stop_req, ad_store_op_chat_turn_end, args, end_written);
    } else {
        ad_store_write(s->app->store, ad_store_op_chat_turn_end, args, end_written_bg, s);
    }
}

/* ---- sending a message ----------------------------------------------------------------- */

/* The conversation the provider gets: the chat's earlier turns that have
 * text, then the new message. New reference. */
static json_t *history(ad_app_t *app, const char *chat, const char *content)
{
    json_t *msgs = json_array(), *rows = NULL;
    if (ad_store_chat_messages(app->store, chat, HISTORY_MAX, &rows) == 0) {
        size_t i;
        json_t *m;
        json_array_foreach(rows, i, m)
        {
            const char *c = ad_api_jstr(m, "content");
            if (c != NULL && c[0] != '\0') {
                json_array_append_new(
                    msgs, json_pack("{s:s, s:s}", "role", ad_api_jstr(m, "role"), "content", c));
            }
        }
    }
    json_decref(rows);
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", content));
    return msgs;
}

static int stall_ms(void)
{
    const char *v = getenv("AGENTD_LLM_STALL_MS");
    long ms = v != NULL ? strtol(v, NULL, 10) : 0;
    return ms > 0 && ms <= 3600000 ? (int)ms : STALL_MS_DEFAULT;
}

/* Ends s before anything was sent (rc: why; AD_ECLOSED: stopped). */
static void end_unsent(stream_t *s, int rc, const char *why)
{
    ad_llm_stream_t none;
    ad_llm_stream_init(&none, NULL, NULL);
    ad_llm_result_t res = {.rc = rc, .attempts = 0, .stream = &none};
    snprintf(res.error_type, sizeof(res.error_type), "%s",
             rc == AD_ECLOSED ? "cancelled" : "client_error");
    snprintf(res.error_message, sizeof(res.error_message), "%s", why);
    on_end(s, &res);
    ad_llm_stream_cleanup(&none);
}

/* Sends s's request. 0, or an error after ending s. */
static int start_stream(ad_app_t *app, stream_t *s)
{
    const char *key = ad_api_cred_key(s->org, s->provider);
    char base[600], err[256] = "";
    ad_api_cred_base_url(app, s->org, s->provider, base, sizeof(base));
    ad_llm_provider_t kind = AD_LLM_ANTHROPIC;
    ad_llm_provider_parse(s->provider, &kind);
    ad_llm_spec_t spec = {.provider = kind,
                          .base_url = base,
                          .api_key = key,
                          .body = s->body,
                          .max_retries = MAX_RETRIES,
                          .stall_ms = stall_ms()};
    ad_llm_cbs_t cbs = {
        .on_delta = on_delta, .on_retry = on_retry, .on_header = on_header, .on_end = on_end};
    int rc = key == NULL ? AD_EPERM
                         : ad_llm_start(ad_api_llm(app), &spec, &cbs, s, &s->rq, err, sizeof(err));
    json_decref(s->body);
    s->body = NULL;
    s->sent = rc == 0;
    if (rc != 0) {
        /* Nothing was sent: the placeholder ends as an error, said once. */
        end_unsent(s, rc, key == NULL ? "no credential for the provider" : err);
    }
    return rc;
}

/* Starts the waiting streams whose limits allow, oldest first for each key
 * (a key still short holds back its later streams), and waits for the
 * soonest of the others. */
static void queue_run(uv_timer_t *t)
{
    AD_UNUSED(t);
    int64_t soonest = 0, now = ad_wall_ms();
    stream_t *s = qhead;
    while (s != NULL) {
        stream_t *next = s->qnext;
        bool held = false;
        for (stream_t *q = qhead; q != s && !held; q = q->qnext) {
            held = strcmp(q->rl_key, s->rl_key) == 0;
        }
        int64_t w = held ? 0 : ad_rl_try(limits(), s->rl_key, s->est, now);
        if (!held && w == 0) {
            dequeue(s);
            start_stream(s->app, s);
        } else if (w > 0 && (soonest == 0 || w < soonest)) {
            soonest = w;
        }
        s = next;
    }
    if (soonest > 0) {
        uv_timer_start(qtimer, queue_run, (uint64_t)soonest, 0);
    }
}

static void enqueue(ad_app_t *app, stream_t *s)
{
    stream_t **p = &qhead;
    while (*p != NULL) {
        p = &(*p)->qnext;
    }
    *p = s;
    if (qtimer == NULL) {
        qtimer = ad_xcalloc(1, sizeof(*qtimer));
        uv_timer_init(app->loop, qtimer);
    }
    if (!uv_is_active((uv_handle_t *)qtimer)) {
        uv_timer_start(qtimer, queue_run, 0, 0);
    }
}

static void turn_begun(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    stream_t *s = ad_req_data(r);
    if (rc != 0) {
        ad_api_fail(r, rc, "message", NULL);
        stream_free(s);
        return;
    }
    json_t *out = json_pack("{s:s, s:O, s:O, s:b}", "sessionId", ad_req_param(r, "id"),
                            "userMessage", json_object_get(result, "user"), "assistantMessage",
                            json_object_get(result, "assistant"), "queued", s->queued);
    if (s->queued) {
        json_object_set_new(out, "waitMs", json_integer(s->wait_ms));
        publish(s, "stream_queued",
                json_pack("{s:s, s:s, s:I}", "sessionId", s->chat, "messageId", s->msg, "waitMs",
                          (json_int_t)s->wait_ms));
        enqueue(app, s);
        rc = 0;
    } else {
        rc = start_stream(app, s);
    }
    ad_res_json(r, rc == 0 ? 202 : 502, out);
}

static stream_t *stream_new(ad_app_t *app, json_t *chat)
{
    stream_t *s = ad_xcalloc(1, sizeof(*s));
    s->app = app;
    snprintf(s->chat, sizeof(s->chat), "%s", ad_api_jstr(chat, "id"));
    snprintf(s->org, sizeof(s->org), "%s", ad_api_jstr(chat, "orgId"));
    snprintf(s->model, sizeof(s->model), "%s", ad_api_jstr(chat, "model"));
    const char *provider = ad_api_jstr(chat, "provider");
    snprintf(s->provider, sizeof(s->provider), "%s", provider != NULL ? provider : "anthropic");
    ad_id_new("msg", s->msg);
    ad_buf_init(&s->text, ANSWER_MAX);
    ad_buf_init(&s->ev, ANSWER_MAX + 1024);
    s->next = streams;
    streams = s;
    return s;
}

static json_t *provider_body(json_t *chat, json_t *messages)
{
    json_t *t = json_object_get(chat, "temperature");
    json_t *mt = json_object_get(chat, "maxTokens");
    ad_llm_provider_t kind = AD_LLM_ANTHROPIC;
    ad_llm_provider_parse(ad_api_jstr(chat, "provider"), &kind);
    ad_llm_body_t b = {.provider = kind,
                       .model = ad_api_jstr(chat, "model"),
                       .system = ad_api_jstr(chat, "system"),
                       .messages = messages,
                       .temperature = json_number_value(t),
                       .has_temperature = json_is_number(t),
                       .max_tokens = json_is_number(mt) ? (int)json_number_value(mt) : 4096};
    return ad_llm_request_body(&b);
}

/* Charges s's estimate to its limits, or queues it; false after
 * answering 429 (with Retry-After) when its queue is full. */
static bool admit(ad_req_t *r, stream_t *s)
{
    char *text = json_dumps(s->body, JSON_COMPACT);
    s->est = text != NULL ? (int64_t)strlen(text) / 4 + 1 : 1;
    free(text);
    snprintf(s->rl_key, sizeof(s->rl_key), "%s|%s|%s", s->org, s->provider, s->model);
    int64_t now = ad_wall_ms();
    int64_t wait = ad_rl_try(limits(), s->rl_key, s->est, now);
    if (wait == 0) {
        return true;
    }
    int *waiting = ad_rl_waiting(limits(), s->rl_key, now);
    if (waiting == NULL || *waiting >= env_int("AGENTD_LLM_QUEUE", 16)) {
        char secs[32];
        snprintf(secs, sizeof(secs), "%lld", (long long)((wait + 999) / 1000));
        ad_res_header(r, "Retry-After", secs);
        ad_res_error(r, 429, "RATE_LIMITED", json_pack("{s:I}", "retryAfterMs", (json_int_t)wait),
                     "the rate limit of %s is reached and its queue is full", s->model);
        return false;
    }
    (*waiting)++;
    s->queued = true;
    s->wait_ms = wait;
    return true;
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
    if (stream_of(ad_api_jstr(chat, "id")) != NULL) {
        ad_res_error(r, 409, "CONFLICT", NULL, "an answer is still streaming; stop it first");
        goto out;
    }
    const char *provider = ad_api_jstr(chat, "provider");
    provider = provider != NULL ? provider : "anthropic";
    if (ad_api_cred_key(ad_api_jstr(chat, "orgId"), provider) == NULL) {
        ad_res_error(r, 422, "CREDENTIAL_MISSING", json_pack("{s:s}", "provider", provider),
                     "no %s credential for this organisation: PUT /api/credentials/%s", provider,
                     provider);
        goto out;
    }
    stream_t *s = stream_new(app, chat);
    json_t *msgs = history(app, s->chat, content);
    s->body = provider_body(chat, msgs);
    json_decref(msgs);
    if (!admit(r, s)) {
        stream_free(s);
        goto out;
    }
    char uid[AD_ID_MAX];
    ad_id_new("msg", uid);
    ad_req_set_data(r, s);
    ad_api_write(app, r, ad_store_op_chat_turn_begin,
                 json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "chatId", s->chat, "userId", uid,
                           "assistantId", s->msg, "content", content, "model", s->model, "now",
                           (json_int_t)ad_wall_ms()),
                 turn_begun);
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

/* A definition's model: its own (Claude Code's aliases understood), else
 * one for its tier. NULL: keep the default. */
static const char *def_model(json_t *def)
{
    static const char *const alias[][2] = {
        {"sonnet", "claude-sonnet-4-5"}, {"opus", "claude-opus-4-1"},
        {"haiku", "claude-haiku-4-5"},   {"balanced", "claude-sonnet-4-5"},
        {"thorough", "claude-opus-4-1"}, {"fast", "claude-haiku-4-5"}};
    const char *m = ad_api_jstr(def, "model");
    if (m == NULL || strcmp(m, "inherit") == 0) {
        m = ad_api_jstr(def, "tier");
    }
    for (size_t i = 0; m != NULL && i < AD_ARRAY_LEN(alias); i++) {
        if (strcmp(m, alias[i][0]) == 0) {
            return alias[i][1];
        }
    }
    return m != NULL && strncmp(m, "claude-", 7) == 0 ? m : NULL;
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
    const char *model = def_model(def);
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
        json_object_set_new(c, "streaming", json_boolean(stream_of(ad_api_jstr(c, "id")) != NULL));
    }
    ad_res_json(r, 200, json_pack("{s:o}", "chats", rows));
}

/* The messages of a chat are read on the pool (up to 1,000 rows). */
/* An answer in flight shows what has arrived so far. */
static void live_text(const char *chat, json_t *msgs)
{
    stream_t *s = stream_of(chat);
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        if (s != NULL && strcmp(ad_api_jstr(m, "id"), s->msg) == 0 && s->text.len > 0) {
            json_object_set_new(m, "content", json_stringn(s->text.data, s->text.len));
        }
    }
}

static void got_messages(int rc, json_t *page, void *ud)
{
    ad_req_t *r = ud;
    json_t *chat = ad_req_data(r);
    if (rc != 0) {
        json_decref(chat);
        ad_api_fail(r, rc, "messages", NULL);
        return;
    }
    live_text(ad_api_jstr(chat, "id"), json_object_get(page, "messages"));
    json_object_set(chat, "messages", json_object_get(page, "messages"));
    json_object_set(chat, "hasMore", json_object_get(page, "hasMore"));
    json_decref(page);
    ad_res_json(r, 200, chat);
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
                            json_boolean(stream_of(ad_api_jstr(chat, "id")) != NULL));
        ad_req_set_data(r, chat); /* owned until got_messages */
        ad_store_chat_messages_page(app->store, ad_api_jstr(chat, "id"), NULL, PAGE_DEFAULT,
                                    got_messages, r);
    }
}

static void got_page(int rc, json_t *page, void *ud)
{
    ad_req_t *r = ud;
    char *chat = ad_req_data(r);
    if (rc == AD_ENOENT) {
        ad_api_invalid(r, "before", "is not a message of this chat");
    } else if (rc != 0) {
        ad_api_fail(r, rc, "messages", NULL);
    } else {
        live_text(chat, json_object_get(page, "messages"));
        ad_res_json(r, 200, page);
        page = NULL;
    }
    json_decref(page);
    free(chat);
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
    ad_req_set_data(r, ad_xstrdup(ad_api_jstr(chat, "id"))); /* owned until got_page */
    ad_store_chat_messages_page(app->store, ad_api_jstr(chat, "id"), before, (int)limit, got_page,
                                r);
    json_decref(chat);
}

static void stop(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *chat = chat_load(app, r);
    if (chat == NULL) {
        return;
    }
    stream_t *s = stream_of(ad_api_jstr(chat, "id"));
    json_decref(chat);
    if (s == NULL || (s->rq == NULL && !s->queued) || s->stop_req != NULL) {
        ad_res_error(r, 409, "CONFLICT", NULL, "no answer is streaming");
        return;
    }
    s->stop_req = r; /* answered with the stopped message once it is saved */
    if (s->queued) {
        dequeue(s);
        end_unsent(s, AD_ECLOSED, "stopped while it waited for the rate limit");
    } else {
        ad_llm_cancel(s->rq);
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
    stream_t *s = stream_of(ad_api_jstr(chat, "id"));
    if (s != NULL && s->rq != NULL) {
        ad_llm_cancel(s->rq);
    } else if (s != NULL && s->queued) {
        dequeue(s);
        end_unsent(s, AD_ECLOSED, "the chat was deleted");
    }
    ad_api_write(app, r, ad_store_op_chat_delete, json_pack("{s:s}", "id", ad_api_jstr(chat, "id")),
                 deleted);
    json_decref(chat);
}

/* GET /api/ratelimits: the caller's organisation's buckets. */
static void ratelimits(ad_req_t *r, void *ud)
{
    AD_UNUSED(ud);
    const ad_principal_t *who = ad_api_who(r);
    char prefix[AD_ID_MAX + 2] = "";
    if (!who->owner) {
        snprintf(prefix, sizeof(prefix), "%s|", who->org_id);
    }
    json_t *rows = ad_rl_json(limits(), prefix, ad_wall_ms());
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        /* key: [org|]provider|model */
        char key[320];
        snprintf(key, sizeof(key), "%s", ad_api_jstr(row, "key"));
        char *model = strrchr(key, '|');
        if (model != NULL) {
            *model++ = '\0';
            char *provider = strrchr(key, '|');
            json_object_set_new(row, "model", json_string(model));
            json_object_set_new(row, "provider", json_string(provider ? provider + 1 : key));
            if (provider != NULL) {
                *provider = '\0';
                json_object_set_new(row, "orgId", json_string(key));
            }
        }
        json_object_del(row, "key");
    }
    ad_res_json(r, 200,
                json_pack("{s:o, s:I}", "limits", rows, "queueMax",
                          (json_int_t)env_int("AGENTD_LLM_QUEUE", 16)));
}

static void reconciled(int rc, json_t *result, void *ud)
{
    AD_UNUSED(ud);
    if (rc == 0 && json_integer_value(json_object_get(result, "messages")) > 0) {
        ad_log(AD_LOG_INFO, "llm", "answers left streaming marked interrupted n=%lld",
               (long long)json_integer_value(json_object_get(result, "messages")));
    }
    json_decref(result);
}

void ad_api_chats_register(ad_app_t *app)
{
    closing = false;
    ad_api_defs_register(app);
    ad_api_projects_register(app);
    if (app->store != NULL) {
        ad_store_write(app->store, ad_store_op_chats_reconcile,
                       json_pack("{s:I}", "now", (json_int_t)ad_wall_ms()), reconciled, NULL);
    }
    ad_server_route(app->server, "POST", "/api/chats", AD_ACCESS_WRITE, create, app);
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

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void ad_api_chats_close(void)
{
    closing = true;
    ad_api_defwatch_stop();
    ad_llm_free(llm); /* ends every stream: on_end frees them unsaved */
    llm = NULL;
    while (streams != NULL) {
        stream_free(streams); /* queued, or placeholders whose write had not come back */
    }
    if (qtimer != NULL) {
        uv_close((uv_handle_t *)qtimer, timer_closed);
        qtimer = NULL;
    }
    ad_rl_free(rl);
    rl = NULL;
}
