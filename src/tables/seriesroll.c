/* SPDX-License-Identifier: MIT */
/*
 * The rollup rows of training-metric chunks (migration 2740, issue #35,
 * bench row T4): metric_rolls holds, per AD_ROLL_BLOCK chunk rows, their
 * summary and each chunk's points in runs of TSDB_ROLL_POINTS
 * (src/tsdb/roll.c), written with every chunk write (series.c calls
 * ad_store_roll_put in the same transaction), and read by wide bucketed
 * reads instead of the chunks (series.c).
 *
 * Series stored before migration 2740 (metric_series.rolled = 0) get their
 * rows from a job chain started when the store opens: each job builds at
 * most ROLL_JOB_CHUNKS chunks of one series (decoding them on the writer,
 * a few milliseconds), then the next job is queued behind whatever else
 * came meanwhile, until no series is left (a restart starts that series
 * again). Until its series is done, a read decodes its chunks as before,
 * so nothing depends on the job having run.
 *
 * The chunk tier (migration 2840, bench row T4 at 16 x 10M): metric_sums
 * holds, per AD_SUM_BLOCK chunk rows, each chunk's total (its runs' total:
 * the place of its min and max included), put with the chunk's rollup, so
 * a chart whose buckets are at least two chunks wide reads neither runs
 * nor their pages. Series rolled before 2840 (summed = 0) get their rows
 * from their rollup rows by a second job chain of the same kind.
 *
 * Ownership: the job's context is this file's (freed by its last done).
 */
#include "store/table.h"
#include "tables/series.h"
#include "tables/tables_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a rollup row ------------------------------------------------------------------
 * Row blk holds the rollups of chunk rows blk * AD_ROLL_BLOCK to
 * blk * AD_ROLL_BLOCK + AD_ROLL_BLOCK - 1 (a read steps one row where it
 * stepped six: the rows, not their bytes, were most of a wide read's
 * cost), with their summary in its columns, and its blob their segments in
 * seq order: the chunk's place in the row (1 byte), its rollup's length
 * (2 bytes, little-endian) and its rollup (tsdb_rolls_encode). */

/* The segments of a row of block chunks: 0 to block of them, or -1. */
static int segs_parse(const void *blob, size_t len, int64_t blk, int block, ad_roll_seg_t *out)
{
    const uint8_t *b = blob;
    size_t pos = 0;
    int n = 0, prev = -1;
    while (pos < len) {
        if (n == block || len - pos < 3 || b[pos] >= block || b[pos] <= prev) {
            return -1;
        }
        size_t l = (size_t)b[pos + 1] | (size_t)b[pos + 2] << 8;
        if (l > len - pos - 3) {
            return -1;
        }
        prev = b[pos];
        out[n].seq = blk * block + prev;
        out[n].data = b + pos + 3;
        out[n].len = l;
        n++;
        pos += 3 + l;
    }
    return n;
}

int ad_store_roll_segs(const void *blob, size_t len, int64_t blk, ad_roll_seg_t *out)
{
    return segs_parse(blob, len, blk, AD_ROLL_BLOCK, out);
}

/* The rows of segments: metric_rolls (a chunk's runs a segment). */
typedef struct {
    const char *get, *put;
    int block;
} tier_t;

#define ROW_SQL_PUT(table)                                                                         \
    "INSERT INTO " table " (run_id, name, blk, n, step_min, step_max, t_min, t_max, v_min, "       \
    "v_max, v_sum, v_last, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "                  \
    "ON CONFLICT (run_id, name, blk) DO UPDATE SET n = excluded.n, step_min = "                    \
    "excluded.step_min, step_max = excluded.step_max, t_min = excluded.t_min, t_max = "            \
    "excluded.t_max, v_min = excluded.v_min, v_max = excluded.v_max, v_sum = excluded.v_sum, "     \
    "v_last = excluded.v_last, data = excluded.data"

static const tier_t ROLLS = {
    "SELECT data FROM metric_rolls WHERE run_id = ? AND name = ? AND blk = ?",
    ROW_SQL_PUT("metric_rolls"), AD_ROLL_BLOCK};

