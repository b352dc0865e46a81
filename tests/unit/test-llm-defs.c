/* SPDX-License-Identifier: MIT */
/* Tests for src/llm/defs.c: definition files with YAML front matter (the
 * fields, comma lists and YAML lists, Claude Code's subagent format), bad
 * YAML and missing front matter kept with their error, and BM25 ranking
 * with the words that matched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "llm/llm.h"

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void parses_fields_and_body(void **state)
{
    AD_UNUSED(state);
    const char *t = "---\n"
                    "name: code-reviewer\n"
                    "category: quality\n"
                    "description: Reviews code for bugs and style\n"
                    "capabilities: [review, security audit]\n"
                    "tools: Read, Grep, Glob\n"
                    "model: sonnet\n"
                    "version: \"1.2\"\n"
                    "author: someone\n"
                    "tags:\n  - review\n  - lint\n"
                    "tier: thorough\n"
                    "---\n\nYou review code.\nBe terse.\n";
    json_t *d = ad_def_parse(t, strlen(t), "file-name");
    assert_null(json_object_get(d, "error"));
    assert_string_equal(str(d, "name"), "code-reviewer");
    assert_string_equal(str(d, "category"), "quality");
    assert_string_equal(str(d, "model"), "sonnet");
    assert_string_equal(str(d, "version"), "1.2");
    assert_string_equal(str(d, "tier"), "thorough");
    assert_int_equal(json_array_size(json_object_get(d, "tools")), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "tools"), 2)), "Glob");
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "capabilities"), 1)),
                        "security audit");
    assert_int_equal(json_array_size(json_object_get(d, "tags")), 2);
    assert_string_equal(str(d, "systemPrompt"), "You review code.\nBe terse.\n");
    json_decref(d);
}

static void bad_files_keep_their_error(void **state)
{
    AD_UNUSED(state);
    const char *cases[][2] = {
        {"no front matter at all\n", "no YAML front matter"},
        {"---\nname: x\nno end\n", "no closing ---"},
        {"---\nname: [unclosed\n---\nbody\n", "bad YAML front matter"},
        {"---\n- a\n- b\n---\nbody\n", "not a mapping"},
        {"---\nname: x\ntier: huge\n---\nbody\n", "tier must be"},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(cases); i++) {
        json_t *d = ad_def_parse(cases[i][0], strlen(cases[i][0]), "stem");
        const char *err = str(d, "error");
        assert_non_null(err);
        assert_non_null(strstr(err, cases[i][1]));
        assert_non_null(str(d, "name"));
        json_decref(d);
    }
    /* a nameless file is named after its file */
    const char *t = "---\ndescription: d\n---\nbody";
    json_t *d = ad_def_parse(t, strlen(t), "stem");
    assert_string_equal(str(d, "name"), "stem");
    assert_string_equal(str(d, "systemPrompt"), "body");
    json_decref(d);
}

static void ranks_by_bm25(void **state)
{
    AD_UNUSED(state);
    json_t *defs = json_pack(
        "[{s:s, s:s, s:s, s:[s]}, {s:s, s:s, s:s, s:[s,s]}, {s:s, s:s, s:s, s:[]}]", "name",
        "writer", "category", "docs", "description", "Writes documentation and guides",
        "capabilities", "markdown", "name", "debugger", "category", "code", "description",
        "Finds and fixes bugs in failing tests", "capabilities", "debugging", "tests", "name",
        "general", "category", "misc", "description", "Anything else", "capabilities");
    json_t *r = ad_defs_rank(defs, "please fix the failing tests in my code", NULL);
    assert_int_equal(json_array_size(r), 3);
    json_t *best = json_array_get(r, 0);
    assert_string_equal(str(json_object_get(best, "definition"), "name"), "debugger");
    assert_true(json_number_value(json_object_get(best, "score")) > 0);
    json_t *m = json_object_get(best, "matched");
    bool tests = false;
    for (size_t i = 0; i < json_array_size(m); i++) {
        tests = tests || strcmp(json_string_value(json_array_get(m, i)), "test") == 0;
    }
    assert_true(tests);
    assert_true(json_number_value(json_object_get(json_array_get(r, 2), "score")) == 0);
    json_decref(r);
    r = ad_defs_rank(defs, "", "DOCS");
    assert_int_equal(json_array_size(r), 1);
    json_decref(r);
    json_decref(defs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_fields_and_body),
        cmocka_unit_test(bad_files_keep_their_error),
        cmocka_unit_test(ranks_by_bm25),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
