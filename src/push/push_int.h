/* SPDX-License-Identifier: MIT */
/*
 * push: between the engine's files only (push.c, watch.c, plugin.c).
 */
#ifndef AD_PUSH_INT_H
#define AD_PUSH_INT_H

#include <uv.h>

#include "core/config.h"
#include "http/http.h"
#include "push/push.h"

struct ad_bus;
struct ad_bus_sub;
struct ad_store;
struct delivery;

/* A delivery's tries in all (the first and the retries). */
#define AD_PUSH_TRIES 4
/* Event keys remembered so one change told twice (agent_status and
 * agent_update) is pushed once. */
#define AD_PUSH_RECENT 64
/* Requests waiting for the VAPID key's offer to be stored, at most. */
#define AD_PUSH_KEY_WAITERS 32

/* A request run again once the key is stored (ad_push_key_later). */
typedef struct {
    ad_req_t *r;
    ad_handler_cb fn;
    void *ud;
} ad_push_waiter_t;

struct ad_push {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    struct ad_store *store;
    struct ad_bus *bus;
    struct ad_bus_sub *sub; /* every org's events (watch.c) */
    ad_push_key_t key;      /* valid once key_ok */
    bool key_ok, fetch_ok;
    bool offering; /* this plane's key offered to the database, not answered yet */
    ad_push_waiter_t waiters[AD_PUSH_KEY_WAITERS];
    size_t nwaiters;
    bool stopped; /* no store writes, no retries */
    bool closing; /* freed when the last delivery is */
    struct delivery *queue;
    size_t queued;
    ad_push_stats_t stats;
    char recent[AD_PUSH_RECENT][128];
    size_t recent_next;
};

ad_push_t *ad_push_new(uv_loop_t *loop, const ad_config_t *cfg, struct ad_store *store,
                       struct ad_bus *bus);
/* No more events or store writes (the engine's stop). */
void ad_push_stop(ad_push_t *p);
/* Ends the deliveries; p is freed once the last has ended. */
void ad_push_close(ad_push_t *p);
/* Runs fn(r, ud) again once the key being stored is (or its store
 * failed); answers 503 itself when too many wait. */
void ad_push_key_later(ad_push_t *p, ad_req_t *r, ad_handler_cb fn, void *ud);
/* Subscribes p to the bus (watch.c). */
void ad_push_watch(ad_push_t *p);
/* Sends msg to org's subscriptions (push.c); approval_id: an approval's,
 * each subscription's copy then carries its action token. msg borrowed. */
void ad_push_send(ad_push_t *p, const char *org, json_t *msg, const char *approval_id);

/* The REST routes (routes.c), on app->server: the engine's routes hook. */
struct ad_app;
void ad_push_routes(struct ad_app *app);

#endif
