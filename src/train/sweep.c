/* SPDX-License-Identifier: MIT */
/*
 * The sweep engine (issue #35): each running sweep's row (spec and state)
 * is in memory and written whole on every change, so nothing lives only
 * here: a restarted daemon loads the running sweeps and carries on (a
 * trial whose run a holder kept goes on; one whose run was lost failed).
 * A tick (and any change) starts trials while fewer than `parallel` run
 * and fewer than `budget` were made: an agent made from the template agent
 * (its command, worktree and environment, and a free GPU's
 * CUDA_VISIBLE_DEVICES where NVML shows GPUs), started with the proposed
 * config. The metric's points reach the engine as they are read (through
 * the alert engine's tap): each trial's value at each rung step is kept,
 * and the early-stopping rule prunes a trial at a rung where it is worse
 * than the median of the trials before it (median) or not in the best
 * 1/eta (hyperband, asynchronous successive halving). A trial that reaches
 * maxSteps is complete and stopped. The best completed trial is the
 * sweep's best.
 */
#include "hparam/hparam.h"
#include "train/train.h"
#include "tables/hparams.h"
#include "tables/runs.h"
#include "tables/series.h"
#include "tables/sweeps.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 1000

typedef struct sweep {
    struct sweep *next;
    json_t *row; /* {id, orgId, name, spec, state, status, ...} */
    json_t *schema;
    bool dirty;
} sweep_t;

struct ad_train_sweeps {
    uv_loop_t *loop;
    ad_store_t *store;
    ad_runner_t *runner;
    ad_train_t *train; /* whose tap feeds ad_train_sweeps_point, or NULL */
    ad_train_publish_fn publish;
    ad_train_gpus_fn gpus;
    void *ud;
    sweep_t *list;
    uv_timer_t tick, kick;
    bool closing;
    int handles;
    int pending; /* trial starts whose callbacks have not come back */
};

static void on_tick(uv_timer_t *h);

/* The engine's memory goes when its timers are closed and no start is
 * under way. */
static void maybe_free(ad_train_sweeps_t *sw)
{
    if (sw->closing && sw->handles == 0 && sw->pending == 0) {
        free(sw);
    }
}

static json_t *spec_of(sweep_t *s)
{
    return json_object_get(s->row, "spec");
}

static json_t *state_of(sweep_t *s)
{
    return json_object_get(s->row, "state");
}

static json_t *trials_of(sweep_t *s)
{
    return json_object_get(state_of(s), "trials");
}

static const char *tstatus(json_t *t)
{
    const char *st = json_string_value(json_object_get(t, "status"));
    return st != NULL ? st : "";
}

static void set_status(json_t *t, const char *st)
{
    json_object_set_new(t, "status", json_string(st));
}

static bool maximize(sweep_t *s)
{
    const char *g =
        json_string_value(json_object_get(json_object_get(spec_of(s), "metric"), "goal"));
    return g == NULL || strcmp(g, "minimize") != 0;
}

static bool better(sweep_t *s, double a, double b)
{
    return maximize(s) ? a > b : a < b;
}

static void kick(ad_train_sweeps_t *sw)
{
    if (!sw->closing) {
        uv_timer_start(&sw->kick, on_tick, 0, 0);
    }
}

/* ---- saving ---------------------------------------------------------------------------- */

static void saved(int rc, json_t *row, void *ud)
{
    ad_train_sweeps_t *sw = ud;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "train", "sweep not saved: %s", ad_strerror(rc));
    } else if (sw->publish != NULL && !sw->closing) {
        json_t *p = json_pack("{s:O}", "sweep", row);
        sw->publish(sw->ud, "sweep_update", p, json_string_value(json_object_get(row, "orgId")),
                    NULL, NULL);
        json_decref(p);
    }
    json_decref(row);
}

