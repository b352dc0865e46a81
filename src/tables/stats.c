/* SPDX-License-Identifier: MIT */
/*
 * Runs across agents and their statistics (migration 0800): the runs list
 * with filters and a cursor, and dashboard figures read from the daily
 * aggregates the run triggers keep (never a scan of runs), with latency
 * percentiles from decimal-bucket histograms of run and tool durations.
 *
 * Threads: reads on the loop thread (the read connection); the tool
 * latency write on the writer.
 */
#include "store/table.h"
#include "tables/auth.h"
#include "tables/stats.h"
#include "tables/tables_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNS_COLS                                                                                  \
    "r.id, r.agent_id, a.name AS agent_name, r.crew_id, r.org_id, r.started_at, r.ended_at, "      \
    "r.status, r.exit_code, r.signal, r.duration_ms, r.input_tokens, r.output_tokens, "            \
    "r.cache_read_tokens, r.cache_write_tokens, r.cost_usd, r.num_turns, " AD_RUN_NAME_SQL(        \
        "r") " AS name, " AD_RUN_COLOR_SQL("r") " AS color, coalesce(r.tags, '[]') "               \
                                                "AS tags, r.notes, r.run_group AS \"group\""
#define RUNS_NULLS "ended_at,exit_code,signal,duration_ms,crew_id,notes,group"

/* The decimal bucket of ms: 10 * digits + leading digit (1234 -> 41), as
 * the migration's triggers compute it. */
static int64_t latency_bucket(int64_t ms)
{
    char d[24];
    int n = snprintf(d, sizeof(d), "%lld", (long long)(ms > 0 ? ms : 0));
    return 10 * (int64_t)n + (d[0] - '0');
}

/* The middle of a bucket's range, in ms. */
static double bucket_mid(int64_t b)
{
    int64_t digits = b / 10, lead = b % 10;
    if (digits <= 1) {
        return (double)lead;
    }
    double unit = 1;
    for (int64_t i = 1; i < digits; i++) {
        unit *= 10;
    }
    return lead * unit + (unit - 1) / 2.0;
}

/* ---- the runs list ----------------------------------------------------------------- */

static void bind_filters(ad_db_stmt_t *s, const ad_store_runs_query_t *q, int *i)
{
    if (q->org != NULL && q->org[0] != '\0') {
        ad_store_bind_text(s, (*i)++, q->org);
    }
    if (q->status != NULL) {
        ad_store_bind_text(s, (*i)++, q->status);
    }
    if (q->crew_id != NULL) {
        ad_store_bind_text(s, (*i)++, q->crew_id);
    }
    if (q->agent_id != NULL) {
        ad_store_bind_text(s, (*i)++, q->agent_id);
    }
    if (q->since > 0) {
        ad_db_bind_int64(s, (*i)++, q->since);
    }
    if (q->before_started > 0) {
        ad_db_bind_int64(s, (*i)++, q->before_started);
        ad_db_bind_int64(s, (*i)++, q->before_started);
        ad_store_bind_text(s, (*i)++, q->before_id);
    }
}

/* The cursor: runs before (started_at, id). Its first term bounds the
 * index range; the form "started_at < ?1 OR (started_at = ?2 AND id < ?3)"
 * had SQLite merge two index searches and sort every run before the
 * cursor (0.7 s half-way through 1,000,000 runs; bench/README, F2). */
const char ad_sql_runs_before[] = " AND r.started_at <= ? AND (r.started_at < ? OR r.id < ?)";

/* Which filters q sets, as bits in the order where_clause writes them. */
static unsigned filter_mask(const ad_store_runs_query_t *q)
{
    return (q->org != NULL && q->org[0] != '\0' ? 1u : 0) | (q->status != NULL ? 2u : 0) |
           (q->crew_id != NULL ? 4u : 0) | (q->agent_id != NULL ? 8u : 0) |
           (q->since > 0 ? 16u : 0) | (q->before_started > 0 ? 32u : 0);
}

/* The list's statement for a set of filters: the same text for the same
 * set, made once and kept for the process, so the statement cache (which
 * keys on the text's address) prepares each set once per connection, not
 * at every request (a twentieth of a page's cost). NULL without memory. */
