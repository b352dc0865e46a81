/* SPDX-License-Identifier: MIT */
/* Tests for the request limits and the parser's answers, driven through a
 * real connection on a socketpair: 431, 414, 413, 400 + close, pipelining
 * in order, HEAD, Expect: 100-continue and chunked bodies. */
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
#include "ws/ws.h"

static int setup(void **state)
{
    AD_UNUSED(state);
    http_fx_init();
    cfg.max_header_bytes = 1024;
    cfg.max_header_count = 8;
    cfg.max_url_bytes = 100;
    cfg.max_body_bytes = 64;
    srv = ad_server_new(&loop, &cfg);
    ad_server_route(srv, "GET", "/healthz", AD_ACCESS_PUBLIC, ad_http_healthz, NULL);
    ad_test_routes_register(srv);
    return 0;
}

/* Sends req on a fresh connection and returns everything the server wrote
 * until it closed or went quiet (static buffer). */
static const char *roundtrip(const char *req, size_t len, bool *closed)
{
    static char *out = NULL; /* kept for the next call */
    static size_t cap = 0;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    assert_non_null(ad_http_conn_open_fd(srv, sv[0]));
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(sv[1], req + off, len - off);
        if (n > 0) {
            off += (size_t)n;
        }
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    size_t got;
    *closed = http_fx_read(sv[1], &out, &cap, &got, 2000, 50, 1000);
    close(sv[1]);
    for (int i = 0; i < 200 && srv->nconns > 0; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(500);
    }
    if (srv->nconns != 0) {
        fail_msg("connection still open after %.80s; got %.300s", req, out);
    }
    return out;
}

static void status_is(const char *req, int status, bool must_close)
{
    bool closed;
    const char *out = roundtrip(req, strlen(req), &closed);
    char want[32];
    snprintf(want, sizeof(want), "HTTP/1.1 %d ", status);
    if (strncmp(out, want, strlen(want)) != 0) {
        fail_msg("request %.60s: expected %d, got: %.200s", req, status, out);
    }
    if (must_close) {
        assert_true(closed);
        assert_non_null(strstr(out, "Connection: close\r\n"));
    }
}

static void healthz_answers(void **state)
{
    AD_UNUSED(state);
    bool closed;
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    const char *out = roundtrip(req, strlen(req), &closed);
    assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "\r\nDate: "));
    assert_non_null(strstr(out, "Content-Length: 15\r\n"));
    assert_non_null(strstr(out, "\r\n\r\n{\"status\":\"ok\"}"));
    assert_false(closed); /* keep-alive */
}

