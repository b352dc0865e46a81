/* SPDX-License-Identifier: MIT */
/*
 * The raw export of training-metric series (seriesread.c has the bucketed
 * reads): every point of a set of runs as CSV or JSON lines, a piece at a
 * time on the thread pool, from where the last piece stopped.
 */
#include "store/table.h"
#include "tables/series.h"
#include "tables/tables_int.h"
#include "tsdb/tsdb.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- export ------------------------------------------------------------------------ */

/* At most EXPORT_BATCH rows a statement: SQLite steps lazily and stops where
 * the piece is full, but PostgreSQL sends a result whole, and without a
 * LIMIT every piece read the run's chunks from the cursor to its end (a
 * million points' export: ~200 pieces, each reading the ~1,000 chunks left
 * on average). A batch holds more points than a piece's bytes take. */
#define EXPORT_BATCH 32
static const char SQL_EXPORT[] =
    "SELECT name, seq, n, data FROM metric_chunks WHERE run_id = ?1 AND (?2 = 0 OR (name, seq) > "
    "(?3, ?4)) ORDER BY name, seq LIMIT ?5";

static bool wanted(json_t *names, const char *name)
{
    if (names == NULL) {
        return true;
    }
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), name) == 0) {
            return true;
        }
    }
    return false;
}

static int put_point(ad_store_series_export_t *x, const char *run_id, const char *name,
                     const tsdb_point_t *p)
{
    ad_buf_t *b = &x->body;
    if (x->csv) {
        if (ad_buf_puts(b, run_id) != 0 || ad_buf_putc(b, ',') != 0 ||
            ad_json_string(b, name, strlen(name)) != 0 ||
            ad_buf_printf(b, ",%lld,%lld,%.17g,", (long long)p->step, (long long)p->t_ms, p->v) !=
                0 ||
            ad_json_string(b, x->run_name, strlen(x->run_name)) != 0) {
            return AD_ENOMEM;
        }
        return ad_buf_printf(b, ",%s\n", x->run_color);
    }
    if (ad_buf_printf(b, "{\"runId\":\"%s\",\"name\":", run_id) != 0 ||
        ad_json_string(b, name, strlen(name)) != 0 ||
        ad_buf_printf(b, ",\"step\":%lld,\"ts\":%lld,\"value\":%.17g,\"runName\":",
                      (long long)p->step, (long long)p->t_ms, p->v) != 0 ||
        ad_json_string(b, x->run_name, strlen(x->run_name)) != 0) {
        return AD_ENOMEM;
    }
    return ad_buf_printf(b, ",\"runColor\":\"%s\"}\n", x->run_color);
}

/* One chunk row's points into body. */
static int put_chunk(ad_store_series_export_t *x, ad_db_stmt_t *s, const char *run_id,
                     const char *name)
{
    tsdb_dec_t d;
    tsdb_point_t p;
    tsdb_dec_init(&d, ad_db_column_blob(s, 3), (size_t)ad_db_column_bytes(s, 3),
                  (size_t)ad_db_column_int64(s, 2));
    while (tsdb_dec_next(&d, &p) == 1) {
        if (put_point(x, run_id, name, &p) != 0) {
            return AD_ETOOBIG;
        }
        x->points++;
    }
    return 0;
}

/* The next batch of runs[x->run] from the cursor, adding the rows looked at
 * to *scanned. *more: the run has rows past this batch (the piece is full,
 * or the batch ended at its LIMIT). */
static int export_piece(ad_db_t *db, ad_store_series_export_t *x, bool *more, int *scanned)
{
    const char *run_id = x->runs[x->run];
    if (x->ident_run != x->run + 1) {
        int irc = ad_store_run_ident(db, run_id, x->run_name, sizeof(x->run_name), x->run_color,
                                     sizeof(x->run_color));
        if (irc != 0) {
            return irc;
        }
        x->ident_run = x->run + 1;
    }
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_EXPORT);
    ad_store_bind_text(s, 1, run_id);
    ad_db_bind_int(s, 2, x->in_run ? 1 : 0);
    ad_store_bind_text(s, 3, x->after_name);
    ad_db_bind_int64(s, 4, x->after_seq);
    ad_db_bind_int(s, 5, EXPORT_BATCH);
    int rc, err = 0, rows = 0;
    *more = false;
    while (err == 0 && (rc = ad_db_step(s)) == AD_DB_ROW) {
        if (x->body.len >= AD_SERIES_EXPORT_PIECE) {
            *more = true;
            break;
        }
        rows++;
        const char *name = (const char *)ad_db_column_text(s, 0);
        snprintf(x->after_name, sizeof(x->after_name), "%s", name);
        x->after_seq = ad_db_column_int64(s, 1);
        x->in_run = true;
        if (wanted(x->names, name)) {
            err = put_chunk(x, s, run_id, name);
        }
    }
    ad_db_reset(s);
    *scanned += rows;
    if (err != 0) {
        return err;
    }
    if (rc == AD_DB_DONE && rows == EXPORT_BATCH) {
        *more = true;
    }
    return rc == AD_DB_DONE || rc == AD_DB_ROW ? 0 : ad_store_rc(db, rc);
}

static int export_fn(ad_db_t *db, void *ctx)
{
    ad_store_series_export_t *x = ctx;
    if (!x->started) {
        x->started = true;
        int hrc = x->csv
                      ? ad_buf_puts(&x->body, "run_id,name,step,time_ms,value,run_name,run_color\n")
                      : 0;
        if (hrc != 0) {
            return hrc;
        }
    }
    int scanned = 0;
    while (x->run < x->nruns && x->body.len < AD_SERIES_EXPORT_PIECE) {
        if (scanned >= AD_SERIES_EXPORT_ROWS) {
            return 0; /* rows enough for one read (few of them wanted): the next call goes on */
        }
        bool more = false;
        int rc = export_piece(db, x, &more, &scanned);
        if (rc != 0) {
            return rc;
        }
        if (more) {
            continue; /* the piece is full (the loop ends), or the next batch */
        }
        x->run++; /* this run is done: the next from its start */
        x->in_run = false;
        x->after_name[0] = '\0';
        x->after_seq = 0;
    }
    x->end = x->run >= x->nruns;
    return 0;
}

void ad_store_series_export(ad_store_t *st, ad_store_series_export_t *x, ad_store_done_cb done)
{
    ad_store_read_async(st, export_fn, done, x);
}
