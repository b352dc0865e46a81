/* SPDX-License-Identifier: MIT */
/*
 * What a worker node says of itself (docs/nodes.md): its capabilities (the
 * health sampler's figures, the agent CLIs on its PATH, its mirrors, its
 * sandbox) in its hello and each renewal, and its runs' figures. The CLIs
 * are probed on the pool. Loop thread, but for clis_read.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "node/node_int.h"

#include "health/health.h"
#include "hold/hold.h"
#include "proc/proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The agent CLIs on the node's PATH and their versions, as
 * /api/requirements finds them (each `--version` bounded by 5 s): on the
 * pool, at start and again at each renewal. A CLI whose file is the one
 * probed last (its path, device, inode, size and modification time, the
 * link followed) keeps that version; only one installed, upgraded or gone
 * since is asked again, so the node says a new version a renewal after it. */
typedef struct {
    char path[4096];
    char version[128];
    bool found;
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
} cli_t;
typedef struct clis {
    cli_t c[3];
} clis_t;
static const char *const cli_names[] = {"claude", "codex", "gemini"};

static worker_t *container_of_clis(uv_work_t *req)
{
    return (worker_t *)((char *)req - offsetof(worker_t, clis_work));
}

static void clis_read(uv_work_t *req)
{
    clis_t *all = req->data; /* comes with what the last probe found */
    for (size_t i = 0; i < AD_ARRAY_LEN(cli_names); i++) {
        cli_t *c = &all->c[i], was = *c;
        struct stat st;
        c->found =
            ad_path_which_in(cli_names[i], getenv("PATH"), NULL, c->path, sizeof(c->path)) == 0 &&
            stat(c->path, &st) == 0;
        if (!c->found) {
            c->version[0] = '\0';
            continue;
        }
        c->dev = st.st_dev;
        c->ino = st.st_ino;
        c->size = st.st_size;
        c->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        if (was.found && was.version[0] != '\0' && strcmp(was.path, c->path) == 0 &&
            was.dev == c->dev && was.ino == c->ino && was.size == c->size &&
            was.mtime_ns == c->mtime_ns) {
            continue; /* the same file: the same version */
        }
        if (ad_health_program_version(c->path, c->version, sizeof(c->version)) != 0) {
            c->version[0] = '\0';
        }
    }
}

static void clis_done(uv_work_t *req, int status)
{
    worker_t *w = container_of_clis(req);
    clis_t *all = req->data;
    json_t *o = json_object();
    for (size_t i = 0; status == 0 && i < AD_ARRAY_LEN(cli_names); i++) {
        const cli_t *c = &all->c[i];
        if (c->found) {
            json_object_set_new(o, cli_names[i],
                                json_pack("{s:s, s:s}", "path", c->path, "version", c->version));
        }
    }
    if (w->clis != NULL && !json_equal(w->clis, o)) {
        char *now = json_dumps(o, JSON_COMPACT);
        ad_log(AD_LOG_INFO, "node", "agent CLIs changed clis=%s", now != NULL ? now : "?");
        free(now);
    }
    json_decref(w->clis);
    w->clis = o;
    w->clis_busy = false;
    if (status == 0) {
        free(w->clis_last);
        w->clis_last = all;
    } else {
        free(all);
    }
}

/* Asks again (on the pool), unless a probe is at work. */
void ad_worker_clis_probe(worker_t *w)
{
    if (w->clis_busy || w->stopping) {
        return;
    }
    clis_t *all = ad_xcalloc(1, sizeof(*all));
    if (w->clis_last != NULL) {
        *all = *w->clis_last;
    }
    w->clis_work.data = all;
    w->clis_busy = uv_queue_work(w->loop, &w->clis_work, clis_read, clis_done) == 0;
    if (!w->clis_busy) {
        free(all);
    }
}

/* What the node offers: the health sampler's last figures (CPU, memory,
 * the data dir's disk, GPUs through NVML) and the agent CLIs. */
