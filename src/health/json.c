/* SPDX-License-Identifier: MIT */
/*
 * JSON views of a sample: the full one GET /api/health answers (bytes,
 * °C, W, percent; its summary, the system_health payload, is src/compat's).
 * What is unknown is null, never 0.
 * Also the thresholds the settings name (health_*).
 */
#include "health/health_int.h"

#include <stddef.h>
#include <string.h>

static json_t *opt_real(bool has, double v)
{
    return has ? json_real(v) : json_null();
}

static json_t *gpu_json(const ad_health_gpu_t *g, unsigned index, const ad_health_sample_t *s,
                        const char *org)
{
    json_t *procs = json_array();
    for (unsigned i = 0; i < g->nprocs; i++) {
        const ad_health_gpu_proc_t *p = &g->procs[i];
        const ad_health_agent_t *a = p->agent >= 0 ? &s->agents[p->agent] : NULL;
        if (a != NULL && org[0] != '\0' && strcmp(a->org, org) != 0) {
            a = NULL; /* another organisation's agent: an anonymous process */
        }
        json_array_append_new(procs, json_pack("{s:I, s:I, s:o}", "pid", (json_int_t)p->pid,
                                               "vramUsed", (json_int_t)p->used_bytes, "agentId",
                                               a != NULL ? json_string(a->agent_id) : json_null()));
    }
    return json_pack("{s:I, s:s, s:s*, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "index",
                     (json_int_t)index, "name", g->name, "uuid", g->uuid[0] ? g->uuid : NULL,
                     "utilization", opt_real(g->has_util, g->util_pct), "memoryUtilization",
                     opt_real(g->has_util, g->mem_util_pct), "vramUsed",
                     g->has_mem ? json_integer((json_int_t)g->mem_used) : json_null(), "vramTotal",
                     g->has_mem ? json_integer((json_int_t)g->mem_total) : json_null(),
                     "temperature", opt_real(g->has_temp, g->temp_c), "powerDraw",
                     opt_real(g->has_power, g->power_w), "powerLimit",
                     opt_real(g->has_limit, g->power_limit_w), "processes", procs);
}

static json_t *gpus_json(const ad_health_sample_t *s, const char *org)
{
    if (!s->gpu_available) {
        return json_pack("{s:b, s:s}", "available", 0, "reason", s->gpu_reason);
    }
    json_t *devs = json_array();
    for (unsigned i = 0; i < s->ngpu; i++) {
        json_array_append_new(devs, gpu_json(&s->gpus[i], i, s, org));
    }
    return json_pack("{s:b, s:s*, s:s*, s:o}", "available", 1, "driverVersion",
                     s->gpu_driver[0] ? s->gpu_driver : NULL, "cudaVersion",
                     s->gpu_cuda[0] ? s->gpu_cuda : NULL, "devices", devs);
}

static json_t *cpu_json(const ad_health_sample_t *s)
{
    json_t *cores = json_array();
    for (unsigned i = 0; s->has_cpu && i < s->ncpu; i++) {
        json_array_append_new(cores, json_real(s->core_pct[i]));
    }
    json_t *load =
        s->has_load ? json_pack("[f,f,f]", s->load[0], s->load[1], s->load[2]) : json_null();
    json_t *o =
        json_pack("{s:o, s:o, s:o, s:s*, s:o}", "utilization", opt_real(s->has_cpu, s->cpu_pct),
                  "cores", cores, "temperature", opt_real(s->has_cpu_temp, s->cpu_temp_c),
                  "temperatureSource", s->has_cpu_temp ? s->cpu_temp_source : NULL, "load", load);
    return o;
}

static json_t *memory_json(const ad_health_sample_t *s)
{
    if (!s->has_mem) {
        return json_null();
    }
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", "total", (json_int_t)s->mem_total, "available",
                     (json_int_t)s->mem_available, "used",
                     (json_int_t)(s->mem_total - s->mem_available), "swapTotal",
                     (json_int_t)s->swap_total, "swapUsed",
                     (json_int_t)(s->swap_total - s->swap_free));
}

json_t *ad_health_agent_json(const ad_health_agent_t *g)
{
    if (g->node[0] != '\0') { /* measured by its worker node: no pid of this machine's */
        return json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:s, s:s}", "agentId", g->agent_id,
                         "runId", g->run_id, "cpuPercent", opt_real(g->has_cpu, g->cpu_pct),
                         "rssBytes", (json_int_t)g->rss_bytes, "gpuMemoryBytes",
                         (json_int_t)g->gpu_mem_bytes, "processes", (json_int_t)g->nprocs, "source",
                         "node", "node", g->node);
    }
    return json_pack("{s:s, s:s, s:I, s:o, s:I, s:I, s:I, s:s}", "agentId", g->agent_id, "runId",
                     g->run_id, "pid", (json_int_t)g->pid, "cpuPercent",
                     opt_real(g->has_cpu, g->cpu_pct), "rssBytes", (json_int_t)g->rss_bytes,
                     "gpuMemoryBytes", (json_int_t)g->gpu_mem_bytes, "processes",
                     (json_int_t)g->nprocs, "source", g->cgroup ? "cgroup" : "proc");
}

static json_t *agents_json(const ad_health_sample_t *s, const char *org)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->nagents; i++) {
        const ad_health_agent_t *g = &s->agents[i];
        if (org[0] != '\0' && strcmp(g->org, org) != 0) {
            continue;
        }
        json_array_append_new(a, ad_health_agent_json(g));
    }
    return a;
}

static json_t *reasons_json(const ad_health_sample_t *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->nreasons; i++) {
        const ad_health_reason_t *r = &s->reasons[i];
        json_array_append_new(a, json_pack("{s:s, s:s, s:f, s:f, s:i}", "code", r->code, "message",
                                           r->message, "value", r->value, "threshold", r->threshold,
                                           "penalty", r->penalty));
    }
    return a;
}

static json_t *thresholds_json(const ad_health_thresholds_t *t)
{
    return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "gpuUtilization",
                     t->gpu_util_pct, "gpuTemperature", t->gpu_temp_c, "gpuPower", t->gpu_power_w,
                     "cpuUtilization", t->cpu_util_pct, "cpuTemperature", t->cpu_temp_c,
                     "memoryUsed", t->mem_used_pct, "diskUsed", t->disk_used_pct, "serviceFps",
                     t->svc_fps_min, "serviceLatency", t->svc_latency_ms);
}

json_t *ad_health_sample_json(const ad_health_sample_t *s, const ad_health_thresholds_t *t,
                              const char *org)
{
    json_t *disk = s->has_disk ? json_pack("{s:I, s:I, s:I}", "total", (json_int_t)s->disk_total,
                                           "free", (json_int_t)s->disk_free, "used",
                                           (json_int_t)(s->disk_total - s->disk_free))
                               : json_null();
    return json_pack("{s:I, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "sampledAt",
                     (json_int_t)s->ts_ms, "score", s->score, "reasons", reasons_json(s),
                     "thresholds", thresholds_json(t), "cpu", cpu_json(s), "memory", memory_json(s),
                     "disk", disk, "gpu", gpus_json(s, org), "agents", agents_json(s, org));
}

void ad_health_thresholds_from(ad_health_thresholds_t *t, const json_t *settings)
{
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
            memcpy((char *)t + keys[i].off, &x, sizeof(x));
        }
    }
}
