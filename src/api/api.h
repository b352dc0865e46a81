/* SPDX-License-Identifier: MIT */
/*
 * api: the REST handlers, one file per resource, HTTP only. A handler reads
 * the request, checks who may ask, calls the subsystem (never SQL here),
 * turns its error into a status, publishes what changed (the event as its
 * subsystem shapes it, where it has one: ad_run_agent_publish,
 * ad_wtree_publish_row, ad_psync_changed...) and answers. The app context
 * below is what every handler reaches the rest of the daemon by.
 *
 * Threads: loop thread only.
 */
#ifndef AD_API_H
#define AD_API_H

#include <uv.h>

#include "bus/bus.h"
#include "core/core.h"
#include "http/http.h"

struct ad_store;
struct ad_runner;
struct ad_auth;
struct ad_procs;
struct ad_cluster;
struct ad_health;
struct ad_jobs;
struct ad_services;
struct ad_creds;
struct ad_chat;
struct ad_defwatch;
struct ad_api;
struct ad_otel;
struct ad_plane;

/* The daemon's parts, owned by main.c; handlers borrow them. A part that
 * does not exist yet is NULL. */
typedef struct {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    ad_server_t *server;
    struct ad_store *store;
    struct ad_auth *auth; /* who may do what (src/auth/auth.h) */
    ad_bus_t *bus;
    struct ad_runner *runner;     /* agent runs (src/run/run.h) */
    struct ad_procs *procs;       /* the process supervisor (src/proc/proc.h) */
    struct ad_cluster *cluster;   /* --redis-url (src/cluster/cluster.h), or NULL */
    struct ad_health *health;     /* the host sampler, made by health.c (src/health) */
    struct ad_jobs *jobs;         /* jobs with progress, made by jobs.c (src/svc) */
    struct ad_services *services; /* helpers kept up, made by services.c (src/svc) */
    struct ad_creds *creds;       /* provider keys, made by creds.c (src/creds) */
    struct ad_chat *chat;         /* streamed chats, made by chats.c (src/chat) */
    struct ad_defwatch *defwatch; /* definitions folders watched, made by defs.c (src/defs) */
    struct ad_api *api;           /* the REST layer's own state (api_int.h) */
    struct ad_otel *otel;   /* spans and OTLP from runs (src/otel), set after listen; or NULL */
    struct ad_plane *plane; /* worker nodes (src/node/node.h) */
    uint64_t started_ms;    /* wall clock when the daemon started */
} ad_app_t;

/* Registers every REST route on app->server. app is borrowed and must
 * outlive the server. */
void ad_api_register(ad_app_t *app);
/* Closes the handles the REST layer keeps between requests (timers, bus
 * watchers); their memory goes in their close callbacks. After the server
 * has closed, before the bus is freed. */
void ad_api_close(ad_app_t *app);
/* Ends what writes through the store or acts on runs (the health
 * records not yet on disk go to the writer; the alert engine closes):
 * call before ad_store_close and ad_runner_free. Loop thread. */
void ad_api_stop_engines(ad_app_t *app);

#endif