static void put_total(tsdb_roll_t *t, bool first, const tsdb_roll_t *e)
{
    if (first) {
        *t = *e;
        return;
    }
    tsdb_rolls_t two = {.n = 2};
    two.e[0] = *t;
    two.e[1] = *e;
    *t = tsdb_rolls_total(&two);
}

static int row_write(ad_db_t *db, const char *sql, const char *run_id, const char *name,
                     int64_t blk, const tsdb_roll_t *t, const uint8_t *blob, size_t len)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    ad_store_bind_text(s, 1, run_id);
    ad_store_bind_text(s, 2, name);
    ad_db_bind_int64(s, 3, blk);
    ad_db_bind_int64(s, 4, t->n);
    ad_db_bind_int64(s, 5, t->s_lo);
    ad_db_bind_int64(s, 6, t->s_hi);
    ad_db_bind_int64(s, 7, t->t_lo);
    ad_db_bind_int64(s, 8, t->t_hi);
    ad_db_bind_double(s, 9, t->min);
    ad_db_bind_double(s, 10, t->max);
    ad_db_bind_double(s, 11, t->sum);
    ad_db_bind_double(s, 12, t->last);
    ad_db_bind_blob(s, 13, blob, (int)len, AD_DB_TRANSIENT);
    return ad_store_step_done(db, s);
}

/* Puts seg (seq's segment, len bytes) into its row of tier k, the row's
 * other segments kept (a row that does not parse, or a segment that does
 * not decode, is dropped), its summary recomputed from them all. */
static int row_put(ad_db_t *db, const tier_t *k, const char *run_id, const char *name, int64_t seq,
                   const uint8_t *seg, size_t seglen)
{
    int64_t blk = seq / k->block;
    int at = (int)(seq - blk * k->block);
    ad_db_stmt_t *s = ad_store_stmt(db, k->get);
    ad_store_bind_text(s, 1, run_id);
    ad_store_bind_text(s, 2, name);
    ad_db_bind_int64(s, 3, blk);
    int rc = ad_db_step(s);
    uint8_t *old = NULL;
    size_t oldlen = 0;
    if (rc == AD_DB_ROW) { /* a copy: the statement is reset before the write */
        oldlen = (size_t)ad_db_column_bytes(s, 0);
        old = ad_xmalloc(oldlen > 0 ? oldlen : 1);
        if (oldlen > 0) {
            memcpy(old, ad_db_column_blob(s, 0), oldlen);
        }
    }
    ad_db_reset(s);
    if (rc != AD_DB_ROW && rc != AD_DB_DONE) {
        free(old);
        return ad_store_rc(db, rc);
    }
    ad_roll_seg_t segs[AD_ROLL_BLOCK];
    int n = old != NULL ? segs_parse(old, oldlen, blk, k->block, segs) : 0;
    n = n < 0 ? 0 : n;
    /* the row's segments with seq's put in, in place order (.seq: the place) */
    ad_roll_seg_t all[AD_ROLL_BLOCK + 1];
    int m = 0;
    bool in = false;
    for (int i = 0; i < n; i++) {
        int64_t place = segs[i].seq - blk * k->block;
        if (!in && place >= at) {
            all[m++] = (ad_roll_seg_t){at, seg, seglen};
            in = true;
        }
        if (place != at) {
            all[m++] = (ad_roll_seg_t){place, segs[i].data, segs[i].len};
        }
    }
    if (!in) {
        all[m++] = (ad_roll_seg_t){at, seg, seglen};
    }
    uint8_t *blob = ad_xmalloc(oldlen + 3 + seglen);
    size_t len = 0;
    tsdb_roll_t t = {0};
    bool any = false;
    for (int i = 0; i < m; i++) {
        tsdb_rolls_t one;
        if (tsdb_rolls_decode(all[i].data, all[i].len, &one) != 0) {
            continue;
        }
        tsdb_roll_t c = tsdb_rolls_total(&one);
        put_total(&t, !any, &c);
        any = true;
        blob[len] = (uint8_t)all[i].seq;
        blob[len + 1] = (uint8_t)(all[i].len & 0xff);
        blob[len + 2] = (uint8_t)(all[i].len >> 8);
        memcpy(blob + len + 3, all[i].data, all[i].len);
        len += 3 + all[i].len;
    }
    free(old);
    rc = row_write(db, k->put, run_id, name, blk, &t, blob, len);
    free(blob);
    return rc;
}

