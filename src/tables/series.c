/* SPDX-License-Identifier: MIT */
/*
 * Training-metric series of runs (migration 1500, issue #16): appends go
 * through the writer (one job per batch, however many points and series
 * it holds; the writer's group commit puts concurrent batches in one
 * transaction), topping up the series' last chunk row until it holds
 * TSDB_CHUNK_MAX points or TSDB_CHUNK_BYTES, then starting the next.
 * Reads: the series list (loop thread), bucketed ranges and raw export
 * (thread pool, a read connection of their own). The encoding is src/tsdb's.
 *
 * Ownership: batch args are the caller's (borrowed by the job until its
 * completion); query results (q->out) are the caller's once done runs.
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

/* ---- appending (writer thread) --------------------------------------------------- */

typedef struct {
    const char *name;
    size_t idx; /* the point's position in the batch: keeps arrival order */
} named_t;

static int by_name(const void *a, const void *b)
{
    const named_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

/* A chunk row's summary of its points. */
typedef struct {
    int64_t smin, smax, tmin, tmax;
    double vmin, vmax, vsum;
} chunk_sum_t;

/* The open chunk of one series while a batch is added to it: the series'
 * last chunk row (loaded even when full, so that its last point can be
 * replaced), or a new one. */
typedef struct {
    const char *run_id, *org_id, *name;
    tsdb_enc_t enc;
    tsdb_rolls_t rolls;      /* the same points' rollup (seriesroll.c writes it) */
    int64_t seq;             /* the row it goes to */
    bool existing;           /* that row is already there (UPDATE, not INSERT) */
    bool dirty;              /* changed since it was loaded */
    chunk_sum_t sum, before; /* before: the summary without its last point */
    /* the series summary */
    bool have_series;
    int64_t count, chunks, first_step, first_t;
    double first_value, min_value, max_value;
    /* min/max without the series' last point, when it came in this batch */
    bool have_before;
    double before_min, before_max;
    /* the x ranges of the points this batch touched (metric_series' step_lo..t_hi) */
    bool have_range;
    int64_t step_lo, step_hi, t_lo, t_hi;
    /* A point older than the series' last looks its step up in these, not by
     * scanning the series' rows (issue #38). opened: the open chunk's steps,
     * made at the first look and kept as points are added (cap 0: not made).
     * stored: the steps of the stored rows (not the open one) that overlap
     * the span of the batch's explicit steps [batch_lo, batch_hi], with
     * their rows; stored_state 0 not made yet, 1 made, -1 more than
     * STORED_STEPS_MAX steps: each point scans as before. */
    tsdb_stepset_t opened, stored;
    int64_t batch_lo, batch_hi;
    int stored_state;
} open_t;

#define STORED_STEPS_MAX (256u * 1024u)

static void chunk_reset(open_t *o)
{
    tsdb_enc_free(&o->enc);
    tsdb_stepset_free(&o->opened);
    tsdb_rolls_init(&o->rolls);
    o->existing = false;
    o->dirty = false;
}

/* TSDB_CHUNK_BYTES counts the row's run id and series name with the
 * encoding: the row then fills a 4 KiB page, whatever the names' length. */
static bool chunk_full(const open_t *o)
{
    if (o->enc.n >= TSDB_CHUNK_MAX) {
        return true;
    }
    size_t names = strlen(o->run_id) + strlen(o->name);
    size_t room = names < TSDB_CHUNK_BYTES / 2 ? TSDB_CHUNK_BYTES - names : TSDB_CHUNK_BYTES / 2;
    return tsdb_enc_bytes(&o->enc) >= room;
}

static void range_add(open_t *o, const tsdb_point_t *p)
{
    bool first = !o->have_range;
    o->have_range = true;
    o->step_lo = first || p->step < o->step_lo ? p->step : o->step_lo;
    o->step_hi = first || p->step > o->step_hi ? p->step : o->step_hi;
    o->t_lo = first || p->t_ms < o->t_lo ? p->t_ms : o->t_lo;
    o->t_hi = first || p->t_ms > o->t_hi ? p->t_ms : o->t_hi;
}

static void chunk_add(open_t *o, const tsdb_point_t *p)
{
    range_add(o, p);
    chunk_sum_t *c = &o->sum;
    bool first = o->enc.n == 0;
    o->before = *c;
    c->smin = first || p->step < c->smin ? p->step : c->smin;
    c->smax = first || p->step > c->smax ? p->step : c->smax;
    c->tmin = first || p->t_ms < c->tmin ? p->t_ms : c->tmin;
    c->tmax = first || p->t_ms > c->tmax ? p->t_ms : c->tmax;
    c->vmin = first || p->v < c->vmin ? p->v : c->vmin;
    c->vmax = first || p->v > c->vmax ? p->v : c->vmax;
    c->vsum = first ? p->v : c->vsum + p->v;
    tsdb_enc_add(&o->enc, p);
    tsdb_rolls_add(&o->rolls, p);
    if (o->opened.cap > 0) {
        AD_DISCARD(tsdb_stepset_put(&o->opened, p->step, 0)); /* sized for a chunk */
    }
}

static const char SQL_TAIL[] =
    "SELECT seq, n, data FROM metric_chunks WHERE run_id = ? AND name = ? ORDER BY seq DESC "
    "LIMIT 1";
static const char SQL_SERIES[] =
    "SELECT count, chunks, first_step, first_t, first_value, min_value, max_value "
    "FROM metric_series WHERE run_id = ? AND name = ?";

/* Loads the series summary and its last chunk's points into o's encoder
 * (full or not: a point of the last step replaces the chunk's last one). */
static int open_series(ad_db_t *db, open_t *o)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SERIES);
    ad_store_bind_text(s, 1, o->run_id);
    ad_store_bind_text(s, 2, o->name);
    int rc = ad_db_step(s);
    if (rc == AD_DB_ROW) {
        o->have_series = true;
        o->count = ad_db_column_int64(s, 0);
        o->chunks = ad_db_column_int64(s, 1);
        o->first_step = ad_db_column_int64(s, 2);
        o->first_t = ad_db_column_int64(s, 3);
        o->first_value = ad_db_column_double(s, 4);
        o->min_value = ad_db_column_double(s, 5);
        o->max_value = ad_db_column_double(s, 6);
    }
    ad_db_reset(s);
    if (rc != AD_DB_ROW && rc != AD_DB_DONE) {
        return ad_store_rc(db, rc);
    }
    o->seq = o->chunks;
    s = ad_store_stmt(db, SQL_TAIL);
    ad_store_bind_text(s, 1, o->run_id);
    ad_store_bind_text(s, 2, o->name);
    rc = ad_db_step(s);
    if (rc == AD_DB_ROW) {
        size_t n = (size_t)ad_db_column_int64(s, 1);
        tsdb_point_t *pts = ad_xcalloc(n > 0 ? n : 1, sizeof(*pts));
        int drc =
            tsdb_decode_all(ad_db_column_blob(s, 2), (size_t)ad_db_column_bytes(s, 2), n, pts);
        o->seq = ad_db_column_int64(s, 0);
        for (size_t i = 0; drc == 0 && i < n; i++) {
            chunk_add(o, &pts[i]);
        }
        o->existing = drc == 0;
        if (drc != 0) { /* a chunk that does not decode is left as it is */
            chunk_reset(o);
            o->seq++;
        }
        free(pts);
    }
    ad_db_reset(s);
    return rc == AD_DB_ROW || rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

