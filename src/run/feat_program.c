/* SPDX-License-Identifier: MIT */
/*
 * The program feature (issue #79; metrics issue #16): what a command
 * agent says in its own event lines, {"type":…} on stdout, which the
 * parser gives as AD_REC_EVENT records:
 *   metric / metrics       points of the run's series (metrics_update),
 *                          stored in batches with the loop turn's output
 *   histogram / counts     distributions (dists.c)
 *   agent_update           the program's state (and its training points)
 *   tool_start / _progress / _end  as given, tool_end with a duration
 *
 * Owns (its state, allocated at the run's first such line): the points
 * and distributions read this loop turn, and the tool_start times by id.
 * Hooks: record (AD_REC_EVENT), flush (the points to the store), free.
 */
#include "run/features.h"
#include "tables/series.h"
#include "tables/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    json_t *metric_points; /* metric points read this loop iteration (issue #16) */
    json_t *metric_dists;  /* histograms and counts read with them (checked) */
    /* A program's tool_start times by toolId, so its tool_end gets a
     * duration when it gives none (the oldest let go past 32). */
    struct {
        char id[64];
        uint64_t at_ms;
    } starts[32];
    unsigned nstarts;
} program_t;

static program_t *prog_of(ad_run_t *run)
{
    return ad_run_ctx(run, AD_RUN_FEAT_PROGRAM);
}

/* Metric batches handed to the store and not yet committed (loop thread
 * only; all runs). While AD_RUN_METRIC_JOBS_MAX are out, a run holds its
 * points (the next batch grows instead) up to AD_RUN_METRIC_HOLD_MAX. */
static size_t metric_jobs_out;

static void on_points_stored(int rc, json_t *result, void *ud)
{
    (void)ud;
    metric_jobs_out--;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "run", "metric points not stored: %s", ad_strerror(rc));
    }
    json_decref(result);
}

/* Hands the points read so far to the store in one batch (one writer job,
 * chunked there): never a transaction per point. Unless force, holds them
 * while the writer is behind and the run holds fewer than the cap. */
static void flush_metric_points(ad_run_t *run, bool force)
{
    program_t *pg = ad_run_ctx_peek(run, AD_RUN_FEAT_PROGRAM);
    if (pg == NULL) {
        return;
    }
    size_t n = json_array_size(pg->metric_points), nd = json_array_size(pg->metric_dists);
    if (n + nd == 0) {
        return;
    }
    if (!force && metric_jobs_out >= AD_RUN_METRIC_JOBS_MAX && n < AD_RUN_METRIC_HOLD_MAX &&
        nd < AD_RUN_DIST_HOLD_MAX) {
        return; /* flushed with a later line, or at the run's end */
    }
    json_t *batch = json_pack("{s:s, s:s, s:I, s:o}", "runId", run->run_id, "orgId", run->org_id,
                              "now", (json_int_t)ad_wall_ms(), "points",
                              pg->metric_points != NULL ? pg->metric_points : json_array());
    if (pg->metric_dists != NULL) {
        json_object_set_new(batch, "dists", pg->metric_dists); /* histograms, counts */
    }
    pg->metric_points = NULL;
    pg->metric_dists = NULL;
    metric_jobs_out++;
    ad_store_series_append(run->r->store, batch, on_points_stored, NULL);
}

static void program_flush(ad_run_t *run, bool final)
{
    flush_metric_points(run, final);
}

/* Shows a point to the runner's hook (alerts) as it is read. */
static void hook_point(ad_run_t *run, const char *name, json_t *step, double v)
{
    if (run->r->point_fn != NULL && name != NULL) {
        run->r->point_fn(run->agent_id, run->run_id, run->org_id, name, json_is_integer(step),
                         json_integer_value(step), v, run->r->point_ud);
    }
}

/* Queues a point for the store (flushed with this iteration's output). */
static void keep_point(ad_run_t *run, json_t *pt)
{
    const char *name = json_string_value(json_object_get(pt, "name"));
    json_t *ts = json_object_get(pt, "ts");
    if (name == NULL || name[0] == '\0' || strlen(name) > AD_SERIES_NAME_MAX ||
        !isfinite(json_number_value(json_object_get(pt, "value"))) ||
        (ts != NULL && !json_is_integer(ts))) {
        return; /* the live event still shows it; the store keeps what it can chart */
    }
    hook_point(run, name, json_object_get(pt, "step"),
               json_number_value(json_object_get(pt, "value")));
    program_t *pg = prog_of(run);
    if (pg->metric_points == NULL) {
        pg->metric_points = json_array();
    }
    json_array_append(pg->metric_points, pt);
    if (json_array_size(pg->metric_points) >= AD_RUN_METRIC_BATCH) {
        flush_metric_points(run, false);
    }
    ad_run_want_check(run);
}

