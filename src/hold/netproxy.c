/* SPDX-License-Identifier: MIT */
/*
 * An agent's network allow-list (issue #31): the agent runs in a network
 * namespace of its own with loopback only, and reaches the hosts an admin
 * allowed through an HTTP proxy outside. Two halves, both `agentd-hold`
 * (libc only, like the holder):
 *
 *   --net-proxy SOCK ALLOW -- CMD...   outside the sandbox: listens on the
 *       unix socket SOCK, runs CMD (bwrap and the agent) and serves until
 *       it ends, with its exit status. A connection is one proxy request:
 *       CONNECT host:port, or a plain-HTTP request in absolute form
 *       (http://host[:port]/...). Only hosts on ALLOW (comma-separated
 *       "host" for ports 80 and 443, or "host:port") are connected to; the
 *       rest get 403 and a line on stderr (the agent's transcript).
 *   --net-bridge SOCK PORT -- CMD...   inside the sandbox: listens on
 *       127.0.0.1:PORT of the agent's namespace, forwards each connection
 *       to SOCK (the proxy's socket bound in), and runs CMD with
 *       HTTP(S)_PROXY set to http://127.0.0.1:PORT.
 *
 * A thread per connection (at most MAX_CONNS at once), blocking I/O with
 * timeouts for the request head. Sockets are written with MSG_NOSIGNAL:
 * a peer gone must not SIGPIPE the wrapper (its end would end the run
 * while the agent lives on), and SIGPIPE stays the agent's default. Names are resolved outside, by
 * the proxy: the agent never sees an address it was not allowed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hold/hold.h"

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

#define MAX_CONNS 64
#define HEAD_MAX 8192
#define HEAD_TIMEOUT_SEC 30

static atomic_int nconns;
static const char *allow_list; /* the proxy's ALLOW */
static const char *bridge_to;  /* the bridge's SOCK */

static bool send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Copies both ways between a and b until both ends have said all. */
static void splice2(int a, int b)
{
    char buf[16384];
    struct pollfd p[2] = {{.fd = a, .events = POLLIN}, {.fd = b, .events = POLLIN}};
    int open = 2;
    while (open > 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || (p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
                continue;
            }
            int to = i == 0 ? b : a;
            ssize_t n = read(p[i].fd, buf, sizeof(buf));
            if (n <= 0) {
                if (n < 0 && errno == EINTR) {
                    continue;
                }
                shutdown(to, SHUT_WR);
                p[i].fd = -1;
                open--;
                continue;
            }
            if (!send_all(to, buf, (size_t)n)) {
                return;
            }
        }
    }
}

static void write_all(int fd, const char *s)
{
    (void)send_all(fd, s, strlen(s));
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
        if (len > head_len && !send_all(u, head + head_len, len - head_len)) {
            close(u);
            return;
        }
    } else if (!send_all(u, head, len)) { /* the request as it came, absolute form */
        close(u);
        return;
    }
    splice2(c, u);
    close(u);
}

static void bridge_conn(int c)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", bridge_to);
    int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (u >= 0 && connect(u, (struct sockaddr *)&a, sizeof(a)) == 0) {
        splice2(c, u);
    }
    if (u >= 0) {
        close(u);
    }
}

static void *conn_thread(void *arg)
{
    int c = (int)(intptr_t)arg;
    if (bridge_to != NULL) {
        bridge_conn(c);
    } else {
        proxy_conn(c);
    }
    close(c);
    atomic_fetch_sub(&nconns, 1);
    return NULL;
}

static void *accept_thread(void *arg)
{
    int l = (int)(intptr_t)arg;
    for (;;) {
        int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
                if (errno == EMFILE || errno == ENFILE) {
                    usleep(100000);
                }
                continue;
            }
            return NULL;
        }
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 128 * 1024);
        if (atomic_fetch_add(&nconns, 1) >= MAX_CONNS ||
            pthread_create(&t, &at, conn_thread, (void *)(intptr_t)c) != 0) {
            atomic_fetch_sub(&nconns, 1);
            close(c);
        }
        pthread_attr_destroy(&at);
    }
}

/* Runs cmd (a fork: listening sockets are close-on-exec) and serves l
 * until it ends; the process then ends as cmd did. */
static int run_serving(int l, char **cmd, bool bridge, const char *proxy_url)
{
    pid_t pid = fork();
    if (pid < 0) {
        perror("agentd network: fork");
        return 1;
    }
    if (pid == 0) {
        if (bridge) {
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            static const char *const vars[] = {"HTTPS_PROXY", "HTTP_PROXY", "https_proxy",
                                               "http_proxy",  "ALL_PROXY",  "all_proxy"};
            for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
                setenv(vars[i], proxy_url, 1);
            }
            unsetenv("NO_PROXY");
            unsetenv("no_proxy");
        }
        execvp(cmd[0], cmd);
        fprintf(stderr, "agentd network: cannot run %s: %s\n", cmd[0], strerror(errno));
        _exit(127);
    }
    pthread_t t;
    if (pthread_create(&t, NULL, accept_thread, (void *)(intptr_t)l) != 0) {
        kill(pid, SIGKILL);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st)) {
        return WEXITSTATUS(st);
    }
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* argv after --net-proxy / --net-bridge: A B -- CMD... */
static char **command_of(int argc, char **argv)
{
    return argc >= 4 && strcmp(argv[2], "--") == 0 ? argv + 3 : NULL;
}

int ad_hold_net_proxy(int argc, char **argv)
{
    char **cmd = command_of(argc, argv);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (cmd == NULL || strlen(argv[0]) >= sizeof(a.sun_path)) {
        fprintf(stderr, "usage: agentd-hold --net-proxy SOCK ALLOW -- CMD...\n");
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
    int rc = run_serving(l, cmd, false, NULL);
    unlink(argv[0]);
    return rc;
}

int ad_hold_net_bridge(int argc, char **argv)
{
    char **cmd = command_of(argc, argv);
    char *end = NULL;
    unsigned long port = cmd != NULL ? strtoul(argv[1], &end, 10) : 0;
    if (cmd == NULL || end == NULL || *end != '\0' || port == 0 || port > 65535) {
        fprintf(stderr, "usage: agentd-hold --net-bridge SOCK PORT -- CMD...\n");
        return 2;
    }
    bridge_to = argv[0];
    /* the agent's stop signals are its own: this one waits for its end */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l >= 0) {
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (l < 0 || bind(l, (struct sockaddr *)&in, sizeof(in)) != 0 || listen(l, 64) != 0) {
        fprintf(stderr, "agentd network: cannot listen on 127.0.0.1:%lu: %s\n", port,
                strerror(errno));
        return 1;
    }
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%lu", port);
    return run_serving(l, cmd, true, url);
}
