/* SPDX-License-Identifier: MIT */
/*
 * SHA-1 (FIPS 180-4), SHA-256 and base64 (RFC 4648), for the WebSocket
 * accept key and the migration checksums, and CRC32C for the event log's
 * records. Our own small versions: calling
 * OpenSSL for them initialised its providers at start-up, which kept about
 * 3.5 MB of libcrypto resident in an otherwise idle daemon.
 */
#include "core.h"

#include <errno.h>
#include <pthread.h>
#include <sys/random.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

typedef void (*block_fn)(uint32_t *h, const uint8_t *block);

/* Feeds data and the padding (0x80, zeros, 64-bit big-endian bit length) to
 * a 64-byte block function; both hashes share it. */
static void md_run(block_fn fn, uint32_t *h, const void *data, size_t len)
{
    const uint8_t *p = data;
    size_t left = len;
    while (left >= 64) {
        fn(h, p);
        p += 64;
        left -= 64;
    }
    uint8_t tail[128] = {0};
    memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t n = left < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    put_be32(tail + n - 8, (uint32_t)(bits >> 32));
    put_be32(tail + n - 4, (uint32_t)bits);
    fn(h, tail);
    if (n == 128) {
        fn(h, tail + 64);
    }
}

static void sha1_block(uint32_t *h, const uint8_t *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++) {
        w[i] = be32(p + 4 * i);
    }
    for (int i = 16; i < 80; i++) {
        w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t t = ROL(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = ROL(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

uint32_t ad_hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        h = (h ^ *c) * 16777619u;
    }
    return h;
}

void ad_sha1(const void *data, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    md_run(sha1_block, h, data, len);
    for (int i = 0; i < 5; i++) {
        put_be32(out + 4 * i, h[i]);
    }
}

static const uint32_t k256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static void sha256_block(uint32_t *h, const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++) {
        w[i] = be32(p + 4 * i);
    }
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t s1 = ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + s1 + ch + k256[i] + w[i];
        uint32_t s0 = ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = s0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

void ad_sha256(const void *data, size_t len, uint8_t out[32])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    md_run(sha256_block, h, data, len);
    for (int i = 0; i < 8; i++) {
        put_be32(out + 4 * i, h[i]);
    }
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t ad_base64_encode(const uint8_t *in, size_t len, char *out, size_t outsz)
{
    size_t need = (len + 2) / 3 * 4;
    if (outsz < need + 1) {
        return 0;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) {
            v |= (uint32_t)in[i + 1] << 8;
        }
        if (i + 2 < len) {
            v |= in[i + 2];
        }
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < len ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int b64_value(char c)
{
    const char *p = c != '\0' ? strchr(b64, c) : NULL;
    return p != NULL ? (int)(p - b64) : -1;
}

int ad_base64_decode(const char *in, size_t len, uint8_t *out, size_t outsz)
{
    if (len % 4 != 0) {
        return AD_EINVAL;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int pad = 0;
        uint32_t v = 0;
        for (int j = 0; j < 4; j++) {
            char c = in[i + j];
            int d;
            if (c == '=' && last && j >= 2 && (j == 3 || in[i + 3] == '=')) {
                pad++;
                d = 0;
            } else {
                d = b64_value(c);
                if (d < 0 || pad > 0) {
                    return AD_EINVAL;
                }
            }
            v = v << 6 | (uint32_t)d;
        }
        size_t n = 3 - (size_t)pad;
        if (o + n > outsz) {
            return AD_ETOOBIG;
        }
        out[o++] = (uint8_t)(v >> 16);
        if (n > 1) {
            out[o++] = (uint8_t)(v >> 8);
        }
        if (n > 2) {
            out[o++] = (uint8_t)v;
        }
    }
    return (int)o;
}

void ad_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t md[32];
    ad_sha256(data, len, md);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

void ad_trace_ids(const char *run_id, const char *child, char trace[33], char span[17])
{
    char h[65], key[512];
    ad_sha256_hex(run_id, strlen(run_id), h);
    memcpy(trace, h, 32);
    trace[32] = '\0';
    if (child != NULL) {
        int n = snprintf(key, sizeof(key), "%s/%s", run_id, child);
        ad_sha256_hex(key, n > 0 && (size_t)n < sizeof(key) ? (size_t)n : sizeof(key) - 1, h);
        memcpy(span, h, 16);
    } else {
        memcpy(span, h + 32, 16);
    }
    span[16] = '\0';
}

/* ---- CRC32C ------------------------------------------------------------------ */

/* The Castagnoli polynomial, bit-reversed (the CRC is computed LSB first). */
#define CRC32C_POLY 0x82f63b78u

static uint32_t crc32c_table[256];
static bool crc32c_hw;

static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        }
        crc32c_table[i] = c;
    }
#if defined(__x86_64__)
    crc32c_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc32c_sw(uint32_t c, const uint8_t *p, size_t n)
{
    while (n-- > 0) {
        c = crc32c_table[(c ^ *p++) & 0xff] ^ (c >> 8);
    }
    return c;
}

#if defined(__x86_64__)
/* Eight bytes an instruction; the unaligned loads are fine on x86. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_x86(uint32_t c, const uint8_t *p, size_t n)
{
    uint64_t c64 = c;
    for (; n >= 8; n -= 8, p += 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = __builtin_ia32_crc32di(c64, w);
    }
    c = (uint32_t)c64;
    for (; n > 0; n--) {
        c = __builtin_ia32_crc32qi(c, *p++);
    }
    return c;
}
#endif

uint32_t ad_crc32c(uint32_t crc, const void *data, size_t len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc32c_init);
    uint32_t c = ~crc;
#if defined(__x86_64__)
    if (crc32c_hw) {
        return ~crc32c_x86(c, data, len);
    }
#endif
    return ~crc32c_sw(c, data, len);
}

bool ad_consttime_eq(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a;
    const volatile unsigned char *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++) {
        d |= (unsigned char)(x[i] ^ y[i]);
    }
    return d == 0;
}

int ad_secret_new(char out[AD_SECRET_MAX])
{
    uint8_t raw[32];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return AD_EIO;
        }
        got += (size_t)n;
    }
    char b[48];
    size_t len = ad_base64_encode(raw, sizeof(raw), b, sizeof(b));
    size_t o = 0;
    for (size_t i = 0; i < len && b[i] != '='; i++) {
        out[o++] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : b[i];
    }
    out[o] = '\0';
    return 0;
}

void ad_hmac_sha256(const uint8_t *key, size_t klen, const char *msg, size_t mlen, uint8_t out[32])
{
    uint8_t k[64] = {0};
    if (klen > 64) {
        ad_sha256(key, klen, k);
    } else {
        memcpy(k, key, klen);
    }
    uint8_t *buf = ad_xmalloc(64 + (mlen > 32 ? mlen : 32));
    for (int i = 0; i < 64; i++) {
        buf[i] = k[i] ^ 0x36;
    }
    memcpy(buf + 64, msg, mlen);
    uint8_t inner[32];
    ad_sha256(buf, 64 + mlen, inner);
    for (int i = 0; i < 64; i++) {
        buf[i] = k[i] ^ 0x5c;
    }
    memcpy(buf + 64, inner, 32);
    ad_sha256(buf, 64 + 32, out);
    memset(buf, 0, 64);
    memset(k, 0, sizeof(k));
    free(buf);
}
