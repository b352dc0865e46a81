/* SPDX-License-Identifier: MIT */
/*
 * The routine engine (src/engine): made with the store, the bus and the
 * server (its runs' REST calls are the server's routes), when the store
 * is open. Its scheduler listens on the bus for routine_update from other
 * control planes (over Redis) and reads the next fire again. Closed: its
 * timers stop, its subscriber goes; the memory waits for the writes and
 * calls out.
 */
#include "engine/engine.h"
#include "routine/routine_int.h"

#include <stdio.h>
#include <stdlib.h>

static int deliver(void *ud, const ad_bus_event_t *ev)
{
    if (ad_bus_event_remote(ev)) {
        ad_routines_arm(ud); /* another plane changed a routine */
    }
    return 0;
}

static void overflow(void *ud, uint64_t last_seq)
{
    AD_UNUSED(last_seq);
    ad_routines_arm(ud);
}

static void truncated(void *ud, uint64_t oldest)
{
    AD_UNUSED(ud);
    AD_UNUSED(oldest);
}

static const ad_bus_sub_ops_t sub_ops = {
    .deliver = deliver, .overflow = overflow, .truncated = truncated};

void ad_routines_maybe_free(ad_routines_t *e)
{
    if (e->closed && e->out == 0 && e->handles == 0) {
        free(e);
    }
}

static void handle_closed(uv_handle_t *h)
{
    ad_routines_t *e = h->data;
    e->handles--;
    ad_routines_maybe_free(e);
}

static int open_routines(ad_app_t *app)
{
    if (app->store == NULL || app->server == NULL || app->loop == NULL) {
        return 0;
    }
    ad_routines_t *e = ad_xcalloc(1, sizeof(*e));
    e->loop = app->loop;
    e->st = app->store;
    e->bus = app->bus;
    e->server = app->server;
    if (app->cfg != NULL) {
        snprintf(e->plane, sizeof(e->plane), "%s", app->cfg->plane_id);
        snprintf(e->data_dir, sizeof(e->data_dir), "%s", app->cfg->data_dir);
    }
    uv_timer_init(app->loop, &e->timer);
    uv_timer_init(app->loop, &e->watch);
    e->timer.data = e->watch.data = e;
    uv_unref((uv_handle_t *)&e->timer);
    uv_unref((uv_handle_t *)&e->watch);
    e->handles = 2;
    if (app->bus != NULL) {
        static const char *const topics[] = {"routines"};
        e->sub = ad_bus_sub_new(app->bus, &sub_ops, e, 0);
        if (ad_bus_subscribe(e->sub, topics, 1, false, 0) != 0) {
            ad_bus_sub_free(e->sub);
            e->sub = NULL;
        }
    }
#ifdef AD_TEST_BUILD
    const char *shift = getenv("AGENTD_TEST_ROUTINE_SHIFT_MS");
    e->shift_ms = shift != NULL ? strtoll(shift, NULL, 10) : 0;
#endif
    app->routines = e;
    ad_routines_arm(e);
    ad_routines_watch(e); /* runs left open by the last start, if any */
    return 0;
}

/* Before the store closes: no fire, run step or write starts from now on
 * (a step still out ends without writing; its run is left starting, and a
 * plane's watch fails it later). */
static void stop_routines(ad_app_t *app)
{
    ad_routines_t *e = app->routines;
    if (e == NULL) {
        return;
    }
    e->closed = true;
    uv_timer_stop(&e->timer);
    uv_timer_stop(&e->watch);
    if (e->sub != NULL) {
        ad_bus_sub_free(e->sub);
        e->sub = NULL;
    }
}

static void close_routines(ad_app_t *app)
{
    ad_routines_t *e = app->routines;
    if (e == NULL) {
        return;
    }
    stop_routines(app);
    app->routines = NULL;
    uv_close((uv_handle_t *)&e->timer, handle_closed);
    uv_close((uv_handle_t *)&e->watch, handle_closed);
}

void ad_routines_set_agent_check(ad_routines_t *e, ad_routine_agent_check_fn fn)
{
    if (e != NULL) {
        e->agent_check = fn;
    }
}

const ad_engine_t ad_routine_engine = {.name = "routine",
                                       .open = open_routines,
                                       .stop = stop_routines,
                                       .close = close_routines,
                                       .routes = ad_routines_routes};
