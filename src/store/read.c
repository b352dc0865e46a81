/* SPDX-License-Identifier: MIT */
/*
 * Reads off the writer: the loop's read connection (bounded indexed reads)
 * and heavier reads on the libuv thread pool, each on a connection of its
 * own that is opened and closed around the read.
 */
#include "store/store_int.h"

#include <stdlib.h>

/* ---- reads on the pool -------------------------------------------------------------- */

typedef struct {
    uv_work_t work;
    /* Copies, not the store: a pool read may outlive ad_store_close(). */
    char *path;
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
    ad_db_t *db = NULL;
    char err[512];
    r->rc = ad_store_conn_open(r->path, false, r->full, r->busy_ms, &db, err, sizeof(err));
    if (r->rc != 0) {
        ad_log(AD_LOG_ERROR, "store", "%s", err);
        return;
    }
    r->rc = r->fn(db, r->ctx);
    ad_store_conn_close(db);
}

static void read_after(uv_work_t *w, int status)
{
    read_job_t *r = w->data;
    if (r->done != NULL) {
        r->done(status == UV_ECANCELED ? AD_ECLOSED : r->rc, r->ctx);
    }
    free(r->path);
    free(r);
}

void ad_store_read_async(ad_store_t *st, ad_store_read_fn fn, ad_store_done_cb done, void *ctx)
{
    read_job_t *r = ad_xcalloc(1, sizeof(*r));
    r->path = ad_xstrdup(st->path);
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
