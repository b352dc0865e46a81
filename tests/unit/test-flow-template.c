/* SPDX-License-Identifier: MIT */
/* Tests for src/flow/template.c: a workflow's steps checked (ids, needs
 * only of earlier steps, templates naming only {{input}} and the outputs
 * of steps they need, hostile braces), and prompts rendered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "flow/flow.h"

static json_t *parse(const char *s)
{
    json_t *j = json_loads(s, 0, NULL);
    assert_non_null(j);
    return j;
}

/* ad_flow_check on steps (JSON text): 0 and "" or the field refused. */
static int check(const char *steps, char field[64])
{
    json_t *j = parse(steps);
    char why[128] = "";
    field[0] = '\0';
    int rc = ad_flow_check(j, field, 64, why, sizeof(why));
    json_decref(j);
    return rc;
}

static void steps_are_checked_naming_the_field(void **state)
{
    AD_UNUSED(state);
    char f[64];
    assert_int_equal(
        check("[{\"id\":\"a\",\"prompt\":\"{{input}}\"},"
              "{\"id\":\"b\",\"needs\":[\"a\"],\"prompt\":\"x {{ steps.a.output }} y\"}]",
              f),
        0);
    assert_int_equal(check("[]", f), AD_EINVAL);
    assert_string_equal(f, "steps");
    assert_int_equal(check("[{\"id\":\"A\",\"prompt\":\"x\"}]", f), AD_EINVAL);
    assert_string_equal(f, "steps[0].id");
    assert_int_equal(check("[{\"id\":\"a\",\"prompt\":\"x\"},{\"id\":\"a\",\"prompt\":\"x\"}]", f),
                     AD_EINVAL);
    assert_string_equal(f, "steps[1].id");
    /* a need must come before: no cycle can be written */
    assert_int_equal(check("[{\"id\":\"a\",\"needs\":[\"a\"],\"prompt\":\"x\"}]", f), AD_EINVAL);
    assert_string_equal(f, "steps[0].needs");
    assert_int_equal(check("[{\"id\":\"a\",\"prompt\":7}]", f), AD_EINVAL);
    assert_string_equal(f, "steps[0].prompt");
    static const char *const bad[] = {
        "{{steps.a.output}}",  /* not a need */
        "{{ env.HOME }}",      /* nothing else */
        "{{input",             /* unclosed */
        "{{steps..output}}",   /* no id */
        "{{steps.a.outputs}}", /* not output */
        "{{steps.a/../b.output}}",
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        json_t *steps = parse("[{\"id\":\"a\",\"prompt\":\"x\"},{\"id\":\"b\",\"prompt\":\"\"}]");
        json_object_set_new(json_array_get(steps, 1), "prompt", json_string(bad[i]));
        char why[128];
        assert_int_equal(ad_flow_check(steps, f, sizeof(f), why, sizeof(why)), AD_EINVAL);
        assert_string_equal(f, "steps[1].prompt");
        json_decref(steps);
    }
}

static void prompts_are_rendered(void **state)
{
    AD_UNUSED(state);
    json_t *st = parse("{\"steps\":{\"a\":{\"output\":\"A!\"},\"b\":{}}}");
    char *p = ad_flow_render("in={{input}} a={{ steps.a.output }} b={{steps.b.output}}.", "I", st);
    assert_string_equal(p, "in=I a=A! b=.");
    free(p);
    p = ad_flow_render("", NULL, st);
    assert_string_equal(p, "");
    free(p);
    p = ad_flow_render("no braces } { here", NULL, st);
    assert_string_equal(p, "no braces } { here");
    free(p);
    json_decref(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(steps_are_checked_naming_the_field),
        cmocka_unit_test(prompts_are_rendered),
    };
    return cmocka_run_group_tests_name("flow-template", tests, NULL, NULL);
}
