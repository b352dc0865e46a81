/* SPDX-License-Identifier: MIT */
/*
 * The health sampler as an engine (src/engine). It reads the parts it
 * measures through their slots in the app (the store, the runner, the
 * services, the alert engine, ...), so it sees each one come and go.
 * Stopped: its records not yet on disk go to the store's writer. Its
 * metrics: the host's, the GPUs' and the agents' gauges of the last sample.
 */
#include "engine/engine.h"
#include "monitor/monitor.h"

static int open_monitor(ad_app_t *app)
{
    ad_monitor_opts_t mo = {.loop = app->loop,
                            .cfg = app->cfg,
                            .bus = app->bus,
                            .store = &app->store,
                            .runner = &app->runner,
                            .procs = &app->procs,
                            .cluster = &app->cluster,
                            .plane = &app->plane,
                            .planes = &app->planes,
                            .services = &app->services,
                            .train = &app->train,
                            .started_ms = app->started_ms};
    app->monitor = ad_monitor_new(&mo);
    app->health = ad_monitor_health(app->monitor);
    return 0;
}

static void stop_monitor(ad_app_t *app)
{
    ad_monitor_flush(app->monitor); /* the history's last minute */
}

static void close_monitor(ad_app_t *app)
{
    ad_monitor_free(app->monitor);
    app->monitor = NULL;
    app->health = NULL;
}

static int monitor_metrics(const ad_app_t *app, ad_buf_t *b, const char *org)
{
    return ad_monitor_prom(app->monitor, ad_monitor_health(app->monitor), b, org);
}

const ad_engine_t ad_monitor_engine = {.name = "monitor",
                                       .open = open_monitor,
                                       .stop = stop_monitor,
                                       .close = close_monitor,
                                       .metrics = monitor_metrics};
