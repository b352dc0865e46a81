/* SPDX-License-Identifier: MIT */
/*
 * GET /api/health and /api/health/history: what the daemon is, how it
 * keeps its agents in check (a cgroup per run, or the subreaper and
 * process groups and why), and what the machine and each agent are using
 * (src/health's sampler, which this file starts, feeds from the runner and
 * the services and turns into system_health events). Host figures are daemon-wide; the
 * agents listed are the caller's organisation's.
 */
#include "api/api_int.h"
#include "cluster/cluster.h"
#include "health/health.h"
#include "proc/proc.h"
#include "run/run.h"
#include "svc/svc.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

static json_t *containment(const ad_procs_t *procs)
{
    bool memory = false, cpu = false;
    ad_procs_limits(procs, &memory, &cpu);
    bool cg = ad_procs_cgroups(procs);
    return json_pack("{s:s, s:s, s:b, s:b}", "mode", cg ? "cgroup" : "process-group", "detail",
                     ad_procs_containment(procs), "memoryLimits", memory, "cpuLimits", cpu);
}

/* Agent processes an older agentd left running without a holder (issue
 * #15): the caller's organisation's. */
static json_t *orphans(const ad_app_t *app, const char *org)
{
    json_t *out = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(app->runner != NULL ? ad_runner_orphans(app->runner) : NULL, i, o)
    {
        const char *oo = json_string_value(json_object_get(o, "orgId"));
        if (org == NULL || org[0] == '\0' || (oo != NULL && strcmp(oo, org) == 0)) {
            json_array_append(out, o);
        }
    }
    return out;
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    uint64_t now = ad_wall_ms();
    json_t *out = json_pack("{s:s, s:s, s:I}", "status", "ok", "version", AD_VERSION, "uptimeSec",
                            (json_int_t)((now - app->started_ms) / 1000));
    json_object_set_new(out, "processes",
                        json_pack("{s:I, s:o, s:o}", "live", (json_int_t)ad_procs_count(app->procs),
                                  "containment", containment(app->procs), "orphans",
                                  orphans(app, ad_principal_filter(ad_api_who(r)))));
    json_object_set_new(out, "cluster",
                        app->cluster == NULL
                            ? json_pack("{s:b}", "redis", false)
                            : json_pack("{s:b, s:b, s:s}", "redis", true, "connected",
                                        ad_cluster_connected(app->cluster), "node",
                                        ad_cluster_node(app->cluster)));
    /* Runs that cannot go on for now (a full disk, issue #41): the daemon
     * is degraded while there are any, and says why. */
    json_t *stalled = app->runner != NULL
                          ? ad_runner_stalled(app->runner, ad_principal_filter(ad_api_who(r)))
                          : json_array();
    if (json_array_size(stalled) > 0) {
        json_object_set_new(out, "status", json_string("degraded"));
        json_t *why = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(stalled, i, x)
        {
            char text[160];
            snprintf(text, sizeof(text), "run %s stalled: %s",
                     json_string_value(json_object_get(x, "runId")),
                     json_string_value(json_object_get(x, "reason")));
            json_array_append_new(why, json_string(text));
        }
        json_object_set_new(out, "statusReasons", why);
    }
    json_object_set_new(out, "runs", json_pack("{s:o}", "stalled", stalled));
    const ad_health_sample_t *s = app->health != NULL ? ad_health_current(app->health) : NULL;
    json_object_set_new(
        out, "intervalMs",
        json_integer(app->health != NULL ? (json_int_t)ad_health_interval_ms(app->health) : 0));
    if (s != NULL) {
        json_t *h = ad_health_sample_json(s, ad_health_thresholds(app->health),
                                          ad_principal_filter(ad_api_who(r)));
        json_object_update(out, h);
        json_decref(h);
    } else {
        json_object_set_new(out, "sampledAt", json_null());
    }
    ad_res_json(r, 200, out);
}

static void history(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *range = ad_req_query(r, "range");
    int64_t sec = 3600;
    const char *why = NULL;
    if (range != NULL && ad_health_range_parse(range, &sec, &why) != 0) {
        ad_api_invalid(r, "range", why);
        return;
    }
    if (app->health == NULL || ad_health_interval_ms(app->health) == 0) {
        ad_res_error(r, 409, "CONFLICT", NULL, "sampling is off (--health-interval-ms=0)");
        return;
    }
    json_t *out = ad_health_history_json(app->health, sec);
    json_object_set_new(out, "range", json_string(range != NULL ? range : "1h"));
    ad_res_json(r, 200, out);
}

