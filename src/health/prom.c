/* SPDX-License-Identifier: MIT */
/*
 * The host and GPU gauges of a health sample in the Prometheus text format
 * (its writer is src/core/prom.c). The REST side (src/api/metrics.c) adds
 * the daemon's own counters, each subsystem's through its header.
 */
#include "health/health_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int host(ad_buf_t *b, const ad_health_sample_t *s)
{
    int rc = ad_prom_gauge(b, "agentd_health_score",
                           "Health score 0-100 (100: nothing past a threshold)", s->score);
    if (rc == 0 && s->has_cpu) {
        rc = ad_prom_gauge(b, "agentd_host_cpu_utilization_ratio", "Busy share of all CPUs, 0-1",
                           s->cpu_pct / 100);
        if (rc == 0) {
            rc = ad_prom_family(b, "agentd_host_cpu_core_utilization_ratio", "gauge",
                                "Busy share of each CPU core, 0-1");
        }
        for (unsigned i = 0; i < s->ncpu && rc == 0; i++) {
            char core[16];
            snprintf(core, sizeof(core), "%u", i);
            rc = ad_prom_sample(b, "agentd_host_cpu_core_utilization_ratio", s->core_pct[i] / 100,
                                "core", core, NULL);
        }
    }
    if (rc == 0 && s->has_load) {
        rc = ad_prom_family(b, "agentd_host_load_average", "gauge", "Load average");
        const char *per[] = {"1m", "5m", "15m"};
        for (int i = 0; i < 3 && rc == 0; i++) {
            rc = ad_prom_sample(b, "agentd_host_load_average", s->load[i], "period", per[i], NULL);
        }
    }
    if (rc == 0 && s->has_mem) {
        rc = ad_prom_gauge(b, "agentd_host_memory_total_bytes", "MemTotal", (double)s->mem_total);
        rc = rc ? rc
                : ad_prom_gauge(b, "agentd_host_memory_available_bytes", "MemAvailable",
                                (double)s->mem_available);
        rc = rc ? rc
                : ad_prom_gauge(b, "agentd_host_swap_total_bytes", "SwapTotal",
                                (double)s->swap_total);
        rc = rc ? rc
                : ad_prom_gauge(b, "agentd_host_swap_free_bytes", "SwapFree", (double)s->swap_free);
    }
    if (rc == 0 && s->has_disk) {
        rc = ad_prom_gauge(b, "agentd_host_data_dir_disk_total_bytes",
                           "Size of the data dir's file system", (double)s->disk_total);
        rc = rc ? rc
                : ad_prom_gauge(b, "agentd_host_data_dir_disk_free_bytes",
                                "Space left to agentd on the data dir's file system",
                                (double)s->disk_free);
    }
    if (rc == 0 && s->has_cpu_temp) {
        rc = ad_prom_gauge(b, "agentd_host_cpu_temperature_celsius", "CPU temperature",
                           s->cpu_temp_c);
    }
    return rc;
}

/* One family over every GPU that has the field. */
typedef enum { F_UTIL, F_MEM_USED, F_MEM_TOTAL, F_TEMP, F_POWER, F_LIMIT } gpu_field_t;

static int gpu_family(ad_buf_t *b, const ad_health_sample_t *s, const char *name, const char *help,
                      gpu_field_t f)
{
    int rc = ad_prom_family(b, name, "gauge", help);
    for (unsigned i = 0; i < s->ngpu && rc == 0; i++) {
        const ad_health_gpu_t *g = &s->gpus[i];
        bool has[] = {g->has_util, g->has_mem, g->has_mem, g->has_temp, g->has_power, g->has_limit};
        double v[] = {g->util_pct / 100, (double)g->mem_used, (double)g->mem_total,
                      g->temp_c,         g->power_w,          g->power_limit_w};
        char idx[16];
        snprintf(idx, sizeof(idx), "%u", i);
        rc = has[f] ? ad_prom_sample(b, name, v[f], "gpu", idx, NULL) : 0;
    }
    return rc;
}

