/* SPDX-License-Identifier: MIT */
/*
 * train: training analytics that act (issue #35). Alerts: rules per
 * organisation, workspace, agent or run (NaN or Inf in a series, above or
 * below a threshold for N steps, no new step for T seconds, GPU
 * throttling) evaluated as points are read, each firing recorded on its
 * run, published (alert_fired, for the dashboard and its desktop
 * notifications), posted to a webhook with a bounded retry, and acted on
 * (stop, pause, or a signal such as SIGUSR1 for a checkpoint).
 *
 * The engine keeps in memory only what the points since the daemon started
 * say (counts of steps past a threshold, the last step's time); rules and
 * firings are the store's.
 *
 * Ownership: the engine is the app's (ad_train_new/ad_train_close); every
 * json_t given is borrowed unless said. Threads: loop thread only.
 */
#ifndef AD_TRAIN_H
#define AD_TRAIN_H

#include "auth/auth.h"
#include "core/config.h"
#include "core/core.h"
#include "run/run.h"
#include "store/store.h"

#include <jansson.h>
#include <limits.h>
#include <uv.h>

#define AD_TRAIN_RULES_MAX 1000 /* rules of one organisation */
#define AD_TRAIN_WEBHOOK_MAX 2048
#define AD_TRAIN_WEBHOOK_TRIES 3

/* ---- rules (rule.c) ------------------------------------------------------------
 * A rule: {name, kind: nan|above|below|stale|gpuThrottle, series?,
 * threshold?, steps?, staleSeconds?, workspaceId? | agentId? | runId?,
 * action: none|stop|pause|signal, signal?, notify?: {desktop?, webhook?},
 * enabled?}. Checks in (a body; with old, a patch over the stored rule):
 * 0 with *out the spec to store (a new reference), or AD_EINVAL with field
 * ("threshold", "notify.webhook") and why set. allow is the
 * --alert-webhook-allow list (hosts and addresses a webhook may reach
 * although private). Pure. */
int ad_train_rule_check(const json_t *in, const json_t *old, const char *allow, json_t **out,
                        char *field, size_t fieldsz, char *why, size_t whysz);
/* Whether a checked spec has a webhook (creating one needs admin). */
bool ad_train_rule_webhook(const json_t *spec);
/* The org a checked spec's scope row ("workspaceId", "agentId" or
 * "runId") gives the rule, when who sees that row: 0 with org; 1 when
 * it names none (the org's runs: the caller's org); AD_EINVAL with e on
 * the field ("no agentId with that id") for a row missing or not seen.
 * And the store's alert_rule_put args {id (NULL: a new "alr_" id), orgId,
 * spec (stolen), now} (new). */
int ad_train_rule_org(ad_store_t *st, const ad_principal_t *who, const json_t *spec,
                      char org[AD_ID_MAX], ad_field_err_t *e);
json_t *ad_train_rule_args(const char *id, const char *org, json_t *spec, int64_t now);

/* ---- webhooks (webhook.c) ---------------------------------------------------------
 * Where a webhook may go: http or https, no user name or password in the
 * URL, and every address its host resolves to public (not loopback,
 * private, link-local, CGNAT, multicast or unspecified) unless the host or
 * the address is in allow (comma-separated hosts, addresses and
 * CIDR blocks). resolve: check the URL's form only (false) or resolve its
 * host too (true: blocking, pool threads). On 0, pin ("host:port:addr",
 * for curl's resolve list) holds the address to connect to. 0, or
 * AD_EINVAL with why. */
int ad_train_webhook_check(const char *url, const char *allow, bool resolve, char *pin,
                           size_t pinsz, char *why, size_t whysz);

/* ---- the engine (alerts.c) --------------------------------------------------------- */
typedef struct ad_train ad_train_t;
/* Publishes an event about a run (payload borrowed): the wiring's. */
typedef void (*ad_train_publish_fn)(void *ud, const char *type, json_t *payload, const char *org,
                                    const char *agent_id, const char *run_id);
typedef struct {
    uv_loop_t *loop;
    const ad_config_t *cfg; /* borrowed: alert_webhook_allow */
    ad_store_t *store;
    ad_runner_t *runner;
    ad_train_publish_fn publish;
    void *ud;
} ad_train_opts_t;
/* Loads every rule, hooks the runner's points and starts the one-second
 * tick (stale series). Returns owned: close with ad_train_close. */
