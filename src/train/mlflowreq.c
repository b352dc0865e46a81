/* SPDX-License-Identifier: MIT */
/*
 * What the MLflow surface's routes do once the handler has checked who
 * asks (issue #35; moved from src/api/mlflow.c and mlflow_log.c): an
 * experiment made (an agent in the tag's worktree, or the organisation's
 * first) or found, a run made (the default experiment made when first
 * used) or updated, a run answered as MLflow's Run, and logging: params
 * keep their first value (MLflow's rule), params and tags patch the run's
 * config, then the points go to the alert rules (every one) and the store
 * (the finite ones). Errors are MLflow's (ad_mlflow_err_t). Loop thread.
 */
#include "train/train_int.h"
#include "tables/imports.h"
#include "tables/runs.h"
#include "tables/series.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOT_FOUND "RESOURCE_DOES_NOT_EXIST"
#define BAD_VALUE "INVALID_PARAMETER_VALUE"

int ad_mlflow_run_get(ad_store_t *st, const char *run_id, const char *org, json_t **out,
                      ad_mlflow_err_t *e)
{
    char source[32] = "";
    json_t *run = NULL;
    *out = NULL;
    if (run_id == NULL || run_id[0] == '\0') {
        return ad_mlflow_fail(e, 400, BAD_VALUE, "Missing value for required parameter 'run_id'");
    }
    if (org == NULL || ad_store_run_get(st, run_id, &run) != 0) {
        return ad_mlflow_fail(e, 404, NOT_FOUND, "Run with id=%s not found", run_id);
    }
    if (ad_store_run_source(st, run_id, source, sizeof(source)) != 0 ||
        strcmp(source, "mlflow") != 0) {
        json_decref(run);
        return ad_mlflow_fail(e, 400, BAD_VALUE,
                              "Run %s was not made through the MLflow API; log to it with POST "
                              "/api/runs/:id/metrics",
                              run_id);
    }
    json_object_set_new(run, "orgId", json_string(org));
    *out = run;
    return 0;
}

/* ---- experiments -------------------------------------------------------------------- */

const char *ad_mlflow_tag_worktree(const json_t *tags)
{
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "key"));
        const char *v = json_string_value(json_object_get(t, "value"));
        if (k != NULL && v != NULL && strcmp(k, "agentd.worktreeId") == 0) {
            return v;
        }
    }
    return NULL;
}

/* The agent args of a new experiment named name in worktree wt. */
static json_t *exp_args(const char *id, const char *wt, const char *name)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:I, s:{s:[], s:b}}", "id", id,
                     "worktreeId", wt, "name", name, "executor", "command", "status", "finished",
                     "mode", "regular", "permissions", "read", "now", (json_int_t)ad_wall_ms(),
                     "state", "command", "mlflowExperiment", true);
}

/* An empty git repository at path (made, with its parents, when missing):
 * what a workspace needs, with nothing in it. 0 or an errno. */
static int empty_repo(const char *path)
{
    static const char *const dirs[] = {
        "", "/.git", "/.git/objects", "/.git/refs", "/.git/refs/heads", "/.git/refs/tags"};
    static const char head[] = "ref: refs/heads/main\n";
    static const char config[] = "[core]\n\trepositoryformatversion = 0\n\tbare = false\n";
    char p[4200];
    for (size_t i = 0; i < AD_ARRAY_LEN(dirs); i++) {
        snprintf(p, sizeof(p), "%s%s", path, dirs[i]);
        if (i == 0) { /* <data>/experiments first */
            *strrchr(p, '/') = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST) {
                return errno;
            }
            snprintf(p, sizeof(p), "%s", path);
        }
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            return errno;
        }
    }
    snprintf(p, sizeof(p), "%s/.git", path);
    int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    struct stat st;
    int rc = fstatat(fd, "HEAD", &st, AT_SYMLINK_NOFOLLOW) == 0
                 ? 0
                 : ad_replace_at(fd, "HEAD", head, sizeof(head) - 1, 0600, NULL);
    if (rc == 0 && fstatat(fd, "config", &st, AT_SYMLINK_NOFOLLOW) != 0) {
        rc = ad_replace_at(fd, "config", config, sizeof(config) - 1, 0600, NULL);
    }
    close(fd);
    return rc;
}