/* ---- the sampler's inputs and outputs ------------------------------------------- */

typedef struct {
    ad_health_target_t *out;
    size_t n, max;
} targets_ctx_t;

static void add_target(const char *agent_id, const char *run_id, const char *org,
                       const ad_proc_t *proc, void *ud)
{
    targets_ctx_t *c = ud;
    if (c->n >= c->max) {
        return;
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
    ad_app_t *app = ud;
    targets_ctx_t c = {out, 0, max};
    if (app->runner != NULL) {
        ad_runner_each(app->runner, add_target, &c);
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
    ad_app_t *app = ud;
    services_ctx_t c = {out, 0, max};
    ad_services_each(app->services, add_service, &c);
    return c.n;
}

static void on_sample(const ad_health_sample_t *s, void *ud)
{
    ad_app_t *app = ud;
    uint64_t every = app->cfg->health_event_interval_ms;
    if (every == 0 || app->bus == NULL || app->api == NULL) {
        return;
    }
    uint64_t now = ad_mono_ns() / 1000000u;
    uint64_t *last = &app->api->health_event_ms;
    /* a little early is on time: ticks drift by a few ms */
    if (*last != 0 && now + 50 < *last + every) {
        return;
    }
    *last = now;
    json_t *p = ad_health_event_json(s);
    ad_api_publish(app, "system_health", p, "system", "", NULL);
    json_decref(p);
}

void ad_api_health_apply_settings(ad_app_t *app, json_t *settings)
{
    if (app->health == NULL || settings == NULL) {
        return;
    }
    ad_health_thresholds_t t = *ad_health_thresholds(app->health);
    static const struct {
        const char *key;
        size_t off;
    } keys[] = {
        {"health_gpu_util_pct", offsetof(ad_health_thresholds_t, gpu_util_pct)},
        {"health_gpu_temp_c", offsetof(ad_health_thresholds_t, gpu_temp_c)},
        {"health_gpu_power_w", offsetof(ad_health_thresholds_t, gpu_power_w)},
        {"health_cpu_util_pct", offsetof(ad_health_thresholds_t, cpu_util_pct)},
        {"health_cpu_temp_c", offsetof(ad_health_thresholds_t, cpu_temp_c)},
        {"health_mem_used_pct", offsetof(ad_health_thresholds_t, mem_used_pct)},
        {"health_disk_used_pct", offsetof(ad_health_thresholds_t, disk_used_pct)},
        {"health_service_fps_min", offsetof(ad_health_thresholds_t, svc_fps_min)},
        {"health_service_latency_ms", offsetof(ad_health_thresholds_t, svc_latency_ms)},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        json_t *v = json_object_get(settings, keys[i].key);
        if (json_is_number(v)) {
            double x = json_number_value(v);
            memcpy((char *)&t + keys[i].off, &x, sizeof(x));
        }
    }
    ad_health_set_thresholds(app->health, &t);
}

void ad_api_health_register(ad_app_t *app)
{
    char hist[4200];
    snprintf(hist, sizeof(hist), "%s/health-history", app->cfg->data_dir);
    ad_health_opts_t o = {.data_dir = app->cfg->data_dir,
                          .history_path = app->cfg->data_dir[0] != '\0' ? hist : NULL,
                          .nvml_lib = app->cfg->nvml_lib,
                          .interval_ms = app->cfg->health_interval_ms,
                          .targets = targets,
                          .services = services,
                          .on_sample = on_sample,
                          .ud = app};
    app->api->health_event_ms = 0;
    app->health = ad_health_new(app->loop, &o);
    json_t *settings = NULL;
    if (app->store != NULL && ad_store_settings_get(app->store, &settings) == 0) {
        ad_api_health_apply_settings(app, settings);
        json_decref(settings);
    }
    ad_server_route(app->server, "GET", "/api/health", AD_ACCESS_READ, get, app);
    ad_server_route(app->server, "GET", "/api/health/history", AD_ACCESS_READ, history, app);
}

void ad_api_health_close(ad_app_t *app)
{
    ad_health_close(app->health);
    app->health = NULL;
}
