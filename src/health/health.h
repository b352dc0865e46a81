/* SPDX-License-Identifier: MIT */
/*
 * health: what the machine and each agent are using. A sampler on a libuv
 * timer reads /proc, /sys (hwmon, thermal zones), statvfs of the data dir,
 * each agent's cgroup or process group and NVML (loaded with dlopen, never
 * linked) on the thread pool, scores the result against thresholds and
 * keeps a bounded history (1 s for an hour, coarser tiers beyond). The
 * Prometheus text writer (prom.c) lives here too, and the services' probes
 * (probe.c: a connect, an HTTP GET or a command). Nothing here knows HTTP,
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
    char node[64];   /* the worker node that measured it (issue #34), "" here */
} ad_health_agent_t;

/* A running service's state and the figures it reports (src/svc), for the
 * score and the system_health payload's syntheticEye block (src/compat).
 * No names: the event that carries them goes to every organisation. */
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
    bool has_throttle;
    uint64_t throttle; /* NVML's clock event (throttle) reasons, a bit mask */
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
/* t with every threshold settings names (a number: health_gpu_util_pct,
 * health_gpu_temp_c, health_gpu_power_w, health_cpu_util_pct,
 * health_cpu_temp_c, health_mem_used_pct, health_disk_used_pct,
 * health_service_fps_min, health_service_latency_ms) taken from it; the
 * others as they are. Any thread. */
void ad_health_thresholds_from(ad_health_thresholds_t *t, const json_t *settings);
/* The last sample, or NULL before the first. Borrowed until the next. */
const ad_health_sample_t *ad_health_current(const ad_health_t *h);
/* How many GPUs the last sample of h (NULL: none) shows (NVML), or 0 with
 * why (no sample yet, NVML's reason). For the sweeps' trials. */
int ad_health_gpus(const ad_health_t *h, char *why, size_t whysz);
uint64_t ad_health_interval_ms(const ad_health_t *h);
/* Samples taken, and the thread time they cost in total (ns). */
void ad_health_cost(const ad_health_t *h, uint64_t *samples, uint64_t *ns);

/* Whether a GPU of s is held back by a throttle reason that costs speed
 * (power cap, hardware slowdown, thermal, power brake; not idle or an
 * application's clock setting): true with why ("GPU 0: thermal (HW), power
 * cap") set. */
bool ad_health_gpu_throttled(const ad_health_sample_t *s, char *why, size_t whysz);

/* ---- JSON views -------------------------------------------------------------- */
/* One agent as GET /api/health lists it: {agentId, runId, pid, cpuPercent
 * (null on a first sample), rssBytes, gpuMemoryBytes, processes, source:
 * cgroup|proc}, or, measured by a worker node, source "node", node (its
 * name) and no pid. New reference. */
json_t *ad_health_agent_json(const ad_health_agent_t *g);
/* The full view for GET /api/health: cpu, memory, disk, gpu, score,
 * reasons, thresholds and the agents of org ("" every org); its summary
 * (the system_health payload) is src/compat's. New ref. */
json_t *ad_health_sample_json(const ad_health_sample_t *s, const ad_health_thresholds_t *t,
                              const char *org);

/* ---- history ------------------------------------------------------------------
 * A range is "<n><s|m|h|d>" or a number of seconds, from 10 s to 7 days,
 * or "all" (AD_HEALTH_RANGE_ALL: everything kept, up to a year).
 * 0, or AD_EINVAL with why (static). */
#define AD_HEALTH_RANGE_ALL 0
int ad_health_range_parse(const char *s, int64_t *seconds, const char **why);
/* {range, rangeSec, stepSec, t:[ms…], series:{…}, max:{…}} for the last
 * seconds. New ref. */
json_t *ad_health_history_json(const ad_health_t *h, int64_t seconds);

/* ---- the history on disk (disk.c, issue #35) -----------------------------------
 * Every sample, packed as records into chunks the wiring hands to the store:
 * the host's (time, then cpu, cpuTemp, memUsed, load1, gpuUtil, gpuTemp,
 * gpuPower, vramUsed, score as float32, NaN unknown: 44 bytes) and each
 * measured run's (time, cpu percent of one core, rss bytes, GPU memory
 * bytes: 20 bytes). A chunk is closed at AD_HEALTH_CHUNK_RECS records or
 * before it would span AD_HEALTH_CHUNK_SPAN_MS (the store's
 * AD_STORE_HCHUNK_SPAN_MS), so a crash loses at most a minute at 1 Hz. Then read back into buckets
 * for a time range. Loop thread for the pending chunks; the accumulator on any one thread at a
 * time. */
