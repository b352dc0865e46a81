/* SPDX-License-Identifier: MIT */
/*
 * Listeners handed over by a service manager (socket activation: systemd's
 * agentd.socket, or systemd-socket-activate): the LISTEN_PID, LISTEN_FDS
 * and LISTEN_FDNAMES protocol of sd_listen_fds(3), read here without
 * libsystemd. At most one TCP and one unix stream listener, told apart by
 * their address family; the server adopts them instead of binding
 * (server.c). The variables are removed so that nothing agentd starts
 * takes them for its own.
 */
#include "http/http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define FIRST_FD 3 /* SD_LISTEN_FDS_START */
#define MAX_FDS 16

/* The name of the i-th descriptor in LISTEN_FDNAMES ("" when none). */
static void fd_name(const char *names, int i, char *out, size_t outsz)
{
    out[0] = '\0';
    for (const char *p = names; p != NULL && *p != '\0'; i--) {
        size_t n = strcspn(p, ":");
        if (i == 0) {
            snprintf(out, outsz, "%.*s", (int)(n < 64 ? n : 64), p);
            return;
        }
        p += n + (p[n] == ':');
    }
}

static int take_one(ad_listen_fds_t *l, int fd, const char *name, char *err, size_t errsz)
{
    int type = 0, listening = 0;
    socklen_t len = sizeof(type);
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &(socklen_t){sizeof(listening)}) !=
            0 ||
        !listening || getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
        snprintf(err, errsz,
                 "inherited descriptor %d (%s) is not a listening stream socket: give agentd "
                 "ListenStream= sockets only",
                 fd, name[0] ? name : "no name");
        return AD_EINVAL;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC); /* never into an agent */
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        if (l->tcp_fd >= 0) {
            snprintf(err, errsz,
                     "two inherited TCP listeners (descriptors %d and %d): agentd "
                     "serves one address",
                     l->tcp_fd, fd);
            return AD_EINVAL;
        }
        l->tcp_fd = fd;
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &a->sin_addr, l->host, sizeof(l->host));
            l->port = ntohs(a->sin_port);
        } else {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &a->sin6_addr, l->host, sizeof(l->host));
            l->port = ntohs(a->sin6_port);
        }
        return 0;
    }
    if (ss.ss_family == AF_UNIX) {
        const struct sockaddr_un *a = (const struct sockaddr_un *)&ss;
        if (l->unix_fd >= 0) {
            snprintf(err, errsz, "two inherited unix listeners (descriptors %d and %d)", l->unix_fd,
                     fd);
            return AD_EINVAL;
        }
        l->unix_fd = fd;
        size_t plen = sslen > offsetof(struct sockaddr_un, sun_path)
                          ? sslen - offsetof(struct sockaddr_un, sun_path)
                          : 0;
        plen = strnlen(a->sun_path, plen < sizeof(a->sun_path) ? plen : sizeof(a->sun_path));
        snprintf(l->unix_path, sizeof(l->unix_path), "%.*s", (int)plen, a->sun_path);
        return 0;
    }
    snprintf(err, errsz,
             "inherited descriptor %d has address family %d: agentd takes TCP and "
             "unix sockets",
             fd, (int)ss.ss_family);
    return AD_EINVAL;
}

int ad_listen_fds_take(ad_listen_fds_t *l, char *err, size_t errsz)
{
    memset(l, 0, sizeof(*l));
    l->tcp_fd = -1;
    l->unix_fd = -1;
    const char *pid_s = getenv("LISTEN_PID");
    const char *fds_s = getenv("LISTEN_FDS");
    const char *names = getenv("LISTEN_FDNAMES");
    char *end = NULL;
    long pid = pid_s != NULL ? strtol(pid_s, &end, 10) : 0;
    bool ours = pid_s != NULL && end != pid_s && *end == '\0' && pid == (long)getpid();
    long n = 0;
    if (ours && fds_s != NULL) {
        n = strtol(fds_s, &end, 10);
        if (end == fds_s || *end != '\0' || n < 0 || n > MAX_FDS) {
            snprintf(err, errsz, "LISTEN_FDS='%.20s': expected a count from 0 to %d", fds_s,
                     MAX_FDS);
            return AD_EINVAL;
        }
    }
    char names_copy[1024];
    snprintf(names_copy, sizeof(names_copy), "%s", names != NULL ? names : "");
    /* Another process's variables (a parent that was activated) are not
     * ours to use, nor to pass on. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    for (int i = 0; i < (int)n; i++) {
        char name[72];
        fd_name(names_copy, i, name, sizeof(name));
        int rc = take_one(l, FIRST_FD + i, name, err, errsz);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}
