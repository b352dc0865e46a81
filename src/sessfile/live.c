/* SPDX-License-Identifier: MIT */
/*
 * Whether a session is still being written outside agentd: its file
 * changed in the last AD_SESS_LIVE_MS, or a process holds it open (the
 * CLIs append and close, so the time is what usually tells; an fd held
 * open is the other sign). The /proc walk is bounded (processes, fds a
 * process and in all) and done only when some file changed in the last 10
 * minutes but not in the last seconds (those are live by their time).
 */
#include "sessfile/sessfile.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECENT_MS (10 * 60 * 1000)
#define PIDS_MAX 4096
#define FDS_MAX 512         /* a process's fds looked at */
#define FDS_TOTAL_MAX 65536 /* all processes' together, a walk */

static bool all_digits(const char *s)
{
    if (*s == '\0') {
        return false;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
    }
    return true;
}

/* The open files of process pid matched against the recent sessions. */
static void proc_fds(int procfd, const char *pid, ad_sess_info_t *v, size_t n, int64_t since,
                     int *budget)
{
    char fdpath[300];
    snprintf(fdpath, sizeof(fdpath), "%s/fd", pid);
    int dfd = openat(procfd, fdpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
        if (dfd >= 0) {
            close(dfd);
        }
        return;
    }
    struct dirent *e;
    int fds = 0;
    while ((e = readdir(d)) != NULL && fds++ < FDS_MAX && (*budget)-- > 0) {
        struct stat st;
        if (!all_digits(e->d_name) || fstatat(dfd, e->d_name, &st, 0) != 0 ||
            !S_ISREG(st.st_mode)) {
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (v[i].mtime_ms >= since && v[i].dev == (uint64_t)st.st_dev &&
                v[i].ino == (uint64_t)st.st_ino) {
                v[i].open_elsewhere = true;
            }
        }
    }
    closedir(d);
}

void ad_sess_live_mark(ad_sess_info_t *v, size_t n, int64_t now_ms)
{
    /* only a file changed lately but not in the last seconds needs the walk */
    bool recent = false;
    for (size_t i = 0; i < n; i++) {
        v[i].open_elsewhere = false;
        recent |= v[i].mtime_ms >= now_ms - RECENT_MS && v[i].mtime_ms < now_ms - AD_SESS_LIVE_MS;
    }
    if (recent) {
        int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = procfd >= 0 ? fdopendir(dup(procfd)) : NULL;
        struct dirent *e;
        int pids = 0, budget = FDS_TOTAL_MAX;
        char self[32];
        snprintf(self, sizeof(self), "%d", (int)getpid());
        while (d != NULL && (e = readdir(d)) != NULL && pids < PIDS_MAX && budget > 0) {
            if (all_digits(e->d_name) && strcmp(e->d_name, self) != 0) {
                pids++;
                proc_fds(procfd, e->d_name, v, n, now_ms - RECENT_MS, &budget);
            }
        }
        if (d != NULL) {
            closedir(d);
        }
        if (procfd >= 0) {
            close(procfd);
        }
    }
    for (size_t i = 0; i < n; i++) {
        v[i].live = v[i].open_elsewhere || v[i].mtime_ms >= now_ms - AD_SESS_LIVE_MS;
    }
}
