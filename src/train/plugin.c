/* SPDX-License-Identifier: MIT */
/*
 * The alert engine, the imports and the sweeps as one engine (src/engine),
 * when the store is open: the alert engine first, since the imports' points
 * go through it and the sweeps tap its points. The health sampler, opened
 * before, reads the alert engine from its slot (the GPUs' state at each
 * sample); the sweeps ask the sampler's last sample for the GPUs. Stopped
 * before the store closes and the runner is freed: the imports, the sweeps
 * (which clear their tap on the alert engine), then the alert engine.
 */
#include "bus/bus.h"
#include "engine/engine.h"
#include "health/health.h"
#include "train/train.h"

/* The engines' publish callback (alerts, imports, sweeps): to the org's,
 * the agent's and the run's topics; ud is the app. */
static void train_publish(void *ud, const char *type, json_t *payload, const char *org,
                          const char *agent_id, const char *run_id)
{
    ad_app_t *app = ud;
    ad_bus_publish_to(app->bus, type, payload, "org", org, "agent", agent_id, "run", run_id, NULL);
}

/* The GPUs NVML shows in the health sampler's last sample, for the sweeps. */
static int sweep_gpus(void *ud, char *why, size_t whysz)
{
    ad_app_t *app = ud;
    return ad_health_gpus(app->health, why, whysz);
}

static int open_train(ad_app_t *app)
{
    if (app->store == NULL) {
        return 0;
    }
    ad_train_opts_t o = {.loop = app->loop,
                         .cfg = app->cfg,
                         .store = app->store,
                         .runner = app->runner,
                         .publish = train_publish,
                         .ud = app};
    app->train = ad_train_new(&o);
    app->imports = ad_train_imports_new(app->loop, app->store, app->train, train_publish, app);
    /* the alert engine's points feed the sweeps (src/train sets its tap) */
    app->sweeps = ad_train_sweeps_new(app->loop, app->store, app->runner, app->train, train_publish,
                                      sweep_gpus, app);
    return 0;
}

/* Also its close: once stopped, nothing is left. */
static void stop_train(ad_app_t *app)
{
    ad_train_imports_close(app->imports);
    app->imports = NULL;
    ad_train_sweeps_close(app->sweeps); /* and the alert engine's tap cleared */
    app->sweeps = NULL;
    ad_train_close(app->train);
    app->train = NULL; /* the sampler no longer tells it of the GPUs */
}

const ad_engine_t ad_train_engine = {
    .name = "train", .open = open_train, .stop = stop_train, .close = stop_train};
