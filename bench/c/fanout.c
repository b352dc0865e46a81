/* SPDX-License-Identifier: MIT */
/*
 * The W2/R1 load generator in C (bench/gen/fanout.js is the same in Node,
 * kept for the HTTP publisher): N subscribers (WebSocket or Redis) and one
 * publisher (a WebSocket or Redis PUBLISH) that keeps at most `window`
 * messages in flight towards the subscribers (sent x N minus deliveries).
 * One thread, epoll, frame and RESP headers parsed only as far as counting
 * needs, so the client costs a fraction of what the server does and the
 * figure describes the server.
 *
 * With "lines" and no publisher it is W4's subscriber side instead
 * (bench/gen/w4.js in Node): every sampleEvery-th subscriber reads the
 * intended-send time linegen wrote into each line ("bench <i> <mono_ns>")
 * and records arrival minus intention, until it has seen every line.
 *
 * With "rate" it is H1's open-loop latency probe: small GETs on `conns`
 * keep-alive connections at a fixed rate, each timed from when it was due
 * (a request that has to wait for a free connection counts its wait), so
 * the tail describes the server at a load both servers carry, not the
 * closed loop's queue of `wrk` connections.
 *
 * With "cmd" (scenario F1) the subscribers are N copies of a program whose
 * stdout is read as text lines instead of WebSockets: `tmux -C attach`,
 * whose %output lines carry the panes' bytes (octal-escaped), so tmux's
 * control-mode readers and agentd's /ws subscribers are timed by the same
 * parser. With "tags", lines carry a fourth field (linegen's TAG, the
 * agent's number): the first line seen from each tag at or after the time
 * "after" (CLOCK_MONOTONIC ns) is recorded, and the run ends once "tags"
 * distinct tags were seen (F1's starts and its re-attach after a kill -9).
 * With "seconds" the run is a window of that length instead.
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
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NMAX 20000
/* A sampler keeps a whole frame's text: behind a stall a server sends many
 * lines in one frame (100 at 10k lines/s after 10 ms), and a line cut off
 * the kept text would count as never delivered. */
#define SAMPLE_TEXT (1 << 20)
#define OUTMAX (4 << 20)

typedef struct {
    int fd;
    bool redis;
    /* WebSocket frame state: header bytes seen, payload bytes left */
    uint8_t hdr[14];
    int have;
    uint64_t left;
    /* RESP state: elements left in the current array, bulk bytes left, the
     * current array's first element ("message"?) */
    char line[64];
    int llen;
    long elems;
    long bulk;
    int index;
    bool is_msg;
    char first[8]; /* the first bytes of an array's first element */
    int nfirst;
    /* latency mode: this subscriber reads its frames' text */
    bool sample;
    bool data;  /* the frame being read is a data frame */
    char *text; /* a sampler's: SAMPLE_TEXT bytes (NULL otherwise) */
    size_t tlen;
    /* "cmd": a child's stdout read as lines (tbuf, tcap bytes), its pid
     * and the write end of its stdin (kept open: tmux -C ends at EOF) */
    bool raw;
    char *tbuf;
    size_t tcap;
    pid_t pid;
    int in_fd;
} peer_t;

static uint64_t delivered, bytes_in;
static int errors;

/* Latency mode: samples in ms, and where in the run the late ones fall. */
#define LAT_MAX 4000000
static double *lat;
static size_t nlat;
static long lines_total;
static long late_by_tenth[10];

/* F1's tags: the first line seen from each (its index, its stamp, when it
 * arrived, mono ms), counting only lines stamped at or after tag_after. */
#define TAG_MAX 100000
typedef struct {
    long i;
    long long ns;
    double at_ms;
} tag_seen_t;
static tag_seen_t *tag_seen;
static long tags_want, tags_got;
static long long tag_after;

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

/* Connects to 127.0.0.1:port, blocking (set-up is not measured). */
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

static void nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
        die("fcntl");
    }
}

static void write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            poll(&pf, 1, 1000);
            continue;
        }
        if (w <= 0) {
            die("write");
        }
        c += w;
        n -= (size_t)w;
    }
}

