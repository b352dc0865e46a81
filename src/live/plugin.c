/* SPDX-License-Identifier: MIT */
/*
 * The live channels as an engine (src/engine): opened after the jobs,
 * which the seed's commands on "/" act on with the store and the runner
 * (their parts, the engine's, outlive the channels: freed at close, once
 * no channel reaches them).
 */
#include "engine/engine.h"
#include "live/live.h"

#include <stdlib.h>

static int open_live(ad_app_t *app)
{
    ad_live_parts_t *parts = ad_xcalloc(1, sizeof(*parts));
    *parts = (ad_live_parts_t){.store = app->store, .runner = app->runner, .jobs = app->jobs};
    app->live_parts = parts;
    app->live = ad_live_new(app->loop, app->bus, app->auth, (size_t)app->cfg->ws_send_queue_bytes,
                            ad_live_heartbeat_ms(), parts);
    return 0;
}

static void close_live(ad_app_t *app)
{
    ad_live_t *L = app->live;
    if (L != NULL) {
        app->live = NULL;
        ad_live_close(L);
    }
    free(app->live_parts);
    app->live_parts = NULL;
}

const ad_engine_t ad_live_engine = {.name = "live", .open = open_live, .close = close_live};
