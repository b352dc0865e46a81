/* SPDX-License-Identifier: MIT */
/*
 * The event bus: sequence numbers, publishing, fan-out to subscribers
 * through the topic index, and the subscribers themselves (topics, the
 * send-queue bound, overflow). Replay is replay.c's, the replay ring's
 * eviction and the event log's queue persist.c's. Connections and wire
 * formats are the owner's business (src/api/live.c); storing the events is
 * src/store/events.c's.
 */
#include "bus/bus_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- life cycle -------------------------------------------------------------- */

static void drop_turn(ad_bus_t *bus);

/* Before each poll: the loop thread's CPU time since the last one is what
 * the turn cost (the poll's wait costs none, and time the thread was off
 * the CPU is not counted): the longest is kept, and the turns over 50 ms
 * counted, for /metrics (a replay's work must never stall the loop). */
static void on_meter(uv_prepare_t *h)
{
    ad_bus_t *bus = h->data;
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) {
        return;
    }
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    if (bus->turn_cpu_ns != 0) {
        uint64_t d = now - bus->turn_cpu_ns;
        if (d > bus->turn_max_ns) {
            bus->turn_max_ns = d;
        }
        if (d >= 50000000u) {
            bus->turns_slow++;
        }
    }
    bus->turn_cpu_ns = now;
}

ad_bus_t *ad_bus_new(uv_loop_t *loop, const ad_config_t *cfg)
{
    ad_bus_t *bus = ad_xcalloc(1, sizeof(*bus));
    bus->loop = loop;
    bus->cfg = cfg;
    ad_bus_index_init(&bus->index);
    ad_bus_ring_init(&bus->ring);
    ad_buf_init(&bus->scratch, BUS_EVENT_MAX);
    ad_buf_init(&bus->head, BUS_EVENT_MAX);
    bus->reserved = UINT64_MAX; /* nothing to reserve against until a store */
    bus->rp_budget = cfg != NULL ? cfg->event_replay_bytes : 0;
    if (loop != NULL) {
        uv_timer_t *timers[] = {&bus->pace_timer, &bus->trim_timer, &bus->persist_timer,
                                &bus->retry_timer};
        for (size_t i = 0; i < AD_ARRAY_LEN(timers); i++) {
            uv_timer_init(loop, timers[i]);
            timers[i]->data = bus;
        }
        uv_idle_init(loop, &bus->turn_idle);
        uv_check_init(loop, &bus->turn_check);
        bus->turn_idle.data = bus;
        bus->turn_check.data = bus;
        uv_prepare_init(loop, &bus->meter);
        bus->meter.data = bus;
        uv_prepare_start(&bus->meter, on_meter);
        uv_unref((uv_handle_t *)&bus->meter); /* it keeps nothing running */
        bus->open_handles = (int)AD_ARRAY_LEN(timers) + 3;
    }
    return bus;
}

static void on_handle_closed(uv_handle_t *h)
{
    ad_bus_t *bus = h->data;
    bus->open_handles--;
    ad_bus_try_finish_free(bus);
}

void ad_bus_try_finish_free(ad_bus_t *bus)
{
    if (!bus->closing || bus->open_handles > 0 || bus->writes > 0 || bus->trimming ||
        bus->db_reads > 0 || bus->reserving) {
        return;
    }
    for (size_t i = 0; i < bus->npending; i++) {
        ad_bus_event_unref(bus->pending[i]);
    }
    free(bus->pending);
    ad_bus_ring_cleanup(&bus->ring);
    ad_bus_index_cleanup(&bus->index);
    ad_buf_cleanup(&bus->scratch);
    ad_buf_cleanup(&bus->head);
    free(bus);
}

void ad_bus_free(ad_bus_t *bus)
{
    if (bus == NULL || bus->closing) {
        return;
    }
    bus->closing = true;
    ad_bus_drop_retry(bus);
    drop_turn(bus);
    uv_handle_t *handles[] = {(uv_handle_t *)&bus->pace_timer,    (uv_handle_t *)&bus->trim_timer,
                              (uv_handle_t *)&bus->persist_timer, (uv_handle_t *)&bus->retry_timer,
                              (uv_handle_t *)&bus->turn_idle,     (uv_handle_t *)&bus->turn_check,
                              (uv_handle_t *)&bus->meter};
    for (size_t i = 0; i < AD_ARRAY_LEN(handles) && bus->loop != NULL; i++) {
        if (uv_is_closing(handles[i])) {
            bus->open_handles--; /* closed by whoever walked the loop */
        } else {
            uv_close(handles[i], on_handle_closed);
        }
    }
    ad_bus_try_finish_free(bus);
}

