/* SPDX-License-Identifier: MIT */
/*
 * svc: programs agentd supervises that are not agents. A job is a run of a
 * program that reports its progress with JSON lines on stdout
 *   {"type":"progress","fraction":0.4,"stage":"scan","message":"12 of 30"}
 *   {"type":"result", …anything…}
 * and ends with a status (succeeded on exit 0, failed otherwise, stopped
 * when asked). agentd keeps the row (src/store), publishes job_progress
 * (and the seed's discovery_progress for jobs of kind "discovery") at most
 * ten times a second, and job_update when a job starts and ends, on the
 * topics job:<id> and its org's. Other output lines are kept, the last
 * 16 KiB, as the job's output.
 *
 * Threads: loop thread only. store, bus and procs are borrowed and must
 * outlive the jobs object.
 */
#ifndef AD_SVC_H
#define AD_SVC_H

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/core.h"
#include "proc/proc.h"
#include "store/store.h"

typedef struct ad_jobs ad_jobs_t;

/* rc 0 and the job (borrowed for the call), or an AD_E* code and NULL. */
typedef void (*ad_jobs_cb)(int rc, json_t *job, void *ud);

/* Returns owned: free with ad_jobs_free(). Marks the rows a previous
 * daemon left running as lost (queued before any new job). */
ad_jobs_t *ad_jobs_new(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store, ad_bus_t *bus,
                       ad_procs_t *procs);
/* After the supervisor has shut down (every job has ended) and the store
 * has delivered its last completions. Memory goes once timers are closed. */
void ad_jobs_free(ad_jobs_t *js);

typedef struct {
    const char *name;
    const char *kind;        /* "job" or "discovery" */
    const char *org;         /* the org the job belongs to */
    const char *cwd;         /* NULL or "": agentd's */
    const char *const *argv; /* NULL-terminated; argv[0] looked up on PATH */
} ad_job_spec_t;
/* Starts a job. Synchronous refusals return the code and call nothing:
 * AD_ENOENT / AD_EPERM (no such program or cwd), AD_EINVAL (err says why),
 * AD_ESTATE (shutting down). On 0, cb gets the job once its row is
 * committed (it may have made progress, or even ended, by then). */
int ad_jobs_start(ad_jobs_t *js, const ad_job_spec_t *spec, ad_jobs_cb cb, void *ud, char *err,
                  size_t errsz);
/* Asks a running job to stop (SIGINT, then SIGTERM and SIGKILL after the
 * stop grace). AD_ENOENT when it is not running. */
int ad_jobs_stop(ad_jobs_t *js, const char *id);
/* Overlays the live figures of a running job on its row (modified in
 * place; rows of jobs not running here are left alone). */
void ad_jobs_overlay(const ad_jobs_t *js, json_t *row);
/* Jobs running now. */
size_t ad_jobs_running(const ad_jobs_t *js);

/* Parses one output line: a progress or result object. Returns 1 for a
 * progress line (fields set when present: fraction 0-1, from "fraction" or
 * "percent"; stage and message truncated to their buffers), 2 for a result
 * line (*result: the object without "type", new ref), 0 for anything else.
 * Pure; any thread. */
typedef struct {
    bool has_fraction;
    double fraction;
    bool has_stage, has_message;
    char stage[128];
    char message[1024];
} ad_job_progress_t;
int ad_job_parse_line(const char *line, size_t len, ad_job_progress_t *p, json_t **result);

#endif