ad_train_t *ad_train_new(const ad_train_opts_t *o);
void ad_train_close(ad_train_t *t);
/* A rule as stored (with id and orgId) is new or changed: the engine
 * takes it, and alert_rule_update {rule} is published to its org. Rule id
 * of org was deleted: the engine forgets it, and alert_rule_update {id,
 * deleted: true} is published to org. t may be NULL (nothing happens). */
void ad_train_rule_set(ad_train_t *t, const json_t *rule);
void ad_train_rule_remove(ad_train_t *t, const char *id, const char *org);
/* Points a client posted to a run (REST: {name, value, step?}, checked). */
void ad_train_points(ad_train_t *t, const char *agent_id, const char *run_id, const char *org,
                     const json_t *points);
/* The GPUs' state at a health sample: throttled with the reasons (a line),
 * or not. */
void ad_train_gpu(ad_train_t *t, bool throttled, const char *reasons);
/* ---- imports that tail (import.c, readers.c) ------------------------------------------
 * An import reads a TensorBoard log folder (tfevents), an MLflow run folder
 * (mlruns) or a CSV file (csv) into a run, once or following it (the row
 * says: {id, orgId, kind, path, runId, follow, state}); see training.md. */
typedef struct ad_train_imports ad_train_imports_t;
/* Starts again every import the store says is running. Owned: close with
 * ad_train_imports_close (before the store closes). train may be NULL. */
ad_train_imports_t *ad_train_imports_new(uv_loop_t *loop, ad_store_t *store, ad_train_t *train,
                                         ad_train_publish_fn publish, void *ud);
void ad_train_imports_close(ad_train_imports_t *im);
/* The kind's index, or -1 for a name that is none. */
int ad_train_import_kind(const char *s);
/* POST /api/imports {kind, path, follow?, name?, runId? | agentId? |
 * worktreeId?} read (importspec.c): strings borrowed from the body, real
 * the path resolved. */
typedef struct {
    const char *kind, *path, *name, *run, *agent, *wt;
    bool follow;
    char real[PATH_MAX];
} ad_train_import_req_t;
/* Checks body (the path absolute, there unless followed, a folder or a
 * CSV file as kind says, not inside data_dir; one of runId, agentId,
 * worktreeId): 0, or AD_EINVAL with e. */
int ad_train_import_check(const json_t *body, const char *data_dir, ad_train_import_req_t *q,
                          ad_field_err_t *e);
/* ad_store_op_external_run's args for q in org (the named row's, which
 * the caller sees): the run attached to, or a new run (of a new agent in
 * the worktree), and the import row. New reference. */
json_t *ad_train_import_args(ad_store_t *st, const ad_train_import_req_t *q, const char *org);
/* Starts reading the import of row (stored, its run made); agent_id is the
 * run's agent (borrowed). 0 or AD_EINVAL. */
int ad_train_import_start(ad_train_imports_t *im, const json_t *row, const char *agent_id);
/* The import a create's write made (result {importId, agentId} of the
 * ad_train_import_args write): its row read and started. The row (new),
 * or NULL when it cannot be read (or im is NULL). */
json_t *ad_train_import_made(ad_train_imports_t *im, const json_t *result);
/* Stops a running import (its row stopped, a run it made stopped). 0 or
 * AD_ENOENT when it is not running here. */
int ad_train_import_stop(ad_train_imports_t *im, const char *id);

/* ---- the MLflow REST surface's shapes (mlflow.c; pure) ---------------------------------
 * Errors are MLflow's: an HTTP status and {error_code, message}. */
typedef struct {
    int status;
    char code[40];
    char message[256];
} ad_mlflow_err_t;
/* One metric {key, value (a number, or "NaN"/"Infinity"/"-Infinity"),
 * timestamp, step?} (where: how the message names it) into a point {name,
 * step, ts, value} (new; a non-finite value as its string). */
int ad_mlflow_metric(const json_t *m, const char *where, json_t **point, ad_mlflow_err_t *e);
/* A list [{key, value}] of strings (at most max) into out. */
int ad_mlflow_params(const json_t *list, const char *where, size_t max, json_t *out,
                     ad_mlflow_err_t *e);
