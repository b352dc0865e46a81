/* SPDX-License-Identifier: MIT */
/*
 * The Redis bridge (cluster.h): two hiredis connections on the loop through
 * hiredis's libuv adapter, one to PUBLISH and one to PSUBSCRIBE (a
 * connection that subscribes can do nothing else), a bus subscriber for
 * what goes out, and a timer that reconnects.
 *
 * Ownership: the cluster owns its bus subscriber and its timer; hiredis owns
 * each redisAsyncContext and frees it after its disconnect (or failed
 * connect) callback, where our pointer to it is cleared.
 */
#include "cluster/cluster.h"
#include "compat/compat.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MIN_MS 100
#define RETRY_MAX_MS 5000
#define MSG_MAX (4u << 20) /* an event bigger than this is not shared */
/* Every other event between control planes (issue #39) */
#define BUS_CHANNEL "agentd:bus"
#define TOPICS_MAX 16
#define SEEN_SLOTS 16384 /* 256 KiB: a minute of messages at ~270/s before one is forgotten */

struct ad_cluster {
    uv_loop_t *loop;
    ad_bus_t *bus;
    ad_bus_sub_t *sub;
    char host[256];
    int port;
    char node[AD_ID_MAX];
    redisAsyncContext *pub, *psub;
    bool pub_up, psub_up;
    uv_timer_t retry;
    uint64_t backoff_ms;
    bool closing;
    ad_cluster_org_fn org_of;
    void *org_ud;
    uint64_t sent, received, dropped, refused;
    uint8_t key[32]; /* signs and checks every message (buskey.c) */
    uint64_t seq;    /* messages signed */
    /* The subscriber went down after it had been up: what the other planes
     * published from local seq gap_from on never came; told to the bus as
     * a remote gap once it is subscribed again. */
    bool gap_open;
    uint64_t gap_from;
    ad_cluster_seen_t seen[SEEN_SLOTS]; /* macs taken within the skew */
};

static void connect_both(ad_cluster_t *c);

/* ---- the URL ---------------------------------------------------------------------- */

static int parse_url(ad_cluster_t *c, const char *url, char *err, size_t errsz)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) == 0) {
        p += 8;
    }
    const char *colon = strrchr(p, ':');
    size_t hl = colon != NULL ? (size_t)(colon - p) : strcspn(p, "/");
    if (hl == 0 || hl >= sizeof(c->host)) {
        snprintf(err, errsz, "--redis-url %s: expected redis://HOST:PORT", url);
        return AD_EINVAL;
    }
    memcpy(c->host, p, hl);
    c->host[hl] = '\0';
    c->port = 6379;
    if (colon != NULL) {
        char *end = NULL;
        long port = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || (*end != '\0' && *end != '/') || port < 1 || port > 65535) {
            snprintf(err, errsz, "--redis-url %s: the port must be 1-65535", url);
            return AD_EINVAL;
        }
        c->port = (int)port;
    }
    return 0;
}

/* ---- reconnecting ------------------------------------------------------------------ */

/* Frees a connection that is not up by the time the retry timer fires.
 * Seen under load after Redis was killed: a new connection got neither
 * its connect callback nor an error, and the node stayed off Redis for
 * good. Its pointer is cleared first, so the callbacks hiredis runs while
 * freeing it change nothing here. */
static void drop_stalled(ad_cluster_t *c)
{
    if (c->pub != NULL && !c->pub_up) {
        redisAsyncContext *ac = c->pub;
        c->pub = NULL;
        redisAsyncFree(ac);
    }
    if (c->psub != NULL && !c->psub_up) {
        redisAsyncContext *ac = c->psub;
        c->psub = NULL;
        redisAsyncFree(ac);
    }
}

static void on_retry(uv_timer_t *t)
{
    ad_cluster_t *c = t->data;
    drop_stalled(c);
    connect_both(c);
}

static void schedule_retry(ad_cluster_t *c)
{
    if (c->closing || uv_is_active((uv_handle_t *)&c->retry)) {
        return;
    }
    c->backoff_ms = c->backoff_ms == 0 ? RETRY_MIN_MS : c->backoff_ms * 2;
    if (c->backoff_ms > RETRY_MAX_MS) {
        c->backoff_ms = RETRY_MAX_MS;
    }
    uv_timer_start(&c->retry, on_retry, c->backoff_ms, 0);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    ad_cluster_t *c = ac->data;
    if (status == REDIS_OK) {
        return; /* the subscriber counts as up once PSUBSCRIBE answers */
    }
    ad_log(AD_LOG_WARN, "cluster", "redis connect failed host=%s port=%d err=\"%s\"", c->host,
           c->port, ac->errstr);
    if (ac == c->pub) {
        c->pub = NULL; /* hiredis frees it after this callback */
        c->pub_up = false;
    } else {
        c->psub = NULL;
        c->psub_up = false;
    }
    schedule_retry(c);
}

