/* SPDX-License-Identifier: MIT */
/*
 * An agent's network allow-list (issue #31), the half outside its sandbox:
 *
 *   agentd hold --net-proxy SOCK ALLOW -- CMD...   listens on the unix
 *       socket SOCK, runs CMD (bwrap and the agent, with the bridge of
 *       netserve.c inside) and serves until it ends, with its exit status.
 *       A connection is one proxy request: CONNECT host:port, or a
 *       plain-HTTP request in absolute form (http://host[:port]/...). Only
 *       hosts on ALLOW (comma-separated "host" for ports 80 and 443, or
 *       "host:port") are connected to; the rest get 403 and a line on
 *       stderr (the agent's transcript).
 *
 * Timeouts bound the request head. Names are resolved here, outside: the
 * agent never sees an address it was not allowed. getaddrinfo is why this
 * half runs as agentd itself and not as the static agentd-hold, whose
 * libc could not load the system's resolver modules (NSS).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hold/net_int.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEAD_MAX 8192
#define HEAD_TIMEOUT_SEC 30

static const char *allow_list; /* the proxy's ALLOW */

static void write_all(int fd, const char *s)
{
    (void)ad_net_send_all(fd, s, strlen(s));
}

/* Whether host:port is on the allow list. */
static bool allowed(const char *host, const char *port)
{
    for (const char *p = allow_list; *p != '\0';) {
        size_t n = strcspn(p, ",");
        char e[300];
        if (n > 0 && n < sizeof(e)) {
            memcpy(e, p, n);
            e[n] = '\0';
            char *colon;
            if (e[0] == '[') { /* [v6] or [v6]:port */
                char *rb = strchr(e, ']');
                colon = rb != NULL && rb[1] == ':' ? rb + 1 : NULL;
            } else { /* host, host:port; a bare v6 address has more than one ':' */
                colon = strchr(e, ':');
                if (colon != NULL && strchr(colon + 1, ':') != NULL) {
                    colon = NULL;
                }
            }
            if (colon != NULL) {
                *colon = '\0';
                if (strcasecmp(e, host) == 0 && strcmp(colon + 1, port) == 0) {
                    return true;
                }
            } else if (strcasecmp(e, host) == 0 &&
                       (strcmp(port, "443") == 0 || strcmp(port, "80") == 0)) {
                return true;
            }
        }
        p += n + (p[n] == ',');
    }
    return false;
}

/* Splits "host[:port]" (host may be [v6]) into host (brackets kept) and port. */
static bool split_hostport(const char *s, size_t n, char *host, size_t hsz, char *port,
                           const char *defport)
{
    const char *end = s + n, *colon = NULL;
    if (n > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (rb == NULL) {
            return false;
        }
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(s, ':', n);
    }
    size_t hl = colon != NULL ? (size_t)(colon - s) : n;
    size_t pl = colon != NULL ? (size_t)(end - colon - 1) : strlen(defport);
    if (hl == 0 || hl >= hsz || pl == 0 || pl > 5) {
        return false;
    }
    memcpy(host, s, hl);
    host[hl] = '\0';
    memcpy(port, colon != NULL ? colon + 1 : defport, pl);
    port[pl] = '\0';
    for (size_t i = 0; i < pl; i++) {
        if (port[i] < '0' || port[i] > '9') {
            return false;
        }
    }
    for (size_t i = 0; i < hl; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= ' ' || c == '/' || c == '@' || c == '%' || c >= 0x7f) {
            return false;
        }
    }
    return true;
}

static int dial(const char *host, const char *port)
{
    char h[300];
    size_t hl = strlen(host);
    if (host[0] == '[' && hl >= 2) { /* [v6] */
        snprintf(h, sizeof(h), "%.*s", (int)(hl - 2), host + 1);
    } else {
        snprintf(h, sizeof(h), "%s", host);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(h, port, &hints, &res) != 0) {
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* One proxy request on c: the head read (bounded), checked, answered. */
static void proxy_conn(int c)
{
    struct timeval tv = {.tv_sec = HEAD_TIMEOUT_SEC};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char head[HEAD_MAX + 1];
    size_t len = 0;
    char *end = NULL;
    while (end == NULL && len < HEAD_MAX) {
        ssize_t n = read(c, head + len, HEAD_MAX - len);
        if (n <= 0) {
            return;
        }
        len += (size_t)n;
        head[len] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    if (end == NULL) {
        write_all(c, "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n");
        return;
    }
    size_t head_len = (size_t)(end - head) + 4;
    char method[16] = "", host[300], port[8];
    const char *sp1 = memchr(head, ' ', head_len);
    const char *tgt = sp1 != NULL ? sp1 + 1 : NULL;
    const char *sp2 = tgt != NULL ? memchr(tgt, ' ', head_len - (size_t)(tgt - head)) : NULL;
    bool connect_m = false, ok = false;
    if (sp2 != NULL && (size_t)(sp1 - head) < sizeof(method)) {
        memcpy(method, head, (size_t)(sp1 - head));
        method[sp1 - head] = '\0';
        connect_m = strcmp(method, "CONNECT") == 0;
        if (connect_m) {
            ok = split_hostport(tgt, (size_t)(sp2 - tgt), host, sizeof(host), port, "443");
        } else if ((size_t)(sp2 - tgt) > 7 && strncasecmp(tgt, "http://", 7) == 0) {
            const char *h = tgt + 7;
            size_t hl = strcspn(h, "/? ");
            if (h + hl > sp2) {
                hl = (size_t)(sp2 - h);
            }
            ok = split_hostport(h, hl, host, sizeof(host), port, "80");
        }
    }
    if (!ok) {
        write_all(c, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nagentd: a proxy "
                     "request is CONNECT host:port or an http:// URL\n");
        return;
    }
    if (!allowed(host, port)) {
        fprintf(stderr, "agentd network: refused %s %s:%s (not in the agent's allow list)\n",
                method, host, port);
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                 "agentd: %s:%s is not in this agent's network allow list\n",
                 host, port);
        write_all(c, msg);
        return;
    }
    int u = dial(host, port);
    if (u < 0) {
        write_all(c, "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n");
        return;
    }
    tv.tv_sec = 0;
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect_m) {
        write_all(c, "HTTP/1.1 200 Connection established\r\n\r\n");
        if (len > head_len && !ad_net_send_all(u, head + head_len, len - head_len)) {
            close(u);
            return;
        }
    } else if (!ad_net_send_all(u, head, len)) { /* the request as it came, absolute form */
        close(u);
        return;
    }
    ad_net_splice(c, u);
    close(u);
}

int ad_hold_net_proxy(int argc, char **argv)
{
    char **cmd = ad_net_command_of(argc, argv);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (cmd == NULL || strlen(argv[0]) >= sizeof(a.sun_path)) {
        fprintf(stderr, "usage: agentd hold --net-proxy SOCK ALLOW -- CMD...\n");
        return 2;
    }
    allow_list = argv[1];
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[0]);
    unlink(argv[0]);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 64) != 0) {
        fprintf(stderr, "agentd network: cannot listen on %s: %s\n", argv[0], strerror(errno));
        return 1;
    }
    int rc = ad_net_serve(l, cmd, proxy_conn, NULL);
    unlink(argv[0]);
    return rc;
}
