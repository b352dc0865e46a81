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
 * Threads: loop thread only.
 */
#ifndef AD_CLUSTER_H
#define AD_CLUSTER_H

#include <stdbool.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/core.h"

typedef struct ad_cluster ad_cluster_t;

/* The org of crew_id on this node into org (AD_ID_MAX bytes): true when
 * known. Used for messages that do not say their org. */
typedef bool (*ad_cluster_org_fn)(void *ud, const char *crew_id, char *org);

/* Starts the bridge to url ("redis://host:port"). Returns 0 and *out
 * (owned: ad_cluster_close()), or AD_EINVAL with err for a URL it cannot
 * use. Connecting happens in the background. */
int ad_cluster_start(uv_loop_t *loop, ad_bus_t *bus, const char *url, ad_cluster_org_fn org_of,
                     void *org_ud, ad_cluster_t **out, char *err, size_t errsz);
/* Whether both connections are up (subscribed). */
bool ad_cluster_connected(const ad_cluster_t *c);
/* This node's id in messages. Borrowed. */
const char *ad_cluster_node(const ad_cluster_t *c);
/* Disconnects and frees (memory goes once libuv has closed the handles).
 * Before the bus is freed. NULL is fine. */
void ad_cluster_close(ad_cluster_t *c);

#endif
