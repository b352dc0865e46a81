/* SPDX-License-Identifier: MIT */
/* Tests for the replay ring and replay: ring arithmetic and eviction by
 * bytes, replay from the ring, replay from a (fake, in-memory) event store
 * after the ring rolled over while events keep coming, replay_truncated,
 * replay pacing against a full connection queue, and the durable seq
 * ceiling: no seq reused after a crash, gaps reported, failed writes
 * retried. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/bus/bus.c"

/* ---- a fake event store: records kept in memory, read on the worker ---- */
typedef struct {
    pthread_mutex_t mu;
    ad_bus_event_t **rows; /* copies made for the table */
    size_t n, cap;
    size_t first; /* rows[0..first) were trimmed */
    int writes;
    int fail_writes;  /* this many writes fail (AD_EFULL) before one works */
    bool hold_writes; /* writes are never answered (a stalled writer) */
    uint64_t reserved;
    bool hold_reserve; /* a reservation waits for release_reserve() */
    ad_bus_write_done_cb reserve_done;
    void *reserve_arg;
    uint64_t reserve_upto;
    bool hold_trim; /* a trim deletes at once but answers at release_trim() */
    ad_bus_trim_done_cb trim_done;
    void *trim_arg;
    uint64_t trim_oldest, trim_bytes;
} fakedb_t;

static void fake_write(void *impl, ad_bus_event_t *const *evs, size_t n, ad_bus_write_done_cb done,
                       void *arg)
{
    fakedb_t *db = impl;
    if (db->hold_writes) {
        return;
    }
    if (db->fail_writes > 0) {
        db->fail_writes--;
        done(AD_EFULL, arg);
        return;
    }
    pthread_mutex_lock(&db->mu);
    for (size_t i = 0; i < n; i++) {
        if (db->n == db->cap) {
            db->cap = db->cap ? db->cap * 2 : 1024;
            db->rows = ad_xrealloc(db->rows, db->cap * sizeof(*db->rows));
        }
        const ad_bus_event_t *e = evs[i];
        db->rows[db->n++] = ad_bus_event_make(
            e->seq, e->ts_ms, e->ts, e->type, e->topics, e->ntopics,
            e->data + e->ntopics * sizeof(char *) + e->payload_off, e->payload_len);
    }
    db->writes++;
    pthread_mutex_unlock(&db->mu);
    done(0, arg);
}

static int fake_read(void *impl, uint64_t after, uint64_t upto, size_t limit, ad_bus_row_cb cb,
                     void *arg)
{
    fakedb_t *db = impl;
    pthread_mutex_lock(&db->mu);
    size_t got = 0;
    for (size_t i = db->first; i < db->n && got < limit; i++) {
        ad_bus_event_t *e = db->rows[i];
        if (e->seq <= after || e->seq > upto) {
            continue;
        }
        json_t *arr = json_array();
        for (size_t t = 0; t < e->ntopics; t++) {
            json_array_append_new(arr, json_string(e->topics[t]));
        }
        char *topics = json_dumps(arr, JSON_COMPACT);
        size_t plen;
        const char *p = ad_bus_event_payload_text(e, &plen);
        ad_bus_row_t row = {e->seq, e->ts_ms, e->type, topics, p, plen};
        cb(&row, arg);
        free(topics);
        json_decref(arr);
        got++;
    }
    pthread_mutex_unlock(&db->mu);
    return 0;
}

/* Retention by bytes, as the event log does: the oldest rows go while the
 * rows hold more than max_bytes. */
static void fake_trim(void *impl, uint64_t max_bytes, int64_t min_ts, ad_bus_trim_done_cb done,
                      void *arg)
{
    AD_UNUSED(min_ts);
    fakedb_t *db = impl;
    pthread_mutex_lock(&db->mu);
    uint64_t held = 0;
    for (size_t i = db->first; i < db->n; i++) {
        held += ad_bus_event_bytes(db->rows[i]);
    }
    while (db->first < db->n && held > max_bytes) {
        held -= ad_bus_event_bytes(db->rows[db->first]);
        db->first++;
    }
    uint64_t oldest = db->first < db->n ? db->rows[db->first]->seq : 0;
    pthread_mutex_unlock(&db->mu);
    if (db->hold_trim) {
        db->trim_done = done;
        db->trim_arg = arg;
        db->trim_oldest = oldest;
        db->trim_bytes = held;
        return;
    }
    done(0, oldest, held, arg);
}

static void release_trim(fakedb_t *db)
{
    ad_bus_trim_done_cb done = db->trim_done;
    db->trim_done = NULL;
    db->hold_trim = false;
    done(0, db->trim_oldest, db->trim_bytes, db->trim_arg);
}