uint64_t ad_bus_seq(const ad_bus_t *bus)
{
    return bus ? bus->visible : 0;
}

void ad_bus_on_remote_gap(ad_bus_t *bus, ad_bus_gap_fn fn, void *ud)
{
    bus->remote_gap = fn;
    bus->remote_gap_ud = ud;
}

void ad_bus_remote_gap(ad_bus_t *bus, uint64_t from, uint64_t to, const char *why)
{
    if (bus != NULL && bus->remote_gap != NULL) {
        bus->remote_gap(bus->remote_gap_ud, from, to, why);
    }
}

uint64_t ad_bus_persisted_seq(const ad_bus_t *bus)
{
    return bus->persisted_seq;
}

size_t ad_bus_unpersisted_bytes(const ad_bus_t *bus)
{
    return bus->unpersisted_bytes;
}

uint64_t ad_bus_oldest_seq(const ad_bus_t *bus)
{
    uint64_t ring = ad_bus_ring_first(&bus->ring);
    uint64_t oldest = ring ? ring : bus->visible + 1;
    if (bus->sops != NULL && bus->db_min != 0 && bus->db_min < oldest) {
        oldest = bus->db_min;
    }
    return oldest;
}

/* ---- fan-out ------------------------------------------------------------------ */

static void sub_overflow(ad_bus_sub_t *sub)
{
    if (sub->dead) {
        return;
    }
    sub->dead = true;
    ad_bus_rp_drop(sub); /* its replay's grant goes to the next in line */
    sub->busy++;
    if (sub->ops->overflow != NULL) {
        sub->ops->overflow(sub->ud, sub->last_seq);
    }
    sub->busy--;
}

/* An event of an org ("org:<id>" among its topics) reaches only that
 * org's subscribers (and the owner's, which have no org); an event with no
 * org topic reaches everyone. */
static bool org_visible(const ad_bus_sub_t *sub, const ad_bus_event_t *ev)
{
    if (sub->org_topic[0] == '\0') {
        return true;
    }
    bool has_org = false;
    for (size_t t = 0; t < ev->ntopics; t++) {
        if (strncmp(ev->topics[t], "org:", 4) == 0) {
            if (strcmp(ev->topics[t], sub->org_topic) == 0) {
                return true;
            }
            has_org = true;
        }
    }
    return !has_org;
}

