/* SPDX-License-Identifier: MIT */
/*
 * tables: the health history on disk (health.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_HEALTH_H
#define AD_TABLES_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- the health history on disk (health.c, migration 2700, issue #35) -----------
 * Chunks of records the health sampler took, packed by src/health (opaque
 * here): the host's (run_id NULL or "") and each run's (its row goes with
 * the run). A put is one writer job for every chunk given; it then deletes
 * the rows that ended before min_t (0: none) and, past max_bytes of blobs
 * (0: no bound), the oldest rows. The data is copied. Loop thread. */
#define AD_STORE_HCHUNK_SPAN_MS 600000 /* a chunk's t1 - t0 at most (reads rely on it) */
typedef struct {
    const char *run_id; /* NULL or "": the host's */
    int64_t t0, t1;     /* first and last record's time (ms) */
    size_t n;           /* records */
    const void *data;
    size_t len;
} ad_store_hchunk_t;
void ad_store_health_put(ad_store_t *st, const ad_store_hchunk_t *chunks, size_t n, int64_t min_t,
                         uint64_t max_bytes);
/* The oldest record's time and the newest chunk's end: 0 or AD_ENOENT
 * (nothing kept). A bounded read on the loop thread. */
int ad_store_health_span(ad_store_t *st, int64_t *oldest, int64_t *newest);
/* The chunks that reach into [from, to] (the host's when host, then
 * run_id's when not ""), in time order, each through row on the pool
 * thread (the bytes live for the call); then done(rc, q) on the loop. q
 * is the caller's and lives until done. */
typedef void (*ad_store_hrow_fn)(bool run, const void *data, size_t len, size_t n, void *ud);
typedef struct {
    int64_t from, to;
    bool host;
    char run_id[AD_ID_MAX];
    ad_store_hrow_fn row;
    void *ud;
} ad_store_hquery_t;
void ad_store_health_read(ad_store_t *st, ad_store_hquery_t *q, ad_store_done_cb done);

#endif