/* The subscriber is down (it was up): the other planes' events are missed
 * from now until it is back. */
static void gap_begin(ad_cluster_t *c)
{
    if (c->psub_up && !c->gap_open && !c->closing) {
        c->gap_open = true;
        c->gap_from = ad_bus_seq(c->bus) + 1;
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    ad_cluster_t *c = ac->data;
    if (ac == c->pub) {
        c->pub = NULL;
        c->pub_up = false;
    } else if (ac == c->psub) {
        gap_begin(c);
        c->psub = NULL;
        c->psub_up = false;
    }
    if (!c->closing) {
        ad_log(AD_LOG_WARN, "cluster", "redis connection lost status=%d: reconnecting", status);
        schedule_retry(c);
    }
}

/* ---- what arrives -------------------------------------------------------------------- */

static bool crew_event_type(const char *t)
{
    return strcmp(t, "tool_start") == 0 || strcmp(t, "tool_progress") == 0 ||
           strcmp(t, "tool_end") == 0 || strcmp(t, "signal") == 0;
}

/* A message refused: said in the log (which holds back repeats of one
 * line), never dropped in silence. */
static void refuse(ad_cluster_t *c, const char *channel, const char *why)
{
    c->refused++;
    ad_log(AD_LOG_WARN, "cluster", "redis message refused channel=%s reason=\"%s\" refused=%llu",
           channel, why, (unsigned long long)c->refused);
}

/* A message on channel ("graph:{crew}" or "mission:{crew}") onto the bus. */
static void inject(ad_cluster_t *c, const char *channel, const char *data, size_t len)
{
    const char *colon = strchr(channel, ':');
    json_t *m = json_loadb(data, len, 0, NULL);
    const char *origin = json_string_value(json_object_get(m, "origin"));
    const char *type = json_string_value(json_object_get(m, "type"));
    if (origin != NULL && strcmp(origin, c->node) == 0) {
        json_decref(m); /* our own, back from Redis */
        return;
    }
    json_t *payload = NULL;
    const char *why = !json_is_object(m)                  ? "not a JSON object"
                      : colon == NULL || colon[1] == '\0' ? "no crew in the channel"
                      : type == NULL                      ? "no type"
                      : !crew_event_type(type) ? "not a crew event (tool_start, tool_progress, "
                                                 "tool_end, signal)"
                      : (payload = ad_compat_crews_from_redis(m)) == NULL
                          ? "no payload and no fields"
                          : NULL;
    if (why != NULL) {
        refuse(c, channel, why);
        json_decref(m);
        return;
    }
    const char *crew = colon + 1;
    char org[AD_ID_MAX] = "";
    const char *said = json_string_value(json_object_get(m, "org"));
    if (said != NULL && strlen(said) < sizeof(org)) {
        snprintf(org, sizeof(org), "%s", said);
    } else if (c->org_of == NULL || !c->org_of(c->org_ud, crew, org)) {
        snprintf(org, sizeof(org), "org_default");
    }
    char t_crew[AD_BUS_TOPIC_MAX + 1], t_org[AD_BUS_TOPIC_MAX + 1];
    snprintf(t_crew, sizeof(t_crew), "crew:%s", crew);
    snprintf(t_org, sizeof(t_org), "org:%s", org);
    if (!ad_bus_topic_valid(t_crew) || !ad_bus_topic_valid(t_org)) {
        refuse(c, channel, "the crew or org id makes no topic");
        json_decref(payload);
        json_decref(m);
        return;
    }
    json_object_set_new(payload, "crewId", json_string(crew));
    const char *topics[3] = {t_crew, t_org, "from:redis"};
    ad_bus_publish(c->bus, type, topics, 3, payload);
    c->received++;
    json_decref(payload);
    json_decref(m);
}

/* A bus type as agentd makes them: 1-127 of a-z 0-9 _ . : - */
static bool type_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 127) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = t[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == ':' || ch == '-')) {
            return false;
        }
    }
    return true;
}

/* A message on BUS_CHANNEL, {origin, type, topics, payload}, from another
 * control plane: onto this bus under its topics and from:redis (so it is
 * never sent back), org scoping as for a local event (its org:<id> topic
 * travels with it). */
