/* SPDX-License-Identifier: MIT */
/*
 * The jobs and the services as one engine (src/engine): made with the
 * store and the supervisor, each handed the worker nodes.
 */
#include "engine/engine.h"
#include "svc/svc.h"

static int open_svc(ad_app_t *app)
{
    if (app->store != NULL && app->procs != NULL) {
        app->jobs = ad_jobs_new(app->loop, app->cfg, app->store, app->bus, app->procs);
        ad_jobs_set_plane(app->jobs, app->plane);
        app->services =
            ad_services_open(app->loop, app->cfg, app->store, app->bus, app->procs, app->plane);
    }
    return 0;
}

static void close_svc(ad_app_t *app)
{
    ad_jobs_free(app->jobs);
    app->jobs = NULL;
    ad_services_free(app->services);
    app->services = NULL;
}

const ad_engine_t ad_svc_engine = {.name = "svc", .open = open_svc, .close = close_svc};
