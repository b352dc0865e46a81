/* SPDX-License-Identifier: MIT */
/* Tests for the store's typed run writes (src/tables/runs.c): each write is
 * read back through the store's reads and compared field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "tables/agents.h"
#include "tables/messages.h"
#include "tables/planes.h"
#include "tables/runs.h"
#include "tables/stats.h"
#include "tables/tables_int.h" /* ad_sql_leases_ended */
#include "tables/usage.h"
#include "tables/workspaces.h"
#include "store/store_int.h"
#include "store_fixture.h"

typedef struct {
    store_fx_t *s;
    char ws[AD_ID_MAX], wt[AD_ID_MAX], ag[AD_ID_MAX];
} fixture_t;

static void on_done(int rc, void *ud)
{
    store_fx_on_result(rc, NULL, ud);
}

static int op_sync(fixture_t *f, ad_store_op_fn op, json_t *args)
{
    return store_fx_write(f->s, op, args, NULL);
}

/* Another agent of f's worktree, named b, made at 1000: its new id in id. */
static void other_agent(fixture_t *f, const char *executor, char id[AD_ID_MAX])
{
    ad_id_new("ag", id);
    assert_int_equal(
        op_sync(f, ad_store_op_agent_insert,
                json_pack("{s:s, s:s, s:s, s:s, s:[], s:s, s:I}", "id", id, "worktreeId", f->wt,
                          "name", "b", "mode", "regular", "permissions", "executor", executor,
                          "now", (json_int_t)1000)),
        0);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    f->s = store_fx_new("runs", true);
    ad_id_new("ws", f->ws);
    ad_id_new("wt", f->wt);
    ad_id_new("ag", f->ag);
    assert_int_equal(
        op_sync(f, ad_store_op_workspace_insert,
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "id", f->ws, "name", "p", "path",
                          f->s->dir, "worktreeId", f->wt, "branch", "", "now", (json_int_t)1000)),
        0);
    assert_int_equal(op_sync(f, ad_store_op_agent_insert,
                             json_pack("{s:s, s:s, s:s, s:s, s:[], s:s, s:I, s:{s:[s]}}", "id",
                                       f->ag, "worktreeId", f->wt, "name", "a", "mode", "regular",
                                       "permissions", "executor", "command", "now",
                                       (json_int_t)1000, "state", "command", "true")),
                     0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    store_fx_free(f->s);
    free(f);
    return 0;
}

