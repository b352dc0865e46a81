/* SPDX-License-Identifier: MIT */
/*
 * The bus's durable side: events go to the event log (evlog.c) through the
 * writer (ad_store_submit_norow), replay reads it on pool threads, retention
 * retires its oldest segments, and the seq ceiling is a row of bus_meta.
 * At attach the log opens beside the database, taking in the rows of the
 * events table older databases kept (migration 2200 renamed it). The bus
 * decides what and when (src/bus); this file only stores.
 */
#include "bus/bus.h"
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* The bus_meta key of the seq ceiling: "seq_reserved" in a SQLite file (one
 * plane's alone), "seq_reserved:<plane id>" on PostgreSQL, where several
 * control planes each keep their own sequence (issue #39). */
#define KEY_OLD "seq_reserved"
#define KEY_MAX (sizeof(KEY_OLD) + 1 + AD_ID_MAX)

typedef struct {
    ad_store_t *st;
    ad_evlog_t *log; /* kept for the process's life: reads may outlive the store */
    char key[KEY_MAX];
} events_t;

/* One store per daemon. */
static events_t events;

/* ---- writes ---------------------------------------------------------------- */

typedef struct {
    ad_bus_event_t *const *evs;
    size_t n;
    ad_bus_write_done_cb done;
    void *arg;
} wjob_t;

/* The topics as a JSON array of strings ("[]" should they not fit). */
static void put_topics(ad_buf_t *b, const ad_bus_event_t *ev)
{
    ad_buf_reset(b);
    int rc = ad_buf_putc(b, '[');
    for (size_t i = 0; i < ad_bus_event_ntopics(ev) && rc == 0; i++) {
        const char *t = ad_bus_event_topic(ev, i);
        rc = i > 0 ? ad_buf_putc(b, ',') : 0;
        rc = rc ? rc : ad_json_string(b, t, strlen(t));
    }
    rc = rc ? rc : ad_buf_putc(b, ']');
    if (rc != 0) {
        ad_buf_reset(b);
        AD_DISCARD(ad_buf_puts(b, "[]")); /* 2 bytes into an empty buffer of an event's cap */
    }
}

/* Whether a and b have the same topics (then the same topics text). */
static bool same_topics(const ad_bus_event_t *a, const ad_bus_event_t *b)
{
    size_t n = ad_bus_event_ntopics(a);
    if (n != ad_bus_event_ntopics(b)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ad_bus_event_topic(a, i), ad_bus_event_topic(b, i)) != 0) {
            return false;
        }
    }
    return true;
}

/* Runs in the writer's group like any job, but writes no row: the log is a
 * file of its own. Each event is one record; events with the topics of the
 * one before reuse its topics text (bursts and an agent's output repeat
 * theirs). A job run again after another job's failure adds nothing twice
 * (ad_evlog_add skips seqs it has). */
static int write_job(ad_store_tx_t *tx, void *ctx)
{
    AD_UNUSED(tx);
    wjob_t *j = ctx;
    ad_buf_t topics;
    ad_buf_init(&topics, 64 * 1024);
    int rc = 0;
    for (size_t i = 0; i < j->n && rc == 0; i++) {
        const ad_bus_event_t *ev = j->evs[i];
        if (i == 0 || !same_topics(ev, j->evs[i - 1])) {
            put_topics(&topics, ev);
        }
        ad_evlog_rec_t r = {.seq = ad_bus_event_seq(ev), .ts_ms = ad_bus_event_ts_ms(ev)};
        r.type = ad_bus_event_type(ev);
        r.type_len = strlen(r.type);
        r.topics = topics.data;
        r.topics_len = topics.len;
        r.payload = ad_bus_event_payload_text(ev, &r.payload_len);
        rc = ad_evlog_add(events.log, &r);
        if (rc == AD_ETOOBIG) {
            /* Never storable: skipped, so it does not hold up the rest
             * (replay shows its seq as a gap). */
            ad_log(AD_LOG_ERROR, "store", "event too large to store seq=%llu type_len=%zu",
                   (unsigned long long)r.seq, r.type_len);
            rc = 0;
        }
    }
    int crc = ad_evlog_commit(events.log);
    ad_buf_cleanup(&topics);
    return rc != 0 ? rc : crc;
}

static void write_done(int rc, void *ctx)
{
    wjob_t *j = ctx;
    j->done(rc, j->arg);
    free(j);
}

static void ev_write(void *impl, ad_bus_event_t *const *evs, size_t n, ad_bus_write_done_cb done,
                     void *arg)
{
    events_t *e = impl;
    wjob_t *j = ad_xmalloc(sizeof(*j));
    *j = (wjob_t){evs, n, done, arg};
    ad_store_submit_norow(e->st, write_job, write_done, j);
}

/* ---- retention --------------------------------------------------------------- */

typedef struct {
    uint64_t max_bytes;
    int64_t min_ts;
    uint64_t oldest, bytes;
    ad_bus_trim_done_cb done;
    void *arg;
} tjob_t;

