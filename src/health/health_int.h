/* SPDX-License-Identifier: MIT */
/*
 * Private to src/health: what the sampler's files share. sampler.c owns
 * the timer and the pool job; host.c reads the machine, agents.c the
 * agents' trees, nvml.c the GPUs, score.c the score, history.c the kept
 * series, json.c the views, prom.c the exposition.
 *
 * Threads: the reader state (ad_health_reader_t) belongs to whichever
 * thread runs the job: one job at a time, so never two at once.
 */
#ifndef AD_HEALTH_INT_H
#define AD_HEALTH_INT_H

#include "health/health.h"

/* Files read in one go are at most this long (/proc/stat's cpu lines on
 * 256 cores fit; the long tail, intr and softirq, is cut and not needed). */
#define AD_HEALTH_READ_MAX 32768
/* Agents without a cgroup: all of /proc is scanned for their members
 * every this many samples; in between only the members found are read. */
#define AD_HEALTH_SCAN_EVERY 5
#define AD_HEALTH_MAX_MEMBERS 4096
#define AD_HEALTH_REREAD_EVERY 6     /* full scans: every minute at 2 s */
#define AD_HEALTH_MAX_SEEN (1 << 18) /* pids whose sessions are kept: 2 MiB */

/* Reads a small file into buf (NUL-terminated). Returns the length, or -1. */
ssize_t ad_health_read_file(const char *path, char *buf, size_t bufsz);

/* ---- host.c ------------------------------------------------------------------ */
typedef struct {
    bool have_prev;
    ad_cpu_times_t prev_all;
    ad_cpu_times_t prev_cores[AD_HEALTH_MAX_CPUS];
    ad_cpu_times_t cur_cores[AD_HEALTH_MAX_CPUS];
    bool temp_probed;
    char temp_path[512]; /* the sensor file chosen once, "" when none */
    char temp_label[128];
} ad_health_host_t;
void ad_health_host_read(ad_health_host_t *h, const char *data_dir, ad_health_sample_t *s,
                         char *buf, size_t bufsz);
/* Picks the CPU temperature sensor under sys ("/sys" or a test folder):
 * a hwmon chip named coretemp/k10temp/zenpower/cpu_thermal (its package
 * or Tdie input, else its first), else a thermal zone of a CPU type.
 * path gets the file, label what it is. False when none. */
bool ad_health_temp_probe(const char *sys, char *path, size_t pathsz, char *label, size_t labelsz);

/* ---- agents.c ------------------------------------------------------------------ */
typedef struct {
    pid_t leader;
    int64_t ns;   /* when measured (monotonic) */
    uint64_t cpu; /* usec (cgroup) or ticks (proc) */
    bool cgroup;
} ad_health_prev_t;
typedef struct {
    pid_t pid;
    pid_t leader;
} ad_health_member_t;
typedef struct {
    pid_t pid;
    pid_t session;
} ad_health_seen_t;
typedef struct {
    ad_health_prev_t prev[AD_HEALTH_MAX_AGENTS];
    size_t nprev;
    ad_health_prev_t next[AD_HEALTH_MAX_AGENTS]; /* scratch of one read */
    uint64_t cpu[AD_HEALTH_MAX_AGENTS];          /* scratch of one read */
    ad_health_member_t members[AD_HEALTH_MAX_MEMBERS];
    size_t nmembers;
    unsigned since_scan;
    /* Each process's session as the last full scan had it, sorted by pid
     * (owned; at most AD_HEALTH_MAX_SEEN, the rest read at each scan). A
     * process's session changes only by its own setsid, which each read
     * of a member checks, so a pid seen before is not read again; every
     * AD_HEALTH_REREAD_EVERY scans all are, should the kernel have given
     * a pid out again. */
    ad_health_seen_t *seen;
    size_t nseen;
    unsigned scans;
    const char *proc; /* "/proc", or a test folder */
} ad_health_agents_t;
void ad_health_agents_read(ad_health_agents_t *a, const ad_health_target_t *t, size_t n,
                           ad_health_sample_t *s, char *buf, size_t bufsz);
/* Frees what the reads kept (a stays usable: the next scan reads all). */
void ad_health_agents_cleanup(ad_health_agents_t *a);
/* The agent whose tree pid belongs to (by session, else cgroup), or -1. */
int ad_health_agent_of(const ad_health_agents_t *a, const ad_health_target_t *t, size_t n,
                       unsigned pid, char *buf, size_t bufsz);

/* ---- nvml.c --------------------------------------------------------------------- */
typedef struct ad_nvml ad_nvml_t;
/* Loads lib (NULL/"": libnvidia-ml.so.1, then libnvidia-ml.so) and
 * initialises it. Always returns an object; one that failed says why in
 * its sample. Any thread (the pool's). */
ad_nvml_t *ad_nvml_open(const char *lib);
void ad_nvml_close(ad_nvml_t *n);
/* Fills the GPU part of s. */
void ad_nvml_read(ad_nvml_t *n, ad_health_sample_t *s);

/* ---- score.c -------------------------------------------------------------------- */
void ad_health_score(ad_health_sample_t *s, const ad_health_thresholds_t *t);

/* ---- history.c ------------------------------------------------------------------ */
enum {
    AD_HS_CPU,
    AD_HS_CPU_TEMP,
    AD_HS_MEM_USED,
    AD_HS_LOAD1,
    AD_HS_GPU_UTIL,
    AD_HS_GPU_TEMP,
    AD_HS_GPU_POWER,
    AD_HS_VRAM_USED,
    AD_HS_SCORE,
    AD_HS_N
};
typedef struct {
    int64_t ts_ms;      /* the bucket's start */
    float avg[AD_HS_N]; /* NaN: nothing known */
    float max[AD_HS_N];
} ad_health_point_t;
typedef struct {
    int64_t step_ms;
    size_t cap, head, count; /* ring: head is the oldest */
    ad_health_point_t *pts;  /* allocated on first use */
    /* the bucket being filled */
    int64_t acc_start;
    double acc_sum[AD_HS_N];
    float acc_max[AD_HS_N];
    unsigned acc_n[AD_HS_N];
    bool acc_open;
} ad_health_tier_t;
#define AD_HEALTH_TIERS 5
typedef struct {
    ad_health_tier_t tiers[AD_HEALTH_TIERS];
} ad_health_history_t;
/* The series values of one sample (NaN: unknown): the history's and the
 * disk records' (disk.c). */
void ad_health_values(const ad_health_sample_t *s, float v[AD_HS_N]);
void ad_health_history_init(ad_health_history_t *h);
void ad_health_history_cleanup(ad_health_history_t *h);
void ad_health_history_add(ad_health_history_t *h, const ad_health_sample_t *s);
/* seconds 0: all that is kept (AD_HEALTH_RANGE_ALL). */
json_t *ad_health_history_view(const ad_health_history_t *h, int64_t now_ms, int64_t seconds);
/* histfile.c: the rings on disk. save: 0 or AD_EIO/AD_EINVAL (the old file
 * stays). load into an h just initialised: 0, AD_ENOENT (no file),
 * AD_EIO, or AD_EINVAL (a file not of this build or damaged: h is left
 * empty). Blocking, small (at most ~1.4 MiB). */
int ad_health_history_save(const ad_health_history_t *h, const char *path);
int ad_health_history_load(ad_health_history_t *h, const char *path);
extern const char *const ad_health_series_names[AD_HS_N];

#endif
