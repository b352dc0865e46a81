/* SPDX-License-Identifier: MIT */
/*
 * The exporter: a bus subscriber to every run, agent and workspace
 * event, the spans they end (spans.c) queued for two sinks, flushed once a
 * second: the store (a run's spans in one write; received ones join them,
 * recv.c) and, with --otlp-endpoint, the collector (one OTLP/HTTP JSON
 * request at a time, on the thread pool).
 */
#include "llm/llm.h"
#include "otel/otel_int.h"
#include "tables/spans.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OTEL_BATCH_MAX 2000
#define OTEL_FLUSH_MS 1000
#define OTEL_POST_TIMEOUT_MS 10000

typedef struct {
    uv_work_t work;
    ad_otel_t *o;
    char *body;
    size_t nspans;
    int rc;
    long status;
    char err[256];
} post_t;

static void queue_span(ad_otel_t *o, json_t *s)
{
    if (json_array_size(o->pending) >= OTEL_PENDING_MAX) {
        json_array_remove(o->pending, 0);
        o->dropped++;
    }
    json_array_append(o->pending, s);
}

void ad_otel_keep(ad_otel_t *o, const char *run_id, const char *source, json_t *span)
{
    if (o->store == NULL || run_id == NULL || span == NULL) {
        json_decref(span);
        return;
    }
    if (o->nkeep >= OTEL_PENDING_MAX) {
        json_decref(span);
        o->dropped++;
        return;
    }
    char key[AD_ID_MAX + 8];
    snprintf(key, sizeof(key), "%s/%s", source, run_id);
    json_t *list = json_object_get(o->keep, key);
    if (list == NULL) {
        list = json_array();
        json_object_set_new(o->keep, key, list);
    }
    json_array_append_new(list, span);
    o->nkeep++;
}

static int deliver(void *ud, const ad_bus_event_t *ev)
{
    ad_otel_t *o = ud;
    const char *type = ad_bus_event_type(ev);
    if (strcmp(type, "run_ended") != 0 && strcmp(type, "run_started") != 0 &&
        strncmp(type, "tool_", 5) != 0 && strcmp(type, "approval_decided") != 0 &&
        strcmp(type, "agent_status") != 0 && strcmp(type, "git_operation") != 0) {
        return 0;
    }
    if (ad_bus_event_remote(ev)) {
        return 0; /* another plane's run: that plane exports and keeps its spans */
    }
    size_t len;
    const char *text = ad_bus_event_payload_text(ev, &len);
    json_t *p = json_loadb(text, len, 0, NULL);
    json_t *spans = json_array();
    if (p != NULL) {
        ad_otel_spans_of(type, p, ad_bus_event_ts_ms(ev), o->open, spans);
    }
    size_t i;
    json_t *s;
    json_array_foreach(spans, i, s)
    {
        if (o->url[0] != '\0') {
            queue_span(o, s);
        }
        const char *run = ad_otel_span_run(s);
        if (run != NULL) {
            ad_otel_keep(o, run, "agentd", ad_otel_store_form(s, "agentd"));
        }
    }
    json_decref(spans);
    json_decref(p);
    return 0;
}

static void overflow(void *ud, uint64_t last_seq)
{
    AD_UNUSED(ud);
    AD_UNUSED(last_seq);
}

static const ad_bus_sub_ops_t ops = {.deliver = deliver, .overflow = overflow};

/* The OTLP request body of spans (borrowed). */
static char *body_of(json_t *spans)
{
    json_t *req =
        json_pack("{s:[{s:{s:[{s:s, s:{s:s}}]}, s:[{s:{s:s, s:s}, s:O}]}]}", "resourceSpans",
                  "resource", "attributes", "key", "service.name", "value", "stringValue", "agentd",
                  "scopeSpans", "scope", "name", "agentd", "version", AD_VERSION, "spans", spans);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    return text;
}

static void post_work(uv_work_t *w)
{
    post_t *p = w->data;
    ad_buf_t answer;
    ad_buf_init(&answer, 4096);
    ad_fetch_t f = {.method = "POST",
                    .url = p->o->url,
                    .headers = (const char *const *)p->o->headers,
                    .body = p->body,
                    .timeout_ms = OTEL_POST_TIMEOUT_MS};
    p->rc = ad_llm_fetch(&f, &p->status, &answer, p->err, sizeof(p->err));
    ad_buf_cleanup(&answer);
}

static void free_otel(ad_otel_t *o);

static void post_done(uv_work_t *w, int status)
{
    post_t *p = w->data;
    ad_otel_t *o = p->o;
    o->posting = false;
    if (status != 0 || p->rc != 0 || p->status < 200 || p->status >= 300) {
        o->dropped += p->nspans;
        ad_log(AD_LOG_WARN, "otel", "spans not accepted url=%s status=%ld error=%s count=%zu",
               o->url, p->status, p->rc != 0 ? p->err : "-", p->nspans);
    } else {
        o->sent += p->nspans;
    }
    free(p->body);
    free(p);
    if (o->closing) {
        free_otel(o);
    }
}

/* Posts up to OTEL_BATCH_MAX pending spans, unless a post is out. */
static void post(ad_otel_t *o)
{
    size_t n = json_array_size(o->pending);
    if (o->posting || n == 0) {
        return;
    }
    n = n < OTEL_BATCH_MAX ? n : OTEL_BATCH_MAX;
    json_t *batch = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append(batch, json_array_get(o->pending, i));
    }
    for (size_t i = 0; i < n; i++) {
        json_array_remove(o->pending, 0);
    }
    post_t *p = ad_xcalloc(1, sizeof(*p));
    p->o = o;
    p->nspans = n;
    p->body = body_of(batch);
    json_decref(batch);
    p->work.data = p;
    if (p->body == NULL || uv_queue_work(o->loop, &p->work, post_work, post_done) != 0) {
        o->dropped += n;
        free(p->body);
        free(p);
        return;
    }
    o->posting = true;
}