/* Hands ev to sub. Returns false when sub can take nothing more. */
bool ad_bus_sub_deliver(ad_bus_sub_t *sub, const ad_bus_event_t *ev)
{
    if (sub->dead || sub->freed) {
        return false;
    }
    if (!org_visible(sub, ev)) {
        return true; /* not this subscriber's to see: skipped, not failed */
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

/* After a fan-out or a turn's delivery: the subscribers freed meanwhile
 * (kept as zombies while in_publish was up) are reaped. */
static void end_publish(ad_bus_t *bus)
{
    bus->in_publish--;
    if (bus->in_publish == 0) {
        while (bus->zombies != NULL) {
            ad_bus_sub_t *z = bus->zombies;
            bus->zombies = z->zombie_next;
            z->zombie = false;
            ad_bus_sub_try_reap(z);
        }
    }
}

/* ---- a batched subscriber's turn --------------------------------------------- */

static void batch_drop(ad_bus_sub_t *sub)
{
    for (size_t i = 0; i < sub->nbatch; i++) {
        ad_bus_event_unref(sub->batch[i]);
    }
    sub->nbatch = 0;
}

/* Hands sub the events of its batch from i on (two or more; offer left
 * out other orgs' events) in one deliver_run call, and lets the batch go. The batch is taken off
 * sub first: what callbacks publish meanwhile starts a new one (a realloc of this one would move
 * the array the call reads), which the run goes on with from its start. */
static void batch_run_part(ad_bus_sub_t *sub, size_t i)
{
    ad_bus_event_t **evs = sub->batch;
    size_t cap = sub->batch_cap, n = sub->nbatch;
    sub->batch = NULL;
    sub->nbatch = sub->batch_cap = 0;
    size_t taken = 0;
    sub->busy++;
    int rc = sub->ops->deliver_run(sub->ud, evs + i, n - i, &taken);
    sub->busy--;
    if (taken > 0) {
        sub->last_seq = evs[i + taken - 1]->seq;
    }
    for (size_t j = 0; j < n; j++) {
        ad_bus_event_unref(evs[j]);
    }
    if (sub->batch == NULL) {
        sub->batch = evs; /* kept for the next turn */
        sub->batch_cap = cap;
    } else {
        free(evs);
    }
    if (rc != 0) {
        sub_overflow(sub);
    }
}

/* Delivers sub's batch in order, with what callbacks add to it meanwhile:
 * two or more events at once to a subscriber that takes runs, else one by
 * one. in_publish is up, so a subscriber freed in a callback stays
 * allocated. */
static void batch_run(ad_bus_sub_t *sub)
{
    sub->turn_running = true;
    size_t i = 0;
    while (i < sub->nbatch && !sub->dead && !sub->freed) {
        if (sub->ops->deliver_run != NULL && sub->nbatch - i >= 2) {
            batch_run_part(sub, i);
            i = 0; /* what was published meanwhile, if anything */
        } else {
            ad_bus_sub_deliver(sub, sub->batch[i++]);
        }
    }
    batch_drop(sub);
    sub->turn_running = false;
    if (sub->batch_cap > 256) { /* a burst's array is not kept */
        free(sub->batch);
        sub->batch = NULL;
        sub->batch_cap = 0;
    }
}

/* Delivers what sub's batch holds now: a burst, or before a change of its
 * subscriptions (a replay must start after them). */
static void sub_flush(ad_bus_sub_t *sub)
{
    if (sub->nbatch == 0 || sub->turn_running) {
        return;
    }
    sub->bus->in_publish++;
    batch_run(sub);
    end_publish(sub->bus);
}

/* Delivers every waiting batch; what a callback publishes meanwhile joins
 * the list and goes out in the same call. */
static void deliver_turn(ad_bus_t *bus)
{
    if (bus->turn == NULL) {
        return;
    }
    bus->in_publish++;
    while (bus->turn != NULL) {
        ad_bus_sub_t *sub = bus->turn;
        bus->turn = sub->turn_next;
        sub->turn_next = NULL;
        batch_run(sub); /* still listed: what its callbacks publish joins this run */
        sub->turn_listed = false;
        if (sub->freed) {
            ad_bus_sub_try_reap(sub);
        }
    }
    uv_idle_stop(&bus->turn_idle);
    uv_check_stop(&bus->turn_check);
    end_publish(bus);
}

void ad_bus_deliver_turn(ad_bus_t *bus)
{
    if (bus != NULL) {
        deliver_turn(bus);
    }
}

static void on_turn_idle(uv_idle_t *h)
{
    deliver_turn(h->data);
}

static void on_turn_check(uv_check_t *h)
{
    deliver_turn(h->data);
}

/* The bus is being freed: batches are dropped, their subscribers reaped. */
static void drop_turn(ad_bus_t *bus)
{
    while (bus->turn != NULL) {
        ad_bus_sub_t *sub = bus->turn;
        bus->turn = sub->turn_next;
        batch_drop(sub);
        sub->turn_next = NULL;
        sub->turn_listed = false;
        ad_bus_sub_try_reap(sub);
    }
}

/* Keeps ev (a reference) for sub's run at the end of the turn. */
static void batch_add(ad_bus_sub_t *sub, ad_bus_event_t *ev)
{
    ad_bus_t *bus = sub->bus;
    if (sub->nbatch == sub->batch_cap) {
        sub->batch_cap = sub->batch_cap ? sub->batch_cap * 2 : 16;
        sub->batch = ad_xrealloc(sub->batch, sub->batch_cap * sizeof(*sub->batch));
    }
    sub->batch[sub->nbatch++] = ad_bus_event_ref(ev);
    if (!sub->turn_listed) {
        if (bus->turn == NULL) {
            uv_idle_start(&bus->turn_idle, on_turn_idle);
            uv_check_start(&bus->turn_check, on_turn_check);
        }
        sub->turn_listed = true;
        sub->turn_next = bus->turn;
        bus->turn = sub;
    }
    if (sub->nbatch >= AD_BUS_BATCH_MAX) {
        sub_flush(sub); /* a burst: what waits goes out now */
    }
}

static void offer(ad_bus_sub_t *sub, ad_bus_event_t *ev)
{
    if (sub->mark == ev->seq || sub->replaying || sub->dead || sub->freed) {
        return;
    }
    sub->mark = ev->seq;
    if (sub->batched && !sub->bus->closing) {
        /* Another org's event is left out here, so a batch holds only what
         * its run delivers (a change of org flushes the batch first). */
        if (org_visible(sub, ev)) {
            batch_add(sub, ev);
        }
        return;
    }
    ad_bus_sub_deliver(sub, ev);
    if (sub->freed) {
        ad_bus_sub_try_reap(sub); /* in a publish: joins the zombies */
    }
}

static void offer_node(bus_node_t *n, ad_bus_event_t *ev)
{
    bus_entry_t *e = n->entries;
    while (e != NULL) {
        bus_entry_t *next = e->next;
        offer(e->sub, ev);
        e = next;
    }
}

static void fan_out(ad_bus_t *bus, ad_bus_event_t *ev)
{
    if (bus->index.count == 0 && bus->index.prefixes == NULL) {
        return; /* nobody subscribed to anything */
    }
    bus->in_publish++;
    for (size_t i = 0; i < ev->ntopics; i++) {
        size_t len = strlen(ev->topics[i]);
        bus_node_t *n = ad_bus_index_exact(&bus->index, ev->topics[i], len);
        if (n != NULL) {
            offer_node(n, ev);
        }
        for (bus_node_t *p = bus->index.prefixes; p != NULL; p = p->next) {
            if (ad_bus_node_match(p, ev->topics[i], len)) {
                offer_node(p, ev);
            }
        }
    }
    end_publish(bus);
}

static int dump_cb(const char *buf, size_t size, void *data)
{
    return ad_buf_append(data, buf, size) == 0 ? 0 : -1;
}

/* Rings, queues for persistence and fans out one new event (takes ev). */
static uint64_t publish_event(ad_bus_t *bus, ad_bus_event_t *ev)
{
    uint64_t seq = ev->seq;
    ad_bus_ring_push(&bus->ring, ev);
    bus->published++;
    if (bus->sops != NULL && !bus->stopping) {
        if (bus->npending == bus->pending_cap) {
            bus->pending_cap = bus->pending_cap ? bus->pending_cap * 2 : 256;
            bus->pending = ad_xrealloc(bus->pending, bus->pending_cap * sizeof(*bus->pending));
        }
        bus->pending[bus->npending++] = ad_bus_event_ref(ev);
        bus->unpersisted_bytes += ad_bus_event_bytes(ev);
    } else {
        bus->persisted_seq = seq;
    }
    /* Only a seq under the durable ceiling leaves the process; above it the
     * event waits in the ring for the reservation (ad_bus_release_held). */
    if (seq == bus->visible + 1 && seq <= bus->reserved) {
        bus->visible = seq;
        fan_out(bus, ev);
    }
    ad_bus_event_unref(ev);
    ad_bus_ring_evict(bus);
    ad_bus_schedule_writes(bus);
    ad_bus_reserve_ahead(bus);
    return seq;
}

/* A new event's seq, and its envelope head written into bus->scratch: the
 * payload is then appended right behind it, so an event's text is written
 * once and copied once (into the event). Returns the payload's offset. */
static size_t begin_event(ad_bus_t *bus, uint64_t *seq, int64_t *now, const char *type,
                          const char *const *topics, size_t ntopics)
{
    *seq = ++bus->seq;
    *now = ad_wall_ms();
    if (*now != bus->ts_ms || bus->ts[0] == '\0') {
        ad_time_format(*now, bus->ts);
        bus->ts_ms = *now;
    }
    const char *topic = ntopics > 0 ? topics[0] : "";
    ad_buf_reset(&bus->scratch);
    (void)ad_bus_envelope_seq(&bus->scratch, *seq);
    if (bus->head.len == 0 || bus->head_ms != *now || strcmp(bus->head_topic, topic) != 0 ||
        strcmp(bus->head_type, type) != 0) {
        ad_buf_reset(&bus->head);
        size_t tl = strlen(topic), yl = strlen(type);
        if (tl < AD_BUS_HEAD_KEY && yl < AD_BUS_HEAD_KEY &&
            ad_bus_envelope_rest(&bus->head, bus->ts, topic, type) == 0) {
            memcpy(bus->head_topic, topic, tl + 1);
            memcpy(bus->head_type, type, yl + 1);
            bus->head_ms = *now;
        } else {
            ad_buf_reset(&bus->head); /* long names: written each time */
        }
    }
    int rc = bus->head.len > 0 ? ad_buf_append(&bus->scratch, bus->head.data, bus->head.len)
                               : ad_bus_envelope_rest(&bus->scratch, bus->ts, topic, type);
    if (rc != 0) {
        ad_buf_reset(&bus->scratch); /* a type or topic near 8 MiB: named nowhere */
        (void)ad_bus_envelope_head(&bus->scratch, *seq, bus->ts, "", "");
    }
    return bus->scratch.len;
}

/* Closes the envelope in bus->scratch and publishes it. rc is the payload
 * writer's: on failure (past the size cap, or unserializable) the event
 * goes out with {"truncated":true} instead, so no seq is ever skipped. */
static uint64_t end_event(ad_bus_t *bus, int rc, uint64_t seq, int64_t now, const char *type,
                          const char *const *topics, size_t ntopics, size_t poff)
{
    rc = rc ? rc : ad_buf_putc(&bus->scratch, '}');
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "bus", "payload too large or unserializable type=%s seq=%llu", type,
               (unsigned long long)seq);
        ad_buf_truncate(&bus->scratch, poff);
        /* The envelope's head (a type and a topic, each capped) is far
         * below BUS_EVENT_MAX: the marker always fits after it. */
        AD_DISCARD(ad_buf_puts(&bus->scratch, "{\"truncated\":true}}"));
    }
    return publish_event(bus, ad_bus_event_wrap(seq, now, bus->ts, type, topics, ntopics,
                                                bus->scratch.data, bus->scratch.len, poff));
}