static int trim_job(ad_store_tx_t *tx, void *ctx)
{
    AD_UNUSED(tx);
    tjob_t *t = ctx;
    /* A file that would not go is logged and forgotten: not worth a retry. */
    (void)ad_evlog_trim(events.log, t->max_bytes, t->min_ts, &t->oldest, &t->bytes);
    return 0;
}

static void trim_done(int rc, void *ctx)
{
    tjob_t *t = ctx;
    t->done(rc, t->oldest, t->bytes, t->arg);
    free(t);
}

static void ev_trim(void *impl, uint64_t max_bytes, int64_t min_ts_ms, ad_bus_trim_done_cb done,
                    void *arg)
{
    events_t *e = impl;
    tjob_t *t = ad_xcalloc(1, sizeof(*t));
    t->max_bytes = max_bytes;
    t->min_ts = min_ts_ms;
    t->done = done;
    t->arg = arg;
    ad_store_submit_norow(e->st, trim_job, trim_done, t);
}

/* ---- the seq ceiling -------------------------------------------------------------- */

typedef struct {
    uint64_t upto;
    ad_bus_write_done_cb done;
    void *arg;
} rjob_t;

static int reserve_job(ad_store_tx_t *tx, void *ctx)
{
    ad_db_t *db = tx->db;
    rjob_t *r = ctx;
    /* each plane its own key, so only this plane moves it: down too, as a
     * clean stop records the last seq given so the next start goes on
     * from there */
    ad_db_stmt_t *st = ad_store_stmt(db, "INSERT INTO bus_meta(key, value) VALUES(?2, ?1) "
                                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (st == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(st, 1, (int64_t)r->upto);
    ad_db_bind_text(st, 2, events.key, -1, AD_DB_STATIC);
    int src = ad_db_step(st);
    ad_db_reset(st);
    return src == AD_DB_DONE ? 0 : ad_store_rc(db, src);
}

static void reserve_done(int rc, void *ctx)
{
    rjob_t *r = ctx;
    r->done(rc, r->arg);
    free(r);
}

static void ev_reserve(void *impl, uint64_t upto, ad_bus_write_done_cb done, void *arg)
{
    events_t *e = impl;
    rjob_t *r = ad_xmalloc(sizeof(*r));
    *r = (rjob_t){upto, done, arg};
    ad_store_submit(e->st, reserve_job, reserve_done, r);
}

/* The last recorded ceiling, 0 when none: the highest of this plane's key
 * and the one key of before issue #39 (a database upgraded keeps its
 * sequence; the old key is written no more, so it only ever lies below). */
static int read_reserved(ad_db_t *db, const char *key, uint64_t *out)
{
    ad_db_stmt_t *st =
        ad_store_stmt(db, "SELECT value FROM bus_meta WHERE key = ?1 OR key = '" KEY_OLD "'");
    if (st == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_text(st, 1, key, -1, AD_DB_STATIC);
    *out = 0;
    int src;
    while ((src = ad_db_step(st)) == AD_DB_ROW) {
        uint64_t v = (uint64_t)ad_db_column_int64(st, 0);
        *out = v > *out ? v : *out;
    }
    ad_db_reset(st);
    return src == AD_DB_DONE ? 0 : ad_store_rc(db, src);
}

/* ---- replay reads (pool threads) ----------------------------------------------- */

typedef struct {
    ad_bus_row_cb cb;
    void *arg;
} rd_t;

static int on_rec(const ad_evlog_rec_t *r, void *arg)
{
    rd_t *rd = arg;
    ad_bus_row_t row = {.seq = r->seq,
                        .ts_ms = r->ts_ms,
                        .type = r->type,
                        .topics = r->topics,
                        .payload = r->payload,
                        .payload_len = r->payload_len};
    return rd->cb(&row, rd->arg);
}

static int ev_read(void *impl, uint64_t after, uint64_t upto, size_t limit, ad_bus_row_cb cb,
                   void *arg)
{
    events_t *e = impl;
    rd_t rd = {cb, arg};
    return ad_evlog_read(e->log, after, upto, limit, on_rec, &rd);
}

static const ad_bus_store_ops_t ops = {ev_write, ev_read, ev_trim, ev_reserve};

/* ---- the events table of older databases ------------------------------------------ */

static int drop_old_job(ad_store_tx_t *tx, void *ctx)
{
    AD_UNUSED(ctx);
    return ad_store_exec(tx->db, "DROP TABLE IF EXISTS events_before_log");
}

/* Copies the rows of events_before_log the log does not have yet into it
 * (a crash midway copies the rest next time), syncs, and has the writer
 * drop the table. Loop thread, before the bus writes anything. The
 * statements run once in the daemon's life: prepared here, not cached. */
static int import_table(ad_store_t *st, ad_evlog_t *log, char *err, size_t errsz)
{
    ad_db_t *db = ad_store_rdb(st);
    if (ad_db_is_pg(db)) {
        return 0; /* SQLite only: a PostgreSQL database never had the table's rows */
    }
    uint64_t oldest, newest;
    ad_evlog_bounds(log, &oldest, &newest, NULL);
    ad_db_stmt_t *s = NULL;
    int src = ad_db_prepare_v2(db,
                               "SELECT seq, ts, type, topics, payload FROM events_before_log "
                               "WHERE seq > ?1 ORDER BY seq",
                               -1, &s, NULL);
    if (src != AD_DB_OK) {
        ad_db_finalize(s);
        return 0; /* no such table: moved already, or never there */
    }
    uint64_t t0 = ad_mono_ns();
    ad_db_bind_int64(s, 1, (int64_t)newest);
    size_t n = 0;
    int rc = 0;
    while (rc == 0 && (src = ad_db_step(s)) == AD_DB_ROW) {
        ad_evlog_rec_t r = {.seq = (uint64_t)ad_db_column_int64(s, 0),
                            .ts_ms = ad_db_column_int64(s, 1)};
        r.type = (const char *)ad_db_column_text(s, 2);
        r.type_len = (size_t)ad_db_column_bytes(s, 2);
        r.topics = (const char *)ad_db_column_text(s, 3);
        r.topics_len = (size_t)ad_db_column_bytes(s, 3);
        r.payload = (const char *)ad_db_column_text(s, 4);
        r.payload_len = (size_t)ad_db_column_bytes(s, 4);
        if (r.type == NULL || r.topics == NULL || r.payload == NULL) {
            continue;
        }
        rc = ad_evlog_add(log, &r);
        rc = rc == AD_ETOOBIG ? 0 : rc;
        if (rc == 0 && ++n % 4096 == 0) {
            rc = ad_evlog_commit(log);
        }
    }
    if (rc == 0 && src != AD_DB_DONE && src != AD_DB_ROW) {
        rc = ad_store_rc(db, src);
    }
    ad_db_finalize(s);
    int crc = ad_evlog_commit(log);
    rc = rc != 0 ? rc : crc;
    if (rc != 0) {
        snprintf(err, errsz, "cannot move the events table into the event log: %s",
                 ad_strerror(rc));
        return rc;
    }
    if (n > 0) {
        ad_evlog_sync(log);
        ad_log(AD_LOG_INFO, "store", "events table moved into the event log rows=%zu ms=%llu", n,
               (unsigned long long)((ad_mono_ns() - t0) / 1000000));
    }
    ad_store_submit(st, drop_old_job, NULL, NULL);
    return 0;
}

/* ---- attach ------------------------------------------------------------------------ */

/* Segments of a thirty-second of the retention bound, between 4 KiB and
 * 8 MiB: retention keeps within a few percent of its bound, and opening
 * checks at most one segment. */
static uint64_t segment_bytes(uint64_t retention)
{
    uint64_t b = retention / 32;
    return b < 4096 ? 4096 : b > (8u << 20) ? (8u << 20) : b;
}

int ad_store_events_attach(struct ad_store *store, ad_bus_t *bus, uint64_t retention_bytes,
                           const char *plane_id, char *err, size_t errsz)
{
    if (ad_db_is_pg(ad_store_rdb(store)) && plane_id != NULL && plane_id[0] != '\0') {
        snprintf(events.key, sizeof(events.key), KEY_OLD ":%s", plane_id);
    } else {
        snprintf(events.key, sizeof(events.key), KEY_OLD);
    }
    /* <data dir>/events beside <data dir>/agentd.db */
    char dir[4200];
    const char *path = ad_store_path(store);
    const char *slash = strrchr(path, '/');
    int dlen = slash != NULL ? (int)(slash - path) : 1;
    snprintf(dir, sizeof(dir), "%.*s/events", dlen, slash != NULL ? path : ".");
    ad_evlog_t *log = NULL;
    int rc = ad_evlog_open(dir, segment_bytes(retention_bytes), store->durability_full, &log, err,
                           errsz);
    if (rc == 0) {
        rc = import_table(store, log, err, errsz);
    }
    uint64_t reserved = 0;
    if (rc == 0) {
        rc = read_reserved(ad_store_rdb(store), events.key, &reserved);
        if (rc != 0) {
            snprintf(err, errsz, "cannot read the seq ceiling: %s", ad_strerror(rc));
        }
    }
    if (rc != 0) {
        ad_evlog_free(log);
        return rc;
    }
    uint64_t min = 0, max = 0, bytes = 0;
    ad_evlog_bounds(log, &min, &max, &bytes);
    events.st = store;
    events.log = log;
    store->evlog = log;
    ad_bus_set_store(bus, &ops, &events, min, max, reserved);
    ad_log(AD_LOG_INFO, "bus",
           "event log attached dir=%s oldest=%llu newest=%llu bytes=%llu "
           "reserved=%llu key=%s",
           dir, (unsigned long long)min, (unsigned long long)max, (unsigned long long)bytes,
           (unsigned long long)reserved, events.key);
    return 0;
}
