/* SPDX-License-Identifier: MIT */
/* Tests for what a request or a terminal sent on to another control plane
 * carries (src/cluster/forward.c, issue #77): the dashboard session goes
 * under the cookie name the owner computes from the Host its client
 * writes (src/ws's client names the port always, libcurl leaves the
 * scheme's own out), a value that could smuggle another cookie or header
 * is refused, and only an http(s) URL with a host and no userinfo may
 * carry a credential. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "cluster/cluster.h"

static void cookie_named_as_the_owner_reads_it(void **state)
{
    AD_UNUSED(state);
    char out[300];
    assert_int_equal(
        ad_planes_session_cookie("http://10.0.0.2:8080", false, "abc", out, sizeof(out)), 0);
    assert_string_equal(out, "agentd_session_8080=abc");
    assert_int_equal(
        ad_planes_session_cookie("http://10.0.0.2:8080/", true, "abc", out, sizeof(out)), 0);
    assert_string_equal(out, "agentd_session_8080=abc");
    /* the scheme's own port: libcurl's Host leaves it out, the ws client's names it */
    assert_int_equal(
        ad_planes_session_cookie("https://plane.example", false, "v", out, sizeof(out)), 0);
    assert_string_equal(out, "agentd_session=v");
    assert_int_equal(ad_planes_session_cookie("https://plane.example", true, "v", out, sizeof(out)),
                     0);
    assert_string_equal(out, "agentd_session_443=v");
    assert_int_equal(
        ad_planes_session_cookie("http://plane.example:80", false, "v", out, sizeof(out)), 0);
    assert_string_equal(out, "agentd_session=v");
    /* nothing that would add a cookie or a header, no URL it cannot use */
    assert_int_equal(ad_planes_session_cookie("http://p:1", false, "a; b=c", out, sizeof(out)),
                     AD_EINVAL);
    assert_int_equal(ad_planes_session_cookie("http://p:1", false, "a\r\nX: y", out, sizeof(out)),
                     AD_EINVAL);
    assert_int_equal(ad_planes_session_cookie("http://p:1", false, "", out, sizeof(out)),
                     AD_EINVAL);
    assert_int_equal(ad_planes_session_cookie("ftp://p:1", false, "a", out, sizeof(out)),
                     AD_EINVAL);
    char tiny[8];
    assert_int_equal(ad_planes_session_cookie("http://p:1", false, "a", tiny, sizeof(tiny)),
                     AD_ETOOBIG);
}

static void only_plain_plane_urls_carry_a_credential(void **state)
{
    AD_UNUSED(state);
    assert_true(ad_planes_url_ok("http://127.0.0.1:8080"));
    assert_true(ad_planes_url_ok("https://plane.example/base"));
    assert_false(ad_planes_url_ok("http://user:pw@plane.example"));
    assert_false(ad_planes_url_ok("ws://plane.example"));
    assert_false(ad_planes_url_ok("http://"));
    assert_false(ad_planes_url_ok("http:///path"));
    assert_false(ad_planes_url_ok("http://plane.example/a b"));
    assert_false(ad_planes_url_ok(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cookie_named_as_the_owner_reads_it),
        cmocka_unit_test(only_plain_plane_urls_carry_a_credential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
