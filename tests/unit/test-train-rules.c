/* SPDX-License-Identifier: MIT */
/*
 * Training analytics' pure checks (src/train, issue #79's test for it):
 * what an alert rule may say and the defaults written into the stored
 * spec, a patch over a stored rule, where a webhook may go (public
 * addresses only unless --alert-webhook-allow lists the host, address or
 * block), and the MLflow surface's metric, batch and status shapes. The
 * engine (firings, imports, sweeps) is the e2e suite's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "train/train.h"

static json_t *J(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static int check(const char *in, const char *old, json_t **out, char *field)
{
    json_t *i = J(in), *o = old != NULL ? J(old) : NULL;
    char why[256] = "";
    field[0] = '\0';
    int rc = ad_train_rule_check(i, o, "", out, field, 96, why, sizeof(why));
    if (rc != 0) {
        assert_true(why[0] != '\0');
    }
    json_decref(i);
    json_decref(o);
    return rc;
}

static void rule_defaults(void **state)
{
    (void)state;
    char field[96];
    json_t *r = NULL;
    assert_int_equal(
        check("{\"name\":\"hi\",\"kind\":\"above\",\"series\":\"loss\",\"threshold\":5}", NULL, &r,
              field),
        0);
    assert_string_equal(json_string_value(json_object_get(r, "action")), "none");
    assert_int_equal(json_integer_value(json_object_get(r, "steps")), 1);
    assert_true(json_is_true(json_object_get(r, "enabled")));
    assert_true(json_is_true(json_object_get(json_object_get(r, "notify"), "desktop")));
    assert_false(ad_train_rule_webhook(r));
    json_decref(r);

    /* signal defaults to SIGUSR1 (a checkpoint) */
    assert_int_equal(check("{\"name\":\"n\",\"kind\":\"nan\",\"series\":\"loss\",\"action\":"
                           "\"signal\"}",
                           NULL, &r, field),
                     0);
    assert_string_equal(json_string_value(json_object_get(r, "signal")), "SIGUSR1");
    json_decref(r);

    assert_int_equal(check("{\"name\":\"s\",\"kind\":\"stale\",\"staleSeconds\":60,\"notify\":"
                           "{\"webhook\":\"https://hooks.example.com/x\",\"desktop\":false}}",
                           NULL, &r, field),
                     0);
    assert_true(ad_train_rule_webhook(r));
    assert_true(json_is_false(json_object_get(json_object_get(r, "notify"), "desktop")));
    json_decref(r);
}

static void rule_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *in, *field;
    } bad[] = {
        {"[]", "body"},
        {"{\"kind\":\"nan\",\"series\":\"x\"}", "name"},
        {"{\"name\":\"n\",\"kind\":\"sometimes\"}", "kind"},
        {"{\"name\":\"n\",\"kind\":\"nan\",\"series\":\"x\",\"colour\":1}", "colour"},
        {"{\"name\":\"n\",\"kind\":\"nan\"}", "series"},
        {"{\"name\":\"n\",\"kind\":\"above\",\"series\":\"x\"}", "threshold"},
        {"{\"name\":\"n\",\"kind\":\"nan\",\"series\":\"x\",\"threshold\":1}", "threshold"},
        {"{\"name\":\"n\",\"kind\":\"below\",\"series\":\"x\",\"threshold\":1,\"steps\":0}",
         "steps"},
        {"{\"name\":\"n\",\"kind\":\"stale\"}", "staleSeconds"},
        {"{\"name\":\"n\",\"kind\":\"stale\",\"staleSeconds\":604801}", "staleSeconds"},
        {"{\"name\":\"n\",\"kind\":\"gpuThrottle\",\"series\":\"x\"}", "series"},
        {"{\"name\":\"n\",\"kind\":\"nan\",\"series\":\"x\",\"agentId\":\"a\",\"runId\":\"r\"}",
         "runId"},
        {"{\"name\":\"n\",\"kind\":\"nan\",\"series\":\"x\",\"action\":\"explode\"}", "action"},
        {"{\"name\":\"n\",\"kind\":\"nan\",\"series\":\"x\",\"signal\":\"SIGUSR1\"}", "signal"},
        {"{\"name\":\"n\",\"kind\":\"nan\",\"series\":\"x\",\"action\":\"signal\",\"signal\":"
         "\"SIGKILL\"}",
         "signal"},
        {"{\"name\":\"n\",\"kind\":\"nan\",\"series\":\"x\",\"enabled\":1}", "enabled"},
        {"{\"name\":\"n\",\"kind\":\"nan\",\"series\":\"x\",\"notify\":{\"email\":\"a\"}}",
         "notify.email"},
        {"{\"name\":\"n\",\"kind\":\"nan\",\"series\":\"x\",\"notify\":{\"webhook\":"
         "\"http://127.0.0.1/x\"}}",
         "notify.webhook"},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        char field[96];
        json_t *r = NULL;
        if (check(bad[i].in, NULL, &r, field) != AD_EINVAL) {
            fail_msg("%s was not refused", bad[i].in);
        }
        if (strcmp(field, bad[i].field) != 0) {
            fail_msg("%s: refused on %s, not %s", bad[i].in, field, bad[i].field);
        }
    }
}

