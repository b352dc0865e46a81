/* SPDX-License-Identifier: MIT */
/*
 * The event object: one allocation holding the serialized envelope and the
 * strings it was made from, refcounted on the loop thread. Building one is
 * thread-safe, so replay reads from the log build them on a worker.
 */
#include "bus/bus_int.h"

#include <stdlib.h>
#include <string.h>

int ad_bus_envelope_seq(ad_buf_t *b, uint64_t seq)
{
    /* Two digits per division: a seq is written for every event. */
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233"
        "34353637383940414243444546474849505152535455565758596061626364656667"
        "6869707172737475767778798081828384858687888990919293949596979899";
    char num[32];
    size_t i = sizeof(num);
    uint64_t v = seq;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        num[--i] = pairs[2 * r + 1];
        num[--i] = pairs[2 * r];
    }
    if (v >= 10) {
        num[--i] = pairs[2 * v + 1];
        num[--i] = pairs[2 * v];
    } else {
        num[--i] = (char)('0' + v);
    }
    i -= 7;
    memcpy(num + i, "{\"seq\":", 7);
    return ad_buf_append(b, num + i, sizeof(num) - i);
}

int ad_bus_envelope_rest(ad_buf_t *b, const char *ts, const char *topic, const char *type)
{
    /* ts is RFC 3339 text (digits, '-', ':', '.', 'T', 'Z'): nothing to escape. */
    int rc = ad_buf_append(b, ",\"ts\":\"", 7);
    rc = rc ? rc : ad_buf_append(b, ts, strlen(ts));
    rc = rc ? rc : ad_buf_append(b, "\",\"topic\":", 10);
    rc = rc ? rc : ad_json_string(b, topic, strlen(topic));
    rc = rc ? rc : ad_buf_append(b, ",\"type\":", 8);
    rc = rc ? rc : ad_json_string(b, type, strlen(type));
    return rc ? rc : ad_buf_append(b, ",\"payload\":", 11);
}

int ad_bus_envelope_head(ad_buf_t *b, uint64_t seq, const char *ts, const char *topic,
                         const char *type)
{
    int rc = ad_bus_envelope_seq(b, seq);
    return rc ? rc : ad_bus_envelope_rest(b, ts, topic, type);
}

ad_bus_event_t *ad_bus_event_wrap(uint64_t seq, int64_t ts_ms, const char *ts, const char *type,
                                  const char *const *topics, size_t ntopics, const char *env,
                                  size_t len, size_t payload_off)
{
    size_t ylen = strlen(type) + 1;
    size_t strs = ylen;
    for (size_t i = 0; i < ntopics; i++) {
        strs += strlen(topics[i]) + 1;
    }
    size_t ptrs = ntopics * sizeof(char *);
    ad_bus_event_t *ev = ad_xmalloc(sizeof(*ev) + ptrs + len + 1 + strs);
    memset(ev, 0, sizeof(*ev));
    ev->seq = seq;
    ev->ts_ms = ts_ms;
    ev->refs = 1;
    ev->ntopics = (uint32_t)ntopics;
    ev->len = len;
    ev->payload_off = payload_off;
    ev->payload_len = len - payload_off - 1; /* the envelope's closing brace */
    size_t tsn = strnlen(ts, sizeof(ev->ts) - 1);
    memcpy(ev->ts, ts, tsn);
    ev->ts[tsn] = '\0';
    ev->topics = (const char **)(void *)ev->data;
    char *p = ev->data + ptrs;
    memcpy(p, env, len);
    p[len] = '\0';
    p += len + 1;
    memcpy(p, type, ylen);
    ev->type = p;
    p += ylen;
    for (size_t i = 0; i < ntopics; i++) {
        size_t n = strlen(topics[i]) + 1;
        memcpy(p, topics[i], n);
        ev->topics[i] = p;
        p += n;
    }
    return ev;
}

ad_bus_event_t *ad_bus_event_make(uint64_t seq, int64_t ts_ms, const char *ts, const char *type,
                                  const char *const *topics, size_t ntopics, const char *payload,
                                  size_t payload_len)
{
    ad_buf_t b;
    ad_buf_init(&b, BUS_EVENT_MAX);
    /* One allocation for the usual envelope instead of growing by halves
     * (a refusal near the cap is no error: the appends decide). */
    AD_DISCARD(ad_buf_reserve(&b, payload_len + strlen(ts) + strlen(type) +
                                      (ntopics > 0 ? strlen(topics[0]) : 0) + 96));
    int rc = ad_bus_envelope_head(&b, seq, ts, ntopics > 0 ? topics[0] : "", type);
    size_t poff = b.len;
    rc = rc ? rc : ad_buf_append(&b, payload, payload_len);
    rc = rc ? rc : ad_buf_putc(&b, '}');
    ad_bus_event_t *ev =
        rc == 0 ? ad_bus_event_wrap(seq, ts_ms, ts, type, topics, ntopics, b.data, b.len, poff)
                : NULL;
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

bool ad_bus_event_org(const ad_bus_event_t *ev, char org[AD_ID_MAX])
{
    for (size_t i = 0; i < ev->ntopics; i++) {
        const char *t = ev->topics[i];
        if (strncmp(t, "org:", 4) == 0 && t[4] != '\0' && strlen(t + 4) < AD_ID_MAX) {
            snprintf(org, AD_ID_MAX, "%s", t + 4);
            return true;
        }
    }
    return false;
}

bool ad_bus_event_remote(const ad_bus_event_t *ev)
{
    for (size_t i = 0; i < ev->ntopics; i++) {
        if (strncmp(ev->topics[i], "from:", 5) == 0) {
            return true;
        }
    }
    return false;
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
