/* SPDX-License-Identifier: MIT */
/*
 * An agent's network allow-list (issue #31), the part both halves share
 * and the half inside the sandbox. The agent runs in a network namespace
 * of its own with loopback only and reaches the hosts an admin allowed
 * through an HTTP proxy outside (netproxy.c, served by the shared
 * `agentd hold --net-proxyd`):
 *
 *   --net-bridge SOCK PORT[,LPORT=ADDR:APORT...] -- CMD...   inside the
 *       sandbox (agentd-hold): listens on 127.0.0.1:PORT of the agent's
 *       namespace, forwards each connection to SOCK (the proxy's socket
 *       bound in), and runs CMD with HTTP(S)_PROXY set to
 *       http://127.0.0.1:PORT. Each LPORT=ADDR:APORT is a host service an
 *       admin opened (sandbox.hostServices): a listener on the agent's
 *       loopback at LPORT (::1 for a v6 ADDR) whose connections are
 *       tunnelled to ADDR:APORT by a CONNECT through the proxy, so a
 *       client that knows no proxy (psql, redis-cli) reaches it as if it
 *       were local. Each ^PORT is a port published on the host (a
 *       service's): a unix listener SOCK.pub/PORT whose connections go to
 *       127.0.0.1:PORT here (net_int.h). An @PORT is agentd's own
 *       OTLP receiver (a run's telemetry): a listener at 127.0.0.1:PORT
 *       whose connections go to the proxy as they come, where only an
 *       OTLP POST gets through (netproxy.c's door); a "-" says it is all
 *       there is (network "off"): CMD gets no proxy variables.
 *
 * The bridge is the sandbox's pid 1 (bwrap --as-pid-1: no reaper of
 * bwrap's beside it, issue #80): it reaps every process that comes to it
 * and ends when CMD does, which ends the namespace and all in it, as
 * bwrap's reaper did. It ignores the stop signals (the program gets them)
 * and, being pid 1, any other signal it has no handler for.
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

#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
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
#define MAX_SERVICES 16 /* as a policy's hostServices (src/run/spec.c) */

static atomic_int nconns;
static const char *bridge_to; /* the bridge's SOCK */

/* One listener: its connections go to conn(fd, ud). */
typedef struct {
    int l;
    ad_net_conn_fn conn;
    void *ud;
} listener_t;

/* One accepted connection, for its thread. */
typedef struct {
    int fd;
    ad_net_conn_fn conn;
    void *ud;
} accepted_t;

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

/* A connection to the proxy's socket, or -1. It starts with the hello
 * (net_int.h): the program's stderr (this one's) goes with it, where the
 * shared proxy writes why it refused a request. */
static int proxy_socket(void)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", bridge_to);
    int u = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (u >= 0 && connect(u, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(u);
        return -1;
    }
    char b = AD_NET_HELLO;
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } c;
    memset(&c, 0, sizeof(c));
    struct iovec iov = {.iov_base = &b, .iov_len = 1};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    int err_fd = 2;
    if (fcntl(err_fd, F_GETFD) >= 0) {
        m.msg_control = c.buf;
        m.msg_controllen = sizeof(c.buf);
        struct cmsghdr *h = CMSG_FIRSTHDR(&m);
        h->cmsg_level = SOL_SOCKET;
        h->cmsg_type = SCM_RIGHTS;
        h->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(h), &err_fd, sizeof(int));
    }
    if (u >= 0 && sendmsg(u, &m, MSG_NOSIGNAL) != 1) {
        close(u);
        return -1;
    }
    return u;
}

static void bridge_conn(int c, void *ud)
{
    AD_NET_UNUSED(ud);
    int u = proxy_socket();
    if (u >= 0) {
        ad_net_splice(c, u);
        close(u);
    }
}

/* A host service's connection: CONNECT target (ud, "ADDR:PORT") through
 * the proxy, its answer's head read up to the blank line (what follows it
 * is the service's already), then both ways as they come. */