static const char *sget(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static json_int_t iget(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* The agent and run rows as the store reads them (owned). */
static json_t *agent_row(fixture_t *f, const char *id)
{
    json_t *a = NULL;
    assert_int_equal(ad_store_agent_get(f->s->st, id, &a), 0);
    return a;
}

static json_t *run_row(fixture_t *f, const char *id)
{
    json_t *r = NULL;
    assert_int_equal(ad_store_run_get(f->s->st, id, &r), 0);
    return r;
}

static int start_sync(fixture_t *f, const ad_store_run_start_t *in, json_t **result)
{
    store_wait_t w = {0};
    ad_store_run_start(f->s->st, in, store_fx_on_result, &w);
    store_fx_wait(f->s, &w);
    if (result != NULL) {
        *result = w.result;
    } else {
        json_decref(w.result);
    }
    return w.rc;
}

static int end_sync(fixture_t *f, const ad_store_run_end_t *in, json_t **result)
{
    store_wait_t w = {0};
    ad_store_run_end(f->s->st, in, store_fx_on_result, &w);
    store_fx_wait(f->s, &w);
    if (result != NULL) {
        *result = w.result;
    } else {
        json_decref(w.result);
    }
    return w.rc;
}

static int runtime_sync(fixture_t *f, const ad_store_agent_runtime_t *in)
{
    store_wait_t w = {0};
    ad_store_agent_runtime(f->s->st, in, store_fx_on_result, &w);
    store_fx_wait(f->s, &w);
    json_decref(w.result);
    return w.rc;
}

/* ---- tests ------------------------------------------------------------------------ */

static void status_names_match_the_schema(void **state)
{
    (void)state;
    assert_string_equal(ad_row_run_status_name(AD_ROW_RUN_STATUS_RUNNING), "running");
    assert_string_equal(ad_row_run_status_name(AD_ROW_RUN_STATUS_SUCCEEDED), "succeeded");
    assert_string_equal(ad_row_run_status_name(AD_ROW_RUN_STATUS_FAILED), "failed");
    assert_string_equal(ad_row_run_status_name(AD_ROW_RUN_STATUS_STOPPED), "stopped");
    assert_string_equal(ad_row_run_status_name(AD_ROW_RUN_STATUS_LOST), "lost");
    assert_null(ad_row_run_status_name((ad_row_run_status_t)99));
    assert_string_equal(ad_row_agent_status_name(AD_ROW_AGENT_STATUS_RUNNING), "running");
    assert_string_equal(ad_row_agent_status_name(AD_ROW_AGENT_STATUS_WAITING), "waiting");
    assert_string_equal(ad_row_agent_status_name(AD_ROW_AGENT_STATUS_ERROR), "error");
    assert_string_equal(ad_row_agent_status_name(AD_ROW_AGENT_STATUS_FINISHED), "finished");
    assert_string_equal(ad_row_agent_status_name(AD_ROW_AGENT_STATUS_IDLE), "idle");
    assert_string_equal(ad_row_agent_status_name(AD_ROW_AGENT_STATUS_PAUSED), "paused");
    assert_null(ad_row_agent_status_name((ad_row_agent_status_t)99));
}

static void run_start_and_end_read_back(void **state)
{
    fixture_t *f = *state;
    char run[AD_ID_MAX];
    ad_id_new("run", run);
    json_t *res = NULL;
    ad_store_run_start_t s = {.now = 5000, .pid = 4242};
    snprintf(s.id, sizeof(s.id), "%s", run);
    snprintf(s.agent_id, sizeof(s.agent_id), "%s", f->ag);
    assert_int_equal(start_sync(f, &s, &res), 0);
    /* the result is what a read gives */
    json_t *r = run_row(f, run), *a = agent_row(f, f->ag);
    assert_true(json_equal(json_object_get(res, "run"), r));
    assert_string_equal(sget(r, "status"), "running");
    assert_string_equal(sget(r, "agentId"), f->ag);
    assert_true(json_is_null(json_object_get(r, "endedAt")));
    assert_string_equal(sget(a, "status"), "running");
    assert_int_equal(iget(a, "pid"), 4242);
    assert_non_null(sget(a, "startedAt"));
    json_decref(res);
    json_decref(r);
    json_decref(a);

    ad_store_run_end_t e = {.now = 7500,
                            .status = AD_ROW_RUN_STATUS_FAILED,
                            .agent_status = AD_ROW_AGENT_STATUS_ERROR,
                            .has_exit_code = true,
                            .exit_code = 3,
                            .signal = 0,
                            .duration_ms = 2500,
                            .input_tokens = 11,
                            .output_tokens = 22,
                            .cache_read_tokens = 33,
                            .cache_write_tokens = 44,
                            .cost_usd = 0.25,
                            .num_turns = 2};
    snprintf(e.id, sizeof(e.id), "%s", run);
    snprintf(e.agent_id, sizeof(e.agent_id), "%s", f->ag);
    snprintf(e.reason, sizeof(e.reason), "exited with code 3");
    assert_int_equal(end_sync(f, &e, &res), 0);
    r = run_row(f, run);
    a = agent_row(f, f->ag);
    assert_true(json_equal(json_object_get(res, "run"), r));
    assert_true(json_equal(json_object_get(res, "agent"), a));
    assert_string_equal(sget(r, "status"), "failed");
    assert_int_equal(iget(r, "exitCode"), 3);
    assert_true(json_is_null(json_object_get(r, "signal")));
    assert_int_equal(iget(r, "durationMs"), 2500);
    assert_int_equal(iget(r, "inputTokens"), 11);
    assert_int_equal(iget(r, "outputTokens"), 22);
    assert_int_equal(iget(r, "cacheReadTokens"), 33);
    assert_int_equal(iget(r, "cacheWriteTokens"), 44);
    assert_true(json_number_value(json_object_get(r, "costUsd")) == 0.25);
    assert_int_equal(iget(r, "numTurns"), 2);
    char ts[AD_TIME_MAX];
    ad_time_format(7500, ts);
    assert_string_equal(sget(r, "endedAt"), ts);
    assert_string_equal(sget(a, "status"), "error");
    assert_null(json_object_get(a, "pid"));
    assert_string_equal(sget(a, "stoppedAt"), ts);
    json_t *st = json_object_get(a, "state");
    assert_string_equal(sget(st, "statusReason"), "exited with code 3");
    assert_non_null(json_object_get(st, "command")); /* the rest of the state is kept */
    json_decref(res);
    json_decref(r);
    json_decref(a);

    /* a new start clears the reason; an end by signal has no exit code and
     * no reason keeps the state as it is */
    char run2[AD_ID_MAX];
    ad_id_new("run", run2);
    snprintf(s.id, sizeof(s.id), "%s", run2);
    s.pid = 0;
    assert_int_equal(start_sync(f, &s, NULL), 0);
    a = agent_row(f, f->ag);
    assert_null(json_object_get(json_object_get(a, "state"), "statusReason"));
    assert_null(json_object_get(a, "pid"));
    json_decref(a);
    ad_store_run_end_t e2 = {.now = 9000,
                             .status = AD_ROW_RUN_STATUS_STOPPED,
                             .agent_status = AD_ROW_AGENT_STATUS_FINISHED,
                             .has_exit_code = false,
                             .signal = 9};
    snprintf(e2.id, sizeof(e2.id), "%s", run2);
    snprintf(e2.agent_id, sizeof(e2.agent_id), "%s", f->ag);
    assert_int_equal(end_sync(f, &e2, NULL), 0);
    r = run_row(f, run2);
    a = agent_row(f, f->ag);
    assert_string_equal(sget(r, "status"), "stopped");
    assert_true(json_is_null(json_object_get(r, "exitCode")));
    assert_int_equal(iget(r, "signal"), 9);
    assert_string_equal(sget(a, "status"), "finished");
    assert_null(json_object_get(json_object_get(a, "state"), "statusReason"));
    json_decref(r);
    json_decref(a);
}

/* A run whose end is written again (a lost run's real end, a late
 * usage): the period sums count it once, with its last usage. On
 * PostgreSQL the trigger's old and new rows land on the same period rows,
 * which one upsert may not change twice. */
static void an_end_written_again_counts_once(void **state)
{
    fixture_t *f = *state;
    char run[AD_ID_MAX];
    ad_id_new("run", run);
    int64_t now = ad_wall_ms();
    ad_store_run_start_t s = {.now = now - 1000};
    snprintf(s.id, sizeof(s.id), "%s", run);
    snprintf(s.agent_id, sizeof(s.agent_id), "%s", f->ag);
    assert_int_equal(start_sync(f, &s, NULL), 0);
    ad_store_run_end_t e = {.now = now,
                            .status = AD_ROW_RUN_STATUS_LOST,
                            .agent_status = AD_ROW_AGENT_STATUS_ERROR,
                            .input_tokens = 10,
                            .cost_usd = 1.0};
    snprintf(e.id, sizeof(e.id), "%s", run);
    snprintf(e.agent_id, sizeof(e.agent_id), "%s", f->ag);
    assert_int_equal(end_sync(f, &e, NULL), 0);
    e.now = now + 1;
    e.status = AD_ROW_RUN_STATUS_SUCCEEDED;
    e.agent_status = AD_ROW_AGENT_STATUS_FINISHED;
    e.input_tokens = 30;
    e.cost_usd = 2.0;
    assert_int_equal(end_sync(f, &e, NULL), 0);
    /* ...and an end is final: a later one (a plane that lost the run's lease
     * in a database outage) changes nothing (issue #77) */
    ad_store_run_end_t late = e;
    late.status = AD_ROW_RUN_STATUS_LOST;
    late.agent_status = AD_ROW_AGENT_STATUS_ERROR;
    late.input_tokens = 99;
    assert_int_equal(end_sync(f, &late, NULL), AD_ESTATE);
    json_t *kept = run_row(f, run);
    assert_string_equal(sget(kept, "status"), "succeeded");
    assert_int_equal(iget(kept, "inputTokens"), 30);
    json_decref(kept);
    json_t *ag = agent_row(f, f->ag);
    assert_string_equal(sget(ag, "status"), "finished");
    json_decref(ag);
    json_t *u = NULL;
    assert_int_equal(ad_store_usage_agents(f->s->st, "daily", now, "", &u), 0);
    json_t *row = json_array_get(json_object_get(u, "agents"), 0);
    assert_non_null(row);
    assert_string_equal(sget(row, "agentId"), f->ag);
    assert_int_equal(iget(row, "runs"), 1);
    assert_int_equal(iget(row, "inputTokens"), 30);
    assert_true(json_number_value(json_object_get(row, "costUsd")) == 2.0);
    /* whole numbers, on both backends (PostgreSQL's SUM is numeric) */
    assert_int_equal(iget(json_object_get(u, "totals"), "runs"), 1);
    assert_int_equal(iget(json_object_get(u, "totals"), "inputTokens"), 30);
    json_decref(u);
}

/* GET /api/usage/agents's rows (src/tables/usagetop.c): each agent's period
 * rows and running runs summed, costliest first, ties by name, at most 500
 * of the caller's organisation. 600 agents: ten with costs of their own,
 * the rest tied, so the 500th falls in the tie and names decide; every
 * seventh in another organisation. The index reads the tie highest id
 * first, so the whole tie must be read. */
static void usage_by_agent_ranks_the_period(void **state)
{
    fixture_t *f = *state;
    int64_t now = ad_wall_ms();
    int64_t day = now / 86400000;
    enum { N = 600 };
    ad_buf_t b;
    ad_buf_init(&b, 1u << 20);
    int rc = ad_buf_puts(&b, "INSERT INTO agents (id, worktree_id, name, org_id, created_at, "
                             "updated_at) VALUES ");
    for (int i = 0; i < N && rc == 0; i++) {
        rc = ad_buf_printf(&b, "%s('ag_u%03d', '%s', 'n%03d', '%s', 1, 1)", i ? "," : "", i, f->wt,
                           i, i % 7 == 3 ? "org_other" : "org_default");
    }
    assert_int_equal(rc, 0);
    store_fx_exec(f->s, b.data);
    ad_buf_reset(&b);
    rc = ad_buf_puts(&b, "INSERT INTO agent_usage (kind, start_day, agent_id, runs, "
                         "input_tokens, cost_usd) VALUES ");
    for (int i = 0; i < N && rc == 0; i++) {
        rc = ad_buf_printf(&b, "%s('d', %lld, 'ag_u%03d', 1, 5, %d)", i ? "," : "", (long long)day,
                           i, i < 10 ? 100 - i : 1);
    }
    /* a later period's row (a run that ended past now) counts too */
    rc = rc ? rc : ad_buf_printf(&b, ",('d', %lld, 'ag_u000', 2, 1, 0.5)", (long long)day + 1);
    assert_int_equal(rc, 0);
    store_fx_exec(f->s, b.data);
    ad_buf_cleanup(&b);
    /* and a run still running */
    store_fx_exec(f->s, "INSERT INTO runs (id, agent_id, started_at, input_tokens, cost_usd) "
                        "VALUES ('run_u1', 'ag_u001', 5, 7, 0.25)");
    json_t *u = NULL;
    assert_int_equal(ad_store_usage_agents(f->s->st, "daily", now, "org_default", &u), 0);
    json_t *rows = json_object_get(u, "agents");
    assert_int_equal(json_array_size(rows), 500);
    json_t *r0 = json_array_get(rows, 0), *r1 = json_array_get(rows, 1);
    assert_string_equal(sget(r0, "agentId"), "ag_u000");
    assert_int_equal(iget(r0, "runs"), 3);
    assert_int_equal(iget(r0, "inputTokens"), 6);
    assert_true(json_real_value(json_object_get(r0, "costUsd")) == 100.5);
    assert_string_equal(sget(r1, "agentId"), "ag_u001");
    assert_int_equal(iget(r1, "runs"), 2);
    assert_int_equal(iget(r1, "totalTokens"), 12);
    assert_true(json_real_value(json_object_get(r1, "costUsd")) == 99.25);
    assert_string_equal(sget(r1, "worktreeId"), f->wt);
    /* then the other costly ones of the organisation, then the tie by name:
     * the lowest numbers first (their names are the lowest; the index reads
     * a tie the other way, by id downwards, so all of it must be read) */
    int want[500], n = 0;
    for (int i = 2; i < 10; i++) {
        if (i % 7 != 3) {
            want[n++] = i;
        }
    }
    for (int i = 10; i < N && n < 500; i++) {
        if (i % 7 != 3) {
            want[n++] = i;
        }
    }
    for (int k = 2; k < 500; k++) {
        char id[16];
        snprintf(id, sizeof(id), "ag_u%03d", want[k - 2]);
        assert_string_equal(sget(json_array_get(rows, (size_t)k), "agentId"), id);
    }
    json_decref(u);
    /* every organisation: the 500th is a tie of 590 agents whose rows the
     * index reads highest id first, the answer lowest name first */
    assert_int_equal(ad_store_usage_agents(f->s->st, "daily", now, "", &u), 0);
    rows = json_object_get(u, "agents");
    assert_int_equal(json_array_size(rows), 500);
    for (int k = 0; k < 500; k++) {
        char id[16];
        snprintf(id, sizeof(id), "ag_u%03d", k);
        assert_string_equal(sget(json_array_get(rows, (size_t)k), "agentId"), id);
    }
    json_decref(u);
    /* another organisation sees only its own */
    assert_int_equal(ad_store_usage_agents(f->s->st, "daily", now, "org_other", &u), 0);
    rows = json_object_get(u, "agents");
    assert_int_equal(json_array_size(rows), N / 7 + (N % 7 > 3));
    assert_string_equal(sget(json_array_get(rows, 0), "agentId"), "ag_u003");
    assert_string_equal(sget(json_array_get(rows, 1), "agentId"), "ag_u010");
    json_decref(u);

    /* The week: every cost its own (agent i: 1000 - i), every organisation.
     * The read stops at the first row that cannot be among the first 500,
     * so the last agents' rows are never read; one of them still comes
     * first, by a run that ended past now (its later week's row). */
    int64_t monday = day - (day + 3) % 7;
    ad_buf_init(&b, 1u << 20);
    rc = ad_buf_puts(&b, "INSERT INTO agent_usage (kind, start_day, agent_id, runs, "
                         "input_tokens, cost_usd) VALUES ");
    for (int i = 0; i < N && rc == 0; i++) {
        rc = ad_buf_printf(&b, "%s('w', %lld, 'ag_u%03d', 1, 5, %d)", i ? "," : "",
                           (long long)monday, i, 1000 - i);
    }
    rc = rc ? rc : ad_buf_printf(&b, ",('w', %lld, 'ag_u599', 1, 1, 5000)", (long long)monday + 7);
    assert_int_equal(rc, 0);
    store_fx_exec(f->s, b.data);
    ad_buf_cleanup(&b);
    assert_int_equal(ad_store_usage_agents(f->s->st, "weekly", now, "", &u), 0);
    rows = json_object_get(u, "agents");
    assert_int_equal(json_array_size(rows), 500);
    assert_string_equal(sget(json_array_get(rows, 0), "agentId"), "ag_u599");
    assert_true(json_real_value(json_object_get(json_array_get(rows, 0), "costUsd")) == 5401);
    for (int k = 1; k < 500; k++) {
        char id[16];
        snprintf(id, sizeof(id), "ag_u%03d", k - 1);
        assert_string_equal(sget(json_array_get(rows, (size_t)k), "agentId"), id);
    }
    assert_true(json_real_value(json_object_get(json_array_get(rows, 2), "costUsd")) == 999.25);
    json_decref(u);

    /* Runs still running for 70 of the tied agents: their whole usage is
     * summed apart from the index (test builds look those agents up 64 at
     * a time, so two batches), and each comes out of the tie above it. */
    ad_buf_init(&b, 1u << 16);
    rc = ad_buf_puts(&b, "INSERT INTO runs (id, agent_id, started_at, input_tokens, cost_usd) "
                         "VALUES ");
    for (int i = 100; i < 170 && rc == 0; i++) {
        rc = ad_buf_printf(&b, "%s('run_x%03d', 'ag_u%03d', 5, 0, 0.5)", i > 100 ? "," : "", i, i);
    }
    assert_int_equal(rc, 0);
    store_fx_exec(f->s, b.data);
    ad_buf_cleanup(&b);
    assert_int_equal(ad_store_usage_agents(f->s->st, "daily", now, "", &u), 0);
    rows = json_object_get(u, "agents");
    assert_int_equal(json_array_size(rows), 500);
    for (int k = 0; k < 500; k++) {
        /* the ten costly ones, then the 70 at 1.5, then the tie at 1 */
        int i = k < 10 ? k : k < 80 ? 100 + k - 10 : k < 170 ? k - 70 : k;
        char id[16];
        snprintf(id, sizeof(id), "ag_u%03d", i);
        json_t *row = json_array_get(rows, (size_t)k);
        assert_string_equal(sget(row, "agentId"), id);
        if (k >= 10 && k < 80) {
            assert_int_equal(iget(row, "runs"), 2);
            assert_true(json_real_value(json_object_get(row, "costUsd")) == 1.5);
        }
    }
    json_decref(u);
}

static void run_writes_refuse_bad_input(void **state)
{
    fixture_t *f = *state;
    char run[AD_ID_MAX];
    ad_id_new("run", run);
    ad_store_run_start_t s = {.now = 1};
    snprintf(s.id, sizeof(s.id), "%s", run);
    snprintf(s.agent_id, sizeof(s.agent_id), "ag_nope");
    assert_int_equal(start_sync(f, &s, NULL), AD_ENOENT);
    snprintf(s.agent_id, sizeof(s.agent_id), "%s", f->ag);
    assert_int_equal(start_sync(f, &s, NULL), 0);
    ad_store_run_end_t e = {.now = 2,
                            .status = AD_ROW_RUN_STATUS_RUNNING,
                            .agent_status = AD_ROW_AGENT_STATUS_FINISHED};
    snprintf(e.id, sizeof(e.id), "%s", run);
    snprintf(e.agent_id, sizeof(e.agent_id), "%s", f->ag);
    assert_int_equal(end_sync(f, &e, NULL), AD_EINVAL);
    e.status = AD_ROW_RUN_STATUS_SUCCEEDED;
    e.agent_status = AD_ROW_AGENT_STATUS_RUNNING; /* an ended run's agent is not running */
    assert_int_equal(end_sync(f, &e, NULL), AD_EINVAL);
    e.agent_status = AD_ROW_AGENT_STATUS_STOPPING; /* shown, never stored */
    assert_int_equal(end_sync(f, &e, NULL), AD_EINVAL);
    /* nothing changed */
    json_t *r = run_row(f, run);
    assert_string_equal(sget(r, "status"), "running");
    json_decref(r);
    ad_store_agent_runtime_t rt = {.id = "ag_nope", .now = 3, .context_level = -1};
    assert_int_equal(runtime_sync(f, &rt), AD_ENOENT);
}

static void agent_runtime_changes_only_what_is_set(void **state)
{
    fixture_t *f = *state;
    ad_store_agent_runtime_t rt = {
        .now = 6000,
        .set_status = true,
        .status = AD_ROW_AGENT_STATUS_WAITING,
        .session_id = "sess-1",
        .context_level = 42,
        .state_patch = json_pack("{s:i, s:s}", "epoch", 1, "phase", "warmup")}; /* taken */
    snprintf(rt.id, sizeof(rt.id), "%s", f->ag);
    assert_int_equal(runtime_sync(f, &rt), 0);
    json_t *a = agent_row(f, f->ag);
    assert_string_equal(sget(a, "status"), "waiting");
    assert_string_equal(sget(a, "sessionId"), "sess-1");
    assert_int_equal(iget(a, "contextLevel"), 42);
    json_t *st = json_object_get(a, "state");
    assert_int_equal(iget(st, "epoch"), 1);
    assert_string_equal(sget(st, "phase"), "warmup");
    assert_non_null(json_object_get(st, "command")); /* merged, not replaced */
    char ts[AD_TIME_MAX];
    ad_time_format(6000, ts);
    assert_string_equal(sget(a, "updatedAt"), ts);
    json_decref(a);

    /* zero values leave everything but updatedAt as it is */
    ad_store_agent_runtime_t keep = {.now = 6500, .context_level = -1};
    snprintf(keep.id, sizeof(keep.id), "%s", f->ag);
    assert_int_equal(runtime_sync(f, &keep), 0);
    a = agent_row(f, f->ag);
    assert_string_equal(sget(a, "status"), "waiting");
    assert_string_equal(sget(a, "sessionId"), "sess-1");
    assert_int_equal(iget(a, "contextLevel"), 42);
    assert_string_equal(sget(json_object_get(a, "state"), "phase"), "warmup");
    json_decref(a);
}

/* Every change of status has a reason (migration 2470): the one a write
 * gives, else "unexplained"; each lands in the history, newest first. */
static void status_reasons_and_their_history(void **state)
{
    fixture_t *f = *state;
    ad_store_agent_runtime_t rt = {.now = 6000,
                                   .set_status = true,
                                   .status = AD_ROW_AGENT_STATUS_WAITING,
                                   .context_level = -1};
    snprintf(rt.id, sizeof(rt.id), "%s", f->ag);
    ad_status_reason_set(&rt.why, "approval_requested", "ap_1", "approval %s requested", "ap_1");
    assert_int_equal(runtime_sync(f, &rt), 0);
    json_t *a = agent_row(f, f->ag);
    json_t *why = json_object_get(a, "statusReason");
    assert_string_equal(sget(why, "code"), "approval_requested");
    assert_string_equal(sget(why, "text"), "approval ap_1 requested");
    assert_string_equal(sget(why, "ref"), "ap_1");
    assert_int_equal(iget(why, "at"), 6000);
    json_decref(a);

    ad_store_agent_runtime_t bare = {.now = 7000,
                                     .set_status = true,
                                     .status = AD_ROW_AGENT_STATUS_RUNNING,
                                     .context_level = -1};
    snprintf(bare.id, sizeof(bare.id), "%s", f->ag);
    assert_int_equal(runtime_sync(f, &bare), 0);
    a = agent_row(f, f->ag);
    assert_string_equal(sget(json_object_get(a, "statusReason"), "code"), "unexplained");
    json_decref(a);

    json_t *h = NULL;
    assert_int_equal(ad_store_status_history(f->s->st, f->ag, 10, &h), 0);
    json_t *e = json_object_get(h, "entries");
    assert_int_equal(json_array_size(e), 2);
    assert_string_equal(sget(json_array_get(e, 0), "status"), "running");
    assert_string_equal(sget(json_array_get(e, 0), "code"), "unexplained");
    assert_string_equal(sget(json_array_get(e, 1), "status"), "waiting");
    assert_string_equal(sget(json_array_get(e, 1), "ref"), "ap_1");
    json_decref(h);
    assert_int_equal(ad_store_status_history(f->s->st, "ag_nope", 10, &h), AD_ENOENT);
}

static void run_messages_read_back_in_order(void **state)
{
    fixture_t *f = *state;
    char run[AD_ID_MAX];
    ad_id_new("run", run);
    ad_store_run_start_t s = {.now = 1000};
    snprintf(s.id, sizeof(s.id), "%s", run);
    snprintf(s.agent_id, sizeof(s.agent_id), "%s", f->ag);
    assert_int_equal(start_sync(f, &s, NULL), 0);
    char ids[3][AD_ID_MAX];
    for (int i = 0; i < 3; i++) {
        ad_id_new("msg", ids[i]);
    }
    ad_store_message_t v[3] = {
        {.id = ids[0],
         .agent_id = f->ag,
         .run_id = run,
         .role = "user",
         .content = "hi",
         .is_complete = true,
         .now = 2000},
        {.id = ids[1],
         .agent_id = f->ag,
         .run_id = run,
         .role = "tool",
         .content = "",
         .tool_name = "Bash",
         .tool_input = "{\"command\":\"ls\"}",
         .tool_output = "a\nb",
         .token_count = 7,
         .is_complete = true,
         .now = 2001},
        {.id = ids[2],
         .agent_id = f->ag,
         .run_id = run,
         .role = "assistant",
         .content = "partial",
         .is_complete = false,
         .now = 2002},
    };
    store_wait_t w = {0};
    ad_store_messages_insert(f->s->st, v, 3, on_done, &w);
    store_fx_wait(f->s, &w);
    assert_int_equal(w.rc, 0);
    json_t *page = NULL;
    assert_int_equal(ad_store_message_page(f->s->st, f->ag, 10, NULL, &page), 0);
    json_t *msgs = json_object_get(page, "messages");
    assert_int_equal(json_array_size(msgs), 3);
    for (int i = 0; i < 3; i++) {
        json_t *m = json_array_get(msgs, 2 - (size_t)i); /* newest first */
        json_t *want = ad_store_message_json(&v[i]);
        assert_true(json_equal(m, want));
        json_decref(want);
    }
    json_decref(page);

    /* all or none: a duplicate id fails the batch and stores nothing */
    char fresh[AD_ID_MAX];
    ad_id_new("msg", fresh);
    ad_store_message_t bad[2] = {
        {.id = fresh,
         .agent_id = f->ag,
         .run_id = run,
         .role = "user",
         .content = "x",
         .now = 3000},
        {.id = ids[0],
         .agent_id = f->ag,
         .run_id = run,
         .role = "user",
         .content = "dup",
         .now = 3001},
    };
    store_wait_t w2 = {0};
    ad_store_messages_insert(f->s->st, bad, 2, on_done, &w2);
    store_fx_wait(f->s, &w2);
    assert_int_equal(w2.rc, AD_EEXIST);
    assert_int_equal(ad_store_message_page(f->s->st, f->ag, 10, NULL, &page), 0);
    assert_int_equal(json_array_size(json_object_get(page, "messages")), 3);
    json_decref(page);
}

/* Where a held run is read again (migration 2850): the largest offset of
 * each stream its stored messages carry, whatever order the rows came in
 * (a message written again keeps its row and moves the offset on), and
 * nothing from a batch that failed. */
static void hold_offsets_are_the_largest_stored(void **state)
{
    fixture_t *f = *state;
    char run[AD_ID_MAX], other[AD_ID_MAX];
    ad_id_new("run", run);
    ad_id_new("run", other);
    ad_store_run_start_t s = {.now = 1000};
    snprintf(s.id, sizeof(s.id), "%s", run);
    snprintf(s.agent_id, sizeof(s.agent_id), "%s", f->ag);
    assert_int_equal(start_sync(f, &s, NULL), 0);
    snprintf(s.id, sizeof(s.id), "%s", other);
    assert_int_equal(start_sync(f, &s, NULL), 0);
    int64_t out = -1, err = -1;
    assert_int_equal(ad_store_run_hold_offsets(f->s->st, run, &out, &err), 0);
    assert_int_equal(out, 0);
    assert_int_equal(err, 0);

    char ids[4][AD_ID_MAX];
    for (int i = 0; i < 4; i++) {
        ad_id_new("msg", ids[i]);
    }
    ad_store_message_t v[4] = {
        {.id = ids[0],
         .agent_id = f->ag,
         .run_id = run,
         .role = "assistant",
         .content = "a",
         .is_complete = false,
         .now = 2000,
         .hold_out = 100},
        {.id = ids[1],
         .agent_id = f->ag,
         .run_id = run,
         .role = "assistant",
         .content = "e",
         .is_complete = true,
         .now = 2001,
         .hold_err = 40},
        {.id = ids[2],
         .agent_id = f->ag,
         .run_id = run,
         .role = "assistant",
         .content = "b",
         .is_complete = true,
         .now = 2002,
         .hold_out = 250},
        {.id = ids[3],
         .agent_id = f->ag,
         .run_id = other,
         .role = "assistant",
         .content = "o",
         .is_complete = true,
         .now = 2003,
         .hold_out = 9000,
         .hold_err = 9000},
    };
    store_wait_t w = {0};
    ad_store_messages_insert(f->s->st, v, 4, on_done, &w);
    store_fx_wait(f->s, &w);
    assert_int_equal(w.rc, 0);
    assert_int_equal(ad_store_run_hold_offsets(f->s->st, run, &out, &err), 0);
    assert_int_equal(out, 250);
    assert_int_equal(err, 40);

    /* the first row written again (its stream went on): it carries the
     * largest offset now, though a later row was stored after it */
    ad_store_message_t again = {.id = ids[0],
                                .agent_id = f->ag,
                                .run_id = run,
                                .role = "assistant",
                                .content = "a and more",
                                .is_complete = true,
                                .now = 2000,
                                .hold_out = 400,
                                .replace = true};
    store_wait_t w2 = {0};
    ad_store_messages_insert(f->s->st, &again, 1, on_done, &w2);
    store_fx_wait(f->s, &w2);
    assert_int_equal(w2.rc, 0);
    assert_int_equal(ad_store_run_hold_offsets(f->s->st, run, &out, &err), 0);
    assert_int_equal(out, 400);
    assert_int_equal(err, 40);

    /* a batch that fails (a duplicate id) moves nothing */
    char fresh[AD_ID_MAX];
    ad_id_new("msg", fresh);
    ad_store_message_t bad[2] = {
        {.id = fresh,
         .agent_id = f->ag,
         .run_id = run,
         .role = "assistant",
         .content = "x",
         .now = 3000,
         .hold_out = 900,
         .hold_err = 900},
        {.id = ids[1],
         .agent_id = f->ag,
         .run_id = run,
         .role = "assistant",
         .content = "dup",
         .now = 3001},
    };
    store_wait_t w3 = {0};
    ad_store_messages_insert(f->s->st, bad, 2, on_done, &w3);
    store_fx_wait(f->s, &w3);
    assert_int_equal(w3.rc, AD_EEXIST);
    assert_int_equal(ad_store_run_hold_offsets(f->s->st, run, &out, &err), 0);
    assert_int_equal(out, 400);
    assert_int_equal(err, 40);

    /* held output stored already (issue #77: a plane that lost the run
     * writes its tail late, after the one that took it over stored it):
     * at or below the run's offset, not stored again; past it, stored */
    char late[2][AD_ID_MAX];
    ad_id_new("msg", late[0]);
    ad_id_new("msg", late[1]);
    ad_store_message_t tail[2] = {
        {.id = late[0],
         .agent_id = f->ag,
         .run_id = run,
         .role = "assistant",
         .content = "stored by the other plane",
         .is_complete = true,
         .now = 4000,
         .hold_out = 400},
        {.id = late[1],
         .agent_id = f->ag,
         .run_id = run,
         .role = "assistant",
         .content = "new",
         .is_complete = true,
         .now = 4001,
         .hold_out = 480},
    };
    store_wait_t w4 = {0};
    ad_store_messages_insert(f->s->st, tail, 2, on_done, &w4);
    store_fx_wait(f->s, &w4);
    assert_int_equal(w4.rc, 0);
    json_t *page = NULL;
    assert_int_equal(ad_store_message_page(f->s->st, f->ag, 100, NULL, &page), 0);
    char *text = json_dumps(page, JSON_COMPACT);
    assert_null(strstr(text, "stored by the other plane"));
    assert_non_null(strstr(text, "\"new\""));
    free(text);
    json_decref(page);
    assert_int_equal(ad_store_run_hold_offsets(f->s->st, run, &out, &err), 0);
    assert_int_equal(out, 480);
}

static void reconcile_marks_left_runs_lost(void **state)
{
    fixture_t *f = *state;
    char run[AD_ID_MAX];
    ad_id_new("run", run);
    ad_store_run_start_t s = {.now = 1000, .pid = 77};
    snprintf(s.id, sizeof(s.id), "%s", run);
    snprintf(s.agent_id, sizeof(s.agent_id), "%s", f->ag);
    assert_int_equal(start_sync(f, &s, NULL), 0);
    /* a second agent shown waiting without a run */
    char other[AD_ID_MAX];
    other_agent(f, "claude", other);
    ad_store_agent_runtime_t rt = {.now = 1100,
                                   .set_status = true,
                                   .status = AD_ROW_AGENT_STATUS_WAITING,
                                   .context_level = -1};
    snprintf(rt.id, sizeof(rt.id), "%s", other);
    assert_int_equal(runtime_sync(f, &rt), 0);

    store_wait_t w = {0};
    ad_store_runs_reconcile(f->s->st, 4000, "lost: test", store_fx_on_result, &w);
    store_fx_wait(f->s, &w);
    assert_int_equal(w.rc, 0);
    json_t *runs = json_object_get(w.result, "runs");
    assert_int_equal(json_array_size(runs), 1);
    assert_string_equal(sget(json_array_get(runs, 0), "id"), run);
    assert_string_equal(sget(json_array_get(runs, 0), "agentId"), f->ag);
    assert_int_equal(iget(json_array_get(runs, 0), "startedAt"), 1000);
    json_t *agents = json_object_get(w.result, "agents");
    assert_int_equal(json_array_size(agents), 1);
    json_t *a = agent_row(f, f->ag);
    assert_true(json_equal(json_array_get(agents, 0), a));
    assert_string_equal(sget(a, "status"), "error");
    assert_null(json_object_get(a, "pid"));
    assert_string_equal(sget(json_object_get(a, "state"), "statusReason"), "lost: test");
    json_decref(a);
    json_decref(w.result);
    json_t *r = run_row(f, run);
    assert_string_equal(sget(r, "status"), "lost");
    assert_int_equal(iget(r, "durationMs"), 3000);
    json_decref(r);
    a = agent_row(f, other);
    assert_string_equal(sget(a, "status"), "error");
    json_decref(a);
}

/* SQLite's plan of sql, a line per step (its detail column). */
static void sqlite_plan(fixture_t *f, const char *sql, char *plan, size_t size)
{
    char q[1024];
    snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
    ad_db_t *db = store_fx_conn(f->s);
    ad_db_stmt_t *s = NULL;
    assert_int_equal(ad_db_prepare_v2(db, q, -1, &s, NULL), AD_DB_OK);
    plan[0] = '\0';
    while (ad_db_step(s) == AD_DB_ROW) {
        size_t n = strlen(plan);
        snprintf(plan + n, size - n, "%s\n", (const char *)ad_db_column_text(s, 3));
    }
    ad_db_finalize(s);
    ad_store_conn_close(db);
}

/* The heartbeat lets go of the plane's leases of ended runs only: a running
 * run's stays, as does another plane's lease of an ended run. And it finds
 * them by looking each lease's run up, never by listing every ended run
 * (SQLite's plan; with a million runs that list cost an idle daemon 19 % of a
 * core). */
/* issue #77: a plane whose run another plane holds now (its live lease)
 * ends nothing of it; the holder does. */
static void an_end_from_a_plane_that_lost_the_lease_is_refused(void **state)
{
    fixture_t *f = *state;
    char sql[256];
    snprintf(sql, sizeof(sql),
             "INSERT INTO runs (id, agent_id, started_at, status) VALUES ('run_fenced', '%s', "
             "1000, 'running')",
             f->ag);
    store_fx_exec(f->s, sql);
    store_fx_exec(f->s, "INSERT INTO run_leases (run_id, plane_id, expires_at) VALUES "
                        "('run_fenced', 'pl_b', 9000000000000)");
    ad_store_run_end_t e = {.status = AD_ROW_RUN_STATUS_LOST,
                            .agent_status = AD_ROW_AGENT_STATUS_ERROR,
                            .now = 5000,
                            .plane_id = "pl_a"};
    snprintf(e.id, sizeof(e.id), "run_fenced");
    snprintf(e.agent_id, sizeof(e.agent_id), "%s", f->ag);
    assert_int_equal(end_sync(f, &e, NULL), AD_ESTATE);
    assert_int_equal(
        store_fx_int(f->s,
                     "SELECT count(*) FROM runs WHERE id = 'run_fenced' AND status = 'running'"),
        1);
    snprintf(e.plane_id, sizeof(e.plane_id), "pl_b");
    e.status = AD_ROW_RUN_STATUS_SUCCEEDED;
    e.agent_status = AD_ROW_AGENT_STATUS_FINISHED;
    assert_int_equal(end_sync(f, &e, NULL), 0);
    assert_int_equal(store_fx_int(f->s, "SELECT count(*) FROM runs WHERE id = 'run_fenced' AND "
                                        "status = 'succeeded'"),
                     1);
}

static void a_beat_lets_go_of_the_leases_of_ended_runs(void **state)
{
    fixture_t *f = *state;
    char sql[1024];
    const char *runs[][2] = {{"run_live", "running"},
                             {"run_done", "succeeded"},
                             {"run_theirs", "failed"},
                             {"run_free", "stopped"}};
    for (size_t i = 0; i < 4; i++) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO runs (id, agent_id, started_at, status) VALUES ('%s', '%s', 1000, "
                 "'%s')",
                 runs[i][0], f->ag, runs[i][1]);
        store_fx_exec(f->s, sql);
    }
    store_fx_exec(f->s, "INSERT INTO run_leases (run_id, plane_id, expires_at) VALUES "
                        "('run_live', 'pl_a', 2000), ('run_done', 'pl_a', 9000), "
                        "('run_theirs', 'pl_b', 9000)");
    const char *mine[] = {"run_live"};
    ad_store_plane_beat_t b = {.id = "pl_a",
                               .url = "http://127.0.0.1:1",
                               .started_ms = 1000,
                               .now_ms = 5000,
                               .lease_ms = 4000,
                               .runs = mine,
                               .nruns = 1};
    store_wait_t w = {0};
    ad_store_plane_beat(f->s->st, &b, store_fx_on_result, &w);
    store_fx_wait(f->s, &w);
    assert_int_equal(w.rc, 0);
    json_decref(w.result);
    assert_int_equal(store_fx_int(f->s,
                                  "SELECT count(*) FROM run_leases WHERE run_id = 'run_live' AND "
                                  "plane_id = 'pl_a' AND expires_at = 9000"),
                     1); /* renewed to now + lease */
    assert_int_equal(
        store_fx_int(f->s, "SELECT count(*) FROM run_leases WHERE run_id = 'run_done'"), 0);
    assert_int_equal(
        store_fx_int(f->s, "SELECT count(*) FROM run_leases WHERE run_id = 'run_theirs'"), 1);
    assert_int_equal(store_fx_int(f->s, "SELECT count(*) FROM run_leases"), 2);

    if (store_fx_pg() != NULL) {
        return; /* the plan below is SQLite's */
    }
    snprintf(sql, sizeof(sql), "%s", ad_sql_leases_ended);
    char plan[2048];
    sqlite_plan(f, sql, plan, sizeof(plan));
    if (strstr(plan, "SEARCH r USING INDEX sqlite_autoindex_runs_1 (id=?)") == NULL ||
        strstr(plan, "SCAN") != NULL || strstr(plan, "LIST SUBQUERY") != NULL) {
        fail_msg("the beat's plan lists runs instead of looking each up:\n%s", plan);
    }
}

/* issue #77: the heartbeat of a plane that could not renew finds the runs
 * another plane took (a live lease of another plane: lost), renews its own
 * and leaves a lapsed lease of another plane to the takeover; a takeover
 * raises the run's lease epoch; a run started by a plane has its lease and
 * epoch 1 from its first moment; and its usage written by a plane that
 * lost the lease changes nothing. */
static void a_beat_finds_the_runs_another_plane_took(void **state)
{
    fixture_t *f = *state;
    char sql[512];
    const char *ids[] = {"run_mine", "run_taken", "run_lapsed"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(sql, sizeof(sql),
                 "INSERT INTO runs (id, agent_id, started_at, status, node_id, lease_epoch) "
                 "VALUES ('%s', '%s', 1000, 'running', 'nd_1', 1)",
                 ids[i], f->ag);
        store_fx_exec(f->s, sql);
    }
    store_fx_exec(f->s, "INSERT INTO run_leases (run_id, plane_id, expires_at) VALUES "
                        "('run_mine', 'pl_a', 2000), ('run_taken', 'pl_b', 9000000000000), "
                        "('run_lapsed', 'pl_b', 3000)");
    ad_store_plane_beat_t b = {.id = "pl_a",
                               .url = "http://127.0.0.1:1",
                               .started_ms = 1000,
                               .now_ms = 5000,
                               .lease_ms = 4000,
                               .runs = ids,
                               .nruns = 3};
    store_wait_t w = {0};
    ad_store_plane_beat(f->s->st, &b, store_fx_on_result, &w);
    store_fx_wait(f->s, &w);
    assert_int_equal(w.rc, 0);
    assert_int_equal(json_array_size(w.result), 1);
    assert_string_equal(json_string_value(json_array_get(w.result, 0)), "run_taken");
    json_decref(w.result);
    assert_int_equal(store_fx_int(f->s, "SELECT count(*) FROM run_leases WHERE run_id = "
                                        "'run_mine' AND plane_id = 'pl_a' AND expires_at = 9000"),
                     1);
    /* never taken by a heartbeat: that would keep its epoch */
    assert_int_equal(store_fx_int(f->s, "SELECT count(*) FROM run_leases WHERE run_id = "
                                        "'run_lapsed' AND plane_id = 'pl_b'"),
                     1);

    /* the takeover takes the lapsed one and raises its epoch */
    w = (store_wait_t){0};
    ad_store_plane_take(f->s->st, "pl_a", 5000, 4000, NULL, 0, store_fx_on_result, &w);
    store_fx_wait(f->s, &w);
    assert_int_equal(w.rc, 0);
    assert_int_equal(json_array_size(w.result), 1);
    assert_string_equal(json_string_value(json_array_get(w.result, 0)), "run_lapsed");
    json_decref(w.result);
    int64_t epoch = 0;
    assert_int_equal(ad_store_run_epoch(f->s->st, "run_lapsed", &epoch), 0);
    assert_int_equal(epoch, 2);
    assert_int_equal(ad_store_run_epoch(f->s->st, "run_taken", &epoch), 0);
    assert_int_equal(epoch, 1);
    assert_int_equal(ad_store_run_epoch(f->s->st, "run_none", &epoch), AD_ENOENT);

    /* usage from pl_a of the run pl_b holds is refused; from pl_b it is written */
    ad_store_run_usage_t u = {.input_tokens = 7, .plane_id = "pl_a"};
    snprintf(u.id, sizeof(u.id), "run_taken");
    w = (store_wait_t){0};
    ad_store_run_usage(f->s->st, &u, store_fx_on_result, &w);
    store_fx_wait(f->s, &w);
    assert_int_equal(w.rc, 0);
    assert_int_equal(store_fx_int(f->s, "SELECT input_tokens FROM runs WHERE id = 'run_taken'"), 0);
    snprintf(u.plane_id, sizeof(u.plane_id), "pl_b");
    w = (store_wait_t){0};
    ad_store_run_usage(f->s->st, &u, store_fx_on_result, &w);
    store_fx_wait(f->s, &w);
    assert_int_equal(store_fx_int(f->s, "SELECT input_tokens FROM runs WHERE id = 'run_taken'"), 7);

    /* and so is the agent's status written for that run */
    ad_store_agent_runtime_t rt = {.now = 6000,
                                   .set_status = true,
                                   .status = AD_ROW_AGENT_STATUS_WAITING,
                                   .context_level = -1,
                                   .run_id = "run_taken",
                                   .plane_id = "pl_a"};
    snprintf(rt.id, sizeof(rt.id), "%s", f->ag);
    assert_int_equal(runtime_sync(f, &rt), AD_ESTATE);
    char sql2[256];
    snprintf(sql2, sizeof(sql2),
             "SELECT count(*) FROM agents WHERE id = '%s' AND status = 'waiting'", f->ag);
    assert_int_equal(store_fx_int(f->s, sql2), 0);
    snprintf(rt.plane_id, sizeof(rt.plane_id), "pl_b");
    assert_int_equal(runtime_sync(f, &rt), 0);
    assert_int_equal(store_fx_int(f->s, sql2), 1);
}

static void a_started_run_has_its_lease_at_once(void **state)
{
    fixture_t *f = *state;
    ad_store_run_start_t a = {.now = 4000, .plane_id = "pl_a", .lease_ms = 6000};
    snprintf(a.id, sizeof(a.id), "run_new");
    snprintf(a.agent_id, sizeof(a.agent_id), "%s", f->ag);
    assert_int_equal(start_sync(f, &a, NULL), 0);
    assert_int_equal(store_fx_int(f->s, "SELECT count(*) FROM run_leases WHERE run_id = "
                                        "'run_new' AND plane_id = 'pl_a' AND expires_at = 10000"),
                     1);
    int64_t epoch = 0;
    assert_int_equal(ad_store_run_epoch(f->s->st, "run_new", &epoch), 0);
    assert_int_equal(epoch, 1);
}

/* sql with each ?N replaced by vals[N - 1] (SQL literals), into out. */
static void with_literals(const char *sql, const char *const *vals, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = sql; *p != '\0' && n + 1 < size; p++) {
        if (*p != '?') {
            out[n++] = *p;
            continue;
        }
        int k = 0;
        while (p[1] >= '0' && p[1] <= '9') {
            k = k * 10 + (*++p - '0');
        }
        n += (size_t)snprintf(out + n, size - n, "%s", vals[k - 1]);
    }
    out[n < size ? n : size - 1] = '\0';
}

