/* SPDX-License-Identifier: MIT */
/*
 * The health history on disk (issue #35), the health side: each sample's
 * records gathered into chunks (the host's and each measured run's) until
 * a chunk period is over, then handed out to be stored (the wiring hands
 * them to the store's writer, src/tables/health.c keeps the blobs); and the
 * stored chunks read back into buckets of a time range (mean and max, so a
 * spike shorter than a bucket still shows). The records are packed in this
 * machine's byte order: the database is this machine's own.
 */
#include "health/health_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RUN_SERIES 3
static const char *const run_series_names[RUN_SERIES] = {"cpu", "rss", "gpuMem"};

typedef struct {
    char run_id[AD_ID_MAX];
    bool seen; /* measured in the current chunk period */
    size_t n;
    int64_t t0, t1;
    uint8_t data[AD_HEALTH_CHUNK_RECS * AD_HEALTH_RUN_REC];
} pend_run_t;

struct ad_health_pend {
    size_t n;
    int64_t t0, t1;
    uint8_t data[AD_HEALTH_CHUNK_RECS * AD_HEALTH_HOST_REC];
    pend_run_t *runs[AD_HEALTH_MAX_AGENTS]; /* allocated as runs are first seen */
    size_t nruns;
};

ad_health_pend_t *ad_health_pend_new(void)
{
    return ad_xcalloc(1, sizeof(ad_health_pend_t));
}

void ad_health_pend_free(ad_health_pend_t *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t i = 0; i < p->nruns; i++) {
        free(p->runs[i]);
    }
    free(p);
}

static pend_run_t *run_slot(ad_health_pend_t *p, const char *run_id)
{
    for (size_t i = 0; i < p->nruns; i++) {
        if (strcmp(p->runs[i]->run_id, run_id) == 0) {
            return p->runs[i];
        }
    }
    if (p->nruns == AD_HEALTH_MAX_AGENTS) {
        return NULL;
    }
    pend_run_t *r = ad_xcalloc(1, sizeof(*r));
    snprintf(r->run_id, sizeof(r->run_id), "%s", run_id);
    p->runs[p->nruns++] = r;
    return r;
}

void ad_health_pend_take(ad_health_pend_t *p, ad_health_chunk_cb cb, void *ud)
{
    if (p->n > 0) {
        cb("", p->t0, p->t1, p->n, p->data, p->n * AD_HEALTH_HOST_REC, ud);
    }
    p->n = 0;
    /* runs not measured in this period are forgotten (ended) */
    size_t keep = 0;
    for (size_t i = 0; i < p->nruns; i++) {
        pend_run_t *r = p->runs[i];
        if (r->n > 0) {
            cb(r->run_id, r->t0, r->t1, r->n, r->data, r->n * AD_HEALTH_RUN_REC, ud);
        }
        if (!r->seen) {
            free(r);
            continue;
        }
        r->n = 0;
        r->seen = false;
        p->runs[keep++] = r;
    }
    p->nruns = keep;
}

static void put_rec(uint8_t *dst, int64_t ts, const float *v, size_t nv)
{
    memcpy(dst, &ts, sizeof(ts));
    memcpy(dst + sizeof(ts), v, nv * sizeof(float));
}

/* A record of each measured run at ts. A run with no process and no
 * memory found was not measured (its tree not found yet, or a node's first
 * figures before its sampler saw the run): it has no record rather than a
 * zero, which the history would draw as a run using nothing. */
static void add_runs(ad_health_pend_t *p, int64_t ts, const ad_health_agent_t *agents, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const ad_health_agent_t *a = &agents[i];
        bool measured = a->nprocs > 0 || a->rss_bytes > 0;
        pend_run_t *r = a->run_id[0] != '\0' && measured ? run_slot(p, a->run_id) : NULL;
        if (r == NULL || r->n == AD_HEALTH_CHUNK_RECS) {
            continue;
        }
        float rv[RUN_SERIES] = {a->has_cpu ? (float)a->cpu_pct : NAN, (float)a->rss_bytes,
                                (float)a->gpu_mem_bytes};
        if (r->n == 0) {
            r->t0 = ts;
        }
        put_rec(r->data + r->n * AD_HEALTH_RUN_REC, ts, rv, RUN_SERIES);
        r->n++;
        r->t1 = ts;
        r->seen = true;
    }
}

