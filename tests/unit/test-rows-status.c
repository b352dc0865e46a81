/* SPDX-License-Identifier: MIT */
/* The statuses have one definition, schema/rows.def (issue #79). Until the
 * store's families take the generated rows, src/store keeps its typed
 * writes' enums (ad_run_status_t, ad_agent_status_t) and their names
 * (src/tables/runs.c): this test holds them to the schema's words, in the
 * schema's order, so neither can drift from the other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "core/core.h"
#include "rows.h"
#include "run/run.h"
#include "store/store.h"
#include "tables/runs.h"

static void store_run_statuses_are_the_schemas(void **state)
{
    AD_UNUSED(state);
    for (int i = 0; i < AD_ROW_RUN_STATUS_COUNT; i++) {
        const char *name = ad_run_status_name((ad_run_status_t)i);
        assert_non_null(name);
        assert_string_equal(name, ad_row_run_status_names[i]);
    }
    assert_null(ad_run_status_name((ad_run_status_t)AD_ROW_RUN_STATUS_COUNT));
    assert_int_equal(AD_RUN_DEGRADED, AD_ROW_RUN_STATUS_DEGRADED);
}

/* The store's agent statuses are the schema's but one: KEEP (0) is "leave
 * it", and "stopping" is shown, never stored; "suspended" (issue #75), after
 * it in the schema, is the store's last. */
static void store_agent_statuses_are_the_schemas(void **state)
{
    AD_UNUSED(state);
    assert_null(ad_agent_status_name(AD_AGENT_STATUS_KEEP));
    for (int i = 0; i < AD_ROW_AGENT_STATUS_STOPPING; i++) {
        const char *name = ad_agent_status_name((ad_agent_status_t)(i + 1));
        assert_non_null(name);
        assert_string_equal(name, ad_row_agent_status_names[i]);
    }
    assert_string_equal(ad_agent_status_name(AD_AGENT_STATUS_SUSPENDED),
                        ad_row_agent_status_names[AD_ROW_AGENT_STATUS_SUSPENDED]);
    assert_int_equal(AD_ROW_AGENT_STATUS_SUSPENDED + 1, AD_ROW_AGENT_STATUS_COUNT);
    assert_null(ad_agent_status_name((ad_agent_status_t)(AD_AGENT_STATUS_SUSPENDED + 1)));
}

/* The runner's count of ended runs is kept in the schema's order from
 * succeeded on (src/run/exit.c, src/run/prom.c). */
static void ended_runs_are_counted_in_the_schemas_order(void **state)
{
    AD_UNUSED(state);
    ad_runner_stats_t rs;
    assert_int_equal(sizeof(rs.ended) / sizeof(rs.ended[0]),
                     AD_ROW_RUN_STATUS_COUNT - AD_ROW_RUN_STATUS_SUCCEEDED);
    assert_int_equal(AD_RUN_SUCCEEDED, AD_ROW_RUN_STATUS_SUCCEEDED);
}

/* The closed sets other subsystems check fields against are the schema's
 * words, in its order (the 422 answers list them so). */
static void field_choices_are_the_schemas(void **state)
{
    AD_UNUSED(state);
    assert_string_equal(AD_RUN_MODES, AD_ROW_AGENT_MODE_CHOICES);
    assert_string_equal(AD_ROW_EXECUTOR_CHOICES, "claude,codex,gemini,command,acp");
    assert_string_equal(AD_ROW_SORT_MODE_CHOICES, "free,status,name");
    assert_string_equal(AD_ROW_TOKEN_SCOPE_CHOICES, "read,write,admin,node");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(store_run_statuses_are_the_schemas),
        cmocka_unit_test(store_agent_statuses_are_the_schemas),
        cmocka_unit_test(ended_runs_are_counted_in_the_schemas_order),
        cmocka_unit_test(field_choices_are_the_schemas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
