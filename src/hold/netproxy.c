/* SPDX-License-Identifier: MIT */
/*
 * An agent's network (issues #31 and #73), the half outside its sandbox:
 *
 *   One program's proxy requests, served by the shared proxy (netproxyd.c,
 *       `agentd hold --net-proxyd`) on the program's own socket, with the
 *       POLICY its registration gave (never anything the program sends).
 *       A connection is one proxy request: CONNECT host:port, or a
 *       plain-HTTP request in absolute form (http://host[:port]/...).
 *       POLICY is comma-separated entries:
 *         *              the internet: any host whose address is not this
 *                        host's (network "on", the default)
 *         host, host:port  an allow-list entry ("host" for ports 80 and
 *                        443), an address not this host's either
 *         =ADDR:PORT     a host service an admin opened (an IP literal,
 *                        [v6] bracketed): reached even though it is this
 *                        host's
 *         ^PORT          a port of the program's published on the host's
 *                        127.0.0.1 (a service's): net_int.h
 *         @ADDR:PORT     agentd's own OTLP receiver (a run's telemetry):
 *                        the door below, never a CONNECT
 *       The rest get 403 and a line on the program's stderr (its
 *       transcript), which its bridge sends with each connection.
 *
 * "This host's" (host_addr): loopback, unspecified, link-local, multicast
 * and broadcast, every address of every interface of this machine, and
 * the whole network of an interface whose address is private (RFC 1918,
 * 100.64/10, fc00::/7: a docker bridge, the LAN the host sits on). The
 * name is resolved here, once, and the address checked is the address
 * connected to: a name that resolves to 127.0.0.1 (DNS rebinding) is
 * refused like 127.0.0.1. The agent's own unix and abstract sockets are
 * another matter: its network namespace holds none of the host's.
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

#include "core/core.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define HEAD_MAX 8192
#define HEAD_TIMEOUT_SEC 30

#define NOTE_WAIT_MS 100

static void write_all(int fd, const char *s)
{
    (void)ad_net_send_all(fd, s, strlen(s));
}

/* A line on the program's stderr (note, from its bridge; -1: none). The
 * fd is the program's, which may never read it: a line it has no room
 * for within NOTE_WAIT_MS is left out. */
