/* SPDX-License-Identifier: MIT */
/* Tests for streamed responses (src/http/stream.c) over a real connection
 * on a socketpair: the chunked encoding decodes back to the pieces sent
 * (empty answers, small and large pieces, the last chunk); a client that
 * does not read gets no further pulls (backpressure); a client that leaves
 * mid-stream ends it with on_close(ended = false) and nothing leaks; the
 * upgrade-only route lets a plain GET go on to the page; a taken-over
 * connection written a moment ago holds its next writes (the linger), and
 * leaves them together once the bound passes or 64 KiB are queued. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_int.h"
#include "http_fixture.h"

/* The producer: pieces of sizes[i] bytes (byte k of the whole body is
 * 'a' + k % 26) until sizes ends with -1. */
typedef struct {
    const long *sizes;
    size_t next;
    size_t sent;
    int pulls;
    int closes;
    bool ended;
} prod_t;
static prod_t prod;

static void prod_pull(ad_stream_t *st, void *ud)
{
    prod_t *p = ud;
    p->pulls++;
    long n = p->sizes[p->next];
    if (n < 0) {
        ad_stream_end(st);
        return;
    }
    p->next++;
    char *b = malloc((size_t)n + 1);
    for (long i = 0; i < n; i++) {
        b[i] = (char)('a' + (p->sent + (size_t)i) % 26);
    }
    p->sent += (size_t)n;
    assert_int_equal(ad_stream_write(st, b, (size_t)n), 0);
    free(b);
}

static void prod_close(ad_stream_t *st, bool ended, void *ud)
{
    AD_UNUSED(st);
    prod_t *p = ud;
    p->closes++;
    p->ended = ended;
}

static const ad_stream_ops_t prod_ops = {prod_pull, prod_close};

static void stream_h(ad_req_t *r, void *ud)
{
    AD_UNUSED(ud);
    assert_non_null(ad_stream_start(r, 200, "text/plain", &prod_ops, &prod));
}

static void socket_h(ad_req_t *r, void *ud)
{
    AD_UNUSED(ud);
    ad_res_send(r, 299, "text/plain", "socket", 6);
}

/* /held: a taken-over connection, kept in `held` until it closes. */
static ad_conn_t *held;

static void held_close(void *ud)
{
    AD_UNUSED(ud);
    held = NULL;
}

static const ad_conn_ops_t held_ops = {NULL, NULL, held_close, NULL};

static void held_h(ad_req_t *r, void *ud)
{
    AD_UNUSED(ud);
    held = ad_req_take_over(r, 200, "text/plain", &held_ops, NULL);
    assert_non_null(held);
}

static int setup(void **state)
{
    AD_UNUSED(state);
    http_fx_init();
    srv = ad_server_new(&loop, &cfg);
    ad_server_route(srv, "GET", "/stream", AD_ACCESS_PUBLIC, stream_h, NULL);
    ad_server_route(srv, "GET", "/held", AD_ACCESS_PUBLIC, held_h, NULL);
    ad_server_route_upgrade(srv, "/", "websocket", AD_ACCESS_PUBLIC, socket_h, NULL);
    return 0;
}

static int client(const char *req)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    assert_non_null(ad_http_conn_open_fd(srv, sv[0]));
    assert_int_equal(write(sv[1], req, strlen(req)), (ssize_t)strlen(req));
    return sv[1];
}

/* Reads until the server closes (or goes quiet); returns malloc'd bytes. */
static char *read_all(int fd, size_t *len)
{
    char *out = NULL;
    size_t cap = 0;
    (void)http_fx_read(fd, &out, &cap, len, 200000, 500, 200);
    return out;
}

/* Decodes a chunked body in place; returns its length, or -1 when the
 * framing is wrong or the last chunk is missing. */
static long unchunk(char *b, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        unsigned long n = strtoul(b + in, &end, 16);
        if (end == b + in || (size_t)(end - b) + 2 > len || memcmp(end, "\r\n", 2) != 0) {
            return -1;
        }
        in = (size_t)(end - b) + 2;
        if (n == 0) {
            return in + 2 == len && memcmp(b + in, "\r\n", 2) == 0 ? (long)out : -1;
        }
        if (in + n + 2 > len || memcmp(b + in + n, "\r\n", 2) != 0) {
            return -1;
        }
        memmove(b + out, b + in, n);
        out += n;
        in += n + 2;
    }
}

