/* SPDX-License-Identifier: MIT */
/*
 * The bus's figures for /metrics (the format is src/core/prom.c's): events
 * published, persisted and given up, bytes not yet stored, the replay
 * ring's size, the replay budget's use.
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
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_replay_held_bytes",
                            "Bytes the replays hold now (bounded by --event-replay-bytes)",
                            (double)bs.replay_held);
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_replay_held_peak_bytes",
                            "The most bytes the replays held at once since start",
                            (double)bs.replay_peak);
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_replay_waiting", "Replays waiting for the replay budget",
                            (double)bs.replay_waiting);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_replay_waited_total",
                              "Replay steps that waited for the replay budget",
                              (double)bs.replay_queued);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_replay_cut_total",
                              "Readers cut for holding replay budget without reading",
                              (double)bs.replay_cut);
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_loop_turn_max_seconds",
                            "The longest loop turn since start (the loop thread's CPU time)",
                            (double)bs.loop_turn_max_ns / 1e9);
    rc =
        rc ? rc
           : ad_prom_counter(b, "agentd_loop_turns_slow_total",
                             "Loop turns of 50 ms or more of CPU time", (double)bs.loop_turns_slow);
    return rc;
}
