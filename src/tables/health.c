/* SPDX-License-Identifier: MIT */
/*
 * The health history on disk (migration 2700, issue #35): chunk rows of
 * the host's records and of each run's, written through the writer (one
 * job a chunk period, with every run's chunk), trimmed by age and bytes,
 * and read back on the pool by time range. The blobs are opaque here:
 * src/health/disk.c packs and reads them.
 *
 * Ownership: a put copies the chunks' bytes into its job; a read hands
 * each row's bytes to the caller's callback for the call only.
 */
#include "store/table.h"
#include "tables/health.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    ad_store_hchunk_t *c; /* owned copies (run ids and data) */
    size_t n;
    int64_t min_t;      /* 0: no age bound this time */
    uint64_t max_bytes; /* 0: no byte bound this time */
} put_t;

static void put_cleanup(void *in)
{
    put_t *p = in;
    for (size_t i = 0; i < p->n; i++) {
        free((void *)p->c[i].run_id);
        free((void *)p->c[i].data);
    }
    free(p->c);
}

static const char SQL_PUT_HOST[] =
    "INSERT INTO health_chunks (t0, t1, n, data) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (t0) DO "
    "UPDATE SET t1 = excluded.t1, n = excluded.n, data = excluded.data";
/* A run deleted meanwhile takes no row (the foreign key would refuse the
 * whole group's job). */
static const char SQL_PUT_RUN[] =
    "INSERT INTO run_health_chunks (run_id, t0, t1, n, data) SELECT ?1, ?2, ?3, ?4, ?5 "
    "WHERE EXISTS (SELECT 1 FROM runs WHERE id = ?1) ON CONFLICT (run_id, t0) DO UPDATE SET "
    "t1 = excluded.t1, n = excluded.n, data = excluded.data";
/* By the key (t0): a chunk that started before ?1 is gone. */
static const char SQL_AGE_HOST[] = "DELETE FROM health_chunks WHERE t0 < ?1";
static const char SQL_AGE_RUN[] = "DELETE FROM run_health_chunks WHERE t0 < ?1";
static const char SQL_BYTES[] = "SELECT (SELECT total(length(data)) FROM health_chunks) + "
                                "(SELECT total(length(data)) FROM run_health_chunks)";
/* The oldest eighth of the host's rows goes, and the runs' rows of that
 * time: a trim past the byte bound takes a few rounds, not one per row. */
static const char SQL_OLDEST_CUT[] = "SELECT t0 FROM health_chunks ORDER BY t0 LIMIT 1 OFFSET "
                                     "(SELECT max(1, count(*) / 8) FROM health_chunks)";

static int put_one(ad_db_t *db, const ad_store_hchunk_t *c)
{
    bool run = c->run_id != NULL && c->run_id[0] != '\0';
    ad_db_stmt_t *s = ad_store_stmt(db, run ? SQL_PUT_RUN : SQL_PUT_HOST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    int k = 1;
    if (run) {
        ad_store_bind_text(s, k++, c->run_id);
    }
    ad_db_bind_int64(s, k++, c->t0);
    ad_db_bind_int64(s, k++, c->t1);
    ad_db_bind_int64(s, k++, (int64_t)c->n);
    ad_db_bind_blob(s, k, c->data, (int)c->len, AD_DB_STATIC);
    return ad_store_step_done(db, s);
}

static int delete_before(ad_db_t *db, int64_t t)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_AGE_HOST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, t);
    int rc = ad_store_step_done(db, s);
    if (rc != 0) {
        return rc;
    }
    s = ad_store_stmt(db, SQL_AGE_RUN);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, t);
    return ad_store_step_done(db, s);
}

static int64_t one_int(ad_db_t *db, const char *sql, int64_t def)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return def;
    }
    int64_t v = ad_db_step(s) == AD_DB_ROW && ad_db_column_type(s, 0) != AD_DB_NULL
                    ? ad_db_column_int64(s, 0)
                    : def;
    ad_db_reset(s);
    return v;
}

/* Past max_bytes the oldest rows go, an eighth of them a round, at most
 * eight rounds a trim (the next trim goes on). */
