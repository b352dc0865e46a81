/* SPDX-License-Identifier: MIT */
/*
 * The HTTP server's own figures for /metrics (moved from
 * src/api/metrics.c): answered requests by route pattern and status, and
 * the sends batched through io_uring.
 */
#include "http/http.h"

#include <stdio.h>

typedef struct {
    ad_buf_t *b;
    int rc;
} each_t;

static void one_route(const char *method, const char *pattern, int status, uint64_t count, void *ud)
{
    each_t *e = ud;
    char st[16];
    snprintf(st, sizeof(st), "%d", status);
    if (e->rc == 0) {
        e->rc = ad_prom_sample(
            e->b, "agentd_http_requests_total", (double)count, "method", method[0] ? method : "any",
            "route", pattern[0] ? pattern : "unmatched", "status", status ? st : "other", NULL);
    }
}

int ad_server_prom(const ad_server_t *s, ad_buf_t *b)
{
    each_t e = {b, ad_prom_family(b, "agentd_http_requests_total", "counter",
                                  "Answered HTTP requests by route pattern and status")};
    ad_server_counts_each(s, one_route, &e);
    if (e.rc == 0) {
        e.rc = ad_prom_family(b, "agentd_http_batched_sends_total", "counter",
                              "WebSocket and SSE sends that left in one io_uring_enter with the "
                              "rest of their loop turn's (--io-uring)");
    }
    if (e.rc == 0) {
        e.rc = ad_prom_sample(b, "agentd_http_batched_sends_total",
                              (double)ad_server_batched_sends(s), NULL);
    }
    return e.rc;
}
