/* SPDX-License-Identifier: MIT */
/* Tests for model prices (src/agent/price.c): the providers' current
 * models have built-in list prices, so a cost is not $0.00 before anyone
 * sets one (issue #40, seed 002); the model_prices setting wins over them;
 * the longest prefix wins; an unknown model has none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "agent/agent_int.h"

static bool near(double a, double b)
{
    return fabs(a - b) < 1e-9;
}

static void current_models_have_list_prices(void **state)
{
    AD_UNUSED(state);
    ad_price_t p;
    assert_true(ad_price_lookup(NULL, "claude-sonnet-4-5-20250929", &p));
    assert_true(near(p.input, 3) && near(p.output, 15) && near(p.cached_input, 0.3));
    assert_true(ad_price_lookup(NULL, "claude-opus-4-5-20251101", &p));
    assert_true(near(p.input, 5) && near(p.output, 25));
    assert_true(ad_price_lookup(NULL, "claude-opus-4-1-20250805", &p));
    assert_true(near(p.input, 15) && near(p.output, 75));
    assert_true(ad_price_lookup(NULL, "claude-haiku-4-5", &p));
    assert_true(near(p.input, 1) && near(p.output, 5));
    assert_true(ad_price_lookup(NULL, "gpt-5", &p));
    assert_true(near(p.input, 1.25) && near(p.output, 10) && near(p.cached_input, 0.125));
    assert_true(ad_price_lookup(NULL, "gpt-5-mini-2025-08-07", &p));
    assert_true(near(p.input, 0.25) && near(p.output, 2));
    assert_true(ad_price_lookup(NULL, "gpt-5-codex", &p));
    assert_true(near(p.input, 1.25));
    assert_true(ad_price_lookup(NULL, "gpt-4o-mini", &p));
    assert_true(near(p.input, 0.15));
    assert_true(ad_price_lookup(NULL, "gemini-2.5-pro", &p));
    assert_true(near(p.input, 1.25) && near(p.output, 10));
    assert_true(ad_price_lookup(NULL, "gemini-2.5-flash-lite", &p));
    assert_true(near(p.input, 0.1) && near(p.output, 0.4));
    assert_true(ad_price_lookup(NULL, "gemini-2.5-flash", &p));
    assert_true(near(p.input, 0.3) && near(p.output, 2.5));
    /* a cost from them */
    ad_usage_t u = {.input_tokens = 1000000, .output_tokens = 100000};
    assert_true(ad_price_lookup(NULL, "claude-sonnet-4-5", &p));
    assert_true(near(ad_price_cost(&p, &u), 3 + 1.5));
}

static void the_setting_wins_and_unknown_models_have_none(void **state)
{
    AD_UNUSED(state);
    ad_price_t p;
    json_t *set = json_pack("{s:{s:f, s:f}, s:{s:f, s:f}}", "gpt-5*", "input", 9.0, "output", 99.0,
                            "my-model", "input", 1.0, "output", 2.0);
    assert_true(ad_price_lookup(set, "gpt-5-mini", &p));
    assert_true(near(p.input, 9) && near(p.output, 99));
    assert_true(ad_price_lookup(set, "my-model", &p));
    assert_true(near(p.output, 2));
    assert_true(ad_price_lookup(set, "claude-sonnet-4", &p)); /* not in the setting: built in */
    assert_true(near(p.input, 3));
    assert_false(ad_price_lookup(set, "gpt-9", &p));
    assert_false(ad_price_lookup(NULL, "llama-3", &p));
    assert_false(ad_price_lookup(NULL, "", &p));
    assert_false(ad_price_lookup(NULL, NULL, &p));
    json_decref(set);
    json_t *all = ad_price_builtin_json();
    const char *why = NULL;
    assert_int_equal(ad_prices_validate(all, &why), 0); /* the setting's own rules */
    assert_non_null(json_object_get(all, "gpt-5*"));
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(current_models_have_list_prices),
        cmocka_unit_test(the_setting_wins_and_unknown_models_have_none),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