/* Where a new experiment goes: wt (the tag's, seen by the caller or not),
 * or the organisation's first workspace; with none, one agentd makes for
 * experiments (args "home": an empty repository in the data dir, made as
 * the agent is when the org still has no workspace then). */
static int exp_worktree(ad_store_t *st, const char *data_dir, const char *org, const char *wt,
                        bool wt_seen, json_t *args, char out[AD_ID_MAX], ad_mlflow_err_t *e)
{
    if (wt != NULL) {
        if (!wt_seen) {
            return ad_mlflow_fail(e, 404, NOT_FOUND, "no worktree %s", wt);
        }
        snprintf(out, AD_ID_MAX, "%s", wt);
        return 0;
    }
    if (ad_store_org_first_worktree(st, org, out) == 0) {
        return 0;
    }
    char path[4096], ws[AD_ID_MAX];
    int n = snprintf(path, sizeof(path), "%s/experiments/%s", data_dir, org);
    int rc = n > 0 && (size_t)n < sizeof(path) ? empty_repo(path) : ENAMETOOLONG;
    if (rc != 0) {
        return ad_mlflow_fail(e, 500, "INTERNAL_ERROR",
                              "cannot make a workspace for experiments at %s: %s", path,
                              strerror(rc));
    }
    ad_id_new("ws", ws);
    ad_id_new("wt", out);
    json_object_set_new(args, "home",
                        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "id", ws, "name",
                                  "Experiments", "path", path, "orgId", org, "worktreeId", out,
                                  "branch", "main", "now", (json_int_t)ad_wall_ms()));
    return 0;
}

int ad_mlflow_exp_args(ad_store_t *st, const char *data_dir, const char *org, const json_t *body,
                       bool wt_seen, json_t **args, ad_mlflow_err_t *e)
{
    json_t *home = json_object();
    const char *name = json_string_value(json_object_get(body, "name"));
    json_t *old = NULL;
    char wt[AD_ID_MAX], id[AD_ID_MAX];
    int rc = 0;
    if (name == NULL || name[0] == '\0' || strlen(name) > 200) {
        rc = ad_mlflow_fail(e, 400, BAD_VALUE,
                            "Missing value for required parameter 'name' (1 to 200 bytes)");
    } else if (ad_store_mlflow_experiment(st, org, name, &old) == 0) {
        rc = ad_mlflow_fail(e, 400, "RESOURCE_ALREADY_EXISTS", "Experiment '%s' already exists.",
                            name);
    } else if ((rc = exp_worktree(st, data_dir, org,
                                  ad_mlflow_tag_worktree(json_object_get(body, "tags")), wt_seen,
                                  home, wt, e)) == 0) {
        ad_id_new("ag", id);
        *args = exp_args(id, wt, name);
        json_object_update(*args, home);
    }
    json_decref(home);
    json_decref(old);
    return rc;
}

int ad_mlflow_exp_find(ad_store_t *st, const char *org, const char *id, const char *name, bool seen,
                       json_t **out, ad_mlflow_err_t *e)
{
    json_t *agent = NULL;
    const char *over = NULL;
    if (name != NULL) {
        if (name[0] == '\0') {
            return ad_mlflow_fail(e, 400, BAD_VALUE,
                                  "Missing value for required parameter 'experiment_name'");
        }
        if (ad_store_mlflow_experiment(st, org, name, &agent) != 0) {
            return ad_mlflow_fail(e, 404, NOT_FOUND, "Could not find experiment with name '%s'",
                                  name);
        }
    } else if (id != NULL && strcmp(id, "0") == 0) { /* MLflow's default experiment */
        if (ad_store_mlflow_experiment(st, org, "Default", &agent) != 0) {
            agent = json_pack("{s:s}", "name", "Default");
        }
        over = "0";
    } else if (id == NULL || !seen || ad_store_agent_get(st, id, &agent) != 0) {
        return ad_mlflow_fail(e, 404, NOT_FOUND, "No Experiment with id=%s exists",
                              id != NULL ? id : "");
    }
    *out = json_pack("{s:o}", "experiment", ad_mlflow_experiment(agent, over));
    json_decref(agent);
    return 0;
}

/* ---- runs --------------------------------------------------------------------------------- */

