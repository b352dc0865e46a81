/* SPDX-License-Identifier: MIT */
/* Tests for src/routine's pure parts (issue #75): cron expressions; the
 * system's TZif files read by hand (never setenv("TZ")) and the next fire
 * of a cron in a zone across Europe/Paris's changes of the clocks (spring
 * forward: the skipped hour's fire at the change, once; fall back: a named
 * hour once, every hour in both passes); "every" periods; a routine's body;
 * a webhook's signature (GitHub's example) and its events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "routine/routine.h"

#define PARIS "Europe/Paris"

/* UTC seconds of a civil UTC time. */
static int64_t utc(int64_t y, int m, int d, int h, int min)
{
    return ad_tz_days_from_civil(y, m, d) * 86400 + h * 3600 + min * 60;
}

static int64_t next_in(const char *expr, const char *zone, int64_t after)
{
    ad_cron_t c;
    char why[160];
    ad_tz_t *z = NULL;
    assert_int_equal(ad_cron_parse(expr, &c, why, sizeof(why)), 0);
    assert_int_equal(ad_tz_load(NULL, zone, &z), 0);
    int64_t n = ad_cron_next(&c, z, after);
    ad_tz_free(z);
    return n;
}

static void cron_fields_parse_and_refuse(void **state)
{
    (void)state;
    ad_cron_t c;
    char why[160];
    assert_int_equal(ad_cron_parse("0 3 * * 1-5", &c, why, sizeof(why)), 0);
    assert_int_equal(c.minute, 1);
    assert_int_equal(c.hour, 1u << 3);
    assert_int_equal(c.dow, 0x3e);
    assert_true(c.dom_star);
    assert_int_equal(ad_cron_parse("*/15 9-17 1,15 jan-mar sun,7", &c, why, sizeof(why)), 0);
    assert_int_equal(c.minute, (1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45));
    assert_int_equal(c.month, (1u << 1) | (1u << 2) | (1u << 3));
    assert_int_equal(c.dow, 1); /* 7 is Sunday too */
    assert_int_equal(ad_cron_parse("5/20 * * * *", &c, why, sizeof(why)), 0);
    assert_int_equal(c.minute, (1ULL << 5) | (1ULL << 25) | (1ULL << 45));
    static const char *const bad[] = {
        "",           "* * * *",   "* * * * * *", "60 * * * *",  "* 24 * * *", "* * 0 * *",
        "* * * 13 *", "* * * * 8", "5-1 * * * *", "*/0 * * * *", "a * * * *",  "1,,2 * * * *"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ad_cron_parse(bad[i], &c, why, sizeof(why)), AD_EINVAL);
        assert_true(why[0] != '\0');
    }
}

static void paris_offsets_from_its_tzif_file(void **state)
{
    (void)state;
    ad_tz_t *z = NULL;
    assert_int_equal(ad_tz_load(NULL, PARIS, &z), 0);
    assert_int_equal(ad_tz_offset(z, utc(2026, 1, 15, 12, 0)), 3600);
    assert_int_equal(ad_tz_offset(z, utc(2026, 7, 15, 12, 0)), 7200);
    /* 2026: forward on March 29 at 01:00 UTC, back on October 25 at 01:00 UTC */
    assert_int_equal(ad_tz_offset(z, utc(2026, 3, 29, 0, 59)), 3600);
    assert_int_equal(ad_tz_offset(z, utc(2026, 3, 29, 1, 0)), 7200);
    assert_int_equal(ad_tz_next_transition(z, utc(2026, 3, 1, 0, 0)), utc(2026, 3, 29, 1, 0));
    assert_int_equal(ad_tz_offset(z, utc(2026, 10, 25, 0, 59)), 7200);
    assert_int_equal(ad_tz_offset(z, utc(2026, 10, 25, 1, 0)), 3600);
    /* far past the file's last transition: the footer's rule (2099: March 29) */
    assert_int_equal(ad_tz_offset(z, utc(2099, 3, 29, 0, 59)), 3600);
    assert_int_equal(ad_tz_offset(z, utc(2099, 3, 29, 1, 0)), 7200);
    ad_tz_free(z);
    /* names that are not zones, or not files */
    assert_int_equal(ad_tz_load(NULL, "../../etc/passwd", &z), AD_EINVAL);
    assert_int_equal(ad_tz_load(NULL, "/etc/localtime", &z), AD_EINVAL);
    assert_int_equal(ad_tz_load(NULL, "Mars/Olympus", &z), AD_ENOENT);
    assert_int_equal(ad_tz_parse((const uint8_t *)"TZif2 not really", 16, &z), AD_EINVAL);
    assert_int_equal(ad_tz_load(NULL, "UTC", &z), 0);
    assert_int_equal(ad_tz_offset(z, utc(2026, 7, 1, 0, 0)), 0);
    ad_tz_free(z);
}