static void service_conn(int c, void *ud)
{
    const char *target = ud;
    int u = proxy_socket();
    if (u < 0) {
        return;
    }
    char req[256], head[1024];
    int n = snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target);
    size_t len = 0;
    const char *end = NULL;
    if (n > 0 && (size_t)n < sizeof(req) && ad_net_send_all(u, req, (size_t)n)) {
        while (end == NULL && len < sizeof(head) - 1) {
            ssize_t r = read(u, head + len, sizeof(head) - 1 - len);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                break;
            }
            len += (size_t)r;
            head[len] = '\0';
            end = strstr(head, "\r\n\r\n");
        }
    }
    if (end != NULL && strncmp(head, "HTTP/1.1 200", 12) == 0) {
        size_t rest = len - (size_t)(end + 4 - head);
        if (rest == 0 || ad_net_send_all(c, end + 4, rest)) {
            ad_net_splice(c, u);
        }
    }
    close(u);
}

static void *conn_thread(void *arg)
{
    accepted_t a = *(accepted_t *)arg;
    free(arg);
    a.conn(a.fd, a.ud);
    close(a.fd);
    atomic_fetch_sub(&nconns, 1);
    return NULL;
}

static void *accept_thread(void *arg)
{
    const listener_t *ls = arg;
    int l = ls->l;
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
        accepted_t *a = malloc(sizeof(*a));
        if (a != NULL) {
            *a = (accepted_t){.fd = c, .conn = ls->conn, .ud = ls->ud};
        }
        if (atomic_fetch_add(&nconns, 1) >= MAX_CONNS || a == NULL ||
            !ad_thread_detached(conn_thread, a, 128 * 1024, false)) {
            atomic_fetch_sub(&nconns, 1);
            free(a);
            close(c);
        }
    }
}

/* Starts serving l (a listening socket) with conn at a thread of its
 * own; false when no thread could be made. ls must outlive it. */
static bool serve_listener(listener_t *ls)
{
    return ad_thread_detached(accept_thread, ls, 0, false);
}

bool ad_net_listen_more(int l, ad_net_conn_fn conn, void *ud)
{
    static listener_t more[MAX_SERVICES];
    static size_t nmore;
    if (nmore >= MAX_SERVICES) {
        return false;
    }
    more[nmore] = (listener_t){.l = l, .conn = conn, .ud = ud};
    return serve_listener(&more[nmore++]);
}