/* Reads until the end of the response head (5 s at most); fails unless 101. */
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
    char head[4096];
    size_t got = 0;
    while (got < sizeof(head) - 1) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 5000) <= 0) {
            errno = ETIMEDOUT;
            die("handshake");
        }
        /* one byte at a time: what follows the head is the server's */
        ssize_t r = read(fd, head + got, 1);
        if (r <= 0) {
            die("handshake read");
        }
        got++;
        if (got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0) {
            break;
        }
    }
    head[got] = '\0';
    if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
        errno = EPROTO;
        die("no 101");
    }
}

/* A masked client text frame (zero mask key: the payload goes as is). */
static size_t ws_frame(char *out, const char *p, size_t n)
{
    size_t h = 0;
    out[h++] = (char)0x81;
    if (n < 126) {
        out[h++] = (char)(0x80 | n);
    } else if (n < 65536) {
        out[h++] = (char)(0x80 | 126);
        out[h++] = (char)(n >> 8);
        out[h++] = (char)n;
    } else {
        out[h++] = (char)(0x80 | 127);
        for (int i = 7; i >= 0; i--) {
            out[h++] = (char)(n >> (8 * i));
        }
    }
    memset(out + h, 0, 4);
    h += 4;
    memcpy(out + h, p, n);
    return h + n;
}

static size_t resp(char *out, size_t cap, const char *a, const char *b, const char *c, size_t clen)
{
    int n = snprintf(out, cap, "*%d\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n", c ? 3 : 2, strlen(a), a,
                     strlen(b), b);
    size_t k = (size_t)n;
    if (c != NULL) {
        k += (size_t)snprintf(out + k, cap - k, "$%zu\r\n", clen);
        memcpy(out + k, c, clen);
        k += clen;
        memcpy(out + k, "\r\n", 2);
        k += 2;
    }
    return k;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void parse_text(const char *text, double now)
{
    for (const char *c = strstr(text, "bench "); c != NULL; c = strstr(c + 6, "bench ")) {
        char *end;
        long i = strtol(c + 6, &end, 10);
        if (end == c + 6 || *end != ' ') {
            continue;
        }
        const char *nsp = end + 1;
        long long ns = strtoll(nsp, &end, 10);
        /* a stamp is whole when something follows it in the same text (a
         * tag, or the line's end as JSON or tmux escapes it): tmux cuts
         * %output where its read ended, even inside a line */
        if (end == nsp || (*end != ' ' && *end != '\\' && *end != '"' && *end != '\n')) {
            continue;
        }
        if (tag_seen != NULL) {
            /* a tagged line is whole only when its tag is followed by the
             * line's end (the JSON string's, or \015 from tmux; a tag at
             * the end of a cut %output may itself be cut):
             * a line cut across two reads is not a sample */
            char *tend;
            long tag = *end == ' ' ? strtol(end + 1, &tend, 10) : -1;
            if (end == nsp || tag < 0 || tag >= TAG_MAX || tend == end + 1 ||
                (*tend != '\\' && *tend != '"')) {
                continue;
            }
            if (ns >= tag_after && tag_seen[tag].ns == 0) {
                tag_seen[tag] = (tag_seen_t){.i = i, .ns = ns, .at_ms = now};
                tags_got++;
            }
        }
        double ms = now - (double)ns / 1e6;
        if (nlat < LAT_MAX) {
            lat[nlat++] = ms;
        }
        if (ms > 2 && lines_total > 0 && i >= 0) {
            long t = i * 10 / lines_total;
            late_by_tenth[t > 9 ? 9 : (t < 0 ? 0 : t)]++;
        }
    }
}

/* A sampler's whole frame (or line, in "cmd" mode): every
 * "bench <i> <ns>[ <tag>]" in it is one sample. */
static void frame_text(peer_t *p)
{
    double now = mono_ms();
    p->text[p->tlen] = '\0';
    parse_text(p->text, now);
    p->tlen = 0;
}

/* Server WebSocket frames: counts complete data frames (a sampler also
 * keeps their text, up to SAMPLE_TEXT). */
static void ws_input(peer_t *p, const uint8_t *d, size_t n)
{
    while (n > 0) {
        if (p->left > 0) {
            size_t k = p->left < n ? (size_t)p->left : n;
            if (p->sample && p->data) {
                size_t room = SAMPLE_TEXT - 1 - p->tlen;
                size_t c = k < room ? k : room;
                memcpy(p->text + p->tlen, d, c);
                p->tlen += c;
            }
            p->left -= k;
            d += k;
            n -= k;
            if (p->left == 0 && p->sample && p->data) {
                frame_text(p);
            }
            continue;
        }
        p->hdr[p->have++] = *d++;
        n--;
        int need = 2;
        if (p->have >= 2) {
            int l7 = p->hdr[1] & 0x7f;
            need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0);
        }
        if (p->have < need) {
            continue;
        }
        int l7 = p->hdr[1] & 0x7f;
        uint64_t len = (uint64_t)l7;
        if (l7 >= 126) {
            len = 0;
            for (int i = 2; i < need; i++) {
                len = (len << 8) | p->hdr[i];
            }
        }
        int op = p->hdr[0] & 0x0f;
        if (op == 1 || op == 2) {
            delivered++;
            bytes_in += len;
        }
        p->data = op == 1 || op == 2;
        p->tlen = 0;
        p->left = len;
        p->have = 0;
    }
}