/* log-parameter's or set-tag's body {key, value} as one param or tag in
 * *kv (new): 0, or AD_EINVAL with e (400 when either is missing). */
int ad_mlflow_pair(const json_t *body, bool param, json_t **kv, ad_mlflow_err_t *e);
/* log-batch's body within MLflow's limits (1000 metrics; 100 params; 100
 * tags; 1000 in all): points (new array) and params, tags (new objects). */
int ad_mlflow_batch(const json_t *body, json_t **points, json_t **params, json_t **tags,
                    ad_mlflow_err_t *e);
/* RUNNING|SCHEDULED|FINISHED|FAILED|KILLED as agentd's run status, or NULL. */
const char *ad_mlflow_status_in(const char *s);
/* A run row (GET /api/runs/:id's) as MLflow's RunInfo, and with its series
 * list as MLflow's Run {info, data {metrics (each key's latest), params,
 * tags}, inputs}. New references. */
json_t *ad_mlflow_run_info(const json_t *run);
json_t *ad_mlflow_run(const json_t *run, const json_t *series);
/* An agent as MLflow's Experiment (id_override: "0" for the default one). */
json_t *ad_mlflow_experiment(const json_t *agent, const char *id_override);

/* ---- the MLflow surface's requests (mlflowreq.c) ----------------------------------------
 * What each route does once the handler has checked who asks; org is the
 * caller's organisation. Each returns 0, or AD_EINVAL with MLflow's error
 * in e (the new reference in out or args only on 0). Loop thread. */
/* The MLflow run run_id, org its organisation when the caller sees it
 * (NULL: not found): *out its row with orgId; a run not made through this
 * surface is refused. */
int ad_mlflow_run_get(ad_store_t *st, const char *run_id, const char *org, json_t **out,
                      ad_mlflow_err_t *e);
/* The worktree the tag agentd.worktreeId of tags ([{key, value}]) names,
 * or NULL. Borrowed from tags. */
const char *ad_mlflow_tag_worktree(const json_t *tags);
/* experiments/create's body {name, tags?} as the agent insert's args (in
 * the tag's worktree when wt_seen, the caller seeing it, else org's first). */
int ad_mlflow_exp_args(ad_store_t *st, const char *data_dir, const char *org, const json_t *body,
                       bool wt_seen, json_t **args, ad_mlflow_err_t *e);
/* {experiment} by name (experiments/get-by-name), else by id (seen: the
 * caller sees that agent; "0" is the default experiment). */
int ad_mlflow_exp_find(ad_store_t *st, const char *org, const char *id, const char *name, bool seen,
                       json_t **out, ad_mlflow_err_t *e);
/* {run} (or {run_info}) of run_id as it is stored now. */
int ad_mlflow_run_answer(ad_store_t *st, const char *run_id, bool info_only, json_t **out,
                         ad_mlflow_err_t *e);
/* runs/create's body as ad_store_op_external_run's args (exp_seen: the
 * caller sees its experiment_id; the default experiment is made in the
 * same write when first used). */
int ad_mlflow_run_args(ad_store_t *st, const char *data_dir, const char *org, const json_t *body,
                       bool exp_seen, json_t **out, ad_mlflow_err_t *e);
/* runs/update's body as ad_store_op_external_run_update's args. */
int ad_mlflow_update_args(const json_t *run, const json_t *body, json_t **out, ad_mlflow_err_t *e);
/* ---- its read routes (mlflowread.c) ----
 * experiments/search (runs false) or runs/search's body: {experiments}
 * or {runs} of org newest first, a page (max_results, page_token) at a
 * time with next_page_token when more; a filter or another order is
 * refused. */
int ad_mlflow_search(ad_store_t *st, const char *org, bool runs, const json_t *body, json_t **out,
                     ad_mlflow_err_t *e);
/* metrics/get-history of run_id (checked by the caller): the query's
 * metric_key, max_results, page_token read through get; then done(ud, 0,
 * {metrics, next_page_token?}, _) or done(ud, AD_EINVAL, NULL, e), once. */
typedef void (*ad_mlflow_history_fn)(void *ud, int rc, json_t *out, const ad_mlflow_err_t *e);
void ad_mlflow_history(ad_store_t *st, const char *run_id, ad_store_query_fn get, void *gud,
                       ad_mlflow_history_fn done, void *ud);
