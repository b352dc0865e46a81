/* SPDX-License-Identifier: MIT */
/* Tests for the typed rows made from schema/rows.def (scripts/rows.mjs,
 * issue #79): each row decoded from a real API answer
 * (tests/fixtures/rows/) and encoded back to the same JSON; a word not in
 * an enum, a missing, null or mistyped field refused, naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "rows.h"

#define FIX "tests/fixtures/rows/"

static json_t *fixture(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), FIX "%s.json", name);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (j == NULL) {
        fail_msg("%s: %s", path, e.text);
    }
    return j;
}

/* a and b hold the same JSON, a number equal to another whatever its kind
 * (a cost of 0 is an integer on the wire, a real once typed). */
static bool same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) {
        return json_number_value(a) == json_number_value(b);
    }
    if (json_typeof(a) != json_typeof(b)) {
        return false;
    }
    if (json_is_object(a)) {
        const char *k;
        const json_t *v;
        if (json_object_size(a) != json_object_size(b)) {
            return false;
        }
        json_object_foreach((json_t *)a, k, v)
        {
            const json_t *w = json_object_get(b, k);
            if (w == NULL || !same(v, w)) {
                return false;
            }
        }
        return true;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b)) {
            return false;
        }
        for (size_t i = 0; i < json_array_size(a); i++) {
            if (!same(json_array_get(a, i), json_array_get(b, i))) {
                return false;
            }
        }
        return true;
    }
    return json_equal((json_t *)a, (json_t *)b);
}

static void assert_same(const json_t *want, const json_t *got)
{
    if (!same(want, got)) {
        char *w = json_dumps(want, JSON_SORT_KEYS);
        char *g = json_dumps(got, JSON_SORT_KEYS);
        print_error("want %s\n got  %s\n", w, g);
        free(w);
        free(g);
        fail();
    }
}

/* Decodes the fixture as row R, encodes it again, and compares. */
#define ROUND_TRIP(R, name)                                                                        \
    do {                                                                                           \
        json_t *j = fixture(name);                                                                 \
        ad_row_##R##_t r;                                                                          \
        char err[256] = "";                                                                        \
        int rc = ad_row_##R##_decode(j, &r, err, sizeof(err));                                     \
        if (rc != 0) {                                                                             \
            fail_msg("%s: %s", name, err);                                                         \
        }                                                                                          \
        json_t *back = ad_row_##R##_encode(&r);                                                    \
        assert_same(j, back);                                                                      \
        json_decref(back);                                                                         \
        ad_row_##R##_cleanup(&r);                                                                  \
        json_decref(j);                                                                            \
    } while (0)

static void real_answers_round_trip(void **state)
{
    AD_UNUSED(state);
    ROUND_TRIP(agent, "agent");
    ROUND_TRIP(agent, "agent-update");
    ROUND_TRIP(run, "run");
    ROUND_TRIP(run, "run-started");
    ROUND_TRIP(workspace, "workspace");
    ROUND_TRIP(worktree, "worktree");
    ROUND_TRIP(message, "message");
    ROUND_TRIP(approval, "approval");
    ROUND_TRIP(token, "token");
    ROUND_TRIP(org, "org");
    ROUND_TRIP(series_point, "series-point");
    ROUND_TRIP(series_summary, "series-summary");
    ROUND_TRIP(event, "event");
    ROUND_TRIP(status_reason, "status-reason");
}

