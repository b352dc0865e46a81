/* SPDX-License-Identifier: MIT */
/* Tests for the routines family (src/tables/routines.c, issue #75): a fire
 * is claimed only by the write that still reads the routine's next fire
 * (a second claim of the same fire, as another control plane's, changes
 * nothing and writes no run); the limits judge each fire in the same
 * transaction (runs a day, overlap skipped / queued once / queued all); a
 * run moves only from the statuses named; the secret stays out of the
 * rows; the history is read newest first. Also on PostgreSQL (make
 * unit-pg). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "store_fixture.h"
#include "tables/routines.h"

STORE_FX_SETUP(setup, "routines")

static json_t *fire_args(const char *routine, const char *overlap, json_t *limits, int n)
{
    json_t *fires = json_array();
    for (int i = 0; i < n; i++) {
        char id[AD_ID_MAX];
        ad_id_new("rtr", id);
        json_array_append_new(fires, json_pack("{s:s, s:s, s:I}", "id", id, "source", "manual",
                                               "fireAt", (json_int_t)(1000 + i)));
    }
    return json_pack("{s:s, s:s, s:o, s:s, s:s, s:I, s:o}", "routineId", routine, "orgId",
                     "org_default", "limits", limits, "overlap", overlap, "planeId", "pl_a", "now",
                     (json_int_t)ad_wall_ms(), "fires", fires);
}

static void insert(store_fx_t *f, const char *id, int64_t next)
{
    json_t *res = NULL;
    assert_int_equal(
        store_fx_write(f, ad_store_op_routine_insert,
                       json_pack("{s:s, s:s, s:s, s:{s:{s:s}}, s:s, s:I, s:s, s:I}", "id", id,
                                 "orgId", "org_default", "name", id, "spec", "trigger", "every",
                                 "1h", "secret", "s3cret", "nextFireAt", (json_int_t)next,
                                 "createdBy", "owner", "now", (json_int_t)ad_wall_ms()),
                       &res),
        0);
    assert_string_equal(json_string_value(json_object_get(res, "secret")), "s3cret");
    json_decref(res);
}

static void a_fire_is_claimed_once(void **state)
{
    store_fx_t *f = *state;
    insert(f, "rt_claim", 5000);
    json_t *row = NULL;
    assert_int_equal(ad_store_routine_get(f->st, "rt_claim", &row), 0);
    assert_null(json_object_get(row, "secret")); /* never in a row */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(row, "trigger"), "every")), "1h");
    json_decref(row);
    int64_t next = 0;
    assert_int_equal(ad_store_routine_next(f->st, &next), 0);
    assert_int_equal(next, 5000);
    json_t *due = NULL;
    assert_int_equal(ad_store_routine_due(f->st, 6000, &due), 0);
    assert_int_equal(json_array_size(due), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(due, 0), "nextFireMs")),
                     5000);
    json_decref(due);
    /* two planes claim the fire 5000 -> 3605000: the first wins, the second writes nothing */
    for (int plane = 0; plane < 2; plane++) {
        json_t *args = fire_args("rt_claim", "once", json_pack("{s:i}", "concurrent", 5), 1);
        json_object_set_new(args, "claim", json_pack("{s:i, s:i}", "old", 5000, "next", 3605000));
        json_t *res = NULL;
        assert_int_equal(store_fx_write(f, ad_store_op_routine_fire, args, &res), 0);
        assert_int_equal(json_is_true(json_object_get(res, "claimed")), plane == 0);
        assert_int_equal(json_array_size(json_object_get(res, "runs")), plane == 0 ? 1 : 0);
        json_decref(res);
    }
    json_t *runs = NULL;
    assert_int_equal(ad_store_routine_runs(f->st, "rt_claim", 10, &runs), 0);
    assert_int_equal(json_array_size(runs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(runs, 0), "status")),
                        "starting");
    json_decref(runs);
    assert_int_equal(ad_store_routine_next(f->st, &next), 0);
    assert_int_equal(next, 3605000);
}

static const char *status_of(json_t *res, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(res, "runs"), i), "status"));
}

static void limits_judge_each_fire(void **state)
{
    store_fx_t *f = *state;
    insert(f, "rt_lim", 0);
    json_t *res = NULL;
    /* concurrent 1, overlap once: starting, queued, skipped */
    assert_int_equal(
        store_fx_write(f, ad_store_op_routine_fire,
                       fire_args("rt_lim", "once", json_pack("{s:i}", "concurrent", 1), 3), &res),
        0);
    assert_string_equal(status_of(res, 0), "starting");
    assert_string_equal(status_of(res, 1), "queued");
    assert_string_equal(status_of(res, 2), "skipped");
    const char *why = json_string_value(
        json_object_get(json_array_get(json_object_get(res, "runs"), 2), "reason"));
    assert_non_null(strstr(why, "overlap"));
    /* the starting run moves on only from starting */
    const char *first =
        json_string_value(json_object_get(json_array_get(json_object_get(res, "runs"), 0), "id"));
    json_t *set = NULL;
    assert_int_equal(store_fx_write(f, ad_store_op_routine_run_set,
                                    json_pack("{s:s, s:[s], s:s, s:s, s:I}", "id", first, "from",
                                              "queued", "status", "running", "agentId", "ag_x",
                                              "now", (json_int_t)ad_wall_ms()),
                                    &set),
                     0);
    assert_false(json_is_true(json_object_get(set, "changed")));
    json_decref(set);
    assert_int_equal(store_fx_write(f, ad_store_op_routine_run_set,
                                    json_pack("{s:s, s:[s], s:s, s:s, s:I}", "id", first, "from",
                                              "starting", "status", "running", "agentId", "ag_x",
                                              "now", (json_int_t)ad_wall_ms()),
                                    &set),
                     0);
    assert_true(json_is_true(json_object_get(set, "changed")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(set, "run"), "agentId")),
                        "ag_x");
    json_decref(set);
    json_decref(res);
    /* overlap all: queued; skip: skipped; and past the runs a day: skipped saying so */
    assert_int_equal(
        store_fx_write(f, ad_store_op_routine_fire,
                       fire_args("rt_lim", "all", json_pack("{s:i}", "concurrent", 1), 1), &res),
        0);
    assert_string_equal(status_of(res, 0), "queued");
    json_decref(res);
    assert_int_equal(
        store_fx_write(f, ad_store_op_routine_fire,
                       fire_args("rt_lim", "skip",
                                 json_pack("{s:i, s:i}", "concurrent", 9, "runsPerDay", 3), 1),
                       &res),
        0);
    assert_string_equal(status_of(res, 0), "skipped");
    why = json_string_value(
        json_object_get(json_array_get(json_object_get(res, "runs"), 0), "reason"));
    assert_non_null(strstr(why, "3 runs a day"));
    json_decref(res);
    json_t *open = NULL;
    assert_int_equal(ad_store_routine_runs_open(f->st, &open), 0);
    assert_int_equal(json_array_size(open), 3); /* running, queued, queued */
    json_decref(open);
    /* removed with its runs */
    assert_int_equal(store_fx_write(f, ad_store_op_routine_delete,
                                    json_pack("{s:s, s:s}", "id", "rt_lim", "orgId", "org_default"),
                                    &res),
                     0);
    json_decref(res);
    json_t *runs = NULL;
    assert_int_equal(ad_store_routine_runs(f->st, "rt_lim", 10, &runs), 0);
    assert_int_equal(json_array_size(runs), 0);
    json_decref(runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_fire_is_claimed_once, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(limits_judge_each_fire, setup, store_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