static void chunk_head_is_hex(void **state)
{
    AD_UNUSED(state);
    char h[AD_HTTP_CHUNK_HEAD_MAX];
    assert_int_equal(ad_http_chunk_head(h, 0), 3);
    assert_string_equal(h, "0\r\n");
    assert_int_equal(ad_http_chunk_head(h, 255), 4);
    assert_string_equal(h, "ff\r\n");
    assert_int_equal(ad_http_chunk_head(h, 0x40000), 7);
    assert_string_equal(h, "40000\r\n");
    ad_http_chunk_head(h, SIZE_MAX);
    assert_string_equal(h, "ffffffffffffffff\r\n");
}

static void body_decodes_to_the_pieces(void **state)
{
    AD_UNUSED(state);
    static const long sizes[] = {10, 0, 1, 300 * 1024, 0, 5, 70000, 26, -1};
    memset(&prod, 0, sizeof(prod));
    prod.sizes = sizes;
    int fd = client("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    size_t len;
    char *out = read_all(fd, &len);
    close(fd);
    for (int i = 0; i < 2000 && (prod.closes == 0 || srv->nconns > 0); i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(250);
    }
    char *body = strstr(out, "\r\n\r\n");
    assert_non_null(body);
    *body = '\0';
    assert_non_null(strstr(out, "HTTP/1.1 200 "));
    assert_non_null(strstr(out, "Transfer-Encoding: chunked\r\n"));
    assert_null(strstr(out, "Content-Length"));
    body += 4;
    long n = unchunk(body, len - (size_t)(body - out));
    assert_int_equal(n, (long)prod.sent);
    for (long i = 0; i < n; i++) {
        if (body[i] != (char)('a' + i % 26)) {
            fail_msg("byte %ld is %c", i, body[i]);
        }
    }
    free(out);
    assert_int_equal(prod.pulls, 9);
    assert_int_equal(prod.closes, 1);
    assert_true(prod.ended);
}

/* A client that reads nothing: pulls stop once the socket is full, and
 * leaving mid-stream ends the stream (not ended) with nothing left over. */
static void backpressure_and_abort(void **state)
{
    AD_UNUSED(state);
    static long sizes[2001];
    for (int i = 0; i < 2000; i++) {
        sizes[i] = 64 * 1024;
    }
    sizes[2000] = -1;
    memset(&prod, 0, sizeof(prod));
    prod.sizes = sizes;
    int fd = client("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 400; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(250);
    }
    int stalled = prod.pulls;
    assert_true(stalled > 0);
    assert_true(stalled < 100); /* ~the socket buffers' worth, of 2,000 */
    for (int i = 0; i < 200; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(prod.pulls, stalled);
    char buf[65536];
    assert_true(read(fd, buf, sizeof(buf)) > 0);
    close(fd);
    for (int i = 0; i < 400 && (prod.closes == 0 || srv->nconns > 0); i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(250);
    }
    assert_int_equal(prod.closes, 1);
    assert_false(prod.ended);
    assert_true(prod.pulls < 2000);
    assert_int_equal(srv->nconns, 0);
}

static void upgrade_route_only_for_upgrades(void **state)
{
    AD_UNUSED(state);
    size_t len;
    int fd =
        client("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
    char *out = read_all(fd, &len);
    close(fd);
    assert_non_null(strstr(out, "HTTP/1.1 299 "));
    free(out);
    fd = client("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    out = read_all(fd, &len);
    close(fd);
    assert_non_null(strstr(out, "HTTP/1.1 200 ")); /* the page */
    free(out);
    fd = client("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
    out = read_all(fd, &len);
    close(fd);
    assert_non_null(strstr(out, "HTTP/1.1 200 ")); /* not this route's protocol */
    free(out);
}

/* Runs the loop until fd has want bytes (appended to buf) or the bound. */
static size_t read_until(int fd, char *buf, size_t got, size_t want)
{
    for (int i = 0; i < 20000 && got < want; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        ssize_t n = read(fd, buf + got, want - got);
        if (n > 0) {
            got += (size_t)n;
        } else {
            usleep(200);
        }
    }
    return got;
}

/* Reads the answer's head from fd, up to its blank line. */
static void read_head(int fd)
{
    char buf[256];
    size_t got = 0;
    for (int i = 0; i < 20000 && (got < 4 || memcmp(buf + got - 4, "\r\n\r\n", 4) != 0); i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        if (read(fd, buf + got, 1) == 1) {
            got++;
        }
        assert_true(got < sizeof(buf));
    }
}

/* Opens /held and runs the loop until the route has kept its connection. */
static int open_held(void)
{
    int fd = client("GET /held HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 20000 && held == NULL; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(100);
    }
    assert_non_null(held);
    return fd;
}

/* Closes the reader's end and runs the loop until the server let go of it. */
static void close_held(int fd)
{
    close(fd);
    for (int i = 0; i < 20000 && held != NULL; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(100);
    }
    assert_null(held);
}

static void a_busy_connection_lingers_a_quiet_one_does_not(void **state)
{
    AD_UNUSED(state);
    int fd = open_held();
    char buf[256];
    read_head(fd);
    srv->linger_ns = 60ull * 1000000000u; /* held for as long as the test needs */
    /* never written before: leaves in the turn it was queued */
    assert_int_equal(ad_conn_write_copy(held, "a", 1), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(read(fd, buf, sizeof(buf)), 1);
    /* written a moment ago: the next writes wait, turn after turn */
    assert_int_equal(ad_conn_write_copy(held, "b", 1), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(ad_conn_write_copy(held, "c", 1), 0);
    for (int i = 0; i < 5; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(read(fd, buf, sizeof(buf)), -1);
    /* once the bound has passed, the timer's turn writes them together */
    srv->linger_ns = AD_HTTP_LINGER_NS;
    assert_int_equal(read_until(fd, buf, 0, 2), 2);
    assert_memory_equal(buf, "bc", 2);
    /* 64 KiB queued leaves at once, lingering or not */
    srv->linger_ns = 60ull * 1000000000u;
    assert_int_equal(ad_conn_write_copy(held, "d", 1), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(read(fd, buf, sizeof(buf)), -1);
    static char big[64 * 1024];
    memset(big, 'e', sizeof(big));
    assert_int_equal(ad_conn_write_copy(held, big, sizeof(big)), 0);
    assert_int_equal(read(fd, buf, 1), 1);
    assert_int_equal(buf[0], 'd');
    srv->linger_ns = AD_HTTP_LINGER_NS;
    static char rest[64 * 1024];
    assert_int_equal(read_until(fd, rest, 0, sizeof(big)), sizeof(big));
    /* "d" above waited after "bc", whose wait had gathered "c": such waits
     * go on. One that gathers nothing turns the linger off for a while:
     * "f" waits alone, then "g", right after it, leaves in its own turn (its
     * reader is likely waiting for "f" before it asks on). */
    srv->linger_off_ns = 60ull * 1000000000u;
    srv->linger_ns = 60ull * 1000000000u;
    assert_int_equal(ad_conn_write_copy(held, "f", 1), 0);
    for (int i = 0; i < 3; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(read(fd, buf, sizeof(buf)), -1);
    srv->linger_ns = AD_HTTP_LINGER_NS;
    assert_int_equal(read_until(fd, buf, 0, 1), 1);
    assert_int_equal(buf[0], 'f');
    srv->linger_ns = 60ull * 1000000000u;
    assert_int_equal(ad_conn_write_copy(held, "g", 1), 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(read(fd, buf, sizeof(buf)), 1);
    assert_int_equal(buf[0], 'g');
    srv->linger_ns = AD_HTTP_LINGER_NS;
    srv->linger_off_ns = AD_HTTP_LINGER_OFF_NS;
    close_held(fd);
}

/* A connection holds a queue array only while it has writes queued: the
 * array goes back to the server's spares once its flush has written them
 * all (an idle connection holds none), spares are kept up to as many as
 * were held at once, and given back (down to AD_HTTP_WQS_KEEP) a check
 * after the load is over. A queue longer than the array's first size grows
 * and keeps its order. The once-a-second check is stopped so the test makes
 * its calls. */
static void queue_arrays_follow_the_load(void **state)
{
    AD_UNUSED(state);
    uv_timer_stop(&srv->trim);
    int fd = open_held();
    read_head(fd);
    /* a small send buffer, so most frames stay queued whatever the
     * machine's socket defaults */
    int hfd = -1;
    assert_int_equal(uv_fileno((uv_handle_t *)&held->h.stream, &hfd), 0);
    assert_int_equal(setsockopt(hfd, SOL_SOCKET, SO_SNDBUF, &(int){16384}, sizeof(int)), 0);
    enum { N = 3000, LEN = 600 };
    static char frames[N][LEN];
    for (int i = 0; i < N; i++) { /* the reader does not read: most stay queued */
        memset(frames[i], 'a' + i % 26, LEN);
        assert_int_equal(ad_conn_write_ref(held, frames[i], LEN, NULL, NULL), 0);
    }
    assert_non_null(held->wq);
    assert_true(held->wq->cap >= 1024); /* grown past its first size */
    static char in[N * LEN];
    size_t got = 0;
    for (int i = 0; i < 200000 && got < sizeof(in); i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        ssize_t n = read(fd, in + got, sizeof(in) - got);
        if (n > 0) {
            got += (size_t)n;
        } else {
            usleep(100);
        }
    }
    assert_int_equal(got, sizeof(in));
    for (int i = 0; i < N; i++) { /* every frame whole, in order */
        assert_int_equal(in[(size_t)i * LEN], 'a' + i % 26);
        assert_int_equal(in[(size_t)i * LEN + LEN - 1], 'a' + i % 26);
    }
    for (int i = 0; i < 1000 && (held->wq != NULL || held->nbatch > 0); i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    assert_null(held->wq); /* written: the array went back */
    assert_int_equal(srv->wqs_out, 0);
    /* many connections each with a write queued hold an array each */
    enum { C = AD_HTTP_WQS_KEEP + AD_HTTP_CORKS_KEEP + 36 };
    int fds[C];
    ad_conn_t *conns[C];
    ad_conn_t *first = held;
    for (int i = 0; i < C; i++) {
        held = NULL;
        fds[i] = open_held();
        read_head(fds[i]);
        conns[i] = held;
    }
    for (int i = 0; i < C; i++) { /* a frame by reference, then a small one copied */
        assert_int_equal(ad_conn_write_ref(conns[i], frames[i], LEN, NULL, NULL), 0);
        assert_int_equal(ad_conn_write_copy(conns[i], frames[i], 100), 0);
    }
    assert_int_equal(srv->wqs_out, C);
    assert_int_equal(srv->corks_out, C); /* a cork each */
    for (int i = 0; i < 1000 && srv->wqs_out > 0; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(srv->wqs_out, 0);
    assert_int_equal(srv->corks_out, 0);
    size_t pooled = srv->nfree_wqs, corks = srv->nfree_corks;
    assert_true(pooled >= C); /* kept for the next such turn */
    assert_true(corks >= C);
    ad_http_wqs_trim(srv);
    assert_int_equal(srv->nfree_wqs, pooled); /* that many were held this second */
    assert_int_equal(srv->nfree_corks, corks);
    ad_http_wqs_trim(srv);
    assert_int_equal(srv->nfree_wqs, AD_HTTP_WQS_KEEP); /* none since */
    assert_int_equal(srv->nfree_corks, AD_HTTP_CORKS_KEEP);
    for (int i = 0; i < C; i++) {
        char b[LEN + 100];
        assert_int_equal(read_until(fds[i], b, 0, LEN + 100), LEN + 100);
        assert_memory_equal(b, frames[i], LEN);
        assert_memory_equal(b + LEN, frames[i], 100);
        held = conns[i];
        close_held(fds[i]);
    }
    held = first;
    close_held(fd);
    uv_timer_again(&srv->trim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chunk_head_is_hex),
        cmocka_unit_test(body_decodes_to_the_pieces),
        cmocka_unit_test(backpressure_and_abort),
        cmocka_unit_test(upgrade_route_only_for_upgrades),
        cmocka_unit_test(a_busy_connection_lingers_a_quiet_one_does_not),
        cmocka_unit_test(queue_arrays_follow_the_load),
    };
    return cmocka_run_group_tests_name("http-stream", tests, setup, http_fx_teardown);
}
