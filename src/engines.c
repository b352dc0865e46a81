/* SPDX-License-Identifier: MIT */
/*
 * The engines the daemon runs: made in this order, closed in the reverse,
 * and why the order. Each engine is a field of ad_app_t (api/api.h), owned
 * here: made by ad_engines_open, closed by ad_engines_stop or
 * ad_engines_close, which set the field back to NULL (a late callback that
 * finds it NULL does nothing). The route files of src/api only read them.
 *
 * Made (ad_engines_open), after main.c's store, runner, supervisor and
 * worker plane and before any route:
 *   1. the git work of workspaces and worktrees (src/wtree), when the store
 *      is open;
 *   2. the health sampler (src/monitor): before the alert engine, which it
 *      is then handed (the GPUs' state at each sample), and before the
 *      sweeps, which ask it for the GPUs;
 *   3. the alert engine (src/train), when the store is open: before the
 *      imports and the sweeps, which are handed it (the imports' points go
 *      through it, the sweeps tap its points);
 *   4. the imports, 5. the sweeps (src/train), when the store is open;
 *   6. project sync (src/psync), when the store is open;
 *   7. the workflow engine (src/flow), with the store and the runner;
 *   8. the jobs, 9. the services (src/svc), with the store and the
 *      supervisor: the jobs before the live channels, whose parts carry
 *      them (the seed's commands on "/");
 *   10. the crew status watcher (src/flow), with the bus;
 *   11. the live channels (src/live);
 *   12. the provider keys (src/creds), which the runner is handed as its
 *       key source: before the chats, which are handed them;
 *   13. the definitions folders' watcher (src/defs), 14. the chats
 *       (src/chat);
 *   15. the MCP server (src/mcp);
 *   16. the server's database checks: a route that needs the database
 *       answers 503 while it is away, 500 DATA_DAMAGED while it is damaged.
 *
 * Stopped (ad_engines_stop), before the store closes and the runner is
 * freed, since they write through the one and act on the other: the
 * sampler's records not yet on disk go to the writer, then the imports and
 * the sweeps, which hold the alert engine (the sweeps clear their tap on
 * it), then the alert engine itself.
 *
 * Closed (ad_engines_close), once the server has closed and the runs have
 * ended, roughly the reverse of the making: the MCP server (its streams),
 * the live channels (they borrow the jobs), the definitions' watcher and
 * the chats, then the provider keys the chats borrowed, the crew watcher,
 * the sampler (before the services it reads), the jobs, the services,
 * project sync, the workflow engine, and the git work last.
 *
 * Threads: loop thread only.
 */
#include "engines.h"

#include "chat/chat.h"
#include "creds/creds.h"
#include "defs/defs.h"
#include "flow/flow.h"
#include "live/live.h"
#include "mcp/mcp.h"
#include "monitor/monitor.h"
#include "psync/psync.h"
#include "run/run.h"
#include "store/dbcheck.h"
#include "svc/svc.h"
#include "train/train.h"
#include "wtree/wtree.h"

/* How often the workflow engine looks at its runs' steps. */
#define WF_TICK_MS 250

/* src/train's engines' publish callback (alerts, imports, sweeps): to the
 * org's, the agent's and the run's topics; ud is the app. */
static void train_publish(void *ud, const char *type, json_t *payload, const char *org,
                          const char *agent_id, const char *run_id)
{
    ad_app_t *app = ud;
    ad_bus_publish_to(app->bus, type, payload, "org", org, "agent", agent_id, "run", run_id, NULL);
}

/* The GPUs NVML shows through the health sampler, for the sweeps. */
static int sweep_gpus(void *ud, char *why, size_t whysz)
{
    ad_app_t *app = ud;
    return ad_monitor_gpus(app->monitor, why, whysz);
}

static void make_training(ad_app_t *app)
{
    ad_train_opts_t o = {.loop = app->loop,
                         .cfg = app->cfg,
                         .store = app->store,
                         .runner = app->runner,
                         .publish = train_publish,
                         .ud = app};
    app->train = app->store != NULL ? ad_train_new(&o) : NULL;
    ad_monitor_set_train(app->monitor, app->train); /* the GPUs' state at each sample */
    if (app->store != NULL) {
        app->imports = ad_train_imports_new(app->loop, app->store, app->train, train_publish, app);
        /* the alert engine's points feed the sweeps (src/train sets its tap) */
        app->sweeps = ad_train_sweeps_new(app->loop, app->store, app->runner, app->train,
                                          train_publish, sweep_gpus, app);
    }
}

