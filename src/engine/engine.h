/* SPDX-License-Identifier: MIT */
/*
 * engine: the daemon's small core and the interface of its plug-in engines
 * (issue #79). The app (ad_app_t) holds the core parts main.c makes (loop,
 * configuration, server, store, auth, bus, runner, supervisor, ...) and one
 * typed slot per engine state; an engine is an optional subsystem that
 * exports one ad_engine_t (src/<sub>/plugin.c), whose hooks make its state
 * from the core parts into its slots and close it again. src/engines.c is
 * the ordered table of those structs; the loop over a table is here.
 *
 * Only core below it: every subsystem may include this header (an engine's
 * own file does; the subsystems' other files need not).
 *
 * Threads: loop thread only.
 */
#ifndef AD_ENGINE_H
#define AD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"
#include "core/core.h"

struct ad_server;
struct ad_store;
struct ad_auth;
struct ad_bus;
struct ad_runner;
struct ad_procs;
struct ad_cluster;
struct ad_planes;
struct ad_plane;
struct ad_otel;
struct ad_health;
struct ad_wtree;
struct ad_monitor;
struct ad_train;
struct ad_train_imports;
struct ad_train_sweeps;
struct ad_psync;
struct ad_flow;
struct ad_flow_crews;
struct ad_jobs;
struct ad_services;
struct ad_live;
struct ad_live_parts;
struct ad_creds;
struct ad_defwatch;
struct ad_chat;
struct ad_mcp;
struct ad_prloop;
struct ad_routines;
struct ad_push;
struct ad_sessions;
struct ad_mover;
struct ad_fleet;

typedef struct ad_app ad_app_t;

/* One engine. Every hook gets the app; all but open may be NULL.
 * open:    makes the engine's state from the core parts (and the engines
 *          opened before it, read from their slots) into its own slots.
 *          0, also when the engine does not run here (no store: its slots
 *          stay NULL); -1 when it could not open: its slots stay NULL, it
 *          is logged and not closed, and the engines after it open all the
 *          same.
 * stop:    hands over what it still writes through the store or does to
 *          runs, before the store closes and the runner is freed.
 * close:   lets go of the rest and sets its slots back to NULL (a late
 *          callback that finds a slot NULL does nothing).
 * routes:  registers the engine's routes on app->server (push's only:
 *          the others' handlers are src/api's, docs/internals/engines.md).
 * metrics: appends the engine's families to GET /metrics' text for org
 *          ("" every org's); 0 or the buffer's error.
 * A subsystem's header declares its one engine without this header:
 * extern const struct ad_engine ad_<sub>_engine; */
typedef struct ad_engine {
    const char *name;
    int (*open)(ad_app_t *app);
    void (*stop)(ad_app_t *app);
    void (*close)(ad_app_t *app);
    void (*routes)(ad_app_t *app);
    int (*metrics)(const ad_app_t *app, ad_buf_t *b, const char *org);
} ad_engine_t;

/* The most engines a table may hold. */
#define AD_ENGINES_MAX 32

/* A table of engines as it runs: which opened. */
typedef struct {
    const ad_engine_t *const *list; /* in the order they open; borrowed */
    size_t n;
    bool open[AD_ENGINES_MAX]; /* list[i]'s open returned 0 and it is not closed */
} ad_engines_t;

/* The daemon's parts, owned by main.c (the core) and by the engines
 * (their slots); route handlers borrow them and read an engine's state
 * from its slot (app->jobs), NULL when it does not run. */
struct ad_app {
    /* The core, made by main.c before any engine and closed after them. */
    uv_loop_t *loop;
    const ad_config_t *cfg;
    struct ad_server *server;
    struct ad_store *store;
    struct ad_auth *auth; /* who may do what (src/auth/auth.h) */
    struct ad_bus *bus;
    struct ad_runner *runner;   /* agent runs (src/run/run.h) */
    struct ad_procs *procs;     /* the process supervisor (src/proc/proc.h) */
    struct ad_plane *plane;     /* worker nodes (src/node/node.h) */
    struct ad_cluster *cluster; /* --redis-url (src/cluster/cluster.h), or NULL */
    struct ad_planes *planes;   /* this control plane among those of its database, or NULL */
    struct ad_otel *otel;       /* spans and OTLP from runs (src/otel), set after listen; or NULL */
    uint64_t started_ms;        /* wall clock when the daemon started */
    ad_engines_t engines;       /* the table src/engines.c opened */

    /* The engines' slots: each written only by its engine's hooks
     * (src/<sub>/plugin.c); NULL when not made, or once closed. */
    struct ad_wtree *wtree;           /* workspaces' and worktrees' git work (src/wtree) */
    struct ad_monitor *monitor;       /* the health sampler's feed (src/monitor) */
    struct ad_health *health;         /* the host sampler, the monitor's (src/health) */
    struct ad_train *train;           /* the alert engine (src/train) */
    struct ad_train_imports *imports; /* imports that tail (src/train) */
    struct ad_train_sweeps *sweeps;   /* the sweep engine (src/train) */
    struct ad_psync *psync;           /* projects kept in sync with folders (src/psync) */
    struct ad_flow *flow;             /* the workflow engine (src/flow) */
    struct ad_flow_crews *crew_watch; /* the crew status watcher (src/flow) */
    struct ad_jobs *jobs;             /* jobs with progress (src/svc) */
    struct ad_services *services;     /* helpers kept up (src/svc) */
    struct ad_live *live;             /* the live channels (src/live) */
    struct ad_live_parts *live_parts; /* what the seed's commands on "/" act on */
    struct ad_creds *creds;           /* provider keys (src/creds) */
    struct ad_defwatch *defwatch;     /* definitions folders watched (src/defs) */
    struct ad_chat *chat;             /* streamed chats (src/chat) */
    struct ad_mcp *mcp;               /* the MCP server (src/mcp) */
    struct ad_prloop *prloop;         /* pull requests' feedback loops (src/loop) */
    struct ad_routines *routines;     /* routines: the scheduler and its runs (src/routine) */
    struct ad_push *push;             /* Web Push to the dashboard app (src/push) */
    struct ad_sessions *sessions;     /* the CLIs' own sessions on this machine (src/sessions) */
    struct ad_mover *mover;           /* live agents moved between machines (src/move) */
    struct ad_fleet *fleet; /* registration tokens, node events, autoscaling (src/fleet) */
};

/* Opens list[0..n) in order into app->engines (n at most AD_ENGINES_MAX):
 * an engine whose open fails is logged and left out, the others open. */
void ad_engines_open_table(ad_app_t *app, const ad_engine_t *const *list, size_t n);
/* Each open engine's routes hook, in the table's order. */
void ad_engines_routes(ad_app_t *app);
/* Each open engine's stop hook, in the table's order (the health
 * sampler's last records go before the alert engine closes). */
void ad_engines_stop_table(ad_app_t *app);
/* Each open engine's close hook, in the reverse order of the table; every
 * engine is then closed (a second call does nothing). */
void ad_engines_close_table(ad_app_t *app);
/* Each open engine's metrics hook in the table's order, into b; 0 or the
 * first error. */
int ad_engines_metrics(const ad_app_t *app, ad_buf_t *b, const char *org);

#endif
