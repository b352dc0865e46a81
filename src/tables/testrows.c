/* SPDX-License-Identifier: MIT */
/*
 * Test builds only: rows the test routes (src/live/testroutes.c) write
 * directly, a run row with a given status and an agent's status.
 */
#include "store/table.h"
#include "tables/runs.h"

#ifdef AD_TEST_BUILD
#include <stdio.h>
#include <stdlib.h>

/* Rows the test routes write directly (a run row, an agent's status). */
typedef struct {
    char id[AD_ID_MAX + 16];
    char agent_id[AD_ID_MAX + 16];
    char status[16];
    ad_store_test_run_t x;
    ad_store_done_cb done;
    void *ctx;
} test_job_t;

static test_job_t *test_job(const char *id, const char *agent_id, const char *status,
                            ad_store_done_cb done, void *ctx)
{
    test_job_t *j = ad_xcalloc(1, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "%s", id != NULL ? id : "");
    snprintf(j->agent_id, sizeof(j->agent_id), "%s", agent_id);
    snprintf(j->status, sizeof(j->status), "%s", status);
    j->x.duration_ms = -1;
    j->done = done;
    j->ctx = ctx;
    return j;
}

static void test_job_done(int rc, void *ctx)
{
    test_job_t *j = ctx;
    if (j->done != NULL) {
        j->done(rc, j->ctx);
    }
    free(j);
}

static int run_insert(ad_store_tx_t *tx, void *ctx)
{
    test_job_t *j = ctx;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "INSERT INTO runs(id, agent_id, started_at, status, ended_at, duration_ms, "
                "input_tokens, output_tokens, cost_usd, node_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, "
                "NULLIF(?, ''))");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    int64_t now = (int64_t)ad_wall_ms();
    bool ended = j->x.duration_ms >= 0;
    ad_store_bind_text(s, 1, j->id);
    ad_store_bind_text(s, 2, j->agent_id);
    ad_db_bind_int64(s, 3, ended ? now - j->x.duration_ms : now);
    ad_store_bind_text(s, 4, j->status);
    if (ended) {
        ad_db_bind_int64(s, 5, now);
        ad_db_bind_int64(s, 6, j->x.duration_ms);
    } else {
        ad_db_bind_null(s, 5);
        ad_db_bind_null(s, 6);
    }
    ad_db_bind_int64(s, 7, j->x.input_tokens);
    ad_db_bind_int64(s, 8, j->x.output_tokens);
    ad_db_bind_double(s, 9, j->x.cost_usd);
    ad_store_bind_text(s, 10, j->x.node);
    return ad_store_step_done(tx->db, s);
}

void ad_store_test_run_insert(ad_store_t *st, const char *id, const char *agent_id,
                              const char *status, const ad_store_test_run_t *x,
                              ad_store_done_cb done, void *ctx)
{
    test_job_t *j = test_job(id, agent_id, status, done, ctx);
    if (x != NULL) {
        j->x = *x;
    }
    ad_store_submit(st, run_insert, test_job_done, j);
}

static int status_update(ad_store_tx_t *tx, void *ctx)
{
    test_job_t *j = ctx;
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "UPDATE agents SET status = ? WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, j->status);
    ad_store_bind_text(s, 2, j->agent_id);
    int e = ad_store_step_done(tx->db, s);
    if (e == 0 && ad_db_changes(tx->db) == 0) {
        return AD_ENOENT;
    }
    return e;
}

void ad_store_test_agent_status(ad_store_t *st, const char *agent_id, const char *status,
                                ad_store_done_cb done, void *ctx)
{
    ad_store_submit(st, status_update, test_job_done, test_job(NULL, agent_id, status, done, ctx));
}
#endif
