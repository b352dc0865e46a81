/* SPDX-License-Identifier: MIT */
/*
 * The sampler: a libuv timer on the loop; each tick snapshots the trees to
 * measure and the thresholds, and queues one read on the thread pool
 * (uv_queue_work) that fills the next sample from /proc, /sys, the
 * agents' cgroups and NVML. Back on the loop the sample becomes current,
 * goes into the history and out through the callback. A tick that finds
 * the last read still running is skipped, so a slow file system never
 * piles reads up. The sample's cost is the pool thread's CPU time.
 */
#include "health/health_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HIST_SAVE_MS (5 * 60 * 1000) /* what a crash may lose of the history */

struct ad_health {
    uv_loop_t *loop;
    uv_timer_t timer;
    uv_work_t work;
    bool timer_closed, busy, closing;
    char data_dir[4096];
    char nvml_lib[4096];
    char hist_path[4096]; /* "" when not kept */
    int64_t hist_saved_ms;
    uint64_t interval_ms;
    ad_health_targets_fn targets_fn;
    ad_health_services_fn services_fn;
    ad_health_sample_cb on_sample;
    void *ud;
    ad_health_thresholds_t thr;
    /* the pool job's, between queue and after_work */
    ad_health_thresholds_t job_thr;
    ad_health_target_t *targets; /* AD_HEALTH_MAX_AGENTS */
    size_t ntargets;
    ad_health_service_t services[AD_HEALTH_MAX_SERVICES];
    size_t nservices;
    ad_health_host_t host;
    ad_health_agents_t agents;
    ad_nvml_t *nvml; /* opened by the first job */
    char buf[AD_HEALTH_READ_MAX];
    ad_health_sample_t *next;
    /* the loop's */
    ad_health_sample_t *cur;
    bool have_cur;
    ad_health_history_t hist;
    uint64_t samples, cost_ns, skipped;
};

static uint64_t thread_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* GPU processes to agents, and each agent's GPU memory. */
static void map_gpu_procs(ad_health_t *h, ad_health_sample_t *s)
{
    for (unsigned g = 0; g < s->ngpu; g++) {
        ad_health_gpu_t *gpu = &s->gpus[g];
        for (unsigned i = 0; i < gpu->nprocs; i++) {
            int a = ad_health_agent_of(&h->agents, h->targets, s->nagents, gpu->procs[i].pid,
                                       h->buf, sizeof(h->buf));
            gpu->procs[i].agent = a;
            if (a >= 0) {
                s->agents[a].gpu_mem_bytes += gpu->procs[i].used_bytes;
            }
        }
    }
}

static void work_cb(uv_work_t *w)
{
    ad_health_t *h = w->data;
    uint64_t t0 = thread_ns();
    if (h->nvml == NULL) {
        h->nvml = ad_nvml_open(h->nvml_lib);
    }
    ad_health_sample_t *s = h->next;
    memset(s, 0, offsetof(ad_health_sample_t, gpus));
    s->ngpu = 0;
    s->nagents = 0;
    s->nservices = 0;
    s->nreasons = 0;
    s->ts_ms = ad_wall_ms();
    ad_health_host_read(&h->host, h->data_dir, s, h->buf, sizeof(h->buf));
    ad_health_agents_read(&h->agents, h->targets, h->ntargets, s, h->buf, sizeof(h->buf));
    ad_nvml_read(h->nvml, s);
    map_gpu_procs(h, s);
    s->nservices = h->nservices;
    memcpy(s->services, h->services, h->nservices * sizeof(h->services[0]));
    ad_health_score(s, &h->job_thr);
    s->cost_ns = thread_ns() - t0;
}

static void health_free(ad_health_t *h)
{
    ad_nvml_close(h->nvml);
    ad_health_agents_cleanup(&h->agents);
    ad_health_history_cleanup(&h->hist);
    free(h->targets);
    free(h->next);
    free(h->cur);
    free(h);
}

static void free_maybe(ad_health_t *h)
{
    if (h->closing && h->timer_closed && !h->busy) {
        health_free(h);
    }
}

/* The history to its file; a failure is logged and tried again next time. */
static void save_history(ad_health_t *h)
{
    h->hist_saved_ms = ad_wall_ms();
    if (ad_health_history_save(&h->hist, h->hist_path) != 0) {
        ad_log(AD_LOG_WARN, "health", "history not saved path=%s err=%s", h->hist_path,
               strerror(errno));
    }
}

static void load_history(ad_health_t *h)
{
    int rc = ad_health_history_load(&h->hist, h->hist_path);
    if (rc != 0 && rc != AD_ENOENT) {
        ad_log(AD_LOG_WARN, "health", "history file ignored, starting empty path=%s", h->hist_path);
    }
    h->hist_saved_ms = ad_wall_ms();
}

