/* SPDX-License-Identifier: MIT */
/*
 * The event bus: sequence numbers, fan-out to subscribers through the topic
 * index, the replay ring, replay (ring, else the events table on a worker,
 * chasing the head until it is caught up, so no live buffer is needed) and
 * the persistence queue with retention. Connections and wire formats are
 * the owner's business (src/api/live.c); SQL is src/store/events.c's.
 */
#include "bus/bus_int.h"

#include <stdlib.h>
#include <string.h>

#define WRITE_BATCH_MAX 8192
#define READ_BATCH_ROWS 1024
#define REPLAY_SLICE 512 /* ring events delivered before re-checking pacing */
#define PACE_MS 2
#define TRIM_MIN_INTERVAL_MS 250
#define TRIM_TIMER_MS 60000
/* Events wait this long for others to share their transaction. Fan-out is
 * not delayed; replay serves unpersisted events from the ring. Committing
 * each event alone cost a store round trip (and a wake-up of the loop by
 * the writer thread) per event. */
#define PERSIST_DELAY_MS 5

typedef struct backfill {
    struct backfill *next;
    uint64_t cursor; /* delivered up to here */
    uint64_t end;
    size_t ntopics;
    char **topics;
} backfill_t;

struct ad_bus_sub {
    ad_bus_t *bus;
    const ad_bus_sub_ops_t *ops;
    void *ud;
    size_t queue_limit;
    bus_entry_t *entries;
    size_t nentries;
    uint64_t mark;     /* seq of the last event offered (dedupes topics) */
    uint64_t last_seq; /* last delivered */
    uint64_t cursor;   /* replay chase position while replaying */
    backfill_t *backfills, **bf_tail;
    struct ad_bus_sub *pace_next, *pace_prev;
    struct ad_bus_sub *zombie_next;
    unsigned busy; /* inside one of its callbacks */
    bool replaying;
    bool paced;
    bool db_pending;
    bool db_stale; /* subscriptions changed while a chase read was out */
    bool dead;     /* overflowed */
    bool freed;
    bool zombie;
};

struct ad_bus {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    uint64_t seq;
    bus_index_t index;
    bus_ring_t ring;
    ad_buf_t scratch;
    int64_t ts_ms;        /* the last publish's ms and its RFC 3339 text: */
    char ts[AD_TIME_MAX]; /* bursts share it instead of formatting again */
    unsigned in_publish;
    ad_bus_sub_t *zombies;
    ad_bus_sub_t *paced; /* subscribers whose replay waits for room */
    uv_timer_t pace_timer;
    uv_timer_t trim_timer;
    uv_timer_t persist_timer;
    int open_handles;
    bool closing;
    /* persistence */
    const ad_bus_store_ops_t *sops;
    void *simpl;
    ad_bus_event_t **pending;
    size_t npending, pending_cap;
    unsigned writes; /* batches in flight */
    bool stopping;
    uint64_t persisted_seq;
    uint64_t db_min; /* oldest row in the table, 0: none */
    bool trimming;
    int64_t last_trim_ms;
    unsigned db_reads;
    struct dbread *reads; /* in flight: they pin the ring */
};

static void run_replay(ad_bus_sub_t *sub);
static bool has_room(ad_bus_sub_t *sub);
static void sub_try_reap(ad_bus_sub_t *sub);
static void bus_try_finish_free(ad_bus_t *bus);

/* ---- life cycle -------------------------------------------------------------- */

ad_bus_t *ad_bus_new(uv_loop_t *loop, const ad_config_t *cfg)
{
    ad_bus_t *bus = ad_xcalloc(1, sizeof(*bus));
    bus->loop = loop;
    bus->cfg = cfg;
    bus_index_init(&bus->index);
    bus_ring_init(&bus->ring);
    ad_buf_init(&bus->scratch, BUS_EVENT_MAX);
    if (loop != NULL) {
        uv_timer_init(loop, &bus->pace_timer);
        uv_timer_init(loop, &bus->trim_timer);
        uv_timer_init(loop, &bus->persist_timer);
        bus->pace_timer.data = bus;
        bus->trim_timer.data = bus;
        bus->persist_timer.data = bus;
        bus->open_handles = 3;
    }
    return bus;
}

static void on_handle_closed(uv_handle_t *h)
{
    ad_bus_t *bus = h->data;
    bus->open_handles--;
    bus_try_finish_free(bus);
}

