/* SPDX-License-Identifier: MIT */
/*
 * The chunk bit stream (see tsdb.h). Layout per point:
 *   first point: step and time as 64 raw bits each, value as 64 raw bits;
 *   then: step delta-of-delta, time delta-of-delta, value XOR, each as
 *     '0'                      the same as before (dod 0 / XOR 0), or
 *     dod:   '1' len:6 zz:len  the zigzagged difference in len+1 bits
 *     XOR:   '1' '0' bits      inside the previous window of meaningful bits
 *            '1' '1' lead:5 len:6 bits   a new window (lead capped at 31)
 * Bits are written most significant first.
 */
#include "tsdb/tsdb.h"

#include "core/core.h"

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

/* Reads n bits (n <= 64) into *v: 0, or -1 past the end. */
static int get_bits(tsdb_dec_t *d, int n, uint64_t *v)
{
    if (d->pos + (size_t)n > d->len * 8) {
        return -1;
    }
    uint64_t r = 0;
    for (int i = 0; i < n; i++) {
        size_t p = d->pos++;
        r = (r << 1) | ((d->buf[p >> 3] >> (7 - (p & 7))) & 1u);
    }
    *v = r;
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

static void put_xor(tsdb_enc_t *e, uint64_t x)
{
    if (x == 0) {
        put_bits(e, 0, 1);
        return;
    }
    int lead = __builtin_clzll(x), trail = __builtin_ctzll(x);
    if (lead > 31) {
        lead = 31;
    }
    put_bits(e, 1, 1);
    if (e->lead >= 0 && lead >= e->lead && trail >= e->trail) {
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
    if (e->n == 0) {
        put_bits(e, (uint64_t)p->step, 64);
        put_bits(e, (uint64_t)p->t_ms, 64);
        put_bits(e, dbits(p->v), 64);
    } else {
        int64_t ds = (int64_t)((uint64_t)p->step - (uint64_t)e->prev.step);
        int64_t dt = (int64_t)((uint64_t)p->t_ms - (uint64_t)e->prev.t_ms);
        put_dod(e, (int64_t)((uint64_t)ds - (uint64_t)e->dstep));
        put_dod(e, (int64_t)((uint64_t)dt - (uint64_t)e->dt));
        put_xor(e, dbits(p->v) ^ dbits(e->prev.v));
        e->dstep = ds;
        e->dt = dt;
    }
    e->prev = *p;
    e->n++;
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

static int get_xor(tsdb_dec_t *d, uint64_t *x)
{
    uint64_t b, lead, len, v;
    if (get_bits(d, 1, &b) != 0) {
        return -1;
    }
    if (b == 0) {
        *x = 0;
        return 0;
    }
    if (get_bits(d, 1, &b) != 0) {
        return -1;
    }
    if (b == 0) {
        if (d->lead < 0 || get_bits(d, 64 - d->lead - d->trail, &v) != 0) {
            return -1;
        }
        *x = v << d->trail;
        return 0;
    }
    if (get_bits(d, 5, &lead) != 0 || get_bits(d, 6, &len) != 0) {
        return -1;
    }
    int n = (int)len + 1;
    if ((int)lead + n > 64 || get_bits(d, n, &v) != 0) {
        return -1;
    }
    d->lead = (int)lead;
    d->trail = 64 - (int)lead - n;
    *x = v << d->trail;
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
        uint64_t x;
        if (get_dod(d, &dds) != 0 || get_dod(d, &ddt) != 0 || get_xor(d, &x) != 0) {
            return -1;
        }
        d->dstep = (int64_t)((uint64_t)d->dstep + (uint64_t)dds);
        d->dt = (int64_t)((uint64_t)d->dt + (uint64_t)ddt);
        d->prev.step = (int64_t)((uint64_t)d->prev.step + (uint64_t)d->dstep);
        d->prev.t_ms = (int64_t)((uint64_t)d->prev.t_ms + (uint64_t)d->dt);
        d->prev.v = bitsd(dbits(d->prev.v) ^ x);
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