static const char SQL_INSERT_CHUNK[] =
    "INSERT INTO metric_chunks (run_id, name, seq, n, step_min, step_max, t_min, t_max, v_min, "
    "v_max, v_sum, v_last, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
static const char SQL_UPDATE_CHUNK[] =
    "UPDATE metric_chunks SET n = ?4, step_min = ?5, step_max = ?6, t_min = ?7, t_max = ?8, "
    "v_min = ?9, v_max = ?10, v_sum = ?11, v_last = ?12, data = ?13 "
    "WHERE run_id = ?1 AND name = ?2 AND seq = ?3";

/* The open chunk is about to become a stored row: when the batch's stored
 * steps are made and it overlaps their span, its steps join them. */
static void stored_add_open(open_t *o)
{
    if (o->stored_state != 1 || o->enc.n == 0 || o->sum.smin > o->batch_hi ||
        o->sum.smax < o->batch_lo) {
        return;
    }
    tsdb_point_t *pts = ad_xcalloc(o->enc.n, sizeof(*pts));
    if (tsdb_decode_all(o->enc.buf, tsdb_enc_bytes(&o->enc), o->enc.n, pts) == 0) {
        for (size_t i = 0; i < o->enc.n && o->stored_state == 1; i++) {
            if (!tsdb_stepset_put(&o->stored, pts[i].step, o->seq)) {
                o->stored_state = -1; /* too many: back to scanning */
            }
        }
    } else {
        o->stored_state = -1;
    }
    free(pts);
}

/* Writes the open chunk (INSERT or UPDATE) when it changed, then empties
 * it: the next point starts the row after it. */
static int chunk_write(ad_db_t *db, open_t *o)
{
    stored_add_open(o);
    if (o->enc.n == 0 || !o->dirty) {
        if (o->existing) {
            o->seq++;
        }
        chunk_reset(o);
        return 0;
    }
    ad_db_stmt_t *s = ad_store_stmt(db, o->existing ? SQL_UPDATE_CHUNK : SQL_INSERT_CHUNK);
    ad_store_bind_text(s, 1, o->run_id);
    ad_store_bind_text(s, 2, o->name);
    ad_db_bind_int64(s, 3, o->seq);
    ad_db_bind_int64(s, 4, (int64_t)o->enc.n);
    ad_db_bind_int64(s, 5, o->sum.smin);
    ad_db_bind_int64(s, 6, o->sum.smax);
    ad_db_bind_int64(s, 7, o->sum.tmin);
    ad_db_bind_int64(s, 8, o->sum.tmax);
    ad_db_bind_double(s, 9, o->sum.vmin);
    ad_db_bind_double(s, 10, o->sum.vmax);
    ad_db_bind_double(s, 11, o->sum.vsum);
    ad_db_bind_double(s, 12, o->enc.prev.v);
    ad_db_bind_blob(s, 13, o->enc.buf, (int)tsdb_enc_bytes(&o->enc), AD_DB_TRANSIENT);
    int rc = ad_store_step_done(db, s);
    if (rc == 0) {
        rc = ad_store_roll_put(db, o->run_id, o->name, o->seq, &o->rolls);
    }
    if (rc == 0) {
        if (!o->existing) {
            o->chunks++;
        }
        o->seq++;
    }
    chunk_reset(o);
    return rc;
}

static const char SQL_UPSERT_SERIES[] =
    "INSERT INTO metric_series (run_id, name, org_id, count, chunks, first_step, last_step, "
    "first_t, last_t, first_value, last_value, min_value, max_value, step_lo, step_hi, t_lo, "
    "t_hi) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, name) "
    "DO UPDATE SET "
    "count = excluded.count, chunks = excluded.chunks, first_t = excluded.first_t, "
    "first_value = excluded.first_value, last_step = excluded.last_step, "
    "last_t = excluded.last_t, last_value = excluded.last_value, "
    "min_value = excluded.min_value, max_value = excluded.max_value, "
    /* the ranges grow; NULL (an older series, until seriesroll.c knows them) stays
     * (on SQLite: PostgreSQL's LEAST skips it); the row's columns named, as
     * PostgreSQL finds them ambiguous beside excluded's */
    "step_lo = min(metric_series.step_lo, excluded.step_lo), "
    "step_hi = max(metric_series.step_hi, excluded.step_hi), "
    "t_lo = min(metric_series.t_lo, excluded.t_lo), t_hi = max(metric_series.t_hi, excluded.t_hi)";

static int series_write(ad_db_t *db, open_t *o, const tsdb_point_t *last)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_UPSERT_SERIES);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, o->run_id);
    ad_store_bind_text(s, 2, o->name);
    ad_store_bind_text(s, 3, o->org_id);
    ad_db_bind_int64(s, 4, o->count);
    ad_db_bind_int64(s, 5, o->chunks);
    ad_db_bind_int64(s, 6, o->first_step);
    ad_db_bind_int64(s, 7, last->step);
    ad_db_bind_int64(s, 8, o->first_t);
    ad_db_bind_int64(s, 9, last->t_ms);
    ad_db_bind_double(s, 10, o->first_value);
    ad_db_bind_double(s, 11, last->v);
    ad_db_bind_double(s, 12, o->min_value);
    ad_db_bind_double(s, 13, o->max_value);
    if (o->have_range) { /* else NULL: the series' ranges become unknown, read by a scan */
        ad_db_bind_int64(s, 14, o->step_lo);
        ad_db_bind_int64(s, 15, o->step_hi);
        ad_db_bind_int64(s, 16, o->t_lo);
        ad_db_bind_int64(s, 17, o->t_hi);
    }
    return ad_store_step_done(db, s);
}

/* A point of the batch: {name, value, step?, ts?}. A missing step is the
 * series' last step + 1, a missing time the batch's "now". */
static tsdb_point_t batch_point(json_t *pt, const open_t *o, const tsdb_point_t *last, int64_t now)
{
    json_t *st = json_object_get(pt, "step"), *ts = json_object_get(pt, "ts");
    tsdb_point_t p = {0, now, json_number_value(json_object_get(pt, "value"))};
    if (json_is_integer(st)) {
        p.step = json_integer_value(st);
    } else {
        p.step = o->count > 0 ? last->step + 1 : 0;
    }
    if (json_is_integer(ts)) {
        p.t_ms = json_integer_value(ts);
    } else if (json_is_real(ts)) {
        p.t_ms = (int64_t)json_real_value(ts);
    }
    return p;
}

static const char SQL_LAST[] =
    "SELECT last_step, last_t, last_value FROM metric_series WHERE run_id = ? AND name = ?";

static void series_last(ad_db_t *db, open_t *o, tsdb_point_t *last)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_LAST);
    ad_store_bind_text(s, 1, o->run_id);
    ad_store_bind_text(s, 2, o->name);
    if (ad_db_step(s) == AD_DB_ROW) {
        *last = (tsdb_point_t){ad_db_column_int64(s, 0), ad_db_column_int64(s, 1),
                               ad_db_column_double(s, 2)};
    }
    ad_db_reset(s);
}

