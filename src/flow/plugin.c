/* SPDX-License-Identifier: MIT */
/*
 * The workflow engine and the crew status watcher as one engine
 * (src/engine): the workflows with the store and the runner, the watcher
 * with the bus. Closed in the reverse: the watcher, then the workflows.
 */
#include "engine/engine.h"
#include "flow/flow.h"

/* How often the workflow engine looks at its runs' steps. */
#define WF_TICK_MS 250

static int open_flow(ad_app_t *app)
{
    if (app->store != NULL && app->runner != NULL) {
        app->flow = ad_flow_new(app->loop, app->store, app->bus, app->runner, WF_TICK_MS);
    }
    if (app->bus != NULL && app->loop != NULL) {
        app->crew_watch = ad_flow_crews_new(app->loop, app->bus, app->store);
    }
    return 0;
}

static void close_flow(ad_app_t *app)
{
    ad_flow_crews_close(app->crew_watch);
    app->crew_watch = NULL;
    ad_flow_close(app->flow);
    app->flow = NULL;
}

const ad_engine_t ad_flow_engine = {.name = "flow", .open = open_flow, .close = close_flow};
