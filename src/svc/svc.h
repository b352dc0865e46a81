/* SPDX-License-Identifier: MIT */
/*
 * svc: programs agentd supervises that are not agents: jobs and services
 * (below). A job is a run of a
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
#include "core/config.h"
#include "core/core.h"
#include "node/node.h"
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
/* The worker nodes' control plane (borrowed; NULL: none) jobs may run on. */
void ad_jobs_set_plane(ad_jobs_t *js, ad_plane_t *plane);

typedef struct {
    const char *name;
    const char *kind;        /* "job" or "discovery" */
    const char *org;         /* the org the job belongs to */
    const char *cwd;         /* NULL or "": agentd's */
    const char *const *argv; /* NULL-terminated; argv[0] looked up on PATH */
    const char *node;        /* the node asked for (a name or an id; NULL: here) */
    /* That node's id (ad_plane_find; NULL or "": here): the job runs there
     * under a holder, in the node's work/<jobId> and its sandbox
     * (docs/nodes.md). */
    const char *node_id;
    /* Another organisation's job's network here (NULL: the internet
     * through agentd's proxy, nothing of the host's). */
    const ad_proc_net_t *net;
} ad_job_spec_t;
/* Starts a job. Synchronous refusals return the code and call nothing:
 * AD_ENOENT / AD_EPERM (no such program or cwd), AD_EINVAL (err says why),
 * AD_ESTATE (shutting down). On 0, cb gets the job once its row is
 * committed (it may have made progress, or even ended, by then). */
int ad_jobs_start(ad_jobs_t *js, const ad_job_spec_t *spec, ad_jobs_cb cb, void *ud, char *err,
                  size_t errsz);
/* A discovery job's environment (the training seed's "megabonk"): 1 to 64
 * of A-Z a-z 0-9 . _ -, starting with a letter or digit. */
bool ad_jobs_environment_ok(const char *env);
/* The program of a discovery job that names none: command (the
 * discovery_command setting, borrowed) with each "{environment}" in it
 * replaced by env. A new array, or NULL when command is no program
 * ([] or not an array of strings) or an argument grows past 8192 bytes. */
json_t *ad_jobs_discovery_argv(const json_t *command, const char *env);

/* A discovery job's program for environment env, from store's
 * discovery_command setting (returns owned: a new array), or NULL with
 * *why saying what is missing (env no environment name, or no program
 * set). Loop thread (a one-row read of the settings). */
json_t *ad_jobs_discovery_command(ad_store_t *store, const char *env, const char **why);
/* Asks a running job to stop (SIGINT, then SIGTERM and SIGKILL after the
 * stop grace). AD_ENOENT when it is not running. */
int ad_jobs_stop(ad_jobs_t *js, const char *id);
/* Overlays the live figures of a running job on its row (modified in
 * place). A row still "running" that no job here owns is a previous
 * daemon's: it is shown lost, as the start-up write will store it. */
void ad_jobs_overlay(const ad_jobs_t *js, json_t *row);
/* The rows of GET /api/jobs and /api/jobs/:id with the live figures laid
 * over (jobrows.c): org's jobs (""/NULL: every org's), limit (NULL: 50;
 * else 1 to 1000) newest first as {jobs}, AD_EINVAL with e for a bad
 * limit (e left alone on any other error); job id. 0, or the store's
 * error. */
int ad_jobs_list(const ad_jobs_t *js, ad_store_t *st, const char *org, const char *limit,
                 json_t **out, ad_field_err_t *e);
int ad_jobs_get(const ad_jobs_t *js, ad_store_t *st, const char *id, json_t **out);
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

/* ---- services (services.c) ------------------------------------------------------
 * Long-running helpers: each stored row (src/store) is run while enabled,
 * restarted by its policy (always, on-failure, never) with a backoff from
 * 500 ms doubling to 30 s, probed while it runs, and reports its figures
 * with {"type":"metrics", …numbers} lines. Rows are handed in by the REST
 * layer after each committed change.
 */
typedef struct ad_services ad_services_t;
/* rows: the stored services (borrowed); the enabled ones start now (those
 * of a worker node once it is connected). plane: the worker nodes
 * (borrowed; NULL: none). A row's nodeId places it on that node: its
 * process runs there under a holder (in the node's work/<serviceId>),
 * relayed as a job's is, never here; its restart policy is applied here,
 * each start a new spawn on the node. Its run there is kept in the row
 * (nodeRun): a control plane's start takes that run up (its node attaches
 * it again when it says hello, or says it has none: lost, then restarted by
 * the policy) rather than starting a second copy. */
ad_services_t *ad_services_new(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store,
                               ad_bus_t *bus, ad_procs_t *procs, ad_plane_t *plane, json_t *rows);
/* The node a service of org asks for in its create or update args
 * (args.node: a node's name or id, or null for here) put as args.nodeId
 * (the node's id, "" for here), node dropped: 0 (also when args has no
 * node), AD_ENOENT (no such node of org, or no nodes here) or AD_EPERM
 * (another organisation's program needs a sandbox the node lacks), with
 * err saying why; args is left alone then. */
