/* SPDX-License-Identifier: MIT */
/*
 * Events of the REST layer (api_int.h, "events"): ad_api_publish and
 * ad_api_publish_text turn "prefix", id pairs into the bus's topics;
 * ad_api_train_publish is the callback src/train's engines publish with.
 * Split from api.c.
 */
#include "api/api_int.h"

#include <stdarg.h>
#include <stdio.h>

/* ---- events ------------------------------------------------------------------- */

/* The topics of ad_api_publish's "prefix", id pairs (NULL-terminated). */
typedef struct {
    char buf[8][AD_ID_MAX + 16];
    const char *ptrs[8];
    size_t n;
} topics_t;

static void topics_collect(topics_t *t, va_list ap)
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

void ad_api_publish(ad_app_t *app, const char *type, json_t *payload, ...)
{
    topics_t t;
    va_list ap;
    va_start(ap, payload);
    topics_collect(&t, ap);
    va_end(ap);
    ad_bus_publish(app->bus, type, t.ptrs, t.n, payload);
}

void ad_api_publish_text(ad_app_t *app, const char *type, const char *payload, size_t len, ...)
{
    topics_t t;
    va_list ap;
    va_start(ap, len);
    topics_collect(&t, ap);
    va_end(ap);
    ad_bus_publish_text(app->bus, type, t.ptrs, t.n, payload, len);
}

void ad_api_train_publish(void *app, const char *type, json_t *payload, const char *org,
                          const char *agent_id, const char *run_id)
{
    ad_api_publish(app, type, payload, "org", org, "agent", agent_id, "run", run_id, NULL);
}