static void weekdays_at_three_across_spring_forward(void **state)
{
    (void)state;
    /* Friday March 27 03:00 CET (02:00 UTC) fired: next is Monday the 30th,
     * 03:00 CEST, which is 01:00 UTC (an hour earlier in UTC than before) */
    int64_t fri = utc(2026, 3, 27, 2, 0);
    assert_int_equal(next_in("0 3 * * 1-5", PARIS, fri - 60), fri);
    assert_int_equal(next_in("0 3 * * 1-5", PARIS, fri), utc(2026, 3, 30, 1, 0));
    /* and across fall-back: Friday Oct 23 03:00 CEST (01:00 UTC) -> Monday
     * Oct 26 03:00 CET (02:00 UTC) */
    assert_int_equal(next_in("0 3 * * 1-5", PARIS, utc(2026, 10, 23, 1, 0)),
                     utc(2026, 10, 26, 2, 0));
}

static void a_skipped_local_time_fires_at_the_change_once(void **state)
{
    (void)state;
    /* 02:30 does not exist in Paris on March 29 2026: it fires at the
     * change (03:00 CEST, 01:00 UTC), then on the 30th at 02:30 CEST */
    int64_t change = utc(2026, 3, 29, 1, 0);
    assert_int_equal(next_in("30 2 * * *", PARIS, utc(2026, 3, 28, 1, 30)), change);
    assert_int_equal(next_in("30 2 * * *", PARIS, change), utc(2026, 3, 30, 0, 30));
    /* every minute of the skipped hour: one fire at the change (after
     * 01:58 CET), then the next day's 02:00 CEST */
    assert_int_equal(next_in("* 2 * * *", PARIS, utc(2026, 3, 29, 0, 58)), change);
    assert_int_equal(next_in("* 2 * * *", PARIS, change), utc(2026, 3, 30, 0, 0));
}

static void a_repeated_hour_fires_a_named_hour_once_and_every_hour_twice(void **state)
{
    (void)state;
    /* October 25 2026: 02:00-02:59 happens at 00:00-00:59 UTC (CEST) and
     * again at 01:00-01:59 UTC (CET). "30 2": the first time only. */
    int64_t first = utc(2026, 10, 25, 0, 30);
    assert_int_equal(next_in("30 2 * * *", PARIS, utc(2026, 10, 24, 12, 0)), first);
    assert_int_equal(next_in("30 2 * * *", PARIS, first), utc(2026, 10, 26, 1, 30));
    /* every half hour, every hour: both passes */
    assert_int_equal(next_in("*/30 * * * *", PARIS, first), utc(2026, 10, 25, 1, 0));
    assert_int_equal(next_in("*/30 * * * *", PARIS, utc(2026, 10, 25, 1, 0)),
                     utc(2026, 10, 25, 1, 30));
    assert_int_equal(next_in("*/30 * * * *", PARIS, utc(2026, 10, 25, 1, 30)),
                     utc(2026, 10, 25, 2, 0));
}

