/* SPDX-License-Identifier: MIT */
/*
 * The sampler's feed (moved from src/api/health.c): which processes to
 * measure (the runner's, not those on worker nodes), the services' figures,
 * each sample's records to the store's writer (trimming the history by age
 * and bytes), system_health events at --health-event-interval-ms, and the
 * GPUs' state to the alert engine.
 */
#include "monitor/monitor_int.h"
#include "compat/compat.h"
#include "proc/proc.h"
#include "run/run.h"
#include "store/store.h"
#include "tables/health.h"
#include "tables/settings.h"
#include "svc/svc.h"
#include "train/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ad_health_target_t *out;
    size_t n, max;
} targets_ctx_t;

static void add_target(const char *agent_id, const char *run_id, const char *org,
                       const ad_proc_t *proc, void *ud)
{
    targets_ctx_t *c = ud;
    if (c->n >= c->max || ad_proc_remote(proc)) {
        return; /* a run on a worker node is not measured here (its pid is the node's) */
    }
    ad_health_target_t *t = &c->out[c->n++];
    snprintf(t->agent_id, sizeof(t->agent_id), "%s", agent_id);
    snprintf(t->run_id, sizeof(t->run_id), "%s", run_id);
    snprintf(t->org, sizeof(t->org), "%s", org);
    t->pid = ad_proc_pid(proc);
    const char *cg = ad_proc_cgroup(proc);
    if ((size_t)snprintf(t->cgroup, sizeof(t->cgroup), "%s", cg) >= sizeof(t->cgroup)) {
        t->cgroup[0] = '\0'; /* too long to keep: measured by its session */
    }
}

static size_t targets(ad_health_target_t *out, size_t max, void *ud)
{
    ad_monitor_t *m = ud;
    targets_ctx_t c = {out, 0, max};
    if (*m->o.runner != NULL) {
        ad_runner_each(*m->o.runner, add_target, &c);
    }
    return c.n;
}

typedef struct {
    ad_health_service_t *out;
    size_t n, max;
} services_ctx_t;

static bool figure(json_t *figures, const char *key, double *out)
{
    json_t *v = json_object_get(figures, key);
    if (!json_is_number(v)) {
        return false;
    }
    *out = json_number_value(v);
    return true;
}

static void add_service(const char *id, const char *org, const char *name, bool known, bool healthy,
                        json_t *figures, void *ud)
{
    AD_UNUSED(id);
    AD_UNUSED(org);
    AD_UNUSED(name);
    services_ctx_t *c = ud;
    if (c->n >= c->max) {
        return;
    }
    ad_health_service_t *v = &c->out[c->n++];
    memset(v, 0, sizeof(*v));
    v->health_known = known;
    v->healthy = healthy;
    v->has_fps = figure(figures, "fps", &v->fps);
    v->has_latency = figure(figures, "latency", &v->latency_ms);
    v->has_pcie = figure(figures, "pcieBandwidth", &v->pcie_gbps);
}

static size_t services(ad_health_service_t *out, size_t max, void *ud)
{
    ad_monitor_t *m = ud;
    services_ctx_t c = {out, 0, max};
    ad_services_each(*m->o.services, add_service, &c);
    return c.n;
}

/* A chunk of the history goes to the store's writer (copied there); every
 * tenth host chunk also trims the history by age and bytes. */
static void put_chunk(const char *run_id, int64_t t0, int64_t t1, size_t n, const void *data,
                      size_t len, void *ud)
{
    ad_monitor_t *m = ud;
    if (*m->o.store == NULL) {
        return;
    }
    ad_store_hchunk_t c = {.run_id = run_id, .t0 = t0, .t1 = t1, .n = n, .data = data, .len = len};
    int64_t min_t = 0;
    uint64_t max_bytes = 0;
    if (run_id[0] == '\0' && m->puts++ % 10 == 0) {
        min_t = ad_wall_ms() - (int64_t)m->o.cfg->health_retention_seconds * 1000;
        max_bytes = m->o.cfg->health_retention_bytes;
    }
    ad_store_health_put(*m->o.store, &c, 1, min_t, max_bytes);
}

