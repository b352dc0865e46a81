/* SPDX-License-Identifier: MIT */
/*
 * The engines the daemon runs beside its routes (the alert engine, the
 * health sampler, the sweeps, the workflows, the live channels, ...): the
 * table of src/engines.c, made after the store, runner and supervisor and
 * before the routes, closed in the reverse order. Part of the binary's
 * wiring with main.c; src/api only reads their slots of the app
 * (src/engine/engine.h).
 *
 * Threads: loop thread only.
 */
#ifndef AD_ENGINES_H
#define AD_ENGINES_H

#include "api/api.h"

/* Opens every engine of the table into app (each into its slots of
 * ad_app_t), then registers their routes; the parts main.c made (loop,
 * cfg, server, store, bus, runner, procs, plane) must be set. Call before
 * ad_api_register. */
void ad_engines_open(ad_app_t *app);
/* Ends what writes through the store or acts on runs (the health records
 * not yet on disk go to the writer; the imports, sweeps and alert engine
 * close): call before ad_store_close and ad_runner_free. */
void ad_engines_stop(ad_app_t *app);
/* Closes every engine in the reverse order of the table (their memory
 * goes in their close callbacks); each sets its slots NULL. After the server has closed and after
 * ad_engines_stop, before the bus is freed. */
void ad_engines_close(ad_app_t *app);

#endif
