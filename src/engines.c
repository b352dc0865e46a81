/* SPDX-License-Identifier: MIT */
/*
 * The engines the daemon runs: the ordered table of the subsystems'
 * engine structs (src/engine/engine.h; each in its folder's plugin.c),
 * opened in the table's order, stopped in the same order, closed in the
 * reverse. Each engine's state is a slot of ad_app_t, written by its own
 * hooks only; the route files of src/api only read them.
 *
 * The table, and why in this order (opened after main.c's store, runner,
 * supervisor and worker plane, and before any route):
 *   1. wtree: the git work of workspaces and worktrees, when the store is
 *      open; closed last of all.
 *   2. monitor: the health sampler, before the alert engine and the
 *      sweeps (it reads the one from its slot at each sample, the others
 *      ask its last sample for the GPUs). Stopped first: its records not
 *      yet on disk go to the writer. Closed after the services and the
 *      jobs it reads (through their slots, so it sees them go).
 *   3. train: the alert engine, the imports and the sweeps, when the store
 *      is open (the alert engine before the others, which are handed it).
 *      Stopped after the sampler, all of it: the imports, the sweeps (they
 *      clear their tap on the alert engine), then the alert engine.
 *   4. psync: project sync, when the store is open.
 *   5. flow: the workflow engine (with the store and the runner) and the
 *      crew status watcher (with the bus).
 *   6. svc: the jobs and the services, with the store and the supervisor:
 *      before the live channels, whose parts carry the jobs (the seed's
 *      commands on "/"), so the channels close before the jobs.
 *   7. live: the live channels.
 *   8. creds: the provider keys, which the runner is handed as its key
 *      source: before the chats, which borrow them, so closed after them.
 *   9. defs: the definitions folders' watcher.
 *   10. chat: the chats.
 *   11. loop: the pull requests' feedback loops (issue #75), after the
 *       provider keys (a forge's token) and the runner; stopped before the
 *       store closes (its timer).
 *   12. mcp: the MCP server, closed right after the routines (its streams
 *       end).
 *   13. routine: routines (issue #75), with the store, the bus and the
 *       server (its runs are REST calls in-process); closed right after
 *       push, so no fire starts a run while the others close.
 *   14. push: Web Push (store, bus), closed right after the sessions (its
 *       deliveries on the pool end).
 *   15. sessions: the CLIs' own sessions (issue #76); it uses only the
 *       bus and the pool, so its place is free: last, closed first.
 *   16. search: GET /api/search (issue #76), an engine of routes only
 *       (it opens nothing): after the others, like any routes hook.
 *   17. move: live agents moved between the control plane and nodes
 *       (issue #76), with the store, the runner, the plane and wtree (a
 *       worktree's work committed before it goes): after all of them,
 *       closed first (a move under way answers when its step returns).
 *   18. fleet: registration tokens, node events and the autoscaling hook
 *       (issue #77), with the worker plane, the store, the server and the
 *       supervisor (the hook's process): all core, so after the others;
 *       stopped with them (its hook killed), closed first.
 * Then the server's database checks (core: the server and the store): a
 * route that needs the database answers 503 while it is away, 500
 * DATA_DAMAGED while it is damaged.
 *
 * Stopped (ad_engines_stop) before the store closes and the runner is
 * freed, since they write through the one and act on the other; closed
 * (ad_engines_close) once the server has closed and the runs have ended.
 * docs/internals/engines.md says how to add an engine.
 *
 * Threads: loop thread only.
 */
#include "engines.h"

#include "chat/chat.h"
#include "creds/creds.h"
#include "defs/defs.h"
#include "fleet/fleet.h"
#include "flow/flow.h"
#include "live/live.h"
#include "loop/loop.h"
#include "mcp/mcp.h"
#include "monitor/monitor.h"
#include "move/move.h"
#include "psync/psync.h"
#include "routine/routine.h"
#include "search/search.h"
#include "push/push.h"
#include "sessions/sessions.h"
#include "store/dbcheck.h"
#include "svc/svc.h"
#include "train/train.h"
#include "wtree/wtree.h"

static const ad_engine_t *const table[] = {
    &ad_wtree_engine,   &ad_monitor_engine, &ad_train_engine,    &ad_psync_engine,
    &ad_flow_engine,    &ad_svc_engine,     &ad_live_engine,     &ad_creds_engine,
    &ad_defs_engine,    &ad_chat_engine,    &ad_loop_engine,     &ad_mcp_engine,
    &ad_routine_engine, &ad_push_engine,    &ad_sessions_engine, &ad_search_engine,
    &ad_move_engine,    &ad_fleet_engine,
};
_Static_assert(AD_ARRAY_LEN(table) <= AD_ENGINES_MAX, "raise AD_ENGINES_MAX");

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
    ad_engines_open_table(app, table, AD_ARRAY_LEN(table));
    /* the server answers 503 or 500 for the database away or damaged */
    ad_server_set_down(app->server, db_down, app, db_exempt);
    ad_server_set_damaged(app->server, db_damaged, app);
    ad_engines_routes(app);
}

void ad_engines_stop(ad_app_t *app)
{
    ad_engines_stop_table(app);
}

void ad_engines_close(ad_app_t *app)
{
    ad_engines_close_table(app);
}