static void save(ad_train_sweeps_t *sw, sweep_t *s)
{
    if (!s->dirty || sw->closing) {
        return;
    }
    s->dirty = false;
    json_t *args =
        json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:I}", "id", json_object_get(s->row, "id"),
                  "orgId", json_object_get(s->row, "orgId"), "name",
                  json_object_get(s->row, "name"), "spec", spec_of(s), "state", state_of(s),
                  "status", json_object_get(s->row, "status"), "now", (json_int_t)ad_wall_ms());
    /* The writer thread writes the job's args out while this thread goes on
     * changing the sweep (its state's trials): the job gets its own copy.
     * With the live objects, ASan saw the writer read a string this thread
     * had freed (tests/e2e/sweeps.test.js). */
    json_t *own = json_deep_copy(args);
    json_decref(args);
    ad_store_write(sw->store, ad_store_op_sweep_put, own, saved, sw);
}

/* ---- points: rungs and pruning ----------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Whether trial t's value v at rung r should stop it, against the other
 * trials' values there. */
static bool prune(sweep_t *s, json_t *t, const char *rung, double v)
{
    json_t *es = json_object_get(spec_of(s), "earlyStop");
    const char *type = json_string_value(json_object_get(es, "type"));
    double others[1000];
    size_t n = 0;
    size_t i;
    json_t *o;
    json_array_foreach(trials_of(s), i, o)
    {
        json_t *x = json_object_get(json_object_get(o, "rungs"), rung);
        if (o != t && json_is_number(x) && n < 1000) {
            others[n++] = json_number_value(x);
        }
    }
    if (strcmp(type, "median") == 0) {
        if (n < 3) {
            return false;
        }
        qsort(others, n, sizeof(double), cmp_double);
        double med = n % 2 ? others[n / 2] : (others[n / 2 - 1] + others[n / 2]) / 2;
        return better(s, med, v);
    }
    /* hyperband: kept when among the best 1/eta of everyone at this rung */
    int64_t eta = json_integer_value(json_object_get(es, "eta"));
    if ((int64_t)n + 1 < eta) {
        return false;
    }
    size_t ahead = 0;
    for (size_t k = 0; k < n; k++) {
        ahead += better(s, others[k], v);
    }
    size_t keep = (n + 1) / (size_t)eta;
    return ahead >= (keep > 0 ? keep : 1);
}

/* The rung steps up to step: minSteps * k (median) or minSteps * eta^k. */
static void rungs(sweep_t *s, json_t *t, int64_t step, double v)
{
    json_t *es = json_object_get(spec_of(s), "earlyStop");
    if (es == NULL) {
        return;
    }
    bool median = strcmp(json_string_value(json_object_get(es, "type")), "median") == 0;
    int64_t min = json_integer_value(json_object_get(es, "minSteps"));
    int64_t eta = json_integer_value(json_object_get(es, "eta"));
    json_t *rs = json_object_get(t, "rungs");
    if (!json_is_object(rs)) {
        rs = json_object();
        json_object_set_new(t, "rungs", rs);
    }
    for (int64_t r = min, k = 0; r <= step && k < 64; k++, r = median ? r + min : r * eta) {
        char key[32];
        snprintf(key, sizeof(key), "%lld", (long long)r);
        if (json_object_get(rs, key) != NULL) {
            continue;
        }
        json_object_set_new(rs, key, json_real(v));
        const char *st = tstatus(t);
        if ((strcmp(st, "running") == 0 || strcmp(st, "starting") == 0) && prune(s, t, key, v)) {
            set_status(t, "pruning"); /* stopped by the next tick */
            json_object_set_new(t, "prunedAt", json_integer(r));
            return;
        }
    }
}