static int trim_bytes(ad_db_t *db, uint64_t max_bytes)
{
    for (int round = 0; round < 8; round++) {
        int64_t bytes = one_int(db, SQL_BYTES, 0);
        if (bytes <= 0 || (uint64_t)bytes <= max_bytes) {
            return 0;
        }
        int64_t cut = one_int(db, SQL_OLDEST_CUT, -1);
        if (cut < 0) {
            /* one host row or none: the runs' rows are what is left to cut */
            cut = INT64_MAX;
        }
        int rc = delete_before(db, cut);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int put_fn(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const put_t *p = in;
    for (size_t i = 0; i < p->n; i++) {
        int rc = put_one(tx->db, &p->c[i]);
        if (rc != 0) {
            return rc;
        }
    }
    int rc = p->min_t > 0 ? delete_before(tx->db, p->min_t - AD_STORE_HCHUNK_SPAN_MS) : 0;
    if (rc == 0 && p->max_bytes > 0) {
        rc = trim_bytes(tx->db, p->max_bytes);
    }
    return rc;
}

static void put_done(int rc, json_t *result, void *ud)
{
    AD_UNUSED(ud);
    json_decref(result);
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "store", "health history not stored: %s", ad_strerror(rc));
    }
}

void ad_store_health_put(ad_store_t *st, const ad_store_hchunk_t *chunks, size_t n, int64_t min_t,
                         uint64_t max_bytes)
{
    put_t p = {.c = ad_xcalloc(n > 0 ? n : 1, sizeof(*p.c)),
               .n = n,
               .min_t = min_t,
               .max_bytes = max_bytes};
    for (size_t i = 0; i < n; i++) {
        p.c[i] = chunks[i];
        p.c[i].run_id = chunks[i].run_id != NULL ? ad_xstrdup(chunks[i].run_id) : NULL;
        void *d = ad_xmalloc(chunks[i].len > 0 ? chunks[i].len : 1);
        memcpy(d, chunks[i].data, chunks[i].len);
        p.c[i].data = d;
    }
    ad_store_typed_write(st, put_fn, &p, sizeof(p), put_cleanup, put_done, NULL);
}

/* ---- reads ------------------------------------------------------------------------ */

/* A chunk spans at most AD_STORE_HCHUNK_SPAN_MS (600000), so the key's
 * range starts that far before from (computed here: PostgreSQL would type
 * `? - 600000` as a 32-bit integer). */
static const char SQL_READ_HOST[] =
    "SELECT n, data FROM health_chunks WHERE t0 BETWEEN ?3 AND ?2 AND t1 >= ?1 ORDER BY t0";
static const char SQL_READ_RUN[] = "SELECT n, data FROM run_health_chunks WHERE run_id = ?1 AND "
                                   "t0 BETWEEN ?4 AND ?3 AND t1 >= ?2 ORDER BY t0";
/* min(t0) is the key's first entry; max(t1) reads the newest row by the key. */
static const char SQL_SPAN[] =
    "SELECT min(t0), (SELECT t1 FROM health_chunks ORDER BY t0 DESC LIMIT 1) FROM health_chunks";

static int read_rows(ad_db_t *db, ad_db_stmt_t *s, ad_store_hquery_t *q, bool run)
{
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        const void *d = ad_db_column_blob(s, 1);
        size_t len = (size_t)ad_db_column_bytes(s, 1);
        q->row(run, d, len, (size_t)ad_db_column_int64(s, 0), q->ud);
    }
    ad_db_reset(s);
    return rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

static int read_fn(ad_db_t *db, void *ctx)
{
    ad_store_hquery_t *q = ctx;
    ad_db_stmt_t *s;
    int rc = 0;
    if (q->host) {
        s = ad_store_stmt(db, SQL_READ_HOST);
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_db_bind_int64(s, 1, q->from);
        ad_db_bind_int64(s, 2, q->to);
        ad_db_bind_int64(s, 3, q->from - AD_STORE_HCHUNK_SPAN_MS);
        rc = read_rows(db, s, q, false);
    }
    if (rc == 0 && q->run_id[0] != '\0') {
        s = ad_store_stmt(db, SQL_READ_RUN);
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_store_bind_text(s, 1, q->run_id);
        ad_db_bind_int64(s, 2, q->from);
        ad_db_bind_int64(s, 3, q->to);
        ad_db_bind_int64(s, 4, q->from - AD_STORE_HCHUNK_SPAN_MS);
        rc = read_rows(db, s, q, true);
    }
    return rc;
}

int ad_store_health_span(ad_store_t *st, int64_t *oldest, int64_t *newest)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SPAN);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    int rc = ad_db_step(s);
    int out = AD_ENOENT;
    if (rc == AD_DB_ROW && ad_db_column_type(s, 0) != AD_DB_NULL) {
        *oldest = ad_db_column_int64(s, 0);
        *newest = ad_db_column_int64(s, 1);
        out = 0;
    } else if (rc != AD_DB_ROW && rc != AD_DB_DONE) {
        out = ad_store_rc(db, rc);
    }
    ad_db_reset(s);
    return out;
}

void ad_store_health_read(ad_store_t *st, ad_store_hquery_t *q, ad_store_done_cb done)
{
    ad_store_read_async(st, read_fn, done, q);
}