static void limits_answer_with_their_status(void **state)
{
    AD_UNUSED(state);
    char big[2048];
    int n =
        snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %01500d\r\n\r\n", 0);
    assert_true(n > 1500);
    status_is(big, 431, true);
    status_is("GET /healthz HTTP/1.1\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\n"
              "G: 1\r\nH: 1\r\nI: 1\r\n\r\n",
              431, true);
    status_is("GET /healthz HTTP/1.1\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\nF: 1\r\n"
              "G: 1\r\nHost: x\r\n\r\n",
              200, false);
    n = snprintf(big, sizeof(big), "GET /healthz?x=%0150d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    status_is(big, 414, true);
    /* HTTP/1.1 needs a Host (RFC 9112 3.2): without one the Host check
     * could not be made. */
    status_is("GET /healthz HTTP/1.1\r\n\r\n", 400, true);
    status_is("POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 65\r\n\r\n", 413, true);
    status_is("POST /test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              "30\r\n012345678901234567890123456789012345678901234567\r\n"
              "30\r\n012345678901234567890123456789012345678901234567\r\n0\r\n\r\n",
              413, true);
    status_is("HELLO WORLD\r\n\r\n", 400, true);
    status_is("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400,
              true);
    status_is("GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400, true);
    status_is(
        "POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: teapot\r\n\r\nab", 417,
        true);
}

static void bodies_and_pipelining(void **state)
{
    AD_UNUSED(state);
    bool closed;
    const char *req =
        "POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
        "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    const char *out = roundtrip(req, strlen(req), &closed);
    const char *a = strstr(out, "\r\n\r\nabcde");
    const char *b = strstr(out, "\r\n\r\n{\"status\":\"ok\"}HTTP/1.1 200 OK");
    const char *c = strstr(out, "\r\n\r\nok");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_true(a < b && b < c);
    assert_true(closed);

    req = "POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: "
          "100-continue\r\n\r\nhi";
    out = roundtrip(req, strlen(req), &closed);
    assert_true(strncmp(out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 42) == 0);
    assert_non_null(strstr(out, "\r\n\r\nhi"));

    req = "GET /healthz HTTP/1.0\r\n\r\n";
    out = roundtrip(req, strlen(req), &closed);
    assert_non_null(strstr(out, "Connection: close"));
    assert_true(closed);
    req = "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    out = roundtrip(req, strlen(req), &closed);
    assert_non_null(strstr(out, "Connection: keep-alive"));
    assert_false(closed);
}

static void routing_answers(void **state)
{
    AD_UNUSED(state);
    status_is("GET /test/items/7 HTTP/1.1\r\nHost: x\r\n\r\n", 200, false);
    status_is("DELETE /test/items/7 HTTP/1.1\r\nHost: x\r\n\r\n", 404, false);
    status_is("PATCH /test/items/7 HTTP/1.1\r\nHost: x\r\n\r\n", 405, false);
    status_is("GET /api/nothing HTTP/1.1\r\nHost: x\r\n\r\n", 404, false);
    status_is("OPTIONS /test/items/7 HTTP/1.1\r\nHost: x\r\n\r\n", 204, false);
    status_is("GET /ws/echo HTTP/1.1\r\nHost: x\r\n\r\n", 426, false);
    status_is("GET /anything/else HTTP/1.1\r\nHost: x\r\n\r\n", 200,
              false); /* the app's index.html */
}

/* The loop kept off the CPU past the header timer (usleep with the loop
 * not running), the request already in the socket: libuv runs the timer
 * before the poll that reads it, and the server must answer, not drop the
 * connection as a slow client. The same past the idle timer between two
 * requests of a keep-alive connection. A client that truly sends too
 * slowly is still dropped. */
/* Runs the loop and reads fd into out[cap] until a /healthz answer is in
 * (true) or the server closed or 2 s passed (false). */
static bool healthz_answer(int fd, char *out, size_t cap)
{
    size_t got = 0;
    for (int i = 0; i < 2000; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        ssize_t n = read(fd, out + got, cap - 1 - got);
        if (n == 0) {
            break;
        }
        if (n > 0) {
            got += (size_t)n;
            out[got] = '\0';
            if (strstr(out, "{\"status\":\"ok\"}") != NULL) {
                return strncmp(out, "HTTP/1.1 200 OK\r\n", 17) == 0;
            }
        } else {
            usleep(1000);
        }
    }
    out[got] = '\0';
    return false;
}

static void a_stalled_loop_is_not_a_slow_client(void **state)
{
    AD_UNUSED(state);
    ad_config_t saved = cfg;
    cfg.header_timeout_ms = 20;
    cfg.idle_timeout_ms = 20;
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    char out[4096];
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    uv_update_time(&loop);
    assert_non_null(ad_http_conn_open_fd(srv, sv[0]));
    /* the header timer's time passes while the request waits unread */
    assert_int_equal(write(sv[1], req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
    usleep(60 * 1000);
    if (!healthz_answer(sv[1], out, sizeof(out))) {
        fail_msg("past the header timer: %.200s", out);
    }
    /* idle between requests: the idle timer's time passes the same way */
    uv_update_time(&loop);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(write(sv[1], req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
    usleep(60 * 1000);
    if (!healthz_answer(sv[1], out, sizeof(out))) {
        fail_msg("past the idle timer: %.200s", out);
    }
    /* a head that stops half-way: dropped once its timer finds nothing new */
    static const char half[] = "GET /healthz HTTP/1.1\r\nHo";
    assert_int_equal(write(sv[1], half, sizeof(half) - 1), (ssize_t)(sizeof(half) - 1));
    usleep(60 * 1000);
    assert_false(healthz_answer(sv[1], out, sizeof(out)));
    assert_string_equal(out, "");
    close(sv[1]);
    for (int i = 0; i < 200 && srv->nconns > 0; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(500);
    }
    assert_int_equal(srv->nconns, 0);
    cfg = saved;
}

/* An answer larger than the socket takes at once: the first part is written
 * where the answer is made (write.c's try_answer), the rest by libuv once
 * the socket drains, and a pipelined answer behind it waits its turn. The
 * client reads only after it has sent both requests, so the socketpair's
 * buffer (about 200 KiB) is full when the echo is answered. */
static void a_big_answer_leaves_whole_and_in_order(void **state)
{
    AD_UNUSED(state);
    ad_config_t saved = cfg;
    cfg.max_body_bytes = 1 << 20;
    enum { BODY = 600000 };
    char *req = malloc(BODY + 256);
    assert_non_null(req);
    int h = snprintf(req, 256,
                     "POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-test\r\n"
                     "Content-Length: %d\r\n\r\n",
                     BODY);
    for (int i = 0; i < BODY; i++) {
        req[h + i] = (char)('a' + (i * 7) % 26);
    }
    static const char next[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    memcpy(req + h + BODY, next, sizeof(next) - 1);
    size_t len = (size_t)h + BODY + sizeof(next) - 1;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    assert_non_null(ad_http_conn_open_fd(srv, sv[0]));
    size_t off = 0;
    for (int i = 0; off < len && i < 100000; i++) {
        ssize_t n = write(sv[1], req + off, len - off);
        if (n > 0) {
            off += (size_t)n;
        }
        uv_run(&loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(off, len);
    /* read until the pipelined answer's body has come (bounded in count) */
    static const char last[] = "{\"status\":\"ok\"}";
    size_t cap = (size_t)BODY + 8192, got = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (int i = 0; i < 200000 && got < cap - 1; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        ssize_t n = read(sv[1], out + got, cap - 1 - got);
        if (n > 0) {
            got += (size_t)n;
        } else if (n == 0) {
            break;
        } else {
            usleep(200);
        }
        if (got >= sizeof(last) - 1 &&
            memcmp(out + got - (sizeof(last) - 1), last, sizeof(last) - 1) == 0) {
            break;
        }
    }
    out[got] = '\0';
    const char *body = strstr(out, "\r\n\r\n");
    if (strncmp(out, "HTTP/1.1 200 OK\r\n", 17) != 0 || body == NULL) {
        fail_msg("the echo's head: %.200s", out);
    }
    body += 4;
    assert_true(got >= (size_t)(body - out) + BODY);
    assert_memory_equal(body, req + h, BODY);
    const char *after = body + BODY;
    if (strncmp(after, "HTTP/1.1 200 OK\r\n", 17) != 0 ||
        strstr(after, "\r\n\r\n{\"status\":\"ok\"}") == NULL) {
        fail_msg("the pipelined answer after the echo: %.200s", after);
    }
    close(sv[1]);
    for (int i = 0; i < 200 && srv->nconns > 0; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(500);
    }
    assert_int_equal(srv->nconns, 0);
    free(out);
    free(req);
    cfg = saved;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(healthz_answers),
        cmocka_unit_test(limits_answer_with_their_status),
        cmocka_unit_test(bodies_and_pipelining),
        cmocka_unit_test(routing_answers),
        cmocka_unit_test(a_stalled_loop_is_not_a_slow_client),
        cmocka_unit_test(a_big_answer_leaves_whole_and_in_order),
    };
    return cmocka_run_group_tests_name("http-limits", tests, setup, http_fx_teardown);
}
