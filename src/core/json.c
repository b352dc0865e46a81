/* SPDX-License-Identifier: MIT */
/*
 * JSON text written by hand on hot paths (event envelopes, message rows):
 * the string escaper, byte-identical to jansson's JSON_COMPACT output so the
 * same value reads the same whichever path wrote it.
 */
#include "core.h"

#include <stdint.h>
#include <string.h>

/* Bytes from s that need no escaping: eight at a time while no byte of the
 * word is below 0x20, '"' or '\\' (each test can flag a byte that is fine,
 * never miss one that is not; the byte loop decides), then one at a time. */
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

int ad_json_string(ad_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = ad_buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
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
