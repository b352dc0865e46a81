/* SPDX-License-Identifier: MIT */
/*
 * GPUs through NVML, loaded with dlopen at run time and never linked: a
 * machine without the NVIDIA driver runs the same binary and says why
 * there is no GPU. agentd declares the few types it uses instead of
 * including nvml.h (not a Debian build dependency); their layouts are
 * NVML's stable ABI. Each call may fail on its own (NOT_SUPPORTED on many
 * boards): a failed field is left unknown, never an error.
 *
 * Threads: the pool's, one job at a time (NVML itself is thread-safe).
 */
#include "health/health_int.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvret_t;
typedef void *nvdev_t;
typedef struct {
    unsigned gpu, memory;
} nvutil_t;
typedef struct {
    unsigned long long total, free, used;
} nvmem_t;
typedef struct { /* nvmlProcessInfo_v2_t, also what _v3 takes */
    unsigned pid;
    unsigned long long used;
    unsigned gpu_instance, compute_instance;
} nvproc2_t;
typedef struct { /* nvmlProcessInfo_v1_t */
    unsigned pid;
    unsigned long long used;
} nvproc1_t;

#define NV_SUCCESS 0
#define NV_TEMPERATURE_GPU 0
#define NV_PROCS_MAX 256
/* usedGpuMemory when the driver cannot say (Windows WDDM, some MIG). */
#define NV_VALUE_NA 0xffffffffffffffffULL

struct ad_nvml {
    void *lib;
    bool ok;
    char reason[256];
    char driver[80], cuda[32];
    unsigned count;
    nvdev_t dev[AD_HEALTH_MAX_GPUS];
    char name[AD_HEALTH_MAX_GPUS][96];
    char uuid[AD_HEALTH_MAX_GPUS][96];
    nvret_t (*shutdown)(void);
    const char *(*errstr)(nvret_t);
    nvret_t (*util)(nvdev_t, nvutil_t *);
    nvret_t (*mem)(nvdev_t, nvmem_t *);
    nvret_t (*temp)(nvdev_t, int, unsigned *);
    nvret_t (*power)(nvdev_t, unsigned *);
    nvret_t (*limit)(nvdev_t, unsigned *);
    nvret_t (*throttle)(nvdev_t, unsigned long long *);
    nvret_t (*procs2)(nvdev_t, unsigned *, nvproc2_t *);
    nvret_t (*procs1)(nvdev_t, unsigned *, nvproc1_t *);
    /* scratch of one read (one job at a time) */
    nvproc2_t p2[NV_PROCS_MAX];
    nvproc1_t p1[NV_PROCS_MAX];
    char code[32];
};

/* The first of the names the library has (versioned first). */
static void *sym(void *lib, const char *a, const char *b)
{
    void *f = dlsym(lib, a);
    if (f == NULL && b != NULL) {
        f = dlsym(lib, b);
    }
    return f;
}

static const char *nv_error(ad_nvml_t *n, nvret_t rc)
{
    const char *s = n->errstr != NULL ? n->errstr(rc) : NULL;
    if (s != NULL) {
        return s;
    }
    snprintf(n->code, sizeof(n->code), "error %d", rc);
    return n->code;
}

static void versions(ad_nvml_t *n)
{
    nvret_t (*drv)(char *, unsigned) = sym(n->lib, "nvmlSystemGetDriverVersion", NULL);
    if (drv == NULL || drv(n->driver, sizeof(n->driver)) != NV_SUCCESS) {
        n->driver[0] = '\0';
    }
    n->driver[sizeof(n->driver) - 1] = '\0';
    nvret_t (*cuda)(int *) =
        sym(n->lib, "nvmlSystemGetCudaDriverVersion_v2", "nvmlSystemGetCudaDriverVersion");
    int v = 0;
    if (cuda != NULL && cuda(&v) == NV_SUCCESS && v > 0) {
        snprintf(n->cuda, sizeof(n->cuda), "%d.%d", v / 1000, (v % 1000) / 10);
    }
}

