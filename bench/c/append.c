/* SPDX-License-Identifier: MIT */
/*
 * E1's load generator: durable appends of events of `payload` bytes on
 * `conns` connections, each keeping at most `window` events sent and not
 * yet acknowledged as stored, to one of three servers:
 *   ws    agentd's /test/ws-publish?ack=1 (build/bench): one masked text
 *         frame an event; the server answers, once a commit holds them,
 *         with a text frame of the number of this connection's events
 *         stored so far;
 *   redis XADD <stream> MAXLEN ~ <maxlen> * d <payload>: one reply each
 *         (written to the AOF first);
 *   nats  a JetStream publish (PUB with a reply subject) to a file stream
 *         this program creates first: one ack message each.
 * The same event bytes go out every time, written with writev from one
 * buffer, and replies are parsed only as far as counting needs, so the
 * client costs a fraction of what the server does. One thread, epoll.
 *
 * Protocol (bench/gen/common.js): the parameters come as one JSON argument;
 * "MARK start" / "MARK end" open and close the measured window; one line
 * "RESULT {...}" ends the run. Every wait is bounded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX 64
#define IOV_N 1024

enum { K_WS, K_REDIS, K_NATS };

typedef struct {
    int fd;
    uint64_t sent, acked;
    uint64_t pend; /* bytes of sent events not yet written */
    bool want_out;
    char *msg; /* the event as sent on this connection (its own reply subject on NATS) */
    size_t mlen;
    /* input: a line being read (RESP, NATS) or a frame header (ws) */
    char line[512];
    size_t llen;
    uint64_t skip; /* payload bytes to skip (a bulk string, a MSG, a frame) */
    bool count_after_skip;
    bool nats_err; /* the MSG payload being skipped said "error" */
    char num[24];  /* ws: the ack frame's digits */
    size_t nlen;
    uint8_t hdr[14];
    int have;
} conn_t;

static int kind;
static uint64_t errors;
static char first_error[256];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what)
{
    printf("RESULT {\"error\":\"%s: %s\"}\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

static void fail(const char *what, const char *detail)
{
    json_t *o = json_pack("{s:s++}", "error", what, ": ", detail);
    char *s = json_dumps(o, JSON_COMPACT);
    printf("RESULT %s\n", s);
    fflush(stdout);
    exit(1);
}

static void note_error(const char *s, size_t n)
{
    errors++;
    if (first_error[0] == '\0') {
        snprintf(first_error, sizeof(first_error), "%.*s", (int)(n < 200 ? n : 200), s);
    }
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        die("connect");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            die("write");
        }
        c += w;
        n -= (size_t)w;
    }
}

/* Reads one line ending in CRLF (5 s at most), blocking: set-up only. */
static void read_line(int fd, char *out, size_t cap)
{
    size_t got = 0;
    while (got < cap - 1) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 5000) <= 0) {
            errno = ETIMEDOUT;
            die("read line");
        }
        ssize_t r = read(fd, out + got, 1);
        if (r <= 0) {
            die("read line");
        }
        got++;
        if (got >= 2 && out[got - 2] == '\r' && out[got - 1] == '\n') {
            break;
        }
    }
    out[got] = '\0';
}

/* Reads exactly n bytes (5 s at most), blocking: set-up only. */
static void read_n(int fd, char *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 5000) <= 0) {
            errno = ETIMEDOUT;
            die("read");
        }
        ssize_t r = read(fd, out + got, n - got);
        if (r <= 0) {
            die("read");
        }
        got += (size_t)r;
    }
}

static void ws_handshake(int fd, int port, const char *path)
{
    char req[2048];
    const char *tok = getenv("AGENTD_BENCH_TOKEN");
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     path, port, tok ? "Authorization: Bearer " : "", tok ? tok : "",
                     tok ? "\r\n" : "");
    write_all(fd, req, (size_t)n);
    char line[1024];
    read_line(fd, line, sizeof(line));
    if (strncmp(line, "HTTP/1.1 101", 12) != 0) {
        fail("no 101", line);
    }
    while (strcmp(line, "\r\n") != 0) {
        read_line(fd, line, sizeof(line));
    }
}

/* The JetStream file stream the events go to, made (or found) by its API:
 * at most max_bytes, the oldest going first, as agentd's retention and the
 * Redis stream's MAXLEN keep theirs. */
