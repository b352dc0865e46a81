/* SPDX-License-Identifier: MIT */
/*
 * bus: the event bus. publish() assigns the global sequence number,
 * serializes the envelope once, fans it out to subscribers, keeps it in a
 * ring for replay and queues it for the events table. This header is the
 * contract other subsystems publish through.
 *
 * Threads: loop thread only.
 */
#ifndef AD_BUS_H
#define AD_BUS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/core.h"

typedef struct ad_bus ad_bus_t;

/* Returns owned: free with ad_bus_free(). cfg is borrowed. */
ad_bus_t *ad_bus_new(uv_loop_t *loop, const ad_config_t *cfg);
void ad_bus_free(ad_bus_t *bus);

/* Publishes one event of `type` to `ntopics` topics ("agent:ag_…",
 * "workspace:ws_…", "system", …). payload is borrowed (the bus takes its own
 * reference if it keeps it). Returns the event's seq (> 0). bus may be NULL
 * (then nothing is published and 0 is returned), so code that runs without a
 * bus, such as unit tests, needs no special case. */
uint64_t ad_bus_publish(ad_bus_t *bus, const char *type, const char *const *topics,
                        size_t ntopics, json_t *payload);
/* The last seq assigned (0 before the first event). */
uint64_t ad_bus_seq(const ad_bus_t *bus);

#endif
