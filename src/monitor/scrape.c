/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics' text (monitor.h, ad_monitor_scrape): the daemon's own
 * lines (its version and start, the HTTP server's, the WebSocket's and
 * the supervisor's figures), then each part's families in turn: agents by
 * status, the bus, the store, the runner, the nodes. The engines' families
 * follow (src/engine's metrics hooks: the host and GPU gauges of the last
 * health sample are the monitor's, src/monitor/plugin.c). Each part writes
 * its own figures (src/core/prom.c's format); this file puts them
 * together. Moved from src/api/metrics.c, which reads the request and
 * answers.
 */
#include "cluster/cluster.h"
#include "http/http.h"
#include "monitor/monitor_int.h"
#include "node/node.h"
#include "proc/proc.h"
#include "run/run.h"
#include "store/store.h"
#include "tables/agents.h"
#include "ws/ws.h"

static int daemon_part(const ad_monitor_t *m, const ad_server_t *server, ad_buf_t *b)
{
    int rc = ad_prom_family(b, "agentd_build_info", "gauge", "agentd's version");
    rc = rc ? rc : ad_prom_sample(b, "agentd_build_info", 1, "version", AD_VERSION, NULL);
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_start_time_seconds", "When the daemon started (Unix time)",
                            (double)m->o.started_ms / 1000);
    rc = rc ? rc : ad_server_prom(server, b);
    rc = rc ? rc : ad_ws_prom(b);
    return rc ? rc
              : ad_prom_gauge(b, "agentd_processes", "Agent processes alive",
                              (double)ad_procs_count(*m->o.procs));
}

int ad_monitor_scrape(const ad_monitor_t *m, const ad_server_t *server, const json_t *agent_counts,
                      ad_buf_t *b)
{
    int rc = daemon_part(m, server, b);
    rc = rc ? rc : ad_store_agents_prom(b, agent_counts);
    rc = rc ? rc : ad_bus_prom(m->o.bus, b);
    rc = rc ? rc : ad_store_prom(*m->o.store, b);
    rc = rc ? rc : ad_runner_prom(*m->o.runner, b);
    rc = rc ? rc : ad_plane_prom(*m->o.plane, b);
    rc = rc ? rc : ad_planes_prom(*m->o.planes, b);
    return rc ? rc : ad_cluster_prom(*m->o.cluster, b);
}
