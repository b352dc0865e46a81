/* SPDX-License-Identifier: MIT */
/*
 * tables: usage (usage.c, usagesum.c, usagespec.c, usagetop.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_USAGE_H
#define AD_TABLES_USAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- usage (usage.c) ----------------------------------------------------------------- */
typedef struct {
    const char *model; /* borrowed; NULL or "" = "unknown" */
    int64_t input_tokens;
    int64_t output_tokens;
    int64_t cache_read_tokens;
    int64_t cache_write_tokens;
    double cost_usd;
    bool error;
    int64_t at_ms; /* when the request happened; 0 = now */
} ad_usage_rec_t;

/* One LLM request's usage as a write's args carry it (model, inputTokens,
 * outputTokens, cacheReadTokens, cacheWriteTokens, costUsd; borrowed from
 * args), at now. */
ad_usage_rec_t ad_usage_rec_of_args(json_t *args, int64_t now);
/* Job body: adds one request's usage to its daily, weekly (ISO week, keyed
 * by its Monday) and monthly rows, all three or none. Writer thread. */
int ad_store_usage_apply(ad_store_tx_t *tx, const ad_usage_rec_t *rec);
/* Queues one usage record (copied) and calls done after its commit. */
void ad_store_usage_record(ad_store_t *st, const ad_usage_rec_t *rec, ad_store_done_cb done,
                           void *ctx);
/* The same for a usage a client reported (POST /api/usage): after the
 * commit, today's row is read and published as usage_update (topic
 * "usage"), then cb(0, that row (cb's; NULL when it cannot be read), ud),
 * or cb(rc, NULL, ud). Loop thread. */
void ad_store_usage_post(ad_store_t *st, struct ad_bus *bus, const ad_usage_rec_t *rec,
                         ad_store_result_cb cb, void *ud);
/* Rows of one period (daily, weekly or monthly) with from <= date <= to
 * (YYYY-MM-DD, either may be NULL), oldest first, at most 1000 rows. */
int ad_store_usage_rows(ad_store_t *st, const char *period, const char *from, const char *to,
                        json_t **out);
/* The period key of a time: daily "YYYY-MM-DD", weekly the Monday of its
 * ISO week, monthly "YYYY-MM-01" (UTC). out holds 11 bytes. */
int ad_usage_period_key(int64_t ms, const char *period, char out[16]);
/* The row of one period key, zeros when there is none. */
int ad_store_usage_row(ad_store_t *st, const char *period, const char *date, json_t **out);
/* ---- usage figures (usagesum.c), loop thread ---- */
/* Whether s is a date YYYY-MM-DD naming a real day. Any thread. */
bool ad_usage_date_ok(const char *s);
/* ---- what /api/usage's requests may hold (usagespec.c), any thread ----
 * Each 0, or AD_EINVAL with the field and why in e. */
/* period (NULL or "": daily) one of daily|weekly|monthly; with from (not
 * NULL: to too), "" as NULL, each a date, from not after to. */
int ad_usage_range_check(const char **period, const char **from, const char **to,
                         ad_field_err_t *e);
/* ?days= (NULL or "": *days left alone) a whole number from 1 to 366. */
int ad_usage_days_check(const char *s, int *days, ad_field_err_t *e);
/* POST /api/usage {model?, inputTokens, outputTokens, cacheReadTokens?,
 * cacheWriteTokens?, costUsd?, error?} into rec (model borrowed). */
int ad_usage_rec_check(const json_t *body, ad_usage_rec_t *rec, ad_field_err_t *e);
/* The first period (daily, then monthly) whose limit limits
 * (ad_store_usage_limits') says is reached, with the refusal's words in
 * msg and *details (new: {period} and, with figures, usage), or NULL. */
const char *ad_usage_reached(const json_t *limits, bool figures, char *msg, size_t msgsz,
                             json_t **details);
/* The totals of usage rows: the sums of their token and request counts
 * and of costUsd (a new object). Any thread. */
json_t *ad_store_usage_totals(json_t *rows);
/* The last days (1-366) to now: {days, from, to, totals, history: one row
 * a day, oldest first, zeros for days without use}. 0 or a read error. */
int ad_store_usage_history(ad_store_t *st, int days, int64_t now, json_t **out);
/* Today's daily row at now (zeros when there is none); and one period's
 * rows from..to (as ad_store_usage_rows) as {period, from?, to?, totals,
 * rows}. 0 or a read error. */
int ad_store_usage_today(ad_store_t *st, int64_t now, json_t **out);
int ad_store_usage_period(ad_store_t *st, const char *period, const char *from, const char *to,
                          json_t **out);
/* {daily, monthly}: each {period, date, tokenLimit, tokensUsed,
 * tokensRemaining, costLimitUsd, costUsedUsd, costRemainingUsd, exceeded}
 * from the settings' limits (0: none, remaining null). 0 or a read error. */
int ad_store_usage_limits(ad_store_t *st, int64_t now, json_t **out);
/* "daily" or "monthly" when that usage limit is reached at now, else NULL
 * (also when the limits cannot be read: an unreadable limit stops nobody). */
const char *ad_store_usage_reached(ad_store_t *st, int64_t now);
/* The agents' usage in the period (daily, weekly, monthly) holding now, of
 * org ("" = every org): {period, from (its key), totals {runs, inputTokens,
 * outputTokens, totalTokens, costUsd} (of the agents listed), agents: at
 * most 500, costliest first (then most tokens, then by name), each {agentId,
 * name, worktreeId, executor, deletedAt?, runs, inputTokens, outputTokens,
 * cacheReadTokens, cacheWriteTokens, totalTokens, costUsd}}. An agent's
 * figures are those of its runs alive in the period (ended in it or later,
 * or still running); a run counts whole in each period it touches. Read
 * from the per-period sums the run triggers keep (agent_usage), so a month
 * costs a row per agent that ran in it, not a row per run (usagetop.c). */
int ad_store_usage_agents(ad_store_t *st, const char *period, int64_t now, const char *org,
                          json_t **out);
/* The same answer as JSON text appended to out (what the API sends); out's
 * max should be AD_STORE_USAGE_TEXT_MAX. Loop thread. */
#define AD_STORE_USAGE_TEXT_MAX (4u << 20)
int ad_store_usage_agents_text(ad_store_t *st, const char *period, int64_t now, const char *org,
                               ad_buf_t *out);

#endif
