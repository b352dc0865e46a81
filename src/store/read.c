/* SPDX-License-Identifier: MIT */
/*
 * Reads off the writer: the loop's read connection (bounded indexed reads)
 * and heavier reads on the libuv thread pool, each on a connection of its
 * own: on SQLite opened and closed around the read (an open is a file open
 * and a few pragmas), on PostgreSQL taken from a small pool of idle
 * connections (an open there is a login: several round trips).
 */
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- PostgreSQL's idle pool ------------------------------------------------------------
 * At most POOL_IDLE connections wait between reads, each with its URL;
 * more reads at once open more, closed when the pool is full. */
#define POOL_IDLE 4
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *url;
    ad_db_t *db;
} pool[POOL_IDLE];
static size_t pool_busy; /* under pool_lock: connections out on a read */

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

static ad_db_t *pool_take(const char *url)
{
    ad_db_t *db = NULL;
    pthread_mutex_lock(&pool_lock);
    for (size_t i = 0; i < POOL_IDLE && db == NULL; i++) {
        if (pool[i].db != NULL && strcmp(pool[i].url, url) == 0) {
            db = pool[i].db;
            pool[i].db = NULL;
            free(pool[i].url);
            pool[i].url = NULL;
        }
    }
    pthread_mutex_unlock(&pool_lock);
    return db;
}

static void pool_give(const char *url, ad_db_t *db)
{
    pthread_mutex_lock(&pool_lock);
    for (size_t i = 0; i < POOL_IDLE && db != NULL; i++) {
        if (pool[i].db == NULL) {
            pool[i].db = db;
            pool[i].url = ad_xstrdup(url);
            db = NULL;
        }
    }
    pthread_mutex_unlock(&pool_lock);
    ad_store_conn_close(db); /* the pool is full (or db is NULL) */
}

/* ---- reads on the pool -------------------------------------------------------------- */

typedef struct {
    uv_work_t work;
    /* Copies, not the store: a pool read may outlive ad_store_close(). */
    char *path;
    char *url; /* PostgreSQL's, or NULL */
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
    ad_db_t *db = r->url != NULL ? pool_take(r->url) : NULL;
    double rtt = 0;
    while (db != NULL && (ad_db_pg_stale(db) || ad_db_pg_ping(db, &rtt) != 0)) {
        ad_store_conn_close(db);
        db = pool_take(r->url);
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
    if (r->url != NULL) {
        pool_busy_add(1);
    }
    r->rc = r->fn(db, r->ctx);
    if (r->url != NULL) {
        pool_busy_add(-1);
    }
    if (r->url != NULL && ad_db_pg_lost(db)) {
        r->rc = r->rc != 0 ? AD_EUNAVAIL : 0;
        ad_store_conn_close(db); /* not back to the pool: it is gone */
    } else if (r->url != NULL && ad_db_get_autocommit(db)) {
        pool_give(r->url, db);
    } else {
        ad_store_conn_close(db);
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