int ad_net_serve(int l, char **cmd, ad_net_conn_fn conn, const char *proxy_url)
{
    static listener_t main_l;
    main_l = (listener_t){.l = l, .conn = conn};
    pid_t pid = fork();
    if (pid < 0) {
        perror("agentd network: fork");
        return 1;
    }
    if (pid == 0) {
        if (proxy_url != NULL) { /* the bridge */
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            signal(SIGUSR1, SIG_DFL);
            signal(SIGUSR2, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
        }
        if (proxy_url != NULL && proxy_url[0] != '\0') {
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
    if (!serve_listener(&main_l)) {
        kill(pid, SIGKILL);
    }
    /* Any child: the bridge is the sandbox's pid 1 (bwrap --as-pid-1,
     * issue #80), which the program's orphans come to; each is reaped as
     * it ends, and the wait is over when cmd's is. */
    int st = 0;
    for (;;) {
        int s = 0;
        pid_t w = waitpid(-1, &s, 0);
        if (w == pid || (w < 0 && errno != EINTR)) {
            st = w == pid ? s : st;
            break;
        }
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

int ad_net_listen_loopback(unsigned long port, bool v6)
{
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in6 in6 = {
        .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_loopback};
    int one = 1;
    int l = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l >= 0) {
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    if (l < 0 ||
        bind(l, v6 ? (struct sockaddr *)&in6 : (struct sockaddr *)&in,
             v6 ? sizeof(in6) : sizeof(in)) != 0 ||
        listen(l, 64) != 0) {
        fprintf(stderr, "agentd network: cannot listen on %s:%lu: %s\n", v6 ? "[::1]" : "127.0.0.1",
                port, strerror(errno));
        if (l >= 0) {
            close(l);
        }
        return -1;
    }
    return l;
}

/* A port number 1..65535 from s (n bytes), or 0. */
static unsigned long port_of(const char *s, size_t n)
{
    unsigned long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > 65535) {
            return 0;
        }
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    return n > 0 && v <= 65535 ? v : 0;
}

/* A published port's connection (ud: the port, a number's text), come
 * from the host's loopback through the proxy: to 127.0.0.1:PORT of this
 * namespace, the program's listener. */
static void publish_conn(int c, void *ud)
{
    unsigned long port = strtoul(ud, NULL, 10);
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (u >= 0 && connect(u, (struct sockaddr *)&in, sizeof(in)) == 0) {
        ad_net_splice(c, u);
    }
    if (u >= 0) {
        close(u);
    }
}

/* "^PORT" of the bridge's SPEC: a unix listener SOCK.pub/PORT (the
 * folder the proxy made and the sandbox binds in) for the proxy's
 * listener on the host's 127.0.0.1:PORT. */
static void serve_published(const char *p, size_t n)
{
    static char ports[AD_NET_MAX_PUBLISH][24];
    static size_t k;
    unsigned long port = port_of(p + 1, n - 1);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (port == 0 || k >= AD_NET_MAX_PUBLISH ||
        (size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s" AD_NET_PUB_DIR "/%lu", bridge_to,
                         port) >= sizeof(a.sun_path)) {
        return;
    }
    snprintf(ports[k], sizeof(ports[k]), "%lu", port);
    unlink(a.sun_path);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 64) != 0 ||
        !ad_net_listen_more(l, publish_conn, ports[k])) {
        fprintf(stderr, "agentd network: cannot publish port %lu: %s\n", port, strerror(errno));
        if (l >= 0) {
            close(l);
        }
        return;
    }
    k++;
}

/* The host services of the bridge's SPEC (after its first ','): a
 * listener each at LPORT for ADDR:APORT. One that cannot listen (a port
 * under 1024, taken) is said on stderr and left out: the proxy still
 * reaches it by its address. And its published ports (^PORT). */
static void serve_services(const char *spec)
{
    static listener_t ls[MAX_SERVICES];
    static char targets[MAX_SERVICES][80];
    size_t k = 0;
    for (const char *p = spec; *p != '\0' && k < MAX_SERVICES;) {
        size_t n = strcspn(p, ",");
        if (p[0] == '@') { /* agentd's OTLP receiver: the proxy's door */
            unsigned long dport = port_of(p + 1, n - 1);
            int l = dport != 0 ? ad_net_listen_loopback(dport, false) : -1;
            if (l >= 0 && !ad_net_listen_more(l, bridge_conn, NULL)) {
                close(l);
            }
            p += n + (p[n] == ',');
            continue;
        }
        if (p[0] == '^') {
            serve_published(p, n);
            p += n + (p[n] == ',');
            continue;
        }
        const char *eq = memchr(p, '=', n);
        unsigned long lport = eq != NULL ? port_of(p, (size_t)(eq - p)) : 0;
        size_t tl = eq != NULL ? n - (size_t)(eq + 1 - p) : 0;
        if (lport != 0 && tl > 0 && tl < sizeof(targets[k])) {
            memcpy(targets[k], eq + 1, tl);
            targets[k][tl] = '\0';
            int l = ad_net_listen_loopback(lport, targets[k][0] == '[');
            if (l >= 0) {
                ls[k] = (listener_t){.l = l, .conn = service_conn, .ud = targets[k]};
                if (!serve_listener(&ls[k])) {
                    close(l);
                }
                k++;
            }
        }
        p += n + (p[n] == ',');
    }
}

int ad_hold_net_bridge(int argc, char **argv)
{
    char **cmd = ad_net_command_of(argc, argv);
    const char *spec = cmd != NULL ? argv[1] : "";
    size_t pl = strcspn(spec, ",");
    unsigned long port = port_of(spec, pl);
    if (cmd == NULL || port == 0) {
        fprintf(
            stderr,
            "usage: agentd-hold --net-bridge SOCK PORT[,LPORT=ADDR:APORT...][,^PORT...][,@PORT] -- "
            "CMD...\n");
        return 2;
    }
    bridge_to = argv[0];
    /* the agent's stop signals are its own, and so are those an alert
     * sends a run (USR1, USR2, HUP: a training program's checkpoint): this
     * one waits for its end (it was killed by them, and the run with it) */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    int l = ad_net_listen_loopback(port, false);
    if (l < 0) {
        return 1;
    }
    if (spec[pl] == ',') {
        serve_services(spec + pl + 1);
    }
    /* ",-": the telemetry door alone (network "off"), no proxy to tell of */
    bool door_only = false;
    for (const char *p = spec + pl; *p == ','; p += 1 + strcspn(p + 1, ",")) {
        door_only = door_only || (p[1] == '-' && (p[2] == ',' || p[2] == '\0'));
    }
    char url[64] = "";
    if (!door_only) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%lu", port);
    }
    return ad_net_serve(l, cmd, bridge_conn, url);
}