void ad_health_pend_add(ad_health_pend_t *p, const ad_health_sample_t *s,
                        const ad_health_agent_t *remote, size_t nremote, ad_health_chunk_cb cb,
                        void *ud)
{
    /* a slow sampler's record would take the chunk past its span: the
     * chunk goes first */
    if (p->n > 0 && s->ts_ms - p->t0 >= AD_HEALTH_CHUNK_SPAN_MS) {
        ad_health_pend_take(p, cb, ud);
    }
    float v[AD_HS_N];
    ad_health_values(s, v);
    if (p->n == 0) {
        p->t0 = s->ts_ms;
    }
    put_rec(p->data + p->n * AD_HEALTH_HOST_REC, s->ts_ms, v, AD_HS_N);
    p->n++;
    p->t1 = s->ts_ms;
    add_runs(p, s->ts_ms, s->agents, s->nagents);
    if (remote != NULL) {
        add_runs(p, s->ts_ms, remote, nremote);
    }
    if (p->n >= AD_HEALTH_CHUNK_RECS) {
        ad_health_pend_take(p, cb, ud);
    }
}

/* ---- reading back ------------------------------------------------------------------- */

typedef struct {
    double sum;
    float max;
    uint32_t n;
} cell_t;

struct ad_health_acc {
    int64_t from, to, width;
    size_t nb;
    char run_id[AD_ID_MAX];
    cell_t *host; /* nb * AD_HS_N */
    cell_t *run;  /* nb * RUN_SERIES, or NULL */
    uint32_t *host_samples, *run_samples;
    int64_t host_last, run_last; /* the newest record added from disk */
};

ad_health_acc_t *ad_health_acc_new(int64_t from, int64_t to, size_t buckets, const char *run_id)
{
    ad_health_acc_t *a = ad_xcalloc(1, sizeof(*a));
    if (buckets < 1) {
        buckets = 1;
    }
    if (buckets > AD_HEALTH_BUCKETS_MAX) {
        buckets = AD_HEALTH_BUCKETS_MAX;
    }
    if (to < from) {
        to = from;
    }
    a->from = from;
    a->to = to;
    a->nb = buckets;
    /* whole milliseconds a bucket, rounded up so the last one reaches to */
    a->width = (to - from) / (int64_t)buckets + 1;
    a->host = ad_xcalloc(buckets * AD_HS_N, sizeof(cell_t));
    a->host_samples = ad_xcalloc(buckets, sizeof(uint32_t));
    a->host_last = INT64_MIN;
    a->run_last = INT64_MIN;
    if (run_id != NULL && run_id[0] != '\0') {
        snprintf(a->run_id, sizeof(a->run_id), "%s", run_id);
        a->run = ad_xcalloc(buckets * RUN_SERIES, sizeof(cell_t));
        a->run_samples = ad_xcalloc(buckets, sizeof(uint32_t));
    }
    return a;
}

void ad_health_acc_free(ad_health_acc_t *a)
{
    if (a == NULL) {
        return;
    }
    free(a->host);
    free(a->run);
    free(a->host_samples);
    free(a->run_samples);
    free(a);
}

/* Adds one record (time, nv floats) to its bucket, if it falls in one. */
static void add_rec(ad_health_acc_t *a, bool run, const uint8_t *rec)
{
    int64_t ts;
    memcpy(&ts, rec, sizeof(ts));
    if (ts < a->from || ts > a->to) {
        return;
    }
    size_t b = (size_t)((ts - a->from) / a->width);
    if (b >= a->nb) {
        b = a->nb - 1;
    }
    size_t nv = run ? RUN_SERIES : AD_HS_N;
    cell_t *row = (run ? a->run : a->host) + b * nv;
    (run ? a->run_samples : a->host_samples)[b]++;
    for (size_t i = 0; i < nv; i++) {
        float x;
        memcpy(&x, rec + sizeof(ts) + i * sizeof(float), sizeof(x));
        if (!isfinite(x)) {
            continue;
        }
        cell_t *c = &row[i];
        if (c->n == 0 || x > c->max) {
            c->max = x;
        }
        c->sum += x;
        c->n++;
    }
}

