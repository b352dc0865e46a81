/* SPDX-License-Identifier: MIT */
/*
 * The chat engine: the answers streaming now and the rate-limit queue.
 * A turn writes the user's message and a streaming placeholder, then sends
 * the conversation to the provider (src/llm); tokens are published as they
 * come, and the answer, its usage and cost (the model_prices setting), the
 * chat's totals and the usage tables are written together when it ends.
 * A turn its key's buckets cannot take now waits (stream_queued), first
 * come first served. The routes are src/api/chats.c's.
 */
#include "chat/chat.h"

#include "agent/agent.h"
#include "agent/price.h"
#include "store/store.h"
#include "tables/llm.h"
#include "tables/settings.h"
#include "tables/usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX (4 * 1024 * 1024)
#define HISTORY_MAX 200
#define MAX_RETRIES 3
#define STALL_MS_DEFAULT 60000

struct ad_chat_stream {
    struct ad_chat_stream *next;
    ad_chat_t *chat_engine;
    char chat[AD_ID_MAX];
    char msg[AD_ID_MAX];
    char org[AD_ID_MAX];
    char model[128];
    ad_buf_t text;              /* the answer so far */
    ad_buf_t ev;                /* a token's event text, reused (token_event) */
    ad_llm_req_t *rq;           /* NULL until the placeholder is written */
    ad_chat_stopped_cb stop_cb; /* a stop waiting for the answer's write */
    void *stop_ud;
    bool stopping;
    ad_chat_begun_cb begun_cb; /* the turn's first write */
    void *begun_ud;
    json_t *body;                 /* the provider request, until it starts */
    const char *end_type;         /* stream_complete or stream_error, once ended */
    json_t *end_event;            /* published after the answer's write commits */
    char rl_key[320];             /* <org>|<provider>|<model>: its rate-limit buckets */
    char provider[16];            /* anthropic or openai */
    int64_t est;                  /* the input tokens charged before it started */
    struct ad_chat_stream *qnext; /* the wait queue, first come first served */
    bool queued;                  /* waiting for the rate limit */
    int64_t wait_ms;              /* when queued: the wait it was told */
    bool sent;                    /* the request went out (its usage is charged) */
    bool truncated;
    bool stateless; /* no chat row: events and usage only (the seed's call) */
};
typedef struct ad_chat_stream stream_t;

struct ad_chat {
    uv_loop_t *loop;
    struct ad_store *store;
    ad_bus_t *bus;
    ad_creds_t *creds;
    ad_llm_t *llm;
    stream_t *streams;
    stream_t *qhead; /* streams waiting for their rate limit, oldest first */
    uv_timer_t *qtimer;
    ad_rl_t *rl;
    ad_chat_sum_t *sum; /* agents' one-line summaries (summary.c) */
    bool closing;
};

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Limits until the provider says otherwise; AGENTD_LLM_RPM, _ITPM, _OTPM
 * and _QUEUE (requests that may wait per key) change them. */
static int64_t env_int(const char *name, int64_t def)
{
    const char *v = getenv(name);
    long long n = v != NULL ? strtoll(v, NULL, 10) : 0;
    return n > 0 && n <= 100000000 ? n : def;
}

static ad_rl_t *limits(ad_chat_t *c)
{
    if (c->rl == NULL) {
        ad_rl_limits_t d = {.requests = env_int("AGENTD_LLM_RPM", 50),
                            .input_tokens = env_int("AGENTD_LLM_ITPM", 200000),
                            .output_tokens = env_int("AGENTD_LLM_OTPM", 80000)};
        c->rl = ad_rl_new(&d);
    }
    return c->rl;
}

ad_llm_t *ad_chat_llm(ad_chat_t *c)
{
    if (c->llm == NULL) {
        c->llm = ad_llm_new(c->loop);
    }
    return c->llm;
}

/* chat's stream; org NULL: a stored chat's (its id is unique), else a
 * stateless call's of that org (two orgs may use one sessionId). */
static stream_t *stream_of(ad_chat_t *c, const char *chat, const char *org)
{
    for (stream_t *s = c->streams; s != NULL; s = s->next) {
        if (strcmp(s->chat, chat) == 0 &&
            (org == NULL || (s->stateless && strcmp(s->org, org) == 0))) {
            return s;
        }
    }
    return NULL;
}

bool ad_chat_streaming(ad_chat_t *c, const char *chat)
{
    return chat != NULL && stream_of(c, chat, NULL) != NULL;
}

