/* SPDX-License-Identifier: MIT */
/*
 * The event object: one allocation holding the serialized envelope and the
 * strings it was made from, refcounted on the loop thread. Building one is
 * thread-safe, so replay reads from the table build them on a worker.
 */
#include "bus/bus_int.h"

#include <stdlib.h>
#include <string.h>

ad_bus_event_t *ad_bus_event_make(uint64_t seq, int64_t ts_ms, const char *ts, const char *type,
                                  const char *const *topics, size_t ntopics, const char *payload,
                                  size_t payload_len)
{
    ad_bus_event_t *ev = NULL;
    ad_buf_t b;
    ad_buf_init(&b, BUS_EVENT_MAX);
    /* One allocation for the usual envelope instead of growing by halves
     * (a refusal near the cap is no error: the appends decide). */
    (void)ad_buf_reserve(&b, payload_len + strlen(ts) + strlen(type) +
                                 (ntopics > 0 ? strlen(topics[0]) : 0) + 96);
    int rc = 0;
    char num[32] = "{\"seq\":";
    char digits[24];
    size_t nd = 0;
    for (uint64_t v = seq; nd == 0 || v != 0; v /= 10) {
        digits[nd++] = (char)('0' + v % 10);
    }
    size_t nl = 7;
    while (nd > 0) {
        num[nl++] = digits[--nd];
    }
    rc = rc ? rc : ad_buf_append(&b, num, nl);
    const char *topic = ntopics > 0 ? topics[0] : "";
    rc = rc ? rc : ad_buf_puts(&b, ",\"ts\":");
    rc = rc ? rc : ad_json_string(&b, ts, strlen(ts));
    rc = rc ? rc : ad_buf_puts(&b, ",\"topic\":");
    rc = rc ? rc : ad_json_string(&b, topic, strlen(topic));
    rc = rc ? rc : ad_buf_puts(&b, ",\"type\":");
    rc = rc ? rc : ad_json_string(&b, type, strlen(type));
    rc = rc ? rc : ad_buf_puts(&b, ",\"payload\":");
    size_t poff = b.len;
    rc = rc ? rc : ad_buf_append(&b, payload, payload_len);
    rc = rc ? rc : ad_buf_putc(&b, '}');
    if (rc != 0) {
        goto out;
    }
    size_t strs = strlen(type) + 1;
    for (size_t i = 0; i < ntopics; i++) {
        strs += strlen(topics[i]) + 1;
    }
    size_t ptrs = ntopics * sizeof(char *);
    ev = ad_xmalloc(sizeof(*ev) + ptrs + b.len + 1 + strs);
    memset(ev, 0, sizeof(*ev));
    ev->seq = seq;
    ev->ts_ms = ts_ms;
    ev->refs = 1;
    ev->ntopics = (uint32_t)ntopics;
    ev->len = b.len;
    ev->payload_off = poff;
    ev->payload_len = payload_len;
    snprintf(ev->ts, sizeof(ev->ts), "%s", ts);
    ev->topics = (const char **)(void *)ev->data;
    char *env = ev->data + ptrs;
    memcpy(env, b.data, b.len + 1);
    char *p = env + b.len + 1;
    size_t n = strlen(type) + 1;
    memcpy(p, type, n);
    ev->type = p;
    p += n;
    for (size_t i = 0; i < ntopics; i++) {
        n = strlen(topics[i]) + 1;
        memcpy(p, topics[i], n);
        ev->topics[i] = p;
        p += n;
    }
out:
    ad_buf_cleanup(&b);
    return ev;
}

static const char *envelope(const ad_bus_event_t *ev)
{
    return ev->data + ev->ntopics * sizeof(char *);
}

ad_bus_event_t *ad_bus_event_ref(ad_bus_event_t *ev)
{
    ev->refs++;
    return ev;
}

void ad_bus_event_unref(ad_bus_event_t *ev)
{
    if (ev != NULL && --ev->refs == 0) {
        free(ev);
    }
}

size_t ad_bus_event_bytes(const ad_bus_event_t *ev)
{
    return sizeof(*ev) + ev->len + 16 * ev->ntopics;
}

uint64_t ad_bus_event_seq(const ad_bus_event_t *ev)
{
    return ev->seq;
}

const char *ad_bus_event_data(const ad_bus_event_t *ev, size_t *len)
{
    if (len != NULL) {
        *len = ev->len;
    }
    return envelope(ev);
}

const char *ad_bus_event_type(const ad_bus_event_t *ev)
{
    return ev->type;
}

size_t ad_bus_event_ntopics(const ad_bus_event_t *ev)
{
    return ev->ntopics;
}

const char *ad_bus_event_topic(const ad_bus_event_t *ev, size_t i)
{
    return i < ev->ntopics ? ev->topics[i] : NULL;
}

const char *ad_bus_event_payload_text(const ad_bus_event_t *ev, size_t *len)
{
    *len = ev->payload_len;
    return envelope(ev) + ev->payload_off;
}

int64_t ad_bus_event_ts_ms(const ad_bus_event_t *ev)
{
    return ev->ts_ms;
}

const char *ad_bus_event_ts(const ad_bus_event_t *ev)
{
    return ev->ts;
}
