/* SPDX-License-Identifier: MIT */
/*
 * The REST layer's own answers (src/auth/route.c's helpers under src/api's
 * names, api_int.h; issue #79's test for src/api): a field a handler reads answered 422
 * VALIDATION_ERROR with {field, reason} in core's words, a query flag or number refused the same
 * way, scope and owner checks answered 403 with the caller's scope, a failed read answered with the
 * code's status (404 naming the id), a list and a row answered 200. Driven as in-process calls
 * (ad_server_call) on routes whose handlers are these helpers, with the
 * caller's principal as the request's auth; the resource routes
 * themselves are the e2e suite's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

static uv_loop_t loop;
static ad_config_t cfg;
static ad_server_t *srv;

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

/* ---- the routes: each a helper of api.c -------------------------------------- */

static void post_fields(ad_req_t *r, void *ud)
{
    (void)ud;
    json_t *body = ad_req_json(r);
    const char *name = NULL, *mode = "a";
    int64_t n = 0;
    bool has_n = false, flag = false;
    json_t *tags = NULL;
    if (body == NULL || ad_api_str(r, body, "name", true, 5, &name) != 0 ||
        ad_api_enum(r, body, "mode", false, "a,b", &mode) != 0 ||
        ad_api_int(r, body, "n", false, 1, 10, &n, &has_n) != 0 ||
        ad_api_bool(r, body, "flag", &flag, NULL) != 0 ||
        ad_api_str_array(r, body, "tags", false, 2, 3, &tags) != 0) {
        json_decref(body);
        return;
    }
    ad_res_json(r, 200,
                json_pack("{s:s, s:s, s:I, s:b, s:b}", "name", name, "mode", mode, "n",
                          (json_int_t)n, "hasN", has_n, "flag", flag));
    json_decref(body);
}

static void get_query(ad_req_t *r, void *ud)
{
    (void)ud;
    bool full = false, has = false;
    int64_t limit = 50;
    if (ad_api_query_bool(r, "full", true, &full) != 0 ||
        ad_api_query_int(r, "limit", 1, 100, &has, &limit) != 0) {
        return;
    }
    ad_res_json(
        r, 200,
        json_pack("{s:b, s:I, s:b}", "full", full, "limit", (json_int_t)limit, "hasLimit", has));
}

static void get_admin(ad_req_t *r, void *ud)
{
    (void)ud;
    if (ad_api_require(r, AD_SCOPE_ADMIN, "this route")) {
        ad_res_json(r, 200, json_pack("{s:s}", "who", ad_api_who(r)->name));
    }
}

static void get_owner(ad_req_t *r, void *ud)
{
    (void)ud;
    if (ad_api_require_owner(r, "may do this")) {
        ad_res_json(r, 200, json_object());
    }
}

/* /t/read/:rc: a read that ended with -rc (0: a row) */
static void get_read(ad_req_t *r, void *ud)
{
    (void)ud;
    int rc = -(int)strtol(ad_req_param(r, "rc"), NULL, 10);
    ad_api_answer(r, rc, rc == 0 ? json_pack("{s:s}", "id", "ag_1") : NULL, "agent", "ag_1");
}

