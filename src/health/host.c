/* SPDX-License-Identifier: MIT */
/*
 * The machine's side of a sample, read on the pool: CPU use per core and
 * in total from /proc/stat deltas, load, memory and swap, the data dir's
 * file system and the CPU temperature (a sensor chosen once, then one
 * small read per sample). Parsing is procfs.c's.
 */
#include "health/health_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

ssize_t ad_health_read_file(const char *path, char *buf, size_t bufsz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    size_t len = 0;
    while (len + 1 < bufsz) {
        ssize_t n = read(fd, buf + len, bufsz - 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

static void read_cpu(ad_health_host_t *h, ad_health_sample_t *s, char *buf, size_t bufsz)
{
    ad_cpu_times_t *cores = h->cur_cores;
    ad_cpu_times_t all;
    if (ad_health_read_file("/proc/stat", buf, bufsz) <= 0) {
        return;
    }
    int n = ad_health_parse_stat(buf, &all, cores, AD_HEALTH_MAX_CPUS);
    if (n < 0) {
        return;
    }
    if (h->have_prev) {
        s->has_cpu = true;
        s->cpu_pct = ad_health_cpu_pct(&h->prev_all, &all);
        s->ncpu = (unsigned)n;
        for (int i = 0; i < n; i++) {
            s->core_pct[i] = ad_health_cpu_pct(&h->prev_cores[i], &cores[i]);
        }
    }
    h->prev_all = all;
    memcpy(h->prev_cores, cores, (size_t)n * sizeof(cores[0]));
    h->have_prev = true;
}

/* A hwmon chip's preferred input: the package (Intel "Package id 0") or
 * the die (AMD "Tdie", else "Tctl"), else its first temp1_input. */
static bool hwmon_pick(const char *dir, char *path, size_t pathsz, char *label, size_t labelsz)
{
    char f[600], text[64];
    const char *want[] = {"Package id 0", "Tdie", "Tctl"};
    for (size_t w = 0; w < AD_ARRAY_LEN(want); w++) {
        for (int i = 1; i <= 16; i++) {
            snprintf(f, sizeof(f), "%s/temp%d_label", dir, i);
            if (ad_health_read_file(f, text, sizeof(text)) <= 0) {
                continue;
            }
            text[strcspn(text, "\n")] = '\0';
            if (strcmp(text, want[w]) == 0) {
                snprintf(path, pathsz, "%s/temp%d_input", dir, i);
                snprintf(label, labelsz, "%s", text);
                return true;
            }
        }
    }
    snprintf(f, sizeof(f), "%s/temp1_input", dir);
    if (ad_health_read_file(f, text, sizeof(text)) > 0) {
        snprintf(path, pathsz, "%s", f);
        snprintf(label, labelsz, "temp1");
        return true;
    }
    return false;
}

/* Entries of dir whose name starts with prefix, through fn until it
 * returns true. */
static bool each_entry(const char *dir, const char *prefix, bool (*fn)(const char *path, void *ud),
                       void *ud)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return false;
    }
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            char p[512];
            snprintf(p, sizeof(p), "%.250s/%.250s", dir, e->d_name);
            found = fn(p, ud);
        }
    }
    closedir(d);
    return found;
}

typedef struct {
    char *path, *label;
    size_t pathsz, labelsz;
} probe_t;

static bool try_hwmon(const char *dir, void *ud)
{
    probe_t *p = ud;
    char f[600], name[64];
    snprintf(f, sizeof(f), "%s/name", dir);
    if (ad_health_read_file(f, name, sizeof(name)) <= 0) {
        return false;
    }
    name[strcspn(name, "\n")] = '\0';
    static const char *cpus[] = {"coretemp", "k10temp", "zenpower", "cpu_thermal", "soc_thermal"};
    for (size_t i = 0; i < AD_ARRAY_LEN(cpus); i++) {
        if (strcmp(name, cpus[i]) == 0 &&
            hwmon_pick(dir, p->path, p->pathsz, p->label, p->labelsz)) {
            char l[128];
            snprintf(l, sizeof(l), "%s %s", name, p->label);
            snprintf(p->label, p->labelsz, "%s", l);
            return true;
        }
    }
    return false;
}

static bool try_zone(const char *dir, void *ud)
{
    probe_t *p = ud;
    char f[600], type[64];
    snprintf(f, sizeof(f), "%s/type", dir);
    if (ad_health_read_file(f, type, sizeof(type)) <= 0) {
        return false;
    }
    type[strcspn(type, "\n")] = '\0';
    static const char *cpus[] = {"x86_pkg_temp", "cpu-thermal", "cpu_thermal", "soc_thermal",
                                 "cpu"};
    for (size_t i = 0; i < AD_ARRAY_LEN(cpus); i++) {
        if (strcmp(type, cpus[i]) == 0) {
            snprintf(p->path, p->pathsz, "%s/temp", dir);
            snprintf(p->label, p->labelsz, "thermal zone %s", type);
            return true;
        }
    }
    return false;
}

bool ad_health_temp_probe(const char *sys, char *path, size_t pathsz, char *label, size_t labelsz)
{
    probe_t p = {path, label, pathsz, labelsz};
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/class/hwmon", sys);
    if (each_entry(dir, "hwmon", try_hwmon, &p)) {
        return true;
    }
    snprintf(dir, sizeof(dir), "%s/class/thermal", sys);
    if (each_entry(dir, "thermal_zone", try_zone, &p)) {
        return true;
    }
    path[0] = '\0';
    label[0] = '\0';
    return false;
}

static void read_temp(ad_health_host_t *h, ad_health_sample_t *s)
{
    if (!h->temp_probed) {
        h->temp_probed = true;
        ad_health_temp_probe("/sys", h->temp_path, sizeof(h->temp_path), h->temp_label,
                             sizeof(h->temp_label));
    }
    char text[32];
    if (h->temp_path[0] == '\0' || ad_health_read_file(h->temp_path, text, sizeof(text)) <= 0) {
        return;
    }
    char *end;
    long milli = strtol(text, &end, 10);
    if (end == text) {
        return;
    }
    s->has_cpu_temp = true;
    s->cpu_temp_c = (double)milli / 1000.0;
    snprintf(s->cpu_temp_source, sizeof(s->cpu_temp_source), "%s", h->temp_label);
}

void ad_health_host_read(ad_health_host_t *h, const char *data_dir, ad_health_sample_t *s,
                         char *buf, size_t bufsz)
{
    read_cpu(h, s, buf, bufsz);
    if (ad_health_read_file("/proc/meminfo", buf, bufsz) > 0) {
        s->has_mem = ad_health_parse_meminfo(buf, &s->mem_total, &s->mem_available, &s->swap_total,
                                             &s->swap_free);
    }
    if (ad_health_read_file("/proc/loadavg", buf, bufsz) > 0) {
        s->has_load = ad_health_parse_loadavg(buf, s->load);
    }
    struct statvfs v;
    if (statvfs(data_dir, &v) == 0) {
        s->has_disk = true;
        s->disk_total = (uint64_t)v.f_blocks * v.f_frsize;
        s->disk_free = (uint64_t)v.f_bavail * v.f_frsize;
    }
    read_temp(h, s);
}
