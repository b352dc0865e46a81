/* SPDX-License-Identifier: MIT */
/*
 * The git work of workspaces and worktrees as an engine (src/engine):
 * made when the store is open, handed the worker nodes; closed last of
 * all (src/engines.c says why).
 */
#include "engine/engine.h"
#include "wtree/wtree.h"

static int open_wtree(ad_app_t *app)
{
    if (app->store != NULL) {
        app->wtree =
            ad_wtree_new(app->loop, app->cfg, app->store, app->bus, app->runner, app->procs);
        ad_wtree_set_plane(app->wtree, app->plane);
    }
    return 0;
}

static void close_wtree(ad_app_t *app)
{
    ad_wtree_close(app->wtree);
    app->wtree = NULL;
}

const ad_engine_t ad_wtree_engine = {.name = "wtree", .open = open_wtree, .close = close_wtree};
