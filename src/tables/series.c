/* SPDX-License-Identifier: MIT */
/*
 * Training-metric series of runs (migration 1500, issue #16): appends go
 * through the writer (one job per batch, however many points and series
 * it holds; the writer's group commit puts concurrent batches in one
 * transaction), topping up the series' last chunk row until it holds
 * TSDB_CHUNK_MAX points or TSDB_CHUNK_BYTES, then starting the next.
 * Reads are seriesread.c's, the raw export seriesexport.c's. The encoding
 * is src/tsdb's.
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
