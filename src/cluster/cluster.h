/* SPDX-License-Identifier: MIT */
/*
 * cluster: crew events shared between agentd nodes through Redis pub/sub,
 * on the seed's channels. Every crew tool event (tool_start, tool_progress,
 * tool_end) published on this node's bus goes to `graph:{crew_id}`, every
 * crew `signal` to `mission:{crew_id}`, as {origin, type, topics, org,
 * payload}; what arrives on those channels from other nodes (or from any
 * program that publishes there) goes onto this node's bus under
 * `crew:{crew_id}`, so /ws/graph and /ws/mission show it. A node skips its
 * own messages (origin), and never sends on what came from Redis.
 *
 * Redis being down never touches local delivery: events meanwhile are not
 * sent (pub/sub keeps nothing either) and the bridge reconnects with
 * backoff (100 ms doubling to 5 s), resubscribing.
 *
 * Every other event (issue #39: several control planes on one database)
 * goes to the channel agentd:bus as {origin, type, topics, payload}; what
 * other planes send there is published on this bus under its own topics
 * and from:redis, so local subscribers (WS, SSE, with their org scoping)
 * see it and it lands in this plane's event log under this plane's seq,
 * and is never sent back.
 *
 * Every message is signed (buskey.c, issue #73): a process that can reach
 * Redis but does not hold the key (--redis-key-file, or
 * <data-dir>/redis.key) cannot publish into any org's streams; what is not
 * signed with it is refused, logged and counted (health: cluster.refused).
 *
 * Threads: loop thread only.
 */
#ifndef AD_CLUSTER_H
#define AD_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/core.h"
#include "store/store.h"
#include "tables/planes.h"

typedef struct ad_cluster ad_cluster_t;

/* The org of crew_id on this node into org (AD_ID_MAX bytes): true when
 * known. Used for messages that do not say their org. */
typedef bool (*ad_cluster_org_fn)(void *ud, const char *crew_id, char *org);

/* A signed message's `at` may be this far from the receiver's clock. */
#define AD_CLUSTER_MAC_SKEW_MS 60000
/* The key: the SHA-256 of file's text (file: --redis-key-file), or of
 * <data_dir>/redis.key's, made there at the first start (0600, a random
 * secret). A file others may read, or with less than 32 characters, is
 * refused. 0, or an AD_E* code with err. */
int ad_cluster_key(const char *data_dir, const char *file, uint8_t key[32], char *err,
                   size_t errsz);
/* Signs the JSON object in b (ending '}') for channel: `,"n":seq`,
 * `,"at":now_ms` and `,"mac":"HEX"` go before its '}' (seq: the sender's
 * count, so two equal events are two messages). 0 or AD_EINVAL /
 * AD_ETOOBIG. */
int ad_cluster_sign(const uint8_t key[32], const char *channel, uint64_t seq, uint64_t now_ms,
                    ad_buf_t *b);
/* The macs taken within the skew (a replay is refused): a table of nseen
 * zeroed slots the caller keeps. */
typedef struct {
    uint64_t tag;
    int64_t at;
} ad_cluster_seen_t;
/* NULL when data[0..len) on channel is signed with key within the skew
 * and was not taken before (seen, or NULL: not looked at); *signed_len is
 * then the length of its text without the mac, to which a '}' makes the
 * object. Else why not (static text). */
const char *ad_cluster_verify(const uint8_t key[32], const char *channel, const char *data,
                              size_t len, uint64_t now_ms, ad_cluster_seen_t *seen, size_t nseen,
                              size_t *signed_len);

/* Starts the bridge to url; origin is this node's id in messages (the
 * control plane's id; NULL or "": a new one) ("redis://host:port"). Returns 0 and *out
 * (owned: ad_cluster_close()), or AD_EINVAL with err for a URL it cannot
 * use. Connecting happens in the background. */
int ad_cluster_start(uv_loop_t *loop, ad_bus_t *bus, const char *url, const char *origin,
                     const uint8_t key[32], ad_cluster_org_fn org_of, void *org_ud,
                     ad_cluster_t **out, char *err, size_t errsz);