int ad_mlflow_run_answer(ad_store_t *st, const char *run_id, bool info_only, json_t **out,
                         ad_mlflow_err_t *e)
{
    json_t *run = NULL, *series = NULL;
    if (ad_store_run_get(st, run_id, &run) != 0) {
        return ad_mlflow_fail(e, 404, NOT_FOUND, "Run with id=%s not found", run_id);
    }
    if (info_only) {
        *out = json_pack("{s:o}", "run_info", ad_mlflow_run_info(run));
    } else {
        if (ad_store_series_list(st, run_id, &series) != 0) {
            series = json_array();
        }
        *out = json_pack("{s:o}", "run", ad_mlflow_run(run, series));
        json_decref(series);
    }
    json_decref(run);
    return 0;
}

/* The experiment (agent) a new run goes to: the body's, or the default
 * one, found or (args "agent") made. */
static int run_experiment(ad_store_t *st, const char *data_dir, const char *org, const char *exp,
                          bool exp_seen, json_t *args, char agent_id[AD_ID_MAX], ad_mlflow_err_t *e)
{
    json_t *agent = NULL;
    char wt[AD_ID_MAX];
    int rc = 0;
    if (exp == NULL || strcmp(exp, "0") == 0) { /* the default experiment, made when first used */
        if (ad_store_mlflow_experiment(st, org, "Default", &agent) == 0) {
            snprintf(agent_id, AD_ID_MAX, "%s", json_string_value(json_object_get(agent, "id")));
        } else if ((rc = exp_worktree(st, data_dir, org, NULL, false, args, wt, e)) == 0) {
            ad_id_new("ag", agent_id);
            json_object_set_new(args, "agent", exp_args(agent_id, wt, "Default"));
        }
    } else if (!exp_seen) {
        rc = ad_mlflow_fail(e, 404, NOT_FOUND, "No Experiment with id=%s exists", exp);
    } else {
        snprintf(agent_id, AD_ID_MAX, "%s", exp);
    }
    json_decref(agent);
    return rc;
}

int ad_mlflow_run_args(ad_store_t *st, const char *data_dir, const char *org, const json_t *body,
                       bool exp_seen, json_t **out, ad_mlflow_err_t *e)
{
    json_t *tags = json_object(), *args = NULL;
    const char *name = json_string_value(json_object_get(body, "run_name"));
    char agent_id[AD_ID_MAX], run_id[AD_ID_MAX];
    int64_t start = json_integer_value(json_object_get(body, "start_time"));
    int rc = ad_mlflow_params(json_object_get(body, "tags"), "tags", 100, tags, e);
    if (rc == 0) {
        args = json_object();
        rc = run_experiment(st, data_dir, org,
                            json_string_value(json_object_get(body, "experiment_id")), exp_seen,
                            args, agent_id, e);
    }
    if (rc != 0) {
        json_decref(args);
        json_decref(tags);
        return rc;
    }
    if (name == NULL) {
        name = json_string_value(json_object_get(tags, "mlflow.runName"));
    }
    ad_id_new("run", run_id);
    json_object_set_new(args, "id", json_string(run_id));
    json_object_set_new(args, "agentId", json_string(agent_id));
    json_object_set_new(args, "source", json_string("mlflow"));
    json_object_set_new(args, "now", json_integer(start > 0 ? start : ad_wall_ms()));
    if (name != NULL && name[0] != '\0') {
        json_object_set_new(args, "name", json_string(name));
    }
    json_object_set_new(
        args, "config",
        json_pack("{s:s, s:{}, s:o}", "name", "mlflow", "values", "mlflowTags", tags));
    *out = args;
    return 0;
}

int ad_mlflow_update_args(const json_t *run, const json_t *body, json_t **out, ad_mlflow_err_t *e)
{
    const char *status = json_string_value(json_object_get(body, "status"));
    const char *name = json_string_value(json_object_get(body, "run_name"));
    json_t *end = json_object_get(body, "end_time");
    const char *ours = status != NULL ? ad_mlflow_status_in(status) : NULL;
    if (status != NULL && ours == NULL) {
        return ad_mlflow_fail(e, 400, BAD_VALUE,
                              "Invalid value '%s' for parameter 'status': RUNNING, SCHEDULED, "
                              "FINISHED, FAILED or KILLED",
                              status);
    }
    json_t *args = json_pack("{s:O}", "id", json_object_get(run, "id"));
    if (ours != NULL) {
        json_object_set_new(args, "status", json_string(ours));
    }
    if (json_is_integer(end)) {
        json_object_set(args, "endedAt", end);
    }
    if (name != NULL && name[0] != '\0') {
        json_object_set_new(args, "name", json_string(name));
    }
    *out = args;
    return 0;
}

