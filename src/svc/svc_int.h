/* SPDX-License-Identifier: MIT */
/*
 * Private to src/svc: what jobs.c, services.c, probe.c, schema.c and tail.c
 * share.
 *
 * Threads: loop thread only, except the pure checks in schema.c.
 */
#ifndef AD_SVC_INT_H
#define AD_SVC_INT_H

#include "health/health.h"
#include "svc/svc.h"

#define AD_SVC_ARGV_MAX 256

/* ---- tail.c: the last lines of an output, under a cap ------------------------- */
/* Appends line (len bytes, no newline) and a newline to b, dropping whole
 * lines from the front so b stays under cap bytes (cap > 1; b's capacity
 * at least cap + 8, so no push allocates). */
void ad_svc_tail_push(ad_buf_t *b, size_t cap, const char *line, size_t len);

#endif