static void dequeue(stream_t *s)
{
    ad_chat_t *c = s->chat_engine;
    for (stream_t **p = &c->qhead; *p != NULL; p = &(*p)->qnext) {
        if (*p == s) {
            *p = s->qnext;
            break;
        }
    }
    if (s->queued) {
        int *w = ad_rl_waiting(limits(c), s->rl_key, ad_wall_ms());
        if (w != NULL && *w > 0) {
            (*w)--;
        }
    }
    s->queued = false;
}

static void stream_free(stream_t *s)
{
    ad_chat_t *c = s->chat_engine;
    dequeue(s);
    for (stream_t **p = &c->streams; *p != NULL; p = &(*p)->next) {
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

/* Publishes type to the chat's topic and its org's. */
static void publish_borrowed(stream_t *s, const char *type, json_t *payload)
{
    char chat[AD_ID_MAX + 8], org[AD_ID_MAX + 8];
    snprintf(chat, sizeof(chat), "chat:%s", s->chat);
    snprintf(org, sizeof(org), s->org[0] ? "org:%s" : "org%s", s->org);
    const char *topics[2] = {chat, org};
    ad_bus_publish(s->chat_engine->bus, type, topics, 2, payload);
}

static void publish(stream_t *s, const char *type, json_t *payload)
{
    publish_borrowed(s, type, payload);
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
        char chat[AD_ID_MAX + 8], org[AD_ID_MAX + 8];
        snprintf(chat, sizeof(chat), "chat:%s", s->chat);
        snprintf(org, sizeof(org), s->org[0] ? "org:%s" : "org%s", s->org);
        const char *topics[2] = {chat, org};
        ad_bus_publish_text(s->chat_engine->bus, type, topics, 2, s->ev.data, s->ev.len);
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
    ad_rl_header(limits(s->chat_engine), s->rl_key, name, value, ad_wall_ms());
}

double ad_chat_cost(ad_chat_t *c, const char *model, const ad_llm_usage_t *u)
{
    json_t *settings = NULL;
    ad_price_t p;
    double cost = 0;
    if (ad_store_settings_get(c->store, &settings) == 0 &&
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
static void end_committed(int rc, json_t *result, void *ud)
{
    stream_t *s = ud;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "llm", "an answer was not saved chat=%s err=%s", s->chat,
               ad_errname(rc));
    }
    publish_borrowed(s, s->end_type, s->end_event);
    if (s->stop_cb != NULL) {
        s->stop_cb(s->stop_ud, rc, rc == 0 ? json_object_get(result, "message") : NULL);
    }
    json_decref(result);
    stream_free(s);
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
    ad_chat_t *c = s->chat_engine;
    s->rq = NULL;
    if (c->closing) {
        stream_free(s); /* the next start marks the answer interrupted */
        return;
    }
    if (s->sent) {
        ad_rl_settle(limits(c), s->rl_key, s->est, &res->stream->usage, ad_wall_ms());
    }
    bool stopped = res->rc == AD_ECLOSED || (res->rc != 0 && s->truncated);
    const char *status = res->rc == 0 ? "complete" : stopped ? "stopped" : "error";
    const char *model = res->stream->model[0] ? res->stream->model : s->model;
    double cost = ad_chat_cost(c, model, &res->stream->usage);
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
    if (s->stateless) {
        /* nothing stored but the usage: the end is said at once */
        if (s->sent) {
            const ad_llm_usage_t *u = &res->stream->usage;
            ad_usage_rec_t rec = {.model = model,
                                  .input_tokens = u->input_tokens,
                                  .output_tokens = u->output_tokens,
                                  .cache_read_tokens = u->cache_read_tokens,
                                  .cache_write_tokens = u->cache_write_tokens,
                                  .cost_usd = cost,
                                  .error = res->rc != 0 && !stopped};
            ad_store_usage_record(c->store, &rec, NULL, NULL);
        }
        publish_borrowed(s, s->end_type, s->end_event);
        if (s->stop_cb != NULL) {
            s->stop_cb(s->stop_ud, 0, NULL);
        }
        stream_free(s);
        return;
    }
    json_t *args = end_args(s, res, status, cost);
    ad_store_write(c->store, ad_store_op_chat_turn_end, args, end_committed, s);
}

/* ---- sending a message ----------------------------------------------------------------- */

/* The conversation the provider gets: the chat's earlier turns that have
 * text, then the new message. New reference. */
static json_t *history(ad_chat_t *c, const char *chat, const char *content)
{
    json_t *msgs = json_array(), *rows = NULL;
    if (ad_store_chat_messages(c->store, chat, HISTORY_MAX, &rows) == 0) {
        size_t i;
        json_t *m;
        json_array_foreach(rows, i, m)
        {
            const char *text = jstr(m, "content");
            if (text != NULL && text[0] != '\0') {
                json_array_append_new(
                    msgs, json_pack("{s:s, s:s}", "role", jstr(m, "role"), "content", text));
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
static int start_stream(ad_chat_t *c, stream_t *s)
{
    const char *key = ad_creds_key(c->creds, s->org, s->provider);
    char base[600], err[256] = "";
    ad_creds_base_url(c->creds, s->org, s->provider, base, sizeof(base));
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
                         : ad_llm_start(ad_chat_llm(c), &spec, &cbs, s, &s->rq, err, sizeof(err));
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
    ad_chat_t *c = t->data;
    int64_t soonest = 0, now = ad_wall_ms();
    stream_t *s = c->qhead;
    while (s != NULL) {
        stream_t *next = s->qnext;
        bool held = false;
        for (stream_t *q = c->qhead; q != s && !held; q = q->qnext) {
            held = strcmp(q->rl_key, s->rl_key) == 0;
        }
        int64_t w = held ? 0 : ad_rl_try(limits(c), s->rl_key, s->est, now);
        if (!held && w == 0) {
            dequeue(s);
            start_stream(c, s);
        } else if (w > 0 && (soonest == 0 || w < soonest)) {
            soonest = w;
        }
        s = next;
    }
    if (soonest > 0) {
        uv_timer_start(c->qtimer, queue_run, (uint64_t)soonest, 0);
    }
}

static void enqueue(ad_chat_t *c, stream_t *s)
{
    stream_t **p = &c->qhead;
    while (*p != NULL) {
        p = &(*p)->qnext;
    }
    *p = s;
    if (c->qtimer == NULL) {
        c->qtimer = ad_xcalloc(1, sizeof(*c->qtimer));
        uv_timer_init(c->loop, c->qtimer);
        c->qtimer->data = c;
    }
    if (!uv_is_active((uv_handle_t *)c->qtimer)) {
        uv_timer_start(c->qtimer, queue_run, 0, 0);
    }
}

static json_t *provider_body(json_t *chat, json_t *messages)
{
    json_t *t = json_object_get(chat, "temperature");
    json_t *mt = json_object_get(chat, "maxTokens");
    ad_llm_provider_t kind = AD_LLM_ANTHROPIC;
    ad_llm_provider_parse(jstr(chat, "provider"), &kind);
    ad_llm_body_t b = {.provider = kind,
                       .model = jstr(chat, "model"),
                       .system = jstr(chat, "system"),
                       .messages = messages,
                       .temperature = json_number_value(t),
                       .has_temperature = json_is_number(t),
                       .max_tokens = json_is_number(mt) ? (int)json_number_value(mt) : 4096};
    return ad_llm_request_body(&b);
}

static void turn_begun(int rc, json_t *result, void *ud)
{
    stream_t *s = ud;
    ad_chat_begun_cb cb = s->begun_cb;
    void *cb_ud = s->begun_ud;
    bool queued = s->queued;
    int64_t wait_ms = s->wait_ms;
    if (rc != 0) {
        stream_free(s);
        cb(cb_ud, rc, NULL, false, 0);
        json_decref(result);
        return;
    }
    if (queued) {
        publish(s, "stream_queued",
                json_pack("{s:s, s:s, s:I}", "sessionId", s->chat, "messageId", s->msg, "waitMs",
                          (json_int_t)wait_ms));
        enqueue(s->chat_engine, s);
    } else {
        rc = start_stream(s->chat_engine, s);
    }
    cb(cb_ud, rc, result, queued, wait_ms);
    json_decref(result);
}

/* A stream for spec's chat (its id, org, model and provider), listed in
 * the engine; the caller sets its body. */
static stream_t *stream_new(ad_chat_t *c, json_t *spec)
{
    stream_t *s = ad_xcalloc(1, sizeof(*s));
    s->chat_engine = c;
    snprintf(s->chat, sizeof(s->chat), "%s", jstr(spec, "id"));
    snprintf(s->org, sizeof(s->org), "%s", jstr(spec, "orgId"));
    snprintf(s->model, sizeof(s->model), "%s", jstr(spec, "model"));
    const char *provider = jstr(spec, "provider");
    snprintf(s->provider, sizeof(s->provider), "%s", provider != NULL ? provider : "anthropic");
    ad_id_new("msg", s->msg);
    ad_buf_init(&s->text, ANSWER_MAX);
    ad_buf_init(&s->ev, ANSWER_MAX + 1024);
    s->next = c->streams;
    c->streams = s;
    return s;
}

ad_chat_stream_t *ad_chat_turn_new(ad_chat_t *c, json_t *chat, const char *content)
{
    AD_ASSERT_LOOP();
    stream_t *s = stream_new(c, chat);
    json_t *msgs = history(c, s->chat, content);
    s->body = provider_body(chat, msgs);
    json_decref(msgs);
    return s;
}

ad_chat_stream_t *ad_chat_stateless_new(ad_chat_t *c, json_t *spec, json_t *messages)
{
    AD_ASSERT_LOOP();
    stream_t *s = stream_new(c, spec);
    s->stateless = true;
    s->body = provider_body(spec, messages);
    return s;
}

int ad_chat_stateless_begin(ad_chat_stream_t *s, char message_id[AD_ID_MAX])
{
    snprintf(message_id, AD_ID_MAX, "%s", s->msg);
    if (s->queued) {
        publish(s, "stream_queued",
                json_pack("{s:s, s:s, s:I}", "sessionId", s->chat, "messageId", s->msg, "waitMs",
                          (json_int_t)s->wait_ms));
        enqueue(s->chat_engine, s);
        return 0;
    }
    return start_stream(s->chat_engine, s);
}

int ad_chat_turn_admit(ad_chat_stream_t *s, int64_t *wait_ms)
{
    ad_chat_t *c = s->chat_engine;
    char *text = json_dumps(s->body, JSON_COMPACT);
    s->est = text != NULL ? (int64_t)strlen(text) / 4 + 1 : 1;
    free(text);
    snprintf(s->rl_key, sizeof(s->rl_key), "%s|%s|%s", s->org, s->provider, s->model);
    int64_t now = ad_wall_ms();
    int64_t wait = ad_rl_try(limits(c), s->rl_key, s->est, now);
    *wait_ms = wait;
    if (wait == 0) {
        return 0;
    }
    int *waiting = ad_rl_waiting(limits(c), s->rl_key, now);
    if (waiting == NULL || *waiting >= ad_chat_queue_max()) {
        return AD_EBUSY;
    }
    (*waiting)++;
    s->queued = true;
    s->wait_ms = wait;
    return 0;
}

void ad_chat_turn_drop(ad_chat_stream_t *s)
{
    stream_free(s);
}

void ad_chat_turn_begin(ad_chat_stream_t *s, const char *content, ad_chat_begun_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    char uid[AD_ID_MAX];
    ad_id_new("msg", uid);
    s->begun_cb = cb;
    s->begun_ud = ud;
    ad_store_write(s->chat_engine->store, ad_store_op_chat_turn_begin,
                   json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "chatId", s->chat, "userId", uid,
                             "assistantId", s->msg, "content", content, "model", s->model, "now",
                             (json_int_t)ad_wall_ms()),
                   turn_begun, s);
}

int64_t ad_chat_queue_max(void)
{
    return env_int("AGENTD_LLM_QUEUE", 16);
}

/* ---- reads, stops ----------------------------------------------------------------------- */

void ad_chat_live_text(ad_chat_t *c, const char *chat, json_t *msgs)
{
    stream_t *s = stream_of(c, chat, NULL);
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        if (s != NULL && strcmp(jstr(m, "id"), s->msg) == 0 && s->text.len > 0) {
            json_object_set_new(m, "content", json_stringn(s->text.data, s->text.len));
        }
    }
}

void ad_chat_mark_streaming(ad_chat_t *c, json_t *rows)
{
    size_t i;
    json_t *row;
    if (json_is_object(rows)) {
        json_object_set_new(rows, "streaming",
                            json_boolean(ad_chat_streaming(c, jstr(rows, "id"))));
    }
    json_array_foreach(rows, i, row)
    {
        json_object_set_new(row, "streaming", json_boolean(ad_chat_streaming(c, jstr(row, "id"))));
    }
}

/* A page read on the pool for ad_chat_messages. */
typedef struct {
    ad_chat_t *c;
    json_t *row; /* GET /api/chats/:id: the chat the page goes into */
    char id[AD_ID_MAX];
    ad_chat_read_cb cb;
    void *ud;
} page_read_t;

static void page_read(int rc, json_t *page, void *ud)
{
    page_read_t *q = ud;
    json_t *out = NULL;
    if (rc == 0) {
        ad_chat_live_text(q->c, q->id, json_object_get(page, "messages"));
        if (q->row != NULL) {
            json_object_set(q->row, "messages", json_object_get(page, "messages"));
            json_object_set(q->row, "hasMore", json_object_get(page, "hasMore"));
            out = json_incref(q->row);
        } else {
            out = json_incref(page);
        }
    }
    json_decref(page);
    json_decref(q->row);
    q->cb(rc, out, q->ud);
    free(q);
}

void ad_chat_messages(ad_chat_t *c, json_t *row, const char *chat_id, const char *before, int limit,
                      ad_chat_read_cb cb, void *ud)
{
    page_read_t *q = ad_xcalloc(1, sizeof(*q));
    *q = (page_read_t){.c = c, .row = row, .cb = cb, .ud = ud};
    snprintf(q->id, sizeof(q->id), "%s", chat_id);
    if (row != NULL) {
        /* Said before the read: an answer that ends during it is committed
         * before its stream goes, so "not streaming" means the rows read
         * hold the saved answer. */
        ad_chat_mark_streaming(c, row);
    }
    ad_store_chat_messages_page(c->store, q->id, before, limit, page_read, q);
}

static int stop_stream(stream_t *s, ad_chat_stopped_cb cb, void *ud)
{
    if (s == NULL || (s->rq == NULL && !s->queued) || s->stop_cb != NULL) {
        return AD_ENOENT;
    }
    s->stop_cb = cb; /* called with the stopped message once it is saved */
    s->stop_ud = ud;
    if (s->queued) {
        dequeue(s);
        end_unsent(s, AD_ECLOSED, "stopped while it waited for the rate limit");
    } else {
        ad_llm_cancel(s->rq);
    }
    return 0;
}

int ad_chat_stop(ad_chat_t *c, const char *chat, ad_chat_stopped_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    return stop_stream(stream_of(c, chat, NULL), cb, ud);
}

bool ad_chat_session_streaming(ad_chat_t *c, const char *org, const char *session)
{
    return stream_of(c, session, org) != NULL;
}

int ad_chat_session_stop(ad_chat_t *c, const char *org, const char *session, ad_chat_stopped_cb cb,
                         void *ud)
{
    AD_ASSERT_LOOP();
    return stop_stream(stream_of(c, session, org), cb, ud);
}

void ad_chat_cancel(ad_chat_t *c, const char *chat)
{
    AD_ASSERT_LOOP();
    stream_t *s = stream_of(c, chat, NULL);
    if (s != NULL && s->rq != NULL) {
        ad_llm_cancel(s->rq);
    } else if (s != NULL && s->queued) {
        dequeue(s);
        end_unsent(s, AD_ECLOSED, "the chat was deleted");
    }
}

json_t *ad_chat_limits(ad_chat_t *c, const char *prefix)
{
    json_t *rows = ad_rl_json(limits(c), prefix, ad_wall_ms());
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        /* key: [org|]provider|model */
        char key[320];
        snprintf(key, sizeof(key), "%s", jstr(row, "key"));
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
    return rows;
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

ad_chat_t *ad_chat_new(uv_loop_t *loop, struct ad_store *store, ad_bus_t *bus, ad_creds_t *creds)
{
    ad_chat_t *c = ad_xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->store = store;
    c->bus = bus;
    c->creds = creds;
    if (store != NULL) {
        ad_store_write(store, ad_store_op_chats_reconcile,
                       json_pack("{s:I}", "now", (json_int_t)ad_wall_ms()), reconciled, NULL);
        c->sum = ad_chat_sum_new(c, loop, store, bus, creds);
    }
    return c;
}

static void timer_closed(uv_handle_t *h)
{
    free(h);
}

void ad_chat_free(ad_chat_t *c)
{
    if (c == NULL) {
        return;
    }
    c->closing = true;
    ad_chat_sum_free(c->sum); /* its requests cancelled before the client goes */
    c->sum = NULL;
    ad_llm_free(c->llm); /* ends every stream: on_end frees them unsaved */
    c->llm = NULL;
    while (c->streams != NULL) {
        stream_free(c->streams); /* queued, or placeholders whose write had not come back */
    }
    if (c->qtimer != NULL) {
        uv_close((uv_handle_t *)c->qtimer, timer_closed);
        c->qtimer = NULL;
    }
    ad_rl_free(c->rl);
    free(c);
}

json_t *ad_chat_limits_of(ad_chat_t *c, const char *org)
{
    char prefix[AD_ID_MAX + 2] = "";
    if (org != NULL && org[0] != '\0') {
        snprintf(prefix, sizeof(prefix), "%s|", org);
    }
    return json_pack("{s:o, s:I}", "limits", ad_chat_limits(c, prefix), "queueMax",
                     (json_int_t)ad_chat_queue_max());
}

void ad_chat_summaries_stop(ad_chat_t *c)
{
    if (c != NULL) {
        ad_chat_sum_stop(c->sum);
    }
}

void ad_chat_summary_stats(const ad_chat_t *c, ad_chat_sum_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (c != NULL) {
        ad_chat_sum_stats(c->sum, out);
    }
}
