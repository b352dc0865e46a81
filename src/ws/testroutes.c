/* SPDX-License-Identifier: MIT */
/*
 * Routes that exist only in test builds (-DAD_TEST_BUILD): a WebSocket echo
 * endpoint for the conformance checklist, an SSE stream, an asynchronous
 * handler and a body echo. A release build compiles this file to nothing.
 */
#include "ws/ws.h"

#ifdef AD_TEST_BUILD

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Open echo connections, for "broadcast:" (one shared message, many
 * sockets). */
#define ECHO_MAX 4096
static ad_ws_t *echo_conns[ECHO_MAX];
static size_t n_echo;

static void echo_open(ad_ws_t *ws, ad_req_t *upgrade, void *ud)
{
    AD_UNUSED(upgrade);
    AD_UNUSED(ud);
    if (n_echo < ECHO_MAX) {
        echo_conns[n_echo++] = ws;
    }
}

static void echo_close(ad_ws_t *ws, int code, void *ud)
{
    AD_UNUSED(code);
    AD_UNUSED(ud);
    for (size_t i = 0; i < n_echo; i++) {
        if (echo_conns[i] == ws) {
            echo_conns[i] = echo_conns[--n_echo];
            break;
        }
    }
}

static void echo_message(ad_ws_t *ws, const char *data, size_t len, bool binary, void *ud)
{
    AD_UNUSED(ud);
    if (!binary && len >= 10 && memcmp(data, "broadcast:", 10) == 0) {
        ad_wsmsg_t *m = ad_wsmsg_new(data + 10, len - 10, false);
        for (size_t i = 0; i < n_echo; i++) {
            ad_ws_send_msg(echo_conns[i], m);
        }
        ad_wsmsg_unref(m);
        return;
    }
    if (!binary && len > 6 && len < 16 && memcmp(data, "close:", 6) == 0) {
        char code[16];
        memcpy(code, data + 6, len - 6);
        code[len - 6] = '\0';
        ad_ws_close(ws, (int)strtol(code, NULL, 10), "bye");
        return;
    }
    ad_wsmsg_t *m = ad_wsmsg_new(data, len, binary);
    if (ad_ws_send_msg(ws, m) == AD_ETOOBIG) {
        ad_ws_close(ws, 1008, "send queue full");
    }
    ad_wsmsg_unref(m);
}

static const ad_ws_handler_t echo_handler = {
    .on_open = echo_open, .on_message = echo_message, .on_close = echo_close};

static void sse_closed(ad_sse_t *sse, void *ud)
{
    AD_UNUSED(sse);
    AD_UNUSED(ud);
}

static void test_sse(ad_req_t *r, void *ud)
{
    AD_UNUSED(ud);
    const char *cs = ad_req_query(r, "count");
    long count = cs != NULL ? strtol(cs, NULL, 10) : 3;
    bool close_after = ad_req_query(r, "close") != NULL;
    if (count < 0 || count > 10000) {
        count = 3;
    }
    ad_sse_t *sse = ad_sse_start(r, sse_closed, NULL);
    if (sse == NULL) {
        return;
    }
    const char *last = ad_sse_last_event_id(sse);
    long first = last != NULL ? strtol(last, NULL, 10) + 1 : 1;
    for (long i = first; i < first + count; i++) {
        char id[32], data[64];
        snprintf(id, sizeof(id), "%ld", i);
        int n = snprintf(data, sizeof(data), "event %ld\nsecond line", i);
        if (ad_sse_send(sse, id, "tick", data, (size_t)n) != 0) {
            return;
        }
    }
    if (close_after) {
        ad_sse_close(sse);
    }
}

typedef struct async {
    uv_timer_t timer;
    ad_req_t *req;
    struct async *prev, *next;
} async_t;

/* Pending answers, so ad_test_routes_close() can end them at shutdown. */
static async_t *pending;

static void async_closed(uv_handle_t *h)
{
    async_t *a = h->data;
    if (a->prev != NULL) {
        a->prev->next = a->next;
    } else {
        pending = a->next;
    }
    if (a->next != NULL) {
        a->next->prev = a->prev;
    }
    free(a);
}

