/* SPDX-License-Identifier: MIT */
/*
 * Private to src/svc: what jobs.c, services.c, svcprobe.c, schema.c and
 * tail.c share.
 *
 * Threads: loop thread only, except the pure checks in schema.c.
 */
#ifndef AD_SVC_INT_H
#define AD_SVC_INT_H

#include "health/health.h"
#include "svc/svc.h"

#define AD_SVC_ARGV_MAX 256

/* ---- services.c and svcprobe.c: a service and the set ------------------------- */
typedef struct service {
    struct service *next, *prev;
    ad_services_t *ss;
    char id[AD_ID_MAX], org[AD_ID_MAX];
    json_t *row;    /* the stored row it runs from (owned) */
    json_t *config; /* the config its process started with (owned), or NULL */
    ad_proc_t *proc;
    const char *status; /* stopped, running, stopping, backoff, failed */
    bool want_up, restart_after_stop, removed, probing;
    unsigned restarts;
    uint64_t backoff_ms, started_ms;
    bool has_exit;
    int last_code, last_signal;
    int64_t last_exit_at;
    const char *health; /* unknown, healthy, unhealthy */
    double latency_ms;
    char probe_error[128];
    int64_t checked_at;
    json_t *figures;
    ad_buf_t output;    /* its last plain lines (not metrics), stdout and stderr */
    int64_t started_at; /* wall ms of the running process's start, 0 when down */
    char error[256];
    uv_timer_t backoff, probe;
    int handles; /* timers not yet closed (after removal) */
    /* On a worker node: the node its process runs on and that run's id
     * ("" while none runs), its unreachable state as last published. */
    char node_id[AD_ID_MAX], run_id[AD_ID_MAX];
    bool unreachable;
    uint64_t seen[2]; /* its holder's spool offsets read, per stream (acked) */
} service_t;

struct ad_services {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    ad_store_t *store;
    ad_bus_t *bus;
    ad_procs_t *procs;
    ad_plane_t *plane; /* worker nodes (NULL: none) */
    service_t *list;
    uv_timer_t tick; /* node services: starts that wait, reachability */
};

/* services.c: publishes s's service_update; frees s once removed and
 * nothing of it waits (its timers closed, no probe out); starts argv as a
 * run on the worker node node (under a holder, relayed), its id into
 * run_id: 0, or an error with err. */
void ad_svc_publish(service_t *s);
void ad_svc_free_maybe(service_t *s);
int ad_svc_spawn_on_node(ad_services_t *ss, const char *org, const char *svc_id, const char *node,
                         json_t *argv, const char *env0, const ad_proc_opts_t *o,
                         char run_id[AD_ID_MAX], ad_proc_t **out, char *err, size_t errsz);
/* svcprobe.c: runs s's probe once where s runs, reporting through cb;
 * starts s's probe timer (when its row has a probe). */
void ad_svc_probe_run(service_t *s, json_t *probe, ad_probe_cb cb, void *ud);
void ad_svc_probe_start(service_t *s);

/* ---- tail.c: the last lines of an output, under a cap ------------------------- */
/* Appends line (len bytes, no newline) and a newline to b, dropping whole
 * lines from the front so b stays under cap bytes (cap > 1; b's capacity
 * at least cap + 8, so no push allocates). */
void ad_svc_tail_push(ad_buf_t *b, size_t cap, const char *line, size_t len);

#endif
