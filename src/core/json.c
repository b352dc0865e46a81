/* SPDX-License-Identifier: MIT */
/*
 * JSON text written by hand on hot paths (event envelopes and payloads,
 * message rows, HTTP answers): the string escaper, byte-identical to
 * jansson's JSON_COMPACT output, reals that read back exactly without
 * printf, and the writer of a whole jansson value with both (it was the bus's
 * payload writer; jansson's dump was the largest cost of publishing).
 */
#include "core.h"
#include <jansson.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Bytes from s that need no escaping. With SSE2 (every x86-64) sixteen at
 * a time, the last partial block through a padded copy so short strings
 * (keys, ids, types) take one test; elsewhere eight at a time while no
 * byte of the word is below 0x20, '"' or '\\' (each word test can flag a
 * byte that is fine, never miss one that is not; the byte loop decides),
 * then one at a time. */
#ifdef __SSE2__
static int escape_mask(const unsigned char *p)
{
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i low = _mm_set1_epi8(0x1f);
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    /* min(v, 0x1f) == v exactly for the bytes below 0x20 (unsigned). */
    __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(v, low), v),
                               _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
    return _mm_movemask_epi8(hit);
}

static size_t plain_run(const unsigned char *s, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        int mask = escape_mask(s + i);
        if (mask != 0) {
            return i + (size_t)__builtin_ctz((unsigned)mask);
        }
    }
    if (i < n) {
        unsigned char tail[16];
        memset(tail, 'a', sizeof(tail));
        memcpy(tail, s + i, n - i);
        int mask = escape_mask(tail);
        return mask != 0 ? i + (size_t)__builtin_ctz((unsigned)mask) : n;
    }
    return n;
}
#else
static size_t plain_run(const unsigned char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t q = w ^ (ones * '"');
        uint64_t bs = w ^ (ones * '\\');
        uint64_t hit = ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs);
        if ((hit & high) != 0) {
            break;
        }
    }
    while (i < n && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\') {
        i++;
    }
    return i;
}
#endif

int ad_json_string(ad_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = plain_run((const unsigned char *)s, n);
    int rc = ad_buf_putc(b, '"');
    if (i == n) { /* nothing to escape, the usual case: one copy */
        rc = rc ? rc : ad_buf_append(b, s, n);
        return rc ? rc : ad_buf_putc(b, '"');
    }
    size_t run = 0;
    for (; i < n && rc == 0; i++) {
        i += plain_run((const unsigned char *)s + i, n - i);
        if (i >= n) {
            break;
        }
        unsigned char c = (unsigned char)s[i];
        rc = ad_buf_append(b, s + run, i - run);
        char e[6] = {'\\', (char)c, '0', '0', hex[c >> 4], hex[c & 15]};
        size_t len = 2;
        switch (c) {
        case '"':
        case '\\':
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
            e[1] = 'u';
            len = 6;
            break;
        }
        rc = rc ? rc : ad_buf_append(b, e, len);
        run = i + 1;
    }
    rc = rc ? rc : ad_buf_append(b, s + run, n - run);
    return rc ? rc : ad_buf_putc(b, '"');
}

char *ad_json_line(const json_t *j, size_t flags, size_t *len)
{
    char *text = json_dumps(j, flags);
    if (text == NULL) {
        return NULL;
    }
    size_t n = strlen(text);
    char *out = ad_xmalloc(n + 2);
    memcpy(out, text, n);
    out[n] = '\n';
    out[n + 1] = '\0';
    free(text);
    *len = n + 1;
    return out;
}

/* ---- non-finite numbers ------------------------------------------------------------ */

/* The bare token at p (outside a string), or NULL. */
static const char *nonfinite_token(const char *p, size_t left, size_t *toklen)
{
    static const char *const toks[] = {"-Infinity", "Infinity", "NaN"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(toks[i]);
        if (left >= n && memcmp(p, toks[i], n) == 0) {
            *toklen = n;
            return toks[i];
        }
    }
    return NULL;
}