static const char SQL_OTHER_CHUNKS[] =
    "SELECT min(v_min), max(v_max), count(*) FROM metric_chunks WHERE run_id = ? AND name = ? "
    "AND seq <> ?";

/* The series' min and max again after its last point was replaced, when
 * the min/max without it are not known (it came in an earlier batch and was
 * an extreme): the other chunk rows' summaries and the open chunk's. Once
 * per batch at most. */
static int series_extremes(ad_db_t *db, open_t *o)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_OTHER_CHUNKS);
    ad_store_bind_text(s, 1, o->run_id);
    ad_store_bind_text(s, 2, o->name);
    ad_db_bind_int64(s, 3, o->seq);
    int rc = ad_db_step(s);
    bool have = o->enc.n > 0; /* the open chunk's summary counts when it has points */
    if (have) {
        o->min_value = o->sum.vmin;
        o->max_value = o->sum.vmax;
    }
    if (rc == AD_DB_ROW && ad_db_column_int64(s, 2) > 0) {
        double mn = ad_db_column_double(s, 0), mx = ad_db_column_double(s, 1);
        o->min_value = !have || mn < o->min_value ? mn : o->min_value;
        o->max_value = !have || mx > o->max_value ? mx : o->max_value;
    }
    ad_db_reset(s);
    return rc == AD_DB_ROW ? 0 : ad_store_rc(db, rc);
}

/* A point of the series' last step again: it replaces that point (the last
 * write wins: a program's `metrics` line and its `agent_update` for one
 * step are one point). O(1): the encoder takes its last point back. false
 * when the last point is not in the open chunk (its row did not decode):
 * then the point is appended. */
static bool replace_last(ad_db_t *db, open_t *o, const tsdb_point_t *old, const tsdb_point_t *p,
                         int *rc)
{
    if (o->enc.n == 0 || o->enc.prev.step != old->step || !tsdb_enc_undo(&o->enc)) {
        return false;
    }
    o->sum = o->before;
    tsdb_rolls_undo(&o->rolls);
    chunk_add(o, p);
    o->dirty = true;
    if (o->count == 1) {
        o->first_t = p->t_ms;
        o->first_value = o->min_value = o->max_value = p->v;
    } else if (o->have_before) {
        o->min_value = p->v < o->before_min ? p->v : o->before_min;
        o->max_value = p->v > o->before_max ? p->v : o->before_max;
    } else if ((old->v == o->min_value && p->v > old->v) ||
               (old->v == o->max_value && p->v < old->v)) {
        *rc = series_extremes(db, o);
    } else {
        o->min_value = p->v < o->min_value ? p->v : o->min_value;
        o->max_value = p->v > o->max_value ? p->v : o->max_value;
    }
    return true;
}

/* Sets the point of step p->step among pts[0..n) to p (the last such
 * point when there are several): true when there was one. */
static bool set_step(tsdb_point_t *pts, size_t n, const tsdb_point_t *p)
{
    for (size_t i = n; i-- > 0;) {
        if (pts[i].step == p->step) {
            pts[i] = *p;
            return true;
        }
    }
    return false;
}

/* Encodes pts[0..n) into o's (emptied) chunk. */
static void chunk_fill(open_t *o, const tsdb_point_t *pts, size_t n)
{
    bool existing = o->existing;
    chunk_reset(o);
    tsdb_enc_init(&o->enc);
    for (size_t i = 0; i < n; i++) {
        chunk_add(o, &pts[i]);
    }
    o->existing = existing;
    o->dirty = true;
}

static const char SQL_COVERING[] =
    "SELECT seq, n, data FROM metric_chunks WHERE run_id = ? AND name = ? AND step_min <= ?3 AND "
    "step_max >= ?3 AND seq <> ? ORDER BY seq DESC";
static const char SQL_SPAN_ROWS[] =
    "SELECT seq, n, data FROM metric_chunks WHERE run_id = ? AND name = ? AND step_min <= ? AND "
    "step_max >= ? AND seq <> ?";
static const char SQL_ROW[] =
    "SELECT seq, n, data FROM metric_chunks WHERE run_id = ? AND name = ? AND seq = ?";

/* Makes o->stored, once a batch at its first older point: one read of the
 * rows that overlap the batch's span instead of one scan of the series'
 * rows a point (a batch that lands before the one posted ahead of it, as
 * parallel uploads do, made a 10M-point run quadratic). */
static int stored_make(ad_db_t *db, open_t *o)
{
    tsdb_stepset_init(&o->stored, STORED_STEPS_MAX);
    o->stored_state = 1;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SPAN_ROWS);
    ad_store_bind_text(s, 1, o->run_id);
    ad_store_bind_text(s, 2, o->name);
    ad_db_bind_int64(s, 3, o->batch_hi);
    ad_db_bind_int64(s, 4, o->batch_lo);
    ad_db_bind_int64(s, 5, o->enc.n > 0 ? o->seq : -1);
    int rc = AD_DB_DONE;
    while (o->stored_state == 1 && (rc = ad_db_step(s)) == AD_DB_ROW) {
        int64_t seq = ad_db_column_int64(s, 0);
        size_t n = (size_t)ad_db_column_int64(s, 1);
        tsdb_point_t *pts = ad_xcalloc(n > 0 ? n : 1, sizeof(*pts));
        if (tsdb_decode_all(ad_db_column_blob(s, 2), (size_t)ad_db_column_bytes(s, 2), n, pts) ==
            0) {
            for (size_t i = 0; i < n && o->stored_state == 1; i++) {
                if (!tsdb_stepset_put(&o->stored, pts[i].step, seq)) {
                    o->stored_state = -1;
                }
            }
        } /* a row that does not decode holds no step anyone can replace */
        free(pts);
    }
    ad_db_reset(s);
    if (o->stored_state != 1) {
        tsdb_stepset_free(&o->stored);
        return 0;
    }
    return rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

/* Whether the open chunk holds step (its steps made at the first ask). */
static bool opened_has(open_t *o, int64_t step)
{
    if (o->opened.cap == 0) {
        tsdb_stepset_init(&o->opened, 2 * TSDB_CHUNK_MAX);
        tsdb_point_t *pts = ad_xcalloc(o->enc.n, sizeof(*pts));
        if (tsdb_decode_all(o->enc.buf, tsdb_enc_bytes(&o->enc), o->enc.n, pts) == 0) {
            for (size_t i = 0; i < o->enc.n; i++) {
                AD_DISCARD(tsdb_stepset_put(&o->opened, pts[i].step, 0));
            }
        }
        free(pts);
    }
    return tsdb_stepset_get(&o->opened, step) >= 0;
}

/* The row s stands on (seq, n, data), with p in place of its point of
 * p's step: written again, *found true. Nothing when it has no such point.
 * Resets s before the write. */