static void nats_setup(int fd, const char *stream, long long max_bytes)
{
    char line[4096];
    read_line(fd, line, sizeof(line)); /* INFO {...} */
    if (strncmp(line, "INFO ", 5) != 0) {
        fail("nats: no INFO", line);
    }
    char cfg[1024];
    int cl = snprintf(cfg, sizeof(cfg),
                      "{\"name\":\"%s\",\"subjects\":[\"bench.>\"],\"storage\":\"file\","
                      "\"retention\":\"limits\",\"discard\":\"old\",\"max_bytes\":%lld,"
                      "\"num_replicas\":1}",
                      stream, max_bytes);
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":false,"
                     "\"protocol\":1}\r\nSUB _INBOX.setup 1\r\n"
                     "PUB $JS.API.STREAM.CREATE.%s _INBOX.setup %d\r\n%s\r\nPING\r\n",
                     stream, cl, cfg);
    write_all(fd, req, (size_t)n);
    for (int i = 0; i < 16; i++) {
        read_line(fd, line, sizeof(line));
        if (strncmp(line, "MSG ", 4) == 0) {
            /* MSG <subject> <sid> <len> */
            char *sp = strrchr(line, ' ');
            size_t len = sp ? strtoul(sp + 1, NULL, 10) : 0;
            char body[4096];
            if (len + 2 > sizeof(body)) {
                fail("nats: stream create answer too long", line);
            }
            read_n(fd, body, len + 2);
            body[len] = '\0';
            if (strstr(body, "\"error\"") != NULL && strstr(body, "already in use") == NULL) {
                fail("nats: stream create", body);
            }
            n = snprintf(req, sizeof(req), "UNSUB 1\r\n");
            write_all(fd, req, (size_t)n);
            return;
        }
        if (strncmp(line, "-ERR", 4) == 0) {
            fail("nats", line);
        }
    }
    fail("nats", "no answer to the stream create");
}

/* ---- input: counting what the server says is stored ------------------------ */

static void on_reply_line(conn_t *c)
{
    c->line[c->llen] = '\0';
    if (kind == K_REDIS) {
        if (c->line[0] == '$') {
            long v = strtol(c->line + 1, NULL, 10);
            if (v < 0) {
                c->acked++; /* a nil reply: not stored */
                note_error(c->line, c->llen);
            } else {
                c->skip = (uint64_t)v + 2;
                c->count_after_skip = true;
            }
        } else if (c->line[0] == '-') {
            c->acked++;
            note_error(c->line, c->llen);
        } else {
            c->acked++;
        }
        return;
    }
    /* nats: MSG <subject> <sid> [reply] <len>, PING, +OK, -ERR */
    if (strncmp(c->line, "MSG ", 4) == 0) {
        char *sp = strrchr(c->line, ' ');
        c->skip = (sp ? strtoull(sp + 1, NULL, 10) : 0) + 2;
        c->count_after_skip = true;
        c->nats_err = false;
    } else if (strncmp(c->line, "PING", 4) == 0) {
        write_all(c->fd, "PONG\r\n", 6);
    } else if (strncmp(c->line, "-ERR", 4) == 0) {
        note_error(c->line, c->llen);
    }
}

static void line_input(conn_t *c, const char *d, size_t n)
{
    while (n > 0) {
        if (c->skip > 0) {
            size_t k = c->skip < n ? (size_t)c->skip : n;
            if (kind == K_NATS && !c->nats_err && memmem(d, k, "\"error\"", 7) != NULL) {
                c->nats_err = true;
                note_error(d, k);
            }
            c->skip -= k;
            d += k;
            n -= k;
            if (c->skip == 0 && c->count_after_skip) {
                c->acked++;
                c->count_after_skip = false;
            }
            continue;
        }
        const char *nl = memchr(d, '\n', n);
        size_t k = nl ? (size_t)(nl - d) + 1 : n;
        size_t room = sizeof(c->line) - 1 - c->llen;
        memcpy(c->line + c->llen, d, k < room ? k : room);
        c->llen += k < room ? k : room;
        d += k;
        n -= k;
        if (nl != NULL) {
            while (c->llen > 0 && (c->line[c->llen - 1] == '\n' || c->line[c->llen - 1] == '\r')) {
                c->llen--;
            }
            on_reply_line(c);
            c->llen = 0;
        }
    }
}

/* Server frames: a text frame's digits are the count stored so far. */
static void ws_input(conn_t *c, const uint8_t *d, size_t n)
{
    while (n > 0) {
        if (c->skip > 0) {
            size_t k = c->skip < n ? (size_t)c->skip : n;
            for (size_t i = 0; i < k && c->count_after_skip; i++) {
                if (c->nlen < sizeof(c->num) - 1) {
                    c->num[c->nlen++] = (char)d[i];
                }
            }
            c->skip -= k;
            d += k;
            n -= k;
            if (c->skip == 0 && c->count_after_skip) {
                c->num[c->nlen] = '\0';
                uint64_t v = strtoull(c->num, NULL, 10);
                if (v > c->acked) {
                    c->acked = v;
                }
                c->count_after_skip = false;
            }
            continue;
        }
        c->hdr[c->have++] = *d++;
        n--;
        int need = 2;
        if (c->have >= 2) {
            int l7 = c->hdr[1] & 0x7f;
            need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
        }
        if (c->have < need) {
            continue;
        }
        int l7 = c->hdr[1] & 0x7f;
        uint64_t len = (uint64_t)l7;
        if (l7 >= 126) {
            len = 0;
            for (int i = 2; i < need; i++) {
                len = (len << 8) | c->hdr[i];
            }
        }
        int op = c->hdr[0] & 0x0f;
        if (op == 8) {
            note_error("closed by the server", 20);
        }
        c->count_after_skip = op == 1;
        c->nlen = 0;
        c->skip = len;
        c->have = 0;
        if (len == 0 && op == 1) {
            c->count_after_skip = false;
        }
    }
}

