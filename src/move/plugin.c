/* SPDX-License-Identifier: MIT */
/*
 * The move engine (src/engine): made when the store, the runner and the
 * worker plane are there; its one route is its routes hook's. Closed: the
 * moves under way are let go (each answers when its step comes back).
 */
#include "engine/engine.h"
#include "http/http.h"
#include "move/move.h"
#include "move/move_int.h"

#include <stdlib.h>
#include <uv.h>

static int open_mover(ad_app_t *app)
{
    if (app->store == NULL || app->runner == NULL || app->server == NULL) {
        return 0;
    }
    ad_mover_t *m = ad_xcalloc(1, sizeof(*m));
    m->app = app;
    uv_timer_init(app->loop, &m->tick);
    m->tick.data = m;
    uv_timer_start(&m->tick, ad_move_tick, 200, 200);
    uv_unref((uv_handle_t *)&m->tick);
    app->mover = m;
    return 0;
}

static void tick_closed(uv_handle_t *h)
{
    free(h->data);
}

static void routes(ad_app_t *app)
{
    if (app->mover != NULL) {
        ad_server_route(app->server, "POST", "/api/agents/:id/move", AD_ACCESS_ADMIN, ad_move_route,
                        app->mover);
    }
}

static void close_mover(ad_app_t *app)
{
    ad_mover_t *m = app->mover;
    if (m == NULL) {
        return;
    }
    ad_move_detach_all(m);
    uv_timer_stop(&m->tick);
    uv_close((uv_handle_t *)&m->tick, tick_closed); /* m goes with it */
    app->mover = NULL;
}

const ad_engine_t ad_move_engine = {
    .name = "move", .open = open_mover, .close = close_mover, .routes = routes};