/* A RESP line of the current element ("*3", "$7", ":1"). */
static void resp_line(peer_t *p)
{
    p->line[p->llen] = '\0';
    long v = strtol(p->line + 1, NULL, 10);
    if (p->line[0] == '*') {
        p->elems = v;
        p->index = 0;
        p->is_msg = false;
    } else if (p->line[0] == '$') {
        p->bulk = v + 2; /* and its CRLF */
        p->nfirst = 0;
    } else {
        p->elems--; /* an integer element (the SUBSCRIBE count) */
        p->index++;
    }
    p->llen = 0;
}

/* Redis pushes: counts ["message", channel, payload] arrays. */
static void resp_input(peer_t *p, const uint8_t *d, size_t n)
{
    while (n > 0) {
        if (p->bulk > 0) {
            size_t k = (size_t)p->bulk < n ? (size_t)p->bulk : n;
            for (size_t i = 0; p->index == 0 && i < k && p->nfirst < 7; i++) {
                p->first[p->nfirst++] = (char)d[i];
                p->is_msg = p->nfirst == 7 && memcmp(p->first, "message", 7) == 0;
            }
            if (p->index == 2 && p->is_msg && (size_t)p->bulk > 2) {
                bytes_in += k > (size_t)p->bulk - 2 ? (size_t)p->bulk - 2 : k;
            }
            p->bulk -= (long)k;
            d += k;
            n -= k;
            if (p->bulk == 0) {
                p->elems--;
                if (p->index == 2 && p->is_msg) {
                    delivered++;
                }
                p->index++;
            }
            continue;
        }
        char c = (char)*d++;
        n--;
        if (c == '\n') {
            resp_line(p);
        } else if (c != '\r' && p->llen < (int)sizeof(p->line) - 1) {
            p->line[p->llen++] = c;
        }
    }
}

/* "cmd" mode: a child's stdout, split into lines; each line a sample's
 * text (a sampler's) or nothing. A line past the buffer is cut. */
static void raw_input(peer_t *p, const uint8_t *d, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (d[k] == '\n') {
            p->tbuf[p->tlen] = '\0';
            if (p->sample) {
                parse_text(p->tbuf, mono_ms());
            }
            if (strncmp(p->tbuf, "%output ", 8) == 0) {
                delivered++;
            }
            p->tlen = 0;
        } else if (p->tlen < p->tcap - 1) {
            p->tbuf[p->tlen++] = (char)d[k];
        }
    }
    bytes_in += n;
}

/* N copies of argv, each with its stdout on a pipe we read and its stdin
 * on a pipe we keep open until the end. */