static void bus_try_finish_free(ad_bus_t *bus)
{
    if (!bus->closing || bus->open_handles > 0 || bus->writes > 0 || bus->trimming ||
        bus->db_reads > 0) {
        return;
    }
    for (size_t i = 0; i < bus->npending; i++) {
        bus_event_unref(bus->pending[i]);
    }
    free(bus->pending);
    bus_ring_cleanup(&bus->ring);
    bus_index_cleanup(&bus->index);
    ad_buf_cleanup(&bus->scratch);
    free(bus);
}

void ad_bus_free(ad_bus_t *bus)
{
    if (bus == NULL || bus->closing) {
        return;
    }
    bus->closing = true;
    uv_timer_t *timers[3] = {&bus->pace_timer, &bus->trim_timer, &bus->persist_timer};
    for (int i = 0; i < 3 && bus->loop != NULL; i++) {
        if (uv_is_closing((uv_handle_t *)timers[i])) {
            bus->open_handles--; /* closed by whoever walked the loop */
        } else {
            uv_close((uv_handle_t *)timers[i], on_handle_closed);
        }
    }
    bus_try_finish_free(bus);
}

uint64_t ad_bus_seq(const ad_bus_t *bus)
{
    return bus ? bus->seq : 0;
}

uint64_t ad_bus_persisted_seq(const ad_bus_t *bus)
{
    return bus->persisted_seq;
}

uint64_t ad_bus_oldest_seq(const ad_bus_t *bus)
{
    uint64_t ring = bus_ring_first(&bus->ring);
    uint64_t oldest = ring ? ring : bus->seq + 1;
    if (bus->sops != NULL && bus->db_min != 0 && bus->db_min < oldest) {
        oldest = bus->db_min;
    }
    return oldest;
}

/* ---- ring and persistence ---------------------------------------------------- */

static uint64_t ring_pin(const ad_bus_t *bus);

static void ring_evict(ad_bus_t *bus)
{
    size_t max = bus->cfg ? (size_t)bus->cfg->event_ring_bytes : (8u << 20);
    /* A table read in flight pins the ring just past what it reads, so the
     * reader continues from the ring instead of chasing it forever; up to
     * four times the bound. */
    uint64_t pin = bus->ring.bytes <= 4 * max ? ring_pin(bus) : 0;
    /* Events not yet committed stay in the ring whatever its size: replay
     * relies on every event being in the ring or in the table. */
    while (bus->ring.bytes > max && bus->ring.count > 1) {
        uint64_t first = bus_ring_first(&bus->ring);
        if ((bus->sops != NULL && first > bus->persisted_seq) || (pin != 0 && first >= pin)) {
            break;
        }
        bus_event_unref(bus_ring_pop(&bus->ring));
    }
}

static void maybe_trim(ad_bus_t *bus, bool force);

static void flush_writes(ad_bus_t *bus);
static void schedule_writes(ad_bus_t *bus);

typedef struct {
    ad_bus_t *bus;
    size_t n;
    ad_bus_event_t *evs[];
} wbatch_t;

static void on_written(int rc, void *arg)
{
    wbatch_t *wb = arg;
    ad_bus_t *bus = wb->bus;
    if (rc != 0) {
        ad_log(AD_LOG_ERROR, "bus", "events not persisted first=%llu n=%zu err=%s",
               (unsigned long long)wb->evs[0]->seq, wb->n, ad_strerror(rc));
    } else if (bus->db_min == 0) {
        bus->db_min = wb->evs[0]->seq;
    }
    /* A failed batch is given up rather than retried forever; the ring
     * still holds it for a while. */
    if (wb->evs[wb->n - 1]->seq > bus->persisted_seq) {
        bus->persisted_seq = wb->evs[wb->n - 1]->seq;
    }
    for (size_t i = 0; i < wb->n; i++) {
        bus_event_unref(wb->evs[i]);
    }
    free(wb);
    bus->writes--;
    if (bus->closing) {
        bus_try_finish_free(bus);
        return;
    }
    ring_evict(bus);
    maybe_trim(bus, false);
    schedule_writes(bus);
}

/* One batch in flight at a time, so events queued meanwhile go in the next
 * transaction together; when stopping, everything goes at once. */
