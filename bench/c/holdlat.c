/* SPDX-License-Identifier: MIT */
/*
 * HD1's latency probe: what a holder (agentd-hold, src/hold) adds to one
 * line of agent output, with nothing else on the path. A line written to
 * a pipe is read back (a) straight from the pipe, as agentd reads a plain
 * child, and (b) as a DATA frame from a holder that owns the pipe, spools
 * it and sends it on its socket. The two alternate line by line, paced at
 * RATE lines/s, so both see the same machine. Prints one JSON line.
 * Usage: holdlat HOLD_BIN COUNT RATE. Bounded by COUNT; the holder and the
 * stand-in agent are killed at the end.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(int64_t *v, long n, double p)
{
    qsort(v, (size_t)n, sizeof(*v), cmp);
    long i = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return (double)v[i] / 1e6;
}

/* Reads frames until one DATA frame has arrived (its payload discarded). */
static int read_data_frame(int fd)
{
    static unsigned char buf[1 << 17];
    for (;;) {
        unsigned char h[8];
        size_t got = 0;
        while (got < 8) {
            ssize_t r = read(fd, h + got, 8 - got);
            if (r <= 0) {
                return -1;
            }
            got += (size_t)r;
        }
        uint32_t len =
            (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        if (len > sizeof(buf)) {
            return -1;
        }
        for (got = 0; got < len;) {
            ssize_t r = read(fd, buf + got, len - got);
            if (r <= 0) {
                return -1;
            }
            got += (size_t)r;
        }
        if (h[4] == 1) {
            return 0;
        }
    }
}

typedef struct {
    char dir[32];
    int out[2], err[2], in[2], sv[2], direct[2];
    pid_t agent, holder;
} rig_t;

/* The holder under test on fds 3-6, with a stand-in agent it may signal. */
static int start_holder(rig_t *g, const char *bin)
{
    snprintf(g->dir, sizeof(g->dir), "/tmp/holdlat-XXXXXX");
    if (mkdtemp(g->dir) == NULL || pipe(g->out) || pipe(g->err) || pipe(g->in) || pipe(g->direct) ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, g->sv)) {
        perror("holdlat setup");
        return -1;
    }
    g->agent = fork();
    if (g->agent == 0) {
        setsid();
        pause();
        _exit(0);
    }
    g->holder = fork();
    if (g->holder == 0) {
        int src[4] = {fcntl(g->sv[1], F_DUPFD, 64), fcntl(g->out[0], F_DUPFD, 64),
                      fcntl(g->err[0], F_DUPFD, 64), fcntl(g->in[1], F_DUPFD, 64)};
        for (int i = 0; i < 4; i++) {
            dup2(src[i], 3 + i); /* from above 64: no source is overwritten first */
        }
        for (int fd = 7; fd < 1024; fd++) {
            close(fd);
        }
        char pid[24];
        snprintf(pid, sizeof(pid), "%ld", (long)g->agent);
        execl(bin, "agentd-hold", g->dir, pid, "0", "60", (char *)NULL);
        _exit(127);
    }
    close(g->sv[1]);
    close(g->out[0]);
    close(g->err[0]);
    close(g->in[1]);
    unsigned char attach[8 + 24] = {24, 0, 0, 0, 16, 0, 0, 0};
    return write(g->sv[0], attach, sizeof(attach)) == (ssize_t)sizeof(attach) ? 0 : -1;
}

/* COUNT lines, each read straight from a pipe and through the holder. */
static long measure(rig_t *g, long count, long rate, int64_t *plain, int64_t *held)
{
    char line[64], back[64];
    int64_t gap = 1000000000 / rate;
    long n = 0;
    for (; n < count; n++) {
        int len = snprintf(line, sizeof(line), "bench %ld\n", n);
        int64_t t0 = now_ns();
        if (write(g->direct[1], line, (size_t)len) != len ||
            read(g->direct[0], back, sizeof(back)) <= 0) {
            break;
        }
        int64_t t1 = now_ns();
        if (write(g->out[1], line, (size_t)len) != len || read_data_frame(g->sv[0]) != 0) {
            break;
        }
        int64_t t2 = now_ns();
        plain[n] = t1 - t0;
        held[n] = t2 - t1;
        int64_t left = gap - (now_ns() - t0);
        struct timespec ts = {0, (long)(left > 0 ? left : 0)};
        nanosleep(&ts, NULL);
    }
    return n;
}

/* The holder's memory, then the holder, its agent and its files go. */
static void stop_holder(rig_t *g, long *rss, long *anon)
{
    char path[128], buf[4096];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)g->holder);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(buf, sizeof(buf), f) != NULL) {
        sscanf(buf, "VmRSS: %ld", rss);
        sscanf(buf, "RssAnon: %ld", anon);
    }
    if (f != NULL) {
        fclose(f);
    }
    kill(g->holder, SIGKILL);
    kill(g->agent, SIGKILL);
    waitpid(g->holder, NULL, 0);
    waitpid(g->agent, NULL, 0);
    const char *names[] = {"s", "info", "info.tmp", "out", "err", "exit"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", g->dir, names[i]);
        unlink(path);
    }
    rmdir(g->dir);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fputs("usage: holdlat HOLD_BIN COUNT RATE\n", stderr);
        return 2;
    }
    long count = strtol(argv[2], NULL, 10), rate = strtol(argv[3], NULL, 10);
    if (count < 10 || count > 1000000 || rate < 1 || rate > 100000) {
        return 2;
    }
    rig_t g;
    if (start_holder(&g, argv[1]) != 0) {
        return 1;
    }
    int64_t *held = calloc((size_t)count, sizeof(int64_t));
    int64_t *plain = calloc((size_t)count, sizeof(int64_t));
    long n = measure(&g, count, rate, plain, held);
    long rss = -1, anon = -1;
    stop_holder(&g, &rss, &anon);
    if (n < count) {
        fprintf(stderr, "holdlat: stopped after %ld lines\n", n);
        return 1;
    }
    printf("{\"lines\":%ld,\"heldP50Ms\":%.4f,\"heldP99Ms\":%.4f,\"directP50Ms\":%.4f,"
           "\"directP99Ms\":%.4f,\"holderRssKb\":%ld,\"holderAnonKb\":%ld}\n",
           n, pct(held, n, 50), pct(held, n, 99), pct(plain, n, 50), pct(plain, n, 99), rss, anon);
    free(held);
    free(plain);
    return 0;
}
