/* SPDX-License-Identifier: MIT */
/*
 * Containment with cgroup v2: each spawned process tree gets a cgroup of
 * its own under "<agentd's cgroup>/agentd-runs/d-<instance>" (one folder
 * per data dir, as several agentd may share agentd-runs), joined by the child
 * before it execs, so every descendant (a background job, a setsid
 * daemon) stays inside. Killing the tree is one write to cgroup.kill; CPU
 * time and memory come from cpu.stat and memory.current; limits are
 * memory.max and cpu.max when the controllers are delegated to us.
 *
 * Without a writable cgroup v2 hierarchy (no mount, read-only, not ours)
 * containment falls back to the subreaper and process groups, and
 * ad_procs_containment() says why. Loop thread, but ad_cgroup_create,
 * which a spawner thread calls (spawner.c; the cgroups' state is read
 * only after ad_cgroups_init), and the fd a child writes to between its
 * start and its exec.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proc/proc_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads a small file into buf (NUL-terminated). 0 or -1. */
static int read_small(const char *path, char *buf, size_t bufsz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, bufsz - 1);
    close(fd);
    if (n < 0) {
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

static int write_small(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The mount point of the cgroup2 file system, from mountinfo. */
static bool find_mount(char *out, size_t outsz)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL) {
        return false;
    }
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        const char *sep = strstr(line, " - cgroup2 ");
        char mnt[PATH_MAX];
        if (sep != NULL && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 &&
            strlen(mnt) < outsz) {
            snprintf(out, outsz, "%s", mnt);
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* Our own cgroup v2 path ("0::/x/y" in /proc/self/cgroup). */
static bool own_path(char *out, size_t outsz)
{
    char buf[8192];
    if (read_small("/proc/self/cgroup", buf, sizeof(buf)) != 0) {
        return false;
    }
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "0::", 3) == 0 && strlen(line + 3) < outsz) {
            snprintf(out, outsz, "%s", line + 3);
            return true;
        }
    }
    return false;
}

/* Empty run cgroups left by an earlier daemon (or a crash) go; populated
 * ones (a run still alive) stay. */
static void remove_stale(const char *root)
{
    DIR *d = opendir(root);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_type == DT_DIR && e->d_name[0] != '.') {
            char p[PATH_MAX];
            if (snprintf(p, sizeof(p), "%s/%s", root, e->d_name) < (int)sizeof(p)) {
                rmdir(p);
            }
        }
    }
    closedir(d);
}

/* Lets the children of dir use the delegated controllers (limits); what
 * it could enable goes into *memory and *cpu. */
static void enable_controllers(const char *dir, bool *memory, bool *cpu)
{
    char ctl[512] = "";
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
    read_small(path, ctl, sizeof(ctl));
    snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
    *memory = strstr(ctl, "memory") != NULL && write_small(path, "+memory") == 0;
    *cpu = strstr(ctl, "cpu") != NULL && write_small(path, "+cpu") == 0;
}

/* The instance's folder name: "d-" and 16 hex digits of its SHA-256. */
static void instance_name(const char *instance, char out[19])
{
    char self[32], hex[65];
    if (instance == NULL || instance[0] == '\0') {
        snprintf(self, sizeof(self), "pid:%ld", (long)getpid());
        instance = self;
    }
    ad_sha256_hex(instance, strlen(instance), hex);
    snprintf(out, 19, "d-%.16s", hex);
}