/* ---- a row of the chunk tier ---------------------------------------------------------
 * Row blk of metric_sums holds the totals of chunk rows blk * AD_SUM_BLOCK
 * to blk * AD_SUM_BLOCK + AD_SUM_BLOCK - 1 (tsdb_totals_encode: each from
 * the one before, about 55 bytes a chunk), their summary in its columns. */

static const char SQL_SUMS_GET[] =
    "SELECT data FROM metric_sums WHERE run_id = ? AND name = ? AND blk = ?";
static const char SQL_SUMS_PUT[] = ROW_SQL_PUT("metric_sums");

/* Puts the totals of chunk rows seq[0..n) (all of row blk, ascending) into
 * it, the row's other totals kept (a row that does not decode is
 * dropped). */
static int sums_put(ad_db_t *db, const char *run_id, const char *name, int64_t blk,
                    const int64_t *seq, const tsdb_roll_t *tot, size_t n)
{
    tsdb_roll_t *e = ad_xcalloc(2 * AD_SUM_BLOCK, sizeof(*e));
    tsdb_roll_t *old = e + AD_SUM_BLOCK;
    uint8_t place[AD_SUM_BLOCK], oplace[AD_SUM_BLOCK];
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SUMS_GET);
    ad_store_bind_text(s, 1, run_id);
    ad_store_bind_text(s, 2, name);
    ad_db_bind_int64(s, 3, blk);
    int rc = ad_db_step(s);
    int on = 0;
    if (rc == AD_DB_ROW) {
        on = tsdb_totals_decode(ad_db_column_blob(s, 0), (size_t)ad_db_column_bytes(s, 0), old,
                                oplace, AD_SUM_BLOCK);
        on = on < 0 ? 0 : on;
    }
    ad_db_reset(s);
    if (rc != AD_DB_ROW && rc != AD_DB_DONE) {
        free(e);
        return ad_store_rc(db, rc);
    }
    /* merge: the new totals win at their places */
    size_t m = 0, i = 0, k = 0;
    while (i < (size_t)on || k < n) {
        int po = i < (size_t)on ? oplace[i] : AD_SUM_BLOCK;
        int pn = k < n ? (int)(seq[k] - blk * AD_SUM_BLOCK) : AD_SUM_BLOCK;
        if (pn <= po) {
            place[m] = (uint8_t)pn;
            e[m++] = tot[k++];
            i += pn == po;
        } else {
            place[m] = (uint8_t)po;
            e[m++] = old[i++];
        }
    }
    tsdb_roll_t t = {0};
    for (size_t j = 0; j < m; j++) {
        put_total(&t, j == 0, &e[j]);
    }
    uint8_t *blob = ad_xmalloc(TSDB_TOTALS_BYTES(AD_SUM_BLOCK));
    size_t len = tsdb_totals_encode(e, place, m, blob);
    rc = m > 0 ? row_write(db, SQL_SUMS_PUT, run_id, name, blk, &t, blob, len) : 0;
    free(blob);
    free(e);
    return rc;
}

int ad_store_roll_put(ad_db_t *db, const char *run_id, const char *name, int64_t seq,
                      const tsdb_rolls_t *r)
{
    if (r->n == 0 || seq < 0) {
        return 0;
    }
    uint8_t *buf = ad_xmalloc(TSDB_ROLLS_BYTES);
    size_t len = tsdb_rolls_encode(r, buf);
    int rc = row_put(db, &ROLLS, run_id, name, seq, buf, len);
    if (rc == 0) {
        tsdb_roll_t t = tsdb_rolls_total(r);
        rc = sums_put(db, run_id, name, seq / AD_SUM_BLOCK, &seq, &t, 1);
    }
    free(buf);
    return rc;
}

