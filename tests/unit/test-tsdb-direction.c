/* SPDX-License-Identifier: MIT */
/* Which way a metric improves, from its name (src/tsdb/direction.c, issue
 * #74): loss-like names are best low, reward-like ones high, the last word
 * that is a known quantity decides, and an unknown name says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tsdb/tsdb.h"

static bool lower(const char *name, bool want_known)
{
    bool known = !want_known;
    bool l = tsdb_lower_is_better(name, &known);
    assert_int_equal(known, want_known);
    return l;
}

static void loss_like_names_are_best_low(void **state)
{
    (void)state;
    static const char *const names[] = {
        "loss",       "val_loss", "train/loss", "valLoss",    "eval.error", "error_rate",
        "perplexity", "ppl",      "MSE",        "val_mae",    "rmse",       "wer",
        "cer",        "nll",      "regret",     "latency_ms", "policy-loss"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_true(lower(names[i], true));
    }
}

static void reward_like_names_are_best_high(void **state)
{
    (void)state;
    static const char *const names[] = {"reward",         "episode_reward", "acc", "val_accuracy",
                                        "successRate",    "success_rate",   "f1",  "valF1",
                                        "precision",      "recall",         "auc", "score",
                                        "bleu",           "rouge_l",        "fps", "throughput",
                                        "episode_return", "top1Acc"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_false(lower(names[i], true));
    }
}

static void unknown_names_say_so(void **state)
{
    (void)state;
    assert_false(lower("lr", false));
    assert_false(lower("", false));
    assert_false(lower(NULL, false));
    assert_false(lower("lossy_thing_count", false)); /* no whole word is a quantity */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loss_like_names_are_best_low),
        cmocka_unit_test(reward_like_names_are_best_high),
        cmocka_unit_test(unknown_names_say_so),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
