/* SPDX-License-Identifier: MIT */
/* A chunk's rollup: its points in runs of TSDB_ROLL_POINTS (see tsdb.h). */
#include "tsdb/tsdb.h"

#include <string.h>

void tsdb_rolls_init(tsdb_rolls_t *r)
{
    memset(r, 0, sizeof(*r));
}

static void run_add(tsdb_roll_t *e, const tsdb_point_t *p)
{
    if (e->n == 0) {
        *e = (tsdb_roll_t){1,       p->step, p->step, p->t_ms, p->t_ms, p->step, p->t_ms,
                           p->step, p->t_ms, p->v,    p->v,    p->v,    p->v};
        return;
    }
    e->n++;
    e->s_lo = p->step < e->s_lo ? p->step : e->s_lo;
    e->s_hi = p->step > e->s_hi ? p->step : e->s_hi;
    e->t_lo = p->t_ms < e->t_lo ? p->t_ms : e->t_lo;
    e->t_hi = p->t_ms > e->t_hi ? p->t_ms : e->t_hi;
    if (p->v < e->min) {
        e->min = p->v;
        e->s_min = p->step;
        e->t_min = p->t_ms;
    }
    if (p->v > e->max) {
        e->max = p->v;
        e->s_max = p->step;
        e->t_max = p->t_ms;
    }
    e->sum += p->v;
    e->last = p->v;
}

void tsdb_rolls_add(tsdb_rolls_t *r, const tsdb_point_t *p)
{
    r->undo.n = r->n;
    r->undo.ok = true;
    if (r->n == 0 || (r->e[r->n - 1].n >= TSDB_ROLL_POINTS && r->n < TSDB_ROLL_MAX)) {
        r->e[r->n] = (tsdb_roll_t){0};
        r->n++;
    } else {
        r->undo.e = r->e[r->n - 1];
    }
    run_add(&r->e[r->n - 1], p);
}

bool tsdb_rolls_undo(tsdb_rolls_t *r)
{
    if (!r->undo.ok) {
        return false;
    }
    if (r->undo.n < r->n) {
        r->n = r->undo.n; /* the point had started a run */
    } else {
        r->e[r->n - 1] = r->undo.e;
    }
    r->undo.ok = false;
    return true;
}

tsdb_roll_t tsdb_rolls_total(const tsdb_rolls_t *r)
{
    tsdb_roll_t t = {0};
    for (size_t i = 0; i < r->n; i++) {
        const tsdb_roll_t *e = &r->e[i];
        if (i == 0) {
            t = *e;
            continue;
        }
        t.n += e->n;
        t.s_lo = e->s_lo < t.s_lo ? e->s_lo : t.s_lo;
        t.s_hi = e->s_hi > t.s_hi ? e->s_hi : t.s_hi;
        t.t_lo = e->t_lo < t.t_lo ? e->t_lo : t.t_lo;
        t.t_hi = e->t_hi > t.t_hi ? e->t_hi : t.t_hi;
        if (e->min < t.min) {
            t.min = e->min;
            t.s_min = e->s_min;
            t.t_min = e->t_min;
        }
        if (e->max > t.max) {
            t.max = e->max;
            t.s_max = e->s_max;
            t.t_max = e->t_max;
        }
        t.sum += e->sum;
        t.last = e->last;
    }
    return t;
}

/* ---- encoding ------------------------------------------------------------------------
 * Per run: n, s_lo and t_lo (as differences from the previous run's, the
 * first run's from 0), s_hi, t_hi, s_min, t_min, s_max, t_max (as
 * differences from s_lo / t_lo), all zigzag varints (differences taken
 * modulo 2^64, so any int64 steps round-trip), then min, max, sum, last as
 * 8 bytes each, little-endian (the machine's order: the codec's bit
 * streams already assume a little-endian host). */

#define ROLLS_VERSION 1