/* A page of a run's transcript walks its agent's messages in order from the
 * cursor and stops at the page, never reading the whole run by
 * messages_by_run to sort it: SQLite's plan. PostgreSQL's planner needs to
 * know that a run fixes its agent (migration 3080's statistics): without
 * that it multiplies the agent's share by the run's, expects a few rows and
 * sorts the run (20 ms a page of a run of 25,000 messages against 0.1 ms;
 * bench/README.md, F2 on PostgreSQL, measures the plan at scale), so there
 * the statistics are checked, as ANALYZE finds them. 20 agents with 10 runs
 * of 200 messages, and a run of 4,000 of the fixture's agent. */
static void a_run_transcript_page_walks_its_agents_messages_in_order(void **state)
{
    fixture_t *f = *state;
    char sql[4096];
    for (int i = 0; i < 20; i++) {
        char id[AD_ID_MAX];
        other_agent(f, "command", id);
    }
    store_fx_exec(f->s, "WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < "
                        "9) INSERT INTO runs (id, agent_id, started_at, ended_at, status) SELECT "
                        "'run_' || a.id || '_' || k.n, a.id, 1000000 + k.n * 100000, 1000000 + "
                        "k.n * 100000 + 50000, 'succeeded' FROM agents a, k");
    snprintf(sql, sizeof(sql),
             "INSERT INTO runs (id, agent_id, started_at, ended_at, status) VALUES ('run_big', "
             "'%s', 5000000, 6000000, 'succeeded')",
             f->ag);
    store_fx_exec(f->s, sql);
    store_fx_exec(f->s, "WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < "
                        "199) INSERT INTO messages (id, agent_id, run_id, role, created_at) SELECT "
                        "'msg_' || r.id || '_' || k.n, r.agent_id, r.id, 'user', r.started_at + "
                        "k.n FROM runs r, k WHERE r.id <> 'run_big'");
    store_fx_exec(f->s, "WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < "
                        "3999) INSERT INTO messages (id, agent_id, run_id, role, created_at) "
                        "SELECT 'msg_big_' || k.n, r.agent_id, r.id, 'user', r.started_at + k.n "
                        "FROM runs r, k WHERE r.id = 'run_big'");
    store_fx_exec(f->s, "ANALYZE");
    if (store_fx_pg() != NULL) {
        /* run_id (column 3) fixes agent_id (column 2), to the planner's mind */
        assert_int_equal(store_fx_int(f->s, "SELECT count(*) FROM pg_stats_ext WHERE "
                                            "statistics_name = 'messages_run_agent' AND "
                                            "dependencies::text LIKE '%\"3 => 2\": 1.0%'"),
                         1);
    } else {
        char agent[AD_ID_MAX + 2];
        snprintf(agent, sizeof(agent), "'%s'", f->ag);
        const char *vals[] = {agent, "101", "4999999", "''", "6600000", "'run_big'"};
        with_literals(ad_sql_run_messages, vals, sql, sizeof(sql));
        char plan[4096];
        sqlite_plan(f, sql, plan, sizeof(plan));
        if (strstr(plan, "messages_by_agent") == NULL || strstr(plan, "TEMP B-TREE") != NULL) {
            fail_msg("a run's page does not walk its agent's messages in order:\n%s", plan);
        }
    }
    /* and the page is the run's, in order */
    json_t *page = NULL;
    assert_int_equal(ad_store_run_messages(f->s->st, "run_big", 3, NULL, &page), 0);
    json_t *m = json_object_get(page, "messages");
    assert_int_equal(json_array_size(m), 3);
    assert_string_equal(sget(json_array_get(m, 0), "id"), "msg_big_0");
    assert_string_equal(sget(json_array_get(m, 2), "id"), "msg_big_2");
    json_decref(page);
}