void ad_run_keep_dist(ad_run_t *run, json_t *d)
{
    program_t *pg = prog_of(run);
    if (pg->metric_dists == NULL) {
        pg->metric_dists = json_array();
    }
    json_array_append(pg->metric_dists, d);
    if (json_array_size(pg->metric_dists) >= AD_RUN_DIST_BATCH) {
        flush_metric_points(run, false);
    }
    ad_run_want_check(run);
}

static void metric_point(ad_run_t *run, json_t *points, const char *name, json_t *value,
                         json_t *step, json_t *ts)
{
    double v;
    if (!json_is_number(value)) {
        /* NaN or an infinity: shown to the hook (an alert on it), never stored */
        if (ad_json_number_ext(value, &v) && name[0] != '\0' &&
            strlen(name) <= AD_SERIES_NAME_MAX) {
            hook_point(run, name, step, v);
        }
        return;
    }
    json_t *pt = json_pack("{s:s, s:O}", "name", name, "value", value);
    if (json_is_integer(step)) {
        json_object_set(pt, "step", step);
    }
    if (ts != NULL) {
        json_object_set(pt, "ts", ts);
    }
    keep_point(run, pt);
    json_array_append_new(points, pt);
}

/* A command agent's `metric` / `metrics` line: metrics_update. */
static void on_metrics(ad_run_t *run, const char *type, json_t *obj)
{
    json_t *points = json_array();
    json_t *step = json_object_get(obj, "step");
    json_t *ts = json_object_get(obj, "ts");
    if (strcmp(type, "metric") == 0) {
        const char *name = json_string_value(json_object_get(obj, "name"));
        if (name != NULL) {
            metric_point(run, points, name, json_object_get(obj, "value"), step, ts);
        }
    } else {
        json_t *vals = json_object_get(obj, "values");
        if (!json_is_object(vals)) {
            vals = json_object_get(obj, "metrics");
        }
        const char *k;
        json_t *v;
        json_object_foreach(vals, k, v)
        {
            metric_point(run, points, k, v, step, ts);
        }
    }
    ad_run_topics_t t;
    ad_run_topics_copy(&t, &run->topics);
    snprintf(t.t[t.n], sizeof(t.t[0]), "metrics:%s", run->run_id);
    t.v[t.n] = t.t[t.n];
    t.n++;
    ad_run_publish(run->r, &t, "metrics_update",
                   json_pack("{s:s, s:s, s:o}", "agentId", run->agent_id, "runId", run->run_id,
                             "points", points));
}

/* An agent_update's step and metrics {reward, fps, successRate, ...}
 * numbers become points of series of those names. */
static void training_points(ad_run_t *run, json_t *patch)
{
    json_t *m = json_object_get(patch, "metrics");
    json_t *step = json_object_get(patch, "step");
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v)
    {
        if (json_is_number(v)) {
            json_t *pt = json_pack("{s:s, s:O}", "name", k, "value", v);
            if (json_is_integer(step)) {
                json_object_set(pt, "step", step);
            }
            keep_point(run, pt);
            json_decref(pt);
        }
    }
}

/* The toolId of a program's tool event (the seed writes tool_id). */
static const char *tool_id_of(json_t *p)
{
    const char *id = json_string_value(json_object_get(p, "toolId"));
    return id != NULL ? id : json_string_value(json_object_get(p, "tool_id"));
}

/* tool_start: its time, by toolId. tool_end: durationMs always, as the
 * program gave it, from its duration in seconds (the seed's), or measured
 * from its tool_start (durationMeasured: true); 0 with durationMeasured
 * false when there is neither. */
