/* SPDX-License-Identifier: MIT */
/*
 * The route helpers every handler shares (src/auth/route.c), as the
 * engines that register their own routes call them: the row of :id read
 * and shown only to its org (another org's row answered exactly like a
 * missing one, 404 naming the id; the owner sees every org's), 503 while
 * the store is not open, and core's ad_jstr. Driven as in-process calls
 * (ad_server_call) with the caller's principal as the request's auth; the
 * rest of the helpers are test-api-answers.c's (src/api calls them by its
 * older names).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "auth/route.h"

static uv_loop_t loop;
static ad_config_t cfg;
static ad_server_t *srv;
static ad_app_t app;      /* only .store is read, and only to be non-NULL */
static ad_app_t no_store; /* .store NULL */

typedef struct {
    int calls;
    int status;
    json_t *body;
} answer_t;

static void on_answer(int status, const char *body, size_t len, void *ud)
{
    answer_t *a = ud;
    a->calls++;
    a->status = status;
    a->body = json_loadb(body, len, 0, NULL);
}

/* The rows there are: "row_1" of org_1, "row_2" of org_2. */
static int fake_get(struct ad_store *st, const char *id, json_t **out)
{
    (void)st;
    if (strcmp(id, "row_1") == 0 || strcmp(id, "row_2") == 0) {
        *out = json_pack("{s:s, s:s}", "id", id, "orgId", id[4] == '1' ? "org_1" : "org_2");
        return 0;
    }
    return AD_ENOENT;
}

static void get_row(ad_req_t *r, void *ud)
{
    ad_route_answer_row(r, ad_route_row_load(ud, r, fake_get, "thing"));
}

static const ad_principal_t reader = {.name = "reader", .org_id = "org_1", .scope = AD_SCOPE_READ};
static const ad_principal_t owner = {
    .name = "owner", .org_id = "org_1", .scope = AD_SCOPE_ADMIN, .owner = true};

static void call(const char *target, const ad_principal_t *who, answer_t *a)
{
    memset(a, 0, sizeof(*a));
    ad_http_call_t c = {
        .method = "GET", .target = target, .auth = who, .access = AD_ACCESS_ADMIN, .peer = "test"};
    ad_server_call(srv, &c, on_answer, a);
    while (a->calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(a->calls, 1);
    assert_non_null(a->body);
}

/* The answer is 404 NOT_FOUND naming id, and the message names "thing". */
static void missing(answer_t *a, const char *id)
{
    json_t *err = json_object_get(a->body, "error");
    assert_int_equal(a->status, 404);
    assert_string_equal(ad_jstr(err, "code"), "NOT_FOUND");
    assert_string_equal(ad_jstr(json_object_get(err, "details"), "id"), id);
    assert_non_null(strstr(ad_jstr(err, "message"), "thing"));
    json_decref(a->body);
}

static void rows_by_org(void **state)
{
    (void)state;
    answer_t a;
    call("/t/row/row_1", &reader, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(ad_jstr(a.body, "id"), "row_1");
    json_decref(a.body);

    /* another org's row reads as one that does not exist */
    call("/t/row/row_2", &reader, &a);
    missing(&a, "row_2");
    call("/t/row/row_9", &reader, &a);
    missing(&a, "row_9");

    /* the owner sees every org's */
    call("/t/row/row_2", &owner, &a);
    assert_int_equal(a.status, 200);
    json_decref(a.body);

    /* an id longer than any id is missing, unread */
    char target[200];
    snprintf(target, sizeof(target), "/t/row/%0*d", AD_ID_MAX + 4, 1);
    call(target, &owner, &a);
    assert_int_equal(a.status, 404);
    json_decref(a.body);

    call("/t/nostore/row_1", &owner, &a);
    assert_int_equal(a.status, 503);
    assert_string_equal(ad_jstr(json_object_get(a.body, "error"), "code"), "UNAVAILABLE");
    json_decref(a.body);
}

static void jstr(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:s, s:i, s:n}", "s", "x", "n", 1, "z");
    assert_string_equal(ad_jstr(o, "s"), "x");
    assert_null(ad_jstr(o, "n"));
    assert_null(ad_jstr(o, "z"));
    assert_null(ad_jstr(o, "missing"));
    assert_null(ad_jstr(NULL, "s"));
    json_t *arr = json_pack("[s]", "s");
    assert_null(ad_jstr(arr, "s"));
    json_decref(arr);
    json_decref(o);
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(ad_config_load_env(&cfg, err, sizeof(err)), 0);
    ad_log_set_level(AD_LOG_ERROR);
    assert_int_equal(uv_loop_init(&loop), 0);
    ad_loop_thread_set();
    srv = ad_server_new(&loop, &cfg);
    app.store = (struct ad_store *)&app; /* never dereferenced: fake_get ignores it */
    ad_server_route(srv, "GET", "/t/row/:id", AD_ACCESS_READ, get_row, &app);
    ad_server_route(srv, "GET", "/t/nostore/:id", AD_ACCESS_READ, get_row, &no_store);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ad_server_close(srv, NULL, NULL);
    for (int i = 0; i < 100 && uv_run(&loop, UV_RUN_NOWAIT) != 0; i++) {
    }
    ad_server_free(srv);
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_by_org),
        cmocka_unit_test(jstr),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
