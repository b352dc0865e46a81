/* SPDX-License-Identifier: MIT */
/*
 * Private to src/svc: what jobs.c, services.c, probe.c, schema.c and tail.c
 * share.
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

/* ---- tail.c: the last lines of an output, under a cap ------------------------- */
/* Appends line (len bytes, no newline) and a newline to b, dropping whole
 * lines from the front so b stays under cap bytes (cap > 1; b's capacity
 * at least cap + 8, so no push allocates). */
void ad_svc_tail_push(ad_buf_t *b, size_t cap, const char *line, size_t len);

#endif