static void async_fire(uv_timer_t *t)
{
    async_t *a = t->data;
    char body[64];
    int n = snprintf(body, sizeof(body), "async %s", ad_req_path(a->req));
    const char *id = ad_req_query(a->req, "id");
    if (id != NULL) {
        n = snprintf(body, sizeof(body), "async %s", id);
    }
    ad_res_send(a->req, 200, "text/plain", body, (size_t)n);
    uv_close((uv_handle_t *)&a->timer, async_closed);
}

static void test_async(ad_req_t *r, void *ud)
{
    uv_loop_t *loop = ud;
    const char *ms = ad_req_query(r, "ms");
    long delay = ms != NULL ? strtol(ms, NULL, 10) : 50;
    if (delay < 0 || delay > 60000) {
        delay = 50;
    }
    async_t *a = ad_xcalloc(1, sizeof(*a));
    a->req = r;
    a->next = pending;
    if (pending != NULL) {
        pending->prev = a;
    }
    pending = a;
    uv_timer_init(loop, &a->timer);
    a->timer.data = a;
    uv_timer_start(&a->timer, async_fire, (uint64_t)delay, 0);
}

static void test_echo(ad_req_t *r, void *ud)
{
    AD_UNUSED(ud);
    size_t len;
    const char *body = ad_req_body(r, &len);
    const char *ct = ad_req_header(r, "content-type");
    ad_res_send(r, 200, ct != NULL ? ct : "application/octet-stream", body, len);
}

static void test_json(ad_req_t *r, void *ud)
{
    AD_UNUSED(ud);
    json_t *j = ad_req_json(r);
    if (j == NULL) {
        return;
    }
    ad_res_json(r, 200, j);
}

static void test_params(ad_req_t *r, void *ud)
{
    AD_UNUSED(ud);
    json_t *j = json_pack("{s:s?, s:s?, s:s?, s:s}", "id", ad_req_param(r, "id"), "q",
                          ad_req_query(r, "q"), "x", ad_req_query(r, "x"), "path", ad_req_path(r));
    ad_res_json(r, 200, j);
}

static void test_error(ad_req_t *r, void *ud)
{
    AD_UNUSED(ud);
    ad_res_error_code(r, AD_ENOENT, NULL, "no such thing");
}

void ad_test_routes_close(void)
{
    for (async_t *a = pending; a != NULL; a = a->next) {
        if (!uv_is_closing((uv_handle_t *)&a->timer)) {
            ad_res_error(a->req, 503, "UNAVAILABLE", NULL, "agentd is shutting down");
            uv_close((uv_handle_t *)&a->timer, async_closed);
        }
    }
}

void ad_test_routes_register(ad_server_t *s)
{
    static const char *const protocols[] = {"agentd.test", "bearer", NULL};
    ad_server_route_ws(s, "/ws/echo", AD_ACCESS_PUBLIC, protocols, &echo_handler, NULL);
    ad_server_route(s, "GET", "/test/sse", AD_ACCESS_PUBLIC, test_sse, NULL);
#ifndef AD_FUZZ
    /* Fuzzing would pile up answers that are due in up to a minute. */
    ad_server_route(s, "GET", "/test/async", AD_ACCESS_PUBLIC, test_async, uv_default_loop());
#endif
    ad_server_route(s, "POST", "/test/echo", AD_ACCESS_PUBLIC, test_echo, NULL);
    ad_server_route(s, "PUT", "/test/echo", AD_ACCESS_PUBLIC, test_echo, NULL);
    ad_server_route(s, "POST", "/test/json", AD_ACCESS_PUBLIC, test_json, NULL);
    ad_server_route(s, "GET", "/test/items/:id", AD_ACCESS_PUBLIC, test_params, NULL);
    ad_server_route(s, "DELETE", "/test/items/:id", AD_ACCESS_PUBLIC, test_error, NULL);
}

#else
typedef int ad_testroutes_empty_t; /* ISO C wants something in a file */
#endif
