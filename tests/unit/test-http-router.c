/* SPDX-License-Identifier: MIT */
/* Tests for the router: patterns, parameters, percent-decoding, query
 * strings, header token lists and the AD_E* -> status map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "http/http_int.h"

static int match(const char *pattern, const char *path, ad_kv_t *params, unsigned *np,
                 ad_arena_t *a)
{
    /* Parameter names point into the route: keep it until the next call. */
    static ad_route_t rt;
    ad_route_cleanup(&rt);
    memset(&rt, 0, sizeof(rt));
    assert_int_equal(ad_route_compile(&rt, "GET", pattern), 0);
    return ad_route_match(&rt, path, a, params, np);
}

static void routes_match_literals_and_params(void **state)
{
    AD_UNUSED(state);
    ad_arena_t a;
    ad_arena_init(&a, 1024, 1 << 20);
    ad_kv_t p[AD_ROUTE_MAX_PARAMS];
    unsigned np;
    assert_int_equal(match("/healthz", "/healthz", p, &np, &a), 1);
    assert_int_equal(np, 0);
    assert_int_equal(match("/healthz", "/healthz/x", p, &np, &a), 0);
    assert_int_equal(match("/healthz", "/health", p, &np, &a), 0);
    assert_int_equal(match("/", "/", p, &np, &a), 1);
    assert_int_equal(match("/", "/x", p, &np, &a), 0);
    assert_int_equal(match("/api/agents/:id/start", "/api/agents/ag_1/start", p, &np, &a), 1);
    assert_int_equal(np, 1);
    assert_string_equal(p[0].name, "id");
    assert_string_equal(p[0].value, "ag_1");
    assert_int_equal(match("/api/agents/:id/start", "/api/agents//start", p, &np, &a), 0);
    assert_int_equal(match("/api/agents/:id/start", "/api/agents/ag_1", p, &np, &a), 0);
    assert_int_equal(match("/api/agents/:id/start", "/api/agents/ag_1/stop", p, &np, &a), 0);
    assert_int_equal(match("/a/:x/b/:y", "/a/1/b/2", p, &np, &a), 1);
    assert_int_equal(np, 2);
    assert_string_equal(p[1].name, "y");
    assert_string_equal(p[1].value, "2");
    /* trailing slashes are distinct routes */
    assert_int_equal(match("/api/agents", "/api/agents/", p, &np, &a), 0);
    assert_int_equal(match("/api/agents/", "/api/agents/", p, &np, &a), 1);
    assert_int_equal(match("/x", "relative", p, &np, &a), 0);
    ad_route_t rt;
    memset(&rt, 0, sizeof(rt));
    assert_int_equal(ad_route_compile(&rt, "GET", "no-slash"), AD_EINVAL);
    assert_int_equal(ad_route_compile(&rt, "AVERYLONGMETHODNAME", "/x"), AD_EINVAL);
    assert_int_equal(ad_route_compile(&rt, "GET", "/:a/:b/:c/:d/:e/:f/:g/:h/:i"), AD_EINVAL);
    match("/", "/", p, &np, &a);
    ad_arena_cleanup(&a);
}

static void percent_decoding(void **state)
{
    AD_UNUSED(state);
    char out[64];
    assert_int_equal(ad_pct_decode("a%20b", 5, out, false), 3);
    assert_string_equal(out, "a b");
    assert_int_equal(ad_pct_decode("a+b", 3, out, false), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(ad_pct_decode("a+b", 3, out, true), 3);
    assert_string_equal(out, "a b");
    assert_int_equal(ad_pct_decode("%e2%82%AC", 9, out, false), 3);
    assert_string_equal(out, "\xe2\x82\xac");
    assert_int_equal(ad_pct_decode("%2", 2, out, false), -1);
    assert_int_equal(ad_pct_decode("%", 1, out, false), -1);
    assert_int_equal(ad_pct_decode("%zz", 3, out, false), -1);
    assert_int_equal(ad_pct_decode("%00", 3, out, false), -1);
    assert_int_equal(ad_pct_decode("", 0, out, false), 0);
    assert_string_equal(out, "");
}

static void query_strings(void **state)
{
    AD_UNUSED(state);
    ad_arena_t a;
    ad_arena_init(&a, 1024, 1 << 20);
    ad_kv_t *kv;
    int n =
        ad_query_parse("worktreeId=wt_1&status=running&x=a%26b&empty=&flag&&y=1+2", &a, &kv, 100);
    assert_int_equal(n, 6);
    assert_string_equal(kv[0].name, "worktreeId");
    assert_string_equal(kv[0].value, "wt_1");
    assert_string_equal(kv[2].value, "a&b");
    assert_string_equal(kv[3].name, "empty");
    assert_string_equal(kv[3].value, "");
    assert_string_equal(kv[4].name, "flag");
    assert_string_equal(kv[4].value, "");
    assert_string_equal(kv[5].value, "1 2");
    /* a pair with a bad escape is skipped, the rest survive */
    n = ad_query_parse("a=%zz&b=2", &a, &kv, 100);
    assert_int_equal(n, 1);
    assert_string_equal(kv[0].name, "b");
    /* the pair count is capped */
    n = ad_query_parse("a=1&b=2&c=3", &a, &kv, 2);
    assert_int_equal(n, 2);
    n = ad_query_parse("", &a, &kv, 100);
    assert_int_equal(n, 0);
    ad_arena_cleanup(&a);
}

static void header_tokens(void **state)
{
    AD_UNUSED(state);
    assert_true(ad_http_has_token("keep-alive, Upgrade", "upgrade"));
    assert_true(ad_http_has_token("websocket", "websocket"));
    assert_true(ad_http_has_token("gzip;q=1, br", "br"));
    assert_false(ad_http_has_token("upgrades", "upgrade"));
    assert_false(ad_http_has_token("", "upgrade"));
    assert_false(ad_http_has_token(NULL, "upgrade"));
}

static void error_codes_map_to_statuses(void **state)
{
    AD_UNUSED(state);
    const char *code;
    assert_int_equal(ad_http_status_of(AD_ENOENT, &code), 404);
    assert_string_equal(code, "NOT_FOUND");
    assert_int_equal(ad_http_status_of(AD_EEXIST, &code), 409);
    assert_int_equal(ad_http_status_of(AD_ESTATE, &code), 409);
    assert_int_equal(ad_http_status_of(AD_EINVAL, &code), 422);
    assert_string_equal(code, "VALIDATION_ERROR");
    assert_int_equal(ad_http_status_of(AD_ECONSTRAINT, &code), 422);
    assert_int_equal(ad_http_status_of(AD_ETOOBIG, &code), 413);
    assert_int_equal(ad_http_status_of(AD_EFULL, &code), 507);
    assert_int_equal(ad_http_status_of(AD_EBUSY, &code), 503);
    assert_int_equal(ad_http_status_of(AD_EAGAIN, &code), 503);
    assert_int_equal(ad_http_status_of(AD_EIO, &code), 500);
    assert_string_equal(code, "INTERNAL");
    assert_string_equal(ad_http_reason(431), "Request Header Fields Too Large");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_match_literals_and_params),
        cmocka_unit_test(percent_decoding),
        cmocka_unit_test(query_strings),
        cmocka_unit_test(header_tokens),
        cmocka_unit_test(error_codes_map_to_statuses),
    };
    return cmocka_run_group_tests_name("http-router", tests, NULL, NULL);
}