static int row_replace(ad_db_t *db, open_t *o, ad_db_stmt_t *s, const tsdb_point_t *p, bool *found)
{
    int rc = 0;
    size_t n = (size_t)ad_db_column_int64(s, 1);
    tsdb_point_t *pts = ad_xcalloc(n > 0 ? n : 1, sizeof(*pts));
    if (tsdb_decode_all(ad_db_column_blob(s, 2), (size_t)ad_db_column_bytes(s, 2), n, pts) == 0 &&
        set_step(pts, n, p)) {
        open_t t = {.run_id = o->run_id, .org_id = o->org_id, .name = o->name};
        t.seq = ad_db_column_int64(s, 0);
        t.existing = true;
        tsdb_enc_init(&t.enc);
        chunk_fill(&t, pts, n);
        *found = true;
        ad_db_reset(s); /* done reading before the write */
        rc = chunk_write(db, &t);
    }
    free(pts);
    return rc;
}

/* p into the newest stored row (not the open one) that has its step: the
 * row o->stored names, or, past its bound, the first of a scan of the
 * series' rows that cover the step. *found false when none has it. */
static int replace_stored(ad_db_t *db, open_t *o, const tsdb_point_t *p, bool *found)
{
    int rc = 0;
    ad_db_stmt_t *s;
    if (o->stored_state == 1) {
        int64_t seq = tsdb_stepset_get(&o->stored, p->step);
        if (seq < 0) {
            return 0;
        }
        s = ad_store_stmt(db, SQL_ROW);
        ad_db_bind_int64(s, 3, seq);
    } else {
        s = ad_store_stmt(db, SQL_COVERING);
        ad_db_bind_int64(s, 3, p->step);
        ad_db_bind_int64(s, 4, o->enc.n > 0 ? o->seq : -1);
    }
    ad_store_bind_text(s, 1, o->run_id);
    ad_store_bind_text(s, 2, o->name);
    while (!*found && rc == 0 && ad_db_step(s) == AD_DB_ROW) {
        rc = row_replace(db, o, s, p, found);
    }
    ad_db_reset(s);
    return rc;
}

/* A point of a step older than the series' last (a program that rewound to
 * a checkpoint): it replaces the stored point of that step, in the open
 * chunk or in the newest chunk row that has it (replace_stored); the
 * series' min and max are read again from the chunk summaries. *found false
 * (and nothing changed) when no point has that step: then it is appended.
 * Costs a look in the open chunk's steps and the batch's stored steps (made
 * once a batch), and a decode and write of the row that has it. */
static int replace_older(ad_db_t *db, open_t *o, const tsdb_point_t *p, bool *found)
{
    *found = false;
    int rc = 0;
    if (o->enc.n > 0 && p->step >= o->sum.smin && p->step <= o->sum.smax &&
        opened_has(o, p->step)) {
        size_t n = o->enc.n;
        tsdb_point_t *pts = ad_xcalloc(n, sizeof(*pts));
        if (tsdb_decode_all(o->enc.buf, tsdb_enc_bytes(&o->enc), n, pts) == 0 &&
            set_step(pts, n, p)) {
            chunk_fill(o, pts, n);
            *found = true;
        }
        free(pts);
    }
    if (!*found && o->stored_state == 0) {
        rc = stored_make(db, o);
    }
    if (!*found && rc == 0) {
        rc = replace_stored(db, o, p, found);
    }
    if (rc == 0 && *found) {
        range_add(o, p); /* its time may be new */
        if (p->step == o->first_step) {
            o->first_t = p->t_ms;
            o->first_value = p->v;
        }
        o->have_before = false;
        rc = series_extremes(db, o);
    }
    return rc;
}

/* Appends points[order[0..n)] (all of one name) to their series. */
static int append_series(ad_db_t *db, open_t *o, json_t *points, const named_t *order, size_t n,
                         int64_t now)
{
    o->stored_state = 0;
    o->batch_lo = INT64_MAX;
    o->batch_hi = INT64_MIN;
    for (size_t i = 0; i < n; i++) { /* a point without a step is never older */
        json_t *step = json_object_get(json_array_get(points, order[i].idx), "step");
        if (json_is_integer(step)) {
            int64_t v = json_integer_value(step);
            o->batch_lo = v < o->batch_lo ? v : o->batch_lo;
            o->batch_hi = v > o->batch_hi ? v : o->batch_hi;
        }
    }
    int rc = open_series(db, o);
    tsdb_point_t last = {0, 0, 0};
    series_last(db, o, &last);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        tsdb_point_t p = batch_point(json_array_get(points, order[i].idx), o, &last, now);
        if (o->count > 0 && p.step <= last.step) {
            if (p.step == last.step && replace_last(db, o, &last, &p, &rc)) {
                last = p;
                continue;
            }
            bool found = false;
            if (rc == 0) {
                rc = replace_older(db, o, &p, &found);
            }
            if (rc != 0) {
                break;
            }
            if (found) {
                last = p.step == last.step ? p : last; /* last: the newest step's point */
                continue;
            }
        }
        if (chunk_full(o)) {
            rc = chunk_write(db, o);
            if (rc != 0) {
                break;
            }
        }
        o->have_before = o->count > 0;
        o->before_min = o->min_value;
        o->before_max = o->max_value;
        if (o->count == 0) {
            o->first_step = p.step;
            o->first_t = p.t_ms;
            o->first_value = o->min_value = o->max_value = p.v;
        }
        o->min_value = p.v < o->min_value ? p.v : o->min_value;
        o->max_value = p.v > o->max_value ? p.v : o->max_value;
        o->count++;
        chunk_add(o, &p);
        o->dirty = true;
        if (o->count == 1 || p.step > last.step) {
            last = p; /* an older step added keeps the newest as the last */
        }
    }
    /* no point looks a step up any more: the last write need not add its steps */
    tsdb_stepset_free(&o->stored);
    o->stored_state = 0;
    if (rc == 0) {
        rc = chunk_write(db, o);
    }
    if (rc == 0 && o->count > 0) {
        rc = series_write(db, o, &last);
    }
    chunk_reset(o);
    return rc;
}

/* args {runId, orgId, now, points: [{name, value, step?, ts?}], dists?:
 * [...]}, checked by the caller (names non-empty strings, values finite
 * numbers; dists by ad_store_dist_check). */
static int op_append(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    json_t *points = json_object_get(args, "points");
    size_t n = json_array_size(points);
    int64_t now = ad_args_int(args, "now", 0);
    named_t *order = ad_xcalloc(n > 0 ? n : 1, sizeof(*order));
    for (size_t i = 0; i < n; i++) {
        order[i].name = json_string_value(json_object_get(json_array_get(points, i), "name"));
        order[i].name = order[i].name != NULL ? order[i].name : "";
        order[i].idx = i;
    }
    qsort(order, n, sizeof(*order), by_name);
    int rc = 0;
    size_t series = 0;
    for (size_t i = 0; rc == 0 && i < n;) {
        size_t j = i;
        while (j < n && strcmp(order[j].name, order[i].name) == 0) {
            j++;
        }
        open_t o = {.run_id = ad_args_str(args, "runId"),
                    .org_id = ad_args_str(args, "orgId"),
                    .name = order[i].name};
        tsdb_enc_init(&o.enc);
        rc = append_series(tx->db, &o, points, order + i, j - i, now);
        series++;
        i = j;
    }
    free(order);
    size_t dists = 0;
    if (rc == 0) {
        rc = ad_store_dists_put(tx->db, args, &dists); /* histograms and counts, dists.c */
    }
    if (rc == 0) {
        *result = json_pack("{s:I, s:I, s:I}", "points", (json_int_t)n, "series",
                            (json_int_t)series, "distributions", (json_int_t)dists);
    }
    return rc;
}

