/* SPDX-License-Identifier: MIT */
/*
 * The definitions folders' watcher as an engine (src/engine).
 */
#include "defs/defs.h"
#include "engine/engine.h"

static int open_defs(ad_app_t *app)
{
    app->defwatch = ad_defwatch_start(app->loop, app->store, app->bus, app->cfg->data_dir);
    return 0;
}

static void close_defs(ad_app_t *app)
{
    ad_defwatch_stop(app->defwatch);
    app->defwatch = NULL;
}

const ad_engine_t ad_defs_engine = {.name = "defs", .open = open_defs, .close = close_defs};
