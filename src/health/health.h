/* SPDX-License-Identifier: MIT */
/*
 * health: what the machine and each agent are using. A sampler on a libuv
 * timer reads /proc, /sys (hwmon, thermal zones), statvfs of the data dir,
 * each agent's cgroup or process group and NVML (loaded with dlopen, never
 * linked) on the thread pool, scores the result against thresholds and
 * keeps a bounded history (1 s for an hour, coarser tiers beyond). The
 * Prometheus text writer (prom.c) lives here too. Nothing here knows HTTP,
 * the bus or the store: the wiring hands in who to sample and takes each
 * sample out through a callback.
 *
 * Threads: every function below is for the loop thread, except the pure
 * parsers and writers, which any thread may call.
 */
#ifndef AD_HEALTH_H
#define AD_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "core/core.h"

#define AD_HEALTH_MAX_CPUS 256
#define AD_HEALTH_MAX_GPUS 8
#define AD_HEALTH_MAX_GPU_PROCS 32
#define AD_HEALTH_MAX_AGENTS 256
#define AD_HEALTH_MAX_REASONS 16
#define AD_HEALTH_MAX_SERVICES 32

/* Levels past which the score drops, each with a reason. */
typedef struct {
    double gpu_util_pct;   /* 85 */
    double gpu_temp_c;     /* 80 */
    double gpu_power_w;    /* 300 */
    double cpu_util_pct;   /* 90 */
    double cpu_temp_c;     /* 85 */
    double mem_used_pct;   /* 90 */
    double disk_used_pct;  /* 90 */
    double svc_fps_min;    /* 400: a service reporting fewer frames a second */
    double svc_latency_ms; /* 2: a service reporting a higher latency */
} ad_health_thresholds_t;
void ad_health_thresholds_default(ad_health_thresholds_t *t);

/* One process tree to account for: a live run of an agent. */
typedef struct {
    char agent_id[AD_ID_MAX];
    char run_id[AD_ID_MAX];
    char org[AD_ID_MAX];
    pid_t pid;         /* the tree's leader (its session and group id) */
    char cgroup[1024]; /* its cgroup v2 directory, "" without */
} ad_health_target_t;

typedef struct {
    char agent_id[AD_ID_MAX];
    char run_id[AD_ID_MAX];
    char org[AD_ID_MAX];
    pid_t pid;
    bool has_cpu;       /* false on the first sample of a tree */
    double cpu_pct;     /* percent of one core (top's convention) */
    uint64_t rss_bytes; /* resident: anon + file mapped (cgroup) or RSS sum */
    uint64_t gpu_mem_bytes;
    unsigned nprocs; /* processes counted (0: unknown, cgroup mode) */
    bool cgroup;     /* measured from its cgroup, else from /proc */
} ad_health_agent_t;

/* A running service's state and the figures it reports (src/svc), for the
 * score and the seed's syntheticEye block. No names: the event that
 * carries them goes to every organisation. */
typedef struct {
    bool health_known, healthy;
    bool has_fps, has_latency, has_pcie;
    double fps, latency_ms, pcie_gbps;
} ad_health_service_t;

typedef struct {
    unsigned pid;
    uint64_t used_bytes;
    int agent; /* index into the sample's agents, or -1 */
} ad_health_gpu_proc_t;

typedef struct {
    char name[96];
    char uuid[96];
    bool has_util, has_mem, has_temp, has_power, has_limit;
    double util_pct, mem_util_pct;
    uint64_t mem_used, mem_total;
    double temp_c, power_w, power_limit_w;
    unsigned nprocs;
    ad_health_gpu_proc_t procs[AD_HEALTH_MAX_GPU_PROCS];
} ad_health_gpu_t;

typedef struct {
    char code[32];     /* "gpu_temperature", … */
    char message[160]; /* one line a user reads */
    double value, threshold;
    int penalty;
} ad_health_reason_t;