/* GET /api/agents?cursor= starts at its cursor in agents_by_created: the
 * form "?5 IS NULL OR (created_at, id) > …" walked the index from the first
 * agent (0.7 ms half-way through 10,000). SQLite's plan; the paging itself
 * is tests/e2e/api-agents.test.js's. */
static void the_agents_cursor_starts_at_the_cursor(void **state)
{
    fixture_t *f = *state;
    if (store_fx_pg() != NULL) {
        skip(); /* the plan is SQLite's */
    }
    char plan[2048];
    sqlite_plan(f, ad_sql_agents_after, plan, sizeof(plan));
    if (strstr(plan, "SEARCH agents USING INDEX agents_by_created (created_at>?)") == NULL) {
        fail_msg("the agents cursor's plan does not start at the cursor:\n%s", plan);
    }
}

/* GET /api/runs pages by cursor: ties of started_at are split by id, each
 * run comes once, newest first, and the text the API sends is the tree's.
 * On SQLite the cursor's plan is one range of runs_by_start (a merge of two
 * searches sorted every earlier run: 0.7 s half-way through a million). */
static void the_runs_cursor_pages_every_run_once_with_a_range(void **state)
{
    fixture_t *f = *state;
    char sql[512];
    for (int i = 0; i < 7; i++) { /* 7 runs, starts 1000, 1000, 1000, 2000, ... */
        snprintf(sql, sizeof(sql),
                 "INSERT INTO runs (id, agent_id, started_at, status) VALUES ('run_%d', '%s', %d, "
                 "'succeeded')",
                 i, f->ag, i < 3 ? 1000 : 1000 * (i - 1));
        store_fx_exec(f->s, sql);
    }
    const char *want[] = {"run_6", "run_5", "run_4", "run_3", "run_2", "run_1", "run_0"};
    size_t seen = 0;
    char cursor[64] = "";
    for (int page = 0; page < 10; page++) {
        ad_store_runs_query_t q = {.limit = 2};
        if (cursor[0] != '\0') {
            assert_int_equal(ad_store_run_started_at(f->s->st, cursor, &q.before_started), 0);
            q.before_id = cursor;
        }
        json_t *out = NULL;
        assert_int_equal(ad_store_runs_query(f->s->st, &q, &out), 0);
        /* the API's text is the tree's, byte for byte */
        ad_buf_t text;
        ad_buf_init(&text, AD_STORE_RUNS_TEXT_MAX);
        assert_int_equal(ad_store_runs_query_text(f->s->st, &q, &text), 0);
        char *dump = json_dumps(out, JSON_COMPACT);
        assert_string_equal(text.data, dump);
        free(dump);
        ad_buf_cleanup(&text);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(out, "runs"), i, r)
        {
            assert_true(seen < AD_ARRAY_LEN(want));
            assert_string_equal(json_string_value(json_object_get(r, "id")), want[seen]);
            seen++;
        }
        json_t *next = json_object_get(out, "nextCursor");
        snprintf(cursor, sizeof(cursor), "%s", json_is_string(next) ? json_string_value(next) : "");
        json_decref(out);
        if (cursor[0] == '\0') {
            break;
        }
    }
    assert_int_equal(seen, AD_ARRAY_LEN(want));

    if (store_fx_pg() != NULL) {
        return; /* the plan below is SQLite's */
    }
    snprintf(sql, sizeof(sql),
             "SELECT r.id FROM runs r WHERE 1 = 1%s ORDER BY r.started_at DESC, r.id DESC LIMIT 51",
             ad_sql_runs_before);
    char plan[2048];
    sqlite_plan(f, sql, plan, sizeof(plan));
    if (strstr(plan, "USING INDEX runs_by_start (started_at<?)") == NULL ||
        strstr(plan, "MULTI-INDEX") != NULL || strstr(plan, "TEMP B-TREE FOR ORDER BY") != NULL) {
        fail_msg("the cursor's plan sorts the earlier runs instead of one range:\n%s", plan);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_names_match_the_schema),
        cmocka_unit_test_setup_teardown(run_start_and_end_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(run_writes_refuse_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(an_end_written_again_counts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(usage_by_agent_ranks_the_period, setup, teardown),
        cmocka_unit_test_setup_teardown(a_run_transcript_page_walks_its_agents_messages_in_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(the_agents_cursor_starts_at_the_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(agent_runtime_changes_only_what_is_set, setup, teardown),
        cmocka_unit_test_setup_teardown(status_reasons_and_their_history, setup, teardown),
        cmocka_unit_test_setup_teardown(run_messages_read_back_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(hold_offsets_are_the_largest_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(reconcile_marks_left_runs_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(the_runs_cursor_pages_every_run_once_with_a_range, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_beat_lets_go_of_the_leases_of_ended_runs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(an_end_from_a_plane_that_lost_the_lease_is_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_beat_finds_the_runs_another_plane_took, setup, teardown),
        cmocka_unit_test_setup_teardown(a_started_run_has_its_lease_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