int ad_services_place(ad_services_t *ss, const char *org, json_t *args, char *err, size_t errsz);
/* After the supervisor has shut down. */
void ad_services_free(ad_services_t *ss);
/* A row was created or changed (borrowed; a reference is kept): enabled
 * starts it if it is down, disabled stops it; a changed config waits for
 * ad_services_restart (runtime.pendingRestart says so). */
void ad_services_apply(ad_services_t *ss, json_t *row);
/* Stops it (it stays down until restarted or enabled again). AD_ENOENT. */
int ad_services_stop(ad_services_t *ss, const char *id);
/* Stops it if it runs and starts it from its row (the new config). */
int ad_services_restart(ad_services_t *ss, const char *id);
/* Its row was deleted (row: the delete's result, borrowed): stops it,
 * forgets it, and publishes service_update with the row to its service's
 * and its org's topics. */
void ad_services_remove(ad_services_t *ss, const json_t *row);
/* Runs its probe once: AD_ENOENT, AD_ESTATE (no probe), or 0 and cb. */
typedef void (*ad_services_test_cb)(bool ok, double latency_ms, const char *error, void *ud);
int ad_services_test(ad_services_t *ss, const char *id, ad_services_test_cb cb, void *ud);
/* Sets row.runtime {status, pid, startedAt (wall ms), restarts, backoffMs, lastExit, health
 * {status, latencyMs, error, checkedAt}, figures, pendingRestart, error}; for a
 * service on a node also node {id, name, reachable} and runId (its current
 * run there), its status "waiting" (its node not connected) or
 * "unreachable" (its node away with it running), pid the node's. */
void ad_services_overlay(const ad_services_t *ss, json_t *row);
/* The service's last plain output lines (16 KiB at most; "" when none), new. */
json_t *ad_services_output(const ad_services_t *ss, const char *id);
/* What the REST routes read (jobrows.c): the services of st made and the
 * enabled ones started, as ad_services_new (none when they cannot be
 * read: logged); org's ("": every org's) rows {services} with their
 * runtime (*out new; 0 or the store's error); a row's runtime laid over in
 * place, with output its last output lines too. */
ad_services_t *ad_services_open(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *st,
                                ad_bus_t *bus, ad_procs_t *procs, ad_plane_t *plane);
int ad_services_list(const ad_services_t *ss, ad_store_t *st, const char *org, json_t **out);
void ad_services_view(const ad_services_t *ss, json_t *row, bool output);
/* The running services, for the health score. */
void ad_services_each(const ad_services_t *ss,
                      void (*fn)(const char *id, const char *org, const char *name,
                                 bool health_known, bool healthy, json_t *figures, void *ud),
                      void *ud);

/* ---- built-in templates (template.c) ------------------------------------------------
 * [{id, name, description, schema}], borrowed, built on the first call
 * (make it from the loop thread); ad_svc_template: the one with id, or NULL. */
json_t *ad_svc_templates(void);
json_t *ad_svc_template(const char *id);

/* ---- checks (schema.c; pure, any thread) ------------------------------------------
 * Each returns 0, or AD_EINVAL with the field ("schema", "config.width",
 * "probe.url"; static or thread-local) and why. */
int ad_svc_schema_check(json_t *schema, const char **field, char *why, size_t whysz);
/* A schema written in the training configs' vocabulary ({fields: [{name,
 * type: float|int|bool|enum|string, options, …}]}) in this one's form; any
 * other schema as it is. New reference, or NULL with field and why. */
json_t *ad_svc_schema_normalize(json_t *schema, const char **field, char *why, size_t whysz);
int ad_svc_probe_check(json_t *probe, const char **field, char *why, size_t whysz);
/* The full config: patch over base over the schema's defaults, each value
 * checked against its field; keys outside the schema are refused. New ref,
 * or NULL with field and why. patch and base may be NULL. */
json_t *ad_svc_config_merge(json_t *schema, json_t *base, json_t *patch, const char **field,
                            char *why, size_t whysz);

/* ---- specs (spec.c; any thread) ----------------------------------------------------
 * A create body {name, command [argv], cwd?, restart? (always, on-failure,
 * never), enabled?, template? | schema?, config?, probe?} into the store's
 * insert args (all but id and orgId, which are the caller's), or a PATCH
 * body {name?, restart?, enabled?, config?, probe?} of the stored row into
 * its update args. 0, or AD_EINVAL with e naming the field. */
int ad_svc_spec_create(const json_t *body, json_t *args, ad_field_err_t *e);
int ad_svc_spec_patch(const json_t *body, const json_t *row, json_t *args, ad_field_err_t *e);
/* A job's start body {name, kind? (job, discovery), command [argv, at most
 * argv_max], cwd? (an existing absolute directory), environment?} into
 * spec (its strings and argv, which must hold argv_max + 1, borrowed from
 * body, or from *made); spec->org is the caller's. A discovery with an
 * environment and no command takes its program from store's
 * discovery_command setting: *made (owned by the caller, to release after
 * the start) holds it; NULL otherwise. 0, or AD_EINVAL with e. */
int ad_svc_job_spec(ad_store_t *store, const json_t *body, ad_job_spec_t *spec, const char **argv,
                    size_t argv_max, json_t **made, ad_field_err_t *e);

/* The subsystem as an engine of the daemon (plugin.c; src/engine/engine.h;
 * src/engines.c opens it). */
extern const struct ad_engine ad_svc_engine;

#endif