/* Everything one tick measured. has_* false: the machine does not say. */
typedef struct {
    int64_t ts_ms;
    bool has_cpu;
    double cpu_pct;
    unsigned ncpu;
    double core_pct[AD_HEALTH_MAX_CPUS];
    bool has_load;
    double load[3];
    bool has_mem;
    uint64_t mem_total, mem_available, swap_total, swap_free;
    bool has_disk;
    uint64_t disk_total, disk_free;
    bool has_cpu_temp;
    double cpu_temp_c;
    char cpu_temp_source[128];
    bool gpu_available;
    char gpu_reason[256];
    char gpu_driver[80];
    char gpu_cuda[32];
    unsigned ngpu;
    ad_health_gpu_t gpus[AD_HEALTH_MAX_GPUS];
    size_t nagents;
    ad_health_agent_t agents[AD_HEALTH_MAX_AGENTS];
    size_t nservices;
    ad_health_service_t services[AD_HEALTH_MAX_SERVICES];
    int score;
    size_t nreasons;
    ad_health_reason_t reasons[AD_HEALTH_MAX_REASONS];
    uint64_t cost_ns; /* thread time this sample took to read */
} ad_health_sample_t;

/* ---- the sampler ------------------------------------------------------------ */
typedef struct ad_health ad_health_t;
/* Fills out[0..max) with the trees to sample; returns how many. */
typedef size_t (*ad_health_targets_fn)(ad_health_target_t *out, size_t max, void *ud);
/* Fills out[0..max) with the running services; returns how many. */
typedef size_t (*ad_health_services_fn)(ad_health_service_t *out, size_t max, void *ud);
/* A new sample is current (borrowed for the call). */
typedef void (*ad_health_sample_cb)(const ad_health_sample_t *s, void *ud);

typedef struct {
    const char *data_dir; /* whose file system is measured (copied) */
    const char *nvml_lib; /* NVML to dlopen: a path or name; NULL/"" = the usual names */
    /* Where the history is kept across restarts (read at new, written
     * every 5 min and at close); NULL: in memory only. Copied. */
    const char *history_path;
    uint64_t interval_ms; /* 0: never sample (nothing is started) */
    ad_health_targets_fn targets;
    ad_health_services_fn services; /* may be NULL */
    ad_health_sample_cb on_sample;
    void *ud;
} ad_health_opts_t;

/* Returns owned: free with ad_health_close(). opts is copied. The first
 * sample is taken at once; until it lands ad_health_current() is NULL. */
ad_health_t *ad_health_new(uv_loop_t *loop, const ad_health_opts_t *opts);
/* Stops sampling; the memory goes once the timer is closed and any read in
 * flight on the pool has come back. NULL is a no-op. */
void ad_health_close(ad_health_t *h);
void ad_health_set_thresholds(ad_health_t *h, const ad_health_thresholds_t *t);
const ad_health_thresholds_t *ad_health_thresholds(const ad_health_t *h);
/* The last sample, or NULL before the first. Borrowed until the next. */
const ad_health_sample_t *ad_health_current(const ad_health_t *h);
uint64_t ad_health_interval_ms(const ad_health_t *h);
/* Samples taken, and the thread time they cost in total (ns). */
void ad_health_cost(const ad_health_t *h, uint64_t *samples, uint64_t *ns);

/* ---- JSON views -------------------------------------------------------------- */
/* The full view for GET /api/health: cpu, memory, disk, gpu, score,
 * reasons, thresholds and the agents of org ("" every org). New ref. */
json_t *ad_health_sample_json(const ad_health_sample_t *s, const ad_health_thresholds_t *t,
                              const char *org);
/* The seed's system_health payload: gpu {utilization, temperature,
 * vramUsed, vramTotal, powerDraw} (GB and W, as the seed's client shows
 * them; {available:false, reason} without a GPU), cpu {utilization,
 * temperature, ramUsed, ramTotal}, syntheticEye {fps, latency,
 * pcieBandwidth, status} (the first running service that reports fps;
 * null without one), overallScore, reasons. No agent data: the event goes
 * to every organisation. New ref. */
json_t *ad_health_event_json(const ad_health_sample_t *s);