void ad_cgroups_init(ad_cgroups_t *cg, const char *instance)
{
    memset(cg, 0, sizeof(*cg));
    char mnt[PATH_MAX], own[PATH_MAX], name[19];
    if (!find_mount(mnt, sizeof(mnt))) {
        snprintf(cg->why, sizeof(cg->why), "no cgroup v2 file system is mounted");
        return;
    }
    if (!own_path(own, sizeof(own))) {
        snprintf(cg->why, sizeof(cg->why), "agentd's own cgroup v2 path is unknown");
        return;
    }
    instance_name(instance, name);
    cg->mnt_len = strlen(mnt);
    int n = snprintf(cg->shared, sizeof(cg->shared), "%s%s%sagentd-runs", mnt,
                     strcmp(own, "/") == 0 ? "" : own, "/");
    if (n >= (int)sizeof(cg->shared) ||
        snprintf(cg->root, sizeof(cg->root), "%s/%s", cg->shared, name) >= (int)sizeof(cg->root)) {
        snprintf(cg->why, sizeof(cg->why), "the cgroup path is too long");
        return;
    }
    const char *dirs[] = {cg->shared, cg->root};
    for (size_t i = 0; i < AD_ARRAY_LEN(dirs); i++) {
        if (mkdir(dirs[i], 0755) != 0 && errno != EEXIST) {
            snprintf(cg->why, sizeof(cg->why), "cannot create %s: %s", dirs[i], strerror(errno));
            return;
        }
    }
    /* Only this instance's leftovers: the shared folder holds other
     * daemons' cgroups, made empty a moment before their trees join. */
    remove_stale(cg->root);
    /* Delegated controllers become usable by our children once enabled on
     * the way down; failing that, containment still works without limits. */
    bool mem_shared, cpu_shared;
    enable_controllers(cg->shared, &mem_shared, &cpu_shared);
    enable_controllers(cg->root, &cg->memory, &cg->cpu);
    cg->memory = cg->memory && mem_shared;
    cg->cpu = cg->cpu && cpu_shared;
    cg->ok = true;
    snprintf(cg->why, sizeof(cg->why), "cgroup v2 at %s (memory limits %s, cpu limits %s)",
             cg->root, cg->memory ? "on" : "off", cg->cpu ? "on" : "off");
}

void ad_cgroups_done(const ad_cgroups_t *cg)
{
    if (cg->ok) {
        rmdir(cg->root); /* fails, as it should, while a held tree is in it */
    }
}

/* Whether tail (tl bytes) is "/<name>" or "/d-<16 hex>/<name>". */
static bool run_tail(const char *tail, size_t tl, const char *name)
{
    size_t nl = strlen(name);
    if (tl == nl + 1) {
        return tail[0] == '/' && memcmp(tail + 1, name, nl) == 0;
    }
    return tl == 19 + nl + 1 && memcmp(tail, "/d-", 3) == 0 &&
           strspn(tail + 3, "0123456789abcdef") >= 16 && tail[19] == '/' &&
           memcmp(tail + 20, name, nl) == 0;
}