void ad_train_sweeps_point(ad_train_sweeps_t *sw, const char *agent_id, const char *run_id,
                           const char *name, bool has_step, int64_t step, double v)
{
    if (sw == NULL || !has_step || !isfinite(v)) {
        return;
    }
    for (sweep_t *s = sw->list; s != NULL; s = s->next) {
        const char *metric =
            json_string_value(json_object_get(json_object_get(spec_of(s), "metric"), "name"));
        size_t i;
        json_t *t;
        json_array_foreach(trials_of(s), i, t)
        {
            /* by agent: a trial's first points may come before its run id is known */
            const char *a = json_string_value(json_object_get(t, "agentId"));
            if (a == NULL || agent_id == NULL || strcmp(a, agent_id) != 0 ||
                strcmp(metric, name) != 0) {
                continue;
            }
            if (json_object_get(t, "runId") == NULL && run_id != NULL) {
                json_object_set_new(t, "runId", json_string(run_id));
            }
            json_object_set_new(t, "lastStep", json_integer(step));
            json_object_set_new(t, "value", json_real(v));
            rungs(s, t, step, v);
            int64_t max = json_integer_value(json_object_get(spec_of(s), "maxSteps"));
            const char *st = tstatus(t);
            if (max > 0 && step >= max - 1 &&
                (strcmp(st, "running") == 0 || strcmp(st, "starting") == 0)) {
                set_status(t, "completing");
            }
            s->dirty = true;
            kick(sw);
            return;
        }
    }
}

/* ---- starting trials ---------------------------------------------------------------------- */

typedef struct {
    ad_train_sweeps_t *sw;
    char sweep_id[AD_ID_MAX];
    size_t n;
} start_t;

static sweep_t *find(ad_train_sweeps_t *sw, const char *id)
{
    for (sweep_t *s = sw->list; s != NULL; s = s->next) {
        if (strcmp(json_string_value(json_object_get(s->row, "id")), id) == 0) {
            return s;
        }
    }
    return NULL;
}

static json_t *trial_n(sweep_t *s, size_t n)
{
    return json_array_get(trials_of(s), n);
}

static void trial_failed(sweep_t *s, json_t *t, const char *why)
{
    set_status(t, "failed");
    json_object_set_new(t, "error", json_string(why));
    s->dirty = true;
}

static void started(int rc, json_t *result, const char *msg, void *ud)
{
    AD_UNUSED(result);
    start_t *st = ud;
    sweep_t *s = st->sw->closing ? NULL : find(st->sw, st->sweep_id);
    json_t *t = s != NULL ? trial_n(s, st->n) : NULL;
    if (t != NULL) {
        json_t *runs = NULL;
        const char *agent = json_string_value(json_object_get(t, "agentId"));
        if (rc == 0 && ad_store_run_list(st->sw->store, agent, 1, &runs) == 0 &&
            json_array_size(json_object_get(runs, "runs")) > 0) {
            json_object_set(
                t, "runId",
                json_object_get(json_array_get(json_object_get(runs, "runs"), 0), "id"));
            if (strcmp(tstatus(t), "starting") == 0) { /* its points may have moved it on */
                set_status(t, "running");
            }
            s->dirty = true;
        } else {
            trial_failed(s, t, msg != NULL ? msg : "the trial did not start");
        }
        json_decref(runs);
        kick(st->sw);
    }
    ad_train_sweeps_t *sw = st->sw;
    free(st);
    sw->pending--;
    maybe_free(sw);
}

static void agent_made(int rc, json_t *result, void *ud)
{
    start_t *st = ud;
    json_decref(result);
    ad_train_sweeps_t *sw = st->sw;
    sweep_t *s = sw->closing ? NULL : find(sw, st->sweep_id);
    json_t *t = s != NULL ? trial_n(s, st->n) : NULL;
    if (t == NULL) {
        free(st);
        sw->pending--;
        maybe_free(sw);
        return;
    }
    json_t *spec = spec_of(s);
    char err[256] = "";
    ad_run_config_t cfg = {.record = json_pack("{s:s, s:s, s:O, s:O}", "id", "", "name",
                                               json_string_value(json_object_get(t, "name")),
                                               "schemaId", json_object_get(spec, "schemaId"),
                                               "values", json_object_get(t, "values")),
                           .schema = s->schema,
                           .flags = json_is_true(json_object_get(spec, "configFlags"))};
    int r = rc != 0 ? rc
                    : ad_runner_start_cfg(st->sw->runner,
                                          json_string_value(json_object_get(t, "agentId")), NULL,
                                          &cfg, started, st, err, sizeof(err));
    json_decref(cfg.record);
    if (r != 0) {
        trial_failed(s, t, err[0] ? err : ad_strerror(r));
        free(st);
        sw->pending--;
        kick(sw);
    }
}

