/* SPDX-License-Identifier: MIT */
/* Tests for src/push's pure parts (issue #76): base64url, the VAPID key
 * file (made 0600, read back the same, refused when others can read it),
 * the action tokens (bound to their approval and subscription, refused
 * altered or expired), what a subscription may be, and the lock screen's
 * text (control characters, secrets, length). The encryption and the
 * VAPID header are checked end to end against an independent decryption
 * in tests/e2e/push.test.js. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "push/push.h"

static void b64url_round_trip(void **state)
{
    AD_UNUSED(state);
    uint8_t in[65], out[80];
    char text[100];
    for (size_t i = 0; i < sizeof(in); i++) {
        in[i] = (uint8_t)(i * 37 + 250);
    }
    for (size_t n = 1; n <= sizeof(in); n++) {
        size_t len = ad_push_b64url(in, n, text, sizeof(text));
        assert_true(len > 0);
        assert_null(strpbrk(text, "+/="));
        assert_int_equal(ad_push_b64url_decode(text, out, sizeof(out)), (int)n);
        assert_memory_equal(in, out, n);
    }
    assert_int_equal(ad_push_b64url_decode("ab+d", out, sizeof(out)), AD_EINVAL);
    assert_int_equal(ad_push_b64url_decode("a", out, sizeof(out)), AD_EINVAL);
    assert_int_equal(ad_push_b64url_decode("", out, sizeof(out)), AD_EINVAL);
}

static void key_file_made_once_and_kept_private(void **state)
{
    AD_UNUSED(state);
    char dir[] = "/tmp/agentd-push-XXXXXX", path[200], err[300];
    assert_non_null(mkdtemp(dir));
    ad_push_key_t a, b;
    assert_int_equal(ad_push_key_load(dir, &a, err, sizeof(err)), 0);
    snprintf(path, sizeof(path), "%s/push-vapid.key", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(a.pub[0], 0x04);
    assert_int_equal(strlen(a.pub_b64), 87);
    assert_int_equal(ad_push_key_load(dir, &b, err, sizeof(err)), 0);
    assert_memory_equal(&a, &b, sizeof(a));
    chmod(path, 0644);
    assert_int_equal(ad_push_key_load(dir, &b, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "readable by others"));
    unlink(path);
    rmdir(dir);
}

static void action_tokens_decide_one_approval_until_they_expire(void **state)
{
    AD_UNUSED(state);
    ad_push_key_t k, other;
    memset(&k, 0, sizeof(k));
    memset(&other, 0, sizeof(other));
    memset(k.action_key, 7, sizeof(k.action_key));
    memset(other.action_key, 8, sizeof(other.action_key));
    char tok[AD_PUSH_TOKEN_MAX], ap[AD_ID_MAX], sub[AD_ID_MAX], bad[AD_PUSH_TOKEN_MAX + 8];
    ad_push_action_token(&k, "ap_1", "psub_2", 5000, tok);
    assert_int_equal(ad_push_action_check(&k, tok, 4999, ap, sub), 0);
    assert_string_equal(ap, "ap_1");
    assert_string_equal(sub, "psub_2");
    assert_int_equal(ad_push_action_check(&k, tok, 5000, ap, sub), AD_EPERM); /* expired */
    assert_int_equal(ad_push_action_check(&other, tok, 1, ap, sub), AD_EPERM);
    /* another approval, subscription or expiry with the same MAC */
    const char *mac = strrchr(tok, '.');
    snprintf(bad, sizeof(bad), "ap_3.psub_2.5000%s", mac);
    assert_int_equal(ad_push_action_check(&k, bad, 1, ap, sub), AD_EPERM);
    snprintf(bad, sizeof(bad), "ap_1.psub_3.5000%s", mac);
    assert_int_equal(ad_push_action_check(&k, bad, 1, ap, sub), AD_EPERM);
    snprintf(bad, sizeof(bad), "ap_1.psub_2.9999%s", mac);
    assert_int_equal(ad_push_action_check(&k, bad, 1, ap, sub), AD_EPERM);
    snprintf(bad, sizeof(bad), "%s", tok);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == 'A' ? 'B' : 'A';
    assert_int_equal(ad_push_action_check(&k, bad, 1, ap, sub), AD_EPERM);
    snprintf(bad, sizeof(bad), "%s.x", tok);
    assert_int_equal(ad_push_action_check(&k, bad, 1, ap, sub), AD_EPERM);
    assert_int_equal(ad_push_action_check(&k, "", 1, ap, sub), AD_EPERM);
    assert_int_equal(ad_push_action_check(&k, NULL, 1, ap, sub), AD_EPERM);
}