/* ---- logging -------------------------------------------------------------------------------- */

typedef struct {
    ad_train_t *train;
    ad_store_t *store;
    json_t *run;    /* the run row (with orgId) */
    json_t *points; /* what is still to log */
    ad_mlflow_done_fn done;
    void *ud;
} log_t;

static void log_end(log_t *l, const ad_mlflow_err_t *e)
{
    l->done(l->ud, e);
    json_decref(l->run);
    json_decref(l->points);
    free(l);
}

static void log_failed(log_t *l, const char *what, int rc)
{
    ad_mlflow_err_t e;
    ad_mlflow_fail(&e, 500, "INTERNAL_ERROR", "%s not stored: %s", what, ad_strerror(rc));
    log_end(l, &e);
}

static void points_stored(int rc, json_t *result, void *ud)
{
    json_decref(result);
    if (rc != 0) {
        log_failed(ud, "metrics", rc);
    } else {
        log_end(ud, NULL);
    }
}

/* Points (finite ones stored, every one shown to the alert rules), then
 * the end. */
static void log_points(log_t *l)
{
    const char *run_id = json_string_value(json_object_get(l->run, "id"));
    const char *org = json_string_value(json_object_get(l->run, "orgId"));
    ad_train_points(l->train, json_string_value(json_object_get(l->run, "agentId")), run_id, org,
                    l->points);
    json_t *finite = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(l->points, i, p)
    {
        if (json_is_number(json_object_get(p, "value"))) {
            json_array_append(finite, p);
        }
    }
    if (json_array_size(finite) == 0) {
        json_decref(finite);
        log_end(l, NULL);
        return;
    }
    ad_store_series_append(l->store,
                           json_pack("{s:s, s:s, s:I, s:o}", "runId", run_id, "orgId", org, "now",
                                     (json_int_t)ad_wall_ms(), "points", finite),
                           points_stored, l);
}

static void meta_stored(int rc, json_t *result, void *ud)
{
    json_decref(result);
    if (rc != 0) {
        log_failed(ud, "params and tags", rc);
    } else {
        log_points(ud);
    }
}

/* A param once written keeps its value (MLflow's rule): a different one is
 * refused, the same one is fine. */
static int params_ok(const json_t *run, const json_t *params, ad_mlflow_err_t *e)
{
    json_t *have = json_object_get(json_object_get(run, "config"), "values");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)params, k, v)
    {
        json_t *old = json_object_get(have, k);
        if (old != NULL && !json_equal(old, v)) {
            return ad_mlflow_fail(
                e, 400, BAD_VALUE,
                "Changing param values is not allowed. Param with key='%s' was already "
                "logged with value='%s' for run ID='%s'. Attempted logging new value '%s'.",
                k, json_string_value(old) ? json_string_value(old) : "",
                json_string_value(json_object_get(run, "id")), json_string_value(v));
        }
    }
    return 0;
}

void ad_mlflow_log(ad_train_t *t, ad_store_t *st, const json_t *run, json_t *points,
                   const json_t *params, const json_t *tags, ad_mlflow_done_fn done, void *ud)
{
    log_t *l = ad_xcalloc(1, sizeof(*l));
    *l = (log_t){.train = t,
                 .store = st,
                 .run = json_incref((json_t *)run),
                 .points = points,
                 .done = done,
                 .ud = ud};
    ad_mlflow_err_t e;
    if (params_ok(run, params, &e) != 0) {
        log_end(l, &e);
        return;
    }
    if (json_object_size(params) + json_object_size(tags) == 0) {
        log_points(l);
        return;
    }
    /* params and tags as a patch of the run's config (mlflow.runName also
     * its name), then the points */
    json_t *patch = json_object();
    if (json_object_size(params) > 0) {
        json_object_set(patch, "values", (json_t *)params);
    }
    if (json_object_size(tags) > 0) {
        json_object_set(patch, "mlflowTags", (json_t *)tags);
    }
    json_t *args = json_pack("{s:O, s:o}", "id", json_object_get(run, "id"), "configPatch", patch);
    const char *name = json_string_value(json_object_get(tags, "mlflow.runName"));
    if (name != NULL && name[0] != '\0') {
        json_object_set_new(args, "name", json_string(name));
    }
    ad_store_write(st, ad_store_op_external_run_update, args, meta_stored, l);
}