static void flush_writes(ad_bus_t *bus)
{
    if (bus->sops == NULL || bus->npending == 0 || bus->closing ||
        (bus->writes > 0 && !bus->stopping)) {
        return;
    }
    if (bus->loop != NULL && !uv_is_closing((uv_handle_t *)&bus->persist_timer)) {
        uv_timer_stop(&bus->persist_timer);
    }
    size_t n = bus->npending < WRITE_BATCH_MAX || bus->stopping ? bus->npending : WRITE_BATCH_MAX;
    wbatch_t *wb = ad_xmalloc(sizeof(*wb) + n * sizeof(wb->evs[0]));
    wb->bus = bus;
    wb->n = n;
    memcpy(wb->evs, bus->pending, n * sizeof(*bus->pending));
    memmove(bus->pending, bus->pending + n, (bus->npending - n) * sizeof(*bus->pending));
    bus->npending -= n;
    bus->writes++;
    bus->sops->write(bus->simpl, wb->evs, n, on_written, wb);
}

static void on_persist_timer(uv_timer_t *t)
{
    flush_writes(t->data);
}

/* Writes what is pending soon: at once when stopping, without a loop, or
 * with a full batch; otherwise after PERSIST_DELAY_MS (or when the batch in
 * flight has committed and the delay has passed). */
static void schedule_writes(ad_bus_t *bus)
{
    if (bus->sops == NULL || bus->npending == 0 || bus->closing) {
        return;
    }
    if (bus->loop == NULL || bus->stopping || bus->npending >= WRITE_BATCH_MAX ||
        uv_is_closing((uv_handle_t *)&bus->persist_timer)) {
        flush_writes(bus);
        return;
    }
    if (bus->writes == 0 && !uv_is_active((uv_handle_t *)&bus->persist_timer)) {
        uv_timer_start(&bus->persist_timer, on_persist_timer, PERSIST_DELAY_MS, 0);
    }
}

static void on_trimmed(int rc, uint64_t oldest, void *arg)
{
    ad_bus_t *bus = arg;
    bus->trimming = false;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "bus", "event retention failed err=%s", ad_strerror(rc));
    } else {
        bus->db_min = oldest;
    }
    if (bus->closing) {
        bus_try_finish_free(bus);
    }
}

static void maybe_trim(ad_bus_t *bus, bool force)
{
    if (bus->sops == NULL || bus->trimming || bus->closing || bus->stopping || bus->cfg == NULL) {
        return;
    }
    if (bus->db_reads > 0) {
        return; /* a replay is reading the table: the next commit tries again */
    }
    int64_t now = ad_wall_ms();
    if (bus->db_min == 0 || (!force && now - bus->last_trim_ms < TRIM_MIN_INTERVAL_MS)) {
        return;
    }
    /* Size is enforced through the mean event size of the ring, which
     * saves summing the table. */
    size_t avg = bus->ring.count ? bus->ring.bytes / bus->ring.count : 256;
    uint64_t keep = bus->cfg->event_retention_bytes / (avg ? avg : 1);
    uint64_t max_seq = bus->persisted_seq > keep ? bus->persisted_seq - keep : 0;
    if (!force && max_seq < bus->db_min) {
        return; /* under the size bound; age is the timer's job */
    }
    bus->last_trim_ms = now;
    int64_t min_ts = now - (int64_t)bus->cfg->event_retention_seconds * 1000;
    bus->trimming = true;
    bus->sops->trim(bus->simpl, max_seq, min_ts, on_trimmed, bus);
}

static void on_trim_timer(uv_timer_t *t)
{
    maybe_trim(t->data, true);
}

void ad_bus_set_store(ad_bus_t *bus, const ad_bus_store_ops_t *ops, void *impl, uint64_t min_seq,
                      uint64_t max_seq)
{
    bus->sops = ops;
    bus->simpl = impl;
    if (max_seq > bus->seq) {
        bus->seq = max_seq;
    }
    bus->persisted_seq = bus->seq;
    bus->db_min = min_seq;
    if (bus->loop != NULL) {
        uv_timer_start(&bus->trim_timer, on_trim_timer, 1000, TRIM_TIMER_MS);
        uv_unref((uv_handle_t *)&bus->trim_timer);
    }
}

void ad_bus_stop(ad_bus_t *bus)
{
    if (bus == NULL || bus->stopping) {
        return;
    }
    if (bus->loop != NULL && !uv_is_closing((uv_handle_t *)&bus->trim_timer)) {
        uv_timer_stop(&bus->trim_timer);
    }
    bus->stopping = true;
    flush_writes(bus);
}

/* ---- fan-out ------------------------------------------------------------------ */

static void sub_overflow(ad_bus_sub_t *sub)
{
    if (sub->dead) {
        return;
    }
    sub->dead = true;
    sub->busy++;
    if (sub->ops->overflow != NULL) {
        sub->ops->overflow(sub->ud, sub->last_seq);
    }
    sub->busy--;
}

