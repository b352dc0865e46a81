/* SPDX-License-Identifier: MIT */
/*
 * The chunk bit stream (see tsdb.h). Layout per point:
 *   first point: step and time as 64 raw bits each, value as 64 raw bits;
 *   then: step delta-of-delta, time delta-of-delta, value, each as
 *     '0'                      the same as before (dod 0 / same value), or
 *     dod:   '1' len:6 zz:len  the zigzagged difference in len+1 bits
 *     value: '10' scale:3 len:5 zz:len   a whole number of 10^-scale units
 *            more than the previous value (rewards logged to a few decimals)
 *            '11' '0' bits     Gorilla's XOR inside the previous window
 *            '11' '1' lead:5 len:6 bits   a new window (lead capped at 31)
 * The encoder picks the shorter of the decimal and the XOR form; the
 * decimal one is used only when it gives back the exact same double.
 * Bits are written most significant first.
 */
#include "tsdb/tsdb.h"

#include "core/core.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- bits ------------------------------------------------------------------------- */

static void put_bits(tsdb_enc_t *e, uint64_t v, int n)
{
    size_t need = (e->bits + (size_t)n + 7) / 8 + 8;
    if (need > e->cap) {
        size_t cap = e->cap < 256 ? 256 : e->cap;
        while (cap < need) {
            cap *= 2;
        }
        e->buf = ad_xrealloc(e->buf, cap);
        memset(e->buf + e->cap, 0, cap - e->cap);
        e->cap = cap;
    }
    for (int i = n - 1; i >= 0; i--) {
        if ((v >> i) & 1u) {
            e->buf[e->bits >> 3] |= (uint8_t)(0x80u >> (e->bits & 7));
        }
        e->bits++;
    }
}

/* The 64 bits starting at byte i, big-endian, zeros past the end. */
static inline uint64_t load64(const tsdb_dec_t *d, size_t i)
{
    uint64_t r = 0;
    if (i + 8 <= d->len) {
        memcpy(&r, d->buf + i, sizeof(r));
        return __builtin_bswap64(r); /* x86 and arm64 Linux are little-endian */
    }
    for (int k = 0; k < 8; k++) {
        r = (r << 8) | (i + (size_t)k < d->len ? d->buf[i + (size_t)k] : 0u);
    }
    return r;
}

/* Reads n bits (1 <= n <= 64) into *v: 0, or -1 past the end. */
static inline int get_bits(tsdb_dec_t *d, int n, uint64_t *v)
{
    if (d->pos + (size_t)n > d->len * 8) {
        return -1;
    }
    if (n > 56) { /* more than one unaligned 64-bit load can hold */
        uint64_t hi = 0, lo = 0;
        get_bits(d, 32, &hi);
        get_bits(d, n - 32, &lo);
        *v = (hi << (n - 32)) | lo;
        return 0;
    }
    uint64_t w = load64(d, d->pos >> 3) << (d->pos & 7);
    *v = w >> (64 - n);
    d->pos += (size_t)n;
    return 0;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t z)
{
    return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

static int bit_len(uint64_t v)
{
    return v == 0 ? 1 : 64 - __builtin_clzll(v);
}

static uint64_t dbits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
}

static double bitsd(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof(v));
    return v;
}

/* ---- encoder ---------------------------------------------------------------------- */

void tsdb_enc_init(tsdb_enc_t *e)
{
    memset(e, 0, sizeof(*e));
    e->lead = -1;
}

static void put_dod(tsdb_enc_t *e, int64_t dod)
{
    if (dod == 0) {
        put_bits(e, 0, 1);
        return;
    }
    uint64_t z = zigzag(dod);
    int len = bit_len(z);
    put_bits(e, 1, 1);
    put_bits(e, (uint64_t)(len - 1), 6);
    put_bits(e, z, len);
}

