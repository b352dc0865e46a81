/* SPDX-License-Identifier: MIT */
/*
 * A sandboxed program's registration with the shared network proxy
 * (netproxyd.c, issue #80), in agentd-hold:
 *
 *   --net-register FOLDER POLICY -- CMD...   FOLDER is <data-dir>/proxy/ID:
 *       asks the proxy on <data-dir>/proxy/ctl to serve ID's socket
 *       FOLDER/s under POLICY for as long as this process lives, then
 *       execs CMD (bubblewrap) in it, so the registration lasts exactly as
 *       long as the sandbox. The proxy takes this process's pid from the
 *       socket, never from what it sends. Nothing stays running here: the
 *       per-program cost is the proxy's table entry.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hold/net_int.h"

#include "core/core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <sys/un.h>
#include <unistd.h>

#define REG_TIMEOUT_SEC 10
#define CONNECT_TRIES 2000 /* 10 s in all */
#define CONNECT_WAIT_MS 5

/* The proxy's answer to "R ID\nPOLICY\n" on ctl: NULL when it serves it,
 * else why not (into why). */
static const char *reg(const char *ctl, const char *id, const char *policy, char *why, size_t whysz)
{
    struct sockaddr_un a;
    int dirfd = -1;
    if (ad_unix_addr(ctl, &a, &dirfd) != 0) {
        snprintf(why, whysz, "%.300s: %s", ctl, strerror(errno));
        return why;
    }
    /* the proxy may be starting (the daemon's thread starts it and does
     * not wait, src/proc/netd.c): tried again, bounded */
    int c = -1;
    struct timeval tv = {.tv_sec = REG_TIMEOUT_SEC};
    for (int i = 0; i < CONNECT_TRIES; i++) {
        c = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) == 0) {
            break;
        }
        int e = errno;
        close(c);
        c = -1;
        errno = e;
        if (e != ENOENT && e != ECONNREFUSED) {
            break;
        }
        struct timespec ts = {.tv_nsec = CONNECT_WAIT_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (c < 0) {
        snprintf(why, whysz, "the network proxy does not answer on %.300s: %s", ctl,
                 strerror(errno));
        if (c >= 0) {
            close(c);
        }
        if (dirfd >= 0) {
            close(dirfd);
        }
        return why;
    }
    if (dirfd >= 0) {
        close(dirfd);
    }
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char req[8400], ans[256];
    int n = snprintf(req, sizeof(req), "R %s\n%s\n", id, policy);
    size_t len = 0;
    if (n > 0 && (size_t)n < sizeof(req) && ad_net_send_all(c, req, (size_t)n)) {
        ssize_t r;
        while (len < sizeof(ans) - 1 && memchr(ans, '\n', len) == NULL &&
               ((r = read(c, ans + len, sizeof(ans) - 1 - len)) > 0 || (r < 0 && errno == EINTR))) {
            len += r > 0 ? (size_t)r : 0;
        }
    }
    close(c);
    ans[len] = '\0';
    ans[strcspn(ans, "\n")] = '\0';
    if (strcmp(ans, "ok") == 0) {
        return NULL;
    }
    snprintf(why, whysz, "%s", len > 0 ? ans : "the network proxy did not answer");
    return why;
}

int ad_hold_net_register(int argc, char **argv)
{
    char **cmd = ad_net_command_of(argc, argv);
    const char *folder = cmd != NULL ? argv[0] : "";
    const char *slash = strrchr(folder, '/');
    char ctl[4200], why[512];
    if (cmd == NULL || slash == NULL || slash == folder || strchr(argv[1], '\n') != NULL) {
        fprintf(stderr, "usage: agentd-hold --net-register FOLDER POLICY -- CMD...\n");
        return 2;
    }
    snprintf(ctl, sizeof(ctl), "%.*s/" AD_NET_CTL, (int)(slash - folder), folder);
    if (reg(ctl, slash + 1, argv[1], why, sizeof(why)) != NULL) {
        fprintf(stderr, "agentd network: %s\n", why);
        return 1;
    }
    execvp(cmd[0], cmd);
    fprintf(stderr, "agentd network: cannot run %s: %s\n", cmd[0], strerror(errno));
    return 127;
}
