/* SPDX-License-Identifier: MIT */
/*
 * The Server-Sent Events decoder (WHATWG "event stream interpretation"):
 * bytes in any split, events out through a callback. Owns its two capped
 * buffers; what the events mean is anthropic.c's.
 */
#include "llm/llm.h"

#include <stdio.h>
#include <string.h>

void ad_ssedec_init(ad_ssedec_t *s, size_t max, ad_ssedec_cb cb, void *ud)
{
    memset(s, 0, sizeof(*s));
    ad_buf_init(&s->line, max);
    ad_buf_init(&s->data, max);
    s->cb = cb;
    s->ud = ud;
}

void ad_ssedec_cleanup(ad_ssedec_t *s)
{
    ad_buf_cleanup(&s->line);
    ad_buf_cleanup(&s->data);
}

static void dispatch(ad_ssedec_t *s)
{
    if (s->has_data) {
        s->cb(s->ud, s->event, s->data.len > 0 ? s->data.data : "", s->data.len);
    }
    ad_buf_reset(&s->data);
    s->event[0] = '\0';
    s->has_data = false;
}

/* One complete line (without its end). */
static int line(ad_ssedec_t *s, const char *p, size_t n)
{
    if (n == 0) {
        dispatch(s);
        return 0;
    }
    if (p[0] == ':') {
        return 0;
    }
    const char *colon = memchr(p, ':', n);
    size_t klen = colon != NULL ? (size_t)(colon - p) : n;
    const char *v = colon != NULL ? colon + 1 : p + n;
    size_t vlen = (size_t)(p + n - v);
    if (vlen > 0 && v[0] == ' ') {
        v++;
        vlen--;
    }
    if (klen == 5 && memcmp(p, "event", 5) == 0) {
        /* A name past the cap is no name we know: keep its start. */
        size_t keep = vlen < sizeof(s->event) - 1 ? vlen : sizeof(s->event) - 1;
        memcpy(s->event, v, keep);
        s->event[keep] = '\0';
    } else if (klen == 4 && memcmp(p, "data", 4) == 0) {
        if (s->has_data && ad_buf_putc(&s->data, '\n') != 0) {
            return AD_ETOOBIG;
        }
        if (ad_buf_append(&s->data, v, vlen) != 0) {
            return AD_ETOOBIG;
        }
        s->has_data = true;
    }
    /* id and retry mean nothing to a one-shot request; other fields are
     * ignored by the rules. */
    return 0;
}

int ad_ssedec_feed(ad_ssedec_t *s, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s->after_cr && p[i] == '\n') {
            s->after_cr = false;
            i++;
            continue;
        }
        s->after_cr = false;
        size_t j = i;
        while (j < n && p[j] != '\n' && p[j] != '\r') {
            j++;
        }
        if (j == n) {
            return ad_buf_append(&s->line, p + i, n - i) == 0 ? 0 : AD_ETOOBIG;
        }
        int rc;
        if (s->line.len > 0) {
            if (ad_buf_append(&s->line, p + i, j - i) != 0) {
                return AD_ETOOBIG;
            }
            rc = line(s, s->line.data, s->line.len);
            ad_buf_reset(&s->line);
        } else {
            rc = line(s, p + i, j - i);
        }
        if (rc != 0) {
            return rc;
        }
        s->after_cr = p[j] == '\r';
        i = j + 1;
    }
    return 0;
}