static void rule_patch(void **state)
{
    (void)state;
    char field[96];
    json_t *r = NULL;
    const char *old = "{\"id\":\"alr_1\",\"name\":\"n\",\"kind\":\"above\",\"series\":\"loss\","
                      "\"threshold\":5,\"steps\":3,\"action\":\"stop\",\"enabled\":true}";
    /* the patch's fields over the stored rule, checked whole */
    assert_int_equal(check("{\"threshold\":7}", old, &r, field), 0);
    assert_true(json_number_value(json_object_get(r, "threshold")) == 7);
    assert_int_equal(json_integer_value(json_object_get(r, "steps")), 3);
    assert_string_equal(json_string_value(json_object_get(r, "action")), "stop");
    assert_null(json_object_get(r, "id")); /* not a rule field: not carried over */
    json_decref(r);
    /* null: back to the default */
    assert_int_equal(check("{\"action\":null}", old, &r, field), 0);
    assert_string_equal(json_string_value(json_object_get(r, "action")), "none");
    json_decref(r);
    /* a kind that no longer fits the stored fields is refused */
    assert_int_equal(check("{\"kind\":\"stale\",\"staleSeconds\":5}", old, &r, field), AD_EINVAL);
    assert_string_equal(field, "threshold");
}

static int hook(const char *url, const char *allow)
{
    char pin[256], why[256] = "";
    int rc = ad_train_webhook_check(url, allow, false, pin, sizeof(pin), why, sizeof(why));
    if (rc != 0) {
        assert_true(why[0] != '\0');
    }
    return rc;
}

static void webhooks(void **state)
{
    (void)state;
    assert_int_equal(hook("https://hooks.example.com/a?b=c", ""), 0);
    assert_int_equal(hook("http://8.8.8.8:8080/x", ""), 0);
    assert_int_equal(hook("https://[2606:4700:4700::1111]/x", ""), 0);
    static const char *const refused[] = {
        "ftp://example.com/",
        "example.com/x",
        "https://user:pw@example.com/",
        "http://localhost:9000/",
        "http://127.0.0.1/",
        "http://10.1.2.3/",
        "http://172.16.0.9/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data", /* a cloud's metadata */
        "http://100.64.0.1/",                      /* CGNAT */
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/",
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(refused); i++) {
        if (hook(refused[i], "") != AD_EINVAL) {
            fail_msg("%s was not refused", refused[i]);
        }
    }
    /* the allow list: a host, an address or a block */
    assert_int_equal(hook("http://localhost:9000/", "localhost"), 0);
    assert_int_equal(hook("http://10.1.2.3/", "10.0.0.0/8"), 0);
    assert_int_equal(hook("http://10.1.2.3/", "10.1.2.3"), 0);
    assert_int_equal(hook("http://10.1.2.3/", "10.2.0.0/16"), AD_EINVAL);
    assert_int_equal(hook("http://192.168.1.1/", "example.com,192.168.0.0/16"), 0);
}