void ad_store_series_append(ad_store_t *st, json_t *batch, ad_store_result_cb cb, void *ud)
{
    ad_store_write(st, op_append, batch, cb, ud);
}

/* ---- reads ------------------------------------------------------------------------ */

static const char SQL_LIST[] =
    "SELECT name, count, first_step, last_step, first_t AS first_time_ms, "
    "last_t AS last_time_ms, first_value, last_value, min_value, max_value "
    "FROM metric_series WHERE run_id = ? ORDER BY name";

int ad_store_series_list(ad_store_t *st, const char *run_id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_LIST);
    ad_store_bind_text(s, 1, run_id);
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, ad_store_row_json(s, NULL, NULL));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        json_decref(arr);
        return ad_store_rc(db, rc);
    }
    ad_store_series_best(db, arr);
    *out = arr;
    return 0;
}

static const char SQL_RANGE[] =
    "SELECT min(step_min), max(step_max), min(t_min), max(t_max), count(*) FROM metric_chunks "
    "WHERE run_id = ? AND name = ?";
static const char SQL_INFO[] = "SELECT rolled, step_lo, step_hi, t_lo, t_hi, count, summed, "
                               "chunks FROM metric_series WHERE run_id = ? AND name = ?";

/* What the series row says of its tiers: whether every chunk has its
 * rollup row (migration 2740), and its x range when known. */
typedef struct {
    bool rolled, summed, ranged;
    int64_t lo, hi;
    int64_t count, chunks; /* points, chunk rows */
} series_info_t;

static series_info_t series_info(ad_db_t *db, const char *run_id, const char *name, bool by_time)
{
    series_info_t i = {0};
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_INFO);
    ad_store_bind_text(s, 1, run_id);
    ad_store_bind_text(s, 2, name);
    if (ad_db_step(s) == AD_DB_ROW) {
        int c = by_time ? 3 : 1;
        i.rolled = ad_db_column_int(s, 0) == 1;
        i.ranged =
            ad_db_column_type(s, c) != AD_DB_NULL && ad_db_column_type(s, c + 1) != AD_DB_NULL;
        i.lo = ad_db_column_int64(s, c);
        i.hi = ad_db_column_int64(s, c + 1);
        i.count = ad_db_column_int64(s, 5);
        i.summed = ad_db_column_int(s, 6) == 1;
        i.chunks = ad_db_column_int64(s, 7);
    }
    ad_db_reset(s);
    return i;
}

/* The x range of one series: 0, or AD_ENOENT when it has no points. From
 * the series row when it knows it, else a scan of the chunk rows. */
static int series_range(ad_db_t *db, const char *run_id, const char *name, bool by_time,
                        int64_t *lo, int64_t *hi, int64_t *count)
{
    series_info_t i = series_info(db, run_id, name, by_time);
    *count += i.count;
    if (i.ranged) {
        *lo = i.lo;
        *hi = i.hi;
        return 0;
    }
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_RANGE);
    ad_store_bind_text(s, 1, run_id);
    ad_store_bind_text(s, 2, name);
    int rc = ad_db_step(s);
    if (rc == AD_DB_ROW && ad_db_column_int64(s, 4) > 0) {
        *lo = ad_db_column_int64(s, by_time ? 2 : 0);
        *hi = ad_db_column_int64(s, by_time ? 3 : 1);
        ad_db_reset(s);
        return 0;
    }
    ad_db_reset(s);
    return rc == AD_DB_ROW || rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
}

static const char SQL_CHUNKS_STEP[] =
    "SELECT n, step_min, step_max, v_min, v_max, v_sum, v_last, data FROM metric_chunks "
    "WHERE run_id = ? AND name = ? AND step_max >= ? AND step_min <= ? ORDER BY seq";
static const char SQL_CHUNKS_TIME[] =
    "SELECT n, t_min, t_max, v_min, v_max, v_sum, v_last, data FROM metric_chunks "
    "WHERE run_id = ? AND name = ? AND t_max >= ? AND t_min <= ? ORDER BY seq";
static const char SQL_ROLLS_STEP[] =
    "SELECT n, step_min, step_max, v_min, v_max, v_sum, v_last, data, blk FROM metric_rolls "
    "WHERE run_id = ? AND name = ? AND step_max >= ? AND step_min <= ? ORDER BY blk";
static const char SQL_ROLLS_TIME[] =
    "SELECT n, t_min, t_max, v_min, v_max, v_sum, v_last, data, blk FROM metric_rolls "
    "WHERE run_id = ? AND name = ? AND t_max >= ? AND t_min <= ? ORDER BY blk";
static const char SQL_SUMS_STEP[] =
    "SELECT n, step_min, step_max, v_min, v_max, v_sum, v_last, data, blk FROM metric_sums "
    "WHERE run_id = ? AND name = ? AND step_max >= ? AND step_min <= ? ORDER BY blk";
static const char SQL_SUMS_TIME[] =
    "SELECT n, t_min, t_max, v_min, v_max, v_sum, v_last, data, blk FROM metric_sums "
    "WHERE run_id = ? AND name = ? AND t_max >= ? AND t_min <= ? ORDER BY blk";
static const char SQL_ROLL_ROW[] =
    "SELECT data FROM metric_rolls WHERE run_id = ? AND name = ? AND blk = ?";
static const char SQL_CHUNK_DATA[] =
    "SELECT n, data FROM metric_chunks WHERE run_id = ? AND name = ? AND seq = ?";

/* A chunk's points, decoded, into a (those inside its range). */
static void add_decoded(tsdb_agg_t *a, const void *data, size_t len, int64_t n, int64_t *points)
{
    tsdb_dec_t d;
    tsdb_point_t p;
    tsdb_dec_init(&d, data, len, (size_t)n);
    while (tsdb_dec_next(&d, &p) == 1) {
        int64_t x = a->by_time ? p.t_ms : p.step;
        if (x >= a->from && x <= a->to) {
            tsdb_agg_add(a, &p);
            (*points)++;
        }
    }
}

/* Chunk row seq of the series, decoded into a. */
static int add_chunk(ad_db_t *db, const char *run_id, const char *name, int64_t seq, tsdb_agg_t *a,
                     int64_t *points)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CHUNK_DATA);
    ad_store_bind_text(s, 1, run_id);
    ad_store_bind_text(s, 2, name);
    ad_db_bind_int64(s, 3, seq);
    int rc = ad_db_step(s);
    if (rc == AD_DB_ROW) {
        add_decoded(a, ad_db_column_blob(s, 1), (size_t)ad_db_column_bytes(s, 1),
                    ad_db_column_int64(s, 0), points);
    }
    ad_db_reset(s);
    return rc == AD_DB_ROW || rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

/* One chunk's rollup into a: by its total when it lies in one bucket, by
 * its runs when the read is wide there (*tier), else the chunk decoded. */