void ad_monitor_flush(ad_monitor_t *m)
{
    if (m != NULL && m->pend != NULL && *m->o.store != NULL) {
        ad_health_pend_take(m->pend, put_chunk, m);
    }
}

static void on_sample(const ad_health_sample_t *s, void *ud)
{
    ad_monitor_t *m = ud;
    if (m->pend != NULL && *m->o.store != NULL) {
        /* the runs on worker nodes beside the ones measured here */
        ad_health_agent_t *remote = ad_xcalloc(AD_HEALTH_MAX_AGENTS, sizeof(*remote));
        size_t n = ad_monitor_remote(m, remote, AD_HEALTH_MAX_AGENTS);
        ad_health_pend_add(m->pend, s, remote, n, put_chunk, m);
        free(remote);
    }
    struct ad_train *train = m->o.train != NULL ? *m->o.train : NULL;
    if (train != NULL) {
        char why[256];
        bool throttled = ad_health_gpu_throttled(s, why, sizeof(why));
        ad_train_gpu(train, throttled, why);
    }
    uint64_t every = m->o.cfg->health_event_interval_ms;
    if (every == 0 || m->o.bus == NULL) {
        return;
    }
    uint64_t now = ad_mono_ns() / 1000000u;
    /* a little early is on time: ticks drift by a few ms */
    if (m->event_ms != 0 && now + 50 < m->event_ms + every) {
        return;
    }
    m->event_ms = now;
    json_t *p = ad_compat_health_event(s);
    const char *topic = "system";
    ad_bus_publish(m->o.bus, "system_health", &topic, 1, p);
    json_decref(p);
}

void ad_monitor_apply_settings(ad_monitor_t *m, const json_t *settings)
{
    if (m == NULL || m->health == NULL || settings == NULL) {
        return;
    }
    ad_health_thresholds_t t = *ad_health_thresholds(m->health);
    ad_health_thresholds_from(&t, settings);
    ad_health_set_thresholds(m->health, &t);
}

ad_monitor_t *ad_monitor_new(const ad_monitor_opts_t *o)
{
    ad_monitor_t *m = ad_xcalloc(1, sizeof(*m));
    m->o = *o;
    const ad_config_t *cfg = o->cfg;
    char hist[4200];
    snprintf(hist, sizeof(hist), "%s/health-history", cfg->data_dir);
    ad_health_opts_t ho = {.data_dir = cfg->data_dir,
                           .history_path = cfg->data_dir[0] != '\0' ? hist : NULL,
                           .nvml_lib = cfg->nvml_lib,
                           .interval_ms = cfg->health_interval_ms,
                           .targets = targets,
                           .services = services,
                           .on_sample = on_sample,
                           .ud = m};
    m->pend = *o->store != NULL ? ad_health_pend_new() : NULL;
    m->health = ad_health_new(o->loop, &ho);
    json_t *settings = NULL;
    if (*o->store != NULL && ad_store_settings_get(*o->store, &settings) == 0) {
        ad_monitor_apply_settings(m, settings);
        json_decref(settings);
    }
    return m;
}

ad_health_t *ad_monitor_health(const ad_monitor_t *m)
{
    return m != NULL ? m->health : NULL;
}

void ad_monitor_free(ad_monitor_t *m)
{
    if (m == NULL) {
        return;
    }
    ad_health_close(m->health);
    m->health = NULL;
    ad_health_pend_free(m->pend);
    m->pend = NULL;
    json_decref(m->requirements);
    m->requirements = NULL;
    if (m->reads > 0) {
        m->closed = true; /* the last read frees it */
        return;
    }
    free(m);
}

int ad_monitor_prom(const ad_monitor_t *m, const ad_health_t *h, ad_buf_t *b, const char *org)
{
    ad_health_agent_t *remote = ad_xcalloc(AD_HEALTH_MAX_AGENTS, sizeof(*remote));
    size_t nremote = ad_monitor_remote(m, remote, AD_HEALTH_MAX_AGENTS);
    int rc = ad_health_prom_all(h, b, org, remote, nremote);
    free(remote);
    return rc;
}
