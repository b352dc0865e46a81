/* SPDX-License-Identifier: MIT */
/*
 * Search as an engine (src/engine): nothing to make or close, only its
 * route (routes.c), registered by the routes hook after every engine has
 * opened. The store it reads is the core's.
 */
#include "engine/engine.h"
#include "search/search.h"

static int open_search(ad_app_t *app)
{
    AD_UNUSED(app);
    return 0;
}

/* Nothing to let go (every engine of the daemon's table has a close). */
static void close_search(ad_app_t *app)
{
    AD_UNUSED(app);
}

const ad_engine_t ad_search_engine = {
    .name = "search", .open = open_search, .close = close_search, .routes = ad_search_routes};