json_t *ad_worker_caps(const worker_t *w)
{
    const ad_health_sample_t *s = w->health != NULL ? ad_health_current(w->health) : NULL;
    json_t *gpus = json_array();
    json_t *clis = w->clis != NULL ? json_incref(w->clis) : json_object();
    json_t *o = json_pack("{s:I, s:s, s:o}", "cpus", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN),
                          "agentdVersion", AD_VERSION, "clis", clis);
    /* it answers ext_sessions (nodeext.c): an older node is not asked, so a
     * list does not wait out a request it would ignore */
    json_object_set_new(o, "sessions", json_true());
    if (w->cfg->data_dir[0] == '/') { /* where its runs' folders are (ad_plane_agent_cwd) */
        json_object_set_new(o, "dataDir", json_string(w->cfg->data_dir));
    }
    struct utsname u;
    if (uname(&u) == 0) {
        json_object_set_new(o, "os", json_string(u.sysname));
        json_object_set_new(o, "arch", json_string(u.machine));
    }
    if (s != NULL && s->has_cpu) {
        json_object_set_new(o, "cpuPct", json_real(s->cpu_pct));
    }
    if (s != NULL && s->has_load) {
        json_object_set_new(o, "load1", json_real(s->load[0]));
    }
    if (s != NULL && s->has_mem) {
        json_object_set_new(o, "memTotal", json_integer((json_int_t)s->mem_total));
        json_object_set_new(o, "memAvailable", json_integer((json_int_t)s->mem_available));
    }
    if (s != NULL && s->has_disk) {
        json_object_set_new(o, "diskTotal", json_integer((json_int_t)s->disk_total));
        json_object_set_new(o, "diskFree", json_integer((json_int_t)s->disk_free));
    }
    for (unsigned i = 0; s != NULL && s->gpu_available && i < s->ngpu; i++) {
        const ad_health_gpu_t *g = &s->gpus[i];
        json_t *j = json_pack("{s:i, s:s}", "index", (int)i, "name", g->name);
        if (g->has_mem) {
            json_object_set_new(j, "memTotal", json_integer((json_int_t)g->mem_total));
            json_object_set_new(j, "memUsed", json_integer((json_int_t)g->mem_used));
        }
        if (g->has_util) {
            json_object_set_new(j, "utilPct", json_real(g->util_pct));
        }
        json_array_append_new(gpus, j);
    }
    json_object_set_new(o, "gpus", gpus);
    json_object_set(o, "repos", w->repos != NULL ? w->repos : json_array());
    const char *why = NULL;
    json_object_set_new(o, "sandbox", json_boolean(ad_procs_sandbox(w->procs, &why)));
    json_object_set_new(o, "sandboxWhy", json_string(why != NULL ? why : ""));
    return o;
}

/* The runs' agents, measured by their sessions (a node's runs are in
 * cgroups when it can, but measured as trees: what it reports is the same). */
size_t ad_worker_run_targets(ad_health_target_t *out, size_t max, void *ud)
{
    worker_t *w = ud;
    size_t n = 0;
    for (wrun_t *r = w->runs; r != NULL && n < max; r = r->next) {
        if (r->agent_pid <= 0) {
            ad_hold_info_t info;
            if (ad_hold_info_read(r->dir, &info) != 0) {
                continue; /* (a replay, or not started yet) */
            }
            r->agent_pid = info.agent;
        }
        memset(&out[n], 0, sizeof(out[n]));
        snprintf(out[n].agent_id, sizeof(out[n].agent_id), "%s", r->agent_id);
        snprintf(out[n].run_id, sizeof(out[n].run_id), "%s", r->id);
        out[n].pid = r->agent_pid;
        n++;
    }
    return n;
}

/* What the runs use now, from the last sample: [{run, pid, cpuPercent,
 * rssBytes, gpuMemoryBytes, processes}], said with each renewal (the pid
 * also tells a restarted plane, which took the run up, what "spawned" told
 * the one before). */
json_t *ad_worker_run_figures(const worker_t *w)
{
    const ad_health_sample_t *s = w->health != NULL ? ad_health_current(w->health) : NULL;
    json_t *a = json_array();
    for (size_t i = 0; s != NULL && i < s->nagents; i++) {
        const ad_health_agent_t *g = &s->agents[i];
        json_array_append_new(a, json_pack("{s:s, s:I, s:o, s:I, s:I, s:I}", "run", g->run_id,
                                           "pid", (json_int_t)g->pid, "cpuPercent",
                                           g->has_cpu ? json_real(g->cpu_pct) : json_null(),
                                           "rssBytes", (json_int_t)g->rss_bytes, "gpuMemoryBytes",
                                           (json_int_t)g->gpu_mem_bytes, "processes",
                                           (json_int_t)g->nprocs));
    }
    return a;
}
