/* SPDX-License-Identifier: MIT */
/*
 * tables: jobs (jobs.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_JOBS_H
#define AD_TABLES_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- jobs (jobs.c) ----------------------------------------------------------------
 * The job object: id, orgId, name, kind, command (argv), cwd, status
 * (running, succeeded, failed, stopped, lost), progress (0-1), stage,
 * message, result (JSON), output (the last plain lines), exitCode, signal,
 * createdAt, endedAt; unknown fields are null. Reads run on the loop's
 * read connection (by key, or one bounded page).
 */
typedef enum {
    AD_JOB_RUNNING = 0,
    AD_JOB_SUCCEEDED,
    AD_JOB_FAILED,
    AD_JOB_STOPPED,
    AD_JOB_LOST,
} ad_job_status_t;
/* "running", …; NULL out of range. Any thread. */
const char *ad_job_status_name(ad_job_status_t s);
int ad_store_job_get(ad_store_t *st, const char *id, json_t **out);
/* {jobs:[…]} of org ("": every org), newest first, at most limit (1-1000). */
int ad_store_job_list(ad_store_t *st, const char *org, int limit, json_t **out);
typedef struct {
    char id[AD_ID_MAX];
    char org[AD_ID_MAX];
    char name[128];
    char kind[32];
    char cwd[1024]; /* "": agentd's */
    char *command;  /* argv as JSON text; owned, taken by the write */
    int64_t now;
    char node_id[AD_ID_MAX]; /* the worker node it runs on, "" here */
} ad_store_job_t;
/* A job begins: its row, status running. cb gets the job. */
void ad_store_job_insert(ad_store_t *st, const ad_store_job_t *j, ad_store_result_cb cb, void *ud);
typedef struct {
    char id[AD_ID_MAX];
    ad_job_status_t status;
    bool has_progress;
    double progress;
    char stage[128];
    char message[1024];
    char *result; /* JSON text or NULL; owned, taken by the write */
    char *output; /* text or NULL; owned, taken by the write */
    bool has_exit_code;
    int exit_code;
    int signal;
    int64_t now;
} ad_store_job_end_t;
/* A job ended: its status and last figures. cb gets the job. */
void ad_store_job_end(ad_store_t *st, const ad_store_job_end_t *e, ad_store_result_cb cb, void *ud);
/* Rows a previous daemon left running become lost. cb gets {jobs: n}. */
void ad_store_jobs_reconcile(ad_store_t *st, int64_t now, ad_store_result_cb cb, void *ud);

#endif
