/* SPDX-License-Identifier: MIT */
/*
 * The sampler's history read back from disk (moved from
 * src/api/health.c): the range (a run's life by default when a run is
 * named), the store's chunks decoded into buckets on the pool, what the
 * sampler took since the last chunk went to disk, and the retention.
 */
#include "monitor/monitor_int.h"
#include "store/store.h"
#include "tables/health.h"
#include "tables/runs.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    ad_store_hquery_t q; /* first: the store's done gets &q */
    ad_health_acc_t *acc;
    ad_monitor_t *m;
    ad_monitor_hist_cb done;
    void *ud;
    bool bad; /* a stored chunk that did not decode */
} disk_q_t;

/* Pool thread: one stored chunk into the buckets. */
static void disk_row(bool run, const void *data, size_t len, size_t n, void *ud)
{
    disk_q_t *d = ud;
    if (!ad_health_acc_chunk(d->acc, run, data, len, n)) {
        d->bad = true;
    }
}

static void disk_done(int rc, void *ctx)
{
    disk_q_t *d = ctx;
    if (d->bad) {
        ad_log(AD_LOG_WARN, "health", "a stored history chunk did not decode and was skipped");
    }
    json_t *out = NULL;
    ad_monitor_t *m = d->m;
    if (rc == 0) {
        if (m->pend != NULL) { /* NULL once closed */
            ad_health_acc_pending(d->acc, d->m->pend);
        }
        const ad_config_t *cfg = m->o.cfg;
        out = ad_health_acc_json(d->acc);
        json_object_set_new(out, "source", json_string("disk"));
        json_object_set_new(out, "retention",
                            json_pack("{s:I, s:I}", "seconds",
                                      (json_int_t)cfg->health_retention_seconds, "bytes",
                                      (json_int_t)cfg->health_retention_bytes));
    }
    d->done(rc, out, d->ud);
    ad_health_acc_free(d->acc);
    free(d);
    if (--m->reads == 0 && m->closed) {
        free(m);
    }
}

/* The run's start and end fill what the query left open. */
static void run_range(ad_store_t *st, const char *run_id, ad_monitor_hq_t *q)
{
    json_t *run = NULL;
    if (ad_store_run_get(st, run_id, &run) == 0) {
        int64_t t = 0;
        const char *s = json_string_value(json_object_get(run, "startedAt"));
        if (!q->has_from && s != NULL && ad_time_parse(s, &t) == 0) {
            q->from = t;
            q->has_from = true;
        }
        s = json_string_value(json_object_get(run, "endedAt"));
        if (!q->has_to && s != NULL && ad_time_parse(s, &t) == 0) {
            q->to = t;
            q->has_to = true;
        }
    }
    json_decref(run);
}

int ad_monitor_history(ad_monitor_t *m, const ad_monitor_hq_t *in, ad_monitor_hist_cb done,
                       void *ud, const char **field)
{
    ad_store_t *st = *m->o.store;
    ad_monitor_hq_t q = *in;
    const char *run_id = q.run_id != NULL ? q.run_id : "";
    if (run_id[0] != '\0') {
        run_range(st, run_id, &q);
    }
    if (!q.has_to) {
        q.to = ad_wall_ms();
    }
    if (q.all && !q.has_from) {
        int64_t oldest = 0, newest = 0;
        q.from = ad_store_health_span(st, &oldest, &newest) == 0 ? oldest : q.to - 3600000;
    } else if (!q.has_from) {
        q.from = q.to - 3600000;
    }
    if (q.from > q.to) {
        *field = "from";
        return AD_EINVAL;
    }
    disk_q_t *d = ad_xcalloc(1, sizeof(*d));
    d->m = m;
    d->done = done;
    d->ud = ud;
    d->q.from = q.from;
    d->q.to = q.to;
    d->q.host = true;
    snprintf(d->q.run_id, sizeof(d->q.run_id), "%s", run_id);
    d->q.row = disk_row;
    d->q.ud = d;
    d->acc = ad_health_acc_new(q.from, q.to, q.buckets, d->q.run_id);
    m->reads++;
    ad_store_health_read(st, &d->q, disk_done);
    return 0;
}

/* A time parameter: whole milliseconds since the epoch or RFC 3339. */
static int query_time(const char *s, const char *key, bool *has, int64_t *out, ad_field_err_t *e)
{
    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    if (ad_time_param(s, out) != 0) {
        return ad_field_fail(e, key, "milliseconds since the epoch or an RFC 3339 time");
    }
    *has = true;
    return 0;
}

int ad_monitor_hq_parse(ad_monitor_hq_t *q, const char *(*get)(void *ud, const char *key), void *ud,
                        ad_field_err_t *e)
{
    bool hb = false;
    int64_t buckets = 500;
    q->run_id = get(ud, "runId");
    if (query_time(get(ud, "from"), "from", &q->has_from, &q->from, e) != 0 ||
        query_time(get(ud, "to"), "to", &q->has_to, &q->to, e) != 0 ||
        ad_field_query_int(get(ud, "buckets"), "buckets", 1, AD_HEALTH_BUCKETS_MAX, &hb, &buckets,
                           e) != 0) {
        return AD_EINVAL;
    }
    q->buckets = (size_t)buckets;
    return 0;
}

json_t *ad_monitor_recent(const ad_monitor_t *m, const char *range, int *rc, const char **why)
{
    int64_t sec = 3600;
    ad_health_t *h = ad_monitor_health(m);
    if (range != NULL && ad_health_range_parse(range, &sec, why) != 0) {
        *rc = AD_EINVAL;
        return NULL;
    }
    if (h == NULL || ad_health_interval_ms(h) == 0) {
        *rc = AD_ESTATE;
        return NULL;
    }
    json_t *out = ad_health_history_json(h, sec);
    json_object_set_new(out, "range", json_string(range != NULL ? range : "1h"));
    *rc = 0;
    return out;
}