void ad_bus_release_held(ad_bus_t *bus)
{
    while (bus->visible < bus->seq && bus->visible < bus->reserved) {
        ad_bus_event_t *ev = ad_bus_ring_get(&bus->ring, bus->visible + 1);
        if (ev == NULL) {
            AD_BUG("held event left the ring seq=%llu", (unsigned long long)(bus->visible + 1));
        }
        bus->visible++;
        fan_out(bus, ev);
    }
}

void ad_bus_stats(const ad_bus_t *bus, ad_bus_stats_t *out)
{
    *out = (ad_bus_stats_t){.published = bus->published,
                            .persisted = bus->stored,
                            .given_up = bus->dropped,
                            .unpersisted_bytes = bus->unpersisted_bytes,
                            .ring_events = bus->ring.count,
                            .ring_bytes = bus->ring.bytes,
                            .replay_budget = bus->rp_budget,
                            .replay_held = bus->rp_held,
                            .replay_peak = bus->rp_peak,
                            .replay_queued = bus->rp_queued,
                            .replay_cut = bus->rp_cut,
                            .loop_turn_max_ns = bus->turn_max_ns,
                            .loop_turns_slow = bus->turns_slow};
    for (const ad_bus_sub_t *s = bus->rp_head; s != NULL; s = s->rp_next) {
        out->replay_waiting++;
    }
}