/* ---- output: events from one buffer ----------------------------------------- */

/* Writes what is pending; false when the socket is full. */
static bool flush_out(conn_t *c)
{
    const size_t mlen = c->mlen;
    char *const msg = c->msg;
    while (c->pend > 0) {
        struct iovec v[IOV_N];
        int n = 0;
        uint64_t left = c->pend;
        size_t off = (size_t)((mlen - left % mlen) % mlen);
        while (left > 0 && n < IOV_N) {
            size_t k = mlen - off;
            if (k > left) {
                k = (size_t)left;
            }
            v[n].iov_base = msg + off;
            v[n].iov_len = k;
            n++;
            left -= k;
            off = 0;
        }
        ssize_t w = writev(c->fd, v, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && errno == EAGAIN) {
            return false;
        }
        if (w <= 0) {
            die("writev");
        }
        c->pend -= (uint64_t)w;
    }
    return true;
}

static void top_up(conn_t *c, uint64_t window)
{
    uint64_t in_flight = c->sent - c->acked;
    if (in_flight < window) {
        uint64_t k = window - in_flight;
        c->sent += k;
        c->pend += k * c->mlen;
    }
}

static void build_msg(conn_t *c, size_t payload, const char *stream, long maxlen, int conn_ix)
{
    char *p = malloc(payload);
    /* printable, nothing a JSON string escapes, not one repeated byte */
    for (size_t i = 0; i < payload; i++) {
        p[i] = (char)('a' + (i * 7 + i / 26) % 26);
    }
    char *msg = malloc(payload + 512);
    size_t h = 0;
    if (kind == K_WS) {
        msg[h++] = (char)0x81;
        if (payload < 126) {
            msg[h++] = (char)(0x80 | payload);
        } else {
            msg[h++] = (char)(0x80 | 126);
            msg[h++] = (char)(payload >> 8);
            msg[h++] = (char)payload;
        }
        memset(msg + h, 0, 4); /* zero mask key: the payload goes as is */
        h += 4;
        memcpy(msg + h, p, payload);
        h += payload;
    } else if (kind == K_REDIS) {
        char ml[32];
        int mll = snprintf(ml, sizeof(ml), "%ld", maxlen);
        h = (size_t)snprintf(
            msg, 512,
            "*8\r\n$4\r\nXADD\r\n$%zu\r\n%s\r\n$6\r\nMAXLEN\r\n$1\r\n~\r\n$%d\r\n%s"
            "\r\n$1\r\n*\r\n$1\r\nd\r\n$%zu\r\n",
            strlen(stream), stream, mll, ml, payload);
        memcpy(msg + h, p, payload);
        h += payload;
        memcpy(msg + h, "\r\n", 2);
        h += 2;
    } else {
        h = (size_t)snprintf(msg, 512, "PUB bench.e _INBOX.a.%d %zu\r\n", conn_ix, payload);
        memcpy(msg + h, p, payload);
        h += payload;
        memcpy(msg + h, "\r\n", 2);
        h += 2;
    }
    c->msg = msg;
    c->mlen = h;
    free(p);
}