static peer_t *spawn_readers(json_t *cmd, int n, int ep)
{
    size_t argc = json_array_size(cmd);
    if (argc < 1 || argc > 64) {
        errno = EINVAL;
        die("cmd");
    }
    char *argv[65];
    for (size_t i = 0; i < argc; i++) {
        argv[i] = (char *)json_string_value(json_array_get(cmd, i));
        if (argv[i] == NULL) {
            errno = EINVAL;
            die("cmd");
        }
    }
    argv[argc] = NULL;
    peer_t *subs = calloc((size_t)n, sizeof(*subs));
    for (int i = 0; i < n; i++) {
        peer_t *p = &subs[i];
        int out[2], in[2];
        if (pipe2(out, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0) {
            die("pipe");
        }
        pid_t pid = fork();
        if (pid < 0) {
            die("fork");
        }
        if (pid == 0) {
            dup2(in[0], 0);
            dup2(out[1], 1);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            execvp(argv[0], argv);
            _exit(127);
        }
        close(in[0]);
        close(out[1]);
        p->fd = out[0];
        p->in_fd = in[1];
        p->pid = pid;
        p->raw = true;
        p->tcap = 1 << 16;
        p->tbuf = malloc(p->tcap);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
        if (p->tbuf == NULL || epoll_ctl(ep, EPOLL_CTL_ADD, p->fd, &ev) != 0) {
            die("epoll_ctl");
        }
    }
    return subs;
}

static void end_readers(peer_t *subs, int n)
{
    for (int i = 0; i < n; i++) {
        if (subs[i].raw) {
            close(subs[i].in_fd);
            kill(subs[i].pid, SIGTERM);
            waitpid(subs[i].pid, NULL, 0);
            free(subs[i].tbuf);
        }
    }
}

static peer_t *subscribe(json_t *sub, int n, int ep)
{
    peer_t *subs = calloc((size_t)n, sizeof(*subs));
    bool redis = strcmp(json_string_value(json_object_get(sub, "kind")) ?: "", "redis") == 0;
    int port = (int)json_integer_value(json_object_get(sub, "port"));
    const char *path = json_string_value(json_object_get(sub, "path")) ?: "/";
    const char *msg = json_string_value(json_object_get(sub, "subscribe"));
    const char *chan = json_string_value(json_object_get(sub, "channel")) ?: "bench";
    char buf[4096];
    for (int i = 0; i < n; i++) {
        peer_t *p = &subs[i];
        p->fd = dial(port);
        p->redis = redis;
        if (redis) {
            write_all(p->fd, buf, resp(buf, sizeof(buf), "SUBSCRIBE", chan, NULL, 0));
        } else {
            ws_handshake(p->fd, port, path);
            if (msg != NULL) {
                write_all(p->fd, buf, ws_frame(buf, msg, strlen(msg)));
            }
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, p->fd, &ev) != 0) {
            die("epoll_ctl");
        }
    }
    return subs;
}

/* Latency mode: a line (or EOF) on stdin ends the run early (F1: the
 * driver's starts are done). */
static peer_t stop_peer;
static bool stop_now;

/* Reads what is there on every ready subscriber; waits up to ms. */
static void poll_subs(int ep, int ms)
{
    static struct epoll_event evs[256];
    static uint8_t buf[1 << 16];
    int k = epoll_wait(ep, evs, 256, ms);
    for (int i = 0; i < k; i++) {
        peer_t *p = evs[i].data.ptr;
        if (p == NULL) {
            continue; /* the publisher: its input is drained by pump() */
        }
        if (p == &stop_peer) {
            stop_now = true;
            epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
            continue;
        }
        for (;;) {
            ssize_t r = read(p->fd, buf, sizeof(buf));
            if (r > 0) {
                if (p->raw) {
                    raw_input(p, buf, (size_t)r);
                } else if (p->redis) {
                    resp_input(p, buf, (size_t)r);
                } else {
                    ws_input(p, buf, (size_t)r);
                }
                if ((size_t)r < sizeof(buf)) {
                    break;
                }
                continue;
            }
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL);
            }
            break;
        }
    }
}

typedef struct {
    int fd;
    char *one; /* one framed message */
    size_t one_len;
    char *out; /* unsent bytes */
    size_t out_len;
    uint64_t sent;
} pub_t;