static void note_line(int note, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note_line(int note, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    size_t len = n > 0 && (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (note < 0 || n <= 0) {
        return;
    }
    /* a socket: never waited on (its reader may never read); a pipe or a
     * terminal: written once it has room for a line (a pipe takes up to
     * PIPE_BUF bytes whole then), waited for at most NOTE_WAIT_MS */
    ssize_t w = send(note, line, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    struct pollfd p = {.fd = note, .events = POLLOUT};
    if (w >= 0 || errno != ENOTSOCK || poll(&p, 1, NOTE_WAIT_MS) != 1 ||
        (p.revents & POLLOUT) == 0) {
        return;
    }
    w = write(note, line, len);
    (void)w;
}

void ad_net_pol_parse(ad_net_pol_t *pol)
{
    pol->internet = false;
    pol->door = NULL;
    pol->door_len = 0;
    for (const char *p = pol->policy; *p != '\0';
         p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
        pol->internet = pol->internet || (p[0] == '*' && (p[1] == ',' || p[1] == '\0'));
        if (p[0] == '@') {
            pol->door = p + 1;
            pol->door_len = strcspn(pol->door, ",");
        }
    }
}

/* Whether host:port is on the allow list. */
static bool allowed(const ad_net_pol_t *pol, const char *host, const char *port)
{
    for (const char *p = pol->policy; *p != '\0';) {
        size_t n = strcspn(p, ",");
        char e[300];
        if (n > 0 && n < sizeof(e) && p[0] != '*' && p[0] != '=' && p[0] != '~' && p[0] != '^' &&
            p[0] != '@') {
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

/* An address as one family: v4 (a v4-mapped v6 one too) or v6, into
 * v4 (host order) or v6; false for another family. */
static bool addr_of(const struct sockaddr *sa, bool *is4, uint32_t *v4, struct in6_addr *v6)
{
    if (sa->sa_family == AF_INET) {
        *is4 = true;
        *v4 = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
        return true;
    }
    if (sa->sa_family != AF_INET6) {
        return false;
    }
    *v6 = ((const struct sockaddr_in6 *)sa)->sin6_addr;
    *is4 = IN6_IS_ADDR_V4MAPPED(v6);
    if (*is4) {
        memcpy(v4, &v6->s6_addr[12], 4);
        *v4 = ntohl(*v4);
    }
    return true;
}

static bool in4(uint32_t a, uint32_t net, int bits)
{
    return bits == 0 || (a >> (32 - bits)) == (net >> (32 - bits));
}

static bool private4(uint32_t a)
{
    return in4(a, 0x0a000000u, 8) || in4(a, 0xac100000u, 12) || in4(a, 0xc0a80000u, 16) ||
           in4(a, 0x64400000u, 10);
}

/* Whether a and b agree under mask (16 bytes each). */
static bool same_net6(const uint8_t *a, const uint8_t *b, const uint8_t *mask)
{
    for (int i = 0; i < 16; i++) {
        if ((a[i] & mask[i]) != (b[i] & mask[i])) {
            return false;
        }
    }
    return true;
}

/* Whether the address is this host's (see the top): what, when it is. */
static bool host_addr(const struct sockaddr *sa, const char **what)
{
    bool is4;
    uint32_t v4 = 0;
    struct in6_addr v6;
    if (!addr_of(sa, &is4, &v4, &v6)) {
        *what = "not an internet address";
        return true;
    }
    if (is4) {
        *what = in4(v4, 0x7f000000u, 8)    ? "loopback"
                : in4(v4, 0, 8)            ? "this host (0.0.0.0/8)"
                : in4(v4, 0xa9fe0000u, 16) ? "link-local"
                : in4(v4, 0xe0000000u, 3)  ? "multicast or broadcast"
                                           : NULL;
    } else {
        static const uint8_t zero[16];
        *what = IN6_IS_ADDR_LOOPBACK(&v6)                                  ? "loopback"
                : memcmp(v6.s6_addr, zero, 12) == 0                        ? "this host (::/96)"
                : IN6_IS_ADDR_LINKLOCAL(&v6) || IN6_IS_ADDR_SITELOCAL(&v6) ? "link-local"
                : IN6_IS_ADDR_MULTICAST(&v6)                               ? "multicast"
                                                                           : NULL;
    }
    if (*what != NULL) {
        return true;
    }
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0) {
        *what = "of a host whose addresses could not be read";
        return true; /* refused: nothing says it is not the host's */
    }
    for (struct ifaddrs *i = ifs; i != NULL && *what == NULL; i = i->ifa_next) {
        bool i4;
        uint32_t a4 = 0, m4 = 0;
        struct in6_addr a6, m6;
        if (i->ifa_addr == NULL || !addr_of(i->ifa_addr, &i4, &a4, &a6) || i4 != is4) {
            continue;
        }
        bool has_mask = i->ifa_netmask != NULL && addr_of(i->ifa_netmask, &i4, &m4, &m6);
        if (is4) {
            if (a4 == v4) {
                *what = "an address of this host";
            } else if (has_mask && private4(a4) && (a4 & m4) == (v4 & m4)) {
                *what = "on a private network of this host";
            }
        } else if (memcmp(&a6, &v6, sizeof(v6)) == 0) {
            *what = "an address of this host";
        } else if (has_mask && (a6.s6_addr[0] & 0xfe) == 0xfc &&
                   same_net6(a6.s6_addr, v6.s6_addr, m6.s6_addr)) {
            *what = "on a private network of this host";
        }
    }
    freeifaddrs(ifs);
    return *what != NULL;
}

/* Whether sa:port is named by an entry of the policy with prefix mark
 * ('=' a host service; '~' a test build's stand-in for the internet). */
static bool named(const ad_net_pol_t *pol, const struct sockaddr *sa, const char *port, char mark)
{
    char want[INET6_ADDRSTRLEN + 16], a[INET6_ADDRSTRLEN];
    bool is4;
    uint32_t v4 = 0;
    struct in6_addr v6;
    if (!addr_of(sa, &is4, &v4, &v6)) {
        return false;
    }
    if (is4) {
        struct in_addr x = {.s_addr = htonl(v4)};
        inet_ntop(AF_INET, &x, a, sizeof(a));
        snprintf(want, sizeof(want), "%c%s:%s", mark, a, port);
    } else {
        inet_ntop(AF_INET6, &v6, a, sizeof(a));
        snprintf(want, sizeof(want), "%c[%s]:%s", mark, a, port);
    }
    size_t wl = strlen(want), al = wl - strlen(port); /* up to and with the ':' */
    for (const char *p = pol->policy; *p != '\0';) {
        size_t n = strcspn(p, ",");
        if ((n == wl && strncasecmp(p, want, n) == 0) ||
            (mark == '~' && n == al + 1 && strncasecmp(p, want, al) == 0 && p[al] == '*')) {
            return true; /* (a test build's stand-in may name any port: ADDR:*) */
        }
        p += n + (p[n] == ',');
    }
    return false;
}

/* Connects to host:port: its addresses resolved once, each taken only
 * when it is a host service, or (by_name: the internet or the allow list
 * let the name through) not this host's. -1 with why (a refusal, for
 * the agent) or with why "" (nothing answered). A name the policy does
 * not let through is not even looked up: only an IP literal may be a
 * host service. */
static int dial(const ad_net_pol_t *pol, const char *host, const char *port, bool by_name,
                char *why, size_t whysz)
{
    char h[300];
    size_t hl = strlen(host);
    if (host[0] == '[' && hl >= 2) { /* [v6] */
        snprintf(h, sizeof(h), "%.*s", (int)(hl - 2), host + 1);
    } else {
        snprintf(h, sizeof(h), "%s", host);
    }
    why[0] = '\0';
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = by_name ? 0 : AI_NUMERICHOST},
                    *res = NULL;
    if (getaddrinfo(h, port, &hints, &res) != 0) {
        if (!by_name) {
            snprintf(why, whysz, "%s:%s is not in this agent's network allow list", host, port);
        }
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        const char *what = NULL;
        bool ok = named(pol, ai->ai_addr, port, '=');
#ifdef AD_TEST_BUILD
        ok = ok || (by_name && named(pol, ai->ai_addr, port, '~'));
#endif
        if (!ok && !by_name) {
            snprintf(why, whysz, "%s:%s is not in this agent's network allow list", host, port);
            continue;
        }
        if (!ok && host_addr(ai->ai_addr, &what)) {
            char a[INET6_ADDRSTRLEN] = "?";
            getnameinfo(ai->ai_addr, ai->ai_addrlen, a, sizeof(a), NULL, 0, NI_NUMERICHOST);
            snprintf(why, whysz,
                     "%s:%s is %s (%s): an agent's network reaches the internet, not this "
                     "host; an admin opens a host service with sandbox.hostServices",
                     host, port, a, what);
            continue;
        }
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        why[0] = '\0';
    }
    return fd;
}

/* Whether the header line at p (n bytes) is name (case aside). */
static bool header_is(const char *p, size_t n, const char *name)
{
    size_t l = strlen(name);
    return n > l && p[l] == ':' && strncasecmp(p, name, l) == 0;
}

/* A plain-HTTP request (head_len bytes of head, then len - head_len of its
 * body) to the origin server u as an origin server takes it: the request
 * line's absolute URL made a path (http://h:p/x?y -> /x?y), and one
 * request per connection (its Connection, Proxy-Connection and Keep-Alive
 * headers replaced by "Connection: close"), so a later request on the
 * agent's connection cannot ride on this one in absolute form. after_scheme
 * points past "http://" in head. */
static bool send_origin_form(int u, const char *head, size_t head_len, size_t len,
                             const char *after_scheme)
{
    const char *line_end = strstr(head, "\r\n");
    const char *sp2 = memchr(after_scheme, ' ', (size_t)(line_end - after_scheme));
    if (line_end == NULL || sp2 == NULL) {
        return false;
    }
    const char *path = after_scheme + strcspn(after_scheme, "/? ");
    if (path > sp2) {
        path = sp2;
    }
    char out[HEAD_MAX + 64];
    size_t o = 0;
    size_t ml = (size_t)(strchr(head, ' ') - head) + 1; /* "METHOD " */
    memcpy(out, head, ml);
    o = ml;
    if (path == sp2 || *path == '?') {
        out[o++] = '/';
    }
    memcpy(out + o, path, (size_t)(line_end + 2 - path)); /* path " HTTP/1.1\r\n" */
    o += (size_t)(line_end + 2 - path);
    for (const char *p = line_end + 2; p < head + head_len - 2;) {
        const char *e = strstr(p, "\r\n");
        size_t n = (size_t)(e - p);
        if (!header_is(p, n, "connection") && !header_is(p, n, "proxy-connection") &&
            !header_is(p, n, "keep-alive") && o + n + 2 < sizeof(out) - 24) {
            memcpy(out + o, p, n + 2);
            o += n + 2;
        }
        p = e + 2;
    }
    static const char close_hdr[] = "Connection: close\r\n\r\n";
    memcpy(out + o, close_hdr, sizeof(close_hdr) - 1);
    o += sizeof(close_hdr) - 1;
    return ad_net_send_all(u, out, o) &&
           (len == head_len || ad_net_send_all(u, head + head_len, len - head_len));
}

/* The door to agentd's OTLP receiver (POLICY's "@ADDR:PORT", issue #73):
 * a request in origin form (the bridge's @PORT listener, which stands at
 * the port of the run's OTEL_EXPORTER_OTLP_ENDPOINT) or in absolute form
 * to ADDR:PORT goes to agentd only when it is POST /v1/traces, /v1/metrics
 * or /v1/logs (no query), its head plain (CRLF lines, no folding), its
 * body sized by one Content-Length (no Transfer-Encoding), and then alone:
 * "Connection: close" and not a byte past its body, so nothing else of
 * agentd's (its API, /ws, a second request) is reached through it. The
 * run's x-agentd-run credential is still what agentd checks. */
static bool door_named(const ad_net_pol_t *pol, const char *host, const char *port)
{
    char hp[320];
    int n = snprintf(hp, sizeof(hp), "%s:%s", host, port);
    return pol->door_len > 0 && n > 0 && (size_t)n == pol->door_len &&
           strncmp(hp, pol->door, pol->door_len) == 0;
}

/* Why the request (head_len bytes, method, path up to path_end) may not
 * pass the door, or NULL; *cl its body's length. */
static const char *door_refusal(const char *head, size_t head_len, const char *method,
                                const char *path, const char *path_end, unsigned long long *cl)
{
    static const char *const routes[] = {"/v1/traces", "/v1/metrics", "/v1/logs"};
    size_t pl = (size_t)(path_end - path);
    bool route = false;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        route = route || (strlen(routes[i]) == pl && memcmp(path, routes[i], pl) == 0);
    }
    if (strcmp(method, "POST") != 0 || !route) {
        return "agentd's OpenTelemetry door opens POST /v1/traces, /v1/metrics and /v1/logs only";
    }
    if (memchr(head, '\0', head_len) != NULL || strncmp(path_end, " HTTP/1.1\r\n", 11) != 0) {
        return "an HTTP/1.1 request";
    }
    for (size_t i = 0; i < head_len; i++) {
        if ((head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) ||
            (head[i] == '\r' && head[i + 1] != '\n')) {
            return "a bare CR or LF in the request head";
        }
    }
    *cl = ULLONG_MAX;
    for (const char *p = strstr(head, "\r\n") + 2; p < head + head_len - 2;) {
        const char *e = strstr(p, "\r\n");
        size_t n = (size_t)(e - p);
        const char *colon = memchr(p, ':', n);
        if (colon == NULL || colon == p || memchr(p, ' ', (size_t)(colon - p)) != NULL ||
            memchr(p, '\t', (size_t)(colon - p)) != NULL) {
            return "a plain request head (NAME: value lines, no folding)";
        }
        if (header_is(p, n, "transfer-encoding")) {
            return "a body sized by one Content-Length, nothing else";
        }
        if (header_is(p, n, "content-length")) {
            const char *v = p + 15;
            v += strspn(v, " \t");
            size_t d = strspn(v, "0123456789");
            const char *rest = v + d;
            rest += strspn(rest, " \t");
            if (*cl != ULLONG_MAX || d == 0 || d > 10 || rest != e) {
                return "a body sized by one Content-Length, nothing else";
            }
            *cl = strtoull(v, NULL, 10);
        }
        p = e + 2;
    }
    return *cl == ULLONG_MAX ? "a body sized by one Content-Length, nothing else" : NULL;
}

/* A connection to the door's ADDR:PORT, or -1. */
static int door_dial(const ad_net_pol_t *pol)
{
    char host[300], port[8];
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST}, *res = NULL;
    if (!split_hostport(pol->door, pol->door_len, host, sizeof(host), port, "80") ||
        getaddrinfo(host, port, &hints, &res) != 0) {
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* One request through the door (see above): after_scheme as for
 * send_origin_form (the path itself, for one in origin form). */
static void door_conn(const ad_net_pol_t *pol, int note, int c, const char *head, size_t head_len,
                      size_t len, const char *method, const char *path, const char *path_end,
                      const char *after_scheme)
{
    unsigned long long cl = 0;
    const char *why = door_refusal(head, head_len, method, path, path_end, &cl);
    if (why != NULL) {
        note_line(note, "agentd network: refused %s %.*s to agentd (%s)\n", method,
                  (int)(path_end - path > 200 ? 200 : path_end - path), path, why);
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                 "agentd: %s\n",
                 why);
        write_all(c, msg);
        return;
    }
    int u = door_dial(pol);
    if (u < 0) {
        write_all(c, "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n");
        return;
    }
    size_t have = len - head_len < cl ? len - head_len : (size_t)cl;
    bool ok = send_origin_form(u, head, head_len, head_len + have, after_scheme);
    char buf[16384];
    for (unsigned long long left = cl - have; ok && left > 0;) {
        ssize_t n = read(c, buf, left < sizeof(buf) ? (size_t)left : sizeof(buf));
        ok = n > 0 && ad_net_send_all(u, buf, (size_t)n);
        left -= ok ? (unsigned long long)n : 0;
    }
    /* agentd's answer back; nothing more of the agent's goes to agentd */
    for (ssize_t n = 1; ok && n > 0;) {
        n = read(u, buf, sizeof(buf));
        ok = n <= 0 || ad_net_send_all(c, buf, (size_t)n);
    }
    close(u);
}

/* One proxy request on c: the head read (bounded), checked, answered. */
void ad_net_proxy_conn(int c, const ad_net_pol_t *pol, int note, const char *pre, size_t npre)
{
    struct timeval tv = {.tv_sec = HEAD_TIMEOUT_SEC};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char head[HEAD_MAX + 1];
    size_t len = npre < HEAD_MAX ? npre : HEAD_MAX;
    memcpy(head, pre, len);
    head[len] = '\0';
    char *end = strstr(head, "\r\n\r\n");
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
    if (sp2 != NULL && pol->door_len > 0 && !connect_m &&
        (tgt[0] == '/' || (ok && door_named(pol, host, port)))) {
        const char *path = tgt[0] == '/' ? tgt : tgt + 7 + strcspn(tgt + 7, "/? ");
        door_conn(pol, note, c, head, head_len, len, method, path < sp2 ? path : sp2, sp2,
                  tgt[0] == '/' ? tgt : tgt + 7);
        return;
    }
    if (!ok) {
        write_all(c, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nagentd: a proxy "
                     "request is CONNECT host:port or an http:// URL\n");
        return;
    }
    char why[600];
    int u = dial(pol, host, port, pol->internet || allowed(pol, host, port), why, sizeof(why));
    if (u < 0 && why[0] != '\0') {
        bool listed = strstr(why, "allow list") != NULL;
        note_line(note, "agentd network: refused %s %s:%s (%s)\n", method, host, port,
                  listed ? "not in the agent's allow list" : why);
        char msg[1024];
        snprintf(msg, sizeof(msg),
                 "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                 "agentd: %s\n",
                 why);
        write_all(c, msg);
        return;
    }
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
    } else if (!send_origin_form(u, head, head_len, len, tgt + 7)) {
        close(u);
        return;
    }
    ad_net_splice(c, u);
    close(u);
}

/* A connection to a published port on the host's loopback: to the
 * bridge's socket for it inside (net_int.h), both ways. The folder's
 * entries are the program's to make: the socket is opened without
 * following a link (one to a socket of the host's would send the host's
 * connection there) and connected to by its descriptor. */
void ad_net_publish_conn(int c, const ad_net_pol_t *pol, const char *port)
{
    char path[4300];
    snprintf(path, sizeof(path), "%s/" AD_NET_SOCK AD_NET_PUB_DIR "/%s", pol->dir, port);
    int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        return;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d", fd);
    int u = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)
                ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)
                : -1;
    if (u >= 0 && connect(u, (struct sockaddr *)&a, sizeof(a)) == 0) {
        ad_net_splice(c, u);
    }
    if (u >= 0) {
        close(u);
    }
    close(fd);
}
