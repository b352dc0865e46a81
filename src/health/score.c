/* SPDX-License-Identifier: MIT */
/*
 * The health score: 100 less a fixed penalty for each reading past its
 * threshold, each with a reason a user reads. A reading the machine does
 * not give costs nothing. Thresholds default to the seed's (GPU 85 %,
 * 80 °C, 300 W; CPU 90 %, 85 °C) plus memory and disk at 90 % used.
 */
#include "health/health_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ad_health_thresholds_default(ad_health_thresholds_t *t)
{
    *t = (ad_health_thresholds_t){.gpu_util_pct = 85,
                                  .gpu_temp_c = 80,
                                  .gpu_power_w = 300,
                                  .cpu_util_pct = 90,
                                  .cpu_temp_c = 85,
                                  .mem_used_pct = 90,
                                  .disk_used_pct = 90,
                                  .svc_fps_min = 400,
                                  .svc_latency_ms = 2};
}

/* fmt gets value and threshold. */
__attribute__((format(printf, 6, 7))) static void reason(ad_health_sample_t *s, const char *code,
                                                         double value, double threshold,
                                                         int penalty, const char *fmt, ...)
{
    if (s->nreasons >= AD_HEALTH_MAX_REASONS) {
        return;
    }
    ad_health_reason_t *r = &s->reasons[s->nreasons++];
    snprintf(r->code, sizeof(r->code), "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof(r->message), fmt, ap);
    va_end(ap);
    r->value = value;
    r->threshold = threshold;
    r->penalty = penalty;
    s->score -= penalty;
}

/* The hottest, busiest and most power-hungry GPU decide. */
static void gpu_reasons(ad_health_sample_t *s, const ad_health_thresholds_t *t)
{
    double util = -1, temp = -1, power = -1;
    for (unsigned i = 0; i < s->ngpu; i++) {
        const ad_health_gpu_t *g = &s->gpus[i];
        if (g->has_util && g->util_pct > util) {
            util = g->util_pct;
        }
        if (g->has_temp && g->temp_c > temp) {
            temp = g->temp_c;
        }
        if (g->has_power && g->power_w > power) {
            power = g->power_w;
        }
    }
    if (util > t->gpu_util_pct) {
        reason(s, "gpu_utilization", util, t->gpu_util_pct, 10,
               "GPU utilisation %.0f %% is above %.0f %%", util, t->gpu_util_pct);
    }
    if (temp > t->gpu_temp_c) {
        reason(s, "gpu_temperature", temp, t->gpu_temp_c, 20,
               "GPU temperature %.0f °C is above %.0f °C", temp, t->gpu_temp_c);
    }
    if (power > t->gpu_power_w) {
        reason(s, "gpu_power", power, t->gpu_power_w, 15, "GPU power draw %.0f W is above %.0f W",
               power, t->gpu_power_w);
    }
}

/* The slowest service, the laggiest, and those failing their probe. */
static void service_reasons(ad_health_sample_t *s, const ad_health_thresholds_t *t)
{
    double fps = INFINITY, lat = -1;
    unsigned failing = 0;
    for (size_t i = 0; i < s->nservices; i++) {
        const ad_health_service_t *v = &s->services[i];
        failing += v->health_known && !v->healthy;
        if (v->has_fps && v->fps < fps) {
            fps = v->fps;
        }
        if (v->has_latency && v->latency_ms > lat) {
            lat = v->latency_ms;
        }
    }
    if (failing > 0) {
        reason(s, "service_unhealthy", failing, 0, 15, "%u service(s) failing their health probe",
               failing);
    }
    if (fps < t->svc_fps_min) {
        reason(s, "service_fps", fps, t->svc_fps_min, 10,
               "service frame rate %.0f FPS is below %.0f", fps, t->svc_fps_min);
    }
    if (lat > t->svc_latency_ms) {
        reason(s, "service_latency", lat, t->svc_latency_ms, 10,
               "service latency %.2f ms is above %.2f ms", lat, t->svc_latency_ms);
    }
}

void ad_health_score(ad_health_sample_t *s, const ad_health_thresholds_t *t)
{
    s->score = 100;
    s->nreasons = 0;
    gpu_reasons(s, t);
    service_reasons(s, t);
    if (s->has_cpu && s->cpu_pct > t->cpu_util_pct) {
        reason(s, "cpu_utilization", s->cpu_pct, t->cpu_util_pct, 15,
               "CPU utilisation %.0f %% is above %.0f %%", s->cpu_pct, t->cpu_util_pct);
    }
    if (s->has_cpu_temp && s->cpu_temp_c > t->cpu_temp_c) {
        reason(s, "cpu_temperature", s->cpu_temp_c, t->cpu_temp_c, 20,
               "CPU temperature %.0f °C is above %.0f °C", s->cpu_temp_c, t->cpu_temp_c);
    }
    if (s->has_mem && s->mem_total > 0) {
        double used = 100.0 * (double)(s->mem_total - s->mem_available) / (double)s->mem_total;
        if (used > t->mem_used_pct) {
            reason(s, "memory", used, t->mem_used_pct, 20, "memory %.0f %% used, above %.0f %%",
                   used, t->mem_used_pct);
        }
    }
    if (s->has_disk && s->disk_total > 0) {
        double used = 100.0 * (double)(s->disk_total - s->disk_free) / (double)s->disk_total;
        if (used > t->disk_used_pct) {
            reason(s, "disk", used, t->disk_used_pct, 15,
                   "data dir's disk %.0f %% used, above %.0f %%", used, t->disk_used_pct);
        }
    }
    if (s->score < 0) {
        s->score = 0;
    }
}