/* Sends up to 64 messages while fewer than window x N are in flight. */
static void pump(pub_t *pb, uint64_t limit, int n)
{
    static char sink[1 << 16];
    while (read(pb->fd, sink, sizeof(sink)) > 0) {
        /* acknowledgements and PUBLISH counts: not needed */
    }
    if (pb->out_len > 0) {
        ssize_t w = write(pb->fd, pb->out, pb->out_len);
        if (w > 0) {
            memmove(pb->out, pb->out + w, pb->out_len - (size_t)w);
            pb->out_len -= (size_t)w;
        }
        if (pb->out_len > 0) {
            return;
        }
    }
    int burst = 0;
    while (burst < 64 && pb->sent * (uint64_t)n - delivered < limit &&
           pb->out_len + pb->one_len <= OUTMAX) {
        memcpy(pb->out + pb->out_len, pb->one, pb->one_len);
        pb->out_len += pb->one_len;
        pb->sent++;
        burst++;
    }
    ssize_t w = pb->out_len > 0 ? write(pb->fd, pb->out, pb->out_len) : 0;
    if (w > 0) {
        memmove(pb->out, pb->out + w, pb->out_len - (size_t)w);
        pb->out_len -= (size_t)w;
    }
}

static pub_t publisher(json_t *pub, size_t payload)
{
    pub_t pb = {0};
    bool redis = strcmp(json_string_value(json_object_get(pub, "kind")) ?: "", "redis") == 0;
    int port = (int)json_integer_value(json_object_get(pub, "port"));
    char *text = malloc(payload + 1);
    memset(text, 'x', payload);
    text[payload] = '\0';
    pb.one = malloc(payload + 256);
    pb.out = malloc(OUTMAX);
    pb.fd = dial(port);
    if (redis) {
        const char *chan = json_string_value(json_object_get(pub, "channel")) ?: "bench";
        pb.one_len = resp(pb.one, payload + 256, "PUBLISH", chan, text, payload);
    } else {
        ws_handshake(pb.fd, port, json_string_value(json_object_get(pub, "path")) ?: "/");
        pb.one_len = ws_frame(pb.one, text, payload);
    }
    free(text);
    nonblock(pb.fd);
    return pb;
}