/* ---- building the rows of older series ----------------------------------------------- */

#define ROLL_JOB_CHUNKS 64

/* A chain of store jobs that builds a tier's rows for the series stored
 * before it, a bounded piece per job (rollups here; chunk totals below). */
typedef struct {
    ad_store_t *st;
    ad_store_job_fn step; /* one piece: rolls_job or sums_job */
    const char *what;     /* for the log: "metric rollups" */
    const char *fallback; /* how reads go meanwhile, for the log */
    /* where the last job stopped (the series being built, its last seq or
     * row seen) */
    char run_id[AD_ID_MAX], name[AD_SERIES_NAME_MAX + 1];
    int64_t after;
    bool failed; /* a chunk of this series did not decode */
    /* set by the job (from the above each time it starts: it may run twice) */
    char next_run[AD_ID_MAX], next_name[AD_SERIES_NAME_MAX + 1];
    int64_t next_after;
    bool next_failed, more;
    int64_t built, series_done;
    int64_t total_chunks, total_series; /* loop thread: for the log line */
} backfill_t;

/* A piece begins where the last one stopped. */
static void backfill_begin(backfill_t *j)
{
    snprintf(j->next_run, sizeof(j->next_run), "%s", j->run_id);
    snprintf(j->next_name, sizeof(j->next_name), "%s", j->name);
    j->next_after = j->after;
    j->next_failed = j->failed;
    j->more = false;
    j->built = j->series_done = 0;
}

/* The series this piece builds: the one the last piece was in, else the
 * next todo_sql finds. 1: one to build; 0: none is left; else the error. */
