/* SPDX-License-Identifier: MIT */
/*
 * Publishing with the topics named as "prefix", id pairs (bus.h,
 * ad_bus_publish_to): the shape every writer of agentd names its topics
 * in ("agent", id, "org", org ...), turned into the bus's topic strings
 * here rather than by each caller. Moved from src/api/publish.c. (The
 * text form, ad_bus_publish_text_to, is bus.c's, beside
 * ad_bus_publish_text: a program that links only ad_bus_publish, such as
 * the runner's unit test with its stand-in bus, takes this file alone.)
 */
#include "bus/bus_int.h"

#include <stdarg.h>
#include <stdio.h>

void ad_bus_pairs_collect(ad_bus_pairs_t *t, va_list ap)
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
    ad_bus_pairs_t t;
    va_list ap;
    va_start(ap, payload);
    ad_bus_pairs_collect(&t, ap);
    va_end(ap);
    return ad_bus_publish(bus, type, t.ptrs, t.n, payload);
}
