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
 * metrics= when it is not there).
 */
#include "api/api_int.h"
#include "hparam/hparam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 500
#define OFFSET_MAX 1000000
#define LIST_MAX 2048

static const char *const STATS[] = {"final", "best", "min", "max"};

/* Adds metric name[0..len) to q (":min"/":max" suffix: its goal); its
 * index, or -1 when there is no room or the name is bad. */
static int add_metric(ad_store_rt_query_t *q, const char *name, size_t len)
{
    bool lower = false;
    if (len > 4 &&
        (strncmp(name + len - 4, ":min", 4) == 0 || strncmp(name + len - 4, ":max", 4) == 0)) {
        lower = name[len - 2] == 'i';
        len -= 4;
    }
    if (len == 0 || len >= sizeof(q->metrics[0].name)) {
        return -1;
    }
    for (size_t i = 0; i < q->nmetrics; i++) {
        if (strlen(q->metrics[i].name) == len && strncmp(q->metrics[i].name, name, len) == 0) {
            return (int)i;
        }
    }
    if (q->nmetrics >= AD_STORE_RT_METRICS_MAX) {
        return -1;
    }
    memcpy(q->metrics[q->nmetrics].name, name, len);
    q->metrics[q->nmetrics].name[len] = '\0';
    q->metrics[q->nmetrics].lower_is_better = lower;
    return (int)q->nmetrics++;
}

/* A KEY of s[0..len) into k. 0, or -1 (not a key). */
static int parse_key(ad_store_rt_query_t *q, const char *s, size_t len, ad_store_rt_key_t *k)
{
    static const struct {
        const char *name;
        ad_store_rt_kind_t kind;
    } cols[] = {{"startedAt", AD_RT_KEY_STARTED},
                {"duration", AD_RT_KEY_DURATION},
                {"status", AD_RT_KEY_STATUS},
                {"agent", AD_RT_KEY_AGENT}};
    memset(k, 0, sizeof(*k));
    char buf[200];
    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    for (size_t i = 0; i < AD_ARRAY_LEN(cols); i++) {
        if (strcmp(buf, cols[i].name) == 0) {
            k->kind = cols[i].kind;
            return 0;
        }
    }
    const char *field = strncmp(buf, "config.", 7) == 0 ? buf + 7 : buf;
    if (ad_hparam_name_ok(field)) {
        k->kind = AD_RT_KEY_CONFIG;
        memcpy(k->field, field, strlen(field) + 1); /* at most 64 bytes */
        return 0;
    }
    char *dot = strrchr(buf, '.');
    for (size_t i = 0; dot != NULL && i < AD_ARRAY_LEN(STATS); i++) {
        if (strcmp(dot + 1, STATS[i]) == 0) {
            k->kind = AD_RT_KEY_METRIC;
            k->stat = (ad_store_rt_stat_t)i;
            k->metric = add_metric(q, buf, (size_t)(dot - buf));
            return k->metric >= 0 ? 0 : -1;
        }
    }
    return -1;
}

static int parse_metrics(ad_req_t *r, ad_store_rt_query_t *q)
{
    const char *m = ad_req_query(r, "metrics");
    if (m == NULL || m[0] == '\0') {
        return 0;
    }
    if (strlen(m) > LIST_MAX) {
        return ad_api_invalid(r, "metrics", "is too long");
    }
    for (const char *p = m; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (add_metric(q, p, len) < 0) {
            return ad_api_invalid(r, "metrics",
                                  "at most 8 names of 1 to 127 bytes, each with an "
                                  "optional :min or :max");
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

static int parse_statuses(ad_req_t *r, ad_store_rt_query_t *q)
{
    const char *st = ad_req_query(r, "status");
    for (const char *p = st; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, ",");
        bool found = false;
        for (int s = AD_RUN_RUNNING; s <= AD_RUN_DEGRADED; s++) {
            const char *name = ad_run_status_name((ad_run_status_t)s);
            if (strlen(name) == len && strncmp(p, name, len) == 0) {
                q->statuses |= 1u << s;
                found = true;
            }
        }
        if (!found) {
            return ad_api_invalid(r, "status",
                                  "must list running, succeeded, failed, stopped, "
                                  "lost, degraded");
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

/* One KEY OP VALUE of s[0..len) into f. */
static int parse_filter(ad_store_rt_query_t *q, const char *s, size_t len, ad_store_rt_filter_t *f)
{
    static const struct {
        const char *text;
        ad_store_rt_op_t op;
    } ops[] = {{">=", AD_RT_GE}, {"<=", AD_RT_LE}, {"!=", AD_RT_NE},
               {"=", AD_RT_EQ},  {">", AD_RT_GT},  {"<", AD_RT_LT}};
    size_t at = strcspn(s, "<>=!");
    if (at >= len) {
        return -1;
    }
    size_t oplen = 0;
    for (size_t i = 0; i < AD_ARRAY_LEN(ops) && oplen == 0; i++) {
        size_t l = strlen(ops[i].text);
        if (at + l <= len && strncmp(s + at, ops[i].text, l) == 0) {
            f->op = ops[i].op;
            oplen = l;
        }
    }
    size_t vlen = len - at - oplen;
    if (oplen == 0 || vlen == 0 || vlen >= sizeof(f->text) || parse_key(q, s, at, &f->key) != 0) {
        return -1;
    }
    memcpy(f->text, s + at + oplen, vlen);
    f->text[vlen] = '\0';
    char *end = NULL;
    f->num = strtod(f->text, &end);
    f->is_text = *end != '\0' || !isfinite(f->num);
    if (strcmp(f->text, "true") == 0 || strcmp(f->text, "false") == 0) {
        f->is_text = false;
        f->num = f->text[0] == 't';
    }
    return 0;
}

static int parse_filters(ad_req_t *r, ad_store_rt_query_t *q)
{
    const char *fs = ad_req_query(r, "filter");
    if (fs != NULL && strlen(fs) > LIST_MAX) {
        return ad_api_invalid(r, "filter", "is too long");
    }
    for (const char *p = fs; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (q->nfilters >= AD_STORE_RT_FILTERS_MAX ||
            parse_filter(q, p, len, &q->filters[q->nfilters]) != 0) {
            return ad_api_invalid(r, "filter",
                                  "must be at most 8 KEY OP VALUE, comma-separated "
                                  "(OP: = != < <= > >=), e.g. learningRate>0.001");
        }
        q->nfilters++;
        p += len + (p[len] == ',');
    }
    return 0;
}

static int parse_page(ad_req_t *r, ad_store_rt_query_t *q)
{
    const char *sort = ad_req_query(r, "sort"), *order = ad_req_query(r, "order");
    if (sort != NULL && sort[0] != '\0' && parse_key(q, sort, strlen(sort), &q->sort) != 0) {
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
