/* SPDX-License-Identifier: MIT */
/*
 * push: the engine. It follows every org's events on the bus, turns the
 * few that need a person (an approval requested, a turn that waits, a run
 * failed, a goal met) into a short message, and queues one delivery per
 * subscription of the event's org. A delivery is encrypted and posted on
 * the thread pool (src/llm's fetch); 2xx is done, 404 or 410 deletes the
 * subscription (the browser dropped it), 429, 5xx and an unreachable
 * service are tried again after 1, 2, 4 s (AD_PUSH_TRIES in all), any
 * other answer fails. At most QUEUE_MAX deliveries wait at once: past it
 * a message is dropped and counted.
 */
#include "push/push_int.h"

#include "bus/bus.h"
#include "llm/llm.h"
#include "store/store.h"
#include "tables/agents.h"
#include "tables/push.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUEUE_MAX 512
#define BACKOFF_MS 1000

typedef struct delivery {
    struct delivery *next;
    ad_push_t *p;
    uv_work_t work;
    uv_timer_t retry;
    char sub_id[AD_ID_MAX];
    char endpoint[1100];
    uint8_t ua_pub[65], auth[16];
    char *payload; /* the JSON text the service worker reads */
    ad_buf_t body; /* encrypted once, on the first try */
    int tries, rc;
    long status;
    char err[256];
} delivery_t;

/* The key's offer stored (the first offer of any plane wins): the one
 * stored is the key; the requests that waited run again. */
static void offered(int rc, json_t *result, void *ud)
{
    ad_push_t *p = ud;
    const char *text = json_string_value(json_object_get(result, "secret"));
    p->offering = false;
    if (rc == 0 && text != NULL && ad_push_key_parse(text, &p->key) == 0) {
        p->key_ok = true;
    } else {
        memset(&p->key, 0, sizeof(p->key));
        ad_log(AD_LOG_WARN, "push", "the VAPID key could not be stored err=%s",
               ad_strerror(rc != 0 ? rc : AD_EINVAL));
    }
    if (result != NULL && text != NULL) {
        memset((char *)text, 0, strlen(text)); /* jansson's copy of the secret */
    }
    json_decref(result);
    if (p->closing) {
        if (p->queued == 0) {
            free(p);
        }
        return;
    }
    size_t n = p->nwaiters;
    ad_push_waiter_t w[AD_PUSH_KEY_WAITERS];
    memcpy(w, p->waiters, n * sizeof(w[0]));
    p->nwaiters = 0;
    for (size_t i = 0; i < n; i++) {
        w[i].fn(w[i].r, w[i].ud);
    }
}

/* This plane's key (its file's, made when missing) offered to the
 * database. 0, or the file's error with err. */
static int offer(ad_push_t *p, char *err, size_t errsz)
{
    ad_push_key_t mine;
    char text[200];
    int rc = ad_push_key_load(p->cfg->data_dir, &mine, err, errsz);
    if (rc != 0) {
        return rc;
    }
    ad_push_key_text(&mine, text, sizeof(text));
    memset(&mine, 0, sizeof(mine));
    p->offering = true;
    ad_store_write(p->store, ad_store_op_push_vapid_offer,
                   json_pack("{s:s, s:I}", "secret", text, "now", (json_int_t)ad_wall_ms()),
                   offered, p);
    memset(text, 0, sizeof(text));
    return 0;
}

const ad_push_key_t *ad_push_key(ad_push_t *p, char *err, size_t errsz)
{
    if (p == NULL) {
        snprintf(err, errsz, "push is not running");
        return NULL;
    }
    if (p->key_ok) {
        return &p->key;
    }
    char text[256], why[300];
    int rc = ad_store_push_vapid_get(p->store, text, sizeof(text));
    if (rc == 0 && ad_push_key_parse(text, &p->key) == 0) {
        p->key_ok = true;
    } else if (rc == 0) {
        snprintf(err, errsz, "the database's VAPID key is damaged");
    } else if (rc != AD_ENOENT) {
        snprintf(err, errsz, "the VAPID key could not be read: %s", ad_strerror(rc));
    } else if (!p->offering && !p->stopped && (rc = offer(p, why, sizeof(why))) != 0) {
        snprintf(err, errsz, "%s", why);
        ad_log(AD_LOG_WARN, "push", "no VAPID key error=\"%s\"", why);
    } else {
        snprintf(err, errsz, "the VAPID key is being stored");
    }
    memset(text, 0, sizeof(text));
    return p->key_ok ? &p->key : NULL;
}

bool ad_push_key_pending(const ad_push_t *p)
{
    return p != NULL && p->offering;
}

void ad_push_key_later(ad_push_t *p, ad_req_t *r, ad_handler_cb fn, void *ud)
{
    if (p->nwaiters >= AD_PUSH_KEY_WAITERS) {
        ad_res_header(r, "Retry-After", "1");
        ad_res_error(r, 503, "UNAVAILABLE", NULL, "the VAPID key is being stored: retry");
        return;
    }
    p->waiters[p->nwaiters++] = (ad_push_waiter_t){.r = r, .fn = fn, .ud = ud};
}

