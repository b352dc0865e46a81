/* SPDX-License-Identifier: MIT */
/*
 * Replay: a subscriber that gives `since` gets every matching event after
 * it, from the ring or else the event log (read on a worker), chasing
 * the head until it is caught up, so no live buffer is needed; paced so
 * one replay cannot flood a connection. Seqs missing from the log (lost
 * in a crash, or given up when the log could not be written) are
 * reported as a gap where the replay crosses them, never skipped silently.
 * Fan-out is bus.c's.
 *
 * The replay budget bounds what every replay holds at once, whatever the
 * event size and the number of readers: a step (a slice of the ring, a
 * read of the log) needs a grant of about AD_BUS_REPLAY_CHUNK bytes, and
 * keeps it until the connection has written the step out; then the grant
 * goes to the next reader in line. Readers past the budget wait their
 * turn in order, holding nothing. Log reads are bounded in bytes as in
 * rows, and at most AD_BUS_REPLAY_READS_MAX are in flight; the ring replay
 * one loop turn does is bounded too, so the loop stays responsive.
 */
#include "bus/bus_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- replay ------------------------------------------------------------------------- */

static bool match_list(char *const *pats, size_t npats, const ad_bus_event_t *ev)
{
    for (size_t t = 0; t < ev->ntopics; t++) {
        for (size_t i = 0; i < npats; i++) {
            if (ad_bus_pattern_match(pats[i], ev->topics[t])) {
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
            if (ad_bus_node_match(e->node, ev->topics[t], len)) {
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

/* ---- the replay budget ---------------------------------------------------------- */

static bool budgeted(const ad_bus_t *bus)
{
    return bus->loop != NULL && bus->rp_budget > 0;
}

static size_t sub_queued(ad_bus_sub_t *sub)
{
    return sub->ops->queued != NULL ? sub->ops->queued(sub->ud) : 0;
}

static void on_pace_timer(uv_timer_t *t);

static void pace_timer_on(ad_bus_t *bus)
{
    if (bus->loop != NULL && !bus->closing && !uv_is_active((uv_handle_t *)&bus->pace_timer)) {
        uv_timer_start(&bus->pace_timer, on_pace_timer, AD_BUS_PACE_MS, AD_BUS_PACE_MS);
    }
}

static void grant(ad_bus_sub_t *sub, size_t n)
{
    ad_bus_t *bus = sub->bus;
    sub->rp_grant += n;
    bus->rp_held += n;
    if (bus->rp_held > bus->rp_peak) {
        bus->rp_peak = bus->rp_held;
    }
}

static void ungrant(ad_bus_sub_t *sub)
{
    sub->bus->rp_held -= sub->rp_grant;
    sub->rp_grant = 0;
    sub->rp_used = 0;
}

/* Removes sub from a queue: the budget's (rp_next) or, with rd, the read slots' (rd_next). */
static void queue_unlink(ad_bus_sub_t **head, ad_bus_sub_t **tail, ad_bus_sub_t *sub, bool rd)
{
    ad_bus_sub_t *prev = NULL;
    for (ad_bus_sub_t *s = *head; s != NULL; prev = s, s = rd ? s->rd_next : s->rp_next) {
        if (s != sub) {
            continue;
        }
        ad_bus_sub_t *next = rd ? s->rd_next : s->rp_next;
        if (prev == NULL) {
            *head = next;
        } else if (rd) {
            prev->rd_next = next;
        } else {
            prev->rp_next = next;
        }
        if (*tail == sub) {
            *tail = prev;
        }
        break;
    }
    if (rd) {
        sub->rd_next = NULL;
        sub->rd_waiting = false;
    } else {
        sub->rp_next = NULL;
        sub->rp_waiting = false;
    }
}

/* Puts sub at the end of the line for a grant of need bytes. */
static void rp_wait(ad_bus_sub_t *sub, size_t need)
{
    ad_bus_t *bus = sub->bus;
    sub->rp_waiting = true;
    sub->rp_need = need;
    sub->rp_next = NULL;
    if (bus->rp_tail != NULL) {
        bus->rp_tail->rp_next = sub;
    } else {
        bus->rp_head = sub;
    }
    bus->rp_tail = sub;
    bus->rp_queued++;
    pace_timer_on(bus);
}

static bool fits(const ad_bus_t *bus, size_t need)
{
    return bus->rp_held == 0 || bus->rp_held + need <= bus->rp_budget;
}

static void pace_add(ad_bus_sub_t *sub);

/* A step of need bytes may run: true when sub holds a grant for it (given
 * now, or given and not used yet), false when it waits: for its last
 * step to be written out (paced), or in line for the budget. */
static bool rp_take(ad_bus_sub_t *sub, size_t need)
{
    ad_bus_t *bus = sub->bus;
    if (!budgeted(bus)) {
        return true;
    }
    if (sub->rp_waiting) {
        return false;
    }
    if (sub->rp_grant > 0) {
        if (sub->rp_used == 0) {
            return true;
        }
        if (sub_queued(sub) > AD_BUS_REPLAY_LOW) {
            if (!sub->paced) {
                pace_add(sub); /* its last step is still being written */
            }
            return false;
        }
        ungrant(sub); /* written out: the grant comes back */
    }
    if (bus->rp_head == NULL && fits(bus, need)) {
        grant(sub, need);
        return true;
    }
    rp_wait(sub, need);
    return false;
}

/* sub's step delivered `bytes`: its grant is held until they are written
 * out (rp_take waits for that). False without a budget. */
static bool rp_step_done(ad_bus_sub_t *sub, size_t bytes)
{
    ad_bus_t *bus = sub->bus;
    if (!budgeted(bus) || sub->rp_grant == 0) {
        return false;
    }
    if (bytes > sub->rp_grant) {
        /* a log read gives at least one event, however big: counted */
        grant(sub, bytes - sub->rp_grant);
    }
    sub->rp_used = bytes > 0 ? bytes : 1;
    sub->rp_since_ms = uv_now(bus->loop);
    return true;
}

/* Counts ring replay bytes against this ms of the loop's clock; false once
 * the turn has done its share. */
static bool rp_turn(ad_bus_t *bus, size_t add)
{
    if (!budgeted(bus)) {
        return true;
    }
    uint64_t now = uv_now(bus->loop);
    if (now != bus->rp_turn_ms) {
        bus->rp_turn_ms = now;
        bus->rp_turn_bytes = 0;
    }
    bus->rp_turn_bytes += add;
    return bus->rp_turn_bytes < AD_BUS_REPLAY_TURN_BYTES;
}

void ad_bus_rp_drop(ad_bus_sub_t *sub)
{
    ad_bus_t *bus = sub->bus;
    if (sub->rp_waiting) {
        queue_unlink(&bus->rp_head, &bus->rp_tail, sub, false);
    }
    if (sub->rd_waiting) {
        queue_unlink(&bus->rd_head, &bus->rd_tail, sub, true);
    }
    if (sub->rp_grant > 0) {
        ungrant(sub);
        if (bus->rp_head != NULL) {
            pace_timer_on(bus);
        }
    }
}

/* The replay is over (caught up): the grant comes back once its last step
 * is written out. */
static void rp_settle(ad_bus_sub_t *sub)
{
    if (sub->rp_grant == 0 || sub->replaying || sub->db_pending) {
        return;
    }
    if (sub->rp_used == 0 || sub_queued(sub) <= AD_BUS_REPLAY_LOW) {
        ad_bus_rp_drop(sub);
    } else if (!sub->paced) {
        pace_add(sub);
    }
}

/* A holder whose step has not been written out for AD_BUS_REPLAY_HOLD_MS
 * while others wait: it reads nothing, and its grant is theirs. It is
 * told so (with the last seq it got, to come back from) and closed. */
static void rp_cut(ad_bus_sub_t *sub)
{
    ad_bus_t *bus = sub->bus;
    bus->rp_cut++;
    ad_log(AD_LOG_WARN, "bus", "replay reader cut: nothing taken for %d ms last_seq=%llu",
           AD_BUS_REPLAY_HOLD_MS, (unsigned long long)sub->last_seq);
    sub->dead = true;
    ad_bus_rp_drop(sub);
    ad_bus_pace_remove(sub);
    sub->busy++;
    if (sub->ops->stalled != NULL) {
        sub->ops->stalled(sub->ud, sub->last_seq);
    } else if (sub->ops->overflow != NULL) {
        sub->ops->overflow(sub->ud, sub->last_seq);
    }
    sub->busy--;
    if (sub->freed) {
        ad_bus_sub_try_reap(sub);
    }
}

/* The pace timer's turn for the budget: stalled holders are cut while
 * others wait; those in line get grants while the budget and the turn's
 * share of work allow. */
static void rp_tick(ad_bus_t *bus)
{
    if (!budgeted(bus) || bus->closing) {
        return;
    }
    uint64_t now = uv_now(bus->loop);
    if (bus->rp_head != NULL) {
        ad_bus_sub_t *sub = bus->paced;
        while (sub != NULL) {
            ad_bus_sub_t *next = sub->pace_next;
            if (sub->rp_grant > 0 && sub->rp_used > 0 && !sub->dead &&
                now - sub->rp_since_ms >= AD_BUS_REPLAY_HOLD_MS &&
                sub_queued(sub) > AD_BUS_REPLAY_LOW) {
                rp_cut(sub);
            }
            sub = next;
        }
    }
    while (bus->rp_head != NULL && fits(bus, bus->rp_head->rp_need) && rp_turn(bus, 0)) {
        ad_bus_sub_t *sub = bus->rp_head;
        queue_unlink(&bus->rp_head, &bus->rp_tail, sub, false);
        grant(sub, sub->rp_need);
        ad_bus_run_replay(sub);
    }
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
    struct gap {
        uint64_t from, to;
        size_t at; /* reported before evs[at] */
    } * gaps;
    size_t ngaps;
    size_t rows;
    size_t bytes, max_bytes; /* of the events kept; the step's bound */
    bool stopped;            /* at max_bytes, before the end of the range */
    int rc;
} dbread_t;

/* Seqs from..to are not in the log. Worker thread. */
static void add_gap(dbread_t *dr, uint64_t from, uint64_t to)
{
    dr->gaps = ad_xrealloc(dr->gaps, (dr->ngaps + 1) * sizeof(*dr->gaps));
    dr->gaps[dr->ngaps++] = (struct gap){from, to, dr->nevs};
}

static int on_row(const ad_bus_row_t *row, void *arg)
{
    dbread_t *dr = arg;
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
            match = ad_bus_pattern_match(dr->pats[i], tops[t]);
        }
    }
    if (match) {
        ev = ad_bus_event_make(row->seq, row->ts_ms, ts, row->type, tops, k, row->payload,
                               row->payload_len);
    }
    json_decref(arr);
    size_t b = ev != NULL ? ad_bus_event_bytes(ev) : 0;
    if (ev != NULL && dr->nevs > 0 && dr->bytes + b > dr->max_bytes) {
        /* the step is full: this row is left for the next read */
        ad_bus_event_unref(ev);
        dr->stopped = true;
        return -1;
    }
    dr->rows++;
    if (row->seq > dr->scanned + 1) {
        add_gap(dr, dr->scanned + 1, row->seq - 1);
    }
    dr->scanned = row->seq;
    if (ev != NULL) {
        if (dr->nevs == dr->cap) {
            dr->cap = dr->cap ? dr->cap * 2 : 64;
            dr->evs = ad_xrealloc(dr->evs, dr->cap * sizeof(*dr->evs));
        }
        dr->evs[dr->nevs++] = ev;
        dr->bytes += b;
    }
    return 0;
}

static void dbread_work(uv_work_t *w)
{
    dbread_t *dr = w->data;
    dr->rc = dr->sops->read(dr->simpl, dr->after, dr->upto, AD_BUS_READ_BATCH_ROWS, on_row, dr);
    if (dr->rc == 0 && dr->rows < AD_BUS_READ_BATCH_ROWS && !dr->stopped) {
        /* Everything below the ring is stored unless lost: rows missing at
         * the end of the range are a gap too. */
        if (dr->scanned < dr->upto) {
            add_gap(dr, dr->scanned + 1, dr->upto);
        }
        dr->scanned = dr->upto;
    }
}

static void dbread_free(dbread_t *dr)
{
    for (size_t i = 0; i < dr->nevs; i++) {
        ad_bus_event_unref(dr->evs[i]);
    }
    free(dr->evs);
    free(dr->gaps);
    for (size_t i = 0; i < dr->npats; i++) {
        free(dr->pats[i]);
    }
    free(dr->pats);
    free(dr);
}

uint64_t ad_bus_ring_pin(const ad_bus_t *bus)
{
    uint64_t pin = 0;
    for (const dbread_t *dr = bus->reads; dr != NULL; dr = dr->next) {
        if (pin == 0 || dr->upto + 1 < pin) {
            pin = dr->upto + 1;
        }
    }
    return pin;
}

/* Tells sub that from..to are missing. False when sub went away. */
static bool report_gap(ad_bus_sub_t *sub, uint64_t from, uint64_t to)
{
    if (sub->ops->gap != NULL) {
        sub->busy++;
        sub->ops->gap(sub->ud, from, to);
        sub->busy--;
    }
    return !sub->freed && !sub->dead;
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
        /* Skip rather than spin, and say so: what was not read is a gap. */
        if (dr->scanned < dr->upto) {
            dr->gaps = ad_xrealloc(dr->gaps, (dr->ngaps + 1) * sizeof(*dr->gaps));
            dr->gaps[dr->ngaps++] = (struct gap){dr->scanned + 1, dr->upto, dr->nevs};
        }
        dr->scanned = dr->upto;
    }
    size_t g = 0;
    for (size_t i = 0; i <= dr->nevs; i++) {
        for (; g < dr->ngaps && dr->gaps[g].at == i; g++) {
            if (dr->gaps[g].to > *cur && !report_gap(sub, dr->gaps[g].from, dr->gaps[g].to)) {
                goto out;
            }
        }
        if (i < dr->nevs && dr->evs[i]->seq > *cur && !ad_bus_sub_deliver(sub, dr->evs[i])) {
            goto out;
        }
    }
    if (dr->scanned > *cur) {
        *cur = dr->scanned;
    }
    (void)rp_step_done(sub, dr->bytes); /* run_replay waits for it to be written */
    (void)rp_turn(bus, dr->bytes);
out:
    dbread_free(dr);
    if (sub->freed) {
        ad_bus_sub_try_reap(sub);
    } else if (!sub->dead) {
        ad_bus_run_replay(sub);
    }
    if (bus->closing) {
        ad_bus_try_finish_free(bus);
        return;
    }
    /* a read slot is free: the next in line for one reads */
    while (bus->rd_head != NULL && bus->db_reads < AD_BUS_REPLAY_READS_MAX) {
        ad_bus_sub_t *next = bus->rd_head;
        queue_unlink(&bus->rd_head, &bus->rd_tail, next, true);
        ad_bus_run_replay(next);
    }
}

static void start_dbread(ad_bus_sub_t *sub, backfill_t *bf, uint64_t after, uint64_t upto,
                         char **pats, size_t npats)
{
    ad_bus_t *bus = sub->bus;
    dbread_t *dr = ad_xcalloc(1, sizeof(*dr));
    dr->work.data = dr;
    dr->max_bytes = AD_BUS_REPLAY_CHUNK;
    if (budgeted(bus) && sub->rp_grant > 0) {
        dr->max_bytes = sub->rp_grant;
    }
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

static bool has_room(ad_bus_sub_t *sub)
{
    return sub->ops->queued == NULL || sub->queue_limit == 0 ||
           sub->ops->queued(sub->ud) <= sub->queue_limit / 2;
}

static void on_pace_timer(uv_timer_t *t)
{
    ad_bus_t *bus = t->data;
    ad_bus_sub_t *sub = bus->paced;
    while (sub != NULL) {
        ad_bus_sub_t *next = sub->pace_next;
        if (has_room(sub)) {
            ad_bus_pace_remove(sub);
            ad_bus_run_replay(sub);
        }
        sub = next;
    }
    rp_tick(bus);
    if (bus->paced == NULL && bus->rp_head == NULL) {
        uv_timer_stop(&bus->pace_timer);
    }
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
    pace_timer_on(bus);
}

static bool must_pace(ad_bus_sub_t *sub)
{
    if (sub->bus->loop == NULL || has_room(sub)) {
        return false;
    }
    pace_add(sub);
    return true;
}

/* The replay's current step: a backfill (topics added with since while
 * already replaying) before the chase to the head. */
typedef struct {
    backfill_t *bf;
    uint64_t *cur;
    uint64_t end;
} step_t;

/* Takes the next step; false when the replay is caught up (live now). */
static bool next_step(ad_bus_sub_t *sub, step_t *st)
{
    for (;;) {
        st->bf = sub->backfills;
        st->cur = st->bf ? &st->bf->cursor : &sub->cursor;
        st->end = st->bf ? st->bf->end : sub->bus->visible;
        if (*st->cur < st->end) {
            return true;
        }
        if (st->bf == NULL) {
            sub->replaying = false; /* caught up: live from here */
            return false;
        }
        sub->backfills = st->bf->next;
        if (sub->backfills == NULL) {
            sub->bf_tail = &sub->backfills;
        }
        ad_bus_backfill_free(st->bf);
    }
}

/* Delivers a slice of the step from the ring, at most its grant's bytes
 * with a budget (*bytes: what it delivered). False when sub died. */
static bool replay_ring(ad_bus_sub_t *sub, step_t *st, size_t *bytes)
{
    ad_bus_t *bus = sub->bus;
    size_t cap = budgeted(bus) && sub->rp_grant > 0 ? sub->rp_grant : SIZE_MAX;
    for (int i = 0; i < AD_BUS_REPLAY_SLICE && *st->cur < st->end; i++) {
        if (i > 0 && sub->ops->queued != NULL && sub->queue_limit > 0 &&
            sub->ops->queued(sub->ud) > sub->queue_limit / 2) {
            break; /* must_pace() takes it from here */
        }
        ad_bus_event_t *ev = ad_bus_ring_get(&bus->ring, *st->cur + 1);
        if (ev == NULL) {
            AD_BUG("replay ring hole seq=%llu", (unsigned long long)(*st->cur + 1));
        }
        bool ok = st->bf ? match_list(st->bf->topics, st->bf->ntopics, ev) : match_sub(sub, ev);
        if (ok) {
            size_t b = ad_bus_event_bytes(ev);
            if (*bytes > 0 && *bytes + b > cap) {
                break; /* the step is full: the next one takes it */
            }
            if (!ad_bus_sub_deliver(sub, ev)) {
                return false;
            }
            *bytes += b;
        }
        *st->cur = ev->seq;
    }
    (void)rp_turn(bus, *bytes);
    return true;
}

/* The step reaches below the ring: read it from the event log. */
static void replay_table(ad_bus_sub_t *sub, step_t *st, uint64_t ring_first)
{
    ad_bus_t *bus = sub->bus;
    if (bus->sops == NULL) {
        AD_BUG("replay below the ring without a store");
    }
    uint64_t upto = ring_first ? ring_first - 1 : st->end;
    if (upto > st->end) {
        upto = st->end;
    }
    size_t npats;
    char **pats;
    if (st->bf != NULL) {
        npats = st->bf->ntopics;
        pats = ad_xcalloc(npats ? npats : 1, sizeof(char *));
        for (size_t i = 0; i < npats; i++) {
            pats[i] = ad_xstrdup(st->bf->topics[i]);
        }
    } else {
        pats = sub_patterns(sub, &npats);
    }
    start_dbread(sub, st->bf, *st->cur, upto, pats, npats);
}

/* The log reads in flight are at their bound: sub waits in line for a
 * slot, its grant kept (dbread_done hands the slots on). */
static bool must_wait_read(ad_bus_sub_t *sub)
{
    ad_bus_t *bus = sub->bus;
    if (bus->loop == NULL || bus->db_reads < AD_BUS_REPLAY_READS_MAX) {
        return false;
    }
    sub->rd_waiting = true;
    sub->rd_next = NULL;
    if (bus->rd_tail != NULL) {
        bus->rd_tail->rd_next = sub;
    } else {
        bus->rd_head = sub;
    }
    bus->rd_tail = sub;
    return true;
}

/* Moves the subscriber's replay forward: backfills first (their own topics,
 * up to the seq where the chase took over), then the chase with every
 * current subscription until it reaches the newest seq, when live delivery
 * takes over. Synchronous while the ring covers the range; a read of the
 * event log otherwise, after which this runs again. */
static void replay_steps(ad_bus_sub_t *sub)
{
    ad_bus_t *bus = sub->bus;
    step_t st;
    while (!sub->freed && !sub->dead && sub->replaying && !sub->rp_waiting && !sub->rd_waiting &&
           !sub->db_pending && next_step(sub, &st)) {
        if (must_pace(sub)) {
            return;
        }
        uint64_t ring_first = ad_bus_ring_first(&bus->ring);
        bool below_ring = ring_first == 0 || *st.cur + 1 < ring_first;
        if (below_ring && bus->trimming && bus->loop != NULL) {
            /* A trim is deleting from the log: the oldest seq known now
             * may be gone before the read, and the subscriber would be
             * told of events it never gets. Go on once it has finished. */
            if (!sub->paced) {
                pace_add(sub);
            }
            return;
        }
        uint64_t oldest = ad_bus_oldest_seq(bus);
        if (*st.cur + 1 < oldest && *st.cur + 1 >= bus->skipped_from &&
            *st.cur + 1 <= bus->skipped_to) {
            /* Seqs the last unclean stop skipped, which the log never had
             * (it may hold nothing before them: a crash that stored none of
             * its events): a gap, as docs/events.md says, not retention. */
            uint64_t to = oldest - 1 < bus->skipped_to ? oldest - 1 : bus->skipped_to;
            to = to < st.end ? to : st.end;
            if (!report_gap(sub, *st.cur + 1, to)) {
                return;
            }
            *st.cur = to;
            continue;
        }
        if (*st.cur + 1 < oldest) {
            /* retention removed what the subscriber asked for */
            sub->busy++;
            if (sub->ops->truncated != NULL) {
                sub->ops->truncated(sub->ud, oldest);
            }
            sub->busy--;
            *st.cur = oldest - 1 < st.end ? oldest - 1 : st.end;
            continue;
        }
        size_t need = AD_BUS_REPLAY_CHUNK;
        if (!below_ring) {
            const ad_bus_event_t *ev = ad_bus_ring_get(&bus->ring, *st.cur + 1);
            if (ev != NULL && ad_bus_event_bytes(ev) > need) {
                need = ad_bus_event_bytes(ev); /* a step takes one event whole */
            }
        }
        if (!rp_take(sub, need)) {
            return;
        }
        if (below_ring) {
            if (!must_wait_read(sub)) {
                replay_table(sub, &st, ring_first);
            }
            return;
        }
        if (!rp_turn(bus, 0)) {
            pace_add(sub); /* this turn has done its share: the next tick */
            return;
        }
        size_t bytes = 0;
        if (!replay_ring(sub, &st, &bytes)) {
            return;
        }
        (void)rp_step_done(sub, bytes); /* the next step waits for it to be written */
    }
}

void ad_bus_run_replay(ad_bus_sub_t *sub)
{
    replay_steps(sub);
    if (!sub->freed && !sub->dead) {
        rp_settle(sub);
    }
}
