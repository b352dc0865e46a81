/* SPDX-License-Identifier: MIT */
/*
 * Provider keys (src/creds, issue #79's test for it): which keys, URLs and
 * names may be stored, what a credential row shows (never the key), the
 * PUT body's checks, and the 0600 key file in its 0700 folder written,
 * read back by the next start and removed (AGENTD_CREDENTIALS=file: no
 * Secret Service).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds/creds.h"

static json_t *J(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static void what_may_be_stored(void **state)
{
    (void)state;
    char big[AD_CREDS_KEY_MAX + 2];
    memset(big, 'k', sizeof(big));
    big[AD_CREDS_KEY_MAX] = '\0';
    assert_true(ad_creds_key_ok("sk-ant-12"));
    assert_true(ad_creds_key_ok("12345678"));
    assert_true(ad_creds_key_ok(big));
    big[AD_CREDS_KEY_MAX] = 'k';
    big[AD_CREDS_KEY_MAX + 1] = '\0';
    assert_false(ad_creds_key_ok(big)); /* 513 */
    assert_false(ad_creds_key_ok("1234567"));
    assert_false(ad_creds_key_ok("sk-ant 12345"));    /* a space */
    assert_false(ad_creds_key_ok("sk-ant-1234\r\n")); /* it goes in a header */
    assert_false(ad_creds_key_ok("sk-ant-\x7f"
                                 "1234"));

    assert_true(ad_creds_url_ok("https://proxy.example/v1"));
    assert_true(ad_creds_url_ok("http://127.0.0.1:8080"));
    assert_false(ad_creds_url_ok("ftp://x"));
    assert_false(ad_creds_url_ok("proxy.example"));
    assert_false(ad_creds_url_ok("https://x\r\nHost: y"));
    assert_false(ad_creds_url_ok("https://x y"));

    assert_true(ad_creds_name_ok("org_1-A"));
    assert_false(ad_creds_name_ok(""));
    assert_false(ad_creds_name_ok(NULL));
    assert_false(ad_creds_name_ok("a.b")); /* <org>.<provider>.key */
    assert_false(ad_creds_name_ok("../x"));
    char long_name[AD_ID_MAX + 1];
    memset(long_name, 'a', AD_ID_MAX);
    long_name[AD_ID_MAX] = '\0';
    assert_false(ad_creds_name_ok(long_name));
    long_name[AD_ID_MAX - 1] = '\0';
    assert_true(ad_creds_name_ok(long_name));

    assert_true(ad_creds_provider_known("gitea"));
    assert_true(ad_creds_provider_known("openai"));
    assert_false(ad_creds_provider_known("gemini"));
    assert_false(ad_creds_provider_known(NULL));
    assert_true(ad_creds_model_provider("anthropic"));
    assert_false(ad_creds_model_provider("github")); /* a forge token signs no model in */
}

static void what_a_row_shows(void **state)
{
    (void)state;
    char mask[64];
    ad_creds_mask("abcd", mask, sizeof(mask));
    assert_string_equal(mask, "\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2"
                              "abcd");
    ad_creds_mask(NULL, mask, sizeof(mask));
    assert_string_equal(mask, "\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2\xe2\x80\xa2");

    json_t *row = J("{\"orgId\":\"o\",\"provider\":\"openai\",\"last4\":\"wxyz\"}");
    ad_creds_view(NULL, row);
    assert_null(json_object_get(row, "last4"));
    assert_string_equal(json_string_value(json_object_get(row, "storage")), "none");
    assert_non_null(strstr(json_string_value(json_object_get(row, "masked")), "wxyz"));
    assert_true(json_is_true(json_object_get(row, "configured")));
    json_decref(row);

    /* only the model providers count for the status */
    json_t *rows = J("[{\"orgId\":\"o\",\"provider\":\"github\",\"last4\":\"gggg\"},"
                     "{\"orgId\":\"o\",\"provider\":\"anthropic\",\"last4\":\"aaaa\"}]");
    json_t *st = ad_creds_status(NULL, "o", rows);
    assert_true(json_is_true(json_object_get(st, "authenticated")));
    json_t *providers = json_object_get(st, "providers");
    assert_int_equal(json_object_size(providers), 1);
    assert_non_null(json_object_get(providers, "anthropic"));
    json_decref(st);
    json_decref(rows);
    rows = J("[{\"orgId\":\"o\",\"provider\":\"gitlab\",\"last4\":\"gggg\"}]");
    st = ad_creds_status(NULL, "o", rows);
    assert_true(json_is_false(json_object_get(st, "authenticated")));
    json_decref(st);
    json_decref(rows);

    json_t *verdict = J("{\"provider\":\"openai\",\"valid\":false,\"reason\":\"401\"}");
    json_t *args = ad_creds_status_args(verdict, "o", 42);
    assert_string_equal(json_string_value(json_object_get(args, "status")), "invalid");
    assert_string_equal(json_string_value(json_object_get(args, "reason")), "401");
    assert_int_equal(json_integer_value(json_object_get(args, "now")), 42);
    json_decref(args);
    json_decref(verdict);
    verdict = J("{\"provider\":\"openai\",\"valid\":true}");
    args = ad_creds_status_args(verdict, "o", 42);
    assert_string_equal(json_string_value(json_object_get(args, "status")), "valid");
    assert_true(json_is_null(json_object_get(args, "reason"))); /* no reason: null */
    json_decref(args);
    json_decref(verdict);
}

