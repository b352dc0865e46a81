/* SPDX-License-Identifier: MIT */
/*
 * Reads off the writer: the loop's read connection (bounded indexed reads)
 * and heavier reads on the libuv thread pool, each on a connection of its
 * own, taken from a small pool of idle ones: an open is a login on
 * PostgreSQL (several round trips) and 3 ms on SQLite (the schema parsed
 * again; a read on a kept connection can take 0.02 ms).
 */
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- the idle pool ---------------------------------------------------------------------
 * At most POOL_IDLE connections wait between reads, each with its key (the
 * PostgreSQL URL or the SQLite file's path); more reads at once open more,
 * closed when the pool is full. ad_store_close() drops its key's (before
 * the writer's close, which is the last one: it checkpoints and removes the
 * WAL) and moves pool_gen on: a read queued before that closes its
 * connection instead of handing it back. */
#define POOL_IDLE 4
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *key;
    ad_db_t *db;
} pool[POOL_IDLE];
static size_t pool_busy;  /* under pool_lock: connections out on a read */
static uint64_t pool_gen; /* under pool_lock: the drops so far */

void ad_store_pool_counts(size_t *idle, size_t *busy)
{
    pthread_mutex_lock(&pool_lock);
    size_t n = 0;
    for (size_t i = 0; i < POOL_IDLE; i++) {
        n += pool[i].db != NULL;
    }
    *idle = n;
    *busy = pool_busy;
    pthread_mutex_unlock(&pool_lock);
}

static void pool_busy_add(int d)
{
    pthread_mutex_lock(&pool_lock);
    pool_busy = (size_t)((ptrdiff_t)pool_busy + d);
    pthread_mutex_unlock(&pool_lock);
}

static uint64_t pool_generation(void)
{
    pthread_mutex_lock(&pool_lock);
    uint64_t gen = pool_gen;
    pthread_mutex_unlock(&pool_lock);
    return gen;
}

/* Slot i's connection when it is key's (emptying the slot), else NULL.
 * Under pool_lock. */
static ad_db_t *slot_take(size_t i, const char *key)
{
    ad_db_t *db = pool[i].db;
    if (db == NULL || strcmp(pool[i].key, key) != 0) {
        return NULL;
    }
    pool[i].db = NULL;
    free(pool[i].key);
    pool[i].key = NULL;
    return db;
}

static ad_db_t *pool_take(const char *key)
{
    ad_db_t *db = NULL;
    pthread_mutex_lock(&pool_lock);
    for (size_t i = 0; i < POOL_IDLE && db == NULL; i++) {
        db = slot_take(i, key);
    }
    pthread_mutex_unlock(&pool_lock);
    return db;
}

/* Whether a read left db fit for the next: no transaction open and, on
 * SQLite, no statement still stepping (it would keep its snapshot, and the
 * WAL could not be restarted past it). Its page cache is given back: an
 * idle connection keeps only its parsed schema. */
static bool reusable(ad_db_t *db)
{
    if (db == NULL || !ad_db_get_autocommit(db)) {
        return false;
    }
    sqlite3 *sq = ad_db_sqlite(db);
    for (sqlite3_stmt *s = sq != NULL ? sqlite3_next_stmt(sq, NULL) : NULL; s != NULL;
         s = sqlite3_next_stmt(sq, s)) {
        if (sqlite3_stmt_busy(s)) {
            return false;
        }
    }
    if (sq != NULL) {
        sqlite3_db_release_memory(sq);
    }
    return true;
}

/* db back to the pool, unless key was dropped since gen or it is unfit. */
static void pool_give(const char *key, ad_db_t *db, uint64_t gen)
{
    bool fit = reusable(db);
    pthread_mutex_lock(&pool_lock);
    for (size_t i = 0; i < POOL_IDLE && fit && db != NULL && gen == pool_gen; i++) {
        if (pool[i].db == NULL) {
            pool[i].db = db;
            pool[i].key = ad_xstrdup(key);
            db = NULL;
        }
    }
    pthread_mutex_unlock(&pool_lock);
    ad_store_conn_close(db); /* the pool is full, dropped or db unfit (or db is NULL) */
}

void ad_store_pool_drop(const char *key)
{
    ad_db_t *gone[POOL_IDLE] = {NULL};
    pthread_mutex_lock(&pool_lock);
    pool_gen++;
    for (size_t i = 0; i < POOL_IDLE; i++) {
        gone[i] = slot_take(i, key);
    }
    pthread_mutex_unlock(&pool_lock);
    for (size_t i = 0; i < POOL_IDLE; i++) {
        ad_store_conn_close(gone[i]);
    }
}

/* ---- reads on the pool -------------------------------------------------------------- */