static void decoded_fields_are_typed(void **state)
{
    AD_UNUSED(state);
    json_t *j = fixture("run");
    ad_row_run_t r;
    char err[256] = "";
    assert_int_equal(ad_row_run_decode(j, &r, err, sizeof(err)), 0);
    assert_int_equal(r.status, AD_ROW_RUN_STATUS_SUCCEEDED);
    int64_t ms = 0;
    assert_int_equal(ad_time_parse(json_string_value(json_object_get(j, "startedAt")), &ms), 0);
    assert_int_equal(r.started_at, ms);
    assert_true(r.has_exit_code);
    assert_int_equal(r.exit_code, 0);
    assert_false(r.has_signal); /* null on the wire */
    assert_false(r.has_phase);
    assert_non_null(r.commit);
    assert_string_equal(r.commit->short_id, "2c78bc9");
    assert_null(r.agent_name); /* opt, absent */
    ad_row_run_cleanup(&r);
    assert_null(r.id); /* cleanup zeroes */
    json_decref(j);

    j = fixture("run-started");
    assert_int_equal(ad_row_run_decode(j, &r, err, sizeof(err)), 0);
    assert_int_equal(r.status, AD_ROW_RUN_STATUS_RUNNING);
    assert_true(r.has_phase);
    assert_int_equal(r.phase, AD_ROW_RUN_PHASE_WORKING);
    assert_false(r.has_ended_at);
    ad_row_run_cleanup(&r);
    json_decref(j);

    j = fixture("workspace");
    ad_row_workspace_t w;
    assert_int_equal(ad_row_workspace_decode(j, &w, err, sizeof(err)), 0);
    assert_int_equal(w.n_worktrees, 1);
    assert_true(w.worktrees[0].is_main);
    assert_int_equal(w.worktrees[0].sort_mode, AD_ROW_SORT_MODE_FREE);
    ad_row_workspace_cleanup(&w);
    json_decref(j);
}

/* The fixture name with one change (set as JSON text, or removed for
 * NULL) decoded as R: its rc and err. */
#define DECODE_CHANGED(R, name, key, text, err)                                                    \
    ({                                                                                             \
        json_t *j_ = fixture(name);                                                                \
        if ((text) == NULL) {                                                                      \
            json_object_del(j_, key);                                                              \
        } else {                                                                                   \
            json_object_set_new(j_, key, json_loads((text), JSON_DECODE_ANY, NULL));               \
        }                                                                                          \
        ad_row_##R##_t r_;                                                                         \
        int rc_ = ad_row_##R##_decode(j_, &r_, err, sizeof(err));                                  \
        json_decref(j_);                                                                           \
        if (rc_ == 0) {                                                                            \
            ad_row_##R##_cleanup(&r_);                                                             \
        }                                                                                          \
        rc_;                                                                                       \
    })

static void unknown_enum_words_are_refused(void **state)
{
    AD_UNUSED(state);
    char err[256];
    assert_int_equal(DECODE_CHANGED(agent, "agent", "status", "\"sleeping\"", err), AD_EINVAL);
    assert_string_equal(err, "status: unknown value \"sleeping\"");
    assert_int_equal(DECODE_CHANGED(run, "run", "status", "\"Succeeded\"", err), AD_EINVAL);
    assert_string_equal(err, "status: unknown value \"Succeeded\"");
    assert_int_equal(DECODE_CHANGED(approval, "approval", "status", "\"approved\"", err),
                     AD_EINVAL);
    assert_string_equal(err, "status: unknown value \"approved\"");
    assert_int_equal(DECODE_CHANGED(token, "token", "scope", "3", err), AD_EINVAL);
    assert_string_equal(err, "scope: not a string");

    /* and by the tables themselves */
    ad_row_run_status_t rs;
    assert_int_equal(ad_row_run_status_parse("lost", &rs), 0);
    assert_int_equal(rs, AD_ROW_RUN_STATUS_LOST);
    assert_int_equal(ad_row_run_status_parse("LOST", &rs), AD_EINVAL);
    assert_int_equal(ad_row_run_status_parse(NULL, &rs), AD_EINVAL);
    assert_null(ad_row_run_status_name((ad_row_run_status_t)AD_ROW_RUN_STATUS_COUNT));
    for (int i = 0; i < AD_ROW_AGENT_STATUS_COUNT; i++) {
        ad_row_agent_status_t as;
        assert_int_equal(ad_row_agent_status_parse(ad_row_agent_status_names[i], &as), 0);
        assert_int_equal(as, i);
        assert_string_equal(ad_row_agent_status_name(as), ad_row_agent_status_names[i]);
    }
}

