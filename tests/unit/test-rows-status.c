/* SPDX-License-Identifier: MIT */
/* The statuses have one definition, schema/rows.def (issue #79): the store
 * and the runner take the generated enums (ad_row_run_status_t,
 * ad_row_agent_status_t) and their one string table. What is left to hold
 * here are the places that count on the schema's order: the stored agent
 * statuses are its words but the last (stopping), the runner counts ended
 * runs from succeeded on, and the field checks list its words. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "core/core.h"
#include "rows.h"
#include "run/run.h"
#include "store/store.h"
#include "tables/agents.h"
#include "tables/runs.h"

static const char *no_query(void *ud, const char *key)
{
    AD_UNUSED(ud);
    AD_UNUSED(key);
    return NULL;
}

/* The agents list takes every stored status and refuses "stopping" (shown,
 * never stored), naming the stored ones in the schema's order. */
static void stored_agent_statuses_are_the_schemas_but_stopping(void **state)
{
    AD_UNUSED(state);
    assert_int_equal(AD_ROW_AGENT_STATUS_STOPPING, AD_ROW_AGENT_STATUS_COUNT - 1);
    ad_store_agent_query_t q;
    ad_field_err_t e = {0};
    for (int i = 0; i < AD_ROW_AGENT_STATUS_COUNT; i++) {
        const char *name = ad_row_agent_status_name((ad_row_agent_status_t)i);
        assert_non_null(name);
        ad_row_agent_status_t back;
        assert_int_equal(ad_row_agent_status_parse(name, &back), 0);
        assert_int_equal(back, i);
    }
    assert_null(ad_row_agent_status_name((ad_row_agent_status_t)AD_ROW_AGENT_STATUS_COUNT));
    assert_int_equal(ad_store_agent_list_parse(&q, "stopped", no_query, NULL, &e), 0);
    assert_int_equal(ad_store_agent_list_parse(&q, "stopping", no_query, NULL, &e), AD_EINVAL);
    assert_non_null(strstr(e.why, "running,waiting,error,finished,idle,paused,stopped"));
    assert_null(strstr(e.why, "stopping"));
}

/* The runner's count of ended runs is kept in the schema's order from
 * succeeded on (src/run/exit.c, src/run/prom.c). */
static void ended_runs_are_counted_in_the_schemas_order(void **state)
{
    AD_UNUSED(state);
    ad_runner_stats_t rs;
    assert_int_equal(sizeof(rs.ended) / sizeof(rs.ended[0]),
                     AD_ROW_RUN_STATUS_COUNT - AD_ROW_RUN_STATUS_SUCCEEDED);
    assert_string_equal(ad_row_run_status_name(AD_ROW_RUN_STATUS_SUCCEEDED), "succeeded");
    assert_null(ad_row_run_status_name((ad_row_run_status_t)AD_ROW_RUN_STATUS_COUNT));
}

/* The closed sets other subsystems check fields against are the schema's
 * words, in its order (the 422 answers list them so). */
static void field_choices_are_the_schemas(void **state)
{
    AD_UNUSED(state);
    assert_string_equal(AD_ROW_AGENT_MODE_CHOICES, "auto,plan,regular");
    assert_string_equal(AD_ROW_EXECUTOR_CHOICES, "claude,codex,gemini,command,acp");
    assert_string_equal(AD_ROW_SORT_MODE_CHOICES, "free,status,name");
    assert_string_equal(AD_ROW_TOKEN_SCOPE_CHOICES, "read,write,admin,node");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stored_agent_statuses_are_the_schemas_but_stopping),
        cmocka_unit_test(ended_runs_are_counted_in_the_schemas_order),
        cmocka_unit_test(field_choices_are_the_schemas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
