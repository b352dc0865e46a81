/* SPDX-License-Identifier: MIT */
/*
 * The /ws protocol of a live channel: {type, payload} messages subscribe,
 * unsubscribe and ping, the Claude Manager seed's subscriptions
 * (subscribe:agent, unsubscribe:agent, subscribe:workspace, parsed by
 * src/compat into topics), ?since= on the channels without
 * subscribe, and the root channel's commands waiting for their answer
 * (cmds.c runs them).
 */
#include "live/live_int.h"

#include <stdlib.h>
#include <string.h>

#define MSG_TOPICS_MAX 256
#define PENDING_MAX 16 /* commands pending per connection */

/* Collects topics from payload.topics (array or one string). Returns the
 * count, or -1 after sending an error. */
static int take_topics(ad_live_chan_t *lv, json_t *payload, const char **out, size_t max)
{
    json_t *t = json_object_get(payload, "topics");
    size_t n = 0;
    if (json_is_string(t)) {
        out[n++] = json_string_value(t);
    } else if (json_is_array(t) && json_array_size(t) <= max) {
        size_t i;
        json_t *v;
        json_array_foreach(t, i, v)
        {
            if (!json_is_string(v)) {
                ad_live_error(lv, "INVALID_TOPIC", "topics must be strings");
                return -1;
            }
            out[n++] = json_string_value(v);
        }
    } else {
        ad_live_error(lv, "VALIDATION_ERROR", "payload.topics must be an array of topics");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!ad_bus_topic_valid(out[i])) {
            ad_live_error(lv, "INVALID_TOPIC", "a topic is empty, too long or malformed");
            return -1;
        }
    }
    return (int)n;
}

/* since: a non-negative integer (or its decimal string); absent is fine. */
static int take_since(ad_live_chan_t *lv, json_t *payload, bool *has, uint64_t *since)
{
    json_t *s = json_object_get(payload, "since");
    *has = false;
    if (s == NULL || json_is_null(s)) {
        return 0;
    }
    if (json_is_integer(s) && json_integer_value(s) >= 0) {
        *has = true;
        *since = (uint64_t)json_integer_value(s);
        return 0;
    }
    if (json_is_string(s)) {
        char *end;
        const char *v = json_string_value(s);
        unsigned long long x = strtoull(v, &end, 10);
        if (v[0] >= '0' && v[0] <= '9' && *end == '\0') {
            *has = true;
            *since = x;
            return 0;
        }
    }
    ad_live_error(lv, "VALIDATION_ERROR", "payload.since must be a non-negative integer");
    return -1;
}

static void do_subscribe(ad_live_chan_t *lv, const char *const *topics, size_t n, bool has_since,
                         uint64_t since, const char *ack)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, json_string(topics[i]));
    }
    /* The acknowledgement goes first: replayed events follow it. */
    ad_live_notice(lv, ack,
                   json_pack("{s:o, s:I}", "topics", arr, "seq", (json_int_t)ad_bus_seq(lv->bus)));
    int rc = ad_bus_subscribe(lv->sub, topics, n, has_since, since);
    if (rc == AD_ETOOBIG) {
        ad_live_error(lv, "TOO_MANY_TOPICS", "too many subscriptions on one connection");
    }
}