uint64_t ad_bus_publish(ad_bus_t *bus, const char *type, const char *const *topics, size_t ntopics,
                        json_t *payload)
{
    AD_ASSERT_LOOP();
    if (bus == NULL) {
        return 0;
    }
    type = type ? type : "";
    uint64_t seq;
    int64_t now;
    size_t poff = begin_event(bus, &seq, &now, type, topics, ntopics);
    int rc =
        payload == NULL ? ad_buf_puts(&bus->scratch, "{}") : ad_json_write(&bus->scratch, payload);
    if (rc != 0 && payload != NULL) {
        /* Deeper than ad_json_write goes, or too big: jansson decides,
         * as it always did. */
        bus->scratch.len = poff;
        rc = json_dump_callback(payload, dump_cb, &bus->scratch, JSON_COMPACT | JSON_ENCODE_ANY);
    }
    return end_event(bus, rc, seq, now, type, topics, ntopics, poff);
}

uint64_t ad_bus_publish_text(ad_bus_t *bus, const char *type, const char *const *topics,
                             size_t ntopics, const char *payload, size_t len)
{
    AD_ASSERT_LOOP();
    if (bus == NULL) {
        return 0;
    }
    type = type ? type : "";
    uint64_t seq;
    int64_t now;
    size_t poff = begin_event(bus, &seq, &now, type, topics, ntopics);
    int rc = ad_buf_append(&bus->scratch, payload, len);
    return end_event(bus, rc, seq, now, type, topics, ntopics, poff);
}

