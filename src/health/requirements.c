/* SPDX-License-Identifier: MIT */
/*
 * What agentd needs from the machine, item by item, each ok / missing /
 * warning with one line on how to fix it: the kernel and DMA-BUF, cgroup
 * v2, git and each agent CLI (found on PATH, version from `--version`),
 * free disk, and the NVIDIA driver as NVML reports it. Blocking (it runs
 * programs and reads /proc/kallsyms): call it on the thread pool.
 */
#define _GNU_SOURCE
#include "core/child.h"
#include "health/health_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define VERSION_TIMEOUT_MS 5000

/* git and the kernel are needed; the rest are needed only for what uses
 * them (an agent CLI for its agents, a GPU for GPU figures). */
static void item(json_t *items, const char *id, const char *name, const char *status,
                 const char *value, const char *fix)
{
    bool required = strcmp(id, "git") == 0 || strcmp(id, "kernel") == 0;
    json_array_append_new(items,
                          json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:b}", "id", id, "name", name,
                                    "status", status, "value", value, "fix",
                                    strcmp(status, "ok") == 0 ? NULL : fix, "required", required));
}

int ad_health_program_version(const char *path, char *out, size_t outsz)
{
    out[0] = '\0';
    ad_buf_t b;
    ad_buf_init(&b, outsz - 1);
    char *argv[] = {(char *)path, "--version", NULL};
    ad_child_run_t o = {.timeout_ms = VERSION_TIMEOUT_MS, .end_group = true, .out = &b};
    ad_child_ran_t ran;
    char why[256];
    int rc = ad_child_run(argv, &o, &ran, why, sizeof(why));
    if (b.len > 0) {
        snprintf(out, outsz, "%s", b.data);
    }
    ad_buf_cleanup(&b);
    out[strcspn(out, "\n")] = '\0';
    if (rc != 0) {
        return AD_EIO;
    }
    return ran.timed_out ? AD_ETIMEDOUT : ran.status == 0 && out[0] != '\0' ? 0 : AD_EINVAL;
}

static void tool(json_t *items, const ad_health_req_in_t *in, size_t i)
{
    const ad_health_tool_t *t = &in->tools[i];
    char path[4096], version[256], label[4500];
    if (ad_path_which(t->bin, NULL, path, sizeof(path)) != 0) {
        snprintf(label, sizeof(label), "%s not found on PATH", t->bin);
        item(items, t->id, t->name, "missing", label, t->fix);
        return;
    }
    int rc = ad_health_program_version(path, version, sizeof(version));
    if (rc != 0) {
        snprintf(label, sizeof(label), "%s: %s", path,
                 rc == AD_ETIMEDOUT ? "--version did not answer in 5 s" : "--version failed");
        item(items, t->id, t->name, "warning", label, t->fix);
        return;
    }
    snprintf(label, sizeof(label), "%s (%s)", version, path);
    item(items, t->id, t->name, "ok", label, t->fix);
}

static void kernel(json_t *items)
{
    struct utsname u;
    if (uname(&u) != 0) {
        item(items, "kernel", "Linux kernel", "warning", "unknown", "uname failed");
        return;
    }
    char label[400];
    snprintf(label, sizeof(label), "%s %s", u.sysname, u.release);
    int major = (int)strtol(u.release, NULL, 10);
    item(items, "kernel", "Linux kernel", major >= 5 ? "ok" : "warning", label,
         "Linux 5.x or later is needed for cgroup v2 delegation and cgroup.kill; update the "
         "kernel");
}

