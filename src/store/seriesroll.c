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
 * Ownership: the job's context is this file's (freed by its last done).
 */
#include "store/store_int.h"

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

int ad_store_roll_segs(const void *blob, size_t len, int64_t blk, ad_roll_seg_t *out)
{
    const uint8_t *b = blob;
    size_t pos = 0;
    int n = 0, prev = -1;
    while (pos < len) {
        if (n == AD_ROLL_BLOCK || len - pos < 3 || b[pos] >= AD_ROLL_BLOCK || b[pos] <= prev) {
            return -1;
        }
        size_t l = (size_t)b[pos + 1] | (size_t)b[pos + 2] << 8;
        if (l > len - pos - 3) {
            return -1;
        }
        prev = b[pos];
        out[n].seq = blk * AD_ROLL_BLOCK + prev;
        out[n].data = b + pos + 3;
        out[n].len = l;
        n++;
        pos += 3 + l;
    }
    return n;
}

static const char SQL_GET[] =
    "SELECT data FROM metric_rolls WHERE run_id = ? AND name = ? AND blk = ?";
static const char SQL_PUT[] =
    "INSERT INTO metric_rolls (run_id, name, blk, n, step_min, step_max, t_min, t_max, v_min, "
    "v_max, v_sum, v_last, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, name, blk) DO UPDATE SET n = excluded.n, step_min = "
    "excluded.step_min, step_max = excluded.step_max, t_min = excluded.t_min, t_max = "
    "excluded.t_max, v_min = excluded.v_min, v_max = excluded.v_max, v_sum = excluded.v_sum, "
    "v_last = excluded.v_last, data = excluded.data";

/* The row's segments while it is rewritten (one chunk's replaced). */
typedef struct {
    uint8_t data[AD_ROLL_BLOCK][TSDB_ROLLS_BYTES];
    size_t len[AD_ROLL_BLOCK]; /* 0: no such chunk in the row */
} block_t;

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

int ad_store_roll_put(sqlite3 *db, const char *run_id, const char *name, int64_t seq,
                      const tsdb_rolls_t *r)
{
    if (r->n == 0 || seq < 0) {
        return 0;
    }
    int64_t blk = seq / AD_ROLL_BLOCK;
    block_t *k = ad_xcalloc(1, sizeof(*k));
    sqlite3_stmt *s = ad_store_stmt(db, SQL_GET);
    ad_store_bind_text(s, 1, run_id);
    ad_store_bind_text(s, 2, name);
    sqlite3_bind_int64(s, 3, blk);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) { /* the other chunks' segments (a row that does not parse: dropped) */
        ad_roll_seg_t seg[AD_ROLL_BLOCK];
        int n = ad_store_roll_segs(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0),
                                   blk, seg);
        for (int i = 0; i < n; i++) {
            size_t at = (size_t)(seg[i].seq - blk * AD_ROLL_BLOCK);
            if (seg[i].len <= TSDB_ROLLS_BYTES) {
                memcpy(k->data[at], seg[i].data, seg[i].len);
                k->len[at] = seg[i].len;
            }
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        free(k);
        return ad_store_rc(db, rc);
    }
    size_t at = (size_t)(seq - blk * AD_ROLL_BLOCK);
    k->len[at] = tsdb_rolls_encode(r, k->data[at]);
    /* the blob and the row's summary */
    uint8_t *blob = ad_xmalloc(AD_ROLL_BLOCK * (3 + TSDB_ROLLS_BYTES));
    size_t len = 0;
    tsdb_roll_t t = {0};
    bool any = false;
    for (size_t i = 0; i < AD_ROLL_BLOCK; i++) {
        tsdb_rolls_t one;
        if (k->len[i] == 0 || tsdb_rolls_decode(k->data[i], k->len[i], &one) != 0) {
            continue;
        }
        tsdb_roll_t c = tsdb_rolls_total(&one);
        put_total(&t, !any, &c);
        any = true;
        blob[len] = (uint8_t)i;
        blob[len + 1] = (uint8_t)(k->len[i] & 0xff);
        blob[len + 2] = (uint8_t)(k->len[i] >> 8);
        memcpy(blob + len + 3, k->data[i], k->len[i]);
        len += 3 + k->len[i];
    }
    free(k);
    s = ad_store_stmt(db, SQL_PUT);
    ad_store_bind_text(s, 1, run_id);
    ad_store_bind_text(s, 2, name);
    sqlite3_bind_int64(s, 3, blk);
    sqlite3_bind_int64(s, 4, t.n);
    sqlite3_bind_int64(s, 5, t.s_lo);
    sqlite3_bind_int64(s, 6, t.s_hi);
    sqlite3_bind_int64(s, 7, t.t_lo);
    sqlite3_bind_int64(s, 8, t.t_hi);
    sqlite3_bind_double(s, 9, t.min);
    sqlite3_bind_double(s, 10, t.max);
    sqlite3_bind_double(s, 11, t.sum);
    sqlite3_bind_double(s, 12, t.last);
    sqlite3_bind_blob(s, 13, blob, (int)len, SQLITE_TRANSIENT);
    rc = ad_store_step_done(db, s);
    free(blob);
    return rc;
}

/* ---- building the rows of older series ----------------------------------------------- */

#define ROLL_JOB_CHUNKS 64

typedef struct {
    ad_store_t *st;
    /* where the last job stopped (the series being built, its last seq seen) */
    char run_id[AD_ID_MAX], name[AD_SERIES_NAME_MAX + 1];
    int64_t after;
    bool failed; /* a chunk of this series did not decode */
    /* set by the job (from the above each time it starts: it may run twice) */
    char next_run[AD_ID_MAX], next_name[AD_SERIES_NAME_MAX + 1];
    int64_t next_after;
    bool next_failed, more;
    int64_t built, series_done;
    int64_t total_chunks, total_series; /* loop thread: for the log line */
} rolls_job_t;

