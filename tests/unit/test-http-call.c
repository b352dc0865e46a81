/* SPDX-License-Identifier: MIT */
/* Tests for in-process calls (ad_server_call, src/http/call.c): the route's
 * handler runs with the caller's auth and the body, its answer reaches the
 * callback once (now or later), the guard's done() sees it, and a route
 * that needs more than the caller's access, an unknown path or another
 * method never runs a handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "http/http_int.h"

static uv_loop_t loop;
static ad_config_t cfg;
static ad_server_t *srv;

static int handled;
static int done_status;
static const void *seen_auth;
static uv_timer_t later;

typedef struct {
    int calls;
    int status;
    char body[512];
} answer_t;

static void on_answer(int status, const char *body, size_t len, void *ud)
{
    answer_t *a = ud;
    a->calls++;
    a->status = status;
    snprintf(a->body, sizeof(a->body), "%.*s", (int)len, body);
}

static void get_x(ad_req_t *r, void *ud)
{
    AD_UNUSED(ud);
    handled++;
    seen_auth = ad_req_auth(r);
    char peer[32];
    ad_req_peer(r, peer, sizeof(peer));
    assert_false(ad_req_client_gone(r));
    assert_false(ad_req_is_local(r));
    ad_res_json(r, 200,
                json_pack("{s:s, s:s, s:s}", "id", ad_req_param(r, "id"), "q",
                          ad_req_query(r, "q") != NULL ? ad_req_query(r, "q") : "", "peer", peer));
}

static void post_y(ad_req_t *r, void *ud)
{
    AD_UNUSED(ud);
    handled++;
    json_t *j = ad_req_json(r);
    if (j == NULL) {
        return;
    }
    json_object_set_new(j, "type", json_string(ad_req_header(r, "content-type")));
    ad_res_json(r, 201, j);
}

static void answer_later(uv_timer_t *t)
{
    ad_res_send(t->data, 202, "text/plain", "later", 5);
}

static void get_async(ad_req_t *r, void *ud)
{
    AD_UNUSED(ud);
    handled++;
    later.data = r;
    uv_timer_start(&later, answer_later, 1, 0);
}

static void guard_done(void *ud, ad_req_t *r, int status)
{
    AD_UNUSED(ud);
    AD_UNUSED(r);
    done_status = status;
}

static const ad_guard_t guard = {.done = guard_done};

static int setup(void **state)
{
    AD_UNUSED(state);
    char err[256];
    assert_int_equal(ad_config_load_env(&cfg, err, sizeof(err)), 0);
    ad_log_set_level(AD_LOG_WARN);
    assert_int_equal(uv_loop_init(&loop), 0);
    srv = ad_server_new(&loop, &cfg);
    ad_server_set_guard(srv, &guard, NULL);
    ad_server_route(srv, "GET", "/x/:id", AD_ACCESS_READ, get_x, NULL);
    ad_server_route(srv, "POST", "/y", AD_ACCESS_ADMIN, post_y, NULL);
    ad_server_route(srv, "GET", "/async", AD_ACCESS_READ, get_async, NULL);
    uv_timer_init(&loop, &later);
    return 0;
}

static int teardown(void **state)
{
    AD_UNUSED(state);
    uv_close((uv_handle_t *)&later, NULL);
    ad_server_close(srv, NULL, NULL);
    for (int i = 0; i < 100 && uv_run(&loop, UV_RUN_NOWAIT) != 0; i++) {
    }
    ad_server_free(srv);
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

static void call(const char *method, const char *target, const char *body, ad_access_t access,
                 const void *auth, answer_t *a)
{
    memset(a, 0, sizeof(*a));
    ad_http_call_t c = {.method = method,
                        .target = target,
                        .body = body,
                        .len = body != NULL ? strlen(body) : 0,
                        .auth = auth,
                        .access = access,
                        .peer = "test"};
    ad_server_call(srv, &c, on_answer, a);
}

static void a_route_runs_as_the_caller(void **state)
{
    AD_UNUSED(state);
    static const int who = 7;
    answer_t a;
    handled = 0;
    call("GET", "/x/a%20b?q=1%262", NULL, AD_ACCESS_READ, &who, &a);
    assert_int_equal(a.calls, 1); /* answered before the call returned */
    assert_int_equal(a.status, 200);
    assert_string_equal(a.body, "{\"id\":\"a b\",\"q\":\"1&2\",\"peer\":\"test\"}");
    assert_ptr_equal(seen_auth, &who);
    assert_int_equal(done_status, 200);

    call("POST", "/y", "{\"n\":1}", AD_ACCESS_ADMIN, &who, &a);
    assert_int_equal(a.status, 201);
    assert_string_equal(a.body, "{\"n\":1,\"type\":\"application/json\"}");
    assert_int_equal(handled, 2);
}

static void refusals_run_no_handler(void **state)
{
    AD_UNUSED(state);
    answer_t a;
    handled = 0;
    call("POST", "/y", "{}", AD_ACCESS_WRITE, NULL, &a);
    assert_int_equal(a.status, 403);
    assert_non_null(strstr(a.body, "FORBIDDEN"));
    call("GET", "/nope", NULL, AD_ACCESS_ADMIN, NULL, &a);
    assert_int_equal(a.status, 404);
    call("DELETE", "/y", NULL, AD_ACCESS_ADMIN, NULL, &a);
    assert_int_equal(a.status, 405);
    call("GET", "relative", NULL, AD_ACCESS_ADMIN, NULL, &a);
    assert_int_equal(a.status, 400);
    call("GET", "/x/%zz", NULL, AD_ACCESS_ADMIN, NULL, &a);
    assert_int_equal(a.status, 400);
    assert_int_equal(handled, 0);
    ad_access_t acc = AD_ACCESS_PUBLIC;
    assert_true(ad_server_route_access_of(srv, "POST", "/y", &acc));
    assert_int_equal(acc, AD_ACCESS_ADMIN);
    assert_true(ad_server_route_access_of(srv, "GET", "/x/anything", &acc));
    assert_int_equal(acc, AD_ACCESS_READ);
    assert_false(ad_server_route_access_of(srv, "GET", "/y", &acc));
}

static void a_later_answer_comes_once(void **state)
{
    AD_UNUSED(state);
    answer_t a;
    call("GET", "/async", NULL, AD_ACCESS_READ, NULL, &a);
    assert_int_equal(a.calls, 0);
    for (int i = 0; i < 1000 && a.calls == 0; i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.status, 202);
    assert_string_equal(a.body, "later");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_route_runs_as_the_caller),
        cmocka_unit_test(refusals_run_no_handler),
        cmocka_unit_test(a_later_answer_comes_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
