/* SPDX-License-Identifier: MIT */
/*
 * JSON text written by hand on hot paths (event envelopes, message rows):
 * the string escaper, byte-identical to jansson's JSON_COMPACT output so the
 * same value reads the same whichever path wrote it.
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

void ad_json_snake_key(const char *key, char *out, size_t outsz)
{
    size_t n = 0;
    for (; *key != '\0' && n + 2 < outsz; key++) {
        if (*key >= 'A' && *key <= 'Z') {
            out[n++] = '_';
            out[n++] = (char)(*key - 'A' + 'a');
        } else {
            out[n++] = *key;
        }
    }
    if (outsz > 0) {
        out[n] = '\0';
    }
}

json_t *ad_json_seed_payload(json_t *payload)
{
    json_t *p = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(payload, k, v)
    {
        char sk[128];
        ad_json_snake_key(k, sk, sizeof(sk));
        json_object_set(p, sk, v);
    }
    json_t *ms = json_object_get(payload, "durationMs");
    if (json_is_integer(ms)) {
        json_object_set_new(p, "duration", json_real((double)json_integer_value(ms) / 1000.0));
    }
    json_t *name = json_object_get(payload, "name");
    if (json_is_string(name) && json_object_get(p, "tool") == NULL) {
        json_object_set(p, "tool", name);
    }
    return p;
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

json_t *ad_json_snake(json_t *v)
{
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            json_array_append_new(a, ad_json_snake(x));
        }
        return a;
    }
    if (!json_is_object(v)) {
        return json_incref(v);
    }
    json_t *o = json_object();
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        char sk[128];
        ad_json_snake_key(k, sk, sizeof(sk));
        json_object_set_new(o, sk, ad_json_snake(x));
    }
    return o;
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

int ad_json_integer(ad_buf_t *b, int64_t v)
{
    char num[24];
    char *p = num + sizeof(num);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0) {
        *--p = '-';
    }
    return ad_buf_append(b, p, (size_t)(num + sizeof(num) - p));
}

int ad_json_real(ad_buf_t *b, double v)
{
    if (!isfinite(v)) {
        return AD_EINVAL; /* jansson has no such real either */
    }
    char num[40];
    int len = snprintf(num, sizeof(num), "%.17g", v);
    if (len <= 0 || (size_t)len >= sizeof(num) - 3) {
        return AD_EINVAL;
    }
    /* a real keeps a '.' or an exponent, so it reads back as a real */
    if (strchr(num, '.') == NULL && strchr(num, 'e') == NULL) {
        memcpy(num + len, ".0", 3);
        len += 2;
    }
    /* the exponent without '+' or leading zeros: "1e+20" -> "1e20", "1e-07" -> "1e-7" */
    char *e = strchr(num, 'e');
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
        len = (int)(digits - num + (ptrdiff_t)rest);
    }
    return ad_buf_append(b, num, (size_t)len);
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
