/* SPDX-License-Identifier: MIT */
/*
 * The runs table's query words (GET /api/training/runs, issue #16) read
 * into an ad_store_rt_query_t: metrics with their goal, run statuses, KEY
 * OP VALUE filters and the sort key, where a KEY is a column, a config
 * field or <metric>.final|best|min|max. Pure parsing; runtable.c runs the
 * query, src/api answers what does not parse.
 */
#include "hparam/hparam.h"
#include "store/table.h"
#include "tables/runs.h"
#include "tables/runtable.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const STATS[] = {"final", "best", "min", "max"};

/* Adds metric name[0..len) to q (":min"/":max" suffix: its goal); its
 * index, or -1 when there is no room or the name is bad. */
static int add_metric(ad_store_rt_query_t *q, const char *name, size_t len)
{
    bool lower = false, given = false;
    if (len > 4 &&
        (strncmp(name + len - 4, ":min", 4) == 0 || strncmp(name + len - 4, ":max", 4) == 0)) {
        lower = name[len - 2] == 'i';
        given = true;
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
    q->metrics[q->nmetrics].goal_given = given;
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
    /* a metric, startedAt and duration are numbers: text against them is
     * a bad request on both engines (PostgreSQL refused the statement) */
    bool numeric = f->key.kind == AD_RT_KEY_METRIC || f->key.kind == AD_RT_KEY_STARTED ||
                   f->key.kind == AD_RT_KEY_DURATION;
    return numeric && f->is_text ? -1 : 0;
}

/* Calls one(q, item, len) for each comma-separated item of list; the
 * first refusal, or 0. */
static int each_item(ad_store_rt_query_t *q, const char *list,
                     int (*one)(ad_store_rt_query_t *q, const char *s, size_t len))
{
    for (const char *p = list; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (one(q, p, len) != 0) {
            return AD_EINVAL;
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

static int one_metric(ad_store_rt_query_t *q, const char *s, size_t len)
{
    return add_metric(q, s, len) < 0 ? AD_EINVAL : 0;
}

static int one_status(ad_store_rt_query_t *q, const char *s, size_t len)
{
    bool found = false;
    for (int st = AD_ROW_RUN_STATUS_RUNNING; st <= AD_ROW_RUN_STATUS_DEGRADED; st++) {
        const char *name = ad_row_run_status_name((ad_row_run_status_t)st);
        if (strlen(name) == len && strncmp(s, name, len) == 0) {
            q->statuses |= 1u << st;
            found = true;
        }
    }
    return found ? 0 : AD_EINVAL;
}

static int one_filter(ad_store_rt_query_t *q, const char *s, size_t len)
{
    if (q->nfilters >= AD_STORE_RT_FILTERS_MAX ||
        parse_filter(q, s, len, &q->filters[q->nfilters]) != 0) {
        return AD_EINVAL;
    }
    q->nfilters++;
    return 0;
}

int ad_store_rt_parse_metrics(ad_store_rt_query_t *q, const char *list)
{
    return each_item(q, list, one_metric);
}

int ad_store_rt_parse_statuses(ad_store_rt_query_t *q, const char *list)
{
    return each_item(q, list, one_status);
}

int ad_store_rt_parse_filters(ad_store_rt_query_t *q, const char *list)
{
    return each_item(q, list, one_filter);
}

int ad_store_rt_parse_sort(ad_store_rt_query_t *q, const char *key)
{
    return parse_key(q, key, strlen(key), &q->sort) == 0 ? 0 : AD_EINVAL;
}

/* ---- the whole query string (moved from src/api/runtable.c) ---------------------- */

#define LIMIT_DEFAULT 100
#define LIMIT_MAX 500
#define OFFSET_MAX 1000000
#define LIST_MAX 2048
#define TAG_MAX 64
#define GROUP_MAX 200

static int parse_lists(ad_store_rt_query_t *q, ad_store_query_fn get, void *ud, ad_field_err_t *e)
{
    const char *m = get(ud, "metrics");
    if (m != NULL && strlen(m) > LIST_MAX) {
        return ad_field_fail(e, "metrics", "is too long");
    }
    if (ad_store_rt_parse_metrics(q, m) != 0) {
        return ad_field_fail(e, "metrics",
                             "at most 8 names of 1 to 127 bytes, each with an optional :min or "
                             ":max");
    }
    if (ad_store_rt_parse_statuses(q, get(ud, "status")) != 0) {
        return ad_field_fail(e, "status",
                             "must list running, succeeded, failed, stopped, lost, degraded");
    }
    return 0;
}

static int parse_page(ad_store_rt_query_t *q, ad_store_query_fn get, void *ud, ad_field_err_t *e)
{
    const char *sort = get(ud, "sort"), *order = get(ud, "order");
    if (sort != NULL && sort[0] != '\0' && ad_store_rt_parse_sort(q, sort) != 0) {
        return ad_field_fail(e, "sort",
                             "must be startedAt, duration, status, agent, a config field or "
                             "<metric>.final|best|min|max");
    }
    if (order != NULL && order[0] != '\0' && !ad_field_choice("asc,desc", order)) {
        return ad_field_fail(e, "order", "must be asc or desc");
    }
    q->ascending = order != NULL && strcmp(order, "asc") == 0;
    const char *keys[] = {"limit", "offset"};
    int64_t vals[] = {LIMIT_DEFAULT, 0}, maxes[] = {LIMIT_MAX, OFFSET_MAX}, mins[] = {1, 0};
    for (size_t i = 0; i < 2; i++) {
        const char *v = get(ud, keys[i]);
        char *end = NULL;
        if (v != NULL && v[0] != '\0') {
            vals[i] = strtoll(v, &end, 10);
            if (*end != '\0' || vals[i] < mins[i] || vals[i] > maxes[i]) {
                return ad_field_fail(e, keys[i], "%s",
                                     i == 0 ? "must be a whole number from 1 to 500"
                                            : "must be a whole number from 0");
            }
        }
    }
    q->limit = (int)vals[0];
    q->offset = (int)vals[1];
    return 0;
}

/* filter=, then tag=, group= and hasMetrics= (issue #35). */
static int parse_rest(ad_store_rt_query_t *q, ad_store_query_fn get, void *ud, ad_field_err_t *e)
{
    const char *fs = get(ud, "filter");
    if (fs != NULL && strlen(fs) > LIST_MAX) {
        return ad_field_fail(e, "filter", "is too long");
    }
    if (ad_store_rt_parse_filters(q, fs) != 0) {
        return ad_field_fail(e, "filter",
                             "must be at most 8 KEY OP VALUE, comma-separated (OP: = != < <= > "
                             ">=; a metric, startedAt or duration takes a number), e.g. "
                             "learningRate>0.001");
    }
    const char *tag = get(ud, "tag"), *group = get(ud, "group"), *has = get(ud, "hasMetrics");
    if (tag != NULL && (tag[0] == '\0' || strlen(tag) > TAG_MAX)) {
        return ad_field_fail(e, "tag", "must be 1 to 64 bytes");
    }
    if (group != NULL && (group[0] == '\0' || strlen(group) > GROUP_MAX)) {
        return ad_field_fail(e, "group", "must be 1 to 200 bytes");
    }
    if (has != NULL && has[0] != '\0' && !ad_field_choice("true,false", has)) {
        return ad_field_fail(e, "hasMetrics", "must be true or false");
    }
    q->tag = tag;
    q->group = group;
    q->has_metrics = has == NULL || has[0] == '\0' ? 0 : strcmp(has, "true") == 0 ? 1 : -1;
    return 0;
}

int ad_store_rt_parse_query(ad_store_rt_query_t *q, ad_store_query_fn get, void *ud,
                            ad_field_err_t *e)
{
    if (parse_lists(q, get, ud, e) != 0 || parse_page(q, get, ud, e) != 0 ||
        parse_rest(q, get, ud, e) != 0) {
        return AD_EINVAL;
    }
    return 0;
}

void ad_store_rt_answer(const ad_store_rt_query_t *q, json_t *out)
{
    json_t *ms = json_array();
    for (size_t i = 0; i < q->nmetrics; i++) {
        json_array_append_new(ms, json_pack("{s:s, s:s}", "name", q->metrics[i].name, "goal",
                                            q->metrics[i].lower_is_better ? "min" : "max"));
    }
    json_object_set_new(out, "metrics", ms);
    json_object_set_new(out, "limit", json_integer(q->limit));
    json_object_set_new(out, "offset", json_integer(q->offset));
}
