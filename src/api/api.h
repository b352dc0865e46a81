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
#include "core/config.h"
#include "core/core.h"
#include "http/http.h"
#include "live/live.h"

struct ad_store;
struct ad_runner;
struct ad_auth;
struct ad_procs;
struct ad_cluster;
struct ad_planes;
struct ad_health;
struct ad_jobs;
struct ad_services;
struct ad_creds;
struct ad_chat;
struct ad_defwatch;
struct ad_wtree;
struct ad_monitor;
struct ad_train;
struct ad_train_imports;
struct ad_train_sweeps;
struct ad_psync;
struct ad_flow;
struct ad_flow_crews;
struct ad_mcp;
struct ad_otel;
struct ad_plane;

/* The daemon's parts, owned by main.c (the engines by src/engines.c);
 * handlers borrow them. A part that
 * does not exist yet is NULL. */
typedef struct {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    ad_server_t *server;
    struct ad_store *store;
    struct ad_auth *auth; /* who may do what (src/auth/auth.h) */
    ad_bus_t *bus;
    struct ad_runner *runner;   /* agent runs (src/run/run.h) */
    struct ad_procs *procs;     /* the process supervisor (src/proc/proc.h) */
    struct ad_cluster *cluster; /* --redis-url (src/cluster/cluster.h), or NULL */
    struct ad_planes *planes;   /* this control plane among those of its database, or NULL */
    /* The engines, made and closed by src/engines.c (its opening comment
     * says in what order and why); NULL when not made, or once closed. */
    struct ad_wtree *wtree;           /* workspaces' and worktrees' git work (src/wtree) */
    struct ad_monitor *monitor;       /* the health sampler's feed (src/monitor) */
    struct ad_health *health;         /* the host sampler, the monitor's (src/health) */
    struct ad_train *train;           /* the alert engine (src/train) */
    struct ad_train_imports *imports; /* imports that tail (src/train) */
    struct ad_train_sweeps *sweeps;   /* the sweep engine (src/train) */
    struct ad_psync *psync;           /* projects kept in sync with folders (src/psync) */
    struct ad_flow *flow;             /* the workflow engine (src/flow) */
    struct ad_jobs *jobs;             /* jobs with progress (src/svc) */
    struct ad_services *services;     /* helpers kept up (src/svc) */
    struct ad_flow_crews *crew_watch; /* the crew status watcher (src/flow) */
    struct ad_live *live;             /* the live channels (src/live) */
    ad_live_parts_t live_parts;       /* what the seed's commands on "/" act on */
    struct ad_creds *creds;           /* provider keys (src/creds) */
    struct ad_defwatch *defwatch;     /* definitions folders watched (src/defs) */
    struct ad_chat *chat;             /* streamed chats (src/chat) */
    struct ad_mcp *mcp;               /* the MCP server (src/mcp) */
    struct ad_otel *otel;   /* spans and OTLP from runs (src/otel), set after listen; or NULL */
    struct ad_plane *plane; /* worker nodes (src/node/node.h) */
    uint64_t started_ms;    /* wall clock when the daemon started */
} ad_app_t;

/* Registers every REST route on app->server. app is borrowed and must
 * outlive the server; its engines are made before (src/engines.c). */
void ad_api_register(ad_app_t *app);

#endif
