/* SPDX-License-Identifier: MIT */
/*
 * The MCP server's tools (src/mcp, issue #79's test for it): a tool's
 * arguments checked against its schema before any REST call (unknown
 * fields, empty strings, integers out of range, enums, arrays of strings,
 * required fields, each refusal naming the field), every tool listed with
 * a schema that parses in both protocol eras, a REST answer as a
 * CallToolResult, and the access a token's scope gives. Sessions, tasks
 * and streams are the e2e suite's (mcp.test.js).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "mcp/mcp_int.h"

static const char *const schema = "{\"type\":\"object\",\"properties\":{"
                                  "\"id\":{\"type\":\"string\"},"
                                  "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"
                                  "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
                                  "\"mode\":{\"type\":\"string\",\"enum\":[\"fast\",\"slow\"]}},"
                                  "\"required\":[\"id\"]}";

static const char *args_check(const char *args_text, char *why, size_t whysz)
{
    json_t *args = json_loads(args_text, 0, NULL);
    assert_non_null(args);
    const char *bad = ad_mcp_check_args(schema, args, why, whysz);
    json_decref(args);
    return bad;
}

static void arguments(void **state)
{
    (void)state;
    char why[200];
    assert_null(args_check("{\"id\":\"a\"}", why, sizeof(why)));
    assert_null(args_check("{\"id\":\"a\",\"limit\":100,\"tags\":[\"x\"],\"mode\":\"slow\"}", why,
                           sizeof(why)));
    static const struct {
        const char *args, *starts;
    } bad[] = {
        {"{}", "id: is required"},
        {"{\"id\":\"\"}", "id: must be a non-empty string"},
        {"{\"id\":5}", "id: must be a non-empty string"},
        {"{\"id\":\"a\",\"other\":1}", "other: is not an argument of this tool"},
        {"{\"id\":\"a\",\"limit\":0}", "limit: must be an integer in range"},
        {"{\"id\":\"a\",\"limit\":101}", "limit: must be an integer in range"},
        {"{\"id\":\"a\",\"limit\":\"5\"}", "limit: must be an integer in range"},
        {"{\"id\":\"a\",\"tags\":[]}", "tags: must be a non-empty array of strings"},
        {"{\"id\":\"a\",\"tags\":[\"x\",1]}", "tags: must be a non-empty array of strings"},
        {"{\"id\":\"a\",\"mode\":\"medium\"}", "mode: is not one of the values the schema lists"},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        why[0] = '\0';
        const char *r = args_check(bad[i].args, why, sizeof(why));
        if (r == NULL) {
            fail_msg("%s was let through", bad[i].args);
        }
        assert_string_equal(r, bad[i].starts);
    }
    json_t *not_object = json_array();
    assert_string_equal(ad_mcp_check_args(schema, not_object, why, sizeof(why)),
                        "arguments must be an object");
    json_decref(not_object);
}

static json_t *tool_named(json_t *list, const char *name)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(list, "tools"), i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0) {
            return t;
        }
    }
    return NULL;
}

static void tools_listed(void **state)
{
    (void)state;
    json_t *modern = ad_mcp_tools_list(true), *legacy = ad_mcp_tools_list(false);
    json_t *tools = json_object_get(modern, "tools");
    assert_true(json_array_size(tools) >= 5);
    assert_int_equal(json_array_size(tools), json_array_size(json_object_get(legacy, "tools")));
    size_t tasks = 0, i;
    json_t *t;
    json_array_foreach(tools, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        assert_non_null(name);
        /* each schema parsed (a typo would list {}), names are unique */
        json_t *s = json_object_get(t, "inputSchema");
        if (!json_is_string(json_object_get(s, "type")) ||
            strcmp(json_string_value(json_object_get(s, "type")), "object") != 0) {
            fail_msg("tool %s has no object schema", name);
        }
        for (size_t k = i + 1; k < json_array_size(tools); k++) {
            assert_string_not_equal(
                name, json_string_value(json_object_get(json_array_get(tools, k), "name")));
        }
        assert_null(json_object_get(t, "execution")); /* the modern era: no execution field */
        json_t *lt = tool_named(legacy, name);
        assert_non_null(lt);
        if (json_object_get(lt, "execution") != NULL) {
            tasks++;
            assert_string_equal(
                json_string_value(json_object_get(json_object_get(lt, "execution"), "taskSupport")),
                "optional");
        }
        json_t *ann = json_object_get(t, "annotations");
        assert_true(json_is_boolean(json_object_get(ann, "readOnlyHint")));
        /* a read-only tool is never destructive */
        assert_false(json_is_true(json_object_get(ann, "readOnlyHint")) &&
                     json_is_true(json_object_get(ann, "destructiveHint")));
    }
    assert_true(tasks >= 1); /* starting an agent may answer with a task */
    json_decref(modern);
    json_decref(legacy);
}

static void results_and_access(void **state)
{
    (void)state;
    json_t *r = ad_mcp_tool_result(json_pack("{s:i}", "n", 3), false);
    json_t *c0 = json_array_get(json_object_get(r, "content"), 0);
    assert_string_equal(json_string_value(json_object_get(c0, "type")), "text");
    assert_string_equal(json_string_value(json_object_get(c0, "text")), "{\"n\":3}");
    assert_true(json_is_false(json_object_get(r, "isError")));
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(r, "structuredContent"), "n")), 3);
    json_decref(r);
    r = ad_mcp_tool_result(json_pack("[i]", 1), true);
    assert_true(json_is_true(json_object_get(r, "isError")));
    assert_null(json_object_get(r, "structuredContent")); /* only an object is structured */
    json_decref(r);

    ad_principal_t p;
    memset(&p, 0, sizeof(p));
    p.scope = AD_SCOPE_ADMIN;
    assert_int_equal(ad_mcp_access_of(&p), AD_ACCESS_ADMIN);
    p.scope = AD_SCOPE_WRITE;
    assert_int_equal(ad_mcp_access_of(&p), AD_ACCESS_WRITE);
    p.scope = AD_SCOPE_READ;
    assert_int_equal(ad_mcp_access_of(&p), AD_ACCESS_READ);
    p.scope = AD_SCOPE_NONE;
    assert_int_equal(ad_mcp_access_of(&p), AD_ACCESS_PUBLIC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(arguments),
        cmocka_unit_test(tools_listed),
        cmocka_unit_test(results_and_access),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