json_t *ad_json_load_nonfinite(const char *text, size_t len)
{
    if (len > ((size_t)64 << 20)) {
        return NULL;
    }
    ad_buf_t b;
    ad_buf_init(&b, len * 2 + 16);
    bool in_str = false, esc = false, any = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        size_t n = 0;
        const char *tok = !in_str ? nonfinite_token(text + i, len - i, &n) : NULL;
        if (tok != NULL) {
            any = true;
            AD_DISCARD(ad_buf_putc(&b, '"')); /* sized for every byte doubled */
            AD_DISCARD(ad_buf_append(&b, tok, n));
            AD_DISCARD(ad_buf_putc(&b, '"'));
            i += n - 1;
            continue;
        }
        if (in_str) {
            if (esc) {
                esc = false;
            } else if (c == '\\') {
                esc = true;
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        }
        AD_DISCARD(ad_buf_putc(&b, c));
    }
    json_t *out = NULL;
    if (any) {
        json_error_t jerr;
        out = json_loadb(b.data, b.len, 0, &jerr);
    }
    ad_buf_cleanup(&b);
    return out;
}

const char *ad_jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

bool ad_json_number_ext(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (s == NULL) {
        return false;
    }
    if (strcmp(s, "NaN") == 0) {
        *out = NAN;
    } else if (strcmp(s, "Infinity") == 0) {
        *out = INFINITY;
    } else if (strcmp(s, "-Infinity") == 0) {
        *out = -INFINITY;
    } else {
        return false;
    }
    return true;
}

json_t *ad_json_text(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j != NULL) {
        return j;
    }
    ad_buf_t b;
    ad_buf_init(&b, n * 3 + 16);
    /* Sized for the worst case (every byte a 3-byte U+FFFD): cannot fail. */
    AD_DISCARD(ad_utf8_repair(&b, s, n));
    j = json_stringn(b.data != NULL ? b.data : "", b.len);
    ad_buf_cleanup(&b);
    return j != NULL ? j : json_string("");
}

/* v's decimal digits written backwards, ending just before end, two at a
 * time (half the divisions: the integers of a list's answer were 6 % of
 * its instructions); returns the first. */
static char *u64_digits(char *end, uint64_t v)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    char *p = end;
    while (v >= 100) {
        const char *d = pairs + 2 * (v % 100);
        v /= 100;
        *--p = d[1];
        *--p = d[0];
    }
    if (v >= 10) {
        *--p = pairs[2 * v + 1];
        *--p = pairs[2 * v];
    } else {
        *--p = (char)('0' + v);
    }
    return p;
}

