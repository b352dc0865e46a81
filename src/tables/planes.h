/* SPDX-License-Identifier: MIT */
/*
 * tables: control planes and run leases (planes.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_PLANES_H
#define AD_TABLES_PLANES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- control planes and run leases (planes.c, migration 2870, issue #39) -------------
 * Several control planes on one database. Times are wall ms. */
typedef struct {
    const char *id, *url;       /* the plane's id and advertised URL (borrowed) */
    int64_t started_ms, now_ms; /* its start, and now */
    int64_t lease_ms;           /* how long a renewed lease lasts */
    const char *const *runs;    /* the runs it runs now (borrowed; copied) */
    size_t nruns;
} ad_store_plane_beat_t;
/* The heartbeat: the plane's row, the lease of each of its runs renewed
 * (or made, when it has none; another plane's is left alone), the leases of
 * its runs that ended let go. cb gets the runs among them under another
 * plane's live lease ([run_id...]): this plane lost them (issue #77).
 * Loop thread. */
void ad_store_plane_beat(ad_store_t *st, const ad_store_plane_beat_t *in, ad_store_result_cb cb,
                         void *ud);
/* The plane stops (issue #77): its row is no longer live (heartbeat 0), so
 * nodes are not sent to it; its leases lapse as its heartbeats stop.
 * Loop thread. */
void ad_store_plane_leave(ad_store_t *st, const char *id);
/* Takes the leases of the running runs on nodes whose lease lapsed (or that
 * have none and started more than lease_ms ago), and of the running runs
 * here among held[0..nheld) (borrowed; copied) under the same rule: cb gets
 * the ids this plane won ([run_id...], at most 256 of each a call). One
 * conditional upsert a run, so of two planes trying, one wins; the run's
 * lease epoch (its fencing token) goes up by one with each win. Loop
 * thread. */
void ad_store_plane_take(ad_store_t *st, const char *plane_id, int64_t now_ms, int64_t lease_ms,
                         const char *const *held, size_t nheld, ad_store_result_cb cb, void *ud);
/* The planes heard from since live_since_ms: [{id, url, startedAt,
 * heartbeatAt, runs (leases held)}] (new reference). Loop thread. */
int ad_store_planes_list(ad_store_t *st, int64_t live_since_ms, json_t **out);
/* Whose lease run_id is under and until when: 0, or AD_ENOENT (none). */
int ad_store_run_lease(ad_store_t *st, const char *run_id, char plane_id[AD_ID_MAX],
                       int64_t *expires_ms);
/* run_id's lease epoch (runs.lease_epoch, migration 3060: 1 from its start,
 * one more at each takeover; 0 for a run before it): 0, or AD_ENOENT. */
int ad_store_run_epoch(ad_store_t *st, const char *run_id, int64_t *epoch);
/* Whether run_id is under a live lease of a plane other than plane_id. */
bool ad_store_run_leased_elsewhere(ad_store_t *st, const char *plane_id, const char *run_id,
                                   int64_t now_ms);
/* The runs under live leases of other planes: [run_id...] (new reference). */
int ad_store_runs_leased_elsewhere(ad_store_t *st, const char *plane_id, int64_t now_ms,
                                   json_t **out);
/* A control plane as a request is sent to it (issue #77). */
typedef struct {
    char id[AD_ID_MAX];
    char url[512];
} ad_store_plane_ref_t;
/* The plane other than self whose live lease (at now_ms) holds agent_id's
 * running run, that plane heard from since live_since_ms: 0 and *out, or
 * AD_ENOENT. Loop thread. */
int ad_store_agent_run_plane(ad_store_t *st, const char *self, const char *agent_id, int64_t now_ms,
                             int64_t live_since_ms, ad_store_plane_ref_t *out);
/* The plane plane_id heard from since live_since_ms, into *out: 0, or
 * AD_ENOENT. Loop thread. */
int ad_store_plane_live(ad_store_t *st, const char *plane_id, int64_t live_since_ms,
                        ad_store_plane_ref_t *out);

#endif
