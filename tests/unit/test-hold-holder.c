/* SPDX-License-Identifier: MIT */
/*
 * The holder (src/hold/holder.c) under a spool it cannot write (issue #41),
 * without root: the holder runs with a file size limit (RLIMIT_FSIZE) that
 * refuses its spool writes as a full disk would (EFBIG). It must stop
 * reading the agent's pipe (this test writes it, as the agent would, and
 * finds it full), tell the daemon (a STALL frame), keep what it read, and
 * once the limit is raised (prlimit) write it all and read on (RESUME):
 * the spool ends byte for byte what was written, nothing dropped, no line
 * glued to another. And the lines a holder sends its daemon at once, which
 * wait in its memory before they reach the spool file: they are in the
 * file once that daemon goes away, even if the disk refuses them then, and
 * the next daemon reads them from there. Every wait is bounded.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "hold/hold.h"

#define LIMIT (64 * 1024)
#define TOTAL (1024 * 1024)
#define WAIT_MS 20000

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The bytes the "agent" prints: numbered lines of 32 bytes. */
static char expect_byte(size_t i)
{
    char line[64];
    snprintf(line, sizeof(line), "n=%08zu %s\n", i / 32, "xxxxxxxxxxxxxxxxxxxx");
    return line[i % 32];
}

typedef struct {
    int sock; /* our end of the holder's daemon connection */
    unsigned char buf[AD_HOLD_HDR + AD_HOLD_MAX_PAYLOAD];
    size_t len;
    bool stalled, resumed;
    int stall_errno;
    char reason[64];
    size_t eofs;
    bool hello;
    /* stdout's DATA, in the order it came, each frame at the offset it says */
    char data[4096];
    size_t dlen;
    bool bad_offset;
} conn_t;

/* Reads what the holder sent (DATA is only counted); waits at most ms. */
static void read_frames(conn_t *c, int ms)
{
    struct pollfd p = {.fd = c->sock, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0) {
        return;
    }
    ssize_t n = read(c->sock, c->buf + c->len, sizeof(c->buf) - c->len);
    if (n <= 0) {
        return;
    }
    c->len += (size_t)n;
    size_t at = 0;
    while (c->len - at >= AD_HOLD_HDR) {
        uint32_t len = ad_hold_len(c->buf + at);
        if (c->len - at < AD_HOLD_HDR + len) {
            break;
        }
        unsigned type = c->buf[at + 4];
        const unsigned char *pl = c->buf + at + AD_HOLD_HDR;
        if (type == AD_HOLD_STALL) {
            assert_true(len >= 4);
            memcpy(&c->stall_errno, pl, 4);
            snprintf(c->reason, sizeof(c->reason), "%.*s", (int)(len - 4), (const char *)pl + 4);
            c->stalled = true;
        } else if (type == AD_HOLD_RESUME) {
            c->resumed = true;
        } else if (type == AD_HOLD_EOF) {
            c->eofs++;
        } else if (type == AD_HOLD_HELLO) {
            c->hello = true;
        } else if (type == AD_HOLD_DATA && c->buf[at + 5] == 1 && len >= 8) {
            uint64_t off = 0;
            for (int i = 7; i >= 0; i--) {
                off = off << 8 | pl[i];
            }
            size_t dn = len - 8;
            if (off != c->dlen || c->dlen + dn > sizeof(c->data)) {
                c->bad_offset = true;
            } else {
                memcpy(c->data + c->dlen, pl + 8, dn);
                c->dlen += dn;
            }
        }
        at += AD_HOLD_HDR + len;
    }
    memmove(c->buf, c->buf + at, c->len - at);
    c->len -= at;
}

static void send_attach(int sock)
{
    unsigned char f[AD_HOLD_HDR + 24];
    uint64_t a[3] = {0, 0, 0};
    ad_hold_hdr(f, 24, AD_HOLD_ATTACH, 0);
    memcpy(f + AD_HOLD_HDR, a, sizeof(a));
    assert_int_equal(write(sock, f, sizeof(f)), (ssize_t)sizeof(f));
}

/* Writes the "agent's" bytes from *at while the pipe takes them, waiting up
 * to ms for room; returns false once the pipe stayed full that long. */