static void fake_reserve(void *impl, uint64_t upto, ad_bus_write_done_cb done, void *arg)
{
    fakedb_t *db = impl;
    db->reserve_done = done;
    db->reserve_arg = arg;
    db->reserve_upto = upto;
    if (!db->hold_reserve) {
        db->reserved = upto;
        db->reserve_done = NULL;
        done(0, arg);
    }
}

static void release_reserve(fakedb_t *db)
{
    ad_bus_write_done_cb done = db->reserve_done;
    db->reserve_done = NULL;
    db->hold_reserve = false;
    db->reserved = db->reserve_upto;
    done(0, db->reserve_arg);
}

static const ad_bus_store_ops_t fake_ops = {fake_write, fake_read, fake_trim, fake_reserve};

static void fakedb_cleanup(fakedb_t *db)
{
    for (size_t i = 0; i < db->n; i++) {
        ad_bus_event_unref(db->rows[i]);
    }
    free(db->rows);
}

/* ---- a recording subscriber ---- */
typedef struct {
    uint64_t *seqs;
    size_t n, cap;
    uint64_t gap_from, gap_to; /* the last gap reported */
    int gaps;
    uint64_t truncated;
    size_t queued; /* what the fake connection reports */
    int overflows;
} rec_t;

static int rec_deliver(void *ud, const ad_bus_event_t *ev)
{
    rec_t *r = ud;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 1024;
        r->seqs = ad_xrealloc(r->seqs, r->cap * sizeof(*r->seqs));
    }
    r->seqs[r->n++] = ev->seq;
    return 0;
}
static void rec_overflow(void *ud, uint64_t last)
{
    AD_UNUSED(last);
    ((rec_t *)ud)->overflows++;
}
static void rec_truncated(void *ud, uint64_t oldest)
{
    ((rec_t *)ud)->truncated = oldest;
}
static size_t rec_queued(void *ud)
{
    return ((rec_t *)ud)->queued;
}
static void rec_gap(void *ud, uint64_t from, uint64_t to)
{
    rec_t *r = ud;
    r->gaps++;
    r->gap_from = from;
    r->gap_to = to;
}
static const ad_bus_sub_ops_t rec_ops = {.deliver = rec_deliver,
                                         .overflow = rec_overflow,
                                         .truncated = rec_truncated,
                                         .queued = rec_queued,
                                         .gap = rec_gap};

static uint64_t pub(ad_bus_t *bus, const char *topic, int i)
{
    const char *topics[1] = {topic};
    json_t *p = json_pack("{s:i,s:s}", "i", i, "pad", "0123456789012345678901234567890123456789");
    uint64_t seq = ad_bus_publish(bus, "test", topics, 1, p);
    json_decref(p);
    return seq;
}

/* Asserts r saw exactly seqs from..to (inclusive), each once, in order. */
static void assert_range(const rec_t *r, size_t from_index, uint64_t from, uint64_t to)
{
    assert_int_equal(r->n - from_index, to - from + 1);
    for (size_t i = from_index; i < r->n; i++) {
        assert_int_equal(r->seqs[i], from + (i - from_index));
    }
}

static ad_config_t small_cfg(uint64_t ring_bytes)
{
    ad_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.event_ring_bytes = ring_bytes;
    cfg.event_retention_bytes = 1u << 30;
    cfg.event_retention_seconds = 3600;
    return cfg;
}

static void drain_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
}

/* Events wait a few ms to share a transaction: run the loop until all
 * published so far are in the table. */
static void persist_all(uv_loop_t *loop, ad_bus_t *bus)
{
    for (int i = 0; i < 1000 && ad_bus_persisted_seq(bus) < ad_bus_seq(bus); i++) {
        uv_run(loop, UV_RUN_ONCE);
    }
    assert_int_equal(ad_bus_persisted_seq(bus), ad_bus_seq(bus));
}