static int add_rolled(ad_db_t *db, const char *run_id, const char *name, const ad_roll_seg_t *g,
                      tsdb_agg_t *a, int64_t *points, int64_t *tier)
{
    tsdb_rolls_t r;
    if (tsdb_rolls_decode(g->data, g->len, &r) != 0) {
        return add_chunk(db, run_id, name, g->seq, a, points);
    }
    tsdb_roll_t t = tsdb_rolls_total(&r);
    int64_t x0 = a->by_time ? t.t_lo : t.s_lo, x1 = a->by_time ? t.t_hi : t.s_hi;
    if (x1 < a->from || x0 > a->to) {
        return 0; /* a chunk of the row outside the range */
    }
    if (tsdb_agg_summary(a, x0, x1, t.n, t.min, t.max, t.sum, t.last)) {
        *points += t.n;
        return 0;
    }
    if (!tsdb_agg_wide(a, x0, x1, t.n)) {
        return add_chunk(db, run_id, name, g->seq, a, points);
    }
    for (size_t i = 0; i < r.n; i++) {
        tsdb_agg_roll(a, &r.e[i]); /* inside [from, to]: tsdb_agg_wide */
        *points += r.e[i].n;
    }
    *tier = *tier > TSDB_ROLL_POINTS ? *tier : TSDB_ROLL_POINTS;
    return 0;
}

/* The rollup row a read of the chunk tier last needed (its chunks come in
 * seq order, so one fetch serves the row's six). */
typedef struct {
    int64_t blk; /* -1: none yet */
    uint8_t *data;
    int ng; /* its segments (pointing into data), 0 when it has none */
    ad_roll_seg_t g[AD_ROLL_BLOCK];
} roll_row_t;

/* Chunk row seq by its runs (add_rolled), or decoded when it has none. */
static int add_by_runs(ad_db_t *db, const char *run_id, const char *name, int64_t seq,
                       roll_row_t *c, tsdb_agg_t *a, int64_t *points, int64_t *tier)
{
    int64_t blk = seq / AD_ROLL_BLOCK;
    if (c->blk != blk) {
        free(c->data);
        c->data = NULL;
        c->ng = 0;
        c->blk = blk;
        ad_db_stmt_t *s = ad_store_stmt(db, SQL_ROLL_ROW);
        ad_store_bind_text(s, 1, run_id);
        ad_store_bind_text(s, 2, name);
        ad_db_bind_int64(s, 3, blk);
        int rc = ad_db_step(s);
        if (rc == AD_DB_ROW) {
            size_t len = (size_t)ad_db_column_bytes(s, 0);
            c->data = ad_xmalloc(len > 0 ? len : 1);
            if (len > 0) {
                memcpy(c->data, ad_db_column_blob(s, 0), len);
            }
            c->ng = ad_store_roll_segs(c->data, len, blk, c->g);
            c->ng = c->ng < 0 ? 0 : c->ng;
        }
        ad_db_reset(s);
        if (rc != AD_DB_ROW && rc != AD_DB_DONE) {
            c->blk = -1;
            return ad_store_rc(db, rc);
        }
    }
    for (int i = 0; i < c->ng; i++) {
        if (c->g[i].seq == seq) {
            return add_rolled(db, run_id, name, &c->g[i], a, points, tier);
        }
    }
    return add_chunk(db, run_id, name, seq, a, points);
}

/* One chunk's total from the chunk tier: by summary when it lies in one
 * bucket, as a run when it spans at most half a bucket (*tier: the most
 * points such a run held), else by its runs. */
static int add_summed(ad_db_t *db, const char *run_id, const char *name, int64_t seq,
                      const tsdb_roll_t *e, roll_row_t *c, tsdb_agg_t *a, int64_t *points,
                      int64_t *tier)
{
    int64_t x0 = a->by_time ? e->t_lo : e->s_lo, x1 = a->by_time ? e->t_hi : e->s_hi;
    if (x1 < a->from || x0 > a->to) {
        return 0;
    }
    if (tsdb_agg_summary(a, x0, x1, e->n, e->min, e->max, e->sum, e->last)) {
        *points += e->n;
        return 0;
    }
    if (!tsdb_agg_half(a, x0, x1)) {
        return add_by_runs(db, run_id, name, seq, c, a, points, tier);
    }
    tsdb_agg_roll(a, e);
    *points += e->n;
    *tier = *tier > e->n ? *tier : e->n;
    return 0;
}

/* Whether a read is wide enough for the chunk tier: the series' chunk rows,
 * spread evenly over its range, each at most half a bucket. A chunk that
 * is not (a denser stretch) is read by its runs all the same. */
static bool chunk_tier(const tsdb_agg_t *a, const series_info_t *i)
{
    if (!i->rolled || !i->summed || !i->ranged || i->chunks < 1) {
        return false;
    }
    double chunk = ((double)i->hi - (double)i->lo + 1.0) / (double)i->chunks;
    double bucket = ((double)a->to - (double)a->from + 1.0) / (double)a->n;
    return 2.0 * chunk <= bucket;
}

/* A tier's statement for the series and a's range: (run, name, from, to). */
static ad_db_stmt_t *range_stmt(ad_db_t *db, const char *sql, const char *run_id, const char *name,
                                const tsdb_agg_t *a)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    ad_store_bind_text(s, 1, run_id);
    ad_store_bind_text(s, 2, name);
    ad_db_bind_int64(s, 3, a->from);
    ad_db_bind_int64(s, 4, a->to);
    return s;
}

/* A tier's row (columns 0-6: count, x from, x to, min, max and the rest of
 * tsdb_agg_summary's figures) answered by its
 * summary when it falls in one bucket: its points counted, true. */
static bool row_summary(ad_db_stmt_t *s, tsdb_agg_t *a, int64_t *points)
{
    int64_t n = ad_db_column_int64(s, 0);
    if (!tsdb_agg_summary(a, ad_db_column_int64(s, 1), ad_db_column_int64(s, 2), n,
                          ad_db_column_double(s, 3), ad_db_column_double(s, 4),
                          ad_db_column_double(s, 5), ad_db_column_double(s, 6))) {
        return false;
    }
    *points += n;
    return true;
}

/* The series from its chunk tier (chunk_tier): rows of AD_SUM_BLOCK chunks
 * by their summary when inside one bucket, else each chunk by add_summed. */
