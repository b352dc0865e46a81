/* SPDX-License-Identifier: MIT */
/* Tests for src/forge/resolve.c: which forge and API base a git remote URL
 * maps to. The token goes only to a built-in API base or one an admin set
 * in forge_hosts: a look-alike host, a prefix that only starts the same, a
 * user info part or a path that climbs never picks another. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "forge/forge.h"

static int resolve(const char *url, json_t *hosts, ad_forge_target_t *t)
{
    char why[300];
    return ad_forge_resolve(url, hosts, t, why, sizeof(why));
}

static void built_in_hosts(void **state)
{
    AD_UNUSED(state);
    ad_forge_target_t t;
    const char *gh[] = {"https://github.com/acme/widgets.git", "git@github.com:acme/widgets.git",
                        "ssh://git@github.com/acme/widgets",
                        "https://x:tok@github.com/acme/widgets/"};
    for (size_t i = 0; i < AD_ARRAY_LEN(gh); i++) {
        assert_int_equal(resolve(gh[i], NULL, &t), 0);
        assert_int_equal(t.kind, AD_FORGE_GITHUB);
        assert_string_equal(t.api_base, "https://api.github.com");
        assert_string_equal(t.owner, "acme");
        assert_string_equal(t.repo, "widgets");
    }
    assert_int_equal(resolve("https://gitlab.com/group/sub/proj.git", NULL, &t), 0);
    assert_int_equal(t.kind, AD_FORGE_GITLAB);
    assert_string_equal(t.api_base, "https://gitlab.com/api/v4");
    assert_string_equal(t.owner, "group/sub");
    assert_string_equal(t.repo, "proj");
}

static void look_alikes_map_to_nothing(void **state)
{
    AD_UNUSED(state);
    ad_forge_target_t t;
    const char *bad[] = {"https://github.com.evil.example/acme/widgets",
                         "https://evil.example/github.com/acme/widgets",
                         "https://github.com@evil.example/acme/widgets",
                         "/srv/git/acme/widgets.git",
                         "file:///srv/github.com/acme/w.git",
                         ""};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        assert_int_equal(resolve(bad[i], NULL, &t), AD_ENOENT);
    }
    /* Owner and repository are plain names: no climbing, no query. */
    assert_int_equal(resolve("https://github.com/../widgets", NULL, &t), AD_EINVAL);
    assert_int_equal(resolve("https://github.com/acme/w?x=1", NULL, &t), AD_EINVAL);
    assert_int_equal(resolve("https://github.com/a/b/c", NULL, &t), AD_EINVAL);
    assert_int_equal(resolve("https://github.com/acme", NULL, &t), AD_EINVAL);
    /* A path too long to hold is refused, not cut: cut after its slashes,
     * this one read as acme/widgets. */
    char url[1000];
    int n = snprintf(url, sizeof(url), "https://github.com/acme/widgets");
    memset(url + n, '/', 700);
    snprintf(url + n + 700, sizeof(url) - (size_t)n - 700, "evil");
    assert_int_equal(resolve(url, NULL, &t), AD_EINVAL);
}

static void admin_prefixes(void **state)
{
    AD_UNUSED(state);
    ad_forge_target_t t;
    json_t *hosts = json_pack("{s:{s:s, s:s}, s:{s:s, s:s}}", "https://git.example.com/", "kind",
                              "gitea", "apiBase", "https://git.example.com/api/v1/", "/srv/forge/",
                              "kind", "github", "apiBase", "http://127.0.0.1:9/");
    const char *why = NULL;
    assert_int_equal(ad_forge_hosts_validate(hosts, &why), 0);
    assert_int_equal(resolve("https://bot:secret@git.example.com/team/app.git", hosts, &t), 0);
    assert_int_equal(t.kind, AD_FORGE_GITEA);
    assert_string_equal(t.api_base, "https://git.example.com/api/v1");
    assert_string_equal(t.owner, "team");
    assert_string_equal(t.repo, "app");
    assert_int_equal(resolve("/srv/forge/acme/widgets.git", hosts, &t), 0);
    assert_string_equal(t.api_base, "http://127.0.0.1:9");
    /* A prefix only matches whole: a longer host or another folder is not it. */
    assert_int_equal(resolve("https://git.example.com.evil.example/team/app", hosts, &t),
                     AD_ENOENT);
    assert_int_equal(resolve("/srv/forge2/acme/widgets.git", hosts, &t), AD_ENOENT);
    assert_int_equal(resolve("/srv/forge/../x/acme/w.git", hosts, &t), AD_EINVAL);
    json_decref(hosts);

    const char *bad[] = {"{\"https://h\": {\"kind\": \"github\", \"apiBase\": \"https://h/api\"}}",
                         "{\"https://u@h/\": {\"kind\": \"github\", \"apiBase\": \"https://h/\"}}",
                         "{\"https://h/\": {\"kind\": \"svn\", \"apiBase\": \"https://h/\"}}",
                         "{\"https://h/\": {\"kind\": \"gitea\", \"apiBase\": \"file:///etc\"}}",
                         "{\"https://h/\": {\"kind\": \"gitea\", \"apiBase\": \"https://a@h/\"}}",
                         "[]"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        json_t *h = json_loads(bad[i], 0, NULL);
        why = NULL;
        assert_int_equal(ad_forge_hosts_validate(h, &why), AD_EINVAL);
        assert_non_null(why);
        json_decref(h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(built_in_hosts),
        cmocka_unit_test(look_alikes_map_to_nothing),
        cmocka_unit_test(admin_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
