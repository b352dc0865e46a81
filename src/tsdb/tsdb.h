/* SPDX-License-Identifier: MIT */
/*
 * The training-metric point codec (issue #16): a chunk of points of one
 * series, (step, wall time in ms, value), packed in a bit stream as in
 * Gorilla: steps and times as delta-of-deltas (one bit when the spacing
 * holds), values as the XOR with the previous value (one bit when it
 * repeats, else only the bits that differ). Pure code: no I/O, no SQLite;
 * the rows that hold chunks are src/store/series.c's.
 *
 * Not to be confused with src/api/metrics.c (the Prometheus /metrics
 * endpoint about the daemon itself) or src/health (the host sampler's
 * in-memory history rings).
 *
 * Ownership: an encoder owns its growing byte buffer e->buf (tsdb_enc_free);
 * a decoder borrows the bytes it reads.
 */
#ifndef AD_TSDB_H
#define AD_TSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A chunk row is closed at TSDB_CHUNK_MAX points or TSDB_CHUNK_BYTES of
 * encoding, whichever comes first. It is decoded whole, or answered by its
 * row's summary when it falls in one bucket: small enough that most do at
 * 2,000 buckets over millions of points, and two rows fill a 4 KiB SQLite
 * page (a 3 KiB row would leave a quarter of every page empty). */
#define TSDB_CHUNK_MAX 2048
#define TSDB_CHUNK_BYTES 1800

typedef struct {
    int64_t step;
    int64_t t_ms;
    double v;
} tsdb_point_t;

typedef struct {
    uint8_t *buf;
    size_t cap, bits; /* bits written */
    size_t n;         /* points written */
    tsdb_point_t prev;
    int64_t dstep, dt; /* the previous deltas */
    int lead, trail;   /* the previous XOR's window (lead -1: none yet) */
    /* the state before the last point, for tsdb_enc_undo */
    struct {
        size_t bits;
        tsdb_point_t prev;
        int64_t dstep, dt;
        int lead, trail;
        bool ok; /* there is a last point to take back */
    } undo;
} tsdb_enc_t;

void tsdb_enc_init(tsdb_enc_t *e);
/* Appends a point (the buffer grows; allocation failure aborts). */
void tsdb_enc_add(tsdb_enc_t *e, const tsdb_point_t *p);
/* Takes the last point back (its bits cleared, the state as before it), so
 * the next tsdb_enc_add replaces it: O(1), one level deep. false when there
 * is nothing to take back (no point, or already undone). */
bool tsdb_enc_undo(tsdb_enc_t *e);
/* Bytes used so far: (bits + 7) / 8. */
size_t tsdb_enc_bytes(const tsdb_enc_t *e);
void tsdb_enc_free(tsdb_enc_t *e);

typedef struct {
    const uint8_t *buf;
    size_t len, pos; /* pos in bits */
    size_t n, left;  /* points in the chunk / still to read */
    tsdb_point_t prev;
    int64_t dstep, dt;
    int lead, trail;
} tsdb_dec_t;

/* Reads a chunk of n points from buf[0..len). */
void tsdb_dec_init(tsdb_dec_t *d, const uint8_t *buf, size_t len, size_t n);
/* The next point: 1 with *p set, 0 at the end, -1 on bytes that do not
 * decode (a truncated or foreign blob). */
int tsdb_dec_next(tsdb_dec_t *d, tsdb_point_t *p);

/* Decodes a whole chunk into out[0..n) (out holds n points). 0 or -1. */
int tsdb_decode_all(const uint8_t *buf, size_t len, size_t n, tsdb_point_t *out);

/* ---- buckets (bucket.c) ----------------------------------------------------------
 * Display aggregation that never samples: [from, to] on x (step or wall
 * ms) cut into n equal buckets, each keeping min, max, sum, count and the
 * last value, so one spike in ten million points shows in its bucket's max. */
typedef struct {
    double min, max, sum, last;
    int64_t count;
    int64_t last_x;
} tsdb_bucket_t;

typedef struct {
    int64_t from, to;
    size_t n;
    bool by_time;     /* x is t_ms, else step */
    bool narrow;      /* (to - from + 1) * n fits 64 bits: no 128-bit division */
    tsdb_bucket_t *b; /* n buckets, owned */
} tsdb_agg_t;

/* n in 1..TSDB_BUCKETS_MAX, from <= to. */
#define TSDB_BUCKETS_MAX 20000
void tsdb_agg_init(tsdb_agg_t *a, int64_t from, int64_t to, size_t n, bool by_time);
void tsdb_agg_free(tsdb_agg_t *a);
/* The bucket x falls in, or -1 outside [from, to]. */
long tsdb_agg_index(const tsdb_agg_t *a, int64_t x);
void tsdb_agg_add(tsdb_agg_t *a, const tsdb_point_t *p);
/* Adds a whole chunk by its summary, when all of [x0, x1] is one bucket:
 * true when it did (then its points need not be decoded). */
bool tsdb_agg_summary(tsdb_agg_t *a, int64_t x0, int64_t x1, int64_t count, double min, double max,
                      double sum, double last);

/* ---- histograms (hist.c) ----------------------------------------------------------
 * Distributions a run reports per step (issue #16): bucket edges
 * (n + 1, ascending) and n counts. Raw values are binned here into equal
 * buckets; histograms of different edges are added up by spreading each
 * source bucket's count over the target buckets it overlaps in proportion
 * (a value is assumed anywhere in its bucket). */
#define TSDB_HIST_BINS_MAX 256

/* Bins v[0..n) (finite, n >= 1) into bins equal buckets over [min, max]
 * (one bucket [v - 0.5, v + 0.5] when every value is the same): edges
 * holds bins + 1, counts bins (zeroed here). The last bucket includes max. */
void tsdb_hist_bin(const double *v, size_t n, size_t bins, double *edges, double *counts);
/* The bins + 1 equal edges over [lo, hi] that tsdb_hist_bin uses (the last
 * is hi itself): a binned histogram is stored as lo, hi and its counts. */
void tsdb_hist_edges(double lo, double hi, size_t bins, double *edges);
/* Adds the histogram (edges[0..n], counts[0..n)) into dst (dedges[0..m],
 * dcounts[0..m), equal buckets); what falls outside dst's range goes to its
 * first or last bucket. A zero-width source bucket adds to the bucket that
 * holds it. */
void tsdb_hist_add(const double *edges, const double *counts, size_t n, const double *dedges,
                   double *dcounts, size_t m);

#endif
