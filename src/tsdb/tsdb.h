/* SPDX-License-Identifier: MIT */
/*
 * The training-metric point codec (issue #16): a chunk of points of one
 * series, (step, wall time in ms, value), packed in a bit stream as in
 * Gorilla: steps and times as delta-of-deltas (one bit when the spacing
 * holds), values as the XOR with the previous value (one bit when it
 * repeats, else only the bits that differ). Pure code: no I/O, no SQLite;
 * the rows that hold chunks are src/tables/series.c's.
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
 * encoding and names (its run id and series name: src/tables/series.c),
 * whichever comes first. It is decoded whole, or answered by its row's
 * summary or total when it falls in one bucket or is at most half a bucket
 * wide; one row fills a 4 KiB SQLite page (its other columns take ~100
 * bytes; a table row of more than 4,061 bytes would spill to an overflow
 * page). It was 1,800, two rows a page, which left ~300 bytes of every
 * page empty and two rows' columns: 0.25 B a point of T3. */
#define TSDB_CHUNK_MAX 2048
#define TSDB_CHUNK_BYTES 3930

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

/* ---- steps (stepset.c) ----------------------------------------------------------
 * Which chunk row (seq) holds each step, the newest row winning: a batch of
 * points older than their series' last looks their steps up here instead
 * of scanning the series' rows once a point. At most max steps; owns its
 * arrays (tsdb_stepset_free). */
typedef struct {
    int64_t *step, *seq;
    size_t cap, n, max;
} tsdb_stepset_t;

void tsdb_stepset_init(tsdb_stepset_t *s, size_t max);
void tsdb_stepset_free(tsdb_stepset_t *s);
/* Adds step, held by row seq (>= 0; a step already there keeps the larger
 * seq). false when the set holds max steps already. */
bool tsdb_stepset_put(tsdb_stepset_t *s, int64_t step, int64_t seq);
/* The row that holds step, or -1. */
int64_t tsdb_stepset_get(const tsdb_stepset_t *s, int64_t step);

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
    /* the bucket last found and its x range: points come in x order, so
     * most fall in it without a division */
    long hit;
    int64_t hit_lo, hit_hi;
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

/* ---- rollups (roll.c) ---------------------------------------------------------------
 * The tier a wide read is answered from (issue #35, bench row T4): a chunk's
 * points in runs of TSDB_ROLL_POINTS in the order they were added (the last
 * run shorter), each kept as its count, step and time ranges, sum, last
 * value, and its min and max with the point (step, time) where each is.
 * Built as the chunk's points are added, with one level of undo as the
 * encoder's, so a chunk row and its rollup always describe the same points.
 * A run that lies in one bucket is added whole (exact); one that straddles
 * a bucket edge puts its min and its max as points where they are, so an
 * extreme is never lost or moved to another bucket, and the rest of its
 * points (count, sum; min and max as their mean) in the bucket it starts in.
 * Which chunks are read this way: tsdb_agg_wide. */
#define TSDB_ROLL_POINTS 128
#define TSDB_ROLL_MAX (TSDB_CHUNK_MAX / TSDB_ROLL_POINTS) /* runs a chunk holds */

typedef struct {
    int64_t n;
    int64_t s_lo, s_hi, t_lo, t_hi;     /* step and time ranges */
    int64_t s_min, t_min, s_max, t_max; /* the first point with the min, the max */
    double min, max, sum, last;
} tsdb_roll_t;

typedef struct {
    tsdb_roll_t e[TSDB_ROLL_MAX];
    size_t n; /* runs in use */
    struct {
        tsdb_roll_t e; /* the last run before the last point */
        size_t n;
        bool ok;
    } undo;
} tsdb_rolls_t;

void tsdb_rolls_init(tsdb_rolls_t *r);
/* Adds a point to the last run, or starts a run when it is full (past
 * TSDB_ROLL_MAX runs the last one takes the rest). */
void tsdb_rolls_add(tsdb_rolls_t *r, const tsdb_point_t *p);
/* Takes the last point back (as tsdb_enc_undo): false when there is none. */
bool tsdb_rolls_undo(tsdb_rolls_t *r);
/* The whole chunk's summary from its runs: count, ranges, min, max, sum, last. */
tsdb_roll_t tsdb_rolls_total(const tsdb_rolls_t *r);
/* Encoding: a version byte, the run count, then per run varints (count,
 * ranges and the extremes' places as zigzag deltas) and four doubles. At
 * most TSDB_ROLLS_BYTES; encode returns the bytes written into buf (which
 * holds TSDB_ROLLS_BYTES); decode 0, or -1 for bytes that are not a rollup
 * (then the chunk is decoded instead). */