#define RUNS_MASKS 64
static const char *runs_sql(unsigned mask)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static char *texts[RUNS_MASKS];
    static const char *const terms[] = {" AND r.org_id = ?",      " AND r.status = ?",
                                        " AND r.crew_id = ?",     " AND r.agent_id = ?",
                                        " AND r.started_at >= ?", ad_sql_runs_before};
    pthread_mutex_lock(&lock);
    if (texts[mask] == NULL) {
        ad_buf_t b;
        ad_buf_init(&b, 4096);
        int rc = ad_buf_puts(&b, "SELECT " RUNS_COLS " FROM runs r LEFT JOIN agents a ON "
                                 "a.id = r.agent_id WHERE 1 = 1");
        for (unsigned i = 0; i < sizeof(terms) / sizeof(terms[0]); i++) {
            rc = rc != 0 || (mask & (1u << i)) == 0 ? rc : ad_buf_puts(&b, terms[i]);
        }
        rc = rc != 0 ? rc : ad_buf_puts(&b, " ORDER BY r.started_at DESC, r.id DESC LIMIT ?");
        if (rc == 0) {
            texts[mask] = b.data; /* kept: the buffer's text is the statement's key */
        } else {
            ad_buf_cleanup(&b);
        }
    }
    const char *sql = texts[mask];
    pthread_mutex_unlock(&lock);
    return sql;
}

/* The runs of q, written to out as the page's JSON text or, with out NULL,
 * appended to arr as rows (a caller that keeps a tree: reading the text back
 * cost the dashboard's figures a sixth of their CPU). *next gets the last
 * run's id when there is a next page, else "". */
static int runs_rows(ad_store_t *st, const ad_store_runs_query_t *q, ad_buf_t *out, json_t *arr,
                     char next[AD_ID_MAX])
{
    ad_db_t *db = ad_store_rdb(st);
    int limit = q->limit > 0 && q->limit <= 500 ? q->limit : 50;
    const char *sql = runs_sql(filter_mask(q));
    ad_db_stmt_t *s = sql != NULL ? ad_store_stmt(db, sql) : NULL;
    if (s == NULL) {
        return sql != NULL ? AD_EINTERNAL : AD_ENOMEM;
    }
    int i = 1;
    bind_filters(s, q, &i);
    ad_db_bind_int(s, i, limit + 1); /* one more: is there a next page? */
    /* written row by row, no json_t: building and dumping the tree was
     * half of a page's cost (bench/README, F2) */
    ad_store_row_plan_t plan = {.n = -1};
    char last[AD_ID_MAX] = "";
    bool more = false;
    int n = 0;
    int step = AD_DB_DONE;
    int err = 0;
    while (err == 0 && (step = ad_db_step(s)) == AD_DB_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        if (out == NULL) {
            json_array_append_new(arr, ad_store_row_json(s, "tags", RUNS_NULLS));
        } else {
            if (plan.n < 0) { /* PostgreSQL names the columns once the statement ran */
                ad_store_row_plan(s, "tags", RUNS_NULLS, &plan);
            }
            err = n > 0 ? ad_buf_putc(out, ',') : 0;
            err = err ? err : ad_store_row_text(s, &plan, NULL, out);
        }
        const char *id = (const char *)ad_db_column_text(s, 0);
        snprintf(last, sizeof(last), "%s", id != NULL ? id : "");
        n++;
    }
    ad_db_reset(s);
    if (err != 0) {
        return err;
    }
    if (step != AD_DB_ROW && step != AD_DB_DONE) {
        return ad_store_rc(db, step);
    }
    /* the cursor: the last run's id; the caller looks its start up */
    snprintf(next, AD_ID_MAX, "%s", more ? last : "");
    return 0;
}

int ad_store_runs_query_text(ad_store_t *st, const ad_store_runs_query_t *q, ad_buf_t *out)
{
    char next[AD_ID_MAX];
    int err = ad_buf_puts(out, "{\"runs\":[");
    err = err ? err : runs_rows(st, q, out, NULL, next);
    err = err ? err : ad_buf_puts(out, next[0] ? "],\"nextCursor\":" : "],\"nextCursor\":null}");
    if (err == 0 && next[0]) {
        err = ad_json_string(out, next, strlen(next));
        err = err ? err : ad_buf_putc(out, '}');
    }
    return err;
}