/* Hands ev to sub. Returns false when sub can take nothing more. */
static bool sub_deliver(ad_bus_sub_t *sub, const ad_bus_event_t *ev)
{
    if (sub->dead || sub->freed) {
        return false;
    }
    sub->busy++;
    int rc = sub->ops->deliver(sub->ud, ev);
    sub->busy--;
    if (rc != 0) {
        sub_overflow(sub);
        return false;
    }
    sub->last_seq = ev->seq;
    return !sub->freed;
}

static void offer(ad_bus_sub_t *sub, const ad_bus_event_t *ev)
{
    if (sub->mark == ev->seq || sub->replaying || sub->dead || sub->freed) {
        return;
    }
    sub->mark = ev->seq;
    sub_deliver(sub, ev);
    if (sub->freed) {
        sub_try_reap(sub); /* in a publish: joins the zombies */
    }
}

static void offer_node(bus_node_t *n, const ad_bus_event_t *ev)
{
    bus_entry_t *e = n->entries;
    while (e != NULL) {
        bus_entry_t *next = e->next;
        offer(e->sub, ev);
        e = next;
    }
}

static void fan_out(ad_bus_t *bus, const ad_bus_event_t *ev)
{
    bus->in_publish++;
    for (size_t i = 0; i < ev->ntopics; i++) {
        size_t len = strlen(ev->topics[i]);
        bus_node_t *n = bus_index_exact(&bus->index, ev->topics[i], len);
        if (n != NULL) {
            offer_node(n, ev);
        }
        for (bus_node_t *p = bus->index.prefixes; p != NULL; p = p->next) {
            if (bus_node_match(p, ev->topics[i], len)) {
                offer_node(p, ev);
            }
        }
    }
    bus->in_publish--;
    if (bus->in_publish == 0) {
        while (bus->zombies != NULL) {
            ad_bus_sub_t *z = bus->zombies;
            bus->zombies = z->zombie_next;
            z->zombie = false;
            sub_try_reap(z);
        }
    }
}

static int dump_cb(const char *buf, size_t size, void *data)
{
    return ad_buf_append(data, buf, size) == 0 ? 0 : -1;
}

/* Stamps, rings, queues for persistence and fans out one event whose
 * payload text is ready. */
static uint64_t publish_text(ad_bus_t *bus, int64_t now, uint64_t seq, const char *type,
                             const char *const *topics, size_t ntopics, const char *payload,
                             size_t len)
{
    if (now != bus->ts_ms || bus->ts[0] == '\0') {
        ad_time_format(now, bus->ts);
        bus->ts_ms = now;
    }
    const char *ts = bus->ts;
    ad_bus_event_t *ev =
        bus_event_make(seq, now, ts, type ? type : "", topics, ntopics, payload, len);
    if (ev == NULL) {
        ad_log(AD_LOG_WARN, "bus", "payload too large type=%s seq=%llu", type ? type : "",
               (unsigned long long)seq);
        ev = bus_event_make(seq, now, ts, type ? type : "", topics, ntopics, "{\"truncated\":true}",
                            18);
    }
    bus_ring_push(&bus->ring, ev);
    if (bus->sops != NULL && !bus->stopping) {
        if (bus->npending == bus->pending_cap) {
            bus->pending_cap = bus->pending_cap ? bus->pending_cap * 2 : 256;
            bus->pending = ad_xrealloc(bus->pending, bus->pending_cap * sizeof(*bus->pending));
        }
        bus->pending[bus->npending++] = bus_event_ref(ev);
    } else {
        bus->persisted_seq = seq;
    }
    fan_out(bus, ev);
    bus_event_unref(ev);
    ring_evict(bus);
    schedule_writes(bus);
    return seq;
}

uint64_t ad_bus_publish(ad_bus_t *bus, const char *type, const char *const *topics, size_t ntopics,
                        json_t *payload)
{
    if (bus == NULL) {
        return 0;
    }
    uint64_t seq = ++bus->seq;
    ad_buf_reset(&bus->scratch);
    int rc =
        payload == NULL ? ad_buf_puts(&bus->scratch, "{}") : bus_json_write(&bus->scratch, payload);
    if (rc != 0 && payload != NULL) {
        /* Deeper than bus_json_write goes, or too big: jansson decides,
         * as it always did. */
        ad_buf_reset(&bus->scratch);
        rc = json_dump_callback(payload, dump_cb, &bus->scratch, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "bus", "payload too large or unserializable type=%s seq=%llu", type,
               (unsigned long long)seq);
        ad_buf_reset(&bus->scratch);
        ad_buf_puts(&bus->scratch, "{\"truncated\":true}");
    }
    return publish_text(bus, ad_wall_ms(), seq, type, topics, ntopics, bus->scratch.data,
                        bus->scratch.len);
}