/* PostgreSQL away (issue #39): the store says so and why. */
static bool db_down(void *ud, char *reason, size_t n)
{
    ad_app_t *app = ud;
    return app->store != NULL && ad_store_db_down(app->store, reason, n);
}

/* A damaged SQLite database (issue #78): what and what to do. */
static bool db_damaged(void *ud, char *reason, size_t n)
{
    AD_UNUSED(ud);
    return ad_store_damaged(reason, n);
}

/* Routes that answer without the database: they report on it. */
static const char *const db_exempt[] = {"/api/health", "/metrics", NULL};

void ad_engines_open(ad_app_t *app)
{
    if (app->store != NULL) {
        app->wtree =
            ad_wtree_new(app->loop, app->cfg, app->store, app->bus, app->runner, app->procs);
        ad_wtree_set_plane(app->wtree, app->plane);
    }
    /* the sampler reads the parts through their fields, so it sees them go */
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
                            .started_ms = app->started_ms};
    app->monitor = ad_monitor_new(&mo);
    app->health = ad_monitor_health(app->monitor);
    make_training(app);
    if (app->store != NULL) {
        app->psync =
            ad_psync_new(app->loop, app->store, app->bus, app->cfg->project_sync_interval_ms);
    }
    if (app->store != NULL && app->runner != NULL) {
        app->flow = ad_flow_new(app->loop, app->store, app->bus, app->runner, WF_TICK_MS);
    }
    if (app->store != NULL && app->procs != NULL) {
        app->jobs = ad_jobs_new(app->loop, app->cfg, app->store, app->bus, app->procs);
        ad_jobs_set_plane(app->jobs, app->plane);
        app->services =
            ad_services_open(app->loop, app->cfg, app->store, app->bus, app->procs, app->plane);
    }
    if (app->bus != NULL && app->loop != NULL) {
        app->crew_watch = ad_flow_crews_new(app->loop, app->bus, app->store);
    }
    app->live_parts =
        (ad_live_parts_t){.store = app->store, .runner = app->runner, .jobs = app->jobs};
    app->live = ad_live_new(app->loop, app->bus, app->auth, (size_t)app->cfg->ws_send_queue_bytes,
                            ad_live_heartbeat_ms(), &app->live_parts);
    app->creds = ad_creds_new(app->loop, app->store, app->cfg->data_dir);
    if (app->runner != NULL) {
        /* an agent without a key in its environment gets its org's stored one */
        ad_runner_set_key_source(app->runner, ad_creds_agent_key, app->creds);
    }
    app->defwatch = ad_defwatch_start(app->loop, app->store, app->bus, app->cfg->data_dir);
    app->chat = ad_chat_new(app->loop, app->store, app->bus, app->creds);
    app->mcp = ad_mcp_new(app->loop, app->server, app->bus, app->store, app->auth);
    /* the server answers 503 or 500 for the database away or damaged */
    ad_server_set_down(app->server, db_down, app, db_exempt);
    ad_server_set_damaged(app->server, db_damaged, app);
}

/* The alert engine, no longer the sampler's. */
static void close_train(ad_app_t *app)
{
    ad_monitor_set_train(app->monitor, NULL);
    ad_train_close(app->train);
    app->train = NULL;
}

void ad_engines_stop(ad_app_t *app)
{
    ad_monitor_flush(app->monitor); /* the history's last minute */
    ad_train_imports_close(app->imports);
    app->imports = NULL;
    ad_train_sweeps_close(app->sweeps); /* and the alert engine's tap cleared */
    app->sweeps = NULL;
    close_train(app);
}

void ad_engines_close(ad_app_t *app)
{
    ad_mcp_close(app->mcp); /* ends its streams */
    app->mcp = NULL;
    ad_live_t *L = app->live;
    if (L != NULL) {
        app->live = NULL;
        ad_live_close(L);
    }
    ad_defwatch_stop(app->defwatch);
    app->defwatch = NULL;
    ad_chat_free(app->chat);
    app->chat = NULL;
    ad_creds_free(app->creds);
    app->creds = NULL;
    ad_flow_crews_close(app->crew_watch);
    app->crew_watch = NULL;
    ad_monitor_free(app->monitor);
    app->monitor = NULL;
    app->health = NULL;
    close_train(app); /* closed by ad_engines_stop already: nothing left */
    ad_jobs_free(app->jobs);
    app->jobs = NULL;
    ad_services_free(app->services);
    app->services = NULL;
    if (app->psync != NULL) {
        ad_psync_close(app->psync);
        app->psync = NULL;
    }
    ad_flow_close(app->flow);
    app->flow = NULL;
    ad_wtree_close(app->wtree);
    app->wtree = NULL;
}
