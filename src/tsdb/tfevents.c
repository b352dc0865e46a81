/* SPDX-License-Identifier: MIT */
/*
 * TensorBoard event files (issue #35), read without a protobuf library:
 * the TFRecord framing (length, masked CRC32C of the length, data, masked
 * CRC32C of the data) and, inside each record, an Event message whose
 * Summary values are scalars (simple_value, or a one-value tensor as TF2
 * writes them) or histograms (HistogramProto, or TF2's [k, 3] tensor of
 * left edge, right edge, count). Everything else an event may hold (graphs,
 * images, audio, text, file_version) is skipped by its wire type. Every
 * length is checked against what is left of its enclosing message, nesting
 * is fixed (Event, Summary, Value, its payload), and a value is reported
 * only once the whole event has decoded. Pure: any thread.
 */
#include "core/core.h"
#include "tsdb/tsdb.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

uint32_t tsdb_tf_mask(uint32_t crc)
{
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int tsdb_tfrec_parse(const uint8_t *buf, size_t n, const uint8_t **data, size_t *len, size_t *total)
{
    if (n < 12) {
        return TSDB_TF_MORE;
    }
    uint64_t l = le64(buf);
    if (le32(buf + 8) != tsdb_tf_mask(ad_crc32c(0, buf, 8))) {
        return TSDB_TF_BAD;
    }
    if (l > TSDB_TFREC_MAX) {
        return TSDB_TF_BAD;
    }
    size_t need = 12 + (size_t)l + 4;
    if (n < need) {
        return TSDB_TF_MORE;
    }
    *total = need;
    *data = buf + 12;
    *len = (size_t)l;
    if (le32(buf + 12 + l) != tsdb_tf_mask(ad_crc32c(0, buf + 12, (size_t)l))) {
        return TSDB_TF_SKIP;
    }
    return TSDB_TF_OK;
}

/* ---- protobuf wire format ------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
} pb_t;

static bool varint(pb_t *b, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end) {
            return false;
        }
        uint8_t c = *b->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if ((c & 0x80) == 0) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* One field: its number and wire type, and its value (a varint or fixed
 * in *v, a length-delimited one in *sub). False on malformed bytes. */
static bool field(pb_t *b, uint32_t *num, int *wt, uint64_t *v, pb_t *sub)
{
    uint64_t key;
    if (!varint(b, &key) || (key >> 3) == 0 || (key >> 3) > UINT32_MAX) {
        return false;
    }
    *num = (uint32_t)(key >> 3);
    *wt = (int)(key & 7);
    switch (*wt) {
    case 0:
        return varint(b, v);
    case 1:
        if (b->end - b->p < 8) {
            return false;
        }
        *v = le64(b->p);
        b->p += 8;
        return true;
    case 2: {
        uint64_t l;
        if (!varint(b, &l) || l > (uint64_t)(b->end - b->p)) {
            return false;
        }
        sub->p = b->p;
        sub->end = b->p + l;
        b->p += l;
        return true;
    }
    case 5:
        if (b->end - b->p < 4) {
            return false;
        }
        *v = le32(b->p);
        b->p += 4;
        return true;
    default:
        return false; /* groups (3, 4) and 6, 7 are not in these messages */
    }
}

static double as_double(uint64_t v)
{
    double d;
    memcpy(&d, &v, sizeof(d));
    return d;
}

static float as_float(uint64_t v)
{
    uint32_t u = (uint32_t)v;
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

/* ---- what a value holds ----------------------------------------------------------------- */

#define VALS_MAX 4096 /* numbers of one tensor or histogram we keep */

typedef struct {
    double *v; /* VALS_MAX */
    size_t n;
    bool over; /* more than VALS_MAX */
} nums_t;

static void push(nums_t *a, double x)
{
    if (a->n < VALS_MAX) {
        a->v[a->n++] = x;
    } else {
        a->over = true;
    }
}

/* Repeated doubles or floats: packed (wire type 2) or one by one. */
static bool repeated(nums_t *a, int wt, uint64_t v, pb_t *sub, bool is_float)
{
    if (wt == 2) {
        size_t w = is_float ? 4 : 8;
        if ((size_t)(sub->end - sub->p) % w != 0) {
            return false;
        }
        for (const uint8_t *p = sub->p; p < sub->end; p += w) {
            push(a, is_float ? (double)as_float(le32(p)) : as_double(le64(p)));
        }
        return true;
    }
    if (wt != (is_float ? 5 : 1)) {
        return false;
    }
    push(a, is_float ? (double)as_float(v) : as_double(v));
    return true;
}

typedef struct {
    bool has_simple;
    double simple;
    bool has_histo;
    double hmin, hmax;
    nums_t limits, counts; /* HistogramProto bucket_limit, bucket */
    bool has_tensor;
    int dtype;
    nums_t tvals; /* the tensor's numbers */
    int64_t dims[4];
    int ndims;
    bool hist_plugin; /* metadata says histograms */
    const uint8_t *tag;
    size_t tag_len;
} value_t;

static bool histo(pb_t b, value_t *x)
{
    uint32_t num;
    int wt;
    uint64_t v;
    pb_t sub;
    x->has_histo = true;
    while (b.p < b.end) {
        if (!field(&b, &num, &wt, &v, &sub)) {
            return false;
        }
        if (num == 1 && wt == 1) {
            x->hmin = as_double(v);
        } else if (num == 2 && wt == 1) {
            x->hmax = as_double(v);
        } else if (num == 6) {
            if (!repeated(&x->limits, wt, v, &sub, false)) {
                return false;
            }
        } else if (num == 7) {
            if (!repeated(&x->counts, wt, v, &sub, false)) {
                return false;
            }
        }
    }
    return true;
}

static bool shape(pb_t b, value_t *x)
{
    uint32_t num;
    int wt;
    uint64_t v;
    pb_t sub;
    while (b.p < b.end) {
        if (!field(&b, &num, &wt, &v, &sub)) {
            return false;
        }
        if (num != 2 || wt != 2) {
            continue;
        }
        int64_t size = -1;
        pb_t d = sub;
        while (d.p < d.end) {
            uint32_t dn;
            int dwt;
            uint64_t dv;
            pb_t ds;
            if (!field(&d, &dn, &dwt, &dv, &ds)) {
                return false;
            }
            if (dn == 1 && dwt == 0) {
                size = (int64_t)dv;
            }
        }
        if (x->ndims == 4) {
            return false;
        }
        x->dims[x->ndims++] = size;
    }
    return true;
}

/* DataType: DT_FLOAT 1, DT_DOUBLE 2, DT_INT32 3, DT_INT64 9, DT_HALF 19 (not read). */
static bool tensor(pb_t b, value_t *x)
{
    uint32_t num;
    int wt;
    uint64_t v;
    pb_t sub;
    x->has_tensor = true;
    const uint8_t *content = NULL;
    size_t clen = 0;
    while (b.p < b.end) {
        if (!field(&b, &num, &wt, &v, &sub)) {
            return false;
        }
        if (num == 1 && wt == 0) {
            x->dtype = (int)v;
        } else if (num == 2 && wt == 2) {
            if (!shape(sub, x)) {
                return false;
            }
        } else if (num == 4 && wt == 2) {
            content = sub.p;
            clen = (size_t)(sub.end - sub.p);
        } else if (num == 5) {
            if (!repeated(&x->tvals, wt, v, &sub, true)) {
                return false;
            }
        } else if (num == 6) {
            if (!repeated(&x->tvals, wt, v, &sub, false)) {
                return false;
            }
        } else if ((num == 7 || num == 10) && (wt == 0 || wt == 2)) {
            if (wt == 0) {
                push(&x->tvals, num == 7 ? (double)(int32_t)v : (double)(int64_t)v);
            } else {
                pb_t pk = sub;
                while (pk.p < pk.end) {
                    uint64_t iv;
                    if (!varint(&pk, &iv)) {
                        return false;
                    }
                    push(&x->tvals, num == 7 ? (double)(int32_t)iv : (double)(int64_t)iv);
                }
            }
        }
    }
    if (content != NULL && (x->dtype == 1 || x->dtype == 2)) {
        pb_t c = {content, content + clen};
        return repeated(&x->tvals, 2, 0, &c, x->dtype == 1);
    }
    return true;
}

static bool metadata(pb_t b, value_t *x)
{
    uint32_t num;
    int wt;
    uint64_t v;
    pb_t sub;
    while (b.p < b.end) {
        if (!field(&b, &num, &wt, &v, &sub)) {
            return false;
        }
        if (num == 1 && wt == 2) { /* plugin_data {plugin_name = 1} */
            pb_t pd = sub;
            while (pd.p < pd.end) {
                uint32_t pn;
                int pwt;
                uint64_t pv;
                pb_t ps;
                if (!field(&pd, &pn, &pwt, &pv, &ps)) {
                    return false;
                }
                if (pn == 1 && pwt == 2) {
                    size_t l = (size_t)(ps.end - ps.p);
                    x->hist_plugin = l == 10 && memcmp(ps.p, "histograms", 10) == 0;
                }
            }
        }
    }
    return true;
}

static bool value(pb_t b, value_t *x)
{
    uint32_t num;
    int wt;
    uint64_t v;
    pb_t sub;
    while (b.p < b.end) {
        if (!field(&b, &num, &wt, &v, &sub)) {
            return false;
        }
        if (num == 1 && wt == 2) {
            x->tag = sub.p;
            x->tag_len = (size_t)(sub.end - sub.p);
        } else if (num == 2 && wt == 5) {
            x->has_simple = true;
            x->simple = (double)as_float(v);
        } else if (num == 5 && wt == 2) {
            if (!histo(sub, x)) {
                return false;
            }
        } else if (num == 8 && wt == 2) {
            if (!tensor(sub, x)) {
                return false;
            }
        } else if (num == 9 && wt == 2) {
            if (!metadata(sub, x)) {
                return false;
            }
        }
    }
    return true;
}

/* ---- histograms into edges ----------------------------------------------------------------- */

/* Edges e[0..n] and counts c[0..n) strictly ascending and finite, at most
 * TSDB_HIST_BINS_MAX buckets: zero-width buckets join their neighbour,
 * then neighbours are merged in groups. Returns n, 0 for none. */
static size_t tidy(double *e, double *c, size_t n)
{
    size_t k = 0;
    double pending = 0; /* counts of zero-width buckets before the first kept one */
    if (!isfinite(e[0]) || fabs(e[0]) > TSDB_TF_EDGE_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(e[i + 1]) || fabs(e[i + 1]) > TSDB_TF_EDGE_MAX || !isfinite(c[i]) ||
            c[i] < 0) {
            return 0;
        }
        if (e[i + 1] <= e[k]) { /* no width (or backwards): joins its neighbour */
            if (k > 0) {
                c[k - 1] += c[i];
            } else {
                pending += c[i];
            }
            continue;
        }
        e[k + 1] = e[i + 1];
        c[k] = c[i] + pending;
        pending = 0;
        k++;
    }
    if (k == 0) { /* every value the same: one bucket around it, inside the edge bound */
        double v = e[0], lo = v - 0.5, hi = v + 0.5;
        if (!(lo < v)) { /* v so large that half a unit is lost in rounding */
            lo = nextafter(v, -INFINITY);
        }
        if (!(hi > v)) {
            hi = nextafter(v, INFINITY);
        }
        e[0] = fmax(lo, -TSDB_TF_EDGE_MAX);
        e[1] = fmin(hi, TSDB_TF_EDGE_MAX);
        c[0] = pending;
        return isfinite(pending) ? 1 : 0;
    }
    if (k > TSDB_HIST_BINS_MAX) {
        size_t g = (k + TSDB_HIST_BINS_MAX - 1) / TSDB_HIST_BINS_MAX, m = 0;
        for (size_t i = 0; i < k; i += g) {
            double s = 0;
            size_t j = i;
            for (; j < i + g && j < k; j++) {
                s += c[j];
            }
            e[m + 1] = e[j];
            c[m] = s;
            m++;
        }
        k = m;
    }
    for (size_t i = 0; i < k; i++) {
        if (!isfinite(c[i])) { /* counts near DBL_MAX summed past it */
            return 0;
        }
    }
    return k;
}

/* HistogramProto: bucket i is (limit[i-1], limit[i]], the first from min,
 * the last (limit DBL_MAX) to max; empty buckets at the ends go. */
static size_t from_histo(const value_t *x, double *e, double *c)
{
    size_t n = x->limits.n < x->counts.n ? x->limits.n : x->counts.n;
    size_t first = 0, last = n;
    while (first < n && x->counts.v[first] == 0) {
        first++;
    }
    while (last > first && x->counts.v[last - 1] == 0) {
        last--;
    }
    if (first == last || x->limits.over || x->counts.over) {
        return 0;
    }
    size_t k = 0;
    e[0] = first > 0 ? x->limits.v[first - 1] : x->hmin;
    if (!isfinite(e[0]) || fabs(e[0]) > TSDB_TF_EDGE_MAX) {
        e[0] = x->hmin;
    }
    for (size_t i = first; i < last; i++) {
        double right = x->limits.v[i];
        if (!isfinite(right) || fabs(right) > TSDB_TF_EDGE_MAX ||
            (i == last - 1 && x->hmax < right)) {
            right = x->hmax;
        }
        e[k + 1] = right;
        c[k] = x->counts.v[i];
        k++;
    }
    if (e[0] > x->hmin && isfinite(x->hmin)) {
        e[0] = x->hmin;
    }
    return tidy(e, c, k);
}

/* TF2's histogram tensor: k rows of (left, right, count). */
static size_t from_tensor(const value_t *x, double *e, double *c)
{
    if (x->tvals.over || x->tvals.n % 3 != 0 || x->tvals.n == 0) {
        return 0;
    }
    size_t k = x->tvals.n / 3;
    e[0] = x->tvals.v[0];
    for (size_t i = 0; i < k; i++) {
        e[i + 1] = x->tvals.v[3 * i + 1];
        c[i] = x->tvals.v[3 * i + 2];
    }
    return tidy(e, c, k);
}

/* ---- an event -------------------------------------------------------------------------------- */

/* The values of one Summary: checked (cb NULL) or reported. */
static bool summary(pb_t b, int64_t step, double wall, const tsdb_tf_cb_t *cb, value_t *x,
                    double *e, double *c)
{
    uint32_t num;
    int wt;
    uint64_t v;
    pb_t sub;
    while (b.p < b.end) {
        if (!field(&b, &num, &wt, &v, &sub)) {
            return false;
        }
        if (num != 1 || wt != 2) {
            continue;
        }
        double *lv = x->limits.v, *cv = x->counts.v, *tv = x->tvals.v;
        memset(x, 0, sizeof(*x));
        x->limits.v = lv;
        x->counts.v = cv;
        x->tvals.v = tv;
        if (!value(sub, x)) {
            return false;
        }
        if (cb == NULL || x->tag == NULL || x->tag_len == 0) {
            continue;
        }
        bool tensor_hist = x->has_tensor && (x->hist_plugin || (x->ndims == 2 && x->dims[1] == 3));
        if (x->has_simple) {
            cb->scalar(cb->ud, (const char *)x->tag, x->tag_len, step, wall, x->simple);
        } else if (x->has_histo || tensor_hist) {
            size_t n = x->has_histo ? from_histo(x, e, c) : from_tensor(x, e, c);
            if (n > 0) {
                cb->histogram(cb->ud, (const char *)x->tag, x->tag_len, step, wall, e, c, n);
            }
        } else if (x->has_tensor && x->tvals.n == 1) {
            cb->scalar(cb->ud, (const char *)x->tag, x->tag_len, step, wall, x->tvals.v[0]);
        }
    }
    return true;
}

static bool event(const uint8_t *data, size_t len, const tsdb_tf_cb_t *cb, value_t *x, double *e,
                  double *c)
{
    pb_t b = {data, data + len};
    uint32_t num;
    int wt;
    uint64_t v;
    pb_t sub, sum = {NULL, NULL};
    int64_t step = 0;
    double wall = 0;
    while (b.p < b.end) {
        if (!field(&b, &num, &wt, &v, &sub)) {
            return false;
        }
        if (num == 1 && wt == 1) {
            wall = as_double(v);
        } else if (num == 2 && wt == 0) {
            step = (int64_t)v;
        } else if (num == 5 && wt == 2) {
            sum = sub;
        }
    }
    return sum.p == NULL || summary(sum, step, wall, cb, x, e, c);
}

int tsdb_tf_event(const uint8_t *data, size_t len, const tsdb_tf_cb_t *cb)
{
    value_t x;
    memset(&x, 0, sizeof(x));
    double *buf = malloc(sizeof(double) * (3 * VALS_MAX + 2 * (VALS_MAX + 1)));
    if (buf == NULL) {
        return -1;
    }
    x.limits.v = buf;
    x.counts.v = buf + VALS_MAX;
    x.tvals.v = buf + 2 * VALS_MAX;
    double *e = buf + 3 * VALS_MAX, *c = e + VALS_MAX + 1;
    /* checked whole first, so a malformed event reports nothing */
    bool ok = event(data, len, NULL, &x, e, c) && (cb == NULL || event(data, len, cb, &x, e, c));
    free(buf);
    return ok ? 0 : -1;
}
