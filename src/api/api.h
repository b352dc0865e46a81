/* SPDX-License-Identifier: MIT */
/*
 * api: the REST handlers, one file per resource, HTTP only. A handler reads
 * the request, checks who may ask, calls the subsystem (never SQL here),
 * turns its error into a status, publishes what changed (the event as its
 * subsystem shapes it, where it has one: ad_run_agent_publish,
 * ad_wtree_publish_row, ad_psync_changed...) and answers. The app context
 * (src/engine/engine.h) is what every handler reaches the rest of the
 * daemon by.
 *
 * Threads: loop thread only.
 */
#ifndef AD_API_H
#define AD_API_H

#include "bus/bus.h"
#include "core/config.h"
#include "core/core.h"
#include "engine/engine.h"
#include "http/http.h"
#include "live/live.h"

/* Registers every REST route on app->server. app is borrowed and must
 * outlive the server; its engines are made before (src/engines.c). */
void ad_api_register(ad_app_t *app);

#endif