int ad_store_runs_query(ad_store_t *st, const ad_store_runs_query_t *q, json_t **out)
{
    char next[AD_ID_MAX];
    json_t *runs = json_array();
    int rc = runs_rows(st, q, NULL, runs, next);
    if (rc != 0) {
        json_decref(runs);
        return rc;
    }
    *out = json_pack("{s:o, s:o}", "runs", runs, "nextCursor",
                     next[0] ? json_string(next) : json_null());
    return 0;
}

int ad_store_run_int64(ad_store_t *st, const char *sql, const char *run_id, int64_t *out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, run_id);
    int step = ad_db_step(s);
    int rc = step == AD_DB_ROW ? 0 : step == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, step);
    if (rc == 0) {
        *out = ad_db_column_int64(s, 0);
    }
    ad_db_reset(s);
    return rc;
}

int ad_store_run_started_at(ad_store_t *st, const char *run_id, int64_t *started_at)
{
    return ad_store_run_int64(st, "SELECT started_at FROM runs WHERE id = ?1", run_id, started_at);
}

/* ---- statistics ---------------------------------------------------------------------- */

/* p50 and p95 of kind's histogram since from_day, as {p50Ms, p95Ms, count}. */
static int percentiles(ad_db_t *db, const char *org, int64_t from_day, const char *kind,
                       json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT bucket, SUM(count) FROM latency_hist WHERE (?1 = '' OR org_id = ?1) AND "
            "day >= ?2 AND kind = ?3 GROUP BY bucket ORDER BY bucket");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    ad_db_bind_int64(s, 2, from_day);
    ad_store_bind_text(s, 3, kind);
    int64_t buckets[128], counts[128], total = 0;
    size_t n = 0;
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW && n < 128) {
        buckets[n] = ad_db_column_int64(s, 0);
        counts[n] = ad_db_column_int64(s, 1);
        total += counts[n++];
    }
    ad_db_reset(s);
    if (step != AD_DB_DONE && step != AD_DB_ROW) {
        return ad_store_rc(db, step);
    }
    json_t *p50 = json_null(), *p95 = json_null();
    int64_t seen = 0;
    for (size_t i = 0; i < n && total > 0; i++) {
        seen += counts[i];
        if (json_is_null(p50) && seen * 2 >= total) {
            p50 = json_real(bucket_mid(buckets[i]));
        }
        if (json_is_null(p95) && seen * 100 >= total * 95) {
            p95 = json_real(bucket_mid(buckets[i]));
        }
    }
    *out = json_pack("{s:o, s:o, s:I}", "p50Ms", p50, "p95Ms", p95, "count", (json_int_t)total);
    return 0;
}

/* The usage so far of the runs still running (the daily aggregates count a
 * run at its end): live[0] input, live[1] output tokens, live[2] how many;
 * their cost is added to *cost. Few rows: the runs_by_status index. */
static int live_usage(ad_db_t *db, const char *org, int64_t live[3], double *cost)
{
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT COALESCE(SUM(input_tokens),0), COALESCE(SUM(output_tokens),0), COUNT(*), "
            "COALESCE(SUM(cost_usd),0) FROM runs WHERE status = 'running' "
            "AND (?1 = '' OR org_id = ?1)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    int step = ad_db_step(s);
    if (step != AD_DB_ROW) {
        ad_db_reset(s);
        return ad_store_rc(db, step);
    }
    for (int i = 0; i < 3; i++) {
        live[i] = ad_db_column_int64(s, i);
    }
    *cost += ad_db_column_double(s, 3);
    ad_db_reset(s);
    return 0;
}