static void inject_bus(ad_cluster_t *c, const char *data, size_t len)
{
    json_t *m = json_loadb(data, len, 0, NULL);
    const char *origin = json_string_value(json_object_get(m, "origin"));
    const char *type = json_string_value(json_object_get(m, "type"));
    json_t *topics = json_object_get(m, "topics");
    json_t *payload = json_object_get(m, "payload");
    if (origin != NULL && strcmp(origin, c->node) == 0) {
        json_decref(m); /* our own, back from Redis */
        return;
    }
    const char *why = !json_is_object(m)               ? "not a JSON object"
                      : origin == NULL                 ? "no origin"
                      : type == NULL || !type_ok(type) ? "no type, or not a bus type"
                      : !json_is_array(topics) || json_array_size(topics) == 0 ||
                              json_array_size(topics) > TOPICS_MAX
                          ? "topics: 1 to 16 topics"
                      : payload == NULL ? "no payload"
                                        : NULL;
    const char *t[TOPICS_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; why == NULL && i < json_array_size(topics); i++) {
        const char *topic = json_string_value(json_array_get(topics, i));
        if (topic == NULL || !ad_bus_topic_valid(topic) || strchr(topic, '*') != NULL ||
            strncmp(topic, "from:", 5) == 0) {
            why = "a topic that is not one (a pattern, or from:)";
        } else {
            t[n++] = topic;
        }
    }
    if (why != NULL) {
        refuse(c, BUS_CHANNEL, why);
        json_decref(m);
        return;
    }
    t[n++] = "from:redis";
    ad_bus_publish(c->bus, type, t, n, payload);
    c->received++;
    json_decref(m);
}

static void on_pmessage(redisAsyncContext *ac, void *reply, void *ud)
{
    AD_UNUSED(ac);
    ad_cluster_t *c = ud;
    redisReply *r = reply;
    if (r == NULL || c->closing || r->type != REDIS_REPLY_ARRAY || r->elements < 3) {
        return;
    }
    const redisReply *kind = r->element[0];
    if (kind->type != REDIS_REPLY_STRING) {
        return;
    }
    if (strcmp(kind->str, "psubscribe") == 0) {
        if (!c->psub_up) {
            ad_log(AD_LOG_INFO, "cluster", "redis subscribed host=%s port=%d node=%s", c->host,
                   c->port, c->node);
        }
        c->psub_up = true; /* one answer per pattern */
        c->backoff_ms = 0;
        if (c->gap_open) { /* back: the clients reload what they missed from the store */
            c->gap_open = false;
            ad_bus_remote_gap(c->bus, c->gap_from, ad_bus_seq(c->bus), "redis");
        }
        return;
    }
    if (strcmp(kind->str, "pmessage") == 0 && r->elements == 4 &&
        r->element[2]->type == REDIS_REPLY_STRING && r->element[3]->type == REDIS_REPLY_STRING) {
        const char *channel = r->element[2]->str;
        const char *data = r->element[3]->str;
        size_t len = r->element[3]->len;
        size_t body = 0;
        const char *why =
            len > MSG_MAX ? "larger than 4 MiB"
                          : ad_cluster_verify(c->key, channel, data, len, (uint64_t)ad_wall_ms(),
                                              c->seen, SEEN_SLOTS, &body);
        if (why != NULL) {
            refuse(c, channel, why);
            return;
        }
        /* the signed text and its '}': the object without its mac */
        char *text = ad_xmalloc(body + 1);
        memcpy(text, data, body);
        text[body] = '}';
        if (strcmp(channel, BUS_CHANNEL) == 0) {
            inject_bus(c, text, body + 1);
        } else {
            inject(c, channel, text, body + 1);
        }
        free(text);
    }
}

static void on_pub_reply(redisAsyncContext *ac, void *reply, void *ud)
{
    AD_UNUSED(ud);
    ad_cluster_t *c = ac->data;
    if (reply != NULL && !c->pub_up) {
        c->pub_up = true; /* the first answer proves the connection */
    }
}

/* ---- connecting ------------------------------------------------------------------------ */