static int backfill_series(ad_db_t *db, backfill_t *j, const char *todo_sql)
{
    if (j->next_run[0] != '\0') {
        return 1;
    }
    ad_db_stmt_t *s = ad_store_stmt(db, todo_sql);
    int rc = ad_db_step(s);
    if (rc == AD_DB_ROW) {
        snprintf(j->next_run, sizeof(j->next_run), "%s", (const char *)ad_db_column_text(s, 0));
        snprintf(j->next_name, sizeof(j->next_name), "%s", (const char *)ad_db_column_text(s, 1));
        j->next_after = -1;
        j->next_failed = false;
    }
    ad_db_reset(s);
    return rc == AD_DB_ROW ? 1 : rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

/* The end of one backfill step: what it built, and when it read less than
 * a full step (last) the series marked done by done_sql (?1 1, or 2 when a
 * row could not be read; ?2 run, ?3 name) and the next one asked for. */
static int backfill_step_end(ad_db_t *db, backfill_t *j, int rc, size_t nb, bool last,
                             const char *done_sql)
{
    j->built = (int64_t)nb;
    if (rc == 0 && last) {
        ad_db_stmt_t *s = ad_store_stmt(db, done_sql);
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_db_bind_int(s, 1, j->next_failed ? 2 : 1);
        ad_store_bind_text(s, 2, j->next_run);
        ad_store_bind_text(s, 3, j->next_name);
        rc = ad_store_step_done(db, s);
        j->series_done = 1;
        j->next_run[0] = j->next_name[0] = '\0';
    }
    j->more = rc == 0;
    return rc;
}

static const char SQL_TODO[] =
    "SELECT run_id, name FROM metric_series WHERE rolled = 0 ORDER BY run_id, name LIMIT 1";
static const char SQL_CHUNKS[] =
    "SELECT seq, n, data FROM metric_chunks WHERE run_id = ? AND name = ? AND seq > ? "
    "ORDER BY seq LIMIT 64"; /* ROLL_JOB_CHUNKS */
/* Done: every chunk has its row (1) or one did not decode (2); and the
 * series' x ranges, known from here on (series.c keeps them). Every chunk's
 * rollup put its total in the chunk tier too (ad_store_roll_put), so a
 * series rolled here is summed as well. */
static const char SQL_DONE[] =
    "UPDATE metric_series SET rolled = ?1, summed = CASE WHEN ?1 = 1 THEN 1 ELSE summed END, "
    "(step_lo, step_hi, t_lo, t_hi) = (SELECT "
    "min(step_min), max(step_max), min(t_min), max(t_max) FROM metric_chunks WHERE run_id = ?2 "
    "AND name = ?3) WHERE run_id = ?2 AND name = ?3 AND rolled = 0";

/* The rollup of one chunk row's points: 0, or -1 when it does not decode. */
static int roll_chunk(const void *data, size_t len, int64_t n, tsdb_rolls_t *r)
{
    if (n < 1 || n > 4 * TSDB_CHUNK_MAX) { /* never written so: not ours to trust */
        return -1;
    }
    tsdb_point_t *pts = ad_xcalloc((size_t)n, sizeof(*pts));
    int rc = tsdb_decode_all(data, len, (size_t)n, pts);
    tsdb_rolls_init(r);
    for (int64_t i = 0; rc == 0 && i < n; i++) {
        tsdb_rolls_add(r, &pts[i]);
    }
    free(pts);
    return rc;
}

static int rolls_job(ad_store_tx_t *tx, void *ctx)
{
    backfill_t *j = ctx;
    backfill_begin(j);
    ad_db_t *db = tx->db;
    int more = backfill_series(db, j, SQL_TODO);
    if (more <= 0) {
        return more;
    }
    /* Up to ROLL_JOB_CHUNKS chunk rows after the last one seen: read first,
     * written after (a statement is not stepped while the table changes). */
    typedef struct {
        int64_t seq;
        tsdb_rolls_t r;
    } built_t;
    built_t *b = ad_xcalloc(ROLL_JOB_CHUNKS, sizeof(*b));
    size_t nb = 0, seen = 0;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CHUNKS);
    ad_store_bind_text(s, 1, j->next_run);
    ad_store_bind_text(s, 2, j->next_name);
    ad_db_bind_int64(s, 3, j->next_after);
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        seen++;
        j->next_after = ad_db_column_int64(s, 0);
        if (roll_chunk(ad_db_column_blob(s, 2), (size_t)ad_db_column_bytes(s, 2),
                       ad_db_column_int64(s, 1), &b[nb].r) != 0) {
            j->next_failed = true;
            continue;
        }
        b[nb++].seq = j->next_after;
    }
    ad_db_reset(s);
    rc = rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
    for (size_t i = 0; rc == 0 && i < nb; i++) {
        rc = ad_store_roll_put(db, j->next_run, j->next_name, b[i].seq, &b[i].r);
    }
    free(b);
    return backfill_step_end(db, j, rc, nb, seen < ROLL_JOB_CHUNKS, SQL_DONE);
}

static void backfill_done(int rc, void *ctx)
{
    backfill_t *j = ctx;
    if (rc == 0) {
        j->total_chunks += j->built;
        j->total_series += j->series_done;
    }
    if (rc != 0 || !j->more || ad_store_stopping(j->st)) {
        if (rc != 0) {
            ad_log(AD_LOG_WARN, "store", "%s stopped err=%s (%s)", j->what, ad_strerror(rc),
                   j->fallback);
        }
        ad_log(AD_LOG_INFO, "store", "%s built series=%lld chunks=%lld%s", j->what,
               (long long)j->total_series, (long long)j->total_chunks,
               rc == 0 && j->more ? " (the rest at the next start)" : "");
        free(j);
        return;
    }
    snprintf(j->run_id, sizeof(j->run_id), "%s", j->next_run);
    snprintf(j->name, sizeof(j->name), "%s", j->next_name);
    j->after = j->next_after;
    j->failed = j->next_failed;
    ad_store_submit(j->st, j->step, backfill_done, j);
}

/* ---- the chunk tier of series rolled before it ----------------------------------------
 * Series rolled before migration 2840 (summed = 0, rolled = 1) get their
 * chunk tier from their rollup rows, not their chunks: a chunk's total is
 * its runs' (tsdb_rolls_total), exact, a few microseconds a chunk. Each job
 * reads SUM_JOB_ROWS rollup rows of one series and puts their chunks'
 * totals, then queues the next, as the rollup job does; a rollup that does
 * not decode leaves the series at summed = 2 (read from its rollup rows). */

