/* SPDX-License-Identifier: MIT */
/*
 * monitor: src/health's sampler wired to the daemon (issue #30, moved out
 * of src/api/health.c). It feeds the sampler the runner's processes and the
 * services' figures, keeps the samples' history on disk through the store,
 * publishes system_health events, tells the alert engine when the GPUs
 * throttle, and puts together what GET /api/health and
 * /api/health/history answer (host figures daemon-wide, agents and
 * processes the caller's organisation's). src/health itself knows core
 * alone; this is the layer that knows the parts it measures.
 *
 * Threads: loop thread only (the history read runs its decoding on the
 * pool, inside the store).
 */
#ifndef AD_MONITOR_H
#define AD_MONITOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/config.h"
#include "core/core.h"
#include "health/health.h"

struct ad_store;
struct ad_runner;
struct ad_procs;
struct ad_cluster;
struct ad_services;
struct ad_plane;
struct ad_planes;
struct ad_train;
struct ad_server;

typedef struct ad_monitor ad_monitor_t;

/* The parts the monitor reads, each through the owner's own pointer
 * (the slots of ad_app_t, src/engine/engine.h): a part made later (the
 * services, the alert engine, the Redis link) or gone at close (the store,
 * the runner, the nodes) is seen as it is at each use, NULL included.
 * Borrowed; they outlive the monitor. */
typedef struct {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    ad_bus_t *bus;
    struct ad_store *const *store;
    struct ad_runner *const *runner;
    struct ad_procs *const *procs;
    struct ad_cluster *const *cluster;
    struct ad_plane *const *plane;
    struct ad_planes *const *planes; /* control planes on one database (src/cluster) */
    struct ad_services *const *services;
    struct ad_train *const *train; /* told when the GPUs throttle (may be NULL) */
    uint64_t started_ms;           /* wall clock when the daemon started */
} ad_monitor_opts_t;

/* Starts the sampler (--health-interval-ms; 0: no sampling) with the
 * thresholds the stored settings name. Never NULL. */
ad_monitor_t *ad_monitor_new(const ad_monitor_opts_t *o);
/* The sampler itself (for /metrics, the requirements, the sweeps' GPUs). */
ad_health_t *ad_monitor_health(const ad_monitor_t *m);
/* New thresholds from the settings object (borrowed). */
void ad_monitor_apply_settings(ad_monitor_t *m, const json_t *settings);
/* The records not yet on disk to the store's writer (before it closes). */
void ad_monitor_flush(ad_monitor_t *m);
/* Stops the sampler; NULL is fine. */
void ad_monitor_free(ad_monitor_t *m);

/* GET /api/health's answer for org ("" or NULL: every org's): status
 * (degraded, with the reasons, while runs are stalled), version, uptime,
 * processes and containment, the cluster link, the last sample with the
 * thresholds' verdicts and the agents measured here and on worker nodes.
 * New reference. */
json_t *ad_monitor_status(const ad_monitor_t *m, const char *org);

/* The runs on worker nodes as their nodes last measured them (issue #34),
 * every organisation's, into out[0..max); how many. */
size_t ad_monitor_remote(const ad_monitor_t *m, ad_health_agent_t *out, size_t max);
/* The host's, the GPUs' and org's agents' gauges of h's last sample (the
 * runs on worker nodes among them) as Prometheus families into b
 * (ad_health_prom_all). m may be NULL (no remote runs). 0 or AD_ETOOBIG. */
int ad_monitor_prom(const ad_monitor_t *m, const ad_health_t *h, ad_buf_t *b, const char *org);
/* GET /metrics' text but the engines' into b (scrape.c): the daemon's own lines (its
 * version, start, server is the HTTP server's figures, the WebSocket's and
 * the processes alive), agents by status (agent_counts, the store's
 * ad_store_agent_status_counts; NULL: none), the bus, the store, the
 * runner, the nodes, the control planes and the Redis link. The engines'
 * families follow it (ad_engines_metrics: the monitor's own hook writes
 * ad_monitor_prom's for the caller's org). 0 or AD_ETOOBIG. */
int ad_monitor_scrape(const ad_monitor_t *m, const struct ad_server *server,
                      const json_t *agent_counts, ad_buf_t *b);

/* A read of the history kept on disk, bucketed. from/to: ms since the
 * epoch (has_*: given); with run_id (not "") the range defaults to the
 * run's life and its own use comes beside the host's; all: from the oldest
 * record when from is not given. */
typedef struct {
    bool has_from, has_to, all;
    int64_t from, to;
    size_t buckets;
    const char *run_id;
} ad_monitor_hq_t;
/* done(rc, answer (new reference, NULL on error), ud) on the loop. 0, or
 * AD_EINVAL with *field ("from") when from is after to (done not called). */
typedef void (*ad_monitor_hist_cb)(int rc, json_t *answer, void *ud);
int ad_monitor_history(ad_monitor_t *m, const ad_monitor_hq_t *q, ad_monitor_hist_cb done, void *ud,
                       const char **field);

/* A read's query (history.c), any thread: from and to (whole ms since the
 * epoch or RFC 3339), buckets (1 to AD_HEALTH_BUCKETS_MAX, 500) and runId
 * (borrowed from get's) read through get into q. 0, or AD_EINVAL with e.
 * Who may see the run is the caller's. */
int ad_monitor_hq_parse(ad_monitor_hq_t *q, const char *(*get)(void *ud, const char *key), void *ud,
                        ad_field_err_t *e);
/* The samples kept in memory over range ("1h" when NULL; see
 * ad_health_range_parse) with range beside them: a new reference; or NULL
 * with *rc AD_EINVAL and *why, or AD_ESTATE while sampling is off. */
json_t *ad_monitor_recent(const ad_monitor_t *m, const char *range, int *rc, const char **why);

/* What agentd needs from this machine (src/health's checklist), checked
 * on the pool: *kept the last check (new reference) when it is under a
 * minute old and refresh is false; else cb(answer (borrowed; NULL: the
 * check was cancelled), ud) on the loop once it is done. 0, or AD_EIO when
 * the check cannot be queued (cb not called). */
typedef void (*ad_monitor_req_cb)(json_t *answer, void *ud);
int ad_monitor_requirements(ad_monitor_t *m, bool refresh, json_t **kept, ad_monitor_req_cb cb,
                            void *ud);

/* `agentd sandbox check -- COMMAND`: command (a JSON array of strings)
 * tried on the pool in a sandbox as an agent of org (NULL: the owner's)
 * runs it, in the worktree wt_id (its folder from the row, shown
 * read-only; the caller checked it is org's) or NULL for a scratch one; cb(answer, ud) on the loop
 * (see sbxcheck.c). 0, AD_EINVAL with *why (a bad command), AD_EIO (cb not called). */
int ad_monitor_sandbox_check(ad_monitor_t *m, const json_t *command, const char *wt_id,
                             const char *org, ad_monitor_req_cb cb, void *ud, const char **why);

/* The subsystem as an engine of the daemon (plugin.c; src/engine/engine.h;
 * src/engines.c opens it). */
extern const struct ad_engine ad_monitor_engine;

#endif
