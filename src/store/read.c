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
    ad_db_t *db = r->url != NULL ? pool_take(r->url) : NULL;
    char err[512];
    if (db == NULL) {
        r->rc = r->url != NULL ? ad_db_pg_open(r->url, &db, err, sizeof(err))
                               : ad_store_conn_open(r->path, false, r->full, r->busy_ms, &db, err,
                                                    sizeof(err));
        if (r->rc != 0) {
            ad_log(AD_LOG_ERROR, "store", "%s", err);
            return;
        }
    }
    r->rc = r->fn(db, r->ctx);
    if (r->url != NULL && ad_db_get_autocommit(db)) {
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

ad_db_t *ad_store_rdb(ad_store_t *st)
{
    AD_ASSERT_LOOP();
    return st->rdb;
}
