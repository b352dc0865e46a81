/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics: the Prometheus text exposition of agentd's own counters
 * (requests by route and status, WebSocket connections, events published
 * and stored, the writer's queue and commit latency, agents by status,
 * runs, tokens and cost) and the host and GPU gauges of the last health
 * sample. It shows how busy agentd is, so it takes a read token unless
 * --metrics-public; per-agent series are the caller's organisation's.
 * The format is src/core/prom.c's; the bus, the store, the runner and the
 * health sampler write their own figures (ad_bus_prom, ad_store_prom,
 * ad_runner_prom, ad_health_prom_all, ad_server_prom, ad_ws_prom,
 * ad_store_agents_prom); this file puts the parts together.
 */
#include "api/api_int.h"
#include "monitor/monitor.h"
#include "node/node.h"
#include "proc/proc.h"
#include "run/run.h"
#include "ws/ws.h"

#include <stdio.h>
#include <string.h>

#define METRICS_MAX (8u << 20)

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    char org[AD_ID_MAX];
} scrape_t;

/* The daemon's own lines: its version and start, then the HTTP server's,
 * the WebSocket's and the supervisor's figures. */
static int daemon_part(ad_buf_t *b, ad_app_t *app)
{
    int rc = ad_prom_family(b, "agentd_build_info", "gauge", "agentd's version");
    rc = rc ? rc : ad_prom_sample(b, "agentd_build_info", 1, "version", AD_VERSION, NULL);
    rc = rc ? rc
            : ad_prom_gauge(b, "agentd_start_time_seconds", "When the daemon started (Unix time)",
                            (double)app->started_ms / 1000);
    rc = rc ? rc : ad_server_prom(app->server, b);
    rc = rc ? rc : ad_ws_prom(b);
    return rc ? rc
              : ad_prom_gauge(b, "agentd_processes", "Agent processes alive",
                              (double)ad_procs_count(app->procs));
}

static void answer(int rc, json_t *counts, void *ud)
{
    scrape_t *sc = ud;
    ad_buf_t b;
    ad_buf_init(&b, METRICS_MAX);
    int w = daemon_part(&b, sc->app);
    w = w ? w : ad_store_agents_prom(&b, rc == 0 ? counts : NULL);
    w = w ? w : ad_bus_prom(sc->app->bus, &b);
    w = w ? w : ad_store_prom(sc->app->store, &b);
    w = w ? w : ad_runner_prom(sc->app->runner, &b);
    w = w ? w : ad_plane_prom(sc->app->plane, &b);
    w = w ? w
          : ad_monitor_prom(sc->app->api != NULL ? sc->app->api->monitor : NULL, sc->app->health,
                            &b, sc->org);
    json_decref(counts);
    if (w != 0) {
        ad_res_error(sc->req, 500, "INTERNAL", NULL, "metrics larger than %u bytes", METRICS_MAX);
    } else {
        ad_res_send(sc->req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    }
    ad_buf_cleanup(&b);
    free(sc);
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    scrape_t *sc = ad_xcalloc(1, sizeof(*sc));
    sc->app = app;
    sc->req = r;
    /* Public by choice (--metrics-public) and asked without a token: the
     * operator exposed the daemon's figures, every org's. */
    const ad_principal_t *who = ad_auth_principal(r);
    const char *org = who != NULL ? ad_principal_filter(who) : app->cfg->metrics_public ? "" : "-";
    snprintf(sc->org, sizeof(sc->org), "%s", org);
    ad_store_agent_status_counts(app->store, sc->org, answer, sc);
}

void ad_api_metrics_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/metrics",
                    app->cfg->metrics_public ? AD_ACCESS_PUBLIC : AD_ACCESS_READ, get, app);
}