uint64_t ad_bus_publish_text_to(ad_bus_t *bus, const char *type, const char *payload, size_t len,
                                ...)
{
    ad_bus_pairs_t t;
    va_list ap;
    va_start(ap, len);
    ad_bus_pairs_collect(&t, ap);
    va_end(ap);
    return ad_bus_publish_text(bus, type, t.ptrs, t.n, payload, len);
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

void ad_bus_backfill_free(backfill_t *bf)
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
        ad_bus_index_release(&bus->index, e->node);
    }
    free(e);
}

void ad_bus_pace_remove(ad_bus_sub_t *sub)
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

void ad_bus_sub_try_reap(ad_bus_sub_t *sub)
{
    ad_bus_t *bus = sub->bus;
    if (!sub->freed || sub->busy > 0 || sub->db_pending || sub->zombie || sub->turn_listed) {
        return;
    }
    if (bus->in_publish > 0) {
        sub->zombie = true;
        sub->zombie_next = bus->zombies;
        bus->zombies = sub;
        return;
    }
    ad_bus_pace_remove(sub);
    ad_bus_rp_drop(sub);
    while (sub->entries != NULL) {
        bus_entry_t *e = sub->entries;
        sub->entries = e->sub_next;
        entry_remove(bus, e);
    }
    while (sub->backfills != NULL) {
        backfill_t *bf = sub->backfills;
        sub->backfills = bf->next;
        ad_bus_backfill_free(bf);
    }
    free(sub->batch);
    free(sub);
}

void ad_bus_sub_free(ad_bus_sub_t *sub)
{
    if (sub == NULL || sub->freed) {
        return;
    }
    sub->freed = true;
    if (!sub->turn_running) {
        batch_drop(sub); /* a listed subscriber is reaped by the turn's run */
    }
    ad_bus_sub_try_reap(sub);
}

void ad_bus_sub_batch(ad_bus_sub_t *sub)
{
    sub->batched = sub->bus->loop != NULL;
}

int ad_bus_sub_set_org(ad_bus_sub_t *sub, const char *org)
{
    sub_flush(sub); /* what waits was published under the old filter */
    if (org == NULL || org[0] == '\0') {
        sub->org_topic[0] = '\0';
        return 0;
    }
    int n = snprintf(sub->org_topic, sizeof(sub->org_topic), "org:%s", org);
    if (n < 0 || (size_t)n >= sizeof(sub->org_topic)) {
        snprintf(sub->org_topic, sizeof(sub->org_topic), "org:-"); /* matches nothing */
        return AD_EINVAL;
    }
    return 0;
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
    sub_flush(sub); /* a replay starts after what already waits */
    if (sub->nentries + n > AD_BUS_SUB_TOPICS_MAX) {
        return AD_ETOOBIG;
    }
    for (size_t i = 0; i < n; i++) {
        bus_node_t *node = ad_bus_index_node(&bus->index, topics[i], true);
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
        sub->cursor = bus->visible;
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
        ad_bus_run_replay(sub);
    }
    return 0;
}

void ad_bus_unsubscribe(ad_bus_sub_t *sub, const char *const *topics, size_t n)
{
    ad_bus_t *bus = sub->bus;
    sub_flush(sub); /* published while still subscribed */
    for (size_t i = 0; i < n; i++) {
        if (!ad_bus_topic_valid(topics[i])) {
            continue;
        }
        bus_node_t *node = ad_bus_index_node(&bus->index, topics[i], false);
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