/* The GPU a new trial gets: the one fewest running trials have, or -1. */
static int pick_gpu(ad_train_sweeps_t *sw, json_t *state)
{
    char why[256] = "";
    int n = sw->gpus != NULL ? sw->gpus(sw->ud, why, sizeof(why)) : 0;
    json_object_set_new(
        state, "gpus",
        n > 0 ? json_pack("{s:b, s:i}", "available", true, "count", n)
              : json_pack("{s:b, s:s}", "available", false, "reason", why[0] ? why : "no GPU"));
    if (n <= 0) {
        return -1;
    }
    int used[64] = {0};
    for (sweep_t *s = sw->list; s != NULL; s = s->next) {
        size_t i;
        json_t *t;
        json_array_foreach(trials_of(s), i, t)
        {
            json_t *g = json_object_get(t, "gpu");
            const char *st = tstatus(t);
            if (json_is_integer(g) && json_integer_value(g) < 64 && json_integer_value(g) >= 0 &&
                (strcmp(st, "running") == 0 || strcmp(st, "starting") == 0)) {
                used[json_integer_value(g)]++;
            }
        }
    }
    int best = 0;
    for (int i = 1; i < n && i < 64; i++) {
        best = used[i] < used[best] ? i : best;
    }
    return best;
}

/* Makes trial n's agent (the template's command, worktree and
 * environment) and then starts it. */
static void start_trial(ad_train_sweeps_t *sw, sweep_t *s, json_t *t, size_t n)
{
    json_t *tmpl = NULL;
    const char *tid = json_string_value(json_object_get(spec_of(s), "agentId"));
    if (ad_store_agent_get(sw->store, tid, &tmpl) != 0) {
        trial_failed(s, t, "the template agent is gone");
        return;
    }
    json_t *state = json_object_get(tmpl, "state");
    json_t *env = json_is_object(json_object_get(state, "env"))
                      ? json_deep_copy(json_object_get(state, "env"))
                      : json_object();
    int gpu = pick_gpu(sw, state_of(s));
    if (gpu >= 0) {
        char g[16];
        snprintf(g, sizeof(g), "%d", gpu);
        json_object_set_new(env, "CUDA_VISIBLE_DEVICES", json_string(g));
        json_object_set_new(t, "gpu", json_integer(gpu));
    }
    char id[AD_ID_MAX];
    ad_id_new("ag", id);
    json_object_set_new(t, "agentId", json_string(id));
    json_t *args = json_pack(
        "{s:s, s:O, s:O, s:s, s:s, s:O, s:O, s:I, s:{s:O, s:o, s:O}}", "id", id, "worktreeId",
        json_object_get(tmpl, "worktreeId"), "name", json_object_get(t, "name"), "executor",
        "command", "status", "finished", "mode", json_object_get(tmpl, "mode"), "permissions",
        json_object_get(tmpl, "permissions"), "now", (json_int_t)ad_wall_ms(), "state", "command",
        json_object_get(state, "command"), "env", env, "sweepId", json_object_get(s->row, "id"));
    json_decref(tmpl);
    if (args == NULL) {
        trial_failed(s, t, "the template agent is not a command agent");
        return;
    }
    start_t *st = ad_xcalloc(1, sizeof(*st));
    st->sw = sw;
    st->n = n;
    snprintf(st->sweep_id, sizeof(st->sweep_id), "%s",
             json_string_value(json_object_get(s->row, "id")));
    sw->pending++;
    ad_store_write(sw->store, ad_store_op_agent_insert, args, agent_made, st);
}