int ad_store_run_stats(ad_store_t *st, const char *org, int64_t from_day, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT COALESCE(SUM(runs),0), COALESCE(SUM(succeeded),0), COALESCE(SUM(failed),0), "
            "COALESCE(SUM(stopped),0), COALESCE(SUM(lost),0), COALESCE(SUM(input_tokens),0), "
            "COALESCE(SUM(output_tokens),0), COALESCE(SUM(cost_usd),0) FROM run_stats "
            "WHERE (?1 = '' OR org_id = ?1) AND day >= ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    ad_db_bind_int64(s, 2, from_day);
    int step = ad_db_step(s);
    if (step != AD_DB_ROW) {
        ad_db_reset(s);
        return ad_store_rc(db, step);
    }
    int64_t v[7];
    for (int i = 0; i < 7; i++) {
        v[i] = ad_db_column_int64(s, i);
    }
    double cost = ad_db_column_double(s, 7);
    ad_db_reset(s);
    int64_t live[3] = {0, 0, 0};
    int rc = live_usage(db, org, live, &cost);
    if (rc != 0) {
        return rc;
    }
    v[5] += live[0];
    v[6] += live[1];
    json_t *run_lat = NULL, *tool_lat = NULL;
    rc = percentiles(db, org, from_day, "run", &run_lat);
    if (rc == 0) {
        rc = percentiles(db, org, from_day, "tool", &tool_lat);
    }
    if (rc != 0) {
        json_decref(run_lat);
        return rc;
    }
    int64_t decided = v[1] + v[2]; /* stopped and lost runs neither pass nor fail */
    *out = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:f, s:{s:o, s:o}}", "totalRuns",
        (json_int_t)v[0], "liveRuns", (json_int_t)live[2], "succeeded", (json_int_t)v[1], "failed",
        (json_int_t)v[2], "stopped", (json_int_t)v[3], "lost", (json_int_t)v[4], "successRate",
        decided > 0 ? json_real((double)v[1] / (double)decided) : json_null(), "inputTokens",
        (json_int_t)v[5], "outputTokens", (json_int_t)v[6], "totalTokens",
        (json_int_t)(v[5] + v[6]), "costUsd", cost, "latency", "run", run_lat, "tool", tool_lat);
    return 0;
}

/* ---- tool durations ---------------------------------------------------------------- */

typedef struct {
    char org[AD_ID_MAX];
    int64_t day, bucket;
} tool_timed_t;

static int tool_timed(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const tool_timed_t *t = in;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "INSERT INTO latency_hist (org_id, day, kind, bucket, count) VALUES "
                "(?, ?, 'tool', ?, 1) ON CONFLICT (org_id, day, kind, bucket) DO UPDATE SET "
                "count = latency_hist.count + 1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, t->org);
    ad_db_bind_int64(s, 2, t->day);
    ad_db_bind_int64(s, 3, t->bucket);
    return ad_store_step_done(tx->db, s);
}

void ad_store_tool_timed(ad_store_t *st, const char *org, int64_t now_ms, int64_t duration_ms)
{
    tool_timed_t t;
    snprintf(t.org, sizeof(t.org), "%s", org != NULL && org[0] ? org : AD_ORG_DEFAULT);
    t.day = now_ms / 86400000;
    t.bucket = latency_bucket(duration_ms);
    ad_store_typed_write(st, tool_timed, &t, sizeof(t), NULL, NULL, NULL);
}

int ad_store_runs_parse(ad_store_runs_query_t *q, ad_store_query_fn get, void *ud,
                        ad_field_err_t *e)
{
    static const char statuses[] = "running,succeeded,failed,stopped,lost,degraded";
    q->status = get(ud, "status");
    q->crew_id = get(ud, "crewId");
    q->agent_id = get(ud, "agentId");
    q->limit = 50;
    if (q->status != NULL && !ad_field_choice(statuses, q->status)) {
        return ad_field_fail(e, "status", "must be one of %s", statuses);
    }
    const char *v = get(ud, "limit");
    if (v != NULL && v[0] != '\0') {
        char *end = NULL;
        long long n = strtoll(v, &end, 10);
        if (*end != '\0' || n < 1 || n > 500) {
            return ad_field_fail(e, "limit", "must be a whole number from 1 to 500");
        }
        q->limit = (int)n;
    }
    v = get(ud, "since");
    if (v != NULL && v[0] != '\0' && ad_time_param(v, &q->since) != 0) {
        return ad_field_fail(e, "since", "must be milliseconds or an RFC 3339 time");
    }
    return 0;
}
