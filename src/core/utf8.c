/* SPDX-License-Identifier: MIT */
/*
 * UTF-8 checks and repair, shared by everything that turns untrusted bytes
 * into JSON text (agent output, git paths and diffs, WebSocket text
 * messages and close reasons).
 */
#include "core.h"

#include <string.h>

size_t ad_utf8_seq_len(const unsigned char *s, size_t n)
{
    if (n == 0) {
        return 0;
    }
    if (s[0] < 0x80) {
        return 1;
    }
    /* lead byte -> sequence length, smallest code point, payload bits */
    size_t len;
    unsigned min;
    unsigned cp;
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        min = 0x80;
        cp = s[0] & 0x1Fu;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        min = 0x800;
        cp = s[0] & 0x0Fu;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        min = 0x10000;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

size_t ad_utf8_valid_prefix(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    /* ASCII a word at a time: most text is, and it needs no decoding. */
    for (uint64_t w; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        if ((w & 0x8080808080808080u) != 0) {
            break;
        }
    }
    while (i < n) {
        size_t k = ad_utf8_seq_len(p + i, n - i);
        if (k == 0) {
            break;
        }
        i += k;
    }
    return i;
}

bool ad_utf8_valid(const char *s, size_t n)
{
    return ad_utf8_valid_prefix(s, n) == n;
}

int ad_utf8_repair(ad_buf_t *out, const char *s, size_t n)
{
    static const char bad[] = "\xEF\xBF\xBD"; /* U+FFFD */
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    size_t run = 0; /* start of the valid bytes not yet appended */
    int rc = 0;
    while (i < n && rc == 0) {
        size_t k = p[i] == 0 ? 0 : ad_utf8_seq_len(p + i, n - i);
        if (k > 0) {
            i += k;
            continue;
        }
        rc = ad_buf_append(out, s + run, i - run);
        rc = rc ? rc : ad_buf_append(out, bad, sizeof(bad) - 1);
        run = ++i;
    }
    return rc ? rc : ad_buf_append(out, s + run, n - run);
}
