/* SPDX-License-Identifier: MIT */
/*
 * Private to src/otel: the exporter's state, shared by export.c (the bus,
 * the sinks) and recv.c (the run credentials, what runs send).
 */
#ifndef AD_OTEL_INT_H
#define AD_OTEL_INT_H

#include "otel/otel.h"

#define OTEL_PENDING_MAX 10000
#define OTEL_HEADERS_MAX 16

struct ad_otel {
    uv_loop_t *loop;
    uv_timer_t timer;
    ad_bus_sub_t *sub;
    ad_store_t *store;                   /* where a run's spans are kept, or NULL */
    char url[1100];                      /* the collector's, "" for none */
    char *headers[OTEL_HEADERS_MAX + 2]; /* "Name: value", Content-Type first, NULL-ended */
    json_t *pending;                     /* finished spans for the collector, oldest first */
    json_t *open;                        /* what has begun (spans.c) */
    json_t *keep;                        /* {"<source>/<runId>": [store-form spans]} */
    size_t nkeep;                        /* spans in keep */
    uint8_t key[32];                     /* the run credentials' key */
    bool has_key;
    uint64_t sent, dropped;
    bool posting;
    bool closing;
};

/* Queues span (store form, taken; NULL is ignored) to be kept under
 * run_id, from source ("agentd" or "run"). */
void ad_otel_keep(ad_otel_t *o, const char *run_id, const char *source, json_t *span);
/* Reads <data_dir>/otlp-key (32 random bytes as hex), making it at the
 * first start (mode 0600). 0, or AD_EIO with why. */
int ad_otel_key_load(ad_otel_t *o, const char *data_dir, char *why, size_t whysz);

#endif