static void ring_basics(void **state)
{
    AD_UNUSED(state);
    bus_ring_t r;
    ad_bus_ring_init(&r);
    assert_null(ad_bus_ring_get(&r, 1));
    assert_int_equal(ad_bus_ring_first(&r), 0);
    const char *topics[] = {"system"};
    for (uint64_t s = 1; s <= 3000; s++) {
        ad_bus_event_t *ev = ad_bus_event_make(s, 0, "t", "x", topics, 1, "{}", 2);
        ad_bus_ring_push(&r, ev);
        ad_bus_event_unref(ev);
    }
    assert_int_equal(ad_bus_ring_first(&r), 1);
    assert_int_equal(ad_bus_ring_last(&r), 3000);
    for (int i = 0; i < 1000; i++) {
        ad_bus_event_unref(ad_bus_ring_pop(&r));
    }
    assert_int_equal(ad_bus_ring_first(&r), 1001);
    assert_null(ad_bus_ring_get(&r, 1000));
    assert_int_equal(ad_bus_ring_get(&r, 1001)->seq, 1001);
    assert_int_equal(ad_bus_ring_get(&r, 2500)->seq, 2500);
    assert_null(ad_bus_ring_get(&r, 3001));
    size_t before = r.bytes;
    ad_bus_event_unref(ad_bus_ring_pop(&r));
    assert_true(r.bytes < before);
    ad_bus_ring_cleanup(&r);
}

static void ring_is_bounded_by_bytes(void **state)
{
    AD_UNUSED(state);
    ad_config_t cfg = small_cfg(4096);
    ad_bus_t *bus = ad_bus_new(NULL, &cfg);
    for (int i = 0; i < 1000; i++) {
        pub(bus, "system", i);
    }
    assert_true(bus->ring.bytes <= 4096);
    assert_true(bus->ring.count > 1);
    assert_int_equal(ad_bus_ring_last(&bus->ring), 1000);
    assert_int_equal(ad_bus_oldest_seq(bus), ad_bus_ring_first(&bus->ring));
    ad_bus_free(bus);
}

static void replay_from_ring_then_live(void **state)
{
    AD_UNUSED(state);
    ad_bus_t *bus = ad_bus_new(NULL, NULL);
    for (int i = 0; i < 100; i++) {
        pub(bus, i % 2 ? "agent:a" : "agent:b", i);
    }
    rec_t r = {0};
    ad_bus_sub_t *s = ad_bus_sub_new(bus, &rec_ops, &r, 0);
    const char *t[] = {"agent:*"};
    assert_int_equal(ad_bus_subscribe(s, t, 1, true, 50), 0);
    assert_false(ad_bus_sub_replaying(s));
    pub(bus, "agent:a", 100);
    assert_range(&r, 0, 51, 101);
    /* Exact topic: only its events. */
    rec_t q = {0};
    ad_bus_sub_t *s2 = ad_bus_sub_new(bus, &rec_ops, &q, 0);
    const char *ta[] = {"agent:a"};
    ad_bus_subscribe(s2, ta, 1, true, 90);
    assert_int_equal(q.n, 6); /* 92,94,...,100 were agent:a (i odd), plus 101 */
    assert_int_equal(q.seqs[0], 92);
    assert_int_equal(q.seqs[5], 101);
    ad_bus_sub_free(s);
    ad_bus_sub_free(s2);
    ad_bus_free(bus);
    free(r.seqs);
    free(q.seqs);
}

static void replay_truncated_without_store(void **state)
{
    AD_UNUSED(state);
    ad_config_t cfg = small_cfg(2048);
    ad_bus_t *bus = ad_bus_new(NULL, &cfg);
    for (int i = 0; i < 200; i++) {
        pub(bus, "system", i);
    }
    uint64_t oldest = ad_bus_oldest_seq(bus);
    assert_true(oldest > 1);
    rec_t r = {0};
    ad_bus_sub_t *s = ad_bus_sub_new(bus, &rec_ops, &r, 0);
    const char *t[] = {"system"};
    ad_bus_subscribe(s, t, 1, true, 0);
    assert_int_equal(r.truncated, oldest);
    assert_range(&r, 0, oldest, 200);
    ad_bus_sub_free(s);
    ad_bus_free(bus);
    free(r.seqs);
}