static const char SQL_TODO[] =
    "SELECT run_id, name FROM metric_series WHERE rolled = 0 ORDER BY run_id, name LIMIT 1";
static const char SQL_CHUNKS[] =
    "SELECT seq, n, data FROM metric_chunks WHERE run_id = ? AND name = ? AND seq > ? "
    "ORDER BY seq LIMIT 64"; /* ROLL_JOB_CHUNKS */
/* Done: every chunk has its row (1) or one did not decode (2); and the
 * series' x ranges, known from here on (series.c keeps them). */
static const char SQL_DONE[] =
    "UPDATE metric_series SET rolled = ?1, (step_lo, step_hi, t_lo, t_hi) = (SELECT "
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
    rolls_job_t *j = ctx;
    snprintf(j->next_run, sizeof(j->next_run), "%s", j->run_id);
    snprintf(j->next_name, sizeof(j->next_name), "%s", j->name);
    j->next_after = j->after;
    j->next_failed = j->failed;
    j->more = false;
    j->built = j->series_done = 0;
    sqlite3 *db = tx->db;
    if (j->next_run[0] == '\0') { /* the next series to build */
        sqlite3_stmt *s = ad_store_stmt(db, SQL_TODO);
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            snprintf(j->next_run, sizeof(j->next_run), "%s",
                     (const char *)sqlite3_column_text(s, 0));
            snprintf(j->next_name, sizeof(j->next_name), "%s",
                     (const char *)sqlite3_column_text(s, 1));
            j->next_after = -1;
            j->next_failed = false;
        }
        sqlite3_reset(s);
        if (rc != SQLITE_ROW) {
            return rc == SQLITE_DONE ? 0 : ad_store_rc(db, rc);
        }
    }
    /* Up to ROLL_JOB_CHUNKS chunk rows after the last one seen: read first,
     * written after (a statement is not stepped while the table changes). */
    typedef struct {
        int64_t seq;
        tsdb_rolls_t r;
    } built_t;
    built_t *b = ad_xcalloc(ROLL_JOB_CHUNKS, sizeof(*b));
    size_t nb = 0, seen = 0;
    sqlite3_stmt *s = ad_store_stmt(db, SQL_CHUNKS);
    ad_store_bind_text(s, 1, j->next_run);
    ad_store_bind_text(s, 2, j->next_name);
    sqlite3_bind_int64(s, 3, j->next_after);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        seen++;
        j->next_after = sqlite3_column_int64(s, 0);
        if (roll_chunk(sqlite3_column_blob(s, 2), (size_t)sqlite3_column_bytes(s, 2),
                       sqlite3_column_int64(s, 1), &b[nb].r) != 0) {
            j->next_failed = true;
            continue;
        }
        b[nb++].seq = j->next_after;
    }
    sqlite3_reset(s);
    rc = rc == SQLITE_DONE ? 0 : ad_store_rc(db, rc);
    for (size_t i = 0; rc == 0 && i < nb; i++) {
        rc = ad_store_roll_put(db, j->next_run, j->next_name, b[i].seq, &b[i].r);
    }
    free(b);
    j->built = (int64_t)nb;
    if (rc == 0 && seen < ROLL_JOB_CHUNKS) { /* the series is done */
        s = ad_store_stmt(db, SQL_DONE);
        sqlite3_bind_int(s, 1, j->next_failed ? 2 : 1);
        ad_store_bind_text(s, 2, j->next_run);
        ad_store_bind_text(s, 3, j->next_name);
        rc = ad_store_step_done(db, s);
        j->series_done = 1;
        j->next_run[0] = j->next_name[0] = '\0';
    }
    j->more = rc == 0;
    return rc;
}

static bool stopping(ad_store_t *st)
{
    uv_mutex_lock(&st->lock);
    bool s = st->stopping;
    uv_mutex_unlock(&st->lock);
    return s;
}

static void rolls_done(int rc, void *ctx)
{
    rolls_job_t *j = ctx;
    if (rc == 0) {
        j->total_chunks += j->built;
        j->total_series += j->series_done;
    }
    if (rc != 0 || !j->more || stopping(j->st)) {
        if (rc != 0) {
            ad_log(AD_LOG_WARN, "store", "metric rollups stopped err=%s (reads decode chunks)",
                   ad_strerror(rc));
        }
        ad_log(AD_LOG_INFO, "store", "metric rollups built series=%lld chunks=%lld%s",
               (long long)j->total_series, (long long)j->total_chunks,
               rc == 0 && j->more ? " (the rest at the next start)" : "");
        free(j);
        return;
    }
    snprintf(j->run_id, sizeof(j->run_id), "%s", j->next_run);
    snprintf(j->name, sizeof(j->name), "%s", j->next_name);
    j->after = j->next_after;
    j->failed = j->next_failed;
    ad_store_submit(j->st, rolls_job, rolls_done, j);
}

static const char SQL_ANY[] = "SELECT 1 FROM metric_series WHERE rolled = 0 LIMIT 1";

void ad_store_rolls_start(ad_store_t *st)
{
    sqlite3_stmt *s = ad_store_stmt(st->rdb, SQL_ANY);
    bool any = s != NULL && sqlite3_step(s) == SQLITE_ROW;
    if (s != NULL) {
        sqlite3_reset(s);
    }
    if (!any) {
        return;
    }
    rolls_job_t *j = ad_xcalloc(1, sizeof(*j));
    j->st = st;
    ad_store_submit(st, rolls_job, rolls_done, j);
}
