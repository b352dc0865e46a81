/* SPDX-License-Identifier: MIT */
/*
 * The bus's figures for /metrics (the format is src/core/prom.c's): events
 * published, persisted and given up, bytes not yet stored, the replay
 * ring's size.
 */
#include "bus/bus.h"

int ad_bus_prom(const ad_bus_t *bus, ad_buf_t *b)
{
    ad_bus_stats_t bs = {0};
    if (bus != NULL) {
        ad_bus_stats(bus, &bs);
    }
    int rc = ad_prom_counter(b, "agentd_events_published_total", "Events published on the bus",
                             (double)bs.published);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_events_persisted_total", "Events written to the event log",
                              (double)bs.persisted);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_events_given_up_total",
                              "Events whose write failed for good (replay reports a gap)",
                              (double)bs.given_up);
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_events_unpersisted_bytes",
                            "Bytes of events published and not yet stored",
                            (double)bs.unpersisted_bytes);
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_events_ring_events", "Events in the replay ring",
                            (double)bs.ring_events);
    return rc;
}