static void drain_for(int ep, double seconds)
{
    double end = now_s() + seconds;
    while (now_s() < end) {
        poll_subs(ep, 20);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double q)
{
    if (nlat == 0) {
        return -1;
    }
    size_t i = (size_t)(q / 100.0 * (double)(nlat - 1) + 0.5);
    return lat[i < nlat ? i : nlat - 1];
}

/* W4: subscribers only; the agent's lines are the publisher. "READY" once
 * every subscriber is in (the driver then starts the agent); ends when the
 * samplers have seen every line, or at timeoutMs. */
static int latency_run(json_t *p, int n)
{
    lines_total = (long)json_integer_value(json_object_get(p, "lines"));
    int every = (int)json_integer_value(json_object_get(p, "sampleEvery"));
    double timeout_ms = json_number_value(json_object_get(p, "timeoutMs"));
    double window_s = json_number_value(json_object_get(p, "seconds"));
    tags_want = (long)json_integer_value(json_object_get(p, "tags"));
    tag_after = (long long)json_integer_value(json_object_get(p, "after"));
    json_t *cmd = json_object_get(p, "cmd");
    if (n < 1 || n > NMAX || lines_total < 1 || lines_total > 1000000 || every < 1 ||
        timeout_ms <= 0 || timeout_ms > 600000 || window_s < 0 || window_s > 600 || tags_want < 0 ||
        tags_want > TAG_MAX) {
        errno = EINVAL;
        die("parameters out of range");
    }
    lat = malloc(LAT_MAX * sizeof(*lat));
    if (tags_want > 0) {
        tag_seen = calloc(TAG_MAX, sizeof(*tag_seen));
    }
    int ep = epoll_create1(0);
    peer_t *subs;
    if (cmd != NULL) {
        subs = spawn_readers(cmd, n, ep);
    } else {
        json_t *sub = json_object();
        json_object_set_new(sub, "kind", json_string("ws"));
        json_object_set(sub, "port", json_object_get(p, "port"));
        json_object_set(sub, "path", json_object_get(p, "path"));
        json_object_set(sub, "subscribe", json_object_get(p, "subscribe"));
        subs = subscribe(sub, n, ep);
        json_decref(sub);
    }
    long samplers = 0;
    for (int i = 0; i < n; i++) {
        nonblock(subs[i].fd);
        subs[i].sample = i % every == 0;
        if (subs[i].sample && subs[i].text == NULL) {
            subs[i].text = malloc(SAMPLE_TEXT);
            if (subs[i].text == NULL) {
                die("malloc");
            }
        }
        samplers += subs[i].sample;
    }
    drain_for(ep, 0.3);
    nlat = 0;
    delivered = 0;
    bytes_in = 0;
    memset(late_by_tenth, 0, sizeof(late_by_tenth));
    if (tag_seen != NULL) {
        memset(tag_seen, 0, TAG_MAX * sizeof(*tag_seen));
        tags_got = 0;
    }
    double c0 = cpu_s(), w0 = now_s();
    printf("MARK start\nREADY\n");
    fflush(stdout);
    double deadline = w0 + (window_s > 0 ? window_s : timeout_ms / 1000.0);
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &stop_peer};
    if (tags_want > 0) {
        epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
    }
    while (now_s() < deadline && !stop_now) {
        if (window_s == 0 && tags_want == 0 && (long)nlat >= lines_total * samplers) {
            break;
        }
        if (window_s == 0 && tags_want > 0 && tags_got >= tags_want) {
            break;
        }
        poll_subs(ep, 5);
    }
    double w1 = now_s(), c1 = cpu_s();
    printf("MARK end\n");
    qsort(lat, nlat, sizeof(*lat), cmp_double);
    printf("RESULT {\"n\":%d,\"lines\":%ld,\"linesSeenPerSampler\":%.1f,\"frames\":%llu,"
           "\"p50Ms\":%.4f,\"p99Ms\":%.4f,\"p999Ms\":%.4f,\"maxMs\":%.4f,\"samples\":%zu,"
           "\"bytesIn\":%llu,\"lateByTenth\":[",
           n, lines_total, (double)nlat / (double)samplers, (unsigned long long)delivered, pct(50),
           pct(99), pct(99.9), nlat ? lat[nlat - 1] : -1.0, nlat, (unsigned long long)bytes_in);
    for (int i = 0; i < 10; i++) {
        printf("%s%ld", i ? "," : "", late_by_tenth[i]);
    }
    printf("],\"seconds\":%.6f,\"genCpuS\":%.6f,\"errors\":%d,\"generator\":\"c\"", w1 - w0,
           c1 - c0, errors);
    if (tag_seen != NULL) {
        /* [tag, line index, stamp ns, arrival mono ms] of each tag seen */
        printf(",\"tagsSeen\":%ld,\"tagList\":[", tags_got);
        bool first = true;
        for (long t = 0; t < TAG_MAX; t++) {
            if (tag_seen[t].ns != 0) {
                printf("%s[%ld,%ld,%lld,%.3f]", first ? "" : ",", t, tag_seen[t].i, tag_seen[t].ns,
                       tag_seen[t].at_ms);
                first = false;
            }
        }
        printf("]");
    }
    printf("}\n");
    fflush(stdout);
    end_readers(subs, n);
    for (int i = 0; i < n; i++) {
        if (!subs[i].raw) {
            close(subs[i].fd);
        }
        free(subs[i].text);
    }
    free(subs);
    free(lat);
    free(tag_seen);
    json_decref(p);
    return 0;
}

/* ---- H1: open-loop GETs ------------------------------------------------------- */

typedef struct {
    int fd;
    bool busy;
    double due_ms; /* when its request in flight was due */
    char in[8192];
    size_t have;
} hconn_t;

/* The length of the first whole response in c->in (head + Content-Length
 * body), or 0 while it is incomplete. */
static size_t http_response_len(const hconn_t *c)
{
    const char *end = memmem(c->in, c->have, "\r\n\r\n", 4);
    if (end == NULL) {
        return 0;
    }
    size_t head = (size_t)(end - c->in) + 4;
    size_t body = 0;
    for (const char *l = c->in; l < end; l++) {
        if ((l == c->in || l[-1] == '\n') && strncasecmp(l, "content-length:", 15) == 0) {
            body = (size_t)strtoul(l + 15, NULL, 10);
        }
    }
    return c->have >= head + body ? head + body : 0;
}