uint64_t ad_bus_publish_text(ad_bus_t *bus, const char *type, const char *const *topics,
                             size_t ntopics, const char *payload, size_t len)
{
    if (bus == NULL) {
        return 0;
    }
    uint64_t seq = ++bus->seq;
    return publish_text(bus, ad_wall_ms(), seq, type, topics, ntopics, payload, len);
}

/* ---- subscribers ----------------------------------------------------------------- */

ad_bus_sub_t *ad_bus_sub_new(ad_bus_t *bus, const ad_bus_sub_ops_t *ops, void *ud,
                             size_t queue_limit)
{
    ad_bus_sub_t *sub = ad_xcalloc(1, sizeof(*sub));
    sub->bus = bus;
    sub->ops = ops;
    sub->ud = ud;
    sub->queue_limit = queue_limit;
    sub->bf_tail = &sub->backfills;
    return sub;
}

static void backfill_free(backfill_t *bf)
{
    for (size_t i = 0; i < bf->ntopics; i++) {
        free(bf->topics[i]);
    }
    free(bf->topics);
    free(bf);
}

static void entry_remove(ad_bus_t *bus, bus_entry_t *e)
{
    if (e->prev != NULL) {
        e->prev->next = e->next;
    } else {
        e->node->entries = e->next;
    }
    if (e->next != NULL) {
        e->next->prev = e->prev;
    }
    if (bus->in_publish == 0) {
        bus_index_release(&bus->index, e->node);
    }
    free(e);
}

static void pace_remove(ad_bus_sub_t *sub)
{
    if (!sub->paced) {
        return;
    }
    if (sub->pace_prev != NULL) {
        sub->pace_prev->pace_next = sub->pace_next;
    } else {
        sub->bus->paced = sub->pace_next;
    }
    if (sub->pace_next != NULL) {
        sub->pace_next->pace_prev = sub->pace_prev;
    }
    sub->paced = false;
    sub->pace_next = sub->pace_prev = NULL;
}

static void sub_try_reap(ad_bus_sub_t *sub)
{
    ad_bus_t *bus = sub->bus;
    if (!sub->freed || sub->busy > 0 || sub->db_pending || sub->zombie) {
        return;
    }
    if (bus->in_publish > 0) {
        sub->zombie = true;
        sub->zombie_next = bus->zombies;
        bus->zombies = sub;
        return;
    }
    pace_remove(sub);
    while (sub->entries != NULL) {
        bus_entry_t *e = sub->entries;
        sub->entries = e->sub_next;
        entry_remove(bus, e);
    }
    while (sub->backfills != NULL) {
        backfill_t *bf = sub->backfills;
        sub->backfills = bf->next;
        backfill_free(bf);
    }
    free(sub);
}

void ad_bus_sub_free(ad_bus_sub_t *sub)
{
    if (sub == NULL || sub->freed) {
        return;
    }
    sub->freed = true;
    sub_try_reap(sub);
}

uint64_t ad_bus_sub_last_seq(const ad_bus_sub_t *sub)
{
    return sub->last_seq;
}

bool ad_bus_sub_replaying(const ad_bus_sub_t *sub)
{
    return sub->replaying;
}

static bus_entry_t *sub_find(ad_bus_sub_t *sub, bus_node_t *node, bus_entry_t ***link)
{
    bus_entry_t **pp = &sub->entries;
    while (*pp != NULL && (*pp)->node != node) {
        pp = &(*pp)->sub_next;
    }
    if (link != NULL) {
        *link = pp;
    }
    return *pp;
}

