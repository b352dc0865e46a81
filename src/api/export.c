/* SPDX-License-Identifier: MIT */
/*
 * Stats export (issue #40, the crews seed's "Export functionality
 * (CSV/PDF)"): GET /api/dashboard/export?report=stats|tokens|rentals
 * &format=csv|pdf[&range=…] answers the figures of the matching dashboard
 * route as a download: a CSV file, or a one-page PDF table (src/core/pdf.c).
 * stats and tokens are metric/value rows, rentals one row per agent
 * (the table and its CSV: src/core/table.c). The caller's organisation
 * only, as the JSON routes.
 */
#include "api/api_int.h"
#include "tables/stats.h"

#include <string.h>

/* The report's figures; NULL after answering an error. */
static json_t *report(ad_app_t *app, ad_req_t *r, const char *name)
{
    return strcmp(name, "stats") == 0    ? ad_api_dashboard_stats(app, r)
           : strcmp(name, "tokens") == 0 ? ad_api_token_stats(app, r)
                                         : ad_api_rentals_json(app, r);
}

static void export_get(ad_req_t *r, void *ud)
{
    const char *name = ad_req_query(r, "report");
    const char *format = ad_req_query(r, "format");
    ad_field_err_t e;
    if (ad_store_report_check(name, &format, &e) != 0) {
        ad_api_invalid_err(r, &e);
        return;
    }
    json_t *out = report(ud, r, name);
    if (out == NULL) {
        return;
    }
    ad_buf_t b;
    ad_buf_init(&b, AD_REPORT_MAX);
    char file[128];
    int rc = ad_store_report_render(name, format, out, ad_req_arena(r), (int64_t)ad_wall_ms(), &b,
                                    file, sizeof(file));
    if (rc != 0) {
        ad_api_fail(r, rc, "export", NULL);
    } else {
        ad_res_header(r, "Content-Disposition", file);
        ad_res_header(r, "Cache-Control", "no-store");
        ad_res_send(r, 200,
                    strcmp(format, "pdf") == 0 ? "application/pdf" : "text/csv; charset=utf-8",
                    b.data, b.len);
    }
    ad_buf_cleanup(&b);
    json_decref(out);
}

void ad_api_export_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/dashboard/export", AD_ACCESS_READ, export_get, app);
}
