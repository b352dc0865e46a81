/* SPDX-License-Identifier: MIT */
/*
 * Jobs: the rows of programs that report progress (src/svc runs them). A
 * row is written when a job starts and when it ends; at start-up the rows
 * a previous daemon left running are marked lost. Typed writes only: what
 * goes in is the supervisor's, never a REST body.
 */
#include "store/table.h"
#include "tables/auth.h"
#include "tables/jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_COLS                                                                                   \
    "id, org_id, name, kind, command, cwd, status, progress, stage, message, result, output, "     \
    "exit_code, signal, created_at, ended_at, node_id"
#define JOB_JSON_COLS "command,result"
#define JOB_NULL_COLS "cwd,progress,stage,message,result,output,exit_code,signal,ended_at,node_id"

static const char SQL_JOB_GET[] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1";
static const char SQL_JOB_LIST[] = "SELECT " JOB_COLS " FROM jobs WHERE ?1 = '' OR org_id = ?1 "
                                   "ORDER BY created_at DESC, id DESC LIMIT ?2";
static const char SQL_JOB_INSERT[] =
    "INSERT INTO jobs(id, org_id, name, kind, command, cwd, status, created_at, node_id) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?8)";
static const char SQL_JOB_END[] =
    "UPDATE jobs SET status = ?2, progress = ?3, stage = ?4, message = ?5, result = ?6, "
    "output = ?7, exit_code = ?8, signal = ?9, ended_at = ?10 WHERE id = ?1";
static const char SQL_JOB_LOST[] =
    "UPDATE jobs SET status = 'lost', ended_at = ?1, message = 'agentd stopped while it ran' "
    "WHERE status = 'running'";

static json_t *job_row(ad_db_stmt_t *s)
{
    return ad_store_row_json(s, JOB_JSON_COLS, JOB_NULL_COLS);
}

static int job_read(ad_db_t *db, const char *id, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_JOB_GET);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_row(db, s, job_row, out);
}

int ad_store_job_get(ad_store_t *st, const char *id, json_t **out)
{
    return job_read(ad_store_rdb(st), id, out);
}

int ad_store_job_list(ad_store_t *st, const char *org, int limit, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_JOB_LIST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    ad_db_bind_int(s, 2, limit > 0 && limit <= 1000 ? limit : 100);
    json_t *arr = NULL;
    int e = ad_store_all_rows(db, s, job_row, &arr);
    if (e == 0) {
        *out = json_pack("{s:o}", "jobs", arr);
    }
    return e;
}

static int job_insert(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const ad_store_job_t *j = in;
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_JOB_INSERT);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, j->id);
    ad_store_bind_text(s, 2, j->org[0] != '\0' ? j->org : AD_ORG_DEFAULT);
    ad_store_bind_text(s, 3, j->name);
    ad_store_bind_text(s, 4, j->kind);
    ad_store_bind_text(s, 5, j->command);
    ad_store_bind_text(s, 6, j->cwd[0] != '\0' ? j->cwd : NULL);
    ad_db_bind_int64(s, 7, j->now);
    ad_store_bind_text(s, 8, j->node_id[0] != '\0' ? j->node_id : NULL);
    int rc = ad_store_step_done(db, s);
    return rc != 0 ? rc : job_read(db, j->id, result);
}

static void job_cleanup(void *in)
{
    ad_store_job_t *j = in;
    free(j->command);
}

void ad_store_job_insert(ad_store_t *st, const ad_store_job_t *j, ad_store_result_cb cb, void *ud)
{
    ad_store_typed_write(st, job_insert, j, sizeof(*j), job_cleanup, cb, ud);
}

static int job_end(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const ad_store_job_end_t *e = in;
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_JOB_END);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, e->id);
    ad_store_bind_text(s, 2, ad_job_status_name(e->status));
    if (e->has_progress) {
        ad_db_bind_double(s, 3, e->progress);
    } else {
        ad_db_bind_null(s, 3);
    }
    ad_store_bind_text(s, 4, e->stage[0] ? e->stage : NULL);
    ad_store_bind_text(s, 5, e->message[0] ? e->message : NULL);
    ad_store_bind_text(s, 6, e->result);
    ad_store_bind_text(s, 7, e->output);
    if (e->has_exit_code) {
        ad_db_bind_int(s, 8, e->exit_code);
    } else {
        ad_db_bind_null(s, 8);
    }
    if (e->signal > 0) {
        ad_db_bind_int(s, 9, e->signal);
    } else {
        ad_db_bind_null(s, 9);
    }
    ad_db_bind_int64(s, 10, e->now);
    int rc = ad_store_step_done(db, s);
    if (rc == 0 && ad_db_changes(db) == 0) {
        rc = AD_ENOENT;
    }
    return rc != 0 ? rc : job_read(db, e->id, result);
}

static void job_end_cleanup(void *in)
{
    ad_store_job_end_t *e = in;
    free(e->result);
    free(e->output);
}

void ad_store_job_end(ad_store_t *st, const ad_store_job_end_t *e, ad_store_result_cb cb, void *ud)
{
    ad_store_typed_write(st, job_end, e, sizeof(*e), job_end_cleanup, cb, ud);
}

static int jobs_lost(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const int64_t *now = in;
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_JOB_LOST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, *now);
    int rc = ad_store_step_done(db, s);
    if (rc == 0) {
        *result = json_pack("{s:i}", "jobs", ad_db_changes(db));
    }
    return rc;
}

void ad_store_jobs_reconcile(ad_store_t *st, int64_t now, ad_store_result_cb cb, void *ud)
{
    ad_store_typed_write(st, jobs_lost, &now, sizeof(now), NULL, cb, ud);
}

const char *ad_job_status_name(ad_job_status_t s)
{
    static const char *const names[] = {"running", "succeeded", "failed", "stopped", "lost"};
    return (unsigned)s < AD_ARRAY_LEN(names) ? names[s] : NULL;
}