static int aggregate_sums(ad_db_t *db, const char *run_id, const char *name, tsdb_agg_t *a,
                          int64_t *points, int64_t *tier)
{
    ad_db_stmt_t *s = range_stmt(db, a->by_time ? SQL_SUMS_TIME : SQL_SUMS_STEP, run_id, name, a);
    roll_row_t c = {.blk = -1};
    int rc, err = 0;
    while (err == 0 && (rc = ad_db_step(s)) == AD_DB_ROW) {
        if (row_summary(s, a, points)) {
            continue;
        }
        int64_t blk = ad_db_column_int64(s, 8);
        tsdb_roll_t e[AD_SUM_BLOCK];
        uint8_t place[AD_SUM_BLOCK];
        int ne = tsdb_totals_decode(ad_db_column_blob(s, 7), (size_t)ad_db_column_bytes(s, 7), e,
                                    place, AD_SUM_BLOCK);
        for (int i = 0; err == 0 && i < ne; i++) {
            err = add_summed(db, run_id, name, blk * AD_SUM_BLOCK + place[i], &e[i], &c, a, points,
                             tier);
        }
        for (int64_t k = 0; err == 0 && ne < 0 && k < AD_SUM_BLOCK; k++) {
            err = add_by_runs(db, run_id, name, blk * AD_SUM_BLOCK + k, &c, a, points, tier);
        }
    }
    ad_db_reset(s);
    free(c.data);
    if (err != 0) {
        return err;
    }
    return rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

/* Feeds every chunk of the series overlapping a's range into a, each by
 * the cheapest of what answers it exactly enough (docs/training.md, "How
 * a read chooses its tier"): the summary of a chunk, or of a rollup row's
 * AD_ROLL_BLOCK chunks, that falls in one bucket; a chunk's rollup runs
 * when the read is wide there (tsdb_agg_wide: *tier becomes
 * TSDB_ROLL_POINTS); else its points, decoded. A series without rollup
 * rows (stored before migration 2740, not built yet) is read from its
 * chunks. */
static int aggregate(ad_db_t *db, const char *run_id, const char *name, tsdb_agg_t *a,
                     int64_t *points, int64_t *tier)
{
    series_info_t info = series_info(db, run_id, name, a->by_time);
    if (chunk_tier(a, &info)) {
        return aggregate_sums(db, run_id, name, a, points, tier);
    }
    bool rolled = info.rolled;
    ad_db_stmt_t *s = range_stmt(db,
                                 rolled ? (a->by_time ? SQL_ROLLS_TIME : SQL_ROLLS_STEP)
                                        : (a->by_time ? SQL_CHUNKS_TIME : SQL_CHUNKS_STEP),
                                 run_id, name, a);
    int rc, err = 0;
    while (err == 0 && (rc = ad_db_step(s)) == AD_DB_ROW) {
        if (row_summary(s, a, points)) {
            continue;
        }
        int64_t n = ad_db_column_int64(s, 0);
        const void *blob = ad_db_column_blob(s, 7);
        size_t len = (size_t)ad_db_column_bytes(s, 7);
        if (!rolled) {
            add_decoded(a, blob, len, n, points);
            continue;
        }
        int64_t blk = ad_db_column_int64(s, 8);
        ad_roll_seg_t g[AD_ROLL_BLOCK];
        int ng = ad_store_roll_segs(blob, len, blk, g);
        for (int i = 0; err == 0 && i < ng; i++) {
            err = add_rolled(db, run_id, name, &g[i], a, points, tier);
        }
        for (int64_t k = 0; err == 0 && ng < 0 && k < AD_ROLL_BLOCK; k++) {
            err = add_chunk(db, run_id, name, blk * AD_ROLL_BLOCK + k, a, points);
        }
    }
    ad_db_reset(s);
    if (err != 0) {
        return err;
    }
    return rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

/* The buckets as columns: x (each bucket's start), min, max, mean, last,
 * count; empty buckets left out. */
static json_t *agg_json(const tsdb_agg_t *a)
{
    json_t *x = json_array(), *mn = json_array(), *mx = json_array(), *mean = json_array(),
           *last = json_array(), *cnt = json_array();
    __int128 span = (__int128)a->to - a->from + 1;
    for (size_t i = 0; i < a->n; i++) {
        const tsdb_bucket_t *b = &a->b[i];
        if (b->count == 0) {
            continue;
        }
        json_array_append_new(
            x, json_integer((json_int_t)(a->from + span * (__int128)i / (__int128)a->n)));
        json_array_append_new(mn, json_real(b->min));
        json_array_append_new(mx, json_real(b->max));
        json_array_append_new(mean, json_real(b->sum / (double)b->count));
        json_array_append_new(last, json_real(b->last));
        json_array_append_new(cnt, json_integer(b->count));
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "x", x, "min", mn, "max", mx, "mean", mean,
                     "last", last, "count", cnt);
}

/* The common range over every run that has the series (explicit bounds
 * win), and how many points the runs hold. AD_ENOENT when none has it. */
static int query_range(ad_db_t *db, ad_store_series_q_t *q, int64_t *from, int64_t *to,
                       int64_t *points)
{
    bool any = false;
    for (size_t i = 0; i < q->nruns; i++) {
        int64_t lo = 0, hi = 0;
        int rc = series_range(db, q->runs[i], q->name, q->by_time, &lo, &hi, points);
        if (rc == AD_ENOENT) {
            continue;
        }
        if (rc != 0) {
            return rc;
        }
        *from = !any || lo < *from ? lo : *from;
        *to = !any || hi > *to ? hi : *to;
        any = true;
    }
    if (q->has_from) {
        *from = q->from;
    }
    if (q->has_to) {
        *to = q->to;
    }
    return any || (q->has_from && q->has_to) ? 0 : AD_ENOENT;
}

/* One bucket of the group over several runs: the mean of the runs'
 * means, the lowest min and highest max, how many runs had points. */
typedef struct {
    double min, max, msum;
    int64_t runs;
} group_t;

static void group_add(group_t *g, const tsdb_agg_t *a)
{
    for (size_t i = 0; i < a->n; i++) {
        const tsdb_bucket_t *b = &a->b[i];
        if (b->count == 0) {
            continue;
        }
        if (g[i].runs == 0 || b->min < g[i].min) {
            g[i].min = b->min;
        }
        if (g[i].runs == 0 || b->max > g[i].max) {
            g[i].max = b->max;
        }
        g[i].msum += b->sum / (double)b->count;
        g[i].runs++;
    }
}

static json_t *group_json(const group_t *g, const tsdb_agg_t *shape)
{
    json_t *x = json_array(), *mean = json_array(), *mn = json_array(), *mx = json_array(),
           *runs = json_array();
    __int128 span = (__int128)shape->to - shape->from + 1;
    for (size_t i = 0; i < shape->n; i++) {
        if (g[i].runs == 0) {
            continue;
        }
        json_int_t at = (json_int_t)(shape->from + span * (__int128)i / (__int128)shape->n);
        json_array_append_new(x, json_integer(at));
        json_array_append_new(mean, json_real(g[i].msum / (double)g[i].runs));
        json_array_append_new(mn, json_real(g[i].min));
        json_array_append_new(mx, json_real(g[i].max));
        json_array_append_new(runs, json_integer(g[i].runs));
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "x", x, "mean", mean, "min", mn, "max", mx,
                     "runs", runs);
}

static const char SQL_RUN_IDENT[] =
    "SELECT " AD_RUN_NAME_SQL("r") ", " AD_RUN_COLOR_SQL("r") " FROM runs r WHERE r.id = ?";

/* A run's display name and colour (issue #35) into name and color ("" for
 * a run that is gone). */
static int run_ident(ad_db_t *db, const char *run_id, char *name, size_t namesz, char *color,
                     size_t colorsz)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_RUN_IDENT);
    ad_store_bind_text(s, 1, run_id);
    int rc = ad_db_step(s);
    name[0] = color[0] = '\0';
    if (rc == AD_DB_ROW) {
        const char *n = (const char *)ad_db_column_text(s, 0);
        const char *c = (const char *)ad_db_column_text(s, 1);
        size_t len = n != NULL ? strlen(n) : 0;
        if (len >= namesz) { /* cut on a UTF-8 character boundary */
            len = namesz - 1;
            while (len > 0 && ((unsigned char)n[len] & 0xC0) == 0x80) {
                len--;
            }
        }
        if (len > 0) {
            memcpy(name, n, len);
        }
        name[len] = '\0';
        snprintf(color, colorsz, "%s", c != NULL ? c : "");
    }
    ad_db_reset(s);
    return rc == AD_DB_ROW || rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

/* ---- the read of several runs, on several connections -------------------------------
 * A chart of a run group at 10M points a run steps ~2,600 rollup rows a
 * run and reads ~4 MB of pages: 16 runs one after another were ~100 ms of
 * one core (bench row T4). The runs are independent until the group's
 * buckets are summed, so a read of many points splits its runs among
 * SERIES_READERS threads, each on a read connection of its own (the pool
 * thread's and up to SERIES_READERS - 1 threads started for the read and
 * joined before it returns: never the loop). Each thread fills the buckets
 * of its runs; the answer is built after the join, in the runs' order, as
 * before. A read of fewer points stays on the one connection: a thread and
 * a connection cost more than they save below SERIES_SPLIT_POINTS. */
#define SERIES_READERS 4
#define SERIES_SPLIT_POINTS 2000000

typedef struct {
    ad_store_series_q_t *q;
    ad_store_done_cb done;
    /* the store's connection, copied: a pool read may outlive ad_store_close() */
    ad_store_conn_spec_t conn;
} query_job_t;

/* One run's part of the answer: its buckets and its entry of runs (built
 * by the thread that read it: the JSON of 2,000 buckets is not free). */
typedef struct {
    tsdb_agg_t a;
    int64_t points, tier;
    json_t *out;
    int rc;
} run_part_t;

typedef struct {
    const query_job_t *j;
    ad_db_t *db; /* NULL: the thread opens its own */
    run_part_t *runs;
    size_t first, step; /* the runs first, first + step, ... */
} reader_t;

static void read_runs(reader_t *r)
{
    const ad_store_series_q_t *q = r->j->q;
    ad_db_t *db = r->db;
    int rc = 0;
    if (db == NULL) {
        char err[256];
        rc = ad_store_conn_spec_open(&r->j->conn, &db, err, sizeof(err));
        if (rc != 0) {
            ad_log(AD_LOG_ERROR, "store", "%s", err);
        }
    }
    for (size_t i = r->first; i < q->nruns; i += r->step) {
        run_part_t *p = &r->runs[i];
        p->rc = rc;
        if (rc == 0) {
            p->rc = aggregate(db, q->runs[i], q->name, &p->a, &p->points, &p->tier);
        }
        char name[1024], color[16];
        if (p->rc == 0) {
            p->rc = run_ident(db, q->runs[i], name, sizeof(name), color, sizeof(color));
        }
        if (p->rc == 0) {
            p->out = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "runId", q->runs[i], "name", name,
                               "color", color, "points", (json_int_t)p->points, "tierPoints",
                               (json_int_t)p->tier, "buckets", agg_json(&p->a));
        }
        rc = p->rc; /* the runs after a failure are not read */
    }
    if (r->db == NULL && db != NULL) {
        ad_store_conn_close(db);
    }
}