static void day_fields_and_the_horizon(void **state)
{
    (void)state;
    /* dom and dow both restricted: either (the 13th, or a Friday) */
    assert_int_equal(next_in("0 0 13 * 5", "UTC", utc(2026, 11, 1, 0, 0)), utc(2026, 11, 6, 0, 0));
    assert_int_equal(next_in("0 0 13 * 5", "UTC", utc(2026, 11, 6, 0, 0)), utc(2026, 11, 13, 0, 0));
    /* February 29: the next leap year */
    assert_int_equal(next_in("0 12 29 2 *", "UTC", utc(2026, 3, 1, 0, 0)), utc(2028, 2, 29, 12, 0));
    /* never: February 30 */
    assert_int_equal(next_in("0 0 30 2 *", "UTC", utc(2026, 3, 1, 0, 0)), -1);
}

static void every_periods(void **state)
{
    (void)state;
    assert_int_equal(ad_routine_every_ms("10s"), 10000);
    assert_int_equal(ad_routine_every_ms("15m"), 900000);
    assert_int_equal(ad_routine_every_ms("1h"), 3600000);
    assert_int_equal(ad_routine_every_ms("2d"), 172800000);
    static const char *const bad[] = {"", "0s", "10", "10 s", "-1m", "1w", "s", "999999d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ad_routine_every_ms(bad[i]), 0);
    }
    json_t *t = json_pack("{s:s}", "every", "15m");
    assert_int_equal(ad_routine_next_fire(t, NULL, 1000), 901000);
    json_decref(t);
    t = json_pack("{s:s, s:s}", "cron", "0 3 * * 1-5", "tz", PARIS);
    assert_int_equal(ad_routine_next_fire(t, NULL, utc(2026, 3, 27, 2, 0) * 1000),
                     utc(2026, 3, 30, 1, 0) * 1000);
    json_decref(t);
}

static void a_routine_body_is_checked(void **state)
{
    (void)state;
    ad_field_err_t e;
    json_t *spec = NULL;
    json_t *b = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:s, s:{s:i}}", "name", "nightly",
                          "worktreeId", "wt_1", "agent", "executor", "claude", "prompt", "fix it",
                          "trigger", "cron", "0 3 * * 1-5", "tz", PARIS, "missed", "skip", "limits",
                          "runsPerDay", 3);
    assert_int_equal(ad_routine_spec(b, NULL, &spec, &e), 0);
    assert_string_equal(json_string_value(json_object_get(spec, "prompt")), "fix it");
    assert_null(json_object_get(json_object_get(spec, "agent"), "prompt"));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(spec, "limits"), "concurrent")), 1);
    json_decref(spec);
    struct {
        const char *key, *json, *field;
    } bad[] = {
        {"trigger", "{\"every\": \"1h\", \"cron\": \"* * * * *\"}", "trigger"},
        {"trigger", "{\"webhook\": false}", "trigger.webhook"},
        {"trigger", "{\"webhook\": true, \"events\": [\"Bad Event\"]}", "trigger.events"},
        {"trigger", "{\"cron\": \"* * * * *\", \"tz\": \"../x\"}", "trigger.tz"},
        {"limits", "{\"costPerRunUsd\": -1}", "limits.costPerRunUsd"},
        {"limits", "{\"runsPerDay\": 0}", "limits.runsPerDay"},
        {"limits", "{\"other\": 1}", "limits"},
        {"missed", "\"sometimes\"", "missed"},
        {"agent", "{\"worktreeId\": \"wt_2\"}", "agent"},
        {"agent", "{\"sandbox\": \"none\"}", "agent.sandbox"},
        {"workspaceId", "\"ws_1\"", "worktreeId"},
        {"name", "\"  \"", "name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *x = json_deep_copy(b);
        json_object_set_new(x, bad[i].key, json_loads(bad[i].json, JSON_DECODE_ANY, NULL));
        spec = NULL;
        assert_int_equal(ad_routine_spec(x, NULL, &spec, &e), AD_EINVAL);
        assert_null(spec);
        if (strcmp(e.field, bad[i].field) != 0) {
            fail_msg("%s=%s: field %s, not %s (%s)", bad[i].key, bad[i].json, e.field, bad[i].field,
                     e.why);
        }
        json_decref(x);
    }
    json_decref(b);
}