/* ---- history ------------------------------------------------------------------
 * A range is "<n><s|m|h|d>" or a number of seconds, from 10 s to 7 days,
 * or "all" (AD_HEALTH_RANGE_ALL: everything kept, up to a year).
 * 0, or AD_EINVAL with why (static). */
#define AD_HEALTH_RANGE_ALL 0
int ad_health_range_parse(const char *s, int64_t *seconds, const char **why);
/* {range, rangeSec, stepSec, t:[ms…], series:{…}, max:{…}} for the last
 * seconds. New ref. */
json_t *ad_health_history_json(const ad_health_t *h, int64_t seconds);

/* ---- requirements (requirements.c) -------------------------------------------------
 * Blocking: runs each tool's `--version` (5 s at most each) and reads
 * /proc/kallsyms. For the thread pool. */
typedef struct {
    const char *id, *name; /* "claude", "Claude Code CLI" */
    const char *bin;       /* a name looked up on PATH, or a path */
    const char *fix;       /* one line: how to get it */
} ad_health_tool_t;
typedef struct {
    const ad_health_tool_t *tools;
    size_t ntools;
    bool cgroup_ok;
    const char *cgroup_detail;
    bool sandbox_ok;            /* agents run in a sandbox (src/proc) */
    const char *sandbox_detail; /* how, or why not */
    bool has_disk;
    uint64_t disk_total, disk_free;
    bool gpu_available;
    char gpu_reason[256], gpu_name[96], gpu_driver[80], gpu_cuda[32];
} ad_health_req_in_t;
/* {ok, checkedAt, items:[{id, name, status: ok|missing|warning, value,
 * fix, required}]}; ok: every required item is ok. New ref. */
json_t *ad_health_requirements(const ad_health_req_in_t *in);
/* The first line `path --version` prints (stdout or stderr) within 5 s.
 * 0, AD_EINVAL (failed or said nothing), AD_ETIMEDOUT or AD_EIO. */
int ad_health_program_version(const char *path, char *out, size_t outsz);

/* ---- parsers (pure; any thread; tested on recorded files) ---------------------- */
typedef struct {
    uint64_t busy, total;
} ad_cpu_times_t;
/* /proc/stat text: the aggregate line into *all and up to max "cpuN"
 * lines into cores (by N). Returns the number of cores seen, or -1 when
 * there is no aggregate line. Guest time is in user already and is taken
 * out; idle and iowait are idle. */
int ad_health_parse_stat(const char *text, ad_cpu_times_t *all, ad_cpu_times_t *cores,
                         unsigned max);
/* Percent busy between two readings (0 when nothing moved). */
double ad_health_cpu_pct(const ad_cpu_times_t *prev, const ad_cpu_times_t *now);
/* /proc/meminfo text: bytes. False without MemTotal. MemAvailable falls
 * back to MemFree + Buffers + Cached on kernels before 3.14. */
bool ad_health_parse_meminfo(const char *text, uint64_t *total, uint64_t *available,
                             uint64_t *swap_total, uint64_t *swap_free);
bool ad_health_parse_loadavg(const char *text, double load[3]);
/* /proc/<pid>/stat text: session id, CPU ticks (utime + stime) and RSS
 * pages. The command may hold spaces and parentheses. */
bool ad_health_parse_pid_stat(const char *text, pid_t *session, uint64_t *ticks,
                              uint64_t *rss_pages);
/* A cgroup's memory.stat: anon + file_mapped bytes. */
bool ad_health_parse_memstat(const char *text, uint64_t *rss);
/* The "usage_usec" of a cgroup's cpu.stat. */
bool ad_health_parse_cpustat(const char *text, uint64_t *usec);

/* ---- Prometheus text exposition (prom.c; the writer is core's) ------------------- */
/* The host and GPU gauges of s (agentd_host_*, agentd_gpu_*,
 * agentd_health_score) and the agents of org ("" every org). */
int ad_health_prom(ad_buf_t *b, const ad_health_sample_t *s, const char *org);
/* The sampler's own cost (samples, CPU seconds) and then ad_health_prom of
 * the current sample; h NULL writes nothing. */
int ad_health_prom_all(const ad_health_t *h, ad_buf_t *b, const char *org);

#endif
