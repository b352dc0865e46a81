/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics: the Prometheus text exposition of agentd's own counters
 * (requests by route and status, WebSocket connections, events published
 * and stored, the writer's queue and commit latency, agents by status,
 * runs, tokens and cost) and the host and GPU gauges of the last health
 * sample. It shows how busy agentd is, so it takes a read token unless
 * --metrics-public; per-agent series are the caller's organisation's.
 * The text is src/monitor's (ad_monitor_scrape puts each core part's
 * figures together), then the engines' (each one's metrics hook, in the
 * table's order: src/engine); this file checks who asks, reads the agents'
 * counts for the caller's organisation and answers.
 */
#include "api/api_int.h"
#include "monitor/monitor.h"

#include <stdio.h>

#define METRICS_MAX (8u << 20)

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    char org[AD_ID_MAX];
} scrape_t;

static void answer(int rc, json_t *counts, void *ud)
{
    scrape_t *sc = ud;
    ad_buf_t b;
    ad_buf_init(&b, METRICS_MAX);
    int w = ad_monitor_scrape(sc->app->monitor, sc->app->server, rc == 0 ? counts : NULL, &b);
    if (w == 0) {
        w = ad_engines_metrics(sc->app, &b, sc->org); /* the health sampler's gauges among them */
    }
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