static int gpus(ad_buf_t *b, const ad_health_sample_t *s)
{
    int rc = ad_prom_gauge(b, "agentd_gpu_available", "1 when NVML answers and sees a GPU",
                           s->gpu_available ? 1 : 0);
    if (rc != 0 || !s->gpu_available || s->ngpu == 0) {
        return rc;
    }
    rc = ad_prom_family(b, "agentd_gpu_info", "gauge", "GPU name, UUID, driver and CUDA version");
    for (unsigned i = 0; i < s->ngpu && rc == 0; i++) {
        char idx[16];
        snprintf(idx, sizeof(idx), "%u", i);
        rc = ad_prom_sample(b, "agentd_gpu_info", 1, "gpu", idx, "name", s->gpus[i].name, "uuid",
                            s->gpus[i].uuid, "driver", s->gpu_driver, "cuda", s->gpu_cuda, NULL);
    }
    rc = rc ? rc : gpu_family(b, s, "agentd_gpu_utilization_ratio", "GPU busy share, 0-1", F_UTIL);
    rc = rc ? rc : gpu_family(b, s, "agentd_gpu_memory_used_bytes", "GPU memory used", F_MEM_USED);
    rc = rc ? rc : gpu_family(b, s, "agentd_gpu_memory_total_bytes", "GPU memory", F_MEM_TOTAL);
    rc = rc ? rc : gpu_family(b, s, "agentd_gpu_temperature_celsius", "GPU temperature", F_TEMP);
    rc = rc ? rc : gpu_family(b, s, "agentd_gpu_power_watts", "GPU power draw", F_POWER);
    rc = rc ? rc
            : gpu_family(b, s, "agentd_gpu_power_limit_watts", "GPU enforced power limit", F_LIMIT);
    return rc;
}

/* One agent's sample of family f (false: none to write). */
static bool agent_value(const ad_health_agent_t *a, size_t f, const char *org, double *v)
{
    if ((org[0] != '\0' && strcmp(a->org, org) != 0) || (f == 0 && !a->has_cpu)) {
        return false;
    }
    *v = f == 0 ? a->cpu_pct / 100 : f == 1 ? (double)a->rss_bytes : (double)a->gpu_mem_bytes;
    return true;
}

static int agents(ad_buf_t *b, const ad_health_sample_t *s, const char *org,
                  const ad_health_agent_t *remote, size_t nremote)
{
    static const char *names[] = {"agentd_agent_cpu_utilization_ratio",
                                  "agentd_agent_resident_memory_bytes",
                                  "agentd_agent_gpu_memory_bytes"};
    static const char *helps[] = {"CPU used by a running agent's processes, in cores (1 = one "
                                  "core busy)",
                                  "Resident memory of a running agent's processes",
                                  "GPU memory of a running agent's processes"};
    int rc = 0;
    for (size_t f = 0; f < 3 && rc == 0; f++) {
        rc = ad_prom_family(b, names[f], "gauge", helps[f]);
        double v;
        for (size_t i = 0; i < s->nagents && rc == 0; i++) {
            if (agent_value(&s->agents[i], f, org, &v)) {
                rc = ad_prom_sample(b, names[f], v, "agent_id", s->agents[i].agent_id, NULL);
            }
        }
        for (size_t i = 0; remote != NULL && i < nremote && rc == 0; i++) {
            if (agent_value(&remote[i], f, org, &v)) {
                rc = ad_prom_sample(b, names[f], v, "agent_id", remote[i].agent_id, "node",
                                    remote[i].node, NULL);
            }
        }
    }
    return rc;
}

int ad_health_prom(ad_buf_t *b, const ad_health_sample_t *s, const char *org,
                   const ad_health_agent_t *remote, size_t nremote)
{
    int rc = host(b, s);
    rc = rc ? rc : gpus(b, s);
    return rc ? rc : agents(b, s, org, remote, nremote);
}

int ad_health_prom_all(const ad_health_t *h, ad_buf_t *b, const char *org,
                       const ad_health_agent_t *remote, size_t nremote)
{
    if (h == NULL) {
        return 0;
    }
    uint64_t samples = 0, ns = 0;
    ad_health_cost(h, &samples, &ns);
    int rc =
        ad_prom_counter(b, "agentd_health_samples_total", "Host samples taken", (double)samples);
    rc = rc ? rc
            : ad_prom_counter(b, "agentd_health_sampler_cpu_seconds_total",
                              "CPU time the sampler's reads took", (double)ns / 1e9);
    const ad_health_sample_t *s = ad_health_current(h);
    return rc || s == NULL ? rc : ad_health_prom(b, s, org, remote, nremote);
}