#define AD_HEALTH_CHUNK_RECS 60
#define AD_HEALTH_CHUNK_SPAN_MS 600000
#define AD_HEALTH_HOST_REC 44
#define AD_HEALTH_RUN_REC 20
typedef struct ad_health_pend ad_health_pend_t;
/* A chunk handed out: run_id "" for the host's. Borrowed for the call. */
typedef void (*ad_health_chunk_cb)(const char *run_id, int64_t t0, int64_t t1, size_t n,
                                   const void *data, size_t len, void *ud);
ad_health_pend_t *ad_health_pend_new(void);
void ad_health_pend_free(ad_health_pend_t *p);
/* Adds s's records and those of the runs its nodes measured (remote[0..n),
 * may be NULL: issue #34), handing the chunks out through cb first when s
 * would take them past the span and after when they are full. */
void ad_health_pend_add(ad_health_pend_t *p, const ad_health_sample_t *s,
                        const ad_health_agent_t *remote, size_t nremote, ad_health_chunk_cb cb,
                        void *ud);
/* Hands out every chunk holding records (the host's first) and empties them. */
void ad_health_pend_take(ad_health_pend_t *p, ad_health_chunk_cb cb, void *ud);

/* Buckets over [from, to] (1..AD_HEALTH_BUCKETS_MAX) of the host's series
 * and, when run_id is not "", the run's (cpu, rss, gpuMem): mean and max. */
#define AD_HEALTH_BUCKETS_MAX 5000
typedef struct ad_health_acc ad_health_acc_t;
ad_health_acc_t *ad_health_acc_new(int64_t from, int64_t to, size_t buckets, const char *run_id);
void ad_health_acc_free(ad_health_acc_t *a);
/* Adds a stored chunk's records (run: a run's): false when the bytes are
 * not whole records (the chunk is skipped). */
bool ad_health_acc_chunk(ad_health_acc_t *a, bool run, const void *data, size_t len, size_t n);
/* Adds the records still pending (newer than any added from disk). */
void ad_health_acc_pending(ad_health_acc_t *a, const ad_health_pend_t *p);
/* {from, to, bucketCount, bucketMs, t, samples, series: {name: [mean|null]},
 * max: {…}, run?: {runId, samples, series: {cpu, rss, gpuMem}, max}}. New ref. */
json_t *ad_health_acc_json(const ad_health_acc_t *a);

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
 * agentd_health_score) and the agents of org ("" every org): s's and the
 * runs worker nodes measured (remote[0..nremote), labelled with their
 * node; may be NULL). */
int ad_health_prom(ad_buf_t *b, const ad_health_sample_t *s, const char *org,
                   const ad_health_agent_t *remote, size_t nremote);
/* The sampler's own cost (samples, CPU seconds) and then ad_health_prom of
 * the current sample; h NULL writes nothing. */
int ad_health_prom_all(const ad_health_t *h, ad_buf_t *b, const char *org,
                       const ad_health_agent_t *remote, size_t nremote);

/* ---- probes (probe.c): one health probe of a service, reported once ---------------
 * {type: tcp (host, port) | unix (path) | http (url; any 2xx is healthy) | command
 * (command: argv; exit 0), timeoutMs}. Loop thread. */
typedef struct ad_probe ad_probe_t;
/* ok, the time it took, and why not (NULL when ok; borrowed for the call). */
typedef void (*ad_probe_cb)(bool ok, double latency_ms, const char *error, void *ud);
/* Runs probe (checked by src/svc's ad_svc_probe_check; borrowed for the
 * call); a command probe of another organisation's service (sandboxed)
 * runs in the plain sandbox, or not at all without one; procs NULL: a
 * command probe is refused (a worker node runs those as runs). Always 0: a
 * probe that cannot start reports its failure through cb. */
struct ad_procs;
int ad_probe_run(uv_loop_t *loop, struct ad_procs *procs, json_t *probe, bool sandboxed,
                 ad_probe_cb cb, void *ud);

#endif