int ad_json_integer(ad_buf_t *b, int64_t v)
{
    char num[24];
    char *end = num + sizeof(num);
    char *p = u64_digits(end, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
    if (v < 0) {
        *--p = '-';
    }
    return ad_buf_append(b, p, (size_t)(end - p));
}

/* ---- reals ----------------------------------------------------------------
 * A real is written so that it reads back as the same double, and printf
 * only where the integer paths below cannot go (issue #38: "%.17g" was
 * most of a chart's answer):
 *  - a short decimal, at most 15 digits after the point, when one reads back
 *    exactly: 6.73, not 6.7300000000000004;
 *  - else the 17 significant digits "%.17g" writes, computed in 128-bit
 *    integers for magnitudes in [1e-11, 2^127) and by printf outside.
 * A real keeps a '.' or an exponent, so it reads back as a real; the
 * exponent goes without '+' or leading zeros, as jansson writes it. */

#define TWO53 9007199254740992.0

static const double pow10d[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

static size_t put_u64(char *out, uint64_t v)
{
    char d[20];
    char *p = u64_digits(d + sizeof(d), v);
    size_t n = (size_t)(d + sizeof(d) - p);
    memcpy(out, p, n);
    return n;
}

/* v >= 0: the fewest decimals k <= 15 with round(v * 10^k) / 10^k == v.
 * Both are exact doubles (below 2^53 and 10^15), and IEEE division rounds
 * correctly, so the decimal read back is v. 0 when none is. */
static size_t real_short(char *out, double v)
{
    for (int k = 0; k < (int)(sizeof(pow10d) / sizeof(pow10d[0])); k++) {
        double m = v * pow10d[k];
        if (!(m < TWO53)) {
            return 0;
        }
        double r = nearbyint(m);
        if (r / pow10d[k] != v) {
            continue;
        }
        uint64_t d = (uint64_t)r, p = (uint64_t)pow10d[k];
        size_t n = put_u64(out, d / p);
        out[n++] = '.';
        if (k == 0) {
            out[n++] = '0';
            return n;
        }
        char frac[16];
        size_t f = put_u64(frac, d % p);
        memset(out + n, '0', (size_t)k - f); /* the zeros after the point */
        memcpy(out + n + (size_t)k - f, frac, f);
        return n + (size_t)k;
    }
    return 0;
}

/* n / 2^t and n / d rounded half to even. */
static unsigned __int128 shr_even(unsigned __int128 n, int t)
{
    unsigned __int128 q = n >> t, rem = n - (q << t), half = (unsigned __int128)1 << (t - 1);
    return q + (rem > half || (rem == half && (q & 1)));
}

static unsigned __int128 div_even(unsigned __int128 n, unsigned __int128 d)
{
    unsigned __int128 q = n / d, rem = n % d;
    return q + (rem * 2 > d || (rem * 2 == d && (q & 1)));
}

/* round(m * 2^e * 10^s) half to even into *d; false outside what 128 bits
 * hold (the callers keep v in [1e-11, 2^127), where s is in [-22, 27]). */
static bool scaled(uint64_t m, int e, int s, unsigned __int128 *d)
{
    static const uint64_t pow5[28] = {1ull,
                                      5ull,
                                      25ull,
                                      125ull,
                                      625ull,
                                      3125ull,
                                      15625ull,
                                      78125ull,
                                      390625ull,
                                      1953125ull,
                                      9765625ull,
                                      48828125ull,
                                      244140625ull,
                                      1220703125ull,
                                      6103515625ull,
                                      30517578125ull,
                                      152587890625ull,
                                      762939453125ull,
                                      3814697265625ull,
                                      19073486328125ull,
                                      95367431640625ull,
                                      476837158203125ull,
                                      2384185791015625ull,
                                      11920928955078125ull,
                                      59604644775390625ull,
                                      298023223876953125ull,
                                      1490116119384765625ull,
                                      7450580596923828125ull};
    if (s >= 0) {
        if (s > 27) {
            return false;
        }
        unsigned __int128 n = (unsigned __int128)m * pow5[s]; /* < 2^116 */
        int t = e + s; /* at most 5 (v < 1e17), at least -117 (v >= 1e-11) */
        if (t > 8 || t < -120) {
            return false;
        }
        *d = t >= 0 ? n << t : shr_even(n, -t);
        return true;
    }
    if (e < 0 || e > 74 || -s > 27) {
        return false;
    }
    unsigned __int128 p10 = 1;
    for (int i = 0; i < -s; i++) {
        p10 *= 10;
    }
    *d = div_even((unsigned __int128)m << e, p10);
    return true;
}

/* v > 0: the 17 digits of v rounded half to even, and the power of ten of
 * the first as "%.17g" finds it (after rounding: 9.99999999999999999e-8
 * is 1.0000000000000000e-7), so v ~ D * 10^(x - 16). false outside
 * [1e-11, 2^127). */
static bool real_digits17(double v, uint64_t *dout, int *xout)
{
    const uint64_t lo = 10000000000000000ull, hi = 100000000000000000ull;
    if (!(v >= 1e-11 && v < 1.7e38)) {
        return false;
    }
    int e2;
    uint64_t m = (uint64_t)ldexp(frexp(v, &e2), 53); /* v = m * 2^e, exactly */
    int e = e2 - 53;
    int x = (int)floor(log10(v)); /* may be one off either way */
    for (int tries = 0; tries < 3; tries++) {
        unsigned __int128 d, below;
        if (!scaled(m, e, 16 - x, &d)) {
            return false;
        }
        if (d < lo) {
            x--;
        } else if (d >= hi) {
            x++;
        } else {
            /* 10^16 may be a carry from just below 10^x */
            if (d == lo && scaled(m, e, 17 - x, &below) && below < hi) {
                d = below;
                x--;
            }
            *dout = (uint64_t)d;
            *xout = x;
            return true;
        }
    }
    return false;
}

/* D's 17 digits as "%.17g" lays them out: fixed for -4 <= x < 17, else
 * d.ddde[-]x; trailing zeros of the fraction dropped. */
static size_t real_layout(char *out, uint64_t d, int x)
{
    char ds[17];
    put_u64(ds, d);
    size_t nd = 17;
    while (nd > 1 && ds[nd - 1] == '0') {
        nd--;
    }
    size_t n = 0;
    if (x >= -4 && x < 17) {
        if (x >= 0) {
            memcpy(out, ds, (size_t)x + 1);
            n = (size_t)x + 1;
            if (nd > n) {
                out[n++] = '.';
                memcpy(out + n, ds + x + 1, nd - (size_t)x - 1);
                n += nd - (size_t)x - 1;
            } else {
                memcpy(out + n, ".0", 2);
                n += 2;
            }
        } else {
            memcpy(out, "0.", 2);
            n = 2;
            memset(out + n, '0', (size_t)(-x - 1));
            n += (size_t)(-x - 1);
            memcpy(out + n, ds, nd);
            n += nd;
        }
        return n;
    }
    out[n++] = ds[0];
    if (nd > 1) {
        out[n++] = '.';
        memcpy(out + n, ds + 1, nd - 1);
        n += nd - 1;
    }
    out[n++] = 'e';
    if (x < 0) {
        out[n++] = '-';
    }
    return n + put_u64(out + n, (uint64_t)(x < 0 ? -x : x));
}

/* printf's "%.17g" with jansson's touches, for what the integer paths
 * do not cover (below 1e-11, above 2^127). */
static size_t real_printf(char *out, size_t cap, double v)
{
    int len = snprintf(out, cap, "%.17g", v);
    if (len <= 0 || (size_t)len >= cap - 3) {
        return 0;
    }
    if (strchr(out, '.') == NULL && strchr(out, 'e') == NULL) {
        memcpy(out + len, ".0", 3);
        len += 2;
    }
    char *e = strchr(out, 'e');
    if (e != NULL) {
        char *digits = e + 1 + (e[1] == '-');
        char *from = e + 1;
        if (*from == '+' || *from == '-') {
            from++;
        }
        while (*from == '0' && from[1] != '\0') {
            from++;
        }
        size_t rest = strlen(from);
        memmove(digits, from, rest + 1);
        len = (int)(digits - out + (ptrdiff_t)rest);
    }
    return (size_t)len;
}

int ad_json_real(ad_buf_t *b, double v)
{
    if (!isfinite(v)) {
        return AD_EINVAL; /* jansson has no such real either */
    }
    char num[48];
    size_t n = 0;
    if (signbit(v)) {
        num[n++] = '-';
        v = -v;
    }
    size_t len = real_short(num + n, v);
    /* below 1e-4 "%.17g" has an exponent, which may be the shorter: 1e-10 */
    if (len == 0 || (v != 0 && v < 1e-4)) {
        char alt[48];
        uint64_t d;
        int x;
        size_t a =
            real_digits17(v, &d, &x) ? real_layout(alt, d, x) : real_printf(alt, sizeof(alt), v);
        if (len == 0 || (a > 0 && a < len)) {
            memcpy(num + n, alt, a);
            len = a;
        }
    }
    if (len == 0) {
        return AD_EINVAL;
    }
    return ad_buf_append(b, num, n + len);
}

/* ---- text that jansson would write back unchanged ------------------------ */

typedef struct {
    const unsigned char *p, *end;
} scan_t;

static bool canon_value(scan_t *s, int depth);

static bool canon_string(scan_t *s)
{
    if (s->p >= s->end || *s->p != '"') {
        return false;
    }
    s->p++;
    while (s->p < s->end) {
        unsigned char c = *s->p;
        if (c == '"') {
            s->p++;
            return true;
        }
        if (c < 0x20 || c >= 0x80) { /* control bytes never bare; UTF-8 left to jansson */
            return false;
        }
        if (c == '\\') {
            if (s->p + 1 >= s->end || strchr("\"\\bfnrt", s->p[1]) == NULL || s->p[1] == '\0') {
                return false; /* \/ and \uXXXX read back as other text */
            }
            s->p++;
        }
        s->p++;
    }
    return false;
}

static bool canon_word(scan_t *s, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0) {
        return false;
    }
    s->p += n;
    return true;
}

/* An integer as %lld writes it (a real is left to jansson: its digits differ). */
static bool canon_int(scan_t *s)
{
    const unsigned char *start = s->p;
    if (s->p < s->end && *s->p == '-') {
        s->p++;
    }
    const unsigned char *digits = s->p;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        s->p++;
    }
    size_t n = (size_t)(s->p - digits);
    if (n == 0 || n > 18 || (n > 1 && *digits == '0') ||
        (n == 1 && *digits == '0' && digits > start)) {
        return false;
    }
    return s->p >= s->end || (*s->p != '.' && *s->p != 'e' && *s->p != 'E');
}

