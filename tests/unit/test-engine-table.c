/* SPDX-License-Identifier: MIT */
/* Tests for the loop over a table of engines (src/engine): open and stop in
 * the table's order, close in the reverse; an engine whose open fails is
 * left out (never stopped, closed, asked for routes or metrics) while the
 * others open and run; the metrics hooks' text in order; and the daemon's
 * own table (src/engines.c) in its documented order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
/* The daemon's table (a static of the binary's wiring). */
#include "../../src/engines.c"

/* What the fake engines' hooks did, in order: "open a", "close b", ... */
static char trail[1024];

static void note(const char *what, const char *name)
{
    size_t n = strlen(trail);
    snprintf(trail + n, sizeof(trail) - n, "%s%s %s", n > 0 ? "," : "", what, name);
}

/* A fake engine N whose open returns RC: every hook notes itself. */
#define FAKE(N, RC)                                                                                \
    static int open_##N(ad_app_t *app)                                                             \
    {                                                                                              \
        AD_UNUSED(app);                                                                            \
        note("open", #N);                                                                          \
        return RC;                                                                                 \
    }                                                                                              \
    static void stop_##N(ad_app_t *app)                                                            \
    {                                                                                              \
        AD_UNUSED(app);                                                                            \
        note("stop", #N);                                                                          \
    }                                                                                              \
    static void close_##N(ad_app_t *app)                                                           \
    {                                                                                              \
        AD_UNUSED(app);                                                                            \
        note("close", #N);                                                                         \
    }                                                                                              \
    static void routes_##N(ad_app_t *app)                                                          \
    {                                                                                              \
        AD_UNUSED(app);                                                                            \
        note("routes", #N);                                                                        \
    }                                                                                              \
    static int metrics_##N(const ad_app_t *app, ad_buf_t *b, const char *org)                      \
    {                                                                                              \
        AD_UNUSED(app);                                                                            \
        return ad_buf_printf(b, "%s %s\n", #N, org);                                               \
    }                                                                                              \
    static const ad_engine_t fake_##N = {.name = #N,                                               \
                                         .open = open_##N,                                         \
                                         .stop = stop_##N,                                         \
                                         .close = close_##N,                                       \
                                         .routes = routes_##N,                                     \
                                         .metrics = metrics_##N}

FAKE(a, 0);
FAKE(b, 0);
FAKE(c, 0);
FAKE(bad, -1);

/* An engine with its open hook only (every other hook may be NULL). */
static int open_bare(ad_app_t *app)
{
    AD_UNUSED(app);
    note("open", "bare");
    return 0;
}
static const ad_engine_t fake_bare = {.name = "bare", .open = open_bare};

static int reset(void **state)
{
    AD_UNUSED(state);
    trail[0] = '\0';
    return 0;
}

static void opens_in_order_and_closes_in_reverse(void **state)
{
    AD_UNUSED(state);
    static const ad_engine_t *const list[] = {&fake_a, &fake_bare, &fake_b, &fake_c};
    ad_app_t app = {0};
    ad_engines_open_table(&app, list, AD_ARRAY_LEN(list));
    ad_engines_routes(&app);
    assert_string_equal(trail, "open a,open bare,open b,open c,routes a,routes b,routes c");
    trail[0] = '\0';
    ad_engines_stop_table(&app);
    assert_string_equal(trail, "stop a,stop b,stop c");
    trail[0] = '\0';
    ad_engines_close_table(&app);
    assert_string_equal(trail, "close c,close b,close a");
    /* closed once: a second close does nothing */
    trail[0] = '\0';
    ad_engines_close_table(&app);
    ad_engines_stop_table(&app);
    assert_string_equal(trail, "");
}

static void a_failed_open_leaves_the_others_running(void **state)
{
    AD_UNUSED(state);
    static const ad_engine_t *const list[] = {&fake_a, &fake_bad, &fake_b};
    ad_app_t app = {0};
    ad_engines_open_table(&app, list, AD_ARRAY_LEN(list));
    /* the engine after the one that failed opens all the same */
    assert_string_equal(trail, "open a,open bad,open b");
    assert_true(app.engines.open[0]);
    assert_false(app.engines.open[1]);
    assert_true(app.engines.open[2]);
    trail[0] = '\0';
    ad_engines_routes(&app);
    ad_engines_stop_table(&app);
    ad_engines_close_table(&app);
    /* the one that did not open is never stopped, closed or asked */
    assert_string_equal(trail, "routes a,routes b,stop a,stop b,close b,close a");
}

static void metrics_in_order_of_open_engines(void **state)
{
    AD_UNUSED(state);
    static const ad_engine_t *const list[] = {&fake_b, &fake_bad, &fake_bare, &fake_a};
    ad_app_t app = {0};
    ad_engines_open_table(&app, list, AD_ARRAY_LEN(list));
    ad_buf_t b;
    ad_buf_init(&b, 1024);
    assert_int_equal(ad_engines_metrics(&app, &b, "org1"), 0);
    assert_string_equal(b.data, "b org1\na org1\n");
    ad_buf_cleanup(&b);
    /* a full buffer stops the text with its error */
    ad_buf_init(&b, 4);
    assert_int_not_equal(ad_engines_metrics(&app, &b, "org1"), 0);
    ad_buf_cleanup(&b);
    ad_engines_close_table(&app);
}

static void the_daemons_table_is_in_its_documented_order(void **state)
{
    AD_UNUSED(state);
    static const char *const want[] = {"wtree",   "monitor", "train",    "psync",  "flow", "svc",
                                       "live",    "creds",   "defs",     "chat",   "loop", "mcp",
                                       "routine", "push",    "sessions", "search", "move", "fleet"};
    assert_int_equal(AD_ARRAY_LEN(table), AD_ARRAY_LEN(want));
    for (size_t i = 0; i < AD_ARRAY_LEN(want); i++) {
        assert_string_equal(table[i]->name, want[i]);
        assert_non_null(table[i]->open);
        assert_non_null(table[i]->close);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(opens_in_order_and_closes_in_reverse, reset),
        cmocka_unit_test_setup(a_failed_open_leaves_the_others_running, reset),
        cmocka_unit_test_setup(metrics_in_order_of_open_engines, reset),
        cmocka_unit_test_setup(the_daemons_table_is_in_its_documented_order, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