static void replay_from_table_while_publishing(void **state)
{
    AD_UNUSED(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_config_t cfg = small_cfg(4096);
    fakedb_t db = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ad_bus_t *bus = ad_bus_new(&loop, &cfg);
    ad_bus_set_store(bus, &fake_ops, &db, 0, 0, 0);
    for (int i = 0; i < 5000; i++) {
        pub(bus, i % 3 ? "agent:a" : "other", i);
    }
    persist_all(&loop, bus);
    assert_true(ad_bus_ring_first(&bus->ring) > 1000); /* rolled over */
    assert_int_equal(ad_bus_persisted_seq(bus), 5000);

    rec_t r = {0};
    ad_bus_sub_t *s = ad_bus_sub_new(bus, &rec_ops, &r, 0);
    const char *t[] = {"*"};
    ad_bus_subscribe(s, t, 1, true, 10);
    assert_true(ad_bus_sub_replaying(s));
    /* Events keep arriving while table reads are out. */
    int extra = 0;
    for (int rounds = 0; rounds < 100000 && ad_bus_sub_replaying(s); rounds++) {
        pub(bus, "agent:a", 10000 + extra);
        extra++;
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_false(ad_bus_sub_replaying(s));
    for (int i = 0; i < 10; i++) {
        pub(bus, "agent:a", i);
        extra++;
    }
    assert_range(&r, 0, 11, 5000 + (uint64_t)extra);
    assert_int_equal(r.truncated, 0);
    ad_bus_sub_free(s);
    ad_bus_free(bus);
    drain_loop(&loop);
    uv_loop_close(&loop);
    fakedb_cleanup(&db);
    free(r.seqs);
}

/* Publishes events from..to-1 on "system" with a commit, and a trim past
 * the retention bound, every 100 events. */
static void publish_trimmed(uv_loop_t *loop, ad_bus_t *bus, int from, int to)
{
    for (int i = from; i < to; i++) {
        pub(bus, "system", i);
        bus->last_trim_ms = 0; /* let every commit trim */
        if (i % 100 == 99) {
            persist_all(loop, bus);
        }
    }
}

static void replay_truncated_by_retention(void **state)
{
    AD_UNUSED(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_config_t cfg = small_cfg(2048);
    cfg.event_retention_bytes = 20000;
    fakedb_t db = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ad_bus_t *bus = ad_bus_new(&loop, &cfg);
    ad_bus_set_store(bus, &fake_ops, &db, 0, 0, 0);
    publish_trimmed(&loop, bus, 0, 3000);
    uint64_t oldest = ad_bus_oldest_seq(bus);
    assert_true(oldest > 1);
    assert_true(oldest < ad_bus_ring_first(&bus->ring)); /* still some in the table */
    rec_t r = {0};
    ad_bus_sub_t *s = ad_bus_sub_new(bus, &rec_ops, &r, 0);
    const char *t[] = {"system"};
    ad_bus_subscribe(s, t, 1, true, 0);
    for (int i = 0; i < 10000 && ad_bus_sub_replaying(s); i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(r.truncated, oldest);
    assert_range(&r, 0, oldest, 3000);
    ad_bus_sub_free(s);
    ad_bus_free(bus);
    drain_loop(&loop);
    uv_loop_close(&loop);
    fakedb_cleanup(&db);
    free(r.seqs);
}

/* A crash that stored none of its events: the log is empty at the restart,
 * and a subscriber resumes from a seq it saw before the crash. Those seqs
 * were skipped, not removed by retention: a gap up to the ceiling, then the
 * new events, and no replay_truncated (reliability.test.js once waited for
 * the gap in a fresh clone's make check). */
static void a_crash_that_stored_nothing_is_a_gap_not_truncated(void **state)
{
    AD_UNUSED(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_config_t cfg = small_cfg(1u << 20);
    fakedb_t db = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ad_bus_t *bus = ad_bus_new(&loop, &cfg);
    ad_bus_set_store(bus, &fake_ops, &db, 0, 0, 1000); /* nothing stored, 1..1000 handed out */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(pub(bus, "system", i), 1001 + (uint64_t)i);
    }
    persist_all(&loop, bus);
    rec_t r = {0};
    ad_bus_sub_t *s = ad_bus_sub_new(bus, &rec_ops, &r, 0);
    const char *t[] = {"*"};
    ad_bus_subscribe(s, t, 1, true, 500);
    for (int i = 0; i < 10000 && ad_bus_sub_replaying(s); i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_false(ad_bus_sub_replaying(s));
    assert_int_equal(r.truncated, 0);
    assert_int_equal(r.gaps, 1);
    assert_int_equal(r.gap_from, 501);
    assert_int_equal(r.gap_to, 1000);
    assert_range(&r, 0, 1001, 1010);
    ad_bus_sub_free(s);
    ad_bus_free(bus);
    drain_loop(&loop);
    uv_loop_close(&loop);
    fakedb_cleanup(&db);
    free(r.seqs);
}

/* Issue #41: a restart after a crash continues above the seq ceiling, a
 * block of 2^20 seqs on. Retention turned its byte bound into a seq
 * distance and counted those seqs as events, so the history before the
 * crash went with the table far below its bound. Ten crashes on one table,
 * each life publishing and trimming at every commit, then a replay from 0:
 * every event, the skipped blocks reported as gaps, nothing truncated. */
static void retention_ignores_the_seqs_a_crash_skipped(void **state)
{
    AD_UNUSED(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_config_t cfg = small_cfg(2048);
    cfg.event_retention_bytes = 1u << 20; /* 1,000 events of ~200 bytes fit five times */
    fakedb_t db = {.mu = PTHREAD_MUTEX_INITIALIZER};
    uint64_t firsts[10];
    for (int life = 0; life < 10; life++) {
        ad_bus_t *bus = ad_bus_new(&loop, &cfg);
        uint64_t min = db.n > 0 ? db.rows[db.first]->seq : 0;
        uint64_t max = db.n > 0 ? db.rows[db.n - 1]->seq : 0;
        ad_bus_set_store(bus, &fake_ops, &db, min, max, db.reserved);
        firsts[life] = ad_bus_seq(bus) + 1;
        publish_trimmed(&loop, bus, 0, 100);
        persist_all(&loop, bus);
        bus->last_trim_ms = 0;
        pub(bus, "system", 100); /* one more commit, one more trim */
        persist_all(&loop, bus);
        assert_false(bus->trimming);
        /* "kill -9": gone without a stop, the ceiling stays up */
        ad_bus_free(bus);
        drain_loop(&loop);
    }
    assert_int_equal(db.first, 0); /* nothing deleted */
    assert_int_equal(db.n, 1010);
    ad_bus_t *bus = ad_bus_new(&loop, &cfg);
    ad_bus_set_store(bus, &fake_ops, &db, db.rows[0]->seq, db.rows[db.n - 1]->seq, db.reserved);
    rec_t r = {0};
    ad_bus_sub_t *s = ad_bus_sub_new(bus, &rec_ops, &r, 0);
    const char *t[] = {"system"};
    ad_bus_subscribe(s, t, 1, true, 0);
    for (int i = 0; i < 100000 && ad_bus_sub_replaying(s); i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(r.truncated, 0);
    assert_int_equal(r.n, 1010);
    for (int life = 0; life < 10; life++) {
        for (int i = 0; i < 101; i++) {
            assert_int_equal(r.seqs[life * 101 + i], firsts[life] + (uint64_t)i);
        }
        assert_true(life == 0 || firsts[life] > firsts[life - 1] + AD_BUS_SEQ_BLOCK / 2);
    }
    assert_int_equal(r.gaps, 10); /* after each life, the last one too (this bus starts above it) */
    ad_bus_sub_free(s);
    ad_bus_free(bus);
    drain_loop(&loop);
    uv_loop_close(&loop);
    fakedb_cleanup(&db);
    free(r.seqs);
}

/* A replay that starts while a trim is deleting from the log names the
 * oldest seq only once the trim has answered: the rows it deleted would
 * otherwise be announced and never come (seen in the e2e test: told 1973,
 * given 2047 first). */
static void replay_waits_for_a_running_trim(void **state)
{
    AD_UNUSED(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_config_t cfg = small_cfg(2048);
    cfg.event_retention_bytes = 20000;
    fakedb_t db = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ad_bus_t *bus = ad_bus_new(&loop, &cfg);
    ad_bus_set_store(bus, &fake_ops, &db, 0, 0, 0);
    publish_trimmed(&loop, bus, 0, 3000);
    uint64_t before = ad_bus_oldest_seq(bus);
    /* the next commit's trim deletes more rows and answers later */
    db.hold_trim = true;
    publish_trimmed(&loop, bus, 3000, 3100);
    assert_true(bus->trimming);
    pthread_mutex_lock(&db.mu);
    size_t first = db.first;
    pthread_mutex_unlock(&db.mu);
    assert_true(first > 0);
    rec_t r = {0};
    ad_bus_sub_t *s = ad_bus_sub_new(bus, &rec_ops, &r, 0);
    const char *t[] = {"system"};
    ad_bus_subscribe(s, t, 1, true, 0);
    for (int i = 0; i < 20; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(r.truncated, 0); /* nothing named while the trim runs */
    assert_int_equal(r.n, 0);
    release_trim(&db);
    uint64_t after = ad_bus_oldest_seq(bus);
    for (int i = 0; i < 10000 && ad_bus_sub_replaying(s); i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_true(after > before);
    assert_int_equal(r.truncated, after);
    assert_range(&r, 0, after, 3100);
    assert_int_equal(r.gaps, 0);
    ad_bus_sub_free(s);
    ad_bus_free(bus);
    drain_loop(&loop);
    uv_loop_close(&loop);
    fakedb_cleanup(&db);
    free(r.seqs);
}

static void replay_paces_on_full_queue(void **state)
{
    AD_UNUSED(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_bus_t *bus = ad_bus_new(&loop, NULL);
    for (int i = 0; i < 2000; i++) {
        pub(bus, "system", i);
    }
    rec_t r = {.queued = 1000};
    ad_bus_sub_t *s = ad_bus_sub_new(bus, &rec_ops, &r, 1000);
    const char *t[] = {"system"};
    ad_bus_subscribe(s, t, 1, true, 0);
    assert_int_equal(r.n, 0);
    assert_true(ad_bus_sub_replaying(s));
    pub(bus, "system", 1); /* not delivered live while behind */
    assert_int_equal(r.n, 0);
    r.queued = 0;
    for (int i = 0; i < 1000 && ad_bus_sub_replaying(s); i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_range(&r, 0, 1, 2001);
    assert_int_equal(r.overflows, 0);
    ad_bus_sub_free(s);
    ad_bus_free(bus);
    drain_loop(&loop);
    uv_loop_close(&loop);
    free(r.seqs);
}

/* The replay budget: two steps' worth for three readers from seq 0. The
 * third waits (delivered nothing) while the first two hold their steps
 * unwritten; once one is written out its grant passes on; what is granted
 * never passes the budget; and all three get every event once, in order. */
static void replay_budget_is_shared_and_handed_on(void **state)
{
    AD_UNUSED(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_config_t cfg = small_cfg(8u << 20);
    cfg.event_replay_bytes = 2 * AD_BUS_REPLAY_CHUNK;
    ad_bus_t *bus = ad_bus_new(&loop, &cfg);
    for (int i = 0; i < 3000; i++) {
        pub(bus, "system", i);
    }
    rec_t r[3] = {{.queued = 100 * 1024}, {.queued = 100 * 1024}, {.queued = 100 * 1024}};
    ad_bus_sub_t *s[3];
    const char *t[] = {"system"};
    for (int i = 0; i < 3; i++) {
        s[i] = ad_bus_sub_new(bus, &rec_ops, &r[i], 4u << 20);
        ad_bus_subscribe(s[i], t, 1, true, 0);
    }
    assert_true(r[0].n > 0 && r[1].n > 0);
    assert_int_equal(r[2].n, 0); /* in line: nothing held for it */
    assert_true(s[2]->rp_waiting);
    for (int i = 0; i < 20; i++) {
        uv_run(&loop, UV_RUN_ONCE);
        assert_true(bus->rp_held <= cfg.event_replay_bytes);
    }
    assert_int_equal(r[2].n, 0); /* the steps held are not written out */
    size_t first = r[0].n;
    r[0].queued = 0; /* the first reader's step is written out */
    for (int i = 0; i < 1000 && r[2].n == 0; i++) {
        uv_run(&loop, UV_RUN_ONCE);
        assert_true(bus->rp_held <= cfg.event_replay_bytes);
    }
    assert_true(r[2].n > 0);         /* its grant went to the one in line */
    assert_int_equal(r[0].n, first); /* and the first went to the back */
    for (int i = 0; i < 3; i++) {
        r[i].queued = 0;
    }
    for (int i = 0; i < 10000 && (ad_bus_sub_replaying(s[0]) || ad_bus_sub_replaying(s[1]) ||
                                  ad_bus_sub_replaying(s[2]));
         i++) {
        uv_run(&loop, UV_RUN_ONCE);
        assert_true(bus->rp_held <= cfg.event_replay_bytes);
    }
    for (int i = 0; i < 3; i++) {
        assert_range(&r[i], 0, 1, 3000);
        assert_int_equal(r[i].overflows, 0);
    }
    assert_true(bus->rp_queued >= 1);
    for (int i = 0; i < 10 && bus->rp_held > 0; i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(bus->rp_held, 0); /* all given back */
    for (int i = 0; i < 3; i++) {
        ad_bus_sub_free(s[i]);
        free(r[i].seqs);
    }
    ad_bus_free(bus);
    drain_loop(&loop);
    uv_loop_close(&loop);
}

/* A burst shares transactions instead of one commit per event; stopping
 * writes what is still waiting at once. */
static void burst_shares_transactions(void **state)
{
    AD_UNUSED(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_config_t cfg = small_cfg(1u << 20);
    fakedb_t db = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ad_bus_t *bus = ad_bus_new(&loop, &cfg);
    ad_bus_set_store(bus, &fake_ops, &db, 0, 0, 0);
    for (int i = 0; i < 500; i++) {
        pub(bus, "agent:a", i);
    }
    persist_all(&loop, bus);
    assert_int_equal(db.n, 500);
    assert_true(db.writes < 10);
    for (int i = 0; i < 20; i++) {
        pub(bus, "agent:a", i);
    }
    ad_bus_stop(bus);
    assert_int_equal(ad_bus_persisted_seq(bus), 520);
    assert_int_equal(db.n, 520);
    for (size_t i = 0; i < db.n; i++) {
        assert_int_equal(db.rows[i]->seq, i + 1); /* in order, each once */
    }
    ad_bus_free(bus);
    drain_loop(&loop);
    uv_loop_close(&loop);
    fakedb_cleanup(&db);
}

static void seq_continues_after_store(void **state)
{
    AD_UNUSED(state);
    fakedb_t db = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ad_bus_t *bus = ad_bus_new(NULL, NULL);
    ad_bus_set_store(bus, &fake_ops, &db, 40, 41, 0);
    assert_int_equal(ad_bus_seq(bus), 41);
    assert_int_equal(pub(bus, "system", 0), 42);
    assert_int_equal(ad_bus_publish(NULL, "x", NULL, 0, NULL), 0);
    ad_bus_free(bus);
    fakedb_cleanup(&db);
}

/* A crash after seqs left the process but before they were stored: the
 * next daemon starts above the reservation, and a replay across the lost
 * range says so instead of skipping it. */
static void seq_never_reused_after_a_crash(void **state)
{
    AD_UNUSED(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_config_t cfg = small_cfg(1u << 20);
    fakedb_t db = {.mu = PTHREAD_MUTEX_INITIALIZER};
    ad_bus_t *bus = ad_bus_new(&loop, &cfg);
    ad_bus_set_store(bus, &fake_ops, &db, 0, 0, 0);
    assert_true(db.reserved >= AD_BUS_SEQ_BLOCK);
    rec_t live = {0};
    ad_bus_sub_t *s = ad_bus_sub_new(bus, &rec_ops, &live, 0);
    const char *t[] = {"*"};
    ad_bus_subscribe(s, t, 1, false, 0);
    for (int i = 0; i < 100; i++) {
        pub(bus, "agent:a", i);
    }
    persist_all(&loop, bus);
    db.hold_writes = true; /* the next 30 reach the subscriber, not the table */
    for (int i = 0; i < 30; i++) {
        pub(bus, "agent:a", i);
    }
    assert_int_equal(live.seqs[live.n - 1], 130);
    uint64_t stored = db.rows[db.n - 1]->seq;
    assert_int_equal(stored, 100);
    /* "kill -9": the bus is gone without a stop; a new one opens the table. */
    ad_bus_sub_free(s);
    ad_bus_free(bus);
    drain_loop(&loop);
    db.hold_writes = false;
    ad_bus_t *again = ad_bus_new(&loop, &cfg);
    ad_bus_set_store(again, &fake_ops, &db, 1, stored, db.reserved);
    uint64_t next = pub(again, "agent:a", 0);
    assert_true(next > 130);
    assert_int_equal(next, AD_BUS_SEQ_BLOCK + 1);
    /* A client that saw 120 resumes: told about the gap, then the new one. */
    rec_t r = {0};
    ad_bus_sub_t *s2 = ad_bus_sub_new(again, &rec_ops, &r, 0);
    ad_bus_subscribe(s2, t, 1, true, 120);
    for (int i = 0; i < 1000 && ad_bus_sub_replaying(s2); i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(r.gaps, 1);
    assert_int_equal(r.gap_from, 121);
    assert_int_equal(r.gap_to, AD_BUS_SEQ_BLOCK);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.seqs[0], next);
    /* A client from before the crash range gets the stored ones first. */
    rec_t old = {0};
    ad_bus_sub_t *s3 = ad_bus_sub_new(again, &rec_ops, &old, 0);
    ad_bus_subscribe(s3, t, 1, true, 90);
    for (int i = 0; i < 1000 && ad_bus_sub_replaying(s3); i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(old.n, 11); /* 91..100, then next */
    assert_int_equal(old.gap_from, 101);
    /* A clean stop brings the ceiling down: no gap after a restart. */
    ad_bus_stop(again);
    assert_int_equal(db.reserved, next);
    ad_bus_sub_free(s2);
    ad_bus_sub_free(s3);
    ad_bus_free(again);
    drain_loop(&loop);
    uv_loop_close(&loop);
    fakedb_cleanup(&db);
    free(live.seqs);
    free(r.seqs);
    free(old.seqs);
}

/* Past the reservation, events wait for it: delivered in order once it
 * commits, never before. */
static void events_wait_for_the_reservation(void **state)
{
    AD_UNUSED(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_config_t cfg = small_cfg(1u << 20);
    fakedb_t db = {.mu = PTHREAD_MUTEX_INITIALIZER, .hold_reserve = true};
    ad_bus_t *bus = ad_bus_new(&loop, &cfg);
    ad_bus_set_store(bus, &fake_ops, &db, 0, 50, 50); /* a clean restart at 50 */
    rec_t r = {0};
    ad_bus_sub_t *s = ad_bus_sub_new(bus, &rec_ops, &r, 0);
    const char *t[] = {"*"};
    ad_bus_subscribe(s, t, 1, false, 0);
    for (int i = 0; i < 5; i++) {
        pub(bus, "agent:a", i);
    }
    assert_int_equal(r.n, 0);
    assert_int_equal(ad_bus_seq(bus), 50); /* nothing has left the process */
    release_reserve(&db);
    assert_range(&r, 0, 51, 55);
    assert_int_equal(ad_bus_seq(bus), 55);
    ad_bus_sub_free(s);
    ad_bus_free(bus);
    drain_loop(&loop);
    uv_loop_close(&loop);
    fakedb_cleanup(&db);
    free(r.seqs);
}

/* A full disk: the write fails, is retried, and nothing is lost once it
 * works; when it never works and too much waits, the events are given up
 * and a replay reports their gap. */
static void failed_writes_are_retried_then_reported(void **state)
{
    AD_UNUSED(state);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ad_config_t cfg = small_cfg(8192);
    fakedb_t db = {.mu = PTHREAD_MUTEX_INITIALIZER, .fail_writes = 3};
    ad_bus_t *bus = ad_bus_new(&loop, &cfg);
    ad_bus_set_store(bus, &fake_ops, &db, 0, 0, 0);
    for (int i = 0; i < 50; i++) {
        pub(bus, "agent:a", i);
    }
    for (int i = 0; i < 200 && ad_bus_persisted_seq(bus) < 50; i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(ad_bus_persisted_seq(bus), 50);
    assert_int_equal(db.n, 50);
    assert_int_equal(bus->dropped, 0);
    /* Now it never works: past four ring bounds the batch is given up. */
    db.fail_writes = 1 << 30;
    for (int i = 0; i < 400; i++) {
        pub(bus, "agent:a", i);
        if (i % 50 == 0) {
            uv_run(&loop, UV_RUN_NOWAIT);
        }
    }
    for (int i = 0; i < 200 && bus->dropped == 0; i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_true(bus->dropped > 0);
    db.fail_writes = 0;
    for (int i = 0; i < 400 && ad_bus_persisted_seq(bus) < ad_bus_seq(bus); i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_true(bus->unpersisted_bytes <= 4 * cfg.event_ring_bytes);
    /* Evict everything into the table, then replay from the start. */
    for (int i = 0; i < 500; i++) {
        pub(bus, "other", i);
    }
    persist_all(&loop, bus);
    rec_t r = {0};
    ad_bus_sub_t *s = ad_bus_sub_new(bus, &rec_ops, &r, 0);
    const char *t[] = {"agent:a"};
    ad_bus_subscribe(s, t, 1, true, 0);
    for (int i = 0; i < 1000 && ad_bus_sub_replaying(s); i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_true(r.gaps >= 1);
    assert_true(r.gap_from > 50);
    assert_int_equal(r.n + bus->dropped, 450);
    ad_bus_sub_free(s);
    ad_bus_free(bus);
    drain_loop(&loop);
    uv_loop_close(&loop);
    fakedb_cleanup(&db);
    free(r.seqs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ring_basics),
        cmocka_unit_test(burst_shares_transactions),
        cmocka_unit_test(ring_is_bounded_by_bytes),
        cmocka_unit_test(replay_from_ring_then_live),
        cmocka_unit_test(replay_truncated_without_store),
        cmocka_unit_test(replay_from_table_while_publishing),
        cmocka_unit_test(replay_truncated_by_retention),
        cmocka_unit_test(retention_ignores_the_seqs_a_crash_skipped),
        cmocka_unit_test(replay_waits_for_a_running_trim),
        cmocka_unit_test(replay_paces_on_full_queue),
        cmocka_unit_test(replay_budget_is_shared_and_handed_on),
        cmocka_unit_test(seq_continues_after_store),
        cmocka_unit_test(seq_never_reused_after_a_crash),
        cmocka_unit_test(a_crash_that_stored_nothing_is_a_gap_not_truncated),
        cmocka_unit_test(events_wait_for_the_reservation),
        cmocka_unit_test(failed_writes_are_retried_then_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