static bool feed(int fd, size_t *at, size_t upto, int ms)
{
    char chunk[4096];
    while (*at < upto) {
        size_t n = upto - *at < sizeof(chunk) ? upto - *at : sizeof(chunk);
        for (size_t i = 0; i < n; i++) {
            chunk[i] = expect_byte(*at + i);
        }
        ssize_t w = write(fd, chunk, n);
        if (w > 0) {
            *at += (size_t)w;
            continue;
        }
        assert_true(w < 0 && errno == EAGAIN);
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, ms) == 0) {
            return false;
        }
    }
    return true;
}

/* What a failed assert leaves: ended in the teardown. */
static pid_t agent = -1, holder = -1;
static conn_t *c;
static char dir[] = "/tmp/agentd-holdtest-XXXXXX";

static int teardown(void **state)
{
    AD_UNUSED(state);
    int status;
    if (holder > 0) {
        kill(holder, SIGKILL);
        waitpid(holder, &status, 0);
    }
    if (agent > 0) {
        kill(agent, SIGKILL);
        waitpid(agent, &status, 0);
    }
    holder = agent = -1;
    free(c);
    c = NULL;
    ad_hold_remove(dir);
    snprintf(dir, sizeof(dir), "%s", "/tmp/agentd-holdtest-XXXXXX"); /* the next mkdtemp's */
    return 0;
}

/* The holder on fresh pipes, its file size limit `limit`, the agent a
 * stand-in that waits; the daemon connection attached from offset 0. The
 * agent's stdout write end comes back (non-blocking), and c is the daemon. */
static int start_holder(rlim_t limit)
{
    assert_non_null(mkdtemp(dir));
    int out[2], err[2], in[2], sv[2];
    assert_int_equal(pipe(out), 0);
    assert_int_equal(pipe(err), 0);
    assert_int_equal(pipe(in), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    /* A stand-in agent in its own process group: the holder ends it. */
    agent = fork();
    if (agent == 0) {
        setpgid(0, 0);
        for (int fd = 3; fd < 200; fd++) {
            close(fd); /* the pipes end with the test's ends */
        }
        for (;;) {
            pause();
        }
    }
    setpgid(agent, agent);
    holder = fork();
    if (holder == 0) {
        struct rlimit rl = {.rlim_cur = limit, .rlim_max = RLIM_INFINITY};
        setrlimit(RLIMIT_FSIZE, &rl);
        /* Out of the way first: the pipes may sit on fds 3-6 already. */
        int want[4] = {sv[1], out[0], err[0], in[1]}, high[4];
        for (int i = 0; i < 4; i++) {
            high[i] = fcntl(want[i], F_DUPFD, 100);
        }
        for (int i = 0; i < 4; i++) {
            if (high[i] < 0 || dup2(high[i], 3 + i) < 0) {
                _exit(127);
            }
        }
        for (int fd = 7; fd < 200; fd++) {
            close(fd);
        }
        char pid_text[32];
        snprintf(pid_text, sizeof(pid_text), "%ld", (long)agent);
        char *argv[] = {dir, pid_text, "0", NULL};
        _exit(ad_hold_main(3, argv));
    }
    close(sv[1]);
    close(out[0]);
    close(err[0]);
    close(in[1]);
    close(err[1]);
    close(in[0]);
    fcntl(out[1], F_SETFL, O_NONBLOCK);
    c = calloc(1, sizeof(*c));
    c->sock = sv[0];
    send_attach(c->sock);
    return out[1];
}

static off_t spool_size(void)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/out", dir);
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void holder_stops_reading_on_a_full_spool_and_loses_nothing(void **state)
{
    AD_UNUSED(state);
    int out1 = start_holder(LIMIT);

    /* The pipe fills and stays full: the holder stopped reading. */
    size_t at = 0;
    int64_t end = ms_now() + WAIT_MS;
    while (!c->stalled && ms_now() < end) {
        feed(out1, &at, TOTAL, 20);
        read_frames(c, 20);
    }
    if (!c->stalled) {
        fail_msg("no STALL frame (%zu bytes fed)", at);
    }
    assert_int_equal(c->stall_errno, EFBIG);
    assert_string_equal(c->reason, "disk full");
    assert_false(feed(out1, &at, TOTAL, 500));
    /* What went in: the spool's 64 KiB, one read kept, the pipe's buffer;
     * a holder that read on (dropping) would have taken all of it. */
    assert_true(at < LIMIT + 64 * 1024 + 1024 * 1024);
    assert_true(at < TOTAL);
    char path[256];
    snprintf(path, sizeof(path), "%s/out", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size <= LIMIT);

    /* Room again: everything is written, reading goes on. */
    struct rlimit rl = {.rlim_cur = RLIM_INFINITY, .rlim_max = RLIM_INFINITY};
    assert_int_equal(prlimit(holder, RLIMIT_FSIZE, &rl, NULL), 0);
    end = ms_now() + WAIT_MS;
    while (at < TOTAL && ms_now() < end) {
        feed(out1, &at, TOTAL, 20);
        read_frames(c, 1);
    }
    assert_int_equal(at, TOTAL);
    close(out1);
    while (c->eofs < 2 && ms_now() < end) {
        read_frames(c, 50);
    }
    assert_true(c->resumed);
    assert_int_equal(c->eofs, 2);

    /* The spool is every byte, once, in order. */
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    char *got = malloc(TOTAL + 1);
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd, got + n, TOTAL + 1 - n)) > 0) {
        n += (size_t)r;
    }
    close(fd);
    assert_int_equal(n, TOTAL);
    for (size_t i = 0; i < TOTAL; i++) {
        if (got[i] != expect_byte(i)) {
            fail_msg("spool byte %zu is %d, not %d", i, got[i], expect_byte(i));
        }
    }
    free(got);

    /* The holder said so in its log. */
    char log[2048];
    assert_true(ad_hold_log_read(dir, log, sizeof(log)) > 0);
    assert_non_null(strstr(log, "spool write failed"));
    assert_non_null(strstr(log, "spool writable again"));

    /* The stand-in agent is not the holder's child (it cannot reap it):
     * the teardown ends both. */
    close(c->sock);
}

