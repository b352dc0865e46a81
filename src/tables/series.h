/* SPDX-License-Identifier: MIT */
/*
 * tables: training-metric series (series.c, seriesread.c, seriesexport.c, seriesin.c,
 * seriesbatch.c, seriesroll.c, metricdir.c). One family of src/tables, over the store's engine
 * (store/store.h); docs/internals/tables.md.
 */
#ifndef AD_TABLES_SERIES_H
#define AD_TABLES_SERIES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- training-metric series (series.c, migration 1500, issue #16) -----------------
 * Not the daemon's own /metrics (api/metrics.c) nor the health sampler's
 * rings: points that runs report, kept until the run is deleted.
 * Appends: batch {runId, orgId, now (ms, for points without ts), points:
 * [{name, value, step?, ts?}]} checked by the caller (names non-empty,
 * values finite); one writer job whatever its size; cb gets {points,
 * series}. Takes the batch (as ad_store_write its args). */
void ad_store_series_append(ad_store_t *st, json_t *batch, ad_store_result_cb cb, void *ud);
/* [{name, count, firstStep, lastStep, firstTimeMs, lastTimeMs,
 * firstValue, lastValue, minValue, maxValue}] of a run. Loop thread. */
int ad_store_series_list(ad_store_t *st, const char *run_id, json_t **out);

#define AD_SERIES_RUNS_MAX 16
#define AD_SERIES_NAME_MAX 200
/* A bucketed read of one series over one or several runs, on the thread
 * pool; done(rc, q) on the loop, with q->out = {name, x, from, to,
 * bucketCount, runs: [{runId, name, color (the run's display name and
 * colour), points, tierPoints, buckets: {x, min, max, mean, last, count}}], group: {x, mean (of
 * the runs' means), min, max, runs (how many had points)}} (the caller's) or rc AD_ENOENT when no
 * run has the series. tierPoints: 1 when every bucket was computed from raw points or whole chunks,
 * TSDB_ROLL_POINTS when a wide read took the rollup tier (a bucket's count and mean may then hold
 * up to that many points of its neighbour; its min and max points are where they were). q is the
 * caller's and must live until done. */
typedef struct {
    char runs[AD_SERIES_RUNS_MAX][AD_ID_MAX];
    size_t nruns;
    char name[AD_SERIES_NAME_MAX + 1];
    bool by_time, has_from, has_to;
    int64_t from, to;
    size_t buckets;
    json_t *out;
    void *ud;
} ad_store_series_q_t;
void ad_store_series_query(ad_store_t *st, ad_store_series_q_t *q, ad_store_done_cb done);
/* What a request may ask (seriesin.c), any thread: why point {name (1-200
 * bytes), value (finite), step?, ts? (whole numbers)} of a batch is refused,
 * or NULL; and q's window for a preset range (5m, 15m, 1h, 6h, 24h, 7d of
 * wall time ending at now_ms): 0 or AD_EINVAL. */
const char *ad_store_series_point_why(const json_t *p);
int ad_store_series_range(ad_store_series_q_t *q, const char *range, int64_t now_ms);
/* A read's query (seriesin.c), any thread, 0 or AD_EINVAL with e naming
 * the field: the series name (1 to 200 bytes) into q; x (step or time),
 * buckets (1 to 20000, AD_SERIES_BUCKETS_DEFAULT), from, to and range (a
 * preset above, or all) read through get into q; runs=a,b,c (1 to
 * AD_SERIES_RUNS_MAX ids) into runs and *n. The caller checks who may see
 * each run. */
#define AD_SERIES_BUCKETS_DEFAULT 1000
int ad_store_series_name(ad_store_series_q_t *q, const char *name, ad_field_err_t *e);
int ad_store_series_parse(ad_store_series_q_t *q, ad_store_query_fn get, void *ud, int64_t now_ms,
                          ad_field_err_t *e);