static void mlflow_shapes(void **state)
{
    (void)state;
    ad_mlflow_err_t e;
    json_t *pt = NULL;
    json_t *m = J("{\"key\":\"val/loss\",\"value\":0.5,\"timestamp\":1700000000000,\"step\":3}");
    assert_int_equal(ad_mlflow_metric(m, "metric", &pt, &e), 0);
    assert_string_equal(json_string_value(json_object_get(pt, "name")), "val/loss");
    assert_int_equal(json_integer_value(json_object_get(pt, "step")), 3);
    assert_int_equal(json_integer_value(json_object_get(pt, "ts")), 1700000000000LL);
    assert_true(json_real_value(json_object_get(pt, "value")) == 0.5);
    json_decref(pt);
    json_decref(m);
    m = J("{\"key\":\"loss\",\"value\":\"NaN\",\"timestamp\":1}");
    assert_int_equal(ad_mlflow_metric(m, "metric", &pt, &e), 0);
    assert_string_equal(json_string_value(json_object_get(pt, "value")), "NaN");
    assert_int_equal(json_integer_value(json_object_get(pt, "step")), 0);
    json_decref(pt);
    json_decref(m);
    m = J("{\"key\":\"loss\",\"value\":\"-Infinity\",\"timestamp\":1}");
    assert_int_equal(ad_mlflow_metric(m, "metric", &pt, &e), 0);
    assert_string_equal(json_string_value(json_object_get(pt, "value")), "-Infinity");
    json_decref(pt);
    json_decref(m);
    static const char *const bad[] = {
        "{\"value\":1,\"timestamp\":1}",
        "{\"key\":\"a;b\",\"value\":1,\"timestamp\":1}",
        "{\"key\":\"a\",\"timestamp\":1}",
        "{\"key\":\"a\",\"value\":1}",
        "{\"key\":\"a\",\"value\":1,\"timestamp\":1,\"step\":\"x\"}",
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        m = J(bad[i]);
        memset(&e, 0, sizeof(e));
        assert_int_equal(ad_mlflow_metric(m, "metric", &pt, &e), AD_EINVAL);
        assert_int_equal(e.status, 400);
        assert_string_equal(e.code, "INVALID_PARAMETER_VALUE");
        json_decref(m);
    }

    /* a batch: at most 1000 in all */
    json_t *points, *params, *tags;
    json_t *body = J("{\"metrics\":[{\"key\":\"a\",\"value\":1,\"timestamp\":1}],"
                     "\"params\":[{\"key\":\"lr\",\"value\":\"0.1\"}],\"tags\":[]}");
    assert_int_equal(ad_mlflow_batch(body, &points, &params, &tags, &e), 0);
    assert_int_equal(json_array_size(points), 1);
    assert_string_equal(json_string_value(json_object_get(params, "lr")), "0.1");
    json_decref(points);
    json_decref(params);
    json_decref(tags);
    json_decref(body);
    body = json_pack("{s:[]}", "metrics");
    for (int i = 0; i < 1001; i++) {
        json_array_append_new(json_object_get(body, "metrics"),
                              json_pack("{s:s, s:i, s:i}", "key", "a", "value", 1, "timestamp", 1));
    }
    assert_int_equal(ad_mlflow_batch(body, &points, &params, &tags, &e), AD_EINVAL);
    assert_int_equal(e.status, 400);
    json_decref(body);

    assert_string_equal(ad_mlflow_status_in("FINISHED"), "succeeded");
    assert_string_equal(ad_mlflow_status_in("KILLED"), "stopped");
    assert_string_equal(ad_mlflow_status_in("SCHEDULED"), "running");
    assert_null(ad_mlflow_status_in("finished"));
    assert_null(ad_mlflow_status_in(NULL));
    assert_int_equal(ad_train_import_kind("nonsense"), -1);
    assert_true(ad_train_import_kind("csv") >= 0);
    assert_true(ad_train_import_kind("tfevents") >= 0);
    assert_true(ad_train_import_kind("mlruns") >= 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_defaults), cmocka_unit_test(rule_refusals),
        cmocka_unit_test(rule_patch),    cmocka_unit_test(webhooks),
        cmocka_unit_test(mlflow_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
