/* SPDX-License-Identifier: MIT */
/* Tests for rate and usage limits in what the CLIs print (src/agent/limit.c,
 * issue #75): the messages the real CLIs printed against the mocks are
 * limits, with the reset they name; other errors are not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "agent/agent_int.h"

/* 2026-11-29T09:00:00Z */
#define NOW 1795942800000LL

static ad_rec_t result(const char *text, int status)
{
    ad_rec_t r;
    memset(&r, 0, sizeof(r));
    r.type = AD_REC_RESULT;
    r.is_error = true;
    r.text = (char *)text;
    r.api_error_status = status;
    return r;
}

static void cli_messages_are_limits(void **state)
{
    AD_UNUSED(state);
    int64_t at = 0;
    /* Claude Code on a subscription (2.1.330 against the mock) */
    ad_rec_t r = result("You've hit your 5-hour limit \xc2\xb7 resets 9:30am (UTC)", 429);
    assert_int_equal(ad_limit_of(&r, NOW, &at), AD_LIMIT_HIT);
    assert_int_equal(at, NOW + 30 * 60000);
    /* the time passed today: tomorrow's */
    r = result("You've hit your limit \xc2\xb7 resets 8am (UTC)", 429);
    assert_int_equal(ad_limit_of(&r, NOW, &at), AD_LIMIT_HIT);
    assert_int_equal(at, NOW + 23 * 3600000LL);
    r = result("Claude AI usage limit reached|1795946400", 0);
    assert_int_equal(ad_limit_of(&r, NOW, &at), AD_LIMIT_HIT);
    assert_int_equal(at, 1795946400000LL);
    /* an API key's 429: no reset in the text */
    r = result("API Error: Request rejected (429) \xc2\xb7 Number of request tokens has exceeded "
               "your per-minute rate limit",
               429);
    assert_int_equal(ad_limit_of(&r, NOW, &at), AD_LIMIT_HIT);
    assert_int_equal(at, 0);
    /* Codex 0.169 and Gemini 0.61 */
    r = result("rate limit exceeded: Rate limit reached for requests per min. Please try again in "
               "0.2s.",
               0);
    assert_int_equal(ad_limit_of(&r, NOW, &at), AD_LIMIT_HIT);
    assert_int_equal(at, NOW + 200);
    r = result("You've hit your usage limit. Try again in 5 minutes.", 0);
    assert_int_equal(ad_limit_of(&r, NOW, &at), AD_LIMIT_HIT);
    assert_int_equal(at, NOW + 5 * 60000);
    r = result("[API Error: You exceeded your current quota. Quota exceeded for metric: "
               "generate_content_requests, limit: 0]\nPlease wait and try again later.",
               0);
    assert_int_equal(ad_limit_of(&r, NOW, &at), AD_LIMIT_HIT);
    assert_int_equal(at, 0);
}

static void other_errors_and_notices(void **state)
{
    AD_UNUSED(state);
    int64_t at = 0;
    ad_rec_t r = result("API Error: 529 Overloaded", 529);
    assert_int_equal(ad_limit_of(&r, NOW, &at), AD_LIMIT_NONE);
    r = result("You've hit your usage limit", 0);
    r.is_error = false; /* an answer that talks about limits is not one */
    assert_int_equal(ad_limit_of(&r, NOW, &at), AD_LIMIT_NONE);
    /* Claude's rate_limit_event and api_retry say when */
    ad_rec_t n;
    memset(&n, 0, sizeof(n));
    n.type = AD_REC_NOTICE;
    n.subtype = "rate_limit";
    n.json = json_pack("{s:{s:s, s:I}}", "rate_limit_info", "status", "rejected", "resetsAt",
                       (json_int_t)1795942900);
    assert_int_equal(ad_limit_of(&n, NOW, &at), AD_LIMIT_HINT);
    assert_int_equal(at, 1795942900000LL);
    json_decref(n.json);
    n.json = json_pack("{s:{s:s}}", "rate_limit_info", "status", "allowed_warning");
    assert_int_equal(ad_limit_of(&n, NOW, &at), AD_LIMIT_NONE);
    json_decref(n.json);
    n.subtype = "api_retry";
    n.json = json_pack("{s:i, s:i}", "error_status", 429, "retry_delay_ms", 36065);
    assert_int_equal(ad_limit_of(&n, NOW, &at), AD_LIMIT_HINT);
    assert_int_equal(at, NOW + 36065);
    json_decref(n.json);
    n.json = json_pack("{s:i, s:i}", "error_status", 529, "retry_delay_ms", 500);
    assert_int_equal(ad_limit_of(&n, NOW, &at), AD_LIMIT_NONE);
    json_decref(n.json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cli_messages_are_limits),
        cmocka_unit_test(other_errors_and_notices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