static redisAsyncContext *open_one(ad_cluster_t *c)
{
    redisAsyncContext *ac = redisAsyncConnect(c->host, c->port);
    if (ac == NULL) {
        return NULL;
    }
    if (ac->err != 0) {
        ad_log(AD_LOG_WARN, "cluster", "redis connect failed host=%s port=%d err=\"%s\"", c->host,
               c->port, ac->errstr);
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = c;
    if (redisLibuvAttach(ac, c->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        return NULL;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}

static void connect_both(ad_cluster_t *c)
{
    if (c->closing) {
        return;
    }
    if (c->pub == NULL) {
        c->pub = open_one(c);
        if (c->pub != NULL) {
            redisAsyncCommand(c->pub, on_pub_reply, NULL, "PING");
        }
    }
    if (c->psub == NULL) {
        c->psub = open_one(c);
        if (c->psub != NULL) {
            redisAsyncCommand(c->psub, on_pmessage, c, "PSUBSCRIBE graph:* mission:* " BUS_CHANNEL);
        }
    }
    /* Also when both are opening: the retry timer is their deadline. */
    if (c->pub == NULL || c->psub == NULL || !c->pub_up || !c->psub_up) {
        schedule_retry(c);
    }
}

/* ---- what goes out ------------------------------------------------------------------- */

/* What goes out, in the crews seed's snake_case (its Python side reads
 * Redis; src/compat). Malloc'd, or NULL. */
static char *seed_message(ad_cluster_t *c, const char *type, const char *org, const char *payload,
                          size_t plen)
{
    json_t *src = json_loadb(payload, plen, 0, NULL);
    char *text = json_is_object(src) ? ad_compat_crews_to_redis(c->node, type, org, src) : NULL;
    json_decref(src);
    return text;
}

/* The id after prefix in one of ev's topics, or NULL. */
static const char *topic_id(const ad_bus_event_t *ev, const char *prefix)
{
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < ad_bus_event_ntopics(ev); i++) {
        const char *t = ad_bus_event_topic(ev, i);
        if (strncmp(t, prefix, pl) == 0) {
            return t + pl;
        }
    }
    return NULL;
}

/* Any other event to BUS_CHANNEL as {origin, type, topics, payload}, the
 * payload's text as the bus has it. */
static void send_bus(ad_cluster_t *c, const ad_bus_event_t *ev)
{
    size_t nt = ad_bus_event_ntopics(ev);
    if (nt == 0 || nt > TOPICS_MAX) {
        c->dropped++;
        return;
    }
    json_t *topics = json_array();
    for (size_t i = 0; i < nt; i++) {
        json_array_append_new(topics, json_string(ad_bus_event_topic(ev, i)));
    }
    json_t *m = json_pack("{s:s, s:s, s:o}", "origin", c->node, "type", ad_bus_event_type(ev),
                          "topics", topics);
    char *head = m != NULL ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    size_t plen;
    const char *payload = ad_bus_event_payload_text(ev, &plen);
    ad_buf_t b;
    ad_buf_init(&b, MSG_MAX);
    size_t hl = head != NULL ? strlen(head) : 0;
    int rc = hl > 1 ? ad_buf_append(&b, head, hl - 1) : AD_EINVAL; /* without its '}' */
    rc = rc != 0 ? rc : ad_buf_puts(&b, ",\"payload\":");
    rc = rc != 0 ? rc : ad_buf_append(&b, payload, plen);
    rc = rc != 0 ? rc : ad_buf_putc(&b, '}');
    rc = rc != 0 ? rc : ad_cluster_sign(c->key, BUS_CHANNEL, ++c->seq, (uint64_t)ad_wall_ms(), &b);
    free(head);
    if (rc == 0) {
        redisAsyncCommand(c->pub, NULL, NULL, "PUBLISH %s %b", BUS_CHANNEL, b.data, b.len);
        c->sent++;
    } else {
        c->dropped++; /* past MSG_MAX: this plane's clients have it, the others reload */
    }
    ad_buf_cleanup(&b);
}

static int on_bus_event(void *ud, const ad_bus_event_t *ev)
{
    ad_cluster_t *c = ud;
    const char *type = ad_bus_event_type(ev);
    const char *crew = topic_id(ev, "crew:");
    if (topic_id(ev, "from:") != NULL) {
        return 0; /* one that came from Redis: never sent back */
    }
    if (!crew_event_type(type) || crew == NULL) {
        if (c->pub != NULL && c->pub_up) {
            send_bus(c, ev);
        } else {
            c->dropped++;
        }
        return 0;
    }
    if (c->pub == NULL || !c->pub_up) {
        c->dropped++; /* Redis is away: local delivery is not affected */
        return 0;
    }
    size_t plen;
    const char *payload = ad_bus_event_payload_text(ev, &plen);
    const char *org = topic_id(ev, "org:");
    char *text = seed_message(c, type, org, payload, plen);
    ad_buf_t b;
    ad_buf_init(&b, MSG_MAX);
    int rc = text != NULL ? ad_buf_puts(&b, text) : AD_EINVAL;
    free(text);
    char channel[AD_BUS_TOPIC_MAX + 16];
    snprintf(channel, sizeof(channel), "%s:%s", strcmp(type, "signal") == 0 ? "mission" : "graph",
             crew);
    rc = rc != 0 ? rc : ad_cluster_sign(c->key, channel, ++c->seq, (uint64_t)ad_wall_ms(), &b);
    if (rc == 0) {
        redisAsyncCommand(c->pub, NULL, NULL, "PUBLISH %s %b", channel, b.data, b.len);
        c->sent++;
    } else {
        c->dropped++;
    }
    ad_buf_cleanup(&b);
    return 0;
}

static const ad_bus_sub_ops_t bus_ops = {.deliver = on_bus_event};

/* ---- life cycle --------------------------------------------------------------------------- */

int ad_cluster_start(uv_loop_t *loop, ad_bus_t *bus, const char *url, const char *origin,
                     const uint8_t key[32], ad_cluster_org_fn org_of, void *org_ud,
                     ad_cluster_t **out, char *err, size_t errsz)
{
    ad_cluster_t *c = ad_xcalloc(1, sizeof(*c));
    int rc = parse_url(c, url, err, errsz);
    if (rc != 0) {
        free(c);
        return rc;
    }
    c->loop = loop;
    c->bus = bus;
    memcpy(c->key, key, sizeof(c->key));
    c->org_of = org_of;
    c->org_ud = org_ud;
    if (origin != NULL && origin[0] != '\0' && strlen(origin) < sizeof(c->node)) {
        snprintf(c->node, sizeof(c->node), "%s", origin);
    } else {
        ad_id_new("node", c->node);
    }
    uv_timer_init(loop, &c->retry);
    c->retry.data = c;
    uv_unref((uv_handle_t *)&c->retry);
    c->sub = ad_bus_sub_new(bus, &bus_ops, c, 0);
    const char *topics[1] = {"*"};
    ad_bus_subscribe(c->sub, topics, 1, false, 0);
    connect_both(c);
    *out = c;
    return 0;
}

bool ad_cluster_connected(const ad_cluster_t *c)
{
    return c != NULL && c->pub_up && c->psub_up;
}

uint64_t ad_cluster_refused(const ad_cluster_t *c)
{
    return c != NULL ? c->refused : 0;
}

int ad_cluster_prom(const ad_cluster_t *c, ad_buf_t *b)
{
    if (c == NULL) {
        return 0;
    }
    return ad_buf_printf(b,
                         "# HELP agentd_redis_messages_total Messages over Redis: sent, taken, "
                         "dropped (Redis away, too large) and refused (unsigned, forged, "
                         "replayed, malformed).\n"
                         "# TYPE agentd_redis_messages_total counter\n"
                         "agentd_redis_messages_total{result=\"sent\"} %llu\n"
                         "agentd_redis_messages_total{result=\"received\"} %llu\n"
                         "agentd_redis_messages_total{result=\"dropped\"} %llu\n"
                         "agentd_redis_messages_total{result=\"refused\"} %llu\n",
                         (unsigned long long)c->sent, (unsigned long long)c->received,
                         (unsigned long long)c->dropped, (unsigned long long)c->refused);
}

const char *ad_cluster_node(const ad_cluster_t *c)
{
    return c->node;
}

static void on_retry_closed(uv_handle_t *h)
{
    free(h->data);
}

void ad_cluster_close(ad_cluster_t *c)
{
    if (c == NULL) {
        return;
    }
    c->closing = true;
    ad_bus_sub_free(c->sub);
    c->sub = NULL;
    /* hiredis calls on_disconnect (which clears the pointer) and frees */
    if (c->pub != NULL) {
        redisAsyncFree(c->pub);
    }
    if (c->psub != NULL) {
        redisAsyncFree(c->psub);
    }
    ad_log(AD_LOG_INFO, "cluster",
           "redis bridge closed sent=%llu received=%llu dropped=%llu refused=%llu",
           (unsigned long long)c->sent, (unsigned long long)c->received,
           (unsigned long long)c->dropped, (unsigned long long)c->refused);
    explicit_bzero(c->key, sizeof(c->key));
    uv_close((uv_handle_t *)&c->retry, on_retry_closed);
}