/* Connects to the holder's socket as a daemon that starts over (from
 * offset 0), in place of c (whose socket is closed already). */
static void reconnect(void)
{
    memset(c, 0, sizeof(*c));
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s/s", dir);
    c->sock = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(c->sock >= 0);
    assert_int_equal(connect(c->sock, (struct sockaddr *)&a, sizeof(a)), 0);
    send_attach(c->sock);
}

#define LINES 10
#define LINE 32

static void holder_spools_what_it_sent_directly_once_the_daemon_goes(void **state)
{
    AD_UNUSED(state);
    /* The disk takes 100 bytes: the kept lines cannot all go when needed. */
    int out1 = start_holder(100);

    /* Line by line once the holder has greeted: each sent at once, at the
     * offset it has. */
    size_t at = 0;
    int64_t end = ms_now() + WAIT_MS;
    while (!c->hello && ms_now() < end) {
        read_frames(c, 50);
    }
    assert_true(c->hello);
    for (size_t i = 1; i <= LINES; i++) {
        assert_true(feed(out1, &at, i * LINE, WAIT_MS));
        while (c->dlen < at && ms_now() < end) {
            read_frames(c, 50);
        }
        assert_int_equal(c->dlen, at);
    }
    assert_false(c->bad_offset);
    /* They wait in memory: the spool file has not been written. */
    assert_int_equal(spool_size(), 0);

    /* The daemon goes: the holder writes them, 100 bytes go, the disk
     * refuses the rest, which is kept and retried. */
    close(c->sock);
    c->sock = -1;
    while (spool_size() < 100 && ms_now() < end) {
        struct pollfd none;
        poll(&none, 0, 20);
    }
    assert_int_equal(spool_size(), 100);
    struct rlimit rl = {.rlim_cur = RLIM_INFINITY, .rlim_max = RLIM_INFINITY};
    assert_int_equal(prlimit(holder, RLIMIT_FSIZE, &rl, NULL), 0);
    while (spool_size() < (off_t)(LINES * LINE) && ms_now() < end) {
        struct pollfd none;
        poll(&none, 0, 20);
    }
    assert_int_equal(spool_size(), LINES * LINE);

    /* A new daemon reads everything from the spool, in order, once. */
    reconnect();
    while (c->dlen < LINES * LINE && ms_now() < end) {
        read_frames(c, 50);
    }
    assert_false(c->bad_offset);
    assert_int_equal(c->dlen, LINES * LINE);
    for (size_t i = 0; i < c->dlen; i++) {
        if (c->data[i] != expect_byte(i)) {
            fail_msg("byte %zu is %d, not %d", i, c->data[i], expect_byte(i));
        }
    }
    close(out1);
    close(c->sock);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(holder_stops_reading_on_a_full_spool_and_loses_nothing, teardown),
        cmocka_unit_test_teardown(holder_spools_what_it_sent_directly_once_the_daemon_goes,
                                  teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
