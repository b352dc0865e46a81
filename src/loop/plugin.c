/* SPDX-License-Identifier: MIT */
/*
 * Feedback loops as an engine (src/engine): made when the store is open
 * and the runner runs, after the provider keys (the forge's token is the
 * org's credential); closed before them (src/engines.c). Its routes are
 * its own (routes.c), registered by the routes hook.
 */
#include "engine/engine.h"
#include "loop/loop_int.h"

static int open_prloop(ad_app_t *app)
{
    if (app->store != NULL && app->runner != NULL) {
        app->prloop = ad_prloop_new(app->loop, app->store, app->bus, app->runner, app->creds);
    }
    return 0;
}

/* The timer stops before the store closes; reads in flight call back. */
static void stop_prloop(ad_app_t *app)
{
    ad_prloop_stop(app->prloop);
}

static void close_prloop(ad_app_t *app)
{
    ad_prloop_close(app->prloop);
    app->prloop = NULL;
}

const ad_engine_t ad_loop_engine = {.name = "loop",
                                    .open = open_prloop,
                                    .stop = stop_prloop,
                                    .close = close_prloop,
                                    .routes = ad_prloop_routes};
