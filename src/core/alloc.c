/* SPDX-License-Identifier: MIT */
/*
 * Checked allocation: every function aborts on out-of-memory so callers never
 * test for NULL. A test hook makes the nth allocation fail to check that
 * path (it aborts, as it would for real).
 */
#include "core.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_ulong fail_countdown;

void ad_alloc_fail_after(unsigned long n)
{
    atomic_store(&fail_countdown, n);
}

static _Noreturn void oom(size_t n)
{
    fprintf(stderr, "agentd: out of memory allocating %zu bytes\n", n);
    abort();
}

static void *check(void *p, size_t n)
{
    unsigned long left = atomic_load(&fail_countdown);
    if (left > 0 && atomic_fetch_sub(&fail_countdown, 1) == 1) {
        free(p);
        p = NULL;
    }
    if (p == NULL) {
        oom(n);
    }
    return p;
}

void *ad_xmalloc(size_t n)
{
    return check(malloc(n ? n : 1), n);
}

void *ad_xcalloc(size_t count, size_t n)
{
    if (n != 0 && count > SIZE_MAX / n) {
        oom(SIZE_MAX);
    }
    return check(calloc(count ? count : 1, n ? n : 1), count * n);
}

void *ad_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        oom(n);
    }
    return check(q, n);
}

char *ad_xstrdup(const char *s)
{
    return ad_xstrndup(s, strlen(s));
}

char *ad_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = ad_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}