static size_t put_uv(uint8_t *b, uint64_t v)
{
    size_t i = 0;
    while (v >= 0x80) {
        b[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    b[i++] = (uint8_t)v;
    return i;
}

static size_t put_zz(uint8_t *b, int64_t later, int64_t base)
{
    uint64_t d = (uint64_t)later - (uint64_t)base;
    return put_uv(b, (d << 1) ^ (uint64_t)((int64_t)d >> 63));
}

static size_t put_f64(uint8_t *b, double v)
{
    memcpy(b, &v, sizeof(v)); /* little-endian, as tsdb_rolls_decode reads it */
    return 8;
}

/* Runs e[0..n) at buf, each s_lo and t_lo from the one before (the first
 * from 0): the bytes written. */
static size_t runs_put(const tsdb_roll_t *e, size_t n, uint8_t *buf)
{
    size_t o = 0;
    int64_t ps = 0, pt = 0;
    for (size_t i = 0; i < n; i++, e++) {
        o += put_uv(buf + o, (uint64_t)e->n);
        o += put_zz(buf + o, e->s_lo, ps);
        o += put_zz(buf + o, e->t_lo, pt);
        o += put_zz(buf + o, e->s_hi, e->s_lo);
        o += put_zz(buf + o, e->t_hi, e->t_lo);
        o += put_zz(buf + o, e->s_min, e->s_lo);
        o += put_zz(buf + o, e->t_min, e->t_lo);
        o += put_zz(buf + o, e->s_max, e->s_lo);
        o += put_zz(buf + o, e->t_max, e->t_lo);
        o += put_f64(buf + o, e->min);
        o += put_f64(buf + o, e->max);
        o += put_f64(buf + o, e->sum);
        o += put_f64(buf + o, e->last);
        ps = e->s_lo;
        pt = e->t_lo;
    }
    return o;
}

size_t tsdb_rolls_encode(const tsdb_rolls_t *r, uint8_t *buf)
{
    buf[0] = ROLLS_VERSION;
    buf[1] = (uint8_t)r->n;
    return 2 + runs_put(r->e, r->n, buf + 2);
}

typedef struct {
    const uint8_t *b;
    size_t len, pos;
    bool bad;
} rd_t;

static uint64_t __attribute__((noinline)) get_uv_long(rd_t *d)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (d->pos >= d->len) {
            break;
        }
        uint8_t c = d->b[d->pos++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if ((c & 0x80) == 0) {
            return v;
        }
    }
    d->bad = true;
    return 0;
}

static inline uint64_t get_uv(rd_t *d)
{
    /* most are one to three bytes (a run's step and time offsets, its count
     * of 128, a chunk's time span): without a call, the rest through
     * get_uv_long */
    if (d->len - d->pos >= 2) {
        uint8_t c0 = d->b[d->pos], c1 = d->b[d->pos + 1];
        if (c0 < 0x80) {
            d->pos++;
            return c0;
        }
        if (c1 < 0x80) {
            d->pos += 2;
            return (uint64_t)(c0 & 0x7f) | (uint64_t)c1 << 7;
        }
        if (d->len - d->pos >= 3 && d->b[d->pos + 2] < 0x80) { /* a time offset of seconds */
            uint8_t c2 = d->b[d->pos + 2];
            d->pos += 3;
            return (uint64_t)(c0 & 0x7f) | (uint64_t)(c1 & 0x7f) << 7 | (uint64_t)c2 << 14;
        }
    }
    return get_uv_long(d);
}

static inline int64_t get_zz(rd_t *d, int64_t base)
{
    uint64_t z = get_uv(d);
    uint64_t diff = (z >> 1) ^ (0 - (z & 1));
    return (int64_t)((uint64_t)base + diff);
}

/* A run that could have been built from points: a count, ranges in order,
 * the extremes' places inside them and in order with each other. */
static bool run_ok(const tsdb_roll_t *e)
{
    return e->n >= 1 && e->s_lo <= e->s_hi && e->t_lo <= e->t_hi && e->s_min >= e->s_lo &&
           e->s_min <= e->s_hi && e->s_max >= e->s_lo && e->s_max <= e->s_hi &&
           e->t_min >= e->t_lo && e->t_min <= e->t_hi && e->t_max >= e->t_lo &&
           e->t_max <= e->t_hi && e->min <= e->max;
}

/* n runs from d into e[0..n) (as runs_put wrote them): false on bytes
 * that are not runs. */
static bool runs_get(rd_t *d, tsdb_roll_t *e, size_t n)
{
    int64_t ps = 0, pt = 0;
    for (size_t i = 0; i < n && !d->bad; i++, e++) {
        uint64_t cnt = get_uv(d);
        e->n = cnt > (uint64_t)INT32_MAX ? 0 : (int64_t)cnt;
        e->s_lo = get_zz(d, ps);
        e->t_lo = get_zz(d, pt);
        e->s_hi = get_zz(d, e->s_lo);
        e->t_hi = get_zz(d, e->t_lo);
        e->s_min = get_zz(d, e->s_lo);
        e->t_min = get_zz(d, e->t_lo);
        e->s_max = get_zz(d, e->s_lo);
        e->t_max = get_zz(d, e->t_lo);
        if (d->len - d->pos < 4 * 8) { /* the four doubles, checked once */
            d->bad = true;
            break;
        }
        const uint8_t *f = d->b + d->pos; /* little-endian, as put_f64 wrote them */
        memcpy(&e->min, f, 8);
        memcpy(&e->max, f + 8, 8);
        memcpy(&e->sum, f + 16, 8);
        memcpy(&e->last, f + 24, 8);
        d->pos += 4 * 8;
        ps = e->s_lo;
        pt = e->t_lo;
        d->bad = d->bad || !run_ok(e);
    }
    return !d->bad;
}

int tsdb_rolls_decode(const uint8_t *buf, size_t len, tsdb_rolls_t *r)
{
    /* not tsdb_rolls_init: the runs past n are never read, and clearing
     * all TSDB_ROLL_MAX of them was a tenth of a wide read's decoding */
    r->n = 0;
    r->undo.ok = false;
    r->undo.n = 0;
    if (buf == NULL || len < 2 || buf[0] != ROLLS_VERSION || buf[1] < 1 || buf[1] > TSDB_ROLL_MAX) {
        return -1;
    }
    rd_t d = {buf, len, 2, false};
    size_t n = buf[1];
    if (!runs_get(&d, r->e, n) || d.pos != len) {
        return -1;
    }
    r->n = n;
    return 0;
}

/* ---- a row of chunk totals -------------------------------------------------------------
 * A version byte, the count, the places (one byte each, ascending), then the
 * totals as runs_put writes runs: each from the one before, so a row of
 * neighbouring chunks costs two or three bytes an x offset. */

#define TOTALS_VERSION 1

size_t tsdb_totals_encode(const tsdb_roll_t *e, const uint8_t *place, size_t n, uint8_t *buf)
{
    buf[0] = TOTALS_VERSION;
    buf[1] = (uint8_t)n;
    memcpy(buf + 2, place, n);
    return 2 + n + runs_put(e, n, buf + 2 + n);
}

int tsdb_totals_decode(const uint8_t *buf, size_t len, tsdb_roll_t *e, uint8_t *place, size_t max)
{
    if (buf == NULL || len < 2 || buf[0] != TOTALS_VERSION || buf[1] > max ||
        len < 2 + (size_t)buf[1]) {
        return -1;
    }
    size_t n = buf[1];
    for (size_t i = 0; i < n; i++) {
        place[i] = buf[2 + i];
        if (i > 0 && place[i] <= place[i - 1]) {
            return -1;
        }
    }
    rd_t d = {buf, len, 2 + n, false};
    if (!runs_get(&d, e, n) || d.pos != len) {
        return -1;
    }
    return (int)n;
}