/* The finished trials' values, best first (TPE's history). */
static json_t *history(sweep_t *s)
{
    json_t *done = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(trials_of(s), i, t)
    {
        if (json_is_number(json_object_get(t, "final"))) {
            json_array_append(done, t);
        }
    }
    /* insertion sort by final: the list is small */
    size_t n = json_array_size(done);
    for (size_t a = 1; a < n; a++) {
        for (size_t b = a; b > 0; b--) {
            double x = json_number_value(json_object_get(json_array_get(done, b), "final"));
            double y = json_number_value(json_object_get(json_array_get(done, b - 1), "final"));
            if (!better(s, x, y)) {
                break;
            }
            json_t *tmp = json_incref(json_array_get(done, b));
            json_array_set(done, b, json_array_get(done, b - 1));
            json_array_set_new(done, b - 1, tmp);
        }
    }
    json_t *vals = json_array();
    json_array_foreach(done, i, t)
    {
        json_array_append(vals, json_object_get(t, "values"));
    }
    json_decref(done);
    return vals;
}

/* ---- the tick
 * ------------------------------------------------------------------------------------ */

/* A trial whose run ended: its final value (the metric's last), its end. */
static void trial_ended(ad_train_sweeps_t *sw, sweep_t *s, json_t *t, const char *run_status)
{
    const char *st = tstatus(t);
    json_t *series = NULL;
    const char *metric =
        json_string_value(json_object_get(json_object_get(spec_of(s), "metric"), "name"));
    if (ad_store_series_list(sw->store, json_string_value(json_object_get(t, "runId")), &series) ==
        0) {
        size_t i;
        json_t *x;
        json_array_foreach(series, i, x)
        {
            if (strcmp(json_string_value(json_object_get(x, "name")), metric) == 0) {
                json_object_set(t, "value", json_object_get(x, "lastValue"));
                json_object_set(t, "lastStep", json_object_get(x, "lastStep"));
            }
        }
    }
    json_decref(series);
    if (strcmp(st, "pruned") != 0) {
        bool ok = strcmp(st, "completed") == 0 || strcmp(run_status, "succeeded") == 0;
        set_status(t, ok ? "completed" : strcmp(st, "stopped") == 0 ? "stopped" : "failed");
    }
    if (strcmp(tstatus(t), "completed") == 0 && json_is_number(json_object_get(t, "value"))) {
        json_object_set(t, "final", json_object_get(t, "value"));
    }
    s->dirty = true;
}

static void best_of(sweep_t *s)
{
    json_t *best = NULL;
    size_t i;
    json_t *t;
    json_array_foreach(trials_of(s), i, t)
    {
        json_t *f = json_object_get(t, "final");
        if (json_is_number(f) &&
            (best == NULL ||
             better(s, json_number_value(f), json_number_value(json_object_get(best, "final"))))) {
            best = t;
        }
    }
    if (best != NULL) {
        json_object_set_new(
            state_of(s), "best",
            json_pack("{s:O, s:O, s:O, s:O, s:O}", "trial", json_object_get(best, "n"), "runId",
                      json_object_get(best, "runId"), "agentId", json_object_get(best, "agentId"),
                      "value", json_object_get(best, "final"), "values",
                      json_object_get(best, "values")));
    }
}