bool ad_health_acc_chunk(ad_health_acc_t *a, bool run, const void *data, size_t len, size_t n)
{
    size_t rec = run ? AD_HEALTH_RUN_REC : AD_HEALTH_HOST_REC;
    if ((run && a->run == NULL) || n == 0 || n > AD_HEALTH_CHUNK_RECS || len != n * rec) {
        return false;
    }
    const uint8_t *d = data;
    for (size_t k = 0; k < n; k++) {
        add_rec(a, run, d + k * rec);
    }
    int64_t last;
    memcpy(&last, d + (n - 1) * rec, sizeof(last));
    int64_t *mark = run ? &a->run_last : &a->host_last;
    if (last > *mark) {
        *mark = last;
    }
    return true;
}

/* Adds the records of data[0..n) newer than after. */
static void add_newer(ad_health_acc_t *a, bool run, const uint8_t *data, size_t n, int64_t after)
{
    size_t rec = run ? AD_HEALTH_RUN_REC : AD_HEALTH_HOST_REC;
    for (size_t k = 0; k < n; k++) {
        int64_t ts;
        memcpy(&ts, data + k * rec, sizeof(ts));
        if (ts > after) {
            add_rec(a, run, data + k * rec);
        }
    }
}

void ad_health_acc_pending(ad_health_acc_t *a, const ad_health_pend_t *p)
{
    add_newer(a, false, p->data, p->n, a->host_last);
    if (a->run == NULL) {
        return;
    }
    for (size_t i = 0; i < p->nruns; i++) {
        if (strcmp(p->runs[i]->run_id, a->run_id) == 0) {
            add_newer(a, true, p->runs[i]->data, p->runs[i]->n, a->run_last);
        }
    }
}

/* {series: {name: [mean]}, max: {name: [max]}, samples: [n]} of one set. */
static void set_json(json_t *out, const cell_t *cells, const uint32_t *samples, size_t nb,
                     const char *const *names, size_t nv)
{
    json_t *series = json_object(), *maxes = json_object(), *count = json_array();
    for (size_t i = 0; i < nv; i++) {
        json_t *m = json_array(), *x = json_array();
        for (size_t b = 0; b < nb; b++) {
            const cell_t *c = &cells[b * nv + i];
            json_array_append_new(m, c->n > 0 ? json_real(c->sum / c->n) : json_null());
            json_array_append_new(x, c->n > 0 ? json_real(c->max) : json_null());
        }
        json_object_set_new(series, names[i], m);
        json_object_set_new(maxes, names[i], x);
    }
    for (size_t b = 0; b < nb; b++) {
        json_array_append_new(count, json_integer(samples[b]));
    }
    json_object_set_new(out, "samples", count);
    json_object_set_new(out, "series", series);
    json_object_set_new(out, "max", maxes);
}

json_t *ad_health_acc_json(const ad_health_acc_t *a)
{
    json_t *t = json_array();
    for (size_t b = 0; b < a->nb; b++) {
        json_array_append_new(t, json_integer(a->from + (int64_t)b * a->width));
    }
    json_t *out =
        json_pack("{s:I, s:I, s:I, s:I, s:o}", "from", (json_int_t)a->from, "to", (json_int_t)a->to,
                  "bucketCount", (json_int_t)a->nb, "bucketMs", (json_int_t)a->width, "t", t);
    set_json(out, a->host, a->host_samples, a->nb, ad_health_series_names, AD_HS_N);
    if (a->run != NULL) {
        json_t *run = json_pack("{s:s}", "runId", a->run_id);
        set_json(run, a->run, a->run_samples, a->nb, run_series_names, RUN_SERIES);
        json_object_set_new(out, "run", run);
    }
    return out;
}
