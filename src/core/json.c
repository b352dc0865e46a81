/* SPDX-License-Identifier: MIT */
/*
 * JSON text written by hand on hot paths (event envelopes, message rows):
 * the string escaper, byte-identical to jansson's JSON_COMPACT output so the
 * same value reads the same whichever path wrote it.
 */
#include "core.h"

int ad_json_string(ad_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = ad_buf_putc(b, '"');
    size_t run = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
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
