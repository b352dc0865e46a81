/* SPDX-License-Identifier: MIT */
/*
 * The engines the daemon runs beside its routes (the alert engine, the
 * health sampler, the sweeps, the workflows, the live channels, ...): made
 * after the store, runner and supervisor and before the routes, closed in
 * the reverse order. Part of the binary's wiring with main.c; src/api only
 * reads them from the app (api/api.h).
 *
 * Threads: loop thread only.
 */
#ifndef AD_ENGINES_H
#define AD_ENGINES_H

#include "api/api.h"

/* Makes every engine into app (each one a field of ad_app_t); the parts
 * main.c made (loop, cfg, server, store, bus, runner, procs, plane) must
 * be set. Call before ad_api_register. */
void ad_engines_open(ad_app_t *app);
/* Ends what writes through the store or acts on runs (the health records
 * not yet on disk go to the writer; the imports, sweeps and alert engine
 * close): call before ad_store_close and ad_runner_free. */
void ad_engines_stop(ad_app_t *app);
/* Closes the rest (their memory goes in their close callbacks) and sets
 * each field NULL. After the server has closed and after ad_engines_stop,
 * before the bus is freed. */
void ad_engines_close(ad_app_t *app);

#endif