static void reader_main(void *arg)
{
    read_runs(arg);
}

/* SERIES_SPLIT_POINTS; test builds read AGENTD_TEST_SERIES_SPLIT instead
 * when it is set, so the unit tests split small reads too. */
static int64_t split_points(void)
{
#ifdef AD_TEST_BUILD
    const char *v = getenv("AGENTD_TEST_SERIES_SPLIT");
    if (v != NULL && v[0] != '\0') {
        return strtoll(v, NULL, 10);
    }
#endif
    return SERIES_SPLIT_POINTS;
}

/* Fills runs[i] for every run of q: on db alone, or split among readers. */
static void read_all(const query_job_t *j, ad_db_t *db, run_part_t *runs, int64_t points)
{
    const ad_store_series_q_t *q = j->q;
    size_t n = 1;
    if (points >= split_points()) {
        unsigned int cores = uv_available_parallelism();
        n = cores < SERIES_READERS ? cores : SERIES_READERS;
        n = n > q->nruns ? q->nruns : (n < 1 ? 1 : n);
    }
    reader_t r[SERIES_READERS];
    uv_thread_t t[SERIES_READERS];
    bool started[SERIES_READERS] = {false};
    for (size_t k = 0; k < n; k++) {
        r[k] = (reader_t){.j = j, .db = k == 0 ? db : NULL, .runs = runs, .first = k, .step = n};
    }
    for (size_t k = 1; k < n; k++) {
        started[k] = uv_thread_create(&t[k], reader_main, &r[k]) == 0;
    }
    read_runs(&r[0]);
    for (size_t k = 1; k < n; k++) {
        if (started[k]) {
            uv_thread_join(&t[k]);
        } else {
            read_runs(&r[k]); /* no thread: its runs on this one, after the others */
        }
    }
}

static int query_fn(ad_db_t *db, void *ctx)
{
    query_job_t *j = ctx;
    ad_store_series_q_t *q = j->q;
    int64_t from = 0, to = 0, points = 0;
    int rc = query_range(db, q, &from, &to, &points);
    if (rc != 0) {
        return rc;
    }
    size_t nparts = q->nruns > 0 ? q->nruns : 1; /* parts[0].a is the buckets' shape */
    run_part_t *parts = ad_xcalloc(nparts, sizeof(*parts));
    for (size_t i = 0; i < nparts; i++) {
        tsdb_agg_init(&parts[i].a, from, to < from ? from : to, q->buckets, q->by_time);
        parts[i].tier = 1;
    }
    read_all(j, db, parts, points);
    const tsdb_agg_t *shape = &parts[0].a;
    group_t *g = ad_xcalloc(shape->n, sizeof(*g));
    json_t *runs = json_array();
    for (size_t i = 0; rc == 0 && i < q->nruns; i++) {
        run_part_t *p = &parts[i];
        rc = p->rc;
        if (rc == 0) {
            group_add(g, &p->a);
            json_array_append(runs, p->out);
        }
    }
    if (rc == 0) {
        q->out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:o}", "name", q->name, "x",
                           q->by_time ? "time" : "step", "from", (json_int_t)shape->from, "to",
                           (json_int_t)shape->to, "bucketCount", (json_int_t)shape->n, "runs", runs,
                           "group", group_json(g, shape));
    } else {
        json_decref(runs);
    }
    free(g);
    for (size_t i = 0; i < nparts; i++) {
        tsdb_agg_free(&parts[i].a);
        json_decref(parts[i].out);
    }
    free(parts);
    return rc;
}

static void query_done(int rc, void *ctx)
{
    query_job_t *j = ctx;
    ad_store_done_cb done = j->done;
    ad_store_series_q_t *q = j->q;
    ad_store_conn_spec_free(&j->conn);
    free(j);
    if (done != NULL) {
        done(rc, q);
    }
}

void ad_store_series_query(ad_store_t *st, ad_store_series_q_t *q, ad_store_done_cb done)
{
    query_job_t *j = ad_xcalloc(1, sizeof(*j));
    j->q = q;
    j->done = done;
    ad_store_conn_spec(st, &j->conn);
    ad_store_read_async(st, query_fn, query_done, j);
}

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
        int irc = run_ident(db, run_id, x->run_name, sizeof(x->run_name), x->run_color,
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
