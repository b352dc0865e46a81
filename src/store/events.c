/* SPDX-License-Identifier: MIT */
/*
 * The events table for the bus: batched inserts and retention deletes
 * through the writer (ad_store_submit), replay reads on pool threads over a
 * read-only connection of their own, and the bounds read at start-up. The
 * bus decides what and when (src/bus); this file only speaks SQL.
 */
#include "bus/bus.h"
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TRIM_CHUNK 10000

typedef struct {
    ad_store_t *st;
    char path[4096];    /* copied: reads may outlive the store at shutdown */
    pthread_mutex_t mu; /* guards path, rdb and its statement */
    sqlite3 *rdb;
    sqlite3_stmt *read_stmt;
} events_t;

/* One store per daemon: kept for the process's life. */
static events_t events = {.mu = PTHREAD_MUTEX_INITIALIZER};

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
        ad_buf_puts(b, "[]");
    }
}

/* Rows go in GROUP at a time through one statement: a multi-row INSERT
 * runs SQLite's per-statement work (step, halt, reset) once for them all,
 * which was a fifth of the writer's instructions per event. */
#define GROUP 16
#define ROW "(?,?,?,?,?)"
#define ROWS4 ROW "," ROW "," ROW "," ROW
static const char insert_one[] =
    "INSERT OR IGNORE INTO events(seq, ts, type, topics, payload) VALUES" ROW;
static const char insert_group[] = "INSERT OR IGNORE INTO events(seq, ts, type, topics, payload) "
                                   "VALUES" ROWS4 "," ROWS4 "," ROWS4 "," ROWS4;

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

/* Binds the group's events as rows of st. An event with the topics of the
 * one before it binds that row's topics text (bursts and an agent's output
 * repeat theirs); else its slot's buffer holds its own, alive until the
 * step. */
static void bind_rows(sqlite3_stmt *st, ad_bus_event_t *const *evs, size_t n, ad_buf_t *slots)
{
    const char *tdata = NULL;
    size_t tlen = 0;
    for (size_t k = 0; k < n; k++) {
        const ad_bus_event_t *ev = evs[k];
        if (k == 0 || !same_topics(ev, evs[k - 1])) {
            put_topics(&slots[k], ev);
            tdata = slots[k].data;
            tlen = slots[k].len;
        }
        size_t plen;
        const char *payload = ad_bus_event_payload_text(ev, &plen);
        int o = (int)k * 5;
        sqlite3_bind_int64(st, o + 1, (sqlite3_int64)ad_bus_event_seq(ev));
        sqlite3_bind_int64(st, o + 2, ad_bus_event_ts_ms(ev));
        sqlite3_bind_text(st, o + 3, ad_bus_event_type(ev), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, o + 4, tdata, (int)tlen, SQLITE_STATIC);
        sqlite3_bind_text(st, o + 5, payload, (int)plen, SQLITE_STATIC);
    }
}

static int write_job(ad_store_tx_t *tx, void *ctx)
{
    sqlite3 *db = tx->db;
    wjob_t *j = ctx;
    ad_buf_t topics[GROUP];
    for (int k = 0; k < GROUP; k++) {
        ad_buf_init(&topics[k], 64 * 1024);
    }
    int rc = 0;
    for (size_t i = 0; i < j->n && rc == 0;) {
        size_t take = j->n - i >= GROUP ? GROUP : 1;
        sqlite3_stmt *st = ad_store_stmt(db, take == GROUP ? insert_group : insert_one);
        if (st == NULL) {
            rc = AD_EINTERNAL;
            break;
        }
        bind_rows(st, j->evs + i, take, topics);
        int src = sqlite3_step(st);
        rc = src == SQLITE_DONE ? 0 : ad_store_rc(db, src);
        sqlite3_reset(st); /* every parameter is bound again before the next step */
        i += take;
    }
    for (int k = 0; k < GROUP; k++) {
        ad_buf_cleanup(&topics[k]);
    }
    return rc;
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
    ad_store_submit(e->st, write_job, write_done, j);
}

/* ---- retention --------------------------------------------------------------- */

typedef struct {
    uint64_t max_seq;
    int64_t min_ts;
    uint64_t oldest;
    ad_bus_trim_done_cb done;
    void *arg;
} tjob_t;

static int trim_job(ad_store_tx_t *tx, void *ctx)
{
    sqlite3 *db = tx->db;
    tjob_t *t = ctx;
    /* Both deletes walk the primary key from the oldest row, a bounded
     * chunk per job, so the writer is never held long; ts grows with seq. */
    sqlite3_stmt *st = ad_store_stmt(
        db, "DELETE FROM events WHERE seq <= ?1 AND seq < (SELECT MIN(seq) FROM events) + ?2");
    if (st == NULL) {
        return AD_EINTERNAL;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)t->max_seq);
    sqlite3_bind_int64(st, 2, TRIM_CHUNK);
    int src = sqlite3_step(st);
    sqlite3_reset(st);
    int rc = src == SQLITE_DONE ? 0 : ad_store_rc(db, src);
    if (rc != 0) {
        return rc;
    }
    st = ad_store_stmt(db, "DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM (SELECT seq, ts "
                           "FROM events ORDER BY seq LIMIT ?2) WHERE ts < ?1)");
    if (st == NULL) {
        return AD_EINTERNAL;
    }
    sqlite3_bind_int64(st, 1, t->min_ts);
    sqlite3_bind_int64(st, 2, TRIM_CHUNK);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    rc = src == SQLITE_DONE ? 0 : ad_store_rc(db, src);
    if (rc != 0) {
        return rc;
    }
    st = ad_store_stmt(db, "SELECT MIN(seq) FROM events");
    if (st == NULL) {
        return AD_EINTERNAL;
    }
    src = sqlite3_step(st);
    t->oldest = src == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return src == SQLITE_ROW ? 0 : ad_store_rc(db, src);
}