static void kept(int rc, json_t *result, void *ud)
{
    AD_UNUSED(ud);
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "otel", "spans not kept error=%s", ad_strerror(rc));
    }
    json_decref(result);
}

/* Each run's pending spans, one write a run and source. */
static void keep_flush(ad_otel_t *o)
{
    const char *key;
    json_t *list;
    json_object_foreach(o->keep, key, list)
    {
        const char *slash = strchr(key, '/');
        char source[16];
        snprintf(source, sizeof(source), "%.*s", (int)(slash - key), key);
        ad_store_write(o->store, ad_store_op_run_spans_insert,
                       json_pack("{s:s, s:s, s:i, s:O}", "runId", slash + 1, "source", source,
                                 "max", AD_OTEL_RUN_SPANS_MAX, "spans", list),
                       kept, NULL);
    }
    json_object_clear(o->keep);
    o->nkeep = 0;
}

static void on_timer(uv_timer_t *t)
{
    ad_otel_t *o = t->data;
    post(o);
    if (o->store != NULL) {
        keep_flush(o);
    }
}

/* "Name=value,..." into "Name: value" headers; false on a bad one. */
static bool parse_headers(ad_otel_t *o, const char *list)
{
    o->headers[0] = ad_xstrdup("Content-Type: application/json");
    size_t n = 1;
    char copy[1024];
    snprintf(copy, sizeof(copy), "%s", list != NULL ? list : "");
    char *save = NULL;
    for (char *h = strtok_r(copy, ",", &save); h != NULL; h = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(h, '=');
        if (eq == NULL || eq == h || n > OTEL_HEADERS_MAX || strpbrk(h, "\r\n:") != NULL) {
            return false;
        }
        *eq = '\0';
        size_t len = strlen(h) + strlen(eq + 1) + 3;
        o->headers[n] = ad_xmalloc(len);
        snprintf(o->headers[n], len, "%s: %s", h, eq + 1);
        n++;
    }
    o->headers[n] = NULL;
    return true;
}

static void free_otel(ad_otel_t *o)
{
    for (size_t i = 0; o->headers[i] != NULL; i++) {
        free(o->headers[i]);
    }
    json_decref(o->pending);
    json_decref(o->open);
    json_decref(o->keep);
    memset(o->key, 0, sizeof(o->key));
    free(o);
}

ad_otel_t *ad_otel_new(uv_loop_t *loop, ad_bus_t *bus, ad_store_t *store, const char *data_dir,
                       const char *endpoint, const char *headers, char *why, size_t whysz)
{
    size_t n = strlen(endpoint);
    while (n > 0 && endpoint[n - 1] == '/') {
        n--;
    }
    if (n > 0 && ((strncmp(endpoint, "http://", 7) != 0 && strncmp(endpoint, "https://", 8) != 0) ||
                  n >= 1024)) {
        snprintf(why, whysz, "--otlp-endpoint must be an http or https URL");
        return NULL;
    }
    if (n > 0 && !ad_llm_fetch_ready(why, whysz)) {
        return NULL;
    }
    ad_otel_t *o = ad_xcalloc(1, sizeof(*o));
    if (!parse_headers(o, headers)) {
        free_otel(o);
        snprintf(why, whysz,
                 "the OTLP headers (--otlp-headers-file, OTEL_EXPORTER_OTLP_HEADERS) must be "
                 "Name=value pairs, comma-separated");
        return NULL;
    }
    if (data_dir != NULL && ad_otel_key_load(o, data_dir, why, whysz) != 0) {
        free_otel(o);
        return NULL;
    }
    if (n > 0) {
        snprintf(o->url, sizeof(o->url), "%.*s/v1/traces", (int)n, endpoint);
    }
    o->loop = loop;
    o->store = store;
    o->pending = json_array();
    o->open = json_object();
    o->keep = json_object();
    o->sub = ad_bus_sub_new(bus, &ops, o, 0);
    static const char *const topics[] = {"run:*", "agent:*", "workspace:*"};
    ad_bus_subscribe(o->sub, topics, 3, false, 0);
    uv_timer_init(loop, &o->timer);
    o->timer.data = o;
    uv_timer_start(&o->timer, on_timer, OTEL_FLUSH_MS, OTEL_FLUSH_MS);
    uv_unref((uv_handle_t *)&o->timer);
    return o;
}

void ad_otel_counts(const ad_otel_t *o, uint64_t *sent, uint64_t *dropped)
{
    *sent = o != NULL ? o->sent : 0;
    *dropped = o != NULL ? o->dropped : 0;
}

static void timer_closed(uv_handle_t *h)
{
    ad_otel_t *o = h->data;
    if (!o->posting) {
        free_otel(o);
    } else {
        o->closing = true; /* post_done frees it */
    }
}

void ad_otel_store_close(ad_otel_t *o)
{
    if (o == NULL || o->store == NULL) {
        return;
    }
    keep_flush(o);
    o->store = NULL; /* ad_otel_keep drops what comes later */
}

void ad_otel_close(ad_otel_t *o)
{
    if (o == NULL) {
        return;
    }
    ad_bus_sub_free(o->sub);
    post(o);
    ad_otel_store_close(o);
    json_object_clear(o->keep);
    uv_close((uv_handle_t *)&o->timer, timer_closed);
}
