/* SPDX-License-Identifier: MIT */
/*
 * Bounded growable buffer. Grows by doubling up to its cap; an append that
 * would pass the cap fails with AD_ETOOBIG and leaves the buffer unchanged,
 * so a caller can report the error and keep what it had.
 */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ad_buf_init(ad_buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void ad_buf_cleanup(ad_buf_t *b)
{
    free(b->data);
    ad_buf_init(b, b->max);
}

void ad_buf_reset(ad_buf_t *b)
{
    ad_buf_truncate(b, 0);
}

void ad_buf_truncate(ad_buf_t *b, size_t len)
{
    if (len > b->len) {
        AD_BUG("ad_buf_truncate past the end (%zu > %zu)", len, b->len);
    }
    b->len = len;
    if (b->data != NULL) {
        b->data[len] = '\0';
    }
}

/* Makes room for n more bytes plus a NUL. */
static int reserve(ad_buf_t *b, size_t n)
{
    if (n > b->max || b->len > b->max - n) {
        return AD_ETOOBIG;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    if (cap > b->max + 1) {
        cap = b->max + 1;
    }
    b->data = ad_xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int ad_buf_reserve(ad_buf_t *b, size_t n)
{
    return reserve(b, n);
}

int ad_buf_append_grow(ad_buf_t *b, const void *p, size_t n)
{
    int rc = reserve(b, n);
    if (rc < 0) {
        return rc;
    }
    if (n > 0) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int ad_buf_puts(ad_buf_t *b, const char *s)
{
    return ad_buf_append(b, s, strlen(s));
}

int ad_buf_vprintf(ad_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        return AD_EINVAL;
    }
    int rc = reserve(b, (size_t)n);
    if (rc < 0) {
        return rc;
    }
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int ad_buf_printf(ad_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = ad_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void ad_buf_consume(ad_buf_t *b, size_t n)
{
    if (n >= b->len) {
        ad_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *ad_buf_detach(ad_buf_t *b, size_t *len)
{
    char *p = b->data ? b->data : ad_xstrdup("");
    if (len != NULL) {
        *len = b->len;
    }
    ad_buf_init(b, b->max);
    return p;
}