static bool canon_members(scan_t *s, int depth, char close, bool keyed)
{
    s->p++;
    if (s->p < s->end && *s->p == (unsigned char)close) {
        s->p++;
        return true;
    }
    for (;;) {
        if (keyed && !(canon_string(s) && s->p < s->end && *s->p++ == ':')) {
            return false;
        }
        if (!canon_value(s, depth + 1) || s->p >= s->end) {
            return false;
        }
        unsigned char c = *s->p++;
        if (c == (unsigned char)close) {
            return true;
        }
        if (c != ',') {
            return false;
        }
    }
}

static bool canon_value(scan_t *s, int depth)
{
    if (s->p >= s->end || depth > 32) {
        return false;
    }
    switch (*s->p) {
    case '{':
        return canon_members(s, depth, '}', true);
    case '[':
        return canon_members(s, depth, ']', false);
    case '"':
        return canon_string(s);
    case 't':
        return canon_word(s, "true");
    case 'f':
        return canon_word(s, "false");
    case 'n':
        return canon_word(s, "null");
    default:
        return canon_int(s);
    }
}

bool ad_json_canonical(const char *s, size_t n)
{
    scan_t sc = {(const unsigned char *)s, (const unsigned char *)s + n};
    return canon_value(&sc, 0) && sc.p == sc.end;
}