/* Device handles and their fixed names, once. */
static bool devices(ad_nvml_t *n)
{
    nvret_t (*count)(unsigned *) = sym(n->lib, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
    nvret_t (*handle)(unsigned, nvdev_t *) =
        sym(n->lib, "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex");
    nvret_t (*name)(nvdev_t, char *, unsigned) = sym(n->lib, "nvmlDeviceGetName", NULL);
    nvret_t (*uuid)(nvdev_t, char *, unsigned) = sym(n->lib, "nvmlDeviceGetUUID", NULL);
    unsigned c = 0;
    nvret_t rc = count != NULL && handle != NULL ? count(&c) : -1;
    if (rc != NV_SUCCESS) {
        snprintf(n->reason, sizeof(n->reason), "NVML cannot count devices: %s",
                 count == NULL || handle == NULL ? "symbol missing" : nv_error(n, rc));
        return false;
    }
    if (c == 0) {
        snprintf(n->reason, sizeof(n->reason), "NVML sees no GPU");
        return false;
    }
    for (unsigned i = 0; i < c && n->count < AD_HEALTH_MAX_GPUS; i++) {
        nvdev_t d = NULL;
        if (handle(i, &d) != NV_SUCCESS) {
            continue;
        }
        unsigned k = n->count++;
        n->dev[k] = d;
        if (name == NULL || name(d, n->name[k], sizeof(n->name[k])) != NV_SUCCESS) {
            snprintf(n->name[k], sizeof(n->name[k]), "GPU %u", i);
        }
        if (uuid == NULL || uuid(d, n->uuid[k], sizeof(n->uuid[k])) != NV_SUCCESS) {
            n->uuid[k][0] = '\0';
        }
        n->name[k][sizeof(n->name[k]) - 1] = '\0';
        n->uuid[k][sizeof(n->uuid[k]) - 1] = '\0';
    }
    if (n->count == 0) {
        snprintf(n->reason, sizeof(n->reason), "NVML gave no device handle");
    }
    return n->count > 0;
}

static bool start(ad_nvml_t *n)
{
    nvret_t (*init)(void) = sym(n->lib, "nvmlInit_v2", "nvmlInit");
    n->shutdown = sym(n->lib, "nvmlShutdown", NULL);
    n->errstr = sym(n->lib, "nvmlErrorString", NULL);
    if (init == NULL) {
        snprintf(n->reason, sizeof(n->reason), "the library has no nvmlInit: not NVML");
        return false;
    }
    nvret_t rc = init();
    if (rc != NV_SUCCESS) {
        snprintf(n->reason, sizeof(n->reason), "nvmlInit failed: %s", nv_error(n, rc));
        n->shutdown = NULL; /* nothing to shut down */
        return false;
    }
    n->util = sym(n->lib, "nvmlDeviceGetUtilizationRates", NULL);
    n->mem = sym(n->lib, "nvmlDeviceGetMemoryInfo", NULL);
    n->temp = sym(n->lib, "nvmlDeviceGetTemperature", NULL);
    n->power = sym(n->lib, "nvmlDeviceGetPowerUsage", NULL);
    n->limit = sym(n->lib, "nvmlDeviceGetEnforcedPowerLimit", NULL);
    /* renamed in newer drivers, the old name kept */
    n->throttle = sym(n->lib, "nvmlDeviceGetCurrentClocksEventReasons",
                      "nvmlDeviceGetCurrentClocksThrottleReasons");
    n->procs2 = sym(n->lib, "nvmlDeviceGetComputeRunningProcesses_v3",
                    "nvmlDeviceGetComputeRunningProcesses_v2");
    if (n->procs2 == NULL) {
        n->procs1 = sym(n->lib, "nvmlDeviceGetComputeRunningProcesses", NULL);
    }
    versions(n);
    return devices(n);
}

ad_nvml_t *ad_nvml_open(const char *lib)
{
    ad_nvml_t *n = ad_xcalloc(1, sizeof(*n));
    const char *names[] = {lib, "libnvidia-ml.so.1", "libnvidia-ml.so"};
    size_t first = lib != NULL && lib[0] != '\0' ? 0 : 1, last = first == 0 ? 1 : 3;
    const char *why = NULL;
    for (size_t i = first; i < last && n->lib == NULL; i++) {
        n->lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (n->lib == NULL) {
            why = dlerror();
        }
    }
    if (n->lib == NULL) {
        snprintf(n->reason, sizeof(n->reason), "no NVIDIA driver library: %s",
                 why != NULL ? why : "not found");
        return n;
    }
    n->ok = start(n);
    if (n->ok) {
        ad_log(AD_LOG_INFO, "health", "nvml gpus=%u driver=%s cuda=%s", n->count, n->driver,
               n->cuda);
    } else {
        ad_log(AD_LOG_INFO, "health", "no gpu reason=\"%s\"", n->reason);
    }
    return n;
}

void ad_nvml_close(ad_nvml_t *n)
{
    if (n == NULL) {
        return;
    }
    if (n->ok && n->shutdown != NULL) {
        n->shutdown();
    }
    if (n->lib != NULL) {
        dlclose(n->lib);
    }
    free(n);
}

static void read_procs(ad_nvml_t *n, nvdev_t d, ad_health_gpu_t *g)
{
    nvproc2_t *p2 = n->p2;
    nvproc1_t *p1 = n->p1;
    unsigned c = NV_PROCS_MAX;
    g->nprocs = 0;
    if (n->procs2 != NULL && n->procs2(d, &c, p2) == NV_SUCCESS) {
        for (unsigned i = 0; i < c && i < NV_PROCS_MAX && g->nprocs < AD_HEALTH_MAX_GPU_PROCS;
             i++) {
            uint64_t used = p2[i].used == NV_VALUE_NA ? 0 : p2[i].used;
            g->procs[g->nprocs++] = (ad_health_gpu_proc_t){p2[i].pid, used, -1};
        }
    } else if (n->procs1 != NULL && n->procs1(d, &c, p1) == NV_SUCCESS) {
        for (unsigned i = 0; i < c && i < NV_PROCS_MAX && g->nprocs < AD_HEALTH_MAX_GPU_PROCS;
             i++) {
            uint64_t used = p1[i].used == NV_VALUE_NA ? 0 : p1[i].used;
            g->procs[g->nprocs++] = (ad_health_gpu_proc_t){p1[i].pid, used, -1};
        }
    }
}

static void read_device(ad_nvml_t *n, unsigned k, ad_health_gpu_t *g)
{
    nvdev_t d = n->dev[k];
    memset(g, 0, sizeof(*g));
    memcpy(g->name, n->name[k], sizeof(g->name));
    memcpy(g->uuid, n->uuid[k], sizeof(g->uuid));
    nvutil_t u;
    if (n->util != NULL && n->util(d, &u) == NV_SUCCESS) {
        g->has_util = true;
        g->util_pct = u.gpu;
        g->mem_util_pct = u.memory;
    }
    nvmem_t m;
    if (n->mem != NULL && n->mem(d, &m) == NV_SUCCESS && m.total > 0) {
        g->has_mem = true;
        g->mem_used = m.used;
        g->mem_total = m.total;
    }
    unsigned v;
    if (n->temp != NULL && n->temp(d, NV_TEMPERATURE_GPU, &v) == NV_SUCCESS) {
        g->has_temp = true;
        g->temp_c = v;
    }
    if (n->power != NULL && n->power(d, &v) == NV_SUCCESS) {
        g->has_power = true;
        g->power_w = v / 1000.0; /* NVML speaks milliwatts */
    }
    if (n->limit != NULL && n->limit(d, &v) == NV_SUCCESS) {
        g->has_limit = true;
        g->power_limit_w = v / 1000.0;
    }
    unsigned long long reasons;
    if (n->throttle != NULL && n->throttle(d, &reasons) == NV_SUCCESS) {
        g->has_throttle = true;
        g->throttle = reasons;
    }
    read_procs(n, d, g);
}

bool ad_health_gpu_throttled(const ad_health_sample_t *s, char *why, size_t whysz)
{
    static const struct {
        uint64_t bit;
        const char *name;
    } reasons[] = {{0x4, "power cap"},
                   {0x8, "hardware slowdown"},
                   {0x20, "thermal (SW)"},
                   {0x40, "thermal (HW)"},
                   {0x80, "power brake"}};
    bool any = false;
    size_t off = 0;
    why[0] = '\0';
    for (unsigned k = 0; k < s->ngpu; k++) {
        const ad_health_gpu_t *g = &s->gpus[k];
        bool first = true;
        for (size_t i = 0; g->has_throttle && i < AD_ARRAY_LEN(reasons); i++) {
            if ((g->throttle & reasons[i].bit) == 0) {
                continue;
            }
            int w = first ? snprintf(why + off, whysz - off, "%sGPU %u: %s", any ? "; " : "", k,
                                     reasons[i].name)
                          : snprintf(why + off, whysz - off, ", %s", reasons[i].name);
            off = w > 0 && off + (size_t)w < whysz ? off + (size_t)w : whysz - 1;
            first = false;
            any = true;
        }
    }
    return any;
}

void ad_nvml_read(ad_nvml_t *n, ad_health_sample_t *s)
{
    s->gpu_available = n->ok;
    s->ngpu = 0;
    if (!n->ok) {
        snprintf(s->gpu_reason, sizeof(s->gpu_reason), "%s", n->reason);
        return;
    }
    s->gpu_reason[0] = '\0';
    memcpy(s->gpu_driver, n->driver, sizeof(s->gpu_driver));
    memcpy(s->gpu_cuda, n->cuda, sizeof(s->gpu_cuda));
    for (unsigned k = 0; k < n->count; k++) {
        read_device(n, k, &s->gpus[s->ngpu++]);
    }
}
