/* SPDX-License-Identifier: MIT */
/*
 * Private to src/svc: what jobs.c, services.c, probe.c and schema.c share.
 *
 * Threads: loop thread only, except the pure checks in schema.c.
 */
#ifndef AD_SVC_INT_H
#define AD_SVC_INT_H

#include "svc/svc.h"

#define AD_SVC_ARGV_MAX 256

/* ---- probe.c: one health probe, reported once ---------------------------------- */
typedef struct ad_probe ad_probe_t;
/* ok, the time it took, and why not (NULL when ok; borrowed for the call). */
typedef void (*ad_probe_cb)(bool ok, double latency_ms, const char *error, void *ud);
/* Runs probe (checked by ad_svc_probe_check; borrowed for the call); a
 * command probe of another organisation's service (sandboxed) runs in the
 * plain sandbox, or not at all without one. Always 0: a probe that cannot
 * start reports its failure through cb. */
int ad_probe_run(uv_loop_t *loop, ad_procs_t *procs, json_t *probe, bool sandboxed, ad_probe_cb cb,
                 void *ud);

#endif