/* Whether both connections are up (subscribed). */
bool ad_cluster_connected(const ad_cluster_t *c);
/* Messages refused so far (unsigned, forged, malformed). */
uint64_t ad_cluster_refused(const ad_cluster_t *c);
/* agentd_redis_messages_total{result: sent, received, dropped, refused}
 * into b (NULL: nothing). 0 or AD_ETOOBIG. */
int ad_cluster_prom(const ad_cluster_t *c, ad_buf_t *b);
/* This node's id in messages. Borrowed. */
const char *ad_cluster_node(const ad_cluster_t *c);
/* Disconnects and frees (memory goes once libuv has closed the handles).
 * Before the bus is freed. NULL is fine. */
void ad_cluster_close(ad_cluster_t *c);

/* ---- control planes on one database (planes.c, issue #39) -------------------------------
 * Each control plane has an id, a row in `planes` renewed every
 * AD_PLANES_BEAT_MS, and the lease of each run it runs, renewed with it
 * and lasting AD_PLANES_LEASE_MS. After each heartbeat it takes the runs on
 * worker nodes whose lease lapsed (their plane died), and those of the
 * held runs it may reach on this machine (the held hook): one plane wins
 * each, and the runner takes it up (docs/operations.md, "Several control
 * planes"). */
#define AD_PLANES_BEAT_MS 2000
#define AD_PLANES_LEASE_MS 6000
typedef struct ad_planes ad_planes_t;
typedef struct {
    /* The ids of the runs this plane runs now: a new JSON array. */
    json_t *(*runs)(void *ud);
    /* The ids of other planes' held runs this plane could take up
     * (--takeover-dirs): a new JSON array, or NULL. */
    json_t *(*held)(void *ud);
    /* run_id's lease is this plane's now: take the run up. */
    void (*take)(void *ud, const char *run_id);
    /* run_id, which this plane runs, is under another plane's live lease
     * (issue #77: it took the run while this plane could not renew): let
     * the run go here without ending it. */
    void (*lost)(void *ud, const char *run_id);
    void *ud;
} ad_planes_hooks_t;
/* This plane's id into out: given (checked: [A-Za-z0-9_-], shorter than
 * AD_ID_MAX), else <data_dir>/plane-id's, else a new one written there
 * (0600). 0, or AD_EINVAL / AD_EIO with err. */
int ad_planes_id(const char *data_dir, const char *given, char out[AD_ID_MAX], char *err,
                 size_t errsz);
/* Starts the heartbeat (the first at once). store borrowed; url is where
 * the plane is reached. Returns owned: ad_planes_close(). */
ad_planes_t *ad_planes_start(uv_loop_t *loop, struct ad_store *store, const char *id,
                             const char *url, const ad_planes_hooks_t *hooks);
/* The plane's id ("" for NULL). Borrowed. */
const char *ad_planes_self(const ad_planes_t *p);
/* {id, url, leaseMs, planes: [{id, url, startedAt, heartbeatAt, runs}]}
 * (the planes heard from within a lease; runs: the leases each holds), or
 * json null for NULL. New reference. */
json_t *ad_planes_health(ad_planes_t *p);
/* Prometheus families into b (NULL: nothing). 0 or AD_ETOOBIG. */
int ad_planes_prom(ad_planes_t *p, ad_buf_t *b);
/* Stops the heartbeat (leases then lapse unless renewed by a new start).
 * NULL is fine. */
void ad_planes_close(ad_planes_t *p);
/* Whether no other control plane was live at the last heartbeat (a cached
 * flag, read after each one; true before the first, and for NULL): then no
 * request needs a look for its owner elsewhere (forward.c). */
bool ad_planes_alone(const ad_planes_t *p);
/* How many other control planes were heard from within a lease. */
size_t ad_planes_others_live(ad_planes_t *p);
/* This plane stops while others go on (issue #77): no more heartbeats (its
 * run leases lapse, and the others take its runs on nodes), and its row
 * says it is gone, so nodes are not sent to it. */