/* DMA-BUF: its sysfs stats, a DMA heap, or the exported symbol. */
static bool dmabuf(const char *kallsyms, char *how, size_t howsz)
{
    struct stat st;
    if (stat("/sys/kernel/dmabuf", &st) == 0) {
        snprintf(how, howsz, "/sys/kernel/dmabuf");
        return true;
    }
    if (stat("/dev/dma_heap", &st) == 0) {
        snprintf(how, howsz, "/dev/dma_heap");
        return true;
    }
    FILE *f = fopen(kallsyms, "r");
    if (f == NULL) {
        return false;
    }
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        const char *sym = strrchr(line, ' ');
        found = sym != NULL && strncmp(sym + 1, "dma_buf_export", 14) == 0 &&
                (sym[15] == '\n' || sym[15] == '\t' || sym[15] == '\0');
    }
    fclose(f);
    if (found) {
        snprintf(how, howsz, "dma_buf_export in %s", kallsyms);
    }
    return found;
}

static void disk(json_t *items, const ad_health_req_in_t *in)
{
    if (!in->has_disk) {
        item(items, "disk", "Free disk (data dir)", "warning", "unknown",
             "the data dir's file system could not be read (statvfs)");
        return;
    }
    char label[128];
    double gib = (double)in->disk_free / (1024.0 * 1024 * 1024);
    double pct = in->disk_total ? 100.0 * (double)in->disk_free / (double)in->disk_total : 0;
    snprintf(label, sizeof(label), "%.1f GiB free (%.0f %%)", gib, pct);
    bool low = gib < 1.0 || pct < 5;
    item(items, "disk", "Free disk (data dir)", low ? "warning" : "ok", label,
         "free space on the data dir's disk (agentd stores events and transcripts there)");
}

static void gpu(json_t *items, const ad_health_req_in_t *in)
{
    char label[400];
    if (!in->gpu_available) {
        item(items, "gpu", "NVIDIA GPU and driver", "missing", in->gpu_reason,
             "install the NVIDIA driver (it brings libnvidia-ml.so.1), or point --nvml-lib at "
             "it; without it agentd shows no GPU figures");
        item(items, "cuda", "CUDA driver version", "missing", "no NVML",
             "comes with the NVIDIA driver");
        return;
    }
    snprintf(label, sizeof(label), "%s, driver %s", in->gpu_name, in->gpu_driver);
    item(items, "gpu", "NVIDIA GPU and driver", "ok", label, "");
    item(items, "cuda", "CUDA driver version", in->gpu_cuda[0] ? "ok" : "warning",
         in->gpu_cuda[0] ? in->gpu_cuda : "unknown", "update the NVIDIA driver");
}

json_t *ad_health_requirements(const ad_health_req_in_t *in)
{
    json_t *items = json_array();
    kernel(items);
    char how[300];
    bool dma = dmabuf("/proc/kallsyms", how, sizeof(how));
    item(items, "dmabuf", "DMA-BUF", dma ? "ok" : "warning", dma ? how : "not found",
         "a kernel with CONFIG_DMA_SHARED_BUFFER; only zero-copy frame capture needs it");
    item(items, "sandbox", "agent sandbox", in->sandbox_ok ? "ok" : "warning", in->sandbox_detail,
         "install bubblewrap (Debian: apt-get install bubblewrap) and allow user namespaces; "
         "without a sandbox agents see every file agentd's user can, and only the owner's "
         "organisation may start agents");
    item(items, "cgroup", "cgroup v2", in->cgroup_ok ? "ok" : "warning", in->cgroup_detail,
         "mount cgroup2 at /sys/fs/cgroup and delegate a writable subtree to agentd (systemd: "
         "Delegate=yes), so stop reaches every process an agent starts");
    for (size_t i = 0; i < in->ntools; i++) {
        tool(items, in, i);
    }
    disk(items, in);
    gpu(items, in);
    bool ok = true;
    size_t i;
    json_t *v;
    json_array_foreach(items, i, v)
    {
        ok = ok && (!json_is_true(json_object_get(v, "required")) ||
                    strcmp(json_string_value(json_object_get(v, "status")), "ok") == 0);
    }
    return json_pack("{s:b, s:I, s:o}", "ok", ok, "checkedAt", (json_int_t)ad_wall_ms(), "items",
                     items);
}