int main(int argc, char **argv)
{
    prctl(PR_SET_PDEATHSIG, 9);
    if (argc < 2) {
        fail("usage", "append '<json>'");
    }
    json_error_t jerr;
    json_t *cfg = json_loads(argv[1], 0, &jerr);
    if (cfg == NULL) {
        fail("params", jerr.text);
    }
    const char *k = json_string_value(json_object_get(cfg, "kind"));
    kind = k && strcmp(k, "redis") == 0 ? K_REDIS : k && strcmp(k, "nats") == 0 ? K_NATS : K_WS;
    int port = (int)json_integer_value(json_object_get(cfg, "port"));
    const char *path = json_string_value(json_object_get(cfg, "path"));
    int nconns = (int)json_integer_value(json_object_get(cfg, "conns"));
    uint64_t window = (uint64_t)json_integer_value(json_object_get(cfg, "window"));
    size_t payload = (size_t)json_integer_value(json_object_get(cfg, "payload"));
    double seconds = json_number_value(json_object_get(cfg, "seconds"));
    double warmup = json_number_value(json_object_get(cfg, "warmup"));
    const char *stream = json_string_value(json_object_get(cfg, "stream"));
    long maxlen = (long)json_integer_value(json_object_get(cfg, "maxlen"));
    long long max_bytes = (long long)json_integer_value(json_object_get(cfg, "maxBytes"));
    stream = stream ? stream : "bench";
    path = path ? path : "/test/ws-publish?topic=bench&ack=1";
    nconns = nconns < 1 ? 1 : nconns > CONNS_MAX ? CONNS_MAX : nconns;
    window = window < 1 ? 1 : window;
    if (payload < 1 || payload > 60000 || seconds <= 0 || seconds > 600 || port <= 0) {
        fail("params", "payload 1-60000, seconds 0-600, port");
    }
    conn_t *cs = calloc((size_t)nconns, sizeof(*cs));
    int ep = epoll_create1(0);
    for (int i = 0; i < nconns; i++) {
        build_msg(&cs[i], payload, stream, maxlen > 0 ? maxlen : 250000, i);
        cs[i].fd = dial(port);
        if (kind == K_WS) {
            ws_handshake(cs[i].fd, port, path);
        } else if (kind == K_NATS) {
            nats_setup(cs[i].fd, stream, max_bytes > 0 ? max_bytes : 256LL << 20);
            char sub[64];
            int sl = snprintf(sub, sizeof(sub), "SUB _INBOX.a.%d 2\r\n", i);
            write_all(cs[i].fd, sub, (size_t)sl);
        }
        int fl = fcntl(cs[i].fd, F_GETFL);
        fcntl(cs[i].fd, F_SETFL, fl | O_NONBLOCK);
        struct epoll_event e = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &e) != 0) {
            die("epoll_ctl");
        }
    }

    static uint8_t rbuf[256 * 1024];
    double t0 = now_s(), t_start = t0 + warmup, t_end = t_start + seconds;
    bool started = false;
    uint64_t acked0 = 0;
    double cpu0 = 0, ts0 = 0, last_progress = t0;
    uint64_t last_acked = 0;
    for (;;) {
        double t = now_s();
        uint64_t acked = 0;
        for (int i = 0; i < nconns; i++) {
            acked += cs[i].acked;
        }
        if (!started && t >= t_start) {
            started = true;
            acked0 = acked;
            cpu0 = cpu_s();
            ts0 = t;
            printf("MARK start\n");
            fflush(stdout);
        }
        if (started && t >= t_end) {
            double cpu1 = cpu_s();
            printf("MARK end\n");
            fflush(stdout);
            json_t *res =
                json_pack("{s:I, s:f, s:f, s:I, s:I, s:i, s:I, s:s}", "acked",
                          (json_int_t)(acked - acked0), "seconds", t - ts0, "genCpuS", cpu1 - cpu0,
                          "eventBytes", (json_int_t)cs[0].mlen, "window", (json_int_t)window,
                          "conns", nconns, "errors", (json_int_t)errors, "firstError", first_error);
            char *s = json_dumps(res, JSON_COMPACT);
            printf("RESULT %s\n", s);
            fflush(stdout);
            return 0;
        }
        if (acked != last_acked) {
            last_acked = acked;
            last_progress = t;
        } else if (t - last_progress > 10) {
            errno = ETIMEDOUT;
            fail("no acknowledgement for 10 s", first_error[0] ? first_error : "-");
        }
        for (int i = 0; i < nconns; i++) {
            conn_t *c = &cs[i];
            top_up(c, window);
            bool all = flush_out(c);
            if (all == c->want_out) {
                struct epoll_event e = {.events = EPOLLIN | (all ? 0 : EPOLLOUT),
                                        .data.u32 = (uint32_t)i};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
                c->want_out = !all;
            }
        }
        struct epoll_event evs[CONNS_MAX];
        int n = epoll_wait(ep, evs, CONNS_MAX, 100);
        for (int j = 0; j < n; j++) {
            conn_t *c = &cs[evs[j].data.u32];
            if (!(evs[j].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
                continue;
            }
            for (;;) {
                ssize_t r = read(c->fd, rbuf, sizeof(rbuf));
                if (r < 0 && errno == EINTR) {
                    continue;
                }
                if (r < 0 && errno == EAGAIN) {
                    break;
                }
                if (r <= 0) {
                    errno = r == 0 ? ECONNRESET : errno;
                    fail("connection closed", first_error[0] ? first_error : "-");
                }
                if (kind == K_WS) {
                    ws_input(c, rbuf, (size_t)r);
                } else {
                    line_input(c, (const char *)rbuf, (size_t)r);
                }
                if ((size_t)r < sizeof(rbuf)) {
                    break;
                }
            }
        }
    }
}
