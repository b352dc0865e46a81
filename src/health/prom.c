/* SPDX-License-Identifier: MIT */
/*
 * The Prometheus text exposition format (version 0.0.4): HELP and TYPE
 * lines before each family, label values escaped, base units in names
 * (bytes, seconds, celsius, watts, ratio 0-1), counters ending in _total,
 * histograms as cumulative buckets with _sum and _count. And the host and
 * GPU gauges of a health sample in that format. The REST side
 * (src/api/metrics.c) adds the daemon's own counters.
 */
#include "health/health_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Escapes for HELP text (\\ and \n) and label values (also \"). */
static int escaped(ad_buf_t *b, const char *s, bool label)
{
    int rc = 0;
    for (; *s != '\0' && rc == 0; s++) {
        if (*s == '\\') {
            rc = ad_buf_puts(b, "\\\\");
        } else if (*s == '\n') {
            rc = ad_buf_puts(b, "\\n");
        } else if (*s == '"' && label) {
            rc = ad_buf_puts(b, "\\\"");
        } else {
            rc = ad_buf_putc(b, *s);
        }
    }
    return rc;
}

int ad_prom_family(ad_buf_t *b, const char *name, const char *type, const char *help)
{
    int rc = ad_buf_printf(b, "# HELP %s ", name);
    if (rc == 0) {
        rc = escaped(b, help, false);
    }
    return rc != 0 ? rc : ad_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}

static int value(ad_buf_t *b, double v)
{
    if (isnan(v)) {
        return ad_buf_puts(b, " NaN\n");
    }
    if (isinf(v)) {
        return ad_buf_puts(b, v > 0 ? " +Inf\n" : " -Inf\n");
    }
    if (v == floor(v) && fabs(v) < 9e15) {
        return ad_buf_printf(b, " %.0f\n", v);
    }
    return ad_buf_printf(b, " %.17g\n", v);
}

static int labels(ad_buf_t *b, va_list ap)
{
    int rc = 0;
    bool first = true;
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL) {
            break;
        }
        const char *v = va_arg(ap, const char *);
        rc = ad_buf_printf(b, "%s%s=\"", first ? "{" : ",", k);
        if (rc == 0) {
            rc = escaped(b, v != NULL ? v : "", true);
        }
        if (rc == 0) {
            rc = ad_buf_putc(b, '"');
        }
        if (rc != 0) {
            return rc;
        }
        first = false;
    }
    return first ? 0 : ad_buf_putc(b, '}');
}

int ad_prom_sample(ad_buf_t *b, const char *name, double v, ...)
{
    int rc = ad_buf_puts(b, name);
    va_list ap;
    va_start(ap, v);
    if (rc == 0) {
        rc = labels(b, ap);
    }
    va_end(ap);
    return rc != 0 ? rc : value(b, v);
}

int ad_prom_histogram(ad_buf_t *b, const char *name, const double *bounds, const uint64_t *counts,
                      size_t n, double sum, const char *label, const char *label_value)
{
    char series[160], le[40];
    uint64_t cum = 0;
    int rc = 0;
    snprintf(series, sizeof(series), "%s_bucket", name);
    for (size_t i = 0; i <= n && rc == 0; i++) {
        cum += counts[i];
        if (i < n) {
            snprintf(le, sizeof(le), "%g", bounds[i]);
        } else {
            snprintf(le, sizeof(le), "+Inf");
        }
        rc = label != NULL
                 ? ad_prom_sample(b, series, (double)cum, label, label_value, "le", le, NULL)
                 : ad_prom_sample(b, series, (double)cum, "le", le, NULL);
    }
    snprintf(series, sizeof(series), "%s_sum", name);
    if (rc == 0) {
        rc = label != NULL ? ad_prom_sample(b, series, sum, label, label_value, NULL)
                           : ad_prom_sample(b, series, sum, NULL);
    }
    snprintf(series, sizeof(series), "%s_count", name);
    if (rc == 0) {
        rc = label != NULL ? ad_prom_sample(b, series, (double)cum, label, label_value, NULL)
                           : ad_prom_sample(b, series, (double)cum, NULL);
    }
    return rc;
}

/* One gauge family with a single unlabelled sample. */
static int gauge(ad_buf_t *b, const char *name, const char *help, double v)
{
    int rc = ad_prom_family(b, name, "gauge", help);
    return rc != 0 ? rc : ad_prom_sample(b, name, v, NULL);
}

static int host(ad_buf_t *b, const ad_health_sample_t *s)
{
    int rc = gauge(b, "agentd_health_score", "Health score 0-100 (100: nothing past a threshold)",
                   s->score);
    if (rc == 0 && s->has_cpu) {
        rc = gauge(b, "agentd_host_cpu_utilization_ratio", "Busy share of all CPUs, 0-1",
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
        rc = gauge(b, "agentd_host_memory_total_bytes", "MemTotal", (double)s->mem_total);
        rc = rc ? rc
                : gauge(b, "agentd_host_memory_available_bytes", "MemAvailable",
                        (double)s->mem_available);
        rc = rc ? rc : gauge(b, "agentd_host_swap_total_bytes", "SwapTotal", (double)s->swap_total);
        rc = rc ? rc : gauge(b, "agentd_host_swap_free_bytes", "SwapFree", (double)s->swap_free);
    }
    if (rc == 0 && s->has_disk) {
        rc = gauge(b, "agentd_host_data_dir_disk_total_bytes", "Size of the data dir's file system",
                   (double)s->disk_total);
        rc = rc ? rc
                : gauge(b, "agentd_host_data_dir_disk_free_bytes",
                        "Space left to agentd on the data dir's file system", (double)s->disk_free);
    }
    if (rc == 0 && s->has_cpu_temp) {
        rc = gauge(b, "agentd_host_cpu_temperature_celsius", "CPU temperature", s->cpu_temp_c);
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
    int rc = gauge(b, "agentd_gpu_available", "1 when NVML answers and sees a GPU",
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

static int agents(ad_buf_t *b, const ad_health_sample_t *s, const char *org)
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
        for (size_t i = 0; i < s->nagents && rc == 0; i++) {
            const ad_health_agent_t *a = &s->agents[i];
            if ((org[0] != '\0' && strcmp(a->org, org) != 0) || (f == 0 && !a->has_cpu)) {
                continue;
            }
            double v = f == 0   ? a->cpu_pct / 100
                       : f == 1 ? (double)a->rss_bytes
                                : (double)a->gpu_mem_bytes;
            rc = ad_prom_sample(b, names[f], v, "agent_id", a->agent_id, NULL);
        }
    }
    return rc;
}

int ad_health_prom(ad_buf_t *b, const ad_health_sample_t *s, const char *org)
{
    int rc = host(b, s);
    rc = rc ? rc : gpus(b, s);
    return rc ? rc : agents(b, s, org);
}
