/* SPDX-License-Identifier: MIT */
/*
 * An agent's network allow-list (issue #31), the part both halves share
 * and the half inside the sandbox. The agent runs in a network namespace
 * of its own with loopback only and reaches the hosts an admin allowed
 * through an HTTP proxy outside (netproxy.c, `agentd hold --net-proxy`):
 *
 *   --net-bridge SOCK PORT -- CMD...   inside the sandbox (agentd-hold):
 *       listens on 127.0.0.1:PORT of the agent's namespace, forwards each
 *       connection to SOCK (the proxy's socket bound in), and runs CMD
 *       with HTTP(S)_PROXY set to http://127.0.0.1:PORT.
 *
 * A thread per connection (at most MAX_CONNS at once), blocking I/O.
 * Sockets are written with MSG_NOSIGNAL: a peer gone must not SIGPIPE the
 * wrapper (its end would end the run while the agent lives on), and
 * SIGPIPE stays the agent's default. Nothing here resolves a name, so the
 * static agentd-hold carries no resolver (the proxy does it, outside).
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

#define MAX_CONNS 64

static atomic_int nconns;
static const char *bridge_to;      /* the bridge's SOCK */
static void (*serve_conn)(int fd); /* one connection's handler */

bool ad_net_send_all(int fd, const char *p, size_t n)
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
void ad_net_splice(int a, int b)
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
            if (!ad_net_send_all(to, buf, (size_t)n)) {
                return;
            }
        }
    }
}

static void bridge_conn(int c)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", bridge_to);
    int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (u >= 0 && connect(u, (struct sockaddr *)&a, sizeof(a)) == 0) {
        ad_net_splice(c, u);
    }
    if (u >= 0) {
        close(u);
    }
}

static void *conn_thread(void *arg)
{
    int c = (int)(intptr_t)arg;
    serve_conn(c);
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

int ad_net_serve(int l, char **cmd, void (*conn)(int), const char *proxy_url)
{
    serve_conn = conn;
    pid_t pid = fork();
    if (pid < 0) {
        perror("agentd network: fork");
        return 1;
    }
    if (pid == 0) {
        if (proxy_url != NULL) { /* the bridge */
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

char **ad_net_command_of(int argc, char **argv)
{
    return argc >= 4 && strcmp(argv[2], "--") == 0 ? argv + 3 : NULL;
}

int ad_hold_net_bridge(int argc, char **argv)
{
    char **cmd = ad_net_command_of(argc, argv);
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
    return ad_net_serve(l, cmd, bridge_conn, url);
}