static void get_list(ad_req_t *r, void *ud)
{
    (void)ud;
    const char *q = ad_req_query(r, "fail");
    int rc = q != NULL ? AD_EBUSY : 0;
    ad_api_list(r, rc, json_pack("[{s:s}]", "id", "a"), "agents", "agents");
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

static ad_app_t app;      /* only .store is read, and only to be non-NULL */
static ad_app_t no_store; /* .store NULL */

static void get_row(ad_req_t *r, void *ud)
{
    ad_route_answer_row(r, ad_route_row_load(ud, r, fake_get, "thing"));
}

/* ---- the calls ------------------------------------------------------------------ */

static const ad_principal_t reader = {.name = "reader", .org_id = "org_1", .scope = AD_SCOPE_READ};
static const ad_principal_t admin = {.name = "admin", .org_id = "org_1", .scope = AD_SCOPE_ADMIN};
static const ad_principal_t owner = {
    .name = "owner", .org_id = "org_1", .scope = AD_SCOPE_ADMIN, .owner = true};

static void call(const char *method, const char *target, const char *body,
                 const ad_principal_t *who, answer_t *a)
{
    memset(a, 0, sizeof(*a));
    ad_http_call_t c = {.method = method,
                        .target = target,
                        .body = body,
                        .len = body != NULL ? strlen(body) : 0,
                        .auth = who,
                        .access = AD_ACCESS_ADMIN,
                        .peer = "test"};
    ad_server_call(srv, &c, on_answer, a);
    while (a->calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(a->calls, 1);
    assert_non_null(a->body);
}

/* The answer is a 422 VALIDATION_ERROR on field with reason. */
static void refused(answer_t *a, const char *field, const char *reason)
{
    json_t *err = json_object_get(a->body, "error");
    json_t *d = json_object_get(err, "details");
    if (a->status != 422 || json_string_value(json_object_get(d, "field")) == NULL ||
        strcmp(json_string_value(json_object_get(d, "field")), field) != 0 ||
        strncmp(json_string_value(json_object_get(d, "reason")), reason, strlen(reason)) != 0) {
        char *text = json_dumps(a->body, 0);
        fail_msg("expected 422 on %s (%s), got %d %s", field, reason, a->status, text);
    }
    assert_string_equal(json_string_value(json_object_get(err, "code")), "VALIDATION_ERROR");
    json_decref(a->body);
}

static void fields(void **state)
{
    (void)state;
    answer_t a;
    call("POST", "/t/fields", "{\"name\":\"abc\",\"n\":10,\"flag\":true,\"tags\":[\"x\"]}", &reader,
         &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(json_string_value(json_object_get(a.body, "mode")), "a"); /* default */
    assert_int_equal(json_integer_value(json_object_get(a.body, "n")), 10);
    assert_true(json_is_true(json_object_get(a.body, "flag")));
    json_decref(a.body);

    static const struct {
        const char *body, *field, *reason;
    } bad[] = {
        {"{}", "name", "is required"},
        {"{\"name\":7}", "name", "must be a string"},
        {"{\"name\":\"abcdef\"}", "name", "is too long"},
        {"{\"name\":\"a\",\"mode\":\"c\"}", "mode", "must be one of a,b"},
        {"{\"name\":\"a\",\"n\":11}", "n", ""},
        {"{\"name\":\"a\",\"n\":0}", "n", ""},
        {"{\"name\":\"a\",\"flag\":\"yes\"}", "flag", ""},
        {"{\"name\":\"a\",\"tags\":[\"x\",\"y\",\"z\"]}", "tags", ""},
        {"{\"name\":\"a\",\"tags\":[\"long\"]}", "tags", ""},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        call("POST", "/t/fields", bad[i].body, &reader, &a);
        refused(&a, bad[i].field, bad[i].reason);
    }
}

static void query(void **state)
{
    (void)state;
    answer_t a;
    call("GET", "/t/query", NULL, &reader, &a);
    assert_int_equal(a.status, 200);
    assert_true(json_is_true(json_object_get(a.body, "full"))); /* the default */
    assert_int_equal(json_integer_value(json_object_get(a.body, "limit")), 50);
    assert_true(json_is_false(json_object_get(a.body, "hasLimit")));
    json_decref(a.body);
    call("GET", "/t/query?full=0&limit=100", NULL, &reader, &a);
    assert_int_equal(a.status, 200);
    assert_true(json_is_false(json_object_get(a.body, "full")));
    assert_int_equal(json_integer_value(json_object_get(a.body, "limit")), 100);
    json_decref(a.body);
    call("GET", "/t/query?full=maybe", NULL, &reader, &a);
    refused(&a, "full", "");
    call("GET", "/t/query?limit=101", NULL, &reader, &a);
    refused(&a, "limit", "");
    call("GET", "/t/query?limit=ten", NULL, &reader, &a);
    refused(&a, "limit", "");
}

static void who_may(void **state)
{
    (void)state;
    answer_t a;
    call("GET", "/t/admin", NULL, &reader, &a);
    assert_int_equal(a.status, 403);
    json_t *err = json_object_get(a.body, "error");
    assert_string_equal(json_string_value(json_object_get(err, "code")), "FORBIDDEN");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(err, "details"), "scope")), "read");
    json_decref(a.body);
    call("GET", "/t/admin", NULL, NULL, &a); /* nobody: sees nothing, may do nothing */
    assert_int_equal(a.status, 403);
    json_decref(a.body);
    call("GET", "/t/admin", NULL, &admin, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(json_string_value(json_object_get(a.body, "who")), "admin");
    json_decref(a.body);

    call("GET", "/t/owner", NULL, &admin, &a); /* admin is not the owner */
    assert_int_equal(a.status, 403);
    json_decref(a.body);
    call("GET", "/t/owner", NULL, &owner, &a);
    assert_int_equal(a.status, 200);
    json_decref(a.body);
}

static void reads(void **state)
{
    (void)state;
    answer_t a;
    char target[64];
    call("GET", "/t/read/0", NULL, &reader, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(json_string_value(json_object_get(a.body, "id")), "ag_1");
    json_decref(a.body);

    snprintf(target, sizeof(target), "/t/read/%d", -AD_ENOENT);
    call("GET", target, NULL, &reader, &a);
    assert_int_equal(a.status, 404);
    json_t *err = json_object_get(a.body, "error");
    assert_string_equal(json_string_value(json_object_get(err, "code")), "NOT_FOUND");
    assert_string_equal(json_string_value(json_object_get(json_object_get(err, "details"), "id")),
                        "ag_1");
    assert_non_null(strstr(json_string_value(json_object_get(err, "message")), "agent"));
    json_decref(a.body);

    static const struct {
        int rc, status;
    } codes[] = {{AD_EEXIST, 409}, {AD_EPERM, 403}, {AD_EINVAL, 422}, {AD_EBUSY, 503}};
    for (size_t i = 0; i < AD_ARRAY_LEN(codes); i++) {
        snprintf(target, sizeof(target), "/t/read/%d", -codes[i].rc);
        call("GET", target, NULL, &reader, &a);
        if (a.status != codes[i].status) {
            fail_msg("rc %d answered %d, not %d", codes[i].rc, a.status, codes[i].status);
        }
        /* the id is named only for a missing row */
        assert_null(
            json_object_get(json_object_get(json_object_get(a.body, "error"), "details"), "id"));
        json_decref(a.body);
    }

    call("GET", "/t/list", NULL, &reader, &a);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(json_object_get(a.body, "agents")), 1);
    json_decref(a.body);
    call("GET", "/t/list?fail=1", NULL, &reader, &a);
    assert_int_equal(a.status, 503);
    json_decref(a.body);

    json_t *o = json_pack("{s:s, s:i}", "s", "x", "n", 1);
    assert_string_equal(ad_api_jstr(o, "s"), "x");
    assert_null(ad_api_jstr(o, "n"));
    assert_null(ad_api_jstr(o, "missing"));
    json_decref(o);
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
    call("GET", "/t/row/row_1", NULL, &reader, &a);
    assert_int_equal(a.status, 200);
    assert_string_equal(ad_jstr(a.body, "id"), "row_1");
    json_decref(a.body);

    /* another org's row reads as one that does not exist */
    call("GET", "/t/row/row_2", NULL, &reader, &a);
    missing(&a, "row_2");
    call("GET", "/t/row/row_9", NULL, &reader, &a);
    missing(&a, "row_9");

    /* the owner sees every org's */
    call("GET", "/t/row/row_2", NULL, &owner, &a);
    assert_int_equal(a.status, 200);
    json_decref(a.body);

    /* an id longer than any id is missing, unread */
    char target[200];
    snprintf(target, sizeof(target), "/t/row/%0*d", AD_ID_MAX + 4, 1);
    call("GET", target, NULL, &owner, &a);
    assert_int_equal(a.status, 404);
    json_decref(a.body);

    call("GET", "/t/nostore/row_1", NULL, &owner, &a);
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
    ad_server_route(srv, "POST", "/t/fields", AD_ACCESS_READ, post_fields, NULL);
    ad_server_route(srv, "GET", "/t/query", AD_ACCESS_READ, get_query, NULL);
    ad_server_route(srv, "GET", "/t/admin", AD_ACCESS_READ, get_admin, NULL);
    ad_server_route(srv, "GET", "/t/owner", AD_ACCESS_READ, get_owner, NULL);
    ad_server_route(srv, "GET", "/t/read/:rc", AD_ACCESS_READ, get_read, NULL);
    ad_server_route(srv, "GET", "/t/list", AD_ACCESS_READ, get_list, NULL);
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
        cmocka_unit_test(fields), cmocka_unit_test(query),       cmocka_unit_test(who_may),
        cmocka_unit_test(reads),  cmocka_unit_test(rows_by_org), cmocka_unit_test(jstr),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
