/* SPDX-License-Identifier: MIT */
/*
 * live: the live channels, WebSocket or Server-Sent Events connections that
 * stream bus events to a client. Each channel is one bus subscriber; the bus
 * does the matching, replay and backpressure, this subsystem does the wire
 * format: frames shared by every socket that gets the same seq, which of
 * the seeds' dialects a channel speaks (the translation is src/compat's),
 * the notices (overflow, gap, replay_truncated), the /ws protocol
 * (subscribe, unsubscribe, ping and the seed aliases), the mission
 * heartbeat, closing a channel whose credential has ended, what a channel
 * opened on each live route may watch (the run's or crew's org) and the
 * seed's commands on "/". The routes themselves are src/api's (live.c).
 *
 * Threads: loop thread only.
 */
#ifndef AD_LIVE_H
#define AD_LIVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "auth/auth.h"
#include "bus/bus.h"
#include "core/core.h"
#include "http/http.h"
#include "ws/ws.h"

/* Every open channel of one server, the heartbeat timer and the frame
 * caches. */
typedef struct ad_live ad_live_t;
/* One channel: a WebSocket or an SSE stream, and its bus subscriber. */
typedef struct ad_live_chan ad_live_chan_t;

/* What a channel passes on and in which dialect. */
typedef enum {
    AD_LIVE_WS,      /* /ws: what it subscribes to, agentd's envelope */
    AD_LIVE_RUN,     /* /ws/runs/:runId: one run's events; closed at its end */
    AD_LIVE_MISSION, /* /ws/mission: signal events, the seed's snake_case */
    AD_LIVE_GRAPH,   /* /ws/graph: a crew's tool events, the seed's snake_case */
    AD_LIVE_SSE,     /* /api/events */
    AD_LIVE_ROOT,    /* the seed's socket on "/": four event types, commands */
} ad_live_kind_t;

/* What the channels and the seed's commands act on (each borrowed; NULL:
 * what needs it answers 503 or finds nothing). */
struct ad_store;
struct ad_runner;
struct ad_jobs;
typedef struct ad_live_parts {
    struct ad_store *store;
    struct ad_runner *runner;
    struct ad_jobs *jobs;
} ad_live_parts_t;

/* A new set of channels. bus and auth (may be NULL) are borrowed and must
 * outlive it; send_bound is each channel's send-queue bound in bytes;
 * heartbeat_ms the mission heartbeat, which also rechecks every channel's
 * credential. parts (borrowed, may be NULL: no commands on "/", no run or
 * crew found) must outlive it. */
ad_live_t *ad_live_new(uv_loop_t *loop, ad_bus_t *bus, ad_auth_t *auth, size_t send_bound,
                       uint64_t heartbeat_ms, const ad_live_parts_t *parts);
/* The mission heartbeat: 45 s (a test build takes
 * AGENTD_TEST_MISSION_HEARTBEAT_MS instead). */
uint64_t ad_live_heartbeat_ms(void);
/* Stops the heartbeat and lets go of the channels still open (none once the
 * server has closed: they then deliver nothing); the memory goes in the
 * timer's close callback. */
void ad_live_close(ad_live_t *L);
/* The largest send queue (bytes) among the open channels. */
size_t ad_live_max_queued(ad_live_t *L);

/* ---- channels -------------------------------------------------------------------- */
/* A WebSocket channel for the upgrade's caller, or NULL after closing ws
 * with 4401/4403 and a reason when the guard did not let the caller in (a
 * browser cannot read a refused upgrade's status). The channel is ws's
 * data; ad_live_ws_close frees it. It sees only the caller's org's events. */
ad_live_chan_t *ad_live_ws_open(ad_live_t *L, ad_ws_t *ws, ad_req_t *upgrade, ad_live_kind_t kind);
/* An SSE channel answering r, or NULL (r then answered). */
ad_live_chan_t *ad_live_sse_open(ad_live_t *L, ad_req_t *r);
/* The ad_ws_handler_t callbacks of every WebSocket channel: the /ws
 * protocol, and freeing the channel. */
void ad_live_ws_message(ad_ws_t *ws, const char *data, size_t len, bool binary, void *ud);
void ad_live_ws_close(ad_ws_t *ws, int code, void *ud);

/* Who opened ch (borrowed, the channel's life). */
const ad_principal_t *ad_live_who(const ad_live_chan_t *ch);
/* Whether ch's credential still signs someone in; when not, ch is closed
 * (4401) and false returned. */
bool ad_live_authorized(ad_live_chan_t *ch);
/* A run channel's run and agent (either may be ""): what run_filter keeps. */
void ad_live_set_run(ad_live_chan_t *ch, const char *run_id, const char *agent_id);
/* ?compat=seed on /ws: the workbench seed's stream events. */
void ad_live_set_compat_seed(ad_live_chan_t *ch);
/* ?since=N of ch's upgrade: 0 (*has false when absent), or -1 after closing
 * the channel with 1008. */