void ad_planes_leave(ad_planes_t *p);
/* Its loop and store (borrowed). */
uv_loop_t *ad_planes_loop(const ad_planes_t *p);
ad_store_t *ad_planes_store(const ad_planes_t *p);

/* ---- a request sent on to the plane that owns its work (forward.c, issue #77) ----
 * An agent's run is held by one plane (its lease), a node's link by one
 * plane: a start, stop, message, pause, resume or approval that reaches
 * another plane is sent on to the owner as it came (method, path and
 * query, body, the caller's credential; the accounts are every plane's)
 * and answered with the owner's answer (502 PLANE_UNREACHABLE when it
 * cannot be reached). A request sent on carries AD_PLANES_FORWARDED_HEADER
 * and is never sent on again; one with no credential is not sent (409
 * OWNED_ELSEWHERE naming the plane). Loop thread. */
#define AD_PLANES_FORWARDED_HEADER "x-agentd-forwarded-by"
struct ad_req;
/* Whether r came sent on by another plane. */
bool ad_planes_was_forwarded(const struct ad_req *r);
/* The live plane, not this one, whose lease holds agent_id's running run:
 * true with it in *to. p NULL, or alone at the last heartbeat: false,
 * nothing read. */
bool ad_planes_agent_owner(ad_planes_t *p, const char *agent_id, ad_store_plane_ref_t *to);
/* Sends r on to `to`; r is answered with its answer, or 409 OWNED_ELSEWHERE
 * when it came sent on already (never a second run), has no credential or
 * `to` cannot be reached. */
void ad_planes_forward(ad_planes_t *p, struct ad_req *r, const ad_store_plane_ref_t *to);

/* The same for a request whose credential is its body (a Web Push action
 * token, src/push, checked here first): sent on with no header
 * credential; one sent on already is 409 OWNED_ELSEWHERE. */
void ad_planes_forward_bearing(ad_planes_t *p, struct ad_req *r, const ad_store_plane_ref_t *to);
/* Whether url may carry a caller's credential: http(s), a host, no
 * userinfo, no space or control character. */
bool ad_planes_url_ok(const char *url);
/* r's path and query at base, the query's token left out (it goes as a
 * header): a new string, or NULL when too long. */
char *ad_planes_ws_url(const struct ad_req *r, const char *base);
/* "agentd_session[_PORT]=value" as the plane at url reads a dashboard
 * session from a request whose Host its client wrote: port_always (src/ws's
 * client names the port always) or as libcurl (the scheme's own port left
 * out). 0, AD_EINVAL (a URL or value it cannot use) or AD_ETOOBIG. */
int ad_planes_session_cookie(const char *url, bool port_always, const char *value, char *out,
                             size_t outsz);

/* ---- a WebSocket sent on to the plane that holds its work (wsfwd.c, issue #77) ----
 * An agent's terminal opened on a plane whose run another live plane holds
 * (ad_planes_agent_owner; p NULL or none: false, nothing done): the
 * caller's socket ws is joined to one opened at `to` (same path, the
 * caller's credential as the owner reads it, AD_PLANES_FORWARDED_HEADER),
 * every message sent across both ways, and either side's close closing
 * the other with its code (docs/nodes.md). An upgrade sent on already, or
 * one without a credential, is closed 4409 naming the plane. The
 * credential is watched (auth may be NULL): ended, both close 4401. The
 * route's handler hands the socket's messages and its close here first:
 * both say whether ws was a forward's. Loop thread. */
struct ad_ws;
struct ad_auth;
bool ad_planes_ws_take(ad_planes_t *p, struct ad_ws *ws, struct ad_req *upgrade,
                       const char *agent_id, struct ad_auth *auth);
bool ad_planes_ws_message(struct ad_ws *ws, const char *data, size_t len, bool binary);
bool ad_planes_ws_closed(struct ad_ws *ws);

#endif