#define TSDB_ROLLS_BYTES (2 + TSDB_ROLL_MAX * (9 * 10 + 4 * 8))
size_t tsdb_rolls_encode(const tsdb_rolls_t *r, uint8_t *buf);
int tsdb_rolls_decode(const uint8_t *buf, size_t len, tsdb_rolls_t *r);

/* A row of chunk totals (the chunk tier, src/tables/seriesroll.c): n runs
 * (n at most 255), each a whole chunk's, and each one's place (ascending).
 * Encode writes at most TSDB_TOTALS_BYTES(n) into buf and returns the
 * bytes; decode fills e and place (room for max) and returns n, or -1 for
 * bytes that are not such a row. */
#define TSDB_TOTALS_BYTES(n) (2 + (n) * (1 + 9 * 10 + 4 * 8))
size_t tsdb_totals_encode(const tsdb_roll_t *e, const uint8_t *place, size_t n, uint8_t *buf);
int tsdb_totals_decode(const uint8_t *buf, size_t len, tsdb_roll_t *e, uint8_t *place, size_t max);

/* Whether a chunk row [x0, x1] of n points that straddles bucket edges is
 * read by its rollup: it lies inside [from, to] (a chunk cut by the range's
 * ends is decoded, so no point outside counts) and holds, spread evenly,
 * at least TSDB_ROLL_WIDE points a bucket, so a run is at most half a
 * bucket. Narrower reads decode their chunks: exact to the point. */
#define TSDB_ROLL_WIDE (2 * TSDB_ROLL_POINTS)
bool tsdb_agg_wide(const tsdb_agg_t *a, int64_t x0, int64_t x1, int64_t n);
/* Adds one run to a (see above): false when it is not all inside [from,
 * to] (then nothing is added). */
bool tsdb_agg_roll(tsdb_agg_t *a, const tsdb_roll_t *e);
/* Whether [x0, x1] lies inside [from, to] and spans at most half a bucket:
 * then a whole chunk's total (a run of all its points) answers as a run of
 * TSDB_ROLL_POINTS does where tsdb_agg_wide holds (the chunk tier). */
bool tsdb_agg_half(const tsdb_agg_t *a, int64_t x0, int64_t x1);

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

/* ---- TensorBoard event files (tfevents.c) -------------------------------------------
 * TFRecord framing: u64 data length (little-endian), u32 masked CRC32C of
 * those 8 bytes, the data, u32 masked CRC32C of the data; masked is
 * ((crc >> 15) | (crc << 17)) + 0xa282ead8. The data is an Event protobuf
 * (wall_time 1, step 2, summary 5); its Summary's values (tag 1) are
 * scalars (simple_value 2, or a one-number tensor 8) and histograms
 * (HistogramProto 5, or a [k, 3] tensor of left, right, count). */
#define TSDB_TFREC_MAX (64u << 20) /* a record's data at most */
#define TSDB_TF_EDGE_MAX 1e300
uint32_t tsdb_tf_mask(uint32_t crc);
enum {
    TSDB_TF_OK = 0,   /* a whole record: *data, *len, *total */
    TSDB_TF_MORE = 1, /* not all there yet (a torn tail: wait for the rest) */
    TSDB_TF_SKIP = 2, /* the data's CRC fails: skip *total bytes */
    TSDB_TF_BAD = -1, /* the length's CRC fails or it is too long: no more of this file */
};
/* The record at buf[0..n). */
int tsdb_tfrec_parse(const uint8_t *buf, size_t n, const uint8_t **data, size_t *len,
                     size_t *total);
typedef struct {
    /* tag is not NUL-terminated; borrowed for the call */
    void (*scalar)(void *ud, const char *tag, size_t tag_len, int64_t step, double wall_time,
                   double value);
    /* edges[0..n] strictly ascending and within +-1e300, counts[0..n) >= 0,
     * n in 1..TSDB_HIST_BINS_MAX */
    void (*histogram)(void *ud, const char *tag, size_t tag_len, int64_t step, double wall_time,
                      const double *edges, const double *counts, size_t n);
    void *ud;
} tsdb_tf_cb_t;
/* Decodes one Event's data and reports its values through cb (NULL: only
 * checks): 0, or -1 when it is malformed (then nothing is reported). */
int tsdb_tf_event(const uint8_t *data, size_t len, const tsdb_tf_cb_t *cb);

/* Whether a metric named name is better lower (a loss, an error, a
 * perplexity, a latency...) rather than higher (a reward, an accuracy, a
 * score, FPS...), from the words of its name (direction.c); *known false
 * when no word says (then false: higher is better). */
bool tsdb_lower_is_better(const char *name, bool *known);

#endif
