/* SPDX-License-Identifier: MIT */
/*
 * tables: runs across agents, their statistics and the dashboard figures (stats.c, dashstats.c,
 * dashexport.c). One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_STATS_H
#define AD_TABLES_STATS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- runs across agents and their statistics (stats.c, migration 0800) ----------------
 * Run objects here also carry agentName, crewId and orgId. */
typedef struct {
    const char *org;        /* "" or NULL: every org */
    const char *status;     /* NULL: any */
    const char *crew_id;    /* NULL: any */
    const char *agent_id;   /* NULL: any */
    int64_t since;          /* started at or after (ms); 0: any */
    int64_t before_started; /* the cursor's run: its start and id; 0: first page */
    const char *before_id;
    int limit; /* 1-500; else 50 */
} ad_store_runs_query_t;

/* GET /api/runs's status=, crewId=, agentId=, limit= (1-500, 50) and
 * since= (ms or RFC 3339) read through get into q (strings stay get's;
 * the cursor is the caller's). 0, or AD_EINVAL with e. */
int ad_store_runs_parse(ad_store_runs_query_t *q, ad_store_query_fn get, void *ud,
                        ad_field_err_t *e);
/* {runs:[…] newest first, nextCursor (a run id, or null)}. Loop thread. */
int ad_store_runs_query(ad_store_t *st, const ad_store_runs_query_t *q, json_t **out);
/* The same page as JSON text appended to out, written row by row (what the
 * API sends). out's max should be AD_STORE_RUNS_TEXT_MAX (500 runs of
 * bounded fields, with tags and notes at their caps). Loop thread. */
#define AD_STORE_RUNS_TEXT_MAX (64u << 20)
int ad_store_runs_query_text(ad_store_t *st, const ad_store_runs_query_t *q, ad_buf_t *out);
/* The start of run_id (a cursor): 0 or AD_ENOENT. Loop thread. */
int ad_store_run_started_at(ad_store_t *st, const char *run_id, int64_t *started_at);
/* Figures of the runs ended on from_day (days since 1970-01-01 UTC) or
 * later, in org ("" every org): {totalRuns, succeeded, failed, stopped,
 * lost, liveRuns, successRate (of succeeded and failed; null without either),
 * inputTokens, outputTokens, totalTokens, costUsd (the ended runs' and the
 * usage so far of those still running, as the agents show it), latency
 * {run, tool: {p50Ms, p95Ms, count}}}. Reads daily aggregates and the
 * running runs. Loop thread. */
int ad_store_run_stats(ad_store_t *st, const char *org, int64_t from_day, json_t **out);
/* ---- dashboard figures (dashstats.c), loop thread ---- */
/* The first day (days since 1970-01-01 UTC) a range covers at now: 24h,
 * 7d, 30d, 90d or all (day 0). 0 or AD_EINVAL. Any thread. */
int ad_store_range_from(const char *range, int64_t now, int64_t *from_day);
/* ad_store_run_stats of range with range, activeCrews (crews of org with
 * an agent alive) and recentRuns (the 5 newest). 0, AD_EINVAL (range) or
 * a read error. */
int ad_store_dashboard_stats(ad_store_t *st, const char *org, const char *range, int64_t now,
                             json_t **out);
/* This month's spend of org against the monthly limits (settings),
 * projected to the month's end at the rate so far: {period, spentTokens,
 * budgetTokens, projectedTokens, remainingTokens, spentUsd, projectedUsd,
 * budgetUsd, elapsedFraction, remainingUsd} (a budget not set is null). */
int ad_store_token_stats(ad_store_t *st, const char *org, int64_t now, json_t **out);
/* A dashboard report as a download (dashexport.c), any thread. The check:
 * name one of stats, tokens, rentals; *format csv (also when NULL or "")
 * or pdf; 0 or AD_EINVAL with e. The render: out (the report's figures)
 * as a table, metric/value rows or, for rentals, one row per agent and a
 * total, written as CSV or PDF into b (cells from arena), and the
 * Content-Disposition naming the file (agentd-<name>-<day>.<format>) into
 * file; 0 or the writer's error. */
#define AD_REPORT_MAX (4u << 20)
int ad_store_report_check(const char *name, const char **format, ad_field_err_t *e);
int ad_store_report_render(const char *name, const char *format, const json_t *out,
                           ad_arena_t *arena, int64_t now, ad_buf_t *b, char *file, size_t filesz);
/* Counts a finished tool call's duration in org's tool latency histogram
 * (fire and forget). Loop thread. */
void ad_store_tool_timed(ad_store_t *st, const char *org, int64_t now_ms, int64_t duration_ms);

#endif
