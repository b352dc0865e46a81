/* SPDX-License-Identifier: MIT */
/*
 * Publishing with the topics named as "prefix", id pairs (bus.h,
 * ad_bus_publish_to): the shape every writer of agentd names its topics
 * in ("agent", id, "org", org ...), turned into the bus's topic strings
 * here rather than by each caller. Moved from src/api/publish.c.
 */
#include "bus/bus.h"

#include <stdarg.h>
#include <stdio.h>

/* The topics of the pairs, at most AD_BUS_PAIRS_MAX (more are dropped). */
typedef struct {
    char buf[AD_BUS_PAIRS_MAX][AD_ID_MAX + 16];
    const char *ptrs[AD_BUS_PAIRS_MAX];
    size_t n;
} pairs_t;

static void pairs_collect(pairs_t *t, va_list ap)
{
    t->n = 0;
    for (;;) {
        const char *prefix = va_arg(ap, const char *);
        if (prefix == NULL) {
            break;
        }
        const char *id = va_arg(ap, const char *);
        if (id == NULL || t->n == AD_ARRAY_LEN(t->buf)) {
            continue;
        }
        if (id[0] == '\0') {
            snprintf(t->buf[t->n], sizeof(t->buf[t->n]), "%s", prefix);
        } else {
            snprintf(t->buf[t->n], sizeof(t->buf[t->n]), "%s:%s", prefix, id);
        }
        t->ptrs[t->n] = t->buf[t->n];
        t->n++;
    }
}

uint64_t ad_bus_publish_to(ad_bus_t *bus, const char *type, json_t *payload, ...)
{
    pairs_t t;
    va_list ap;
    va_start(ap, payload);
    pairs_collect(&t, ap);
    va_end(ap);
    return ad_bus_publish(bus, type, t.ptrs, t.n, payload);
}

uint64_t ad_bus_publish_text_to(ad_bus_t *bus, const char *type, const char *payload, size_t len,
                                ...)
{
    pairs_t t;
    va_list ap;
    va_start(ap, len);
    pairs_collect(&t, ap);
    va_end(ap);
    return ad_bus_publish_text(bus, type, t.ptrs, t.n, payload, len);
}