void ad_live_ws_message(ad_ws_t *ws, const char *data, size_t len, bool binary, void *ud)
{
    AD_UNUSED(binary);
    AD_UNUSED(ud);
    ad_live_chan_t *lv = ad_ws_data(ws);
    if (lv == NULL || lv->done) {
        return;
    }
    json_error_t jerr;
    json_t *msg = json_loadb(data, len, 0, &jerr);
    if (!json_is_object(msg)) {
        ad_live_error(lv, "INVALID_JSON", "messages are JSON objects {type, payload}");
        json_decref(msg);
        return;
    }
    const char *type = json_string_value(json_object_get(msg, "type"));
    /* A flat message ({type, topics} with no payload, as the seed's
     * Python side writes them) carries its fields at the top. */
    json_t *payload = json_object_get(msg, "payload");
    if (payload == NULL) {
        payload = msg;
    } else if (!json_is_object(payload)) {
        payload = NULL;
    }
    const char *topics[MSG_TOPICS_MAX];
    char one[AD_BUS_TOPIC_MAX + 1];
    bool has_since = false, unsub = false;
    uint64_t since = 0;
    const char *why = NULL;
    if (type == NULL) {
        ad_live_error(lv, "UNKNOWN_TYPE", "message has no type");
    } else if (lv->kind == AD_LIVE_ROOT && lv->L != NULL && lv->L->parts != NULL &&
               ad_live_seed_command(lv, type, payload, lv->L->parts)) {
        /* answered */
    } else if (strcmp(type, "presence") == 0) {
        ad_live_presence_msg(lv, payload);
    } else if (strcmp(type, "ping") == 0) {
        ad_live_notice(lv, "pong", json_pack("{s:I}", "seq", (json_int_t)ad_bus_seq(lv->bus)));
    } else if (strcmp(type, "subscribe") == 0 || strcmp(type, "unsubscribe") == 0) {
        int n = take_topics(lv, payload, topics, MSG_TOPICS_MAX);
        if (n < 0) {
            goto out;
        }
        if (type[0] == 'u') {
            ad_bus_unsubscribe(lv->sub, topics, (size_t)n);
            json_t *arr = json_array();
            for (int i = 0; i < n; i++) {
                json_array_append_new(arr, json_string(topics[i]));
            }
            ad_live_notice(lv, "unsubscribed", json_pack("{s:o}", "topics", arr));
        } else if (take_since(lv, payload, &has_since, &since) == 0) {
            do_subscribe(lv, topics, (size_t)n, has_since, since, "subscribed");
        }
    } else if (ad_compat_manager_subscription(type, payload, one, sizeof(one), &unsub, &why)) {
        if (why != NULL) {
            ad_live_error(lv, "VALIDATION_ERROR", why);
            goto out;
        }
        topics[0] = one;
        if (!ad_bus_topic_valid(one)) {
            ad_live_error(lv, "INVALID_TOPIC", "the id makes an invalid topic");
        } else if (unsub) {
            ad_bus_unsubscribe(lv->sub, topics, 1);
            ad_live_notice(lv, "unsubscribed", json_pack("{s:[s]}", "topics", one));
        } else if (take_since(lv, payload, &has_since, &since) == 0) {
            do_subscribe(lv, topics, 1, has_since, since, "subscribed");
        }
    } else {
        ad_live_error(lv, "UNKNOWN_TYPE", "unknown message type");
    }
out:
    json_decref(msg);
}

void ad_live_ws_close(ad_ws_t *ws, int code, void *ud)
{
    AD_UNUSED(code);
    AD_UNUSED(ud);
    ad_live_chan_t *lv = ad_ws_data(ws);
    if (lv != NULL) {
        ad_ws_set_data(ws, NULL);
        ad_live_chan_free(lv);
    }
}

/* ?since=N on a channel without subscribe (the seed's /ws/runs/:id,
 * /ws/mission, /ws/graph and "/"): events with seq > N are replayed first,
 * as a /ws subscribe with since does, so a client that comes late or
 * reconnects misses nothing. 0 (*has false when absent), or -1 after
 * closing the socket with 1008. */
int ad_live_query_since(ad_live_chan_t *lv, bool *has, uint64_t *since)
{
    const char *s = ad_ws_query(lv->ws, "since");
    *has = s != NULL && s[0] != '\0';
    *since = 0;
    if (!*has) {
        return 0;
    }
    char *end;
    *since = strtoull(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0') {
        ad_live_error(lv, "VALIDATION_ERROR", "since must be a non-negative integer");
        ad_live_end(lv, 1008, "since must be a non-negative integer");
        return -1;
    }
    return 0;
}

/* ---- commands whose answer comes later ---------------------------------------------- */

/* A command of the seed's client waiting for the runner or the jobs: its
 * answer goes to ch, or nowhere once ch has closed (ad_live_pending_drop). */
struct ad_live_pending {
    ad_live_chan_t *ch;
    char type[AD_LIVE_TYPE_MAX];
    ad_live_pending_t *next;
};

ad_live_pending_t *ad_live_pending_new(ad_live_chan_t *ch, const char *type)
{
    size_t n = 0;
    for (ad_live_pending_t *c = ch->cmds; c != NULL; c = c->next) {
        n++;
    }
    if (n >= PENDING_MAX) {
        return NULL;
    }
    ad_live_pending_t *c = ad_xcalloc(1, sizeof(*c));
    c->ch = ch;
    snprintf(c->type, sizeof(c->type), "%s", type);
    c->next = ch->cmds;
    ch->cmds = c;
    return c;
}

ad_live_chan_t *ad_live_pending_end(ad_live_pending_t *p, char type[AD_LIVE_TYPE_MAX])
{
    ad_live_chan_t *ch = p->ch;
    if (type != NULL) {
        snprintf(type, AD_LIVE_TYPE_MAX, "%s", p->type);
    }
    if (ch != NULL) {
        for (ad_live_pending_t **pp = &ch->cmds; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == p) {
                *pp = p->next;
                break;
            }
        }
    }
    free(p);
    return ch != NULL && !ch->done ? ch : NULL;
}

void ad_live_pending_drop(ad_live_chan_t *ch)
{
    for (ad_live_pending_t *c = ch->cmds; c != NULL; c = c->next) {
        c->ch = NULL; /* its answer, when it comes, goes nowhere */
    }
}
