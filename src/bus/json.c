/* SPDX-License-Identifier: MIT */
/*
 * The payload writer of ad_bus_publish: turns a jansson value into compact
 * JSON text byte for byte as json_dump_callback(JSON_COMPACT |
 * JSON_ENCODE_ANY) does, but copying runs of plain string bytes at once
 * instead of decoding every code point (jansson's dump was the largest
 * cost of publishing). Reals are left to jansson's own formatting.
 */
#include "bus/bus_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH_MAX 256

static int dump_cb(const char *buf, size_t size, void *data)
{
    return ad_buf_append(data, buf, size) == 0 ? 0 : -1;
}

/* An integer as jansson writes it, without printf's format parsing. */
static int write_int(ad_buf_t *b, json_int_t v)
{
    char d[24];
    size_t n = sizeof(d);
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        d[--n] = (char)('0' + m % 10);
        m /= 10;
    } while (m != 0);
    if (v < 0) {
        d[--n] = '-';
    }
    return ad_buf_append(b, d + n, sizeof(d) - n);
}

static int write_value(ad_buf_t *b, json_t *v, int depth)
{
    if (depth > DEPTH_MAX) {
        return AD_ETOOBIG;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        int rc = ad_buf_putc(b, '{');
        bool first = true;
        for (void *it = json_object_iter(v); it != NULL && rc == 0;
             it = json_object_iter_next(v, it)) {
            rc = first ? 0 : ad_buf_putc(b, ',');
            first = false;
            const char *k = json_object_iter_key(it);
            rc = rc ? rc : ad_json_string(b, k, json_object_iter_key_len(it));
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
        return write_int(b, json_integer_value(v));
    case JSON_TRUE:
        return ad_buf_puts(b, "true");
    case JSON_FALSE:
        return ad_buf_puts(b, "false");
    case JSON_NULL:
        return ad_buf_puts(b, "null");
    case JSON_REAL:
    default:
        /* jansson's own number formatting, so the text stays identical. */
        return json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY) == 0 ? 0
                                                                                      : AD_ETOOBIG;
    }
}

int ad_bus_json_write(ad_buf_t *b, json_t *v)
{
    return v != NULL ? write_value(b, v, 0) : ad_buf_puts(b, "null");
}