/* Logs to run (ad_mlflow_run_get's row): params (a changed value is
 * refused) and tags as a patch of its config, then points (taken: all to
 * t's rules, the finite ones stored); then done(ud, NULL), or done(ud, e)
 * once, when refused or not stored. */
typedef void (*ad_mlflow_done_fn)(void *ud, const ad_mlflow_err_t *e);
void ad_mlflow_log(ad_train_t *t, ad_store_t *st, const json_t *run, json_t *points,
                   const json_t *params, const json_t *tags, ad_mlflow_done_fn done, void *ud);

/* ---- sweeps (sweepspec.c: the spec and proposers, pure; sweep.c: the engine) ----------
 * A sweep: {name, agentId (a command agent: each trial is a copy of it),
 * schemaId, method: grid|random|bayes, params: {field: {values} | {min?,
 * max?}}, metric: {name, goal: maximize|minimize}, budget, parallel,
 * maxSteps?, earlyStop?: {type: median|hyperband, minSteps, eta?},
 * gridPoints?, seed?, configFlags?}; see training.md. */
/* Checks in against schema: 0 with *out the spec to store (defaults
 * written), or AD_EINVAL with field and why. */
int ad_train_sweep_check(json_t *in, json_t *schema, json_t **out, char *field, size_t fieldsz,
                         char *why, size_t whysz);
/* POST /api/sweeps's body for org, its agentId (one the caller sees)
 * checked: a command agent, schemaId a config schema the caller may use
 * (filter: its org filter), the rest as ad_train_sweep_check: *args the
 * store's sweep_put args {id (new), orgId, name, spec, state {trials,
 * rng}, status running, now} (new). 0, or AD_EINVAL with field and why.
 * Loop thread (store reads). */
int ad_train_sweep_args(ad_store_t *st, json_t *body, const char *filter, const char *org,
                        json_t **args, char *field, size_t fieldsz, char *why, size_t whysz);
/* The number of configs the grid of spec has (past 100000: 100001). */
size_t ad_train_sweep_grid_size(json_t *spec, json_t *schema);
/* Trial index's parameters: the grid's index-th, or a random draw (TPE
 * over done, the finished trials' values best first, for bayes once four
 * are done). rng is the sampler's state. New object. */
json_t *ad_train_sweep_propose(json_t *spec, json_t *schema, size_t index, json_t *done,
                               uint64_t *rng);
typedef struct ad_train_sweeps ad_train_sweeps_t;
/* How many GPUs trials may be spread over (0 with why: none). */
typedef int (*ad_train_gpus_fn)(void *ud, char *why, size_t whysz);
/* Loads every running sweep and carries on. train (may be NULL) is the
 * alert engine whose points the sweeps read: its tap is set here and
 * cleared at close. Close before the store and before train. */
ad_train_sweeps_t *ad_train_sweeps_new(uv_loop_t *loop, ad_store_t *store, ad_runner_t *runner,
                                       ad_train_t *train, ad_train_publish_fn publish,
                                       ad_train_gpus_fn gpus, void *ud);
void ad_train_sweeps_close(ad_train_sweeps_t *sw);
/* A stored sweep row to run: 0, or AD_ENOENT when its schema is gone. */
int ad_train_sweep_add(ad_train_sweeps_t *sw, const json_t *row);
/* Stops a running sweep (its running trials stopped): 0 or AD_ENOENT. */
int ad_train_sweep_stop(ad_train_sweeps_t *sw, const char *id);
/* A point a run reported (the alert engine's tap forwards them). */
void ad_train_sweeps_point(ad_train_sweeps_t *sw, const char *agent_id, const char *run_id,
                           const char *name, bool has_step, int64_t step, double v);
/* Every point the alert engine sees also goes to fn (NULL: none). */
typedef void (*ad_train_tap_fn)(void *ud, const char *agent_id, const char *run_id,
                                const char *name, bool has_step, int64_t step, double v);
void ad_train_set_tap(ad_train_t *t, ad_train_tap_fn fn, void *ud);

/* Counters: points looked at, firings. */
void ad_train_stats(const ad_train_t *t, uint64_t *points, uint64_t *firings);

/* The subsystem as an engine of the daemon (plugin.c; src/engine/engine.h;
 * src/engines.c opens it). */
extern const struct ad_engine ad_train_engine;

#endif