int ad_store_series_runs(const char *s, char runs[][AD_ID_MAX], size_t *n, ad_field_err_t *e);
/* A one-run read's out made flat: that run's fields beside the series'
 * own (its name and colour as runName and runColor), no runs nor group. */
void ad_store_series_flat(json_t *out);

/* Every raw point of the runs (names: array of series names, or NULL for
 * all) as CSV (run_id,name,step,time_ms,value,run_name,run_color, after a
 * header line) or JSON lines ({runId, name, step, ts, value, runName,
 * runColor}), a piece at a time: each call reads on the thread pool from
 * where the last one stopped and appends whole chunks' points to body
 * until it holds AD_SERIES_EXPORT_PIECE bytes (or AD_SERIES_EXPORT_ROWS
 * rows were looked at), then done(rc, x) on the loop; x->end once every
 * point is out. The caller empties body between calls (its max must hold a
 * piece plus one chunk's points: AD_SERIES_EXPORT_BODY_MAX). Chunks topped
 * up after the export passed them are not revisited. Zero-initialise x. */
#define AD_SERIES_EXPORT_PIECE (256 * 1024)
#define AD_SERIES_EXPORT_ROWS 256
#define AD_SERIES_EXPORT_BODY_MAX (16 * 1024 * 1024)
typedef struct {
    char runs[AD_SERIES_RUNS_MAX][AD_ID_MAX];
    size_t nruns;
    json_t *names;
    bool csv;
    ad_buf_t body;
    int64_t points;
    void *ud;
    /* the cursor: after chunk (after_name, after_seq) of runs[run] */
    size_t run;
    bool started, in_run, end;
    char after_name[AD_SERIES_NAME_MAX + 1];
    int64_t after_seq;
    /* runs[run]'s display name and colour, read when its first piece is */
    size_t ident_run; /* run + 1 they are of; 0: none yet */
    char run_name[1024];
    char run_color[16];
} ad_store_series_export_t;
void ad_store_series_export(ad_store_t *st, ad_store_series_export_t *x, ad_store_done_cb done);
/* An export's query (seriesin.c), any thread: format (csv, the default,
 * or jsonl) and names=a,b (the series, else all) into x, its body set up;
 * 0 or AD_EINVAL with e naming the field. */
int ad_store_series_export_parse(ad_store_series_export_t *x, ad_store_query_fn get, void *ud,
                                 ad_field_err_t *e);

/* ---- a metric batch (seriesbatch.c; pure, any thread) ---- */
typedef struct {
    int status;      /* 413 past a bound, else 422 */
    json_t *details; /* {field, index?, item?, reason} or {field, max} (owned by the caller) */
    char msg[300];
} ad_store_batch_err_t;
/* A metric batch body {points?, histograms?, counts?} (points may be left
 * out when there are histograms or counts; at most 100000 points and 1000
 * distributions, each checked) into the batch ad_store_series_append
 * writes {runId, orgId, now, points, dists?} (new), or NULL with e set. */
json_t *ad_store_series_batch(const json_t *body, const char *run, const char *org, int64_t now,
                              ad_store_batch_err_t *e);
/* Appends batch (taken) as ad_store_series_append does, and once it is
 * stored publishes its events to its run's, its metrics' and its org's
 * topics: metrics_update {runId, points (at most 2000) | count} when it
 * has points and distribution_update {runId, items: [{kind, name, step?}]
 * (at most 100), count} when it has dists; then cb as the append's.
 * Loop thread. */
void ad_store_series_post(ad_store_t *st, struct ad_bus *bus, json_t *batch, ad_store_result_cb cb,
                          void *ud);

/* Starts the job chains that build the rollup rows of series stored before
 * migration 2740 and the chunk tier's rows of series rolled before 2840
 * (seriesroll.c): the daemon calls it once the store is open (main.c).
 * Nothing is queued when no series waits. Loop thread. */
void ad_store_rolls_start(ad_store_t *st);

#endif