int ad_live_query_since(ad_live_chan_t *ch, bool *has, uint64_t *since);
/* Subscribes ch to topics (from seq > since when has_since). AD_ETOOBIG
 * when a channel holds too many. */
int ad_live_subscribe(ad_live_chan_t *ch, const char *const *topics, size_t n, bool has_since,
                      uint64_t since);
/* An SSE channel passes on only events whose type is in csv (comma-
 * separated; copied). AD_EINVAL (nothing changed) for a type that is not
 * [a-z0-9_], 1 to 40 characters, or more than 32 of them. ch NULL: only
 * checks csv. */
int ad_live_set_types(ad_live_chan_t *ch, const char *csv);
/* Whether a /ws client of the same person as who (the owner, or the same
 * token) says it shows agent_id's page, visible and focused: what a
 * desktop notification about that agent waits on. Another token's or
 * organisation's clients never count, so they cannot silence anyone's
 * notifications. */
bool ad_live_viewing(ad_live_t *L, const ad_principal_t *who, const char *agent_id);
/* Sends {"type":type,"payload":payload} (payload stolen; NULL is {}). */
void ad_live_notice(ad_live_chan_t *ch, const char *type, json_t *payload);
/* An error notice {code, message}. */
void ad_live_error(ad_live_chan_t *ch, const char *code, const char *message);
/* Ends ch: nothing more is delivered, a WebSocket closes with code and
 * reason (an SSE stream just closes). */
void ad_live_end(ad_live_chan_t *ch, int code, const char *reason);

/* ---- the live routes' openings (open.c) ------------------------------------------
 * The ad_ws_handler_t open callbacks of the live routes, ud the ad_live_t:
 * /ws (?compat=seed), /ws/runs/:runId (one run's events of a run the caller
 * sees; an ended one answers run_status and closes unless ?since=),
 * /ws/mission (every crew's status, then crew:*), /ws/graph?crew_id= (one
 * crew's), and the seed's socket on "/" (every event, and its commands,
 * cmds.c). Each with ?since= where the channel takes no subscribe. */
void ad_live_open_ws(ad_ws_t *ws, ad_req_t *upgrade, void *ud);
void ad_live_open_run(ad_ws_t *ws, ad_req_t *upgrade, void *ud);
void ad_live_open_mission(ad_ws_t *ws, ad_req_t *upgrade, void *ud);
void ad_live_open_graph(ad_ws_t *ws, ad_req_t *upgrade, void *ud);
void ad_live_open_root(ad_ws_t *ws, ad_req_t *upgrade, void *ud);
/* Each opening with ad_live_ws_message and ad_live_ws_close: the
 * handlers src/api registers the five sockets with (ud the ad_live_t). */
extern const ad_ws_handler_t ad_live_ws_handler, ad_live_run_handler, ad_live_mission_handler,
    ad_live_graph_handler, ad_live_root_handler;
/* GET /api/events (ud the ad_live_t): ?topics= (comma-separated, default
 * "*"), from Last-Event-ID or ?since=; a bad one is a 422. */
void ad_live_open_sse(ad_req_t *r, void *ud);

#ifdef AD_TEST_BUILD
/* testroutes.c: the test builds' routes on server (/test/publish, /test/ws-publish,
 * /test/runs, /test/agent-status, /test/approvals, /test/store-stats,
 * /test/routes); store is borrowed. Their state goes with ad_live_close. */
void ad_live_test_routes_register(ad_live_t *L, ad_server_t *server, struct ad_store *store);
#endif

/* ---- commands whose answer comes later (the root channel's) ------------------------ */
typedef struct ad_live_pending ad_live_pending_t;
#define AD_LIVE_TYPE_MAX 32
/* A command of type waiting for its answer, or NULL when ch has too many
 * pending (16). Owned by the caller until ad_live_pending_end. */
ad_live_pending_t *ad_live_pending_new(ad_live_chan_t *ch, const char *type);
/* Frees p, its type copied into type (may be NULL); returns its channel
 * when still open to answer, else NULL. */
ad_live_chan_t *ad_live_pending_end(ad_live_pending_t *p, char type[AD_LIVE_TYPE_MAX]);

/* ---- a terminal agent's socket (terminal.c) ---------------------------------------
 * /ws/agents/:id/terminal once its opener was allowed: ws attached to
 * agent_id's terminal through the runner (4404 when it is not running,
 * 4409 when it has no terminal), cred (auth may be NULL) watched. The
 * socket's messages and its close go to the two calls below. */
void ad_live_terminal_open(ad_ws_t *ws, struct ad_runner *runner, ad_auth_t *auth,
                           const ad_auth_cred_t *cred, const char *agent_id);
void ad_live_terminal_message(ad_ws_t *ws, const char *data, size_t len, bool binary);
void ad_live_terminal_close(ad_ws_t *ws);

/* The subsystem as an engine of the daemon (plugin.c; src/engine/engine.h;
 * src/engines.c opens it). */
extern const struct ad_engine ad_live_engine;

#endif
