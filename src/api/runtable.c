/* SPDX-License-Identifier: MIT */
/*
 * GET /api/training/runs: the runs table (issue #16). Every run of the
 * caller's organisation, or of one agent or workspace, with the config it
 * was started with, the final and best value of chosen metrics (from the
 * series summaries), its duration and status; sorted and filtered by the
 * store (src/store/runtable.c).
 *   agentId=, workspaceId=      the scope (404 when not visible)
 *   metrics=reward,loss:min     at most 8; ":min" when lower is better
 *                               (best is then the minimum, else the maximum)
 *   status=succeeded,failed     run statuses
 *   sort=KEY  order=asc|desc    (default startedAt, desc)
 *   filter=KEY OP VALUE,…       at most 8, all must hold; OP is one of
 *                               = != < <= > >=; VALUE a number, true/false
 *                               or text
 *   limit=1..500 (100)  offset=
 * A KEY is startedAt, duration, status, agent, a config field (bare, or
 * config.<field>), or <metric>.final|best|min|max (the metric is added to
 * metrics= when it is not there). The words are read by the store
 * (src/store/rtquery.c); this file answers 422 for what does not parse.
 */
#include "api/api_int.h"

#include <stdlib.h>
#include <string.h>

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 500
#define OFFSET_MAX 1000000
#define LIST_MAX 2048

static int parse_metrics(ad_req_t *r, ad_store_rt_query_t *q)
{
    const char *m = ad_req_query(r, "metrics");
    if (m != NULL && strlen(m) > LIST_MAX) {
        return ad_api_invalid(r, "metrics", "is too long");
    }
    if (ad_store_rt_parse_metrics(q, m) != 0) {
        return ad_api_invalid(r, "metrics",
                              "at most 8 names of 1 to 127 bytes, each with an "
                              "optional :min or :max");
    }
    return 0;
}

static int parse_statuses(ad_req_t *r, ad_store_rt_query_t *q)
{
    if (ad_store_rt_parse_statuses(q, ad_req_query(r, "status")) != 0) {
        return ad_api_invalid(r, "status",
                              "must list running, succeeded, failed, stopped, "
                              "lost, degraded");
    }
    return 0;
}

static int parse_filters(ad_req_t *r, ad_store_rt_query_t *q)
{
    const char *fs = ad_req_query(r, "filter");
    if (fs != NULL && strlen(fs) > LIST_MAX) {
        return ad_api_invalid(r, "filter", "is too long");
    }
    if (ad_store_rt_parse_filters(q, fs) != 0) {
        return ad_api_invalid(r, "filter",
                              "must be at most 8 KEY OP VALUE, comma-separated "
                              "(OP: = != < <= > >=), e.g. learningRate>0.001");
    }
    return 0;
}

static int parse_page(ad_req_t *r, ad_store_rt_query_t *q)
{
    const char *sort = ad_req_query(r, "sort"), *order = ad_req_query(r, "order");
    if (sort != NULL && sort[0] != '\0' && ad_store_rt_parse_sort(q, sort) != 0) {
        return ad_api_invalid(r, "sort",
                              "must be startedAt, duration, status, agent, a config "
                              "field or <metric>.final|best|min|max");
    }
    if (order != NULL && order[0] != '\0' && !ad_api_choice("asc,desc", order)) {
        return ad_api_invalid(r, "order", "must be asc or desc");
    }
    q->ascending = order != NULL && strcmp(order, "asc") == 0;
    const char *keys[] = {"limit", "offset"};
    int64_t vals[] = {LIMIT_DEFAULT, 0}, maxes[] = {LIMIT_MAX, OFFSET_MAX}, mins[] = {1, 0};
    for (size_t i = 0; i < 2; i++) {
        const char *v = ad_req_query(r, keys[i]);
        char *end = NULL;
        if (v != NULL && v[0] != '\0') {
            vals[i] = strtoll(v, &end, 10);
            if (*end != '\0' || vals[i] < mins[i] || vals[i] > maxes[i]) {
                return ad_api_invalid(r, keys[i],
                                      i == 0 ? "must be a whole number from 1 to 500"
                                             : "must be a whole number from 0");
            }
        }
    }
    q->limit = (int)vals[0];
    q->offset = (int)vals[1];
    return 0;
}

static void run_table(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_store_rt_query_t *q = ad_xcalloc(1, sizeof(*q));
    q->org = ad_principal_filter(ad_api_who(r));
    q->agent_id = ad_req_query(r, "agentId");
    q->workspace_id = ad_req_query(r, "workspaceId");
    q->now = (int64_t)ad_wall_ms();
    bool ok = ad_api_need_store(app, r) &&
              (q->agent_id == NULL || ad_api_visible(app, r, AD_API_AGENT, q->agent_id, NULL)) &&
              (q->workspace_id == NULL ||
               ad_api_visible(app, r, AD_API_WORKSPACE, q->workspace_id, NULL)) &&
              parse_metrics(r, q) == 0 && parse_statuses(r, q) == 0 && parse_page(r, q) == 0 &&
              parse_filters(r, q) == 0;
    json_t *out = NULL;
    int rc = ok ? ad_store_run_table(app->store, q, &out) : 0;
    if (ok && rc != 0) {
        ad_api_fail(r, rc, "runs", NULL);
    } else if (ok) {
        json_t *ms = json_array();
        for (size_t i = 0; i < q->nmetrics; i++) {
            json_array_append_new(ms, json_pack("{s:s, s:s}", "name", q->metrics[i].name, "goal",
                                                q->metrics[i].lower_is_better ? "min" : "max"));
        }
        json_object_set_new(out, "metrics", ms);
        json_object_set_new(out, "limit", json_integer(q->limit));
        json_object_set_new(out, "offset", json_integer(q->offset));
        ad_res_json(r, 200, out);
    }
    free(q);
}

void ad_api_runtable_register(ad_app_t *app)
{
    ad_server_route(app->server, "GET", "/api/training/runs", AD_ACCESS_READ, run_table, app);
}