static void put_body(void **state)
{
    (void)state;
    ad_field_err_t e = {0};
    json_t *args = NULL;
    const char *key = NULL;
    json_t *body = J("{\"apiKey\":\"sk-test-0123456789\",\"email\":\"a@b\","
                     "\"baseUrl\":\"https://proxy.example\"}");
    assert_int_equal(ad_creds_put_args(body, "anthropic", "o", &args, &key, &e), 0);
    assert_string_equal(key, "sk-test-0123456789");
    assert_string_equal(json_string_value(json_object_get(args, "last4")), "6789");
    assert_string_equal(json_string_value(json_object_get(args, "baseUrl")),
                        "https://proxy.example");
    assert_true(json_is_true(json_object_get(args, "setBaseUrl")));
    char *text = json_dumps(args, 0);
    assert_null(strstr(text, "sk-test")); /* never the key */
    free(text);
    json_decref(args);
    json_decref(body);

    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{}", "apiKey"},
        {"{\"apiKey\":\"short\"}", "apiKey"},
        {"{\"apiKey\":\"has a space in it\"}", "apiKey"},
        {"{\"apiKey\":\"sk-test-0123456789\",\"baseUrl\":\"file:///etc\"}", "baseUrl"},
        {"{\"apiKey\":\"sk-test-0123456789\",\"email\":5}", "email"},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        body = J(bad[i].body);
        memset(&e, 0, sizeof(e));
        assert_int_equal(ad_creds_put_args(body, "anthropic", "o", &args, &key, &e), AD_EINVAL);
        assert_string_equal(e.field, bad[i].field);
        json_decref(body);
    }
}

/* ---- the key file ---------------------------------------------------------------- */

static uv_loop_t loop;

typedef struct {
    int calls, rc;
} done_t;

static void on_done(int rc, void *ud)
{
    done_t *d = ud;
    d->calls++;
    d->rc = rc;
}

static void wait_done(done_t *d)
{
    while (d->calls == 0) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    assert_int_equal(d->calls, 1);
}

static void key_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/agentd-creds-XXXXXX";
    assert_non_null(mkdtemp(dir));
    setenv("AGENTD_CREDENTIALS", "file", 1);
    assert_int_equal(uv_loop_init(&loop), 0);
    ad_loop_thread_set();

    ad_creds_t *c = ad_creds_new(&loop, NULL, dir);
    assert_null(ad_creds_key(c, "o1", "anthropic"));
    assert_string_equal(ad_creds_storage(c, "o1", "anthropic"), "none");
    done_t d = {0};
    assert_int_equal(ad_creds_set(c, "o1", "anthropic", "sk-secret-0001", on_done, &d), 0);
    wait_done(&d);
    assert_int_equal(d.rc, 0);
    assert_string_equal(ad_creds_key(c, "o1", "anthropic"), "sk-secret-0001");
    assert_string_equal(ad_creds_storage(c, "o1", "anthropic"), "file");
    assert_null(ad_creds_key(c, "o2", "anthropic")); /* another org's is not it */
    assert_null(ad_creds_agent_key(c, "o1", "github"));
    assert_string_equal(ad_creds_agent_key(c, "o1", "anthropic"), "sk-secret-0001");

    char path[512];
    struct stat sb;
    snprintf(path, sizeof(path), "%s/credentials", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    snprintf(path, sizeof(path), "%s/credentials/o1.anthropic.key", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* a bad name is refused before anything is written */
    assert_int_equal(ad_creds_set(c, "../o", "anthropic", "sk-secret-0001", on_done, &d),
                     AD_EINVAL);
    assert_int_equal(ad_creds_set(c, "o1", "a.b", "sk-secret-0001", on_done, &d), AD_EINVAL);
    ad_creds_free(c);

    /* the next start reads it back */
    c = ad_creds_new(&loop, NULL, dir);
    assert_string_equal(ad_creds_key(c, "o1", "anthropic"), "sk-secret-0001");
    d = (done_t){0};
    assert_int_equal(ad_creds_set(c, "o1", "anthropic", NULL, on_done, &d), 0);
    wait_done(&d);
    assert_int_equal(d.rc, 0);
    assert_null(ad_creds_key(c, "o1", "anthropic"));
    assert_int_equal(access(path, F_OK), -1);
    ad_creds_free(c);

    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    assert_int_equal(system(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(what_may_be_stored),
        cmocka_unit_test(what_a_row_shows),
        cmocka_unit_test(put_body),
        cmocka_unit_test(key_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