static void after_work(uv_work_t *w, int status)
{
    ad_health_t *h = w->data;
    h->busy = false;
    if (status != 0 || h->closing) {
        free_maybe(h);
        return;
    }
    ad_health_sample_t *s = h->next;
    h->next = h->cur;
    h->cur = s;
    h->have_cur = true;
    h->samples++;
    h->cost_ns += s->cost_ns;
    ad_health_history_add(&h->hist, s);
    if (h->hist_path[0] != '\0' && s->ts_ms - h->hist_saved_ms >= HIST_SAVE_MS) {
        save_history(h);
    }
    if (h->on_sample != NULL) {
        h->on_sample(s, h->ud);
    }
}

static void on_tick(uv_timer_t *t)
{
    ad_health_t *h = t->data;
    if (h->busy) {
        h->skipped++;
        return;
    }
    h->ntargets =
        h->targets_fn != NULL ? h->targets_fn(h->targets, AD_HEALTH_MAX_AGENTS, h->ud) : 0;
    if (h->ntargets > AD_HEALTH_MAX_AGENTS) {
        h->ntargets = AD_HEALTH_MAX_AGENTS;
    }
    h->nservices =
        h->services_fn != NULL ? h->services_fn(h->services, AD_HEALTH_MAX_SERVICES, h->ud) : 0;
    if (h->nservices > AD_HEALTH_MAX_SERVICES) {
        h->nservices = AD_HEALTH_MAX_SERVICES;
    }
    h->job_thr = h->thr;
    h->work.data = h;
    if (uv_queue_work(h->loop, &h->work, work_cb, after_work) == 0) {
        h->busy = true;
    }
}

ad_health_t *ad_health_new(uv_loop_t *loop, const ad_health_opts_t *opts)
{
    ad_health_t *h = ad_xcalloc(1, sizeof(*h));
    h->loop = loop;
    snprintf(h->data_dir, sizeof(h->data_dir), "%s", opts->data_dir ? opts->data_dir : "/");
    snprintf(h->nvml_lib, sizeof(h->nvml_lib), "%s", opts->nvml_lib ? opts->nvml_lib : "");
    h->interval_ms = opts->interval_ms;
    h->targets_fn = opts->targets;
    h->services_fn = opts->services;
    h->on_sample = opts->on_sample;
    h->ud = opts->ud;
    ad_health_thresholds_default(&h->thr);
    h->targets = ad_xcalloc(AD_HEALTH_MAX_AGENTS, sizeof(*h->targets));
    h->next = ad_xcalloc(1, sizeof(*h->next));
    h->cur = ad_xcalloc(1, sizeof(*h->cur));
    h->agents.proc = "/proc";
    ad_health_history_init(&h->hist);
    if (opts->history_path != NULL && opts->history_path[0] != '\0') {
        snprintf(h->hist_path, sizeof(h->hist_path), "%s", opts->history_path);
        load_history(h);
    }
    uv_timer_init(loop, &h->timer);
    h->timer.data = h;
    if (h->interval_ms > 0) {
        uv_timer_start(&h->timer, on_tick, 0, h->interval_ms);
    }
    uv_unref((uv_handle_t *)&h->timer); /* sampling alone keeps no loop alive */
    return h;
}

static void on_timer_closed(uv_handle_t *handle)
{
    ad_health_t *h = handle->data;
    h->timer_closed = true;
    free_maybe(h);
}

void ad_health_close(ad_health_t *h)
{
    if (h == NULL) {
        return;
    }
    h->closing = true;
    if (h->hist_path[0] != '\0') {
        save_history(h);
    }
    if (h->busy) {
        uv_cancel((uv_req_t *)&h->work); /* after_work still comes, maybe ECANCELED */
    }
    uv_close((uv_handle_t *)&h->timer, on_timer_closed);
}

void ad_health_set_thresholds(ad_health_t *h, const ad_health_thresholds_t *t)
{
    h->thr = *t;
    if (h->have_cur) {
        ad_health_score(h->cur, t); /* the current sample answers with them at once */
    }
}

const ad_health_thresholds_t *ad_health_thresholds(const ad_health_t *h)
{
    return &h->thr;
}

const ad_health_sample_t *ad_health_current(const ad_health_t *h)
{
    return h->have_cur ? h->cur : NULL;
}

int ad_health_gpus(const ad_health_t *h, char *why, size_t whysz)
{
    const ad_health_sample_t *s = h != NULL ? ad_health_current(h) : NULL;
    if (s == NULL) {
        snprintf(why, whysz, "no health sample yet (--health-interval-ms 0?)");
        return 0;
    }
    if (!s->gpu_available || s->ngpu == 0) {
        snprintf(why, whysz, "%s", s->gpu_reason[0] ? s->gpu_reason : "no GPU");
        return 0;
    }
    return (int)s->ngpu;
}

uint64_t ad_health_interval_ms(const ad_health_t *h)
{
    return h->interval_ms;
}

void ad_health_cost(const ad_health_t *h, uint64_t *samples, uint64_t *ns)
{
    *samples = h->samples;
    *ns = h->cost_ns;
}

json_t *ad_health_history_json(const ad_health_t *h, int64_t seconds)
{
    return ad_health_history_view(&h->hist, ad_wall_ms(), seconds);
}