int ad_bus_subscribe(ad_bus_sub_t *sub, const char *const *topics, size_t n, bool has_since,
                     uint64_t since)
{
    ad_bus_t *bus = sub->bus;
    if (sub->freed || sub->dead) {
        return AD_ECLOSED;
    }
    for (size_t i = 0; i < n; i++) {
        if (!ad_bus_topic_valid(topics[i])) {
            return AD_EINVAL;
        }
    }
    if (sub->nentries + n > AD_BUS_SUB_TOPICS_MAX) {
        return AD_ETOOBIG;
    }
    for (size_t i = 0; i < n; i++) {
        bus_node_t *node = bus_index_node(&bus->index, topics[i], true);
        if (sub_find(sub, node, NULL) != NULL) {
            continue;
        }
        bus_entry_t *e = ad_xcalloc(1, sizeof(*e));
        e->node = node;
        e->sub = sub;
        e->next = node->entries;
        if (node->entries != NULL) {
            node->entries->prev = e;
        }
        node->entries = e;
        e->sub_next = sub->entries;
        sub->entries = e;
        sub->nentries++;
    }
    if (sub->db_pending) {
        sub->db_stale = true;
    }
    if (!has_since) {
        return 0;
    }
    if (!sub->replaying) {
        sub->replaying = true;
        sub->cursor = bus->seq;
    }
    /* Events after the chase position reach the new topics through the
     * chase, which always filters by every current subscription. */
    backfill_t *bf = ad_xcalloc(1, sizeof(*bf));
    bf->cursor = since;
    bf->end = sub->cursor;
    bf->ntopics = n;
    bf->topics = ad_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        bf->topics[i] = ad_xstrdup(topics[i]);
    }
    *sub->bf_tail = bf;
    sub->bf_tail = &bf->next;
    if (!sub->db_pending && !sub->paced) {
        run_replay(sub);
    }
    return 0;
}

void ad_bus_unsubscribe(ad_bus_sub_t *sub, const char *const *topics, size_t n)
{
    ad_bus_t *bus = sub->bus;
    for (size_t i = 0; i < n; i++) {
        if (!ad_bus_topic_valid(topics[i])) {
            continue;
        }
        bus_node_t *node = bus_index_node(&bus->index, topics[i], false);
        bus_entry_t **link;
        if (node == NULL || sub_find(sub, node, &link) == NULL) {
            continue;
        }
        bus_entry_t *e = *link;
        *link = e->sub_next;
        sub->nentries--;
        entry_remove(bus, e);
    }
}

/* ---- replay ------------------------------------------------------------------------- */

static bool match_list(char *const *pats, size_t npats, const ad_bus_event_t *ev)
{
    for (size_t t = 0; t < ev->ntopics; t++) {
        for (size_t i = 0; i < npats; i++) {
            if (bus_pattern_match(pats[i], ev->topics[t])) {
                return true;
            }
        }
    }
    return false;
}

static bool match_sub(const ad_bus_sub_t *sub, const ad_bus_event_t *ev)
{
    for (size_t t = 0; t < ev->ntopics; t++) {
        size_t len = strlen(ev->topics[t]);
        for (const bus_entry_t *e = sub->entries; e != NULL; e = e->sub_next) {
            if (bus_node_match(e->node, ev->topics[t], len)) {
                return true;
            }
        }
    }
    return false;
}

static char **sub_patterns(const ad_bus_sub_t *sub, size_t *n)
{
    char **p = ad_xcalloc(sub->nentries ? sub->nentries : 1, sizeof(char *));
    size_t i = 0;
    for (const bus_entry_t *e = sub->entries; e != NULL; e = e->sub_next) {
        p[i] = ad_xmalloc(e->node->len + 2);
        memcpy(p[i], e->node->key, e->node->len);
        if (e->node->prefix) {
            p[i][e->node->len] = '*';
            p[i][e->node->len + 1] = '\0';
        } else {
            p[i][e->node->len] = '\0';
        }
        i++;
    }
    *n = i;
    return p;
}

typedef struct dbread {
    uv_work_t work;
    struct dbread *next, *prev;
    ad_bus_sub_t *sub;
    backfill_t *bf; /* the backfill read for, NULL for the chase */
    const ad_bus_store_ops_t *sops;
    void *simpl;
    uint64_t after, upto, scanned;
    char **pats;
    size_t npats;
    ad_bus_event_t **evs;
    size_t nevs, cap;
    size_t rows;
    int rc;
} dbread_t;

static int on_row(const ad_bus_row_t *row, void *arg)
{
    dbread_t *dr = arg;
    dr->rows++;
    dr->scanned = row->seq;
    json_t *arr = json_loads(row->topics, 0, NULL);
    size_t nt = json_is_array(arr) ? json_array_size(arr) : 0;
    const char *tops[64];
    if (nt > AD_ARRAY_LEN(tops)) {
        nt = AD_ARRAY_LEN(tops);
    }
    size_t k = 0;
    for (size_t i = 0; i < nt; i++) {
        const char *s = json_string_value(json_array_get(arr, i));
        if (s != NULL) {
            tops[k++] = s;
        }
    }
    char ts[AD_TIME_MAX];
    ad_time_format(row->ts_ms, ts);
    ad_bus_event_t *ev = NULL;
    bool match = false;
    for (size_t t = 0; t < k && !match; t++) {
        for (size_t i = 0; i < dr->npats && !match; i++) {
            match = bus_pattern_match(dr->pats[i], tops[t]);
        }
    }
    if (match) {
        ev = bus_event_make(row->seq, row->ts_ms, ts, row->type, tops, k, row->payload,
                            row->payload_len);
    }
    json_decref(arr);
    if (ev != NULL) {
        if (dr->nevs == dr->cap) {
            dr->cap = dr->cap ? dr->cap * 2 : 64;
            dr->evs = ad_xrealloc(dr->evs, dr->cap * sizeof(*dr->evs));
        }
        dr->evs[dr->nevs++] = ev;
    }
    return 0;
}

