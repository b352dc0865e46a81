/* SPDX-License-Identifier: MIT */
/*
 * Web Push as an engine (src/engine, issue #76): made with the store and
 * the bus, stopped before the store closes (no more events, no store
 * writes, no retries), closed after the server (deliveries in flight end
 * on the pool). Its routes are its own (routes.c): the first engine to
 * register routes through the hook, which keeps src/api within its size.
 */
#include "engine/engine.h"
#include "push/push_int.h"

static int open_push(ad_app_t *app)
{
    if (app->store == NULL || app->bus == NULL) {
        return 0;
    }
    app->push = ad_push_new(app->loop, app->cfg, app->store, app->bus);
    return 0;
}

static void stop_push(ad_app_t *app)
{
    ad_push_stop(app->push);
}

static void close_push(ad_app_t *app)
{
    ad_push_close(app->push);
    app->push = NULL;
}

static int push_metrics(const ad_app_t *app, ad_buf_t *b, const char *org)
{
    ad_push_stats_t s;
    if (org != NULL && org[0] != '\0') {
        return 0; /* every org's pushes together: the owner's figures only */
    }
    ad_push_stats(app->push, &s);
    int rc = ad_prom_counter(b, "agentd_push_sent_total", "Web Push messages a push service took",
                             (double)s.sent);
    rc = rc != 0 ? rc
                 : ad_prom_counter(b, "agentd_push_failed_total", "Web Push messages given up on",
                                   (double)s.failed);
    rc = rc != 0 ? rc
                 : ad_prom_counter(b, "agentd_push_retried_total", "Web Push messages tried again",
                                   (double)s.retried);
    rc = rc != 0 ? rc
                 : ad_prom_counter(b, "agentd_push_gone_total",
                                   "Web Push subscriptions the push service said are gone",
                                   (double)s.gone);
    return rc != 0 ? rc
                   : ad_prom_counter(b, "agentd_push_dropped_total",
                                     "Web Push messages dropped with the queue full",
                                     (double)s.dropped);
}

const ad_engine_t ad_push_engine = {.name = "push",
                                    .open = open_push,
                                    .stop = stop_push,
                                    .close = close_push,
                                    .routes = ad_push_routes,
                                    .metrics = push_metrics};