typedef struct {
    uv_work_t work;
    /* Copies, not the store: a pool read may outlive ad_store_close(). */
    char *path;
    char *url;    /* PostgreSQL's, or NULL */
    uint64_t gen; /* pool_gen when it was queued */
    bool full;
    int busy_ms;
    ad_store_read_fn fn;
    ad_store_done_cb done;
    void *ctx;
    int rc;
} read_job_t;

static void read_work(uv_work_t *w)
{
    read_job_t *r = w->data;
    if (r->url != NULL && ad_db_pg_down()) {
        /* Not a login per read while the server is away: the writer
         * probes it and says when it is back (writer.c). */
        r->rc = AD_EUNAVAIL;
        return;
    }
    /* A pooled connection the server may have closed while it waited (it
     * restarted) is asked first, one round trip, instead of running fn on
     * it: fn runs once, as its results are not made twice. A connection
     * lost during fn is an outage for this read (a 503), not a retry. */
    const char *key = r->url != NULL ? r->url : r->path;
    ad_db_t *db = pool_take(key);
    double rtt = 0;
    while (r->url != NULL && db != NULL && (ad_db_pg_stale(db) || ad_db_pg_ping(db, &rtt) != 0)) {
        ad_store_conn_close(db);
        db = pool_take(key);
    }
    if (db == NULL) {
        char err[512];
        r->rc = r->url != NULL ? ad_db_pg_open(r->url, &db, err, sizeof(err))
                               : ad_store_conn_open(r->path, false, r->full, r->busy_ms, &db, err,
                                                    sizeof(err));
        if (r->rc != 0) {
            ad_log(AD_LOG_ERROR, "store", "%s", err);
            return;
        }
    }
    pool_busy_add(1);
    r->rc = r->fn(db, r->ctx);
    pool_busy_add(-1);
    if (r->url != NULL && ad_db_pg_lost(db)) {
        r->rc = r->rc != 0 ? AD_EUNAVAIL : 0;
        ad_store_conn_close(db); /* not back to the pool: it is gone */
    } else {
        pool_give(key, db, r->gen);
    }
}

static void read_after(uv_work_t *w, int status)
{
    read_job_t *r = w->data;
    if (r->done != NULL) {
        r->done(status == UV_ECANCELED ? AD_ECLOSED : r->rc, r->ctx);
    }
    free(r->path);
    free(r->url);
    free(r);
}

void ad_store_read_async(ad_store_t *st, ad_store_read_fn fn, ad_store_done_cb done, void *ctx)
{
    read_job_t *r = ad_xcalloc(1, sizeof(*r));
    r->path = ad_xstrdup(st->path);
    r->url = st->url != NULL ? ad_xstrdup(st->url) : NULL;
    r->gen = pool_generation();
    r->full = st->durability_full;
    r->busy_ms = st->busy_ms;
    r->fn = fn;
    r->done = done;
    r->ctx = ctx;
    r->work.data = r;
    uv_queue_work(st->loop, &r->work, read_work, read_after);
}

void ad_store_conn_spec(const ad_store_t *st, ad_store_conn_spec_t *out)
{
    out->path = ad_xstrdup(st->path);
    out->url = st->url != NULL ? ad_xstrdup(st->url) : NULL;
    out->full = st->durability_full;
    out->busy_ms = st->busy_ms;
}

int ad_store_conn_spec_open(const ad_store_conn_spec_t *c, ad_db_t **out, char *err, size_t errsz)
{
    return c->url != NULL
               ? ad_db_pg_open(c->url, out, err, errsz)
               : ad_store_conn_open(c->path, false, c->full, c->busy_ms, out, err, errsz);
}

void ad_store_conn_spec_free(ad_store_conn_spec_t *c)
{
    free(c->path);
    free(c->url);
    c->path = c->url = NULL;
}

ad_db_t *ad_store_rdb(ad_store_t *st)
{
    AD_ASSERT_LOOP();
    /* PostgreSQL: a lost reader is made again once the writer has seen the
     * server back (a login on the loop, fast then), at most every 500 ms;
     * until then its reads fail at once with AD_EUNAVAIL. */
    if (st->url != NULL && !ad_db_pg_down() && ad_db_pg_stale(st->rdb) && !ad_db_pg_lost(st->rdb)) {
        /* closed by the server while idle (it restarted): made again now,
         * not after a read failed on it */
        st->rdb_tried_ns = ad_mono_ns();
        AD_DISCARD(ad_db_pg_reconnect(st->rdb));
    } else if (st->url != NULL && ad_db_pg_lost(st->rdb) && !ad_db_pg_down()) {
        uint64_t now = ad_mono_ns();
        if (now - st->rdb_tried_ns > 500000000ull) {
            st->rdb_tried_ns = now;
            AD_DISCARD(ad_db_pg_reconnect(st->rdb)); /* still lost on failure: reads say so */
        }
    }
    return st->rdb;
}
