/* SPDX-License-Identifier: MIT */
/*
 * The holders' registry in the data dir: where a run's holder keeps its
 * files, reading its info and exit files, and whether the process named
 * in info is still that holder (pid and start time). Writing the files is
 * the holder's (holder.c); removing a run's directory the daemon's, once
 * the run's end is stored.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hold/hold.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

int ad_hold_root(const char *data_dir, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s/hold", data_dir);
    return n < 0 || (size_t)n >= outsz ? AD_ETOOBIG : 0;
}

int ad_hold_dir(const char *data_dir, const char *run_id, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s/hold/%s", data_dir, run_id);
    return n < 0 || (size_t)n >= outsz ? AD_ETOOBIG : 0;
}

bool ad_hold_proc_start(pid_t pid, uint64_t *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return false;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields count from
     * the last ')'. Field 3 is the state, 22 the start time. */
    char *p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ') {
        return false;
    }
    p += 2;
    if (*p == 'Z' || *p == 'X') {
        return false;
    }
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (p == NULL) {
            return false;
        }
        p++;
    }
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p) {
        return false;
    }
    *start = (uint64_t)v;
    return true;
}

static int read_small(const char *dir, const char *name, char *buf, size_t bufsz)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return AD_ENOENT;
    }
    size_t n = fread(buf, 1, bufsz - 1, f);
    fclose(f);
    buf[n] = '\0';
    return 0;
}

int ad_hold_info_read(const char *dir, ad_hold_info_t *info)
{
    char buf[256];
    int rc = read_small(dir, "info", buf, sizeof(buf));
    if (rc != 0) {
        return rc;
    }
    long pid = 0, agent = 0;
    unsigned long long start = 0;
    int pty = 0;
    if (sscanf(buf, "%ld %llu %ld %d", &pid, &start, &agent, &pty) != 4 || pid <= 0 || agent <= 0) {
        return AD_EINVAL;
    }
    info->pid = (pid_t)pid;
    info->start = (uint64_t)start;
    info->agent = (pid_t)agent;
    info->pty = pty != 0;
    return 0;
}

bool ad_hold_alive(const ad_hold_info_t *info)
{
    uint64_t start;
    return ad_hold_proc_start(info->pid, &start) && start == info->start;
}

int ad_hold_exit_read(const char *dir, int *status)
{
    char buf[64];
    int rc = read_small(dir, "exit", buf, sizeof(buf));
    if (rc != 0) {
        return rc;
    }
    char *end;
    long v = strtol(buf, &end, 10);
    if (end == buf) {
        return AD_EINVAL;
    }
    *status = (int)v;
    return 0;
}

uint64_t ad_hold_spool_size(const char *dir, int stream)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", dir, stream == 2 ? "err" : "out");
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

size_t ad_hold_log_read(const char *dir, char *buf, size_t bufsz)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/log", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;
    if (bufsz == 0) {
        return 0;
    }
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0) {
        off_t from = st.st_size > (off_t)(bufsz - 1) ? st.st_size - (off_t)(bufsz - 1) : 0;
        ssize_t r = pread(fd, buf, bufsz - 1, from);
        n = r > 0 ? (size_t)r : 0;
    }
    if (fd >= 0) {
        close(fd);
    }
    buf[n] = '\0';
    return n;
}

void ad_hold_remove(const char *dir)
{
    static const char *const names[] = {"s",        "info", "info.tmp", "exit",
                                        "exit.tmp", "out",  "err",      "log"};
    char path[4200];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    if (rmdir(dir) != 0 && errno != ENOENT) {
        ad_log(AD_LOG_WARN, "hold", "could not remove dir=%s err=%s", dir, strerror(errno));
    }
}