static void dbread_work(uv_work_t *w)
{
    dbread_t *dr = w->data;
    dr->rc = dr->sops->read(dr->simpl, dr->after, dr->upto, READ_BATCH_ROWS, on_row, dr);
    if (dr->rc == 0 && dr->rows < READ_BATCH_ROWS) {
        dr->scanned = dr->upto;
    }
}

static void dbread_free(dbread_t *dr)
{
    for (size_t i = 0; i < dr->nevs; i++) {
        bus_event_unref(dr->evs[i]);
    }
    free(dr->evs);
    for (size_t i = 0; i < dr->npats; i++) {
        free(dr->pats[i]);
    }
    free(dr->pats);
    free(dr);
}

static uint64_t ring_pin(const ad_bus_t *bus)
{
    uint64_t pin = 0;
    for (const dbread_t *dr = bus->reads; dr != NULL; dr = dr->next) {
        if (pin == 0 || dr->upto + 1 < pin) {
            pin = dr->upto + 1;
        }
    }
    return pin;
}

static void dbread_done(uv_work_t *w, int status)
{
    dbread_t *dr = w->data;
    ad_bus_sub_t *sub = dr->sub;
    ad_bus_t *bus = sub->bus;
    bus->db_reads--;
    if (dr->prev != NULL) {
        dr->prev->next = dr->next;
    } else {
        bus->reads = dr->next;
    }
    if (dr->next != NULL) {
        dr->next->prev = dr->prev;
    }
    sub->db_pending = false;
    /* A chase read is worthless once subscriptions changed or a backfill
     * was queued in front of it: read again. */
    bool stale = dr->bf == NULL && (sub->db_stale || sub->backfills != NULL);
    sub->db_stale = false;
    if (sub->freed || sub->dead || status != 0 || stale) {
        goto out;
    }
    uint64_t *cur = dr->bf ? &dr->bf->cursor : &sub->cursor;
    if (dr->rc != 0) {
        ad_log(AD_LOG_ERROR, "bus", "replay read failed after=%llu err=%s",
               (unsigned long long)dr->after, ad_strerror(dr->rc));
        dr->scanned = dr->upto; /* skip rather than spin */
    }
    for (size_t i = 0; i < dr->nevs; i++) {
        if (dr->evs[i]->seq > *cur && !sub_deliver(sub, dr->evs[i])) {
            goto out;
        }
    }
    if (dr->scanned > *cur) {
        *cur = dr->scanned;
    }
out:
    dbread_free(dr);
    if (sub->freed) {
        sub_try_reap(sub);
    } else if (!sub->dead) {
        run_replay(sub);
    }
    if (bus->closing) {
        bus_try_finish_free(bus);
    }
}

static void start_dbread(ad_bus_sub_t *sub, backfill_t *bf, uint64_t after, uint64_t upto,
                         char **pats, size_t npats)
{
    ad_bus_t *bus = sub->bus;
    dbread_t *dr = ad_xcalloc(1, sizeof(*dr));
    dr->work.data = dr;
    dr->sub = sub;
    dr->bf = bf;
    dr->sops = bus->sops;
    dr->simpl = bus->simpl;
    dr->after = after;
    dr->upto = upto;
    dr->scanned = after;
    dr->pats = pats;
    dr->npats = npats;
    sub->db_pending = true;
    bus->db_reads++;
    dr->next = bus->reads;
    if (bus->reads != NULL) {
        bus->reads->prev = dr;
    }
    bus->reads = dr;
    int rc = uv_queue_work(bus->loop, &dr->work, dbread_work, dbread_done);
    if (rc != 0) {
        AD_BUG("uv_queue_work failed: %s", uv_strerror(rc));
    }
}