/* Powers of ten a value may be a whole multiple of (index: 3 bits). */
static const double SCALES[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
#define NSCALES 7
#define SCALE_LIMIT 4503599627370496.0 /* 2^52: integers exact in a double */

/* The cheapest decimal delta for v after prev: scale index and zigzagged
 * delta, or -1 when v is no whole multiple of 10^-k (k <= 6). */
static int decimal_delta(double prev, double v, uint64_t *zz)
{
    for (int i = 0; i < NSCALES; i++) {
        double s = SCALES[i];
        if (!(fabs(v * s) < SCALE_LIMIT) || !(fabs(prev * s) < SCALE_LIMIT)) {
            return -1;
        }
        long long V = llround(v * s), P = llround(prev * s);
        if (dbits((double)V / s) == dbits(v)) {
            *zz = zigzag((int64_t)V - (int64_t)P);
            return i;
        }
    }
    return -1;
}

/* The value after prev: '0' the same; '10' scale:3 len:5 delta as a
 * decimal (values logged to a few decimals); '11' then Gorilla's XOR:
 * '0' bits inside the previous window, '1' lead:5 len:6 bits. */
static void put_value(tsdb_enc_t *e, double prev, double v)
{
    uint64_t x = dbits(v) ^ dbits(prev);
    if (x == 0) {
        put_bits(e, 0, 1);
        return;
    }
    int lead = __builtin_clzll(x), trail = __builtin_ctzll(x);
    lead = lead > 31 ? 31 : lead;
    bool reuse = e->lead >= 0 && lead >= e->lead && trail >= e->trail;
    int xor_cost = reuse ? 3 + 64 - e->lead - e->trail : 3 + 11 + 64 - lead - trail;
    uint64_t zz = 0;
    int sc = decimal_delta(prev, v, &zz);
    if (sc >= 0 && bit_len(zz) <= 32 && 2 + 3 + 5 + bit_len(zz) < xor_cost) {
        put_bits(e, 2, 2);
        put_bits(e, (uint64_t)sc, 3);
        put_bits(e, (uint64_t)(bit_len(zz) - 1), 5);
        put_bits(e, zz, bit_len(zz));
        return;
    }
    put_bits(e, 3, 2);
    if (reuse) {
        put_bits(e, 0, 1);
        put_bits(e, x >> e->trail, 64 - e->lead - e->trail);
        return;
    }
    int len = 64 - lead - trail;
    put_bits(e, 1, 1);
    put_bits(e, (uint64_t)lead, 5);
    put_bits(e, (uint64_t)(len - 1), 6);
    put_bits(e, x >> trail, len);
    e->lead = lead;
    e->trail = trail;
}

void tsdb_enc_add(tsdb_enc_t *e, const tsdb_point_t *p)
{
    e->undo.bits = e->bits;
    e->undo.prev = e->prev;
    e->undo.dstep = e->dstep;
    e->undo.dt = e->dt;
    e->undo.lead = e->lead;
    e->undo.trail = e->trail;
    e->undo.ok = true;
    if (e->n == 0) {
        put_bits(e, (uint64_t)p->step, 64);
        put_bits(e, (uint64_t)p->t_ms, 64);
        put_bits(e, dbits(p->v), 64);
    } else {
        int64_t ds = (int64_t)((uint64_t)p->step - (uint64_t)e->prev.step);
        int64_t dt = (int64_t)((uint64_t)p->t_ms - (uint64_t)e->prev.t_ms);
        put_dod(e, (int64_t)((uint64_t)ds - (uint64_t)e->dstep));
        put_dod(e, (int64_t)((uint64_t)dt - (uint64_t)e->dt));
        put_value(e, e->prev.v, p->v);
        e->dstep = ds;
        e->dt = dt;
    }
    e->prev = *p;
    e->n++;
}

bool tsdb_enc_undo(tsdb_enc_t *e)
{
    if (!e->undo.ok || e->n == 0) {
        return false;
    }
    /* put_bits only ORs ones in: the taken-back bits must read as zeros */
    size_t from = e->undo.bits, end = (e->bits + 7) / 8;
    if (from & 7) {
        e->buf[from >> 3] &= (uint8_t)(0xFFu << (8 - (from & 7)));
    }
    size_t first = (from + 7) / 8;
    if (end > first) {
        memset(e->buf + first, 0, end - first);
    }
    e->bits = from;
    e->prev = e->undo.prev;
    e->dstep = e->undo.dstep;
    e->dt = e->undo.dt;
    e->lead = e->undo.lead;
    e->trail = e->undo.trail;
    e->undo.ok = false;
    e->n--;
    return true;
}

size_t tsdb_enc_bytes(const tsdb_enc_t *e)
{
    return (e->bits + 7) / 8;
}

void tsdb_enc_free(tsdb_enc_t *e)
{
    free(e->buf);
    tsdb_enc_init(e);
}

/* ---- decoder ---------------------------------------------------------------------- */

void tsdb_dec_init(tsdb_dec_t *d, const uint8_t *buf, size_t len, size_t n)
{
    memset(d, 0, sizeof(*d));
    d->buf = buf;
    d->len = len;
    d->n = n;
    d->left = n;
    d->lead = -1;
}

static int get_dod(tsdb_dec_t *d, int64_t *dod)
{
    uint64_t b, len, z;
    if (get_bits(d, 1, &b) != 0) {
        return -1;
    }
    if (b == 0) {
        *dod = 0;
        return 0;
    }
    if (get_bits(d, 6, &len) != 0 || get_bits(d, (int)len + 1, &z) != 0) {
        return -1;
    }
    *dod = unzigzag(z);
    return 0;
}

static int get_decimal(tsdb_dec_t *d, double *v)
{
    uint64_t sc, len, zz;
    if (get_bits(d, 3, &sc) != 0 || sc >= NSCALES || get_bits(d, 5, &len) != 0 ||
        get_bits(d, (int)len + 1, &zz) != 0) {
        return -1;
    }
    double s = SCALES[sc];
    if (!(fabs(d->prev.v * s) < SCALE_LIMIT)) {
        return -1;
    }
    long long P = llround(d->prev.v * s);
    *v = (double)(int64_t)((uint64_t)P + (uint64_t)unzigzag(zz)) / s;
    return 0;
}

static int get_value(tsdb_dec_t *d, double *v)
{
    uint64_t b, lead, len, bits;
    if (get_bits(d, 1, &b) != 0) {
        return -1;
    }
    if (b == 0) {
        *v = d->prev.v;
        return 0;
    }
    if (get_bits(d, 1, &b) != 0) {
        return -1;
    }
    if (b == 0) {
        return get_decimal(d, v);
    }
    if (get_bits(d, 1, &b) != 0) {
        return -1;
    }
    if (b == 0) {
        if (d->lead < 0 || get_bits(d, 64 - d->lead - d->trail, &bits) != 0) {
            return -1;
        }
        *v = bitsd(dbits(d->prev.v) ^ (bits << d->trail));
        return 0;
    }
    if (get_bits(d, 5, &lead) != 0 || get_bits(d, 6, &len) != 0) {
        return -1;
    }
    int n = (int)len + 1;
    if ((int)lead + n > 64 || get_bits(d, n, &bits) != 0) {
        return -1;
    }
    d->lead = (int)lead;
    d->trail = 64 - (int)lead - n;
    *v = bitsd(dbits(d->prev.v) ^ (bits << d->trail));
    return 0;
}

int tsdb_dec_next(tsdb_dec_t *d, tsdb_point_t *p)
{
    if (d->left == 0) {
        return 0;
    }
    uint64_t a, b, c;
    if (d->left == d->n) {
        if (get_bits(d, 64, &a) != 0 || get_bits(d, 64, &b) != 0 || get_bits(d, 64, &c) != 0) {
            return -1;
        }
        d->prev = (tsdb_point_t){(int64_t)a, (int64_t)b, bitsd(c)};
    } else {
        int64_t dds, ddt;
        double v;
        if (get_dod(d, &dds) != 0 || get_dod(d, &ddt) != 0 || get_value(d, &v) != 0) {
            return -1;
        }
        d->dstep = (int64_t)((uint64_t)d->dstep + (uint64_t)dds);
        d->dt = (int64_t)((uint64_t)d->dt + (uint64_t)ddt);
        d->prev.step = (int64_t)((uint64_t)d->prev.step + (uint64_t)d->dstep);
        d->prev.t_ms = (int64_t)((uint64_t)d->prev.t_ms + (uint64_t)d->dt);
        d->prev.v = v;
    }
    d->left--;
    *p = d->prev;
    return 1;
}

int tsdb_decode_all(const uint8_t *buf, size_t len, size_t n, tsdb_point_t *out)
{
    tsdb_dec_t d;
    tsdb_dec_init(&d, buf, len, n);
    for (size_t i = 0; i < n; i++) {
        if (tsdb_dec_next(&d, &out[i]) != 1) {
            return -1;
        }
    }
    return 0;
}
