/* SPDX-License-Identifier: MIT */
/*
 * Project sync as an engine (src/engine): made when the store is open.
 */
#include "engine/engine.h"
#include "psync/psync.h"

static int open_psync(ad_app_t *app)
{
    if (app->store != NULL) {
        app->psync =
            ad_psync_new(app->loop, app->store, app->bus, app->cfg->project_sync_interval_ms);
    }
    return 0;
}

static void close_psync(ad_app_t *app)
{
    if (app->psync != NULL) {
        ad_psync_close(app->psync);
        app->psync = NULL;
    }
}

const ad_engine_t ad_psync_engine = {.name = "psync", .open = open_psync, .close = close_psync};