static void on_pace_timer(uv_timer_t *t)
{
    ad_bus_t *bus = t->data;
    ad_bus_sub_t *sub = bus->paced;
    while (sub != NULL) {
        ad_bus_sub_t *next = sub->pace_next;
        if (has_room(sub)) {
            pace_remove(sub);
            run_replay(sub);
        }
        sub = next;
    }
    if (bus->paced == NULL) {
        uv_timer_stop(&bus->pace_timer);
    }
}

static bool has_room(ad_bus_sub_t *sub)
{
    return sub->ops->queued == NULL || sub->queue_limit == 0 ||
           sub->ops->queued(sub->ud) <= sub->queue_limit / 2;
}

static void pace_add(ad_bus_sub_t *sub)
{
    ad_bus_t *bus = sub->bus;
    sub->paced = true;
    sub->pace_prev = NULL;
    sub->pace_next = bus->paced;
    if (bus->paced != NULL) {
        bus->paced->pace_prev = sub;
    }
    bus->paced = sub;
    if (!uv_is_active((uv_handle_t *)&bus->pace_timer)) {
        uv_timer_start(&bus->pace_timer, on_pace_timer, PACE_MS, PACE_MS);
    }
}

static bool must_pace(ad_bus_sub_t *sub)
{
    if (sub->bus->loop == NULL || has_room(sub)) {
        return false;
    }
    pace_add(sub);
    return true;
}

/* Moves the subscriber's replay forward: backfills first (their own topics,
 * up to the seq where the chase took over), then the chase with every
 * current subscription until it reaches the newest seq, when live delivery
 * takes over. Synchronous while the ring covers the range; a read of the
 * events table otherwise, after which this runs again. */
static void run_replay(ad_bus_sub_t *sub)
{
    ad_bus_t *bus = sub->bus;
    while (!sub->freed && !sub->dead && sub->replaying) {
        backfill_t *bf = sub->backfills;
        uint64_t *cur = bf ? &bf->cursor : &sub->cursor;
        uint64_t end = bf ? bf->end : bus->seq;
        if (*cur >= end) {
            if (bf == NULL) {
                sub->replaying = false; /* caught up: live from here */
                break;
            }
            sub->backfills = bf->next;
            if (sub->backfills == NULL) {
                sub->bf_tail = &sub->backfills;
            }
            backfill_free(bf);
            continue;
        }
        if (must_pace(sub)) {
            return;
        }
        uint64_t oldest = ad_bus_oldest_seq(bus);
        if (*cur + 1 < oldest) {
            sub->busy++;
            if (sub->ops->truncated != NULL) {
                sub->ops->truncated(sub->ud, oldest);
            }
            sub->busy--;
            *cur = oldest - 1 < end ? oldest - 1 : end;
            continue;
        }
        uint64_t ring_first = bus_ring_first(&bus->ring);
        if (ring_first != 0 && *cur + 1 >= ring_first) {
            for (int i = 0; i < REPLAY_SLICE && *cur < end; i++) {
                if (i > 0 && sub->ops->queued != NULL && sub->queue_limit > 0 &&
                    sub->ops->queued(sub->ud) > sub->queue_limit / 2) {
                    break; /* must_pace() takes it from here */
                }
                ad_bus_event_t *ev = bus_ring_get(&bus->ring, *cur + 1);
                if (ev == NULL) {
                    AD_BUG("replay ring hole seq=%llu", (unsigned long long)(*cur + 1));
                }
                bool ok = bf ? match_list(bf->topics, bf->ntopics, ev) : match_sub(sub, ev);
                if (ok && !sub_deliver(sub, ev)) {
                    goto out;
                }
                *cur = ev->seq;
            }
            continue;
        }
        if (bus->sops == NULL) {
            AD_BUG("replay below the ring without a store");
        }
        if (bus->trimming && bus->loop != NULL) {
            /* A trim may delete rows this read would return, after the
             * oldest seq was checked above: read once it has finished. */
            if (!sub->paced) {
                pace_add(sub);
            }
            return;
        }
        uint64_t upto = ring_first ? ring_first - 1 : end;
        if (upto > end) {
            upto = end;
        }
        size_t npats;
        char **pats;
        if (bf != NULL) {
            npats = bf->ntopics;
            pats = ad_xcalloc(npats ? npats : 1, sizeof(char *));
            for (size_t i = 0; i < npats; i++) {
                pats[i] = ad_xstrdup(bf->topics[i]);
            }
        } else {
            pats = sub_patterns(sub, &npats);
        }
        start_dbread(sub, bf, *cur, upto, pats, npats);
        return;
    }
out:
    if (sub->freed) {
        sub_try_reap(sub);
    }
}