#define SUM_JOB_ROWS 64

static const char SQL_SUMS_TODO[] = "SELECT run_id, name FROM metric_series WHERE summed = 0 AND "
                                    "rolled = 1 ORDER BY run_id, name LIMIT 1";
static const char SQL_SUMS_ROLLS[] =
    "SELECT blk, data FROM metric_rolls WHERE run_id = ? AND name = ? AND blk > ? "
    "ORDER BY blk LIMIT 64"; /* SUM_JOB_ROWS */
static const char SQL_SUMS_DONE[] =
    "UPDATE metric_series SET summed = ?1 WHERE run_id = ?2 AND name = ?3 AND summed = 0";

static int sums_job(ad_store_tx_t *tx, void *ctx)
{
    backfill_t *j = ctx;
    backfill_begin(j);
    ad_db_t *db = tx->db;
    int more = backfill_series(db, j, SQL_SUMS_TODO);
    if (more <= 0) {
        return more;
    }
    size_t cap = SUM_JOB_ROWS * AD_ROLL_BLOCK;
    int64_t *seq = ad_xcalloc(cap, sizeof(*seq));
    tsdb_roll_t *tot = ad_xcalloc(cap, sizeof(*tot));
    size_t nb = 0, seen = 0;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SUMS_ROLLS);
    ad_store_bind_text(s, 1, j->next_run);
    ad_store_bind_text(s, 2, j->next_name);
    ad_db_bind_int64(s, 3, j->next_after);
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        seen++;
        j->next_after = ad_db_column_int64(s, 0);
        ad_roll_seg_t g[AD_ROLL_BLOCK];
        int ng = ad_store_roll_segs(ad_db_column_blob(s, 1), (size_t)ad_db_column_bytes(s, 1),
                                    j->next_after, g);
        j->next_failed = j->next_failed || ng < 0;
        for (int i = 0; i < ng; i++) {
            tsdb_rolls_t r;
            if (tsdb_rolls_decode(g[i].data, g[i].len, &r) != 0) {
                j->next_failed = true;
                continue;
            }
            seq[nb] = g[i].seq;
            tot[nb++] = tsdb_rolls_total(&r);
        }
    }
    ad_db_reset(s);
    rc = rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
    for (size_t i = 0, end; rc == 0 && i < nb; i = end) { /* a write a row of the tier */
        int64_t blk = seq[i] / AD_SUM_BLOCK;
        for (end = i + 1; end < nb && seq[end] / AD_SUM_BLOCK == blk; end++) {
        }
        rc = sums_put(db, j->next_run, j->next_name, blk, seq + i, tot + i, end - i);
    }
    free(seq);
    free(tot);
    return backfill_step_end(db, j, rc, nb, seen < SUM_JOB_ROWS, SQL_SUMS_DONE);
}

static const char SQL_SUMS_ANY[] =
    "SELECT 1 FROM metric_series WHERE summed = 0 AND rolled = 1 LIMIT 1";

static const char SQL_ANY[] = "SELECT 1 FROM metric_series WHERE rolled = 0 LIMIT 1";

/* The chain of step, when any_sql finds a series it has to build. */
static void backfill_start(ad_store_t *st, const char *any_sql, ad_store_job_fn step,
                           const char *what, const char *fallback)
{
    ad_db_stmt_t *s = ad_store_stmt(ad_store_rdb(st), any_sql);
    bool any = s != NULL && ad_db_step(s) == AD_DB_ROW;
    if (s != NULL) {
        ad_db_reset(s);
    }
    if (any) {
        backfill_t *j = ad_xcalloc(1, sizeof(*j));
        j->st = st;
        j->step = step;
        j->what = what;
        j->fallback = fallback;
        ad_store_submit(st, step, backfill_done, j);
    }
}

void ad_store_rolls_start(ad_store_t *st)
{
    backfill_start(st, SQL_ANY, rolls_job, "metric rollups", "reads decode chunks");
    backfill_start(st, SQL_SUMS_ANY, sums_job, "metric chunk tier", "reads use rollups");
}