static void a_delivery_is_signed_or_refused(void **state)
{
    (void)state;
    const char *secret = "It's a Secret to Everybody", *body = "Hello, World!";
    /* GitHub's documented example */
    const char *good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_true(ad_routine_hook_signed(secret, body, strlen(body), good, NULL));
    assert_false(ad_routine_hook_signed(secret, body, strlen(body) - 1, good, NULL));
    assert_false(ad_routine_hook_signed("another", body, strlen(body), good, NULL));
    assert_false(ad_routine_hook_signed(secret, body, strlen(body), good + 7, NULL));
    assert_false(ad_routine_hook_signed(secret, body, strlen(body), "sha256=", NULL));
    assert_false(ad_routine_hook_signed(secret, body, strlen(body), NULL, NULL));
    assert_false(ad_routine_hook_signed("", body, strlen(body), NULL, ""));
    assert_true(ad_routine_hook_signed(secret, body, strlen(body), NULL, secret));
    assert_false(ad_routine_hook_signed(secret, body, strlen(body), NULL, "It's a Secret"));
    char upper[80];
    snprintf(upper, sizeof(upper),
             "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17");
    assert_true(ad_routine_hook_signed(secret, body, strlen(body), upper, NULL));
}

static void forge_events_filter_deliveries(void **state)
{
    (void)state;
    char why[200];
    json_t *t = json_pack("{s:b, s:[s, s, s, s]}", "webhook", 1, "events", "pull_request.opened",
                          "issue_comment", "check_run.failed", "issues.labeled");
    json_t *opened = json_pack("{s:s}", "action", "opened");
    json_t *closed = json_pack("{s:s}", "action", "closed");
    json_t *failed =
        json_pack("{s:s, s:{s:s}}", "action", "completed", "check_run", "conclusion", "failure");
    json_t *passed =
        json_pack("{s:s, s:{s:s}}", "action", "completed", "check_run", "conclusion", "success");
    json_t *labeled = json_pack("{s:s}", "action", "labeled");
    json_t *gl = json_pack("{s:{s:s}}", "object_attributes", "action", "open");
    assert_true(ad_routine_hook_wanted(t, "pull_request", opened, why, sizeof(why)));
    assert_false(ad_routine_hook_wanted(t, "pull_request", closed, why, sizeof(why)));
    assert_non_null(strstr(why, "pull_request.closed"));
    assert_true(ad_routine_hook_wanted(t, "issue_comment", closed, why, sizeof(why)));
    assert_true(ad_routine_hook_wanted(t, "check_run", failed, why, sizeof(why)));
    assert_false(ad_routine_hook_wanted(t, "check_run", passed, why, sizeof(why)));
    assert_true(ad_routine_hook_wanted(t, "issues", labeled, why, sizeof(why)));
    assert_true(ad_routine_hook_wanted(t, "Merge Request Hook", gl, why, sizeof(why)));
    assert_false(ad_routine_hook_wanted(t, NULL, opened, why, sizeof(why)));
    json_t *all = json_pack("{s:b}", "webhook", 1);
    assert_true(ad_routine_hook_wanted(all, NULL, NULL, why, sizeof(why)));
    json_decref(all);
    json_decref(gl);
    json_decref(labeled);
    json_decref(passed);
    json_decref(failed);
    json_decref(closed);
    json_decref(opened);
    json_decref(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cron_fields_parse_and_refuse),
        cmocka_unit_test(paris_offsets_from_its_tzif_file),
        cmocka_unit_test(weekdays_at_three_across_spring_forward),
        cmocka_unit_test(a_skipped_local_time_fires_at_the_change_once),
        cmocka_unit_test(a_repeated_hour_fires_a_named_hour_once_and_every_hour_twice),
        cmocka_unit_test(day_fields_and_the_horizon),
        cmocka_unit_test(every_periods),
        cmocka_unit_test(a_routine_body_is_checked),
        cmocka_unit_test(a_delivery_is_signed_or_refused),
        cmocka_unit_test(forge_events_filter_deliveries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