static int http_run(json_t *p)
{
    int port = (int)json_integer_value(json_object_get(p, "port"));
    const char *path = json_string_value(json_object_get(p, "path")) ?: "/";
    int conns = (int)json_integer_value(json_object_get(p, "conns"));
    double rate = json_number_value(json_object_get(p, "rate"));
    double seconds = json_number_value(json_object_get(p, "seconds"));
    double warmup = json_number_value(json_object_get(p, "warmup"));
    if (conns < 1 || conns > 1024 || rate < 1 || rate > 1e6 || seconds <= 0 || seconds > 600 ||
        warmup < 0 || warmup > 60) {
        errno = EINVAL;
        die("parameters out of range");
    }
    /* "spin": poll without sleeping, so no wake-up latency of ours is in
     * the figures (the generator then shows 100 % of its core). Otherwise
     * sleep with no timer slack (the kernel's default adds up to 50 us). */
    bool spin = json_is_true(json_object_get(p, "spin"));
    const struct timespec zero = {0, 0};
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    const char *tok = getenv("AGENTD_BENCH_TOKEN");
    char req[1024];
    int rl = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s%s%s\r\n", path,
                      port, tok ? "Authorization: Bearer " : "", tok ? tok : "", tok ? "\r\n" : "");
    lat = malloc(LAT_MAX * sizeof(*lat));
    hconn_t *cs = calloc((size_t)conns, sizeof(*cs));
    int ep = epoll_create1(0);
    for (int i = 0; i < conns; i++) {
        cs[i].fd = dial(port);
        nonblock(cs[i].fd);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) != 0) {
            die("epoll_ctl");
        }
    }
    double step = 1000.0 / rate, start = mono_ms(), measure_from = start + warmup * 1000;
    double end = measure_from + seconds * 1000, next = start, c0 = 0, w0 = 0;
    bool marked = false;
    long sent = 0, done = 0, late_sends = 0;
    bool waiting = false; /* the request due first found no free connection */
    int idle = 0;         /* where the search for a free connection starts */
    while (mono_ms() < end) {
        double now = mono_ms();
        if (!marked && now >= measure_from) {
            marked = true;
            nlat = 0;
            c0 = cpu_s();
            w0 = now_s();
            printf("MARK start\n");
            fflush(stdout);
        }
        /* every request now due goes out on a free connection; one that
         * finds none waits, and its wait is in its latency */
        while (next <= now) {
            int k = -1;
            for (int j = 0; j < conns; j++) {
                int i = (idle + j) % conns;
                if (!cs[i].busy) {
                    k = i;
                    break;
                }
            }
            if (k < 0) {
                if (!waiting) {
                    late_sends++; /* this request waits for a connection */
                    waiting = true;
                }
                break;
            }
            waiting = false;
            idle = (k + 1) % conns;
            write_all(cs[k].fd, req, (size_t)rl);
            cs[k].busy = true;
            cs[k].due_ms = next;
            next += step;
            sent++;
        }
        /* sleep until the next request is due (to the microsecond: a
         * millisecond timeout would send late, a zero one would spin) */
        struct epoll_event evs[256];
        double wait = next - mono_ms();
        struct timespec ts = {0, 0};
        if (wait > 0) {
            ts.tv_sec = (time_t)(wait / 1000);
            ts.tv_nsec = (long)((wait - (double)ts.tv_sec * 1000) * 1e6);
        }
        int n = epoll_pwait2(ep, evs, 256, spin ? &zero : &ts, NULL);
        for (int e = 0; e < n; e++) {
            hconn_t *c = evs[e].data.ptr;
            ssize_t r = read(c->fd, c->in + c->have, sizeof(c->in) - c->have);
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
                    continue;
                }
                errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                continue;
            }
            c->have += (size_t)r;
            size_t len = http_response_len(c);
            if (len > 0 && c->busy) {
                double ms = mono_ms() - c->due_ms;
                if (marked && nlat < LAT_MAX) {
                    lat[nlat++] = ms;
                }
                done++;
                c->busy = false;
                memmove(c->in, c->in + len, c->have - len);
                c->have -= len;
            } else if (c->have == sizeof(c->in)) {
                errors++; /* a response larger than the buffer: not a small GET */
                c->have = 0;
            }
        }
    }
    double w1 = now_s(), c1 = cpu_s();
    printf("MARK end\n");
    qsort(lat, nlat, sizeof(*lat), cmp_double);
    printf("RESULT {\"conns\":%d,\"rate\":%.0f,\"sent\":%ld,\"completed\":%ld,\"measured\":%zu,"
           "\"p50Ms\":%.4f,\"p90Ms\":%.4f,\"p99Ms\":%.4f,\"p999Ms\":%.4f,\"maxMs\":%.4f,"
           "\"waitsForAConnection\":%ld,\"seconds\":%.6f,\"genCpuS\":%.6f,\"errors\":%d,"
           "\"generator\":\"c\"}\n",
           conns, rate, sent, done, nlat, pct(50), pct(90), pct(99), pct(99.9),
           nlat ? lat[nlat - 1] : -1.0, late_sends, w1 - w0, c1 - c0, errors);
    fflush(stdout);
    for (int i = 0; i < conns; i++) {
        close(cs[i].fd);
    }
    free(cs);
    free(lat);
    json_decref(p);
    return 0;
}