static void trim_done(int rc, void *ctx)
{
    tjob_t *t = ctx;
    t->done(rc, t->oldest, t->arg);
    free(t);
}

static void ev_trim(void *impl, uint64_t max_seq, int64_t min_ts_ms, ad_bus_trim_done_cb done,
                    void *arg)
{
    events_t *e = impl;
    tjob_t *t = ad_xcalloc(1, sizeof(*t));
    t->max_seq = max_seq;
    t->min_ts = min_ts_ms;
    t->done = done;
    t->arg = arg;
    ad_store_submit(e->st, trim_job, trim_done, t);
}

/* ---- the seq ceiling -------------------------------------------------------------- */

typedef struct {
    uint64_t upto;
    ad_bus_write_done_cb done;
    void *arg;
} rjob_t;

static int reserve_job(ad_store_tx_t *tx, void *ctx)
{
    sqlite3 *db = tx->db;
    rjob_t *r = ctx;
    sqlite3_stmt *st = ad_store_stmt(db, "INSERT INTO bus_meta(key, value) VALUES('seq_reserved', "
                                         "?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (st == NULL) {
        return AD_EINTERNAL;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->upto);
    int src = sqlite3_step(st);
    sqlite3_reset(st);
    return src == SQLITE_DONE ? 0 : ad_store_rc(db, src);
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

/* The last recorded ceiling, 0 when none. */
static int read_reserved(sqlite3 *db, uint64_t *out)
{
    sqlite3_stmt *st = ad_store_stmt(db, "SELECT value FROM bus_meta WHERE key = 'seq_reserved'");
    if (st == NULL) {
        return AD_EINTERNAL;
    }
    int src = sqlite3_step(st);
    *out = src == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return src == SQLITE_ROW || src == SQLITE_DONE ? 0 : ad_store_rc(db, src);
}

/* ---- replay reads (pool threads) ----------------------------------------------- */

static int ev_read(void *impl, uint64_t after, uint64_t upto, size_t limit, ad_bus_row_cb cb,
                   void *arg)
{
    events_t *e = impl;
    int rc = 0;
    pthread_mutex_lock(&e->mu);
    if (e->rdb == NULL) {
        int src =
            sqlite3_open_v2(e->path, &e->rdb, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
        if (src == SQLITE_OK) {
            sqlite3_busy_timeout(e->rdb, 5000);
            src = sqlite3_prepare_v2(e->rdb,
                                     "SELECT seq, ts, type, topics, payload FROM events "
                                     "WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
                                     -1, &e->read_stmt, NULL);
        }
        if (src != SQLITE_OK) {
            ad_log(AD_LOG_ERROR, "store", "events read connection failed err=%s",
                   e->rdb ? sqlite3_errmsg(e->rdb) : sqlite3_errstr(src));
            sqlite3_finalize(e->read_stmt);
            sqlite3_close(e->rdb);
            e->read_stmt = NULL;
            e->rdb = NULL;
            rc = AD_EIO;
            goto out;
        }
    }
    sqlite3_stmt *st = e->read_stmt;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)after);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)upto);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
    int src = sqlite3_step(st);
    for (; src == SQLITE_ROW; src = sqlite3_step(st)) {
        ad_bus_row_t row;
        row.seq = (uint64_t)sqlite3_column_int64(st, 0);
        row.ts_ms = sqlite3_column_int64(st, 1);
        row.type = (const char *)sqlite3_column_text(st, 2);
        row.topics = (const char *)sqlite3_column_text(st, 3);
        row.payload = (const char *)sqlite3_column_text(st, 4);
        row.payload_len = (size_t)sqlite3_column_bytes(st, 4);
        if (row.type == NULL || row.topics == NULL || row.payload == NULL) {
            continue;
        }
        if (cb(&row, arg) != 0) {
            src = SQLITE_DONE;
            break;
        }
    }
    if (src != SQLITE_DONE) {
        ad_log(AD_LOG_ERROR, "store", "events read failed err=%s", sqlite3_errmsg(e->rdb));
        rc = AD_EIO;
    }
    sqlite3_reset(st);
out:
    pthread_mutex_unlock(&e->mu);
    return rc;
}

static const ad_bus_store_ops_t ops = {ev_write, ev_read, ev_trim, ev_reserve};

int ad_store_events_attach(struct ad_store *store, ad_bus_t *bus)
{
    /* MIN and MAX of the primary key are two index probes: fine on the
     * loop thread at start-up. */
    sqlite3 *db = ad_store_rdb(store);
    sqlite3_stmt *st = ad_store_stmt(db, "SELECT MIN(seq), MAX(seq) FROM events");
    if (st == NULL) {
        return AD_EINTERNAL;
    }
    int src = sqlite3_step(st);
    uint64_t min = 0, max = 0;
    if (src == SQLITE_ROW) {
        min = (uint64_t)sqlite3_column_int64(st, 0);
        max = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (src != SQLITE_ROW) {
        return ad_store_rc(db, src);
    }
    uint64_t reserved = 0;
    int rc = read_reserved(db, &reserved);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&events.mu);
    events.st = store;
    snprintf(events.path, sizeof(events.path), "%s", ad_store_path(store));
    pthread_mutex_unlock(&events.mu);
    ad_bus_set_store(bus, &ops, &events, min, max, reserved);
    ad_log(AD_LOG_INFO, "bus", "events table attached oldest=%llu newest=%llu reserved=%llu",
           (unsigned long long)min, (unsigned long long)max, (unsigned long long)reserved);
    return 0;
}