static int check(const char *json, bool loopback, char *field)
{
    json_t *body = json_loads(json, 0, NULL);
    const char *e = NULL, *p = NULL, *a = NULL;
    ad_field_err_t fe = {0};
    int rc = ad_push_sub_check(body, loopback, &e, &p, &a, &fe);
    snprintf(field, 96, "%s", rc == 0 ? "" : fe.field);
    json_decref(body);
    return rc;
}

#define P256DH                                                                                     \
    "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM"
#define AUTH "tBHItJI5svbpez7KI4CCXg"

static void subscriptions_are_checked(void **state)
{
    AD_UNUSED(state);
    char f[96];
    const char *keys = "\"keys\":{\"p256dh\":\"" P256DH "\",\"auth\":\"" AUTH "\"}";
    char j[600];
#define TRY(ep, lb) (snprintf(j, sizeof(j), "{\"endpoint\":\"%s\",%s}", ep, keys), check(j, lb, f))
    assert_int_equal(TRY("https://push.example.net/send/abc", false), 0);
    assert_int_equal(TRY("http://push.example.net/send/abc", false), AD_EINVAL);
    assert_string_equal(f, "endpoint");
    assert_int_equal(TRY("http://127.0.0.1:8080/push/a", false), AD_EINVAL);
    assert_int_equal(TRY("http://127.0.0.1:8080/push/a", true), 0);
    assert_int_equal(TRY("http://127.0.0.10/push/a", true), AD_EINVAL);
    assert_int_equal(TRY("https://10.1.2.3/push", false), AD_EINVAL);
    assert_int_equal(TRY("https://[::1]/push", false), AD_EINVAL);
    assert_int_equal(TRY("https://localhost/push", false), AD_EINVAL);
    assert_int_equal(TRY("https://u@push.example.net/x", false), AD_EINVAL);
    assert_int_equal(TRY("https://push.example.net", false), AD_EINVAL);
    assert_int_equal(check("{\"endpoint\":\"https://push.example.net/x\"}", false, f), AD_EINVAL);
    assert_string_equal(f, "keys");
    assert_int_equal(check("{\"endpoint\":\"https://push.example.net/x\",\"keys\":{\"p256dh\":"
                           "\"AAAA\",\"auth\":\"" AUTH "\"}}",
                           false, f),
                     AD_EINVAL);
    assert_string_equal(f, "keys.p256dh");
    assert_int_equal(check("{\"endpoint\":\"https://push.example.net/x\",\"keys\":{\"p256dh\":"
                           "\"" P256DH "\",\"auth\":\"AAAA\"}}",
                           false, f),
                     AD_EINVAL);
    assert_string_equal(f, "keys.auth");
#undef TRY
}

static void lock_screen_text_is_safe_and_short(void **state)
{
    AD_UNUSED(state);
    char out[200];
    ad_push_scrub("Write out.txt", 100, out, sizeof(out));
    assert_string_equal(out, "Write out.txt");
    ad_push_scrub("run\nwith\ttabs", 100, out, sizeof(out));
    assert_string_equal(out, "run with tabs");
    ad_push_scrub("deploy with GITHUB_TOKEN=ghp_abc and password=hunter2", 100, out, sizeof(out));
    assert_string_equal(out, "deploy with GITHUB_TOKEN=*** and password=***");
    ad_push_scrub("curl -H sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123 x", 100, out, sizeof(out));
    assert_string_equal(out, "curl -H *** x");
    ad_push_scrub("set X=aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8", 100, out, sizeof(out));
    assert_string_equal(out, "set X=***");
    ad_push_scrub("a long description that goes on and on", 10, out, sizeof(out));
    assert_string_equal(out, "a long des\xE2\x80\xA6");
    ad_push_scrub("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 3, out, sizeof(out)); /* not mid-character */
    assert_string_equal(out, "\xC3\xA9\xE2\x80\xA6");
    ad_push_scrub(NULL, 10, out, sizeof(out));
    assert_string_equal(out, "");
}

static void origin_of_endpoints(void **state)
{
    AD_UNUSED(state);
    char o[100];
    assert_int_equal(ad_push_origin("https://fcm.example.com/fcm/send/x", o, sizeof(o)), 0);
    assert_string_equal(o, "https://fcm.example.com");
    assert_int_equal(ad_push_origin("http://127.0.0.1:4000/push/a", o, sizeof(o)), 0);
    assert_string_equal(o, "http://127.0.0.1:4000");
    assert_int_equal(ad_push_origin("ftp://x/y", o, sizeof(o)), AD_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(b64url_round_trip),
        cmocka_unit_test(key_file_made_once_and_kept_private),
        cmocka_unit_test(action_tokens_decide_one_approval_until_they_expire),
        cmocka_unit_test(subscriptions_are_checked),
        cmocka_unit_test(lock_screen_text_is_safe_and_short),
        cmocka_unit_test(origin_of_endpoints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
