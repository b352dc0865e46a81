/* SPDX-License-Identifier: MIT */
/*
 * GET /api/training/runs: the runs table (issue #16). Every run of the
 * caller's organisation, or of one agent or workspace, with the config it
 * was started with, the final and best value of chosen metrics (from the
 * series summaries), its duration and status; sorted and filtered by the
 * store (src/tables/runtable.c).
 *   agentId=, workspaceId=      the scope (404 when not visible)
 *   metrics=reward,loss:min     at most 8; ":min" when lower is better
 *                               (best is then the minimum, else the maximum)
 *   status=succeeded,failed     run statuses
 *   tag=  group=                runs with this tag, of this group
 *   hasMetrics=true|false       runs with (without) points or distributions
 *   sort=KEY  order=asc|desc    (default startedAt, desc)
 *   filter=KEY OP VALUE,…       at most 8, all must hold; OP is one of
 *                               = != < <= > >=; VALUE a number, true/false
 *                               or text
 *   limit=1..500 (100)  offset=
 * A KEY is startedAt, duration, status, agent, a config field (bare, or
 * config.<field>), or <metric>.final|best|min|max (the metric is added to
 * metrics= when it is not there). The words are read by the store
 * (src/tables/rtquery.c), which names what does not parse; this file
 * answers it as a 422.
 */
#include "api/api_int.h"
#include "tables/runtable.h"

#include <stdlib.h>

static void run_table(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_store_rt_query_t *q = ad_xcalloc(1, sizeof(*q));
    ad_field_err_t e;
    q->org = ad_principal_filter(ad_api_who(r));
    q->agent_id = ad_req_query(r, "agentId");
    q->workspace_id = ad_req_query(r, "workspaceId");
    q->now = (int64_t)ad_wall_ms();
    bool ok =
        ad_api_need_store(app, r) &&
        (q->agent_id == NULL || ad_api_visible(app, r, AD_STORE_ROW_AGENT, q->agent_id, NULL)) &&
        (q->workspace_id == NULL ||
         ad_api_visible(app, r, AD_STORE_ROW_WORKSPACE, q->workspace_id, NULL));
    if (ok && ad_store_rt_parse_query(q, ad_api_query_get, r, &e) != 0) {
        ad_api_invalid_err(r, &e);
        ok = false;
    }
    json_t *out = NULL;
    int rc = ok ? ad_store_run_table(app->store, q, &out) : 0;
    if (ok && rc != 0) {
        ad_api_fail(r, rc, "runs", NULL);
    } else if (ok) {
        ad_store_rt_answer(q, out);
        ad_res_json(r, 200, out);
    }
    free(q);
}

void ad_api_runtable_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/training/runs", AD_ACCESS_READ, run_table, app);
}
