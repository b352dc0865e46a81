/* SPDX-License-Identifier: MIT */
/*
 * live: the live channels, WebSocket or Server-Sent Events connections that
 * stream bus events to a client. Each channel is one bus subscriber; the bus
 * does the matching, replay and backpressure, this subsystem does the wire
 * format: frames shared by every socket that gets the same seq, the seeds'
 * dialects, the notices (overflow, gap, replay_truncated), the /ws protocol
 * (subscribe, unsubscribe, ping and the seed aliases), the mission
 * heartbeat, and closing a channel whose credential has ended. Which rows a
 * channel may watch, and the routes, are src/api's (live.c).
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

/* A message of the seed's commands on a root channel (type, payload may be
 * NULL when the message's payload is not an object): true when cmd answered
 * it, false to let the /ws protocol handle it. */
typedef bool (*ad_live_cmd_fn)(ad_live_chan_t *ch, const char *type, json_t *payload, void *ud);

/* A new set of channels. bus and auth (may be NULL) are borrowed and must
 * outlive it; send_bound is each channel's send-queue bound in bytes;
 * heartbeat_ms the mission heartbeat, which also rechecks every channel's
 * credential. cmd (may be NULL) answers the root channel's commands. */
ad_live_t *ad_live_new(uv_loop_t *loop, ad_bus_t *bus, ad_auth_t *auth, size_t send_bound,
                       uint64_t heartbeat_ms, ad_live_cmd_fn cmd, void *cmd_ud);
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
/* Sends {"type":type,"payload":payload} (payload stolen; NULL is {}). */
void ad_live_notice(ad_live_chan_t *ch, const char *type, json_t *payload);
/* An error notice {code, message}. */
void ad_live_error(ad_live_chan_t *ch, const char *code, const char *message);
/* Ends ch: nothing more is delivered, a WebSocket closes with code and
 * reason (an SSE stream just closes). */
void ad_live_end(ad_live_chan_t *ch, int code, const char *reason);

/* ---- commands whose answer comes later (the root channel's) ------------------------ */
typedef struct ad_live_pending ad_live_pending_t;
#define AD_LIVE_TYPE_MAX 32
/* A command of type waiting for its answer, or NULL when ch has too many
 * pending (16). Owned by the caller until ad_live_pending_end. */
ad_live_pending_t *ad_live_pending_new(ad_live_chan_t *ch, const char *type);
/* Frees p, its type copied into type (may be NULL); returns its channel
 * when still open to answer, else NULL. */
ad_live_chan_t *ad_live_pending_end(ad_live_pending_t *p, char type[AD_LIVE_TYPE_MAX]);

/* ---- the seeds' dialects (seed.c) ---------------------------------------------------- */
/* env {type, payload, ...} in the seed's snake_case, in place; false when it
 * has no payload object to translate. */
bool ad_live_seed_envelope(json_t *env);
/* A system_health payload with every figure the seed's panel reads (0 and
 * <key>Available: false where agentd has null), in place. */
void ad_live_seed_health(json_t *payload);
/* An agent status in the Claude Manager seed's strict enum (running,
 * waiting, error, finished): paused is waiting; idle and stopped finished. */
const char *ad_live_seed_status(const char *st);
/* The text of each answer so far on one /ws?compat=seed connection; the
 * connection owns the list (*head) and frees it with ad_live_seed_acc_free. */
typedef struct ad_live_seed_acc ad_live_seed_acc_t;
/* ev in the workbench seed's stream form (a new string, the caller frees
 * it), or NULL: send ev as it is. Updates *head's accumulated text. */
char *ad_live_seed_compat_text(ad_live_seed_acc_t **head, const ad_bus_event_t *ev);
void ad_live_seed_acc_free(ad_live_seed_acc_t **head);

#endif