static void step_sweep(ad_train_sweeps_t *sw, sweep_t *s)
{
    json_t *spec = spec_of(s), *state = state_of(s);
    int64_t parallel = json_integer_value(json_object_get(spec, "parallel"));
    int64_t budget = json_integer_value(json_object_get(spec, "budget"));
    bool stopping = strcmp(json_string_value(json_object_get(s->row, "status")), "stopped") == 0;
    int64_t live = 0;
    size_t i;
    json_t *t;
    json_array_foreach(trials_of(s), i, t)
    {
        const char *st = tstatus(t);
        const char *agent = json_string_value(json_object_get(t, "agentId"));
        bool stop_now = strcmp(st, "pruning") == 0 || strcmp(st, "completing") == 0 ||
                        (stopping && (strcmp(st, "running") == 0));
        if (stop_now) {
            set_status(t, strcmp(st, "pruning") == 0      ? "pruned"
                          : strcmp(st, "completing") == 0 ? "completed"
                                                          : "stopped");
            s->dirty = true;
            if (ad_runner_stop(sw->runner, agent, false, NULL, NULL) == AD_ENOENT) {
                trial_ended(sw, s, t, "stopped");
                continue;
            }
        }
        st = tstatus(t);
        const char *run_id = json_string_value(json_object_get(t, "runId"));
        if (run_id != NULL && json_object_get(t, "ended") == NULL &&
            (strcmp(st, "running") == 0 || strcmp(st, "pruned") == 0 ||
             strcmp(st, "completed") == 0 || strcmp(st, "stopped") == 0)) {
            json_t *run = NULL;
            if (ad_store_run_get(sw->store, run_id, &run) == 0) {
                const char *rs = json_string_value(json_object_get(run, "status"));
                if (rs != NULL && strcmp(rs, "running") != 0) {
                    json_object_set_new(t, "ended", json_true());
                    trial_ended(sw, s, t, rs);
                }
            }
            json_decref(run);
        }
        st = tstatus(t);
        live += strcmp(st, "running") == 0 || strcmp(st, "starting") == 0 ||
                ((strcmp(st, "pruned") == 0 || strcmp(st, "completed") == 0 ||
                  strcmp(st, "stopped") == 0) &&
                 json_object_get(t, "ended") == NULL && run_id != NULL);
    }
    int64_t made = (int64_t)json_array_size(trials_of(s));
    while (!stopping && live < parallel && made < budget) {
        uint64_t rng = (uint64_t)json_integer_value(json_object_get(state, "rng"));
        json_t *hist = history(s);
        json_t *values = ad_train_sweep_propose(spec, s->schema, (size_t)made, hist, &rng);
        json_decref(hist);
        json_object_set_new(state, "rng", json_integer((json_int_t)rng));
        ad_hparam_err_t herr;
        json_t *all = ad_hparam_values(s->schema, NULL, values, &herr);
        char name[300];
        snprintf(name, sizeof(name), "%s #%lld", json_string_value(json_object_get(s->row, "name")),
                 (long long)made + 1);
        json_t *trial = json_pack("{s:I, s:s, s:s, s:o}", "n", (json_int_t)made, "name", name,
                                  "status", "starting", "params", values);
        json_array_append_new(trials_of(s), trial);
        s->dirty = true;
        if (all == NULL) {
            trial_failed(s, trial, herr.reason);
        } else {
            json_object_set_new(trial, "values", all);
            start_trial(sw, s, trial, (size_t)made);
            live++;
        }
        made++;
    }
    json_object_set_new(state, "started", json_integer(made));
    if (live == 0 && (made >= budget || stopping)) {
        json_object_set_new(s->row, "status", json_string(stopping ? "stopped" : "done"));
        s->dirty = true;
    }
    best_of(s);
}

static void on_tick(uv_timer_t *h)
{
    ad_train_sweeps_t *sw = h->data;
    for (sweep_t **pp = &sw->list; *pp != NULL;) {
        sweep_t *s = *pp;
        step_sweep(sw, s);
        save(sw, s);
        const char *status = json_string_value(json_object_get(s->row, "status"));
        if (strcmp(status, "running") != 0) {
            *pp = s->next; /* over: the row has the rest */
            json_decref(s->row);
            json_decref(s->schema);
            free(s);
            continue;
        }
        pp = &s->next;
    }
}