void ad_push_stats(const ad_push_t *p, ad_push_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (p != NULL) {
        *out = p->stats;
    }
}

/* ---- deliveries ------------------------------------------------------------------- */

static void on_closed(uv_handle_t *h)
{
    delivery_t *d = h->data;
    ad_push_t *p = d->p;
    for (delivery_t **pp = &p->queue; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    p->queued--;
    ad_buf_cleanup(&d->body);
    free(d->payload);
    free(d);
    if (p->queued == 0 && p->closing && !p->offering) {
        free(p);
    }
}

static void ended(int rc, json_t *result, void *ud)
{
    AD_UNUSED(ud);
    json_decref(result);
    if (rc != 0 && rc != AD_ENOENT) {
        ad_log(AD_LOG_WARN, "push", "subscription not updated err=%s", ad_strerror(rc));
    }
}

static void send_work(uv_work_t *w)
{
    delivery_t *d = w->data;
    ad_push_t *p = d->p;
    d->status = 0;
    d->err[0] = '\0';
    d->rc = 0;
    if (d->body.len == 0) {
        d->rc = ad_push_encrypt(d->ua_pub, d->auth, d->payload, strlen(d->payload), &d->body,
                                d->err, sizeof(d->err));
        if (d->rc != 0) {
            return;
        }
    }
    char auth[1800] = "Authorization: ";
    d->rc = ad_push_vapid_auth(&p->key, d->endpoint, p->cfg->push_subject, ad_wall_ms() / 1000,
                               auth + 15, sizeof(auth) - 15, d->err, sizeof(d->err));
    if (d->rc != 0) {
        return;
    }
    const char *headers[] = {auth,
                             "Content-Encoding: aes128gcm",
                             "Content-Type: application/octet-stream",
                             "TTL: 86400",
                             "Urgency: high",
                             NULL};
    ad_fetch_t f = {.method = "POST",
                    .url = d->endpoint,
                    .headers = headers,
                    .body = (const char *)d->body.data,
                    .body_len = d->body.len,
                    .timeout_ms = 10000};
    ad_buf_t out;
    ad_buf_init(&out, 4096);
    d->rc = ad_llm_fetch(&f, &d->status, &out, d->err, sizeof(d->err));
    ad_buf_cleanup(&out);
}

static void send_start(delivery_t *d);

static void on_retry(uv_timer_t *t)
{
    send_start(t->data);
}

/* The subscription's last outcome, unless the store is stopping. */
static void mark(delivery_t *d, bool ok)
{
    if (d->p->stopped) {
        return;
    }
    json_t *args = json_pack("{s:s, s:b, s:s, s:I}", "id", d->sub_id, "ok", ok, "error", d->err,
                             "now", (json_int_t)ad_wall_ms());
    ad_store_write(d->p->store, ad_store_op_push_mark, args, ended, NULL);
}

static void send_after(uv_work_t *w, int status)
{
    delivery_t *d = w->data;
    ad_push_t *p = d->p;
    d->tries++;
    if (status == UV_ECANCELED || p->closing) {
        uv_close((uv_handle_t *)&d->retry, on_closed);
        return;
    }
    long s = d->status;
    if (d->rc == 0 && s >= 200 && s <= 299) {
        p->stats.sent++;
        mark(d, true);
    } else if (d->rc == 0 && (s == 404 || s == 410)) {
        p->stats.gone++;
        ad_log(AD_LOG_INFO, "push", "subscription gone sub=%s status=%ld", d->sub_id, s);
        if (!p->stopped) {
            ad_store_write(p->store, ad_store_op_push_delete, json_pack("{s:s}", "id", d->sub_id),
                           ended, NULL);
        }
    } else {
        bool again = (d->rc == AD_EIO && d->status == 0) || s == 429 || s >= 500;
        if (d->rc == 0) {
            snprintf(d->err, sizeof(d->err), "the push service answered %ld", s);
        }
        if (again && d->tries < AD_PUSH_TRIES && !p->stopped) {
            p->stats.retried++;
            uv_timer_start(&d->retry, on_retry, (uint64_t)BACKOFF_MS << (d->tries - 1), 0);
            return;
        }
        p->stats.failed++;
        ad_log(AD_LOG_WARN, "push", "push failed sub=%s tries=%d err=\"%s\"", d->sub_id, d->tries,
               d->err);
        mark(d, false);
    }
    uv_close((uv_handle_t *)&d->retry, on_closed);
}

static void send_start(delivery_t *d)
{
    if (uv_queue_work(d->p->loop, &d->work, send_work, send_after) != 0) {
        d->rc = AD_EINTERNAL;
        snprintf(d->err, sizeof(d->err), "cannot queue the push");
        d->p->stats.failed++;
        uv_close((uv_handle_t *)&d->retry, on_closed);
    }
}

/* One delivery of payload to the subscription sub ({id, endpoint, p256dh,
 * auth}); the payload is copied. */
static void enqueue(ad_push_t *p, json_t *sub, const char *payload)
{
    const char *endpoint = json_string_value(json_object_get(sub, "endpoint"));
    const char *k = json_string_value(json_object_get(sub, "p256dh"));
    const char *a = json_string_value(json_object_get(sub, "auth"));
    const char *id = json_string_value(json_object_get(sub, "id"));
    if (p->queued >= QUEUE_MAX) {
        p->stats.dropped++;
        ad_log(AD_LOG_WARN, "push", "push dropped: %d waiting sub=%s", QUEUE_MAX, id);
        return;
    }
    delivery_t *d = ad_xcalloc(1, sizeof(*d));
    d->p = p;
    if (endpoint == NULL || k == NULL || a == NULL || id == NULL ||
        strlen(endpoint) >= sizeof(d->endpoint) ||
        ad_push_b64url_decode(k, d->ua_pub, sizeof(d->ua_pub)) != 65 ||
        ad_push_b64url_decode(a, d->auth, sizeof(d->auth)) != 16) {
        free(d);
        p->stats.failed++;
        return;
    }
    snprintf(d->endpoint, sizeof(d->endpoint), "%s", endpoint);
    snprintf(d->sub_id, sizeof(d->sub_id), "%s", id);
    d->payload = ad_xstrdup(payload);
    ad_buf_init(&d->body, AD_PUSH_PAYLOAD_MAX + 200);
    d->work.data = d;
    uv_timer_init(p->loop, &d->retry);
    d->retry.data = d;
    d->next = p->queue;
    p->queue = d;
    p->queued++;
    send_start(d);
}

/* ---- messages ------------------------------------------------------------------------ */

/* Sends msg (built by text.c's helpers) to every subscription of org; an
 * approval's gets, per subscription, its own action token. */
void ad_push_send(ad_push_t *p, const char *org, json_t *msg, const char *approval_id)
{
    char err[300];
    json_t *subs = NULL;
    /* nobody subscribed: nothing is loaded (no OpenSSL, no libcurl) */
    if (ad_store_push_targets(p->store, org, &subs) != 0 || json_array_size(subs) == 0 ||
        ad_push_key(p, err, sizeof(err)) == NULL) {
        json_decref(subs);
        return;
    }
    if (!p->fetch_ok && !(p->fetch_ok = ad_llm_fetch_ready(err, sizeof(err)))) {
        ad_log(AD_LOG_WARN, "push", "cannot send pushes error=\"%s\"", err);
        json_decref(subs);
        return;
    }
    size_t i;
    json_t *sub;
    json_array_foreach(subs, i, sub)
    {
        if (approval_id != NULL) {
            char tok[AD_PUSH_TOKEN_MAX];
            ad_push_action_token(&p->key, approval_id,
                                 json_string_value(json_object_get(sub, "id")),
                                 ad_wall_ms() + AD_PUSH_TOKEN_TTL_MS, tok);
            json_object_set_new(msg, "actionToken", json_string(tok));
        }
        char *text = json_dumps(msg, JSON_COMPACT);
        if (strlen(text) <= AD_PUSH_PAYLOAD_MAX) {
            enqueue(p, sub, text);
        }
        free(text);
    }
    json_decref(subs);
}

/* ---- the engine's life ---------------------------------------------------------------- */

ad_push_t *ad_push_new(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store, ad_bus_t *bus)
{
    ad_push_t *p = ad_xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->cfg = cfg;
    p->store = store;
    p->bus = bus;
    ad_push_watch(p);
    /* a key file from before the key was the database's (issue #77): offered
     * now (reading it needs no OpenSSL), so the first push after an upgrade
     * finds the key stored and its devices keep working */
    char path[4200], text[256], err[300];
    snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, AD_PUSH_KEY_FILE);
    if (access(path, F_OK) == 0 &&
        ad_store_push_vapid_get(store, text, sizeof(text)) == AD_ENOENT &&
        offer(p, err, sizeof(err)) != 0) {
        ad_log(AD_LOG_WARN, "push", "the VAPID key file was not offered error=\"%s\"", err);
    }
    memset(text, 0, sizeof(text));
    return p;
}

void ad_push_stop(ad_push_t *p)
{
    if (p == NULL) {
        return;
    }
    p->stopped = true;
    ad_bus_sub_free(p->sub);
    p->sub = NULL;
}

void ad_push_close(ad_push_t *p)
{
    if (p == NULL) {
        return;
    }
    ad_push_stop(p);
    p->closing = true;
    memset(&p->key, 0, sizeof(p->key));
    for (size_t i = 0; i < p->nwaiters; i++) {
        ad_res_error(p->waiters[i].r, 503, "UNAVAILABLE", NULL, "agentd is stopping");
    }
    p->nwaiters = 0;
    if (p->queued == 0 && !p->offering) {
        free(p);
        return;
    }
    for (delivery_t *d = p->queue; d != NULL; d = d->next) {
        if (uv_is_active((uv_handle_t *)&d->retry)) {
            uv_timer_stop(&d->retry);
            uv_close((uv_handle_t *)&d->retry, on_closed);
        } else {
            uv_cancel((uv_req_t *)&d->work); /* send_after closes it */
        }
    }
}
