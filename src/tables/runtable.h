/* SPDX-License-Identifier: MIT */
/*
 * tables: the runs table (runtable.c, rtquery.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_RUNTABLE_H
#define AD_TABLES_RUNTABLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- the runs table (runtable.c, issue #16) ----------------------------------------
 * Runs of an org (and an agent or a workspace) with the config they were
 * started with and a summary of chosen metrics from metric_series. A key
 * is what a column, a sort or a filter names: a run column, a config field
 * or a statistic of one of the chosen metrics. Names are checked by the
 * caller (config fields are identifiers); values are bound, never pasted. */
#define AD_STORE_RT_METRICS_MAX 8
#define AD_STORE_RT_FILTERS_MAX 8
typedef enum {
    AD_RT_KEY_STARTED = 0, /* startedAt */
    AD_RT_KEY_DURATION,    /* duration (ms; a running run's so far) */
    AD_RT_KEY_STATUS,
    AD_RT_KEY_AGENT, /* the agent's name */
    AD_RT_KEY_CONFIG,
    AD_RT_KEY_METRIC,
} ad_store_rt_kind_t;
typedef enum { AD_RT_FINAL = 0, AD_RT_BEST, AD_RT_MIN, AD_RT_MAX } ad_store_rt_stat_t;
typedef struct {
    ad_store_rt_kind_t kind;
    char field[72];          /* AD_RT_KEY_CONFIG: the field's name */
    int metric;              /* AD_RT_KEY_METRIC: index into metrics */
    ad_store_rt_stat_t stat; /* AD_RT_KEY_METRIC */
} ad_store_rt_key_t;
typedef enum { AD_RT_EQ = 0, AD_RT_NE, AD_RT_LT, AD_RT_LE, AD_RT_GT, AD_RT_GE } ad_store_rt_op_t;
typedef struct {
    ad_store_rt_key_t key;
    ad_store_rt_op_t op;
    bool is_text; /* compare with text, else with num */
    double num;
    char text[200];
} ad_store_rt_filter_t;
typedef struct {
    const char *org;          /* "" every org */
    const char *agent_id;     /* NULL: any */
    const char *workspace_id; /* NULL: any */
    const char *tag;          /* NULL: any; else runs with this tag */
    const char *group;        /* NULL: any; else runs of this group */
    int has_metrics;          /* 0 any; 1 runs with points or distributions; -1 without */
    unsigned statuses;        /* bit (1 << ad_row_run_status_t); 0: any */
    size_t nmetrics;
    struct {
        char name[128];
        bool lower_is_better; /* best is the min, else the max */
        bool goal_given;      /* named with :min or :max; else the setting or the name says */
    } metrics[AD_STORE_RT_METRICS_MAX];
    size_t nfilters;
    ad_store_rt_filter_t filters[AD_STORE_RT_FILTERS_MAX];
    ad_store_rt_key_t sort;
    bool ascending;
    int64_t now; /* ms: the duration of running runs */
    int limit;   /* 1-500 */
    int offset;
} ad_store_rt_query_t;
/* {runs: [{id, agentId, agentName, status, startedAt, endedAt, durationMs,
 * config {id, name, schemaId, values} | null, name, color, tags, notes,
 * group, lastMetricAt (the newest point's time, or null: no series),
 * metrics {name: {final, best, min, max, count, lastStep} | null}}],
 * total}. Loop thread. */
int ad_store_run_table(ad_store_t *st, ad_store_rt_query_t *q, json_t **out);
/* The query's words (rtquery.c), each added to q: metrics "reward,loss:min"
 * (at most 8; ":min" when lower is better), statuses "succeeded,failed",
 * filters "KEY OP VALUE,..." (at most 8; OP = != < <= > >=) and the sort
 * KEY (startedAt, duration, status, agent, a config field, or
 * <metric>.final|best|min|max, which adds the metric). NULL or "" adds
 * nothing. 0, or AD_EINVAL. Any thread. */
int ad_store_rt_parse_metrics(ad_store_rt_query_t *q, const char *list);
int ad_store_rt_parse_statuses(ad_store_rt_query_t *q, const char *list);
int ad_store_rt_parse_filters(ad_store_rt_query_t *q, const char *list);
int ad_store_rt_parse_sort(ad_store_rt_query_t *q, const char *key);
/* The whole query string of GET /api/training/runs read through get:
 * metrics=, status=, sort=, order=, limit= (1-500, 100), offset=,
 * filter=, tag=, group=, hasMetrics= (the strings stay get's). 0, or
 * AD_EINVAL with the first bad parameter in e. */
int ad_store_rt_parse_query(ad_store_rt_query_t *q, ad_store_query_fn get, void *ud,
                            ad_field_err_t *e);
/* What the answer says of q beside the runs: metrics [{name, goal}], limit,
 * offset (into out). */
void ad_store_rt_answer(const ad_store_rt_query_t *q, json_t *out);

#endif