/* ---- life
 * ---------------------------------------------------------------------------------------- */

static json_t *schema_of(ad_store_t *store, const char *id)
{
    json_t *b = ad_hparam_builtin(id);
    if (b != NULL) {
        return json_incref(b);
    }
    json_t *s = NULL;
    return ad_store_cfg_schema_get(store, id, &s) == 0 ? s : NULL;
}

int ad_train_sweep_add(ad_train_sweeps_t *sw, const json_t *row)
{
    json_t *schema = schema_of(
        sw->store, json_string_value(json_object_get(json_object_get(row, "spec"), "schemaId")));
    if (schema == NULL) {
        return AD_ENOENT;
    }
    sweep_t *s = ad_xcalloc(1, sizeof(*s));
    s->row = json_deep_copy(row);
    s->schema = schema;
    if (!json_is_array(trials_of(s))) {
        json_object_set_new(state_of(s), "trials", json_array());
    }
    s->next = sw->list;
    sw->list = s;
    kick(sw);
    return 0;
}

int ad_train_sweep_stop(ad_train_sweeps_t *sw, const char *id)
{
    sweep_t *s = find(sw, id);
    if (s == NULL) {
        return AD_ENOENT;
    }
    json_object_set_new(s->row, "status", json_string("stopped"));
    s->dirty = true;
    kick(sw);
    return 0;
}

/* The alert engine's tap: every point it sees. */
static void point_tap(void *ud, const char *agent_id, const char *run_id, const char *name,
                      bool has_step, int64_t step, double v)
{
    ad_train_sweeps_point(ud, agent_id, run_id, name, has_step, step, v);
}

ad_train_sweeps_t *ad_train_sweeps_new(uv_loop_t *loop, ad_store_t *store, ad_runner_t *runner,
                                       ad_train_t *train, ad_train_publish_fn publish,
                                       ad_train_gpus_fn gpus, void *ud)
{
    ad_train_sweeps_t *sw = ad_xcalloc(1, sizeof(*sw));
    sw->loop = loop;
    sw->store = store;
    sw->runner = runner;
    sw->publish = publish;
    sw->gpus = gpus;
    sw->ud = ud;
    uv_timer_init(loop, &sw->tick);
    uv_timer_init(loop, &sw->kick);
    sw->tick.data = sw;
    sw->kick.data = sw;
    sw->handles = 2;
    uv_timer_start(&sw->tick, on_tick, TICK_MS, TICK_MS);
    uv_unref((uv_handle_t *)&sw->tick);
    json_t *rows = NULL;
    if (ad_store_sweep_list(store, "", true, &rows) == 0) {
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            if (ad_train_sweep_add(sw, row) != 0) {
                ad_log(AD_LOG_WARN, "train", "sweep %s: its schema is gone",
                       json_string_value(json_object_get(row, "id")));
            }
        }
    }
    json_decref(rows);
    if (train != NULL) {
        sw->train = train;
        ad_train_set_tap(train, point_tap, sw);
    }
    return sw;
}

static void on_closed(uv_handle_t *h)
{
    ad_train_sweeps_t *sw = h->data;
    sw->handles--;
    maybe_free(sw);
}

void ad_train_sweeps_close(ad_train_sweeps_t *sw)
{
    if (sw == NULL) {
        return;
    }
    if (sw->train != NULL) {
        ad_train_set_tap(sw->train, NULL, NULL);
    }
    for (sweep_t *s = sw->list; s != NULL; s = s->next) {
        save(sw, s); /* the last points' rungs */
    }
    sw->closing = true;
    while (sw->list != NULL) {
        sweep_t *s = sw->list;
        sw->list = s->next;
        json_decref(s->row);
        json_decref(s->schema);
        free(s);
    }
    uv_close((uv_handle_t *)&sw->tick, on_closed);
    uv_close((uv_handle_t *)&sw->kick, on_closed);
}