int ad_cgroup_of_pid(const ad_cgroups_t *cg, pid_t pid, const char *name, char *path, size_t pathsz)
{
    char f[64], buf[4096];
    snprintf(f, sizeof(f), "/proc/%ld/cgroup", (long)pid);
    if (!cg->ok || pid <= 0 || name == NULL || name[0] == '\0' || strchr(name, '/') != NULL ||
        read_small(f, buf, sizeof(buf)) != 0) {
        return -1;
    }
    const char *line = strncmp(buf, "0::", 3) == 0 ? buf : strstr(buf, "\n0::");
    if (line == NULL) {
        return -1;
    }
    line += line == buf ? 3 : 4;
    size_t len = strcspn(line, "\n");
    const char *rel = cg->shared + cg->mnt_len; /* as /proc shows it: "/…/agentd-runs" */
    size_t rl = strlen(rel);
    if (len <= rl || memcmp(line, rel, rl) != 0 || !run_tail(line + rl, len - rl, name) ||
        snprintf(path, pathsz, "%s%.*s", cg->shared, (int)(len - rl), line + rl) >= (int)pathsz) {
        return -1;
    }
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

int ad_cgroup_check(const ad_cgroups_t *cg, const ad_proc_limits_t *lim, char *err, size_t errsz)
{
    bool wants = lim != NULL && (lim->memory_bytes > 0 || lim->cpu_percent > 0);
    if (!cg->ok) {
        if (wants) {
            snprintf(err, errsz, "resource limits need cgroup v2: %s", cg->why);
            return AD_EPERM;
        }
        return 0; /* contained by process group only */
    }
    if ((lim != NULL && lim->memory_bytes > 0 && !cg->memory) ||
        (lim != NULL && lim->cpu_percent > 0 && !cg->cpu)) {
        snprintf(err, errsz, "%s limits need the cgroup v2 %s controller, not delegated here: %s",
                 lim->memory_bytes > 0 && !cg->memory ? "memory" : "cpu",
                 lim->memory_bytes > 0 && !cg->memory ? "memory" : "cpu", cg->why);
        return AD_EPERM;
    }
    return 0;
}

int ad_cgroup_create(const ad_cgroups_t *cg, const char *name, const ad_proc_limits_t *lim,
                     char *path, size_t pathsz, int *procs_fd, char *err, size_t errsz)
{
    *procs_fd = -1;
    path[0] = '\0';
    int rc = ad_cgroup_check(cg, lim, err, errsz);
    if (rc != 0 || !cg->ok) {
        return rc;
    }
    if (snprintf(path, pathsz, "%s/%s", cg->root, name) >= (int)pathsz ||
        (mkdir(path, 0755) != 0 && errno != EEXIST)) {
        ad_log(AD_LOG_WARN, "proc", "no cgroup for a process path=%s err=%s", path,
               strerror(errno));
        path[0] = '\0';
        return 0;
    }
    char f[PATH_MAX + 32], v[64];
    if (lim != NULL && lim->memory_bytes > 0) {
        snprintf(f, sizeof(f), "%s/memory.max", path);
        snprintf(v, sizeof(v), "%llu", (unsigned long long)lim->memory_bytes);
        write_small(f, v);
        snprintf(f, sizeof(f), "%s/memory.swap.max", path);
        write_small(f, "0");
    }
    if (lim != NULL && lim->cpu_percent > 0) {
        snprintf(f, sizeof(f), "%s/cpu.max", path);
        snprintf(v, sizeof(v), "%u 100000", lim->cpu_percent * 1000u);
        write_small(f, v);
    }
    snprintf(f, sizeof(f), "%s/cgroup.procs", path);
    *procs_fd = open(f, O_WRONLY | O_CLOEXEC);
    if (*procs_fd < 0) {
        rmdir(path);
        path[0] = '\0';
    }
    return 0;
}

void ad_cgroup_kill(const char *path)
{
    if (path == NULL || path[0] == '\0') {
        return;
    }
    char f[PATH_MAX + 32];
    snprintf(f, sizeof(f), "%s/cgroup.kill", path);
    if (write_small(f, "1") == 0) {
        return;
    }
    /* Kernels before 5.14: SIGKILL each member (a fork race may let one
     * through; the next call gets it). */
    char buf[65536];
    snprintf(f, sizeof(f), "%s/cgroup.procs", path);
    if (read_small(f, buf, sizeof(buf)) == 0) {
        char *save = NULL;
        for (char *s = strtok_r(buf, "\n", &save); s != NULL; s = strtok_r(NULL, "\n", &save)) {
            pid_t pid = (pid_t)strtol(s, NULL, 10);
            if (pid > 1) {
                kill(pid, SIGKILL);
            }
        }
    }
}

bool ad_cgroup_remove(const char *path)
{
    if (path == NULL || path[0] == '\0') {
        return true;
    }
    return rmdir(path) == 0 || errno == ENOENT;
}

/* One "key value" line of a flat-keyed cgroup file. */
static bool flat_value(const char *path, const char *key, uint64_t *out)
{
    char buf[4096];
    if (read_small(path, buf, sizeof(buf)) != 0) {
        return false;
    }
    size_t kl = strlen(key);
    for (const char *s = buf; *s != '\0';) {
        if (strncmp(s, key, kl) == 0 && s[kl] == ' ') {
            *out = strtoull(s + kl + 1, NULL, 10);
            return true;
        }
        const char *nl = strchr(s, '\n');
        if (nl == NULL) {
            break;
        }
        s = nl + 1;
    }
    return false;
}

void ad_cgroup_usage(const char *path, ad_proc_usage_t *u)
{
    memset(u, 0, sizeof(*u));
    if (path == NULL || path[0] == '\0') {
        return;
    }
    char f[PATH_MAX + 32], buf[64];
    snprintf(f, sizeof(f), "%s/cpu.stat", path);
    u->has_cpu = flat_value(f, "usage_usec", &u->cpu_usec);
    snprintf(f, sizeof(f), "%s/memory.current", path);
    if (read_small(f, buf, sizeof(buf)) == 0) {
        u->memory_bytes = strtoull(buf, NULL, 10);
        u->has_memory = true;
    }
    snprintf(f, sizeof(f), "%s/memory.events", path);
    uint64_t ooms = 0;
    u->oom_killed = flat_value(f, "oom_kill", &ooms) && ooms > 0;
}