int main(int argc, char **argv)
{
    json_error_t jerr;
    json_t *p = argc > 1 ? json_loads(argv[1], 0, &jerr) : NULL;
    if (p == NULL) {
        errno = EINVAL;
        die("parameters");
    }
    int n = (int)json_integer_value(json_object_get(p, "n"));
    if (json_object_get(p, "lines") != NULL) {
        return latency_run(p, n);
    }
    if (json_object_get(p, "rate") != NULL) {
        return http_run(p);
    }
    size_t payload = (size_t)json_integer_value(json_object_get(p, "payload"));
    double seconds = json_number_value(json_object_get(p, "seconds"));
    double warmup = json_number_value(json_object_get(p, "warmup"));
    uint64_t window = (uint64_t)json_integer_value(json_object_get(p, "window"));
    if (n < 1 || n > NMAX || payload > 65536 || seconds <= 0 || seconds > 600 || warmup < 0 ||
        warmup > 60 || window < 1) {
        errno = EINVAL;
        die("parameters out of range");
    }
    int ep = epoll_create1(0);
    peer_t *subs = subscribe(json_object_get(p, "sub"), n, ep);
    for (int i = 0; i < n; i++) {
        nonblock(subs[i].fd);
    }
    drain_for(ep, 0.3);
    delivered = 0; /* subscribe acknowledgements are not deliveries */
    bytes_in = 0;
    pub_t pb = publisher(json_object_get(p, "pub"), payload);
    uint64_t limit = window * (uint64_t)n;
    double t_end = now_s() + warmup;
    while (now_s() < t_end) {
        pump(&pb, limit, n);
        poll_subs(ep, 1);
    }
    uint64_t d0 = delivered, s0 = pb.sent, b0 = bytes_in;
    double c0 = cpu_s(), w0 = now_s();
    printf("MARK start\n");
    fflush(stdout);
    t_end = w0 + seconds;
    while (now_s() < t_end) {
        pump(&pb, limit, n);
        poll_subs(ep, 1);
    }
    uint64_t d1 = delivered, s1 = pb.sent, b1 = bytes_in;
    double w1 = now_s(), c1 = cpu_s();
    printf("MARK end\n");
    double dl = (double)(d1 - d0);
    printf("RESULT {\"n\":%d,\"deliveries\":%llu,\"published\":%llu,\"seconds\":%.6f,"
           "\"genCpuS\":%.6f,\"errors\":%d,\"perSub\":%.1f,\"bytesPerDelivery\":%.1f,"
           "\"generator\":\"c\"}\n",
           n, (unsigned long long)(d1 - d0), (unsigned long long)(s1 - s0), w1 - w0, c1 - c0,
           errors, dl / n, dl > 0 ? (double)(b1 - b0) / dl : 0.0);
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        close(subs[i].fd);
    }
    close(pb.fd);
    free(subs);
    free(pb.one);
    free(pb.out);
    json_decref(p);
    return 0;
}
