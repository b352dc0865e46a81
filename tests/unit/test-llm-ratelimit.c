/* SPDX-License-Identifier: MIT */
/* Tests for src/llm/ratelimit.c: the buckets refill over a minute, an
 * estimate is charged up front and settled after, the provider's headers
 * (Anthropic's and OpenAI's) lower a bucket, keys are apart, and the JSON
 * view filters by prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "llm/llm.h"

static void buckets_refill_and_wait(void **state)
{
    AD_UNUSED(state);
    ad_rl_limits_t d = {.requests = 2, .input_tokens = 1000, .output_tokens = 500};
    ad_rl_t *rl = ad_rl_new(&d);
    int64_t t = 1000000;
    assert_int_equal(ad_rl_try(rl, "o|a|m", 100, t), 0);
    assert_int_equal(ad_rl_try(rl, "o|a|m", 100, t), 0);
    /* two requests a minute: the next one in 30 s */
    assert_int_equal(ad_rl_try(rl, "o|a|m", 100, t), 30000);
    assert_int_equal(ad_rl_try(rl, "o|a|m", 100, t + 29999), 1);
    assert_int_equal(ad_rl_try(rl, "o|a|m", 100, t + 30000), 0);
    /* another key is apart */
    assert_int_equal(ad_rl_try(rl, "o|a|other", 100, t), 0);
    ad_rl_free(rl);
}

static void input_estimate_and_settle(void **state)
{
    AD_UNUSED(state);
    ad_rl_limits_t d = {.requests = 100, .input_tokens = 1000, .output_tokens = 500};
    ad_rl_t *rl = ad_rl_new(&d);
    int64_t t = 0;
    assert_int_equal(ad_rl_try(rl, "k", 800, t), 0);
    /* 200 left: 800 more needs 600 tokens = 36 s at 1000/min */
    assert_int_equal(ad_rl_try(rl, "k", 800, t), 36000);
    /* the request used far less than estimated: the rest comes back */
    ad_llm_usage_t u = {.input_tokens = 100, .output_tokens = 50};
    ad_rl_settle(rl, "k", 800, &u, t);
    assert_int_equal(ad_rl_try(rl, "k", 800, t), 0);
    /* an estimate larger than the bucket waits for a full bucket, not forever */
    ad_rl_t *small = ad_rl_new(&d);
    assert_int_equal(ad_rl_try(small, "k", 5000, t), 0);
    ad_rl_free(small);
    ad_rl_free(rl);
}

static void provider_headers_lower_buckets(void **state)
{
    AD_UNUSED(state);
    ad_rl_limits_t d = {.requests = 50, .input_tokens = 100000, .output_tokens = 100000};
    ad_rl_t *rl = ad_rl_new(&d);
    int64_t t = 0;
    ad_rl_header(rl, "k", "anthropic-ratelimit-requests-limit", "60", t);
    ad_rl_header(rl, "k", "anthropic-ratelimit-requests-remaining", "0", t);
    assert_int_equal(ad_rl_try(rl, "k", 1, t), 1000); /* 60 a minute: one a second */
    ad_rl_header(rl, "k2", "x-ratelimit-limit-requests", "120", t);
    ad_rl_header(rl, "k2", "x-ratelimit-remaining-requests", "0", t);
    assert_int_equal(ad_rl_try(rl, "k2", 1, t), 500);
    ad_rl_header(rl, "k3", "anthropic-ratelimit-output-tokens-remaining", "0", t);
    assert_true(ad_rl_try(rl, "k3", 1, t) > 0);
    /* unknown names and bad values change nothing */
    ad_rl_header(rl, "k4", "anthropic-ratelimit-requests-remaining", "soon", t);
    ad_rl_header(rl, "k4", "x-something", "0", t);
    assert_int_equal(ad_rl_try(rl, "k4", 1, t), 0);
    json_t *j = ad_rl_json(rl, "k2", t);
    assert_int_equal(json_array_size(j), 1);
    json_t *row = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(row, "key")), "");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(row, "requests"), "limit")),
                     120);
    json_decref(j);
    int *w = ad_rl_waiting(rl, "k", t);
    assert_non_null(w);
    assert_int_equal(*w, 0);
    ad_rl_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buckets_refill_and_wait),
        cmocka_unit_test(input_estimate_and_settle),
        cmocka_unit_test(provider_headers_lower_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