/* ---- values ------------------------------------------------------------- */

#define WRITE_DEPTH_MAX 256

static int write_value(ad_buf_t *b, const json_t *v, int depth)
{
    if (depth > WRITE_DEPTH_MAX) {
        return AD_ETOOBIG;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        int rc = ad_buf_putc(b, '{');
        bool first = true;
        json_t *o = (json_t *)v; /* jansson's iterators take no const */
        for (void *it = json_object_iter(o); it != NULL && rc == 0;
             it = json_object_iter_next(o, it)) {
            rc = first ? 0 : ad_buf_putc(b, ',');
            first = false;
            rc =
                rc ? rc : ad_json_string(b, json_object_iter_key(it), json_object_iter_key_len(it));
            rc = rc ? rc : ad_buf_putc(b, ':');
            rc = rc ? rc : write_value(b, json_object_iter_value(it), depth + 1);
        }
        return rc ? rc : ad_buf_putc(b, '}');
    }
    case JSON_ARRAY: {
        int rc = ad_buf_putc(b, '[');
        for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
            rc = i ? ad_buf_putc(b, ',') : 0;
            rc = rc ? rc : write_value(b, json_array_get(v, i), depth + 1);
        }
        return rc ? rc : ad_buf_putc(b, ']');
    }
    case JSON_STRING:
        return ad_json_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return ad_json_integer(b, json_integer_value(v));
    case JSON_REAL:
        return ad_json_real(b, json_real_value(v));
    case JSON_TRUE:
        return ad_buf_puts(b, "true");
    case JSON_FALSE:
        return ad_buf_puts(b, "false");
    case JSON_NULL:
    default:
        return ad_buf_puts(b, "null");
    }
}

int ad_json_write(ad_buf_t *b, const json_t *v)
{
    return v != NULL ? write_value(b, v, 0) : ad_buf_puts(b, "null");
}