static void tool_timing(ad_run_t *run, const char *type, json_t *p)
{
    const char *id = tool_id_of(p);
    uint64_t now = ad_mono_ns() / 1000000u;
    if (type[5] == 's') {
        program_t *c = prog_of(run);
        size_t n = AD_ARRAY_LEN(c->starts);
        if (id == NULL || strlen(id) >= sizeof(c->starts[0].id)) {
            return;
        }
        if (c->nstarts == n) { /* the oldest start is let go */
            memmove(&c->starts[0], &c->starts[1], (n - 1) * sizeof(c->starts[0]));
            c->nstarts--;
        }
        snprintf(c->starts[c->nstarts].id, sizeof(c->starts[0].id), "%s", id);
        c->starts[c->nstarts++].at_ms = now;
        return;
    }
    int64_t started = -1;
    program_t *c = ad_run_ctx_peek(run, AD_RUN_FEAT_PROGRAM);
    for (unsigned i = 0; c != NULL && id != NULL && i < c->nstarts; i++) {
        if (strcmp(c->starts[i].id, id) == 0) {
            started = (int64_t)c->starts[i].at_ms;
            memmove(&c->starts[i], &c->starts[i + 1], (c->nstarts - i - 1) * sizeof(c->starts[0]));
            c->nstarts--;
            break;
        }
    }
    json_t *ms = json_object_get(p, "durationMs");
    json_t *secs = json_object_get(p, "duration");
    if (json_is_integer(ms) && json_integer_value(ms) >= 0) {
        return;
    }
    if (json_is_number(secs) && json_number_value(secs) >= 0 && json_number_value(secs) < 1e9) {
        json_object_set_new(p, "durationMs",
                            json_integer((json_int_t)(json_number_value(secs) * 1000.0 + 0.5)));
        return;
    }
    json_object_set_new(p, "durationMs",
                        json_integer(started >= 0 ? (json_int_t)(now - (uint64_t)started) : 0));
    json_object_set_new(p, "durationMeasured", json_boolean(started >= 0));
}

/* An AD_REC_EVENT: the program's line (one without a type or an object
 * is dropped, as before). */
static bool program_record(ad_run_t *run, const ad_rec_t *rec)
{
    if (rec->type != AD_REC_EVENT) {
        return false;
    }
    if (rec->subtype == NULL || rec->json == NULL) {
        return true;
    }
    const char *type = rec->subtype;
    json_t *obj = rec->json;
    if (strcmp(type, "metric") == 0 || strcmp(type, "metrics") == 0) {
        on_metrics(run, type, obj);
        return true;
    }
    if (strcmp(type, "histogram") == 0 || strcmp(type, "counts") == 0) {
        ad_run_on_dist(run, type, obj); /* dists.c */
        return true;
    }
    if (strcmp(type, "agent_update") == 0) {
        json_t *patch = json_object_get(obj, "state");
        patch = json_is_object(patch) ? json_deep_copy(patch) : json_deep_copy(obj);
        json_object_del(patch, "type");
        /* the seed's client reads the fields at the top level (payload.step,
         * payload.metrics.reward); state keeps them for ours */
        json_t *ev = json_deep_copy(patch);
        json_object_set_new(ev, "id", json_string(run->agent_id));
        json_object_set(ev, "state", patch);
        /* our dashboard merges only state from these (the program's status
         * "training" is not the agent's) */
        json_object_set_new(ev, "source", json_string("program"));
        ad_run_publish(run->r, &run->topics, "agent_update", ev);
        training_points(run, patch);
        ad_store_agent_runtime_t u = {.context_level = -1, .state_patch = patch};
        ad_run_agent_update(run, &u, NULL, NULL);
        return true;
    }
    /* tool_start / tool_progress / tool_end: as given, with who sent it */
    json_t *p = json_deep_copy(obj);
    json_object_del(p, "type");
    if (json_object_get(p, "agentId") == NULL) {
        json_object_set_new(p, "agentId", json_string(run->agent_id));
    }
    if (json_object_get(p, "runId") == NULL) {
        json_object_set_new(p, "runId", json_string(run->run_id));
    }
    if (run->crew_id[0] != '\0') {
        json_object_set_new(p, "crewId", json_string(run->crew_id)); /* never another crew's */
    }
    if (strcmp(type, "tool_start") == 0 || strcmp(type, "tool_end") == 0) {
        tool_timing(run, type, p);
    }
    json_t *ms = json_object_get(p, "durationMs");
    if (strcmp(type, "tool_end") == 0 && json_is_integer(ms) && json_integer_value(ms) >= 0) {
        ad_store_tool_timed(run->r->store, run->org_id, (int64_t)ad_wall_ms(),
                            json_integer_value(ms));
    }
    ad_run_publish(run->r, &run->topics, type, p);
    return true;
}

static void program_free(ad_run_t *run, void *ctx)
{
    AD_UNUSED(run);
    program_t *pg = ctx;
    json_decref(pg->metric_points);
    json_decref(pg->metric_dists);
}

const ad_run_feature_t ad_run_feat_program = {
    .name = "program",
    .ctx_size = sizeof(program_t),
    .record = program_record,
    .flush = program_flush,
    .free = program_free,
};