static void missing_null_and_mistyped_fields_are_named(void **state)
{
    AD_UNUSED(state);
    char err[256];
    assert_int_equal(DECODE_CHANGED(agent, "agent", "worktreeId", NULL, err), AD_EINVAL);
    assert_string_equal(err, "worktreeId: missing");
    assert_int_equal(DECODE_CHANGED(run, "run", "status", "null", err), AD_EINVAL);
    assert_string_equal(err, "status: is null");
    assert_int_equal(DECODE_CHANGED(run, "run", "exitCode", "\"0\"", err), AD_EINVAL);
    assert_string_equal(err, "exitCode: not an integer");
    assert_int_equal(DECODE_CHANGED(run, "run", "costUsd", "\"free\"", err), AD_EINVAL);
    assert_string_equal(err, "costUsd: not a number");
    assert_int_equal(DECODE_CHANGED(run, "run", "startedAt", "\"yesterday\"", err), AD_EINVAL);
    assert_string_equal(err, "startedAt: not an RFC 3339 time");
    assert_int_equal(DECODE_CHANGED(run, "run", "tags", "[\"a\", 2]", err), AD_EINVAL);
    assert_string_equal(err, "tags: item 1 is not a string");
    assert_int_equal(DECODE_CHANGED(message, "message", "isError", "0", err), AD_EINVAL);
    assert_string_equal(err, "isError: not a boolean");
    /* nested rows and lists name the whole path */
    assert_int_equal(
        DECODE_CHANGED(agent, "agent", "statusReason", "{\"text\":\"t\",\"at\":1}", err),
        AD_EINVAL);
    assert_string_equal(err, "statusReason.code: missing");
    assert_int_equal(
        DECODE_CHANGED(workspace, "workspace", "worktrees", "[{\"id\":\"wt_1\"}]", err), AD_EINVAL);
    assert_string_equal(err, "worktrees[0].workspaceId: missing");
    /* opt fields may be absent or null; the others may not */
    assert_int_equal(DECODE_CHANGED(run, "run", "agentName", "null", err), 0);
    assert_int_equal(DECODE_CHANGED(run, "run", "endedAt", NULL, err), AD_EINVAL);
    assert_string_equal(err, "endedAt: missing");

    json_t *notobj = json_array();
    ad_row_org_t o;
    assert_int_equal(ad_row_org_decode(notobj, &o, err, sizeof(err)), AD_EINVAL);
    assert_string_equal(err, "row: not an object");
    json_decref(notobj);
}

static void unset_fields_are_null_or_left_out(void **state)
{
    AD_UNUSED(state);
    ad_row_token_t t = {.id = "tok_1", .name = "n", .org_id = "org_default"};
    t.scope = AD_ROW_TOKEN_SCOPE_WRITE;
    json_t *j = ad_row_token_encode(&t);
    assert_string_equal(json_string_value(json_object_get(j, "scope")), "write");
    assert_true(json_is_null(json_object_get(j, "expiresAt"))); /* null: there, null */
    assert_null(json_object_get(j, "token"));                   /* opt: left out */
    assert_string_equal(json_string_value(json_object_get(j, "createdAt")),
                        "1970-01-01T00:00:00.000Z");
    json_decref(j);

    ad_row_run_t r = {.status = AD_ROW_RUN_STATUS_STOPPED, .has_signal = true, .signal = 9};
    j = ad_row_run_encode(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "signal")), 9);
    assert_true(json_is_null(json_object_get(j, "exitCode")));
    assert_true(json_is_array(json_object_get(j, "tags"))); /* strings: never null */
    assert_string_equal(json_string_value(json_object_get(j, "status")), "stopped");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(real_answers_round_trip),
        cmocka_unit_test(decoded_fields_are_typed),
        cmocka_unit_test(unknown_enum_words_are_refused),
        cmocka_unit_test(missing_null_and_mistyped_fields_are_named),
        cmocka_unit_test(unset_fields_are_null_or_left_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
