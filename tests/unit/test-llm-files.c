/* SPDX-License-Identifier: MIT */
/* Tests for src/llm/files.c: project paths (no traversal, no absolute
 * paths, no control characters) and the code blocks of an answer that
 * name a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "llm/llm.h"

static bool ok(const char *p)
{
    return ad_llm_path_ok(p, strlen(p));
}

static void paths(void **state)
{
    AD_UNUSED(state);
    assert_true(ok("a.txt"));
    assert_true(ok("src/app/main.ts"));
    assert_true(ok(".gitignore"));
    assert_true(ok("dir/..hidden"));
    const char *bad[] = {"",  "/etc/passwd", "../x", "a/../b", "a/./b", "a//b", "a/", "..",
                         ".", "a\\b",        "c:x",  "a\nb",   "a\x01", "a/..", "./a"};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        assert_false(ok(bad[i]));
    }
    char long_path[600];
    memset(long_path, 'a', sizeof(long_path) - 1);
    long_path[sizeof(long_path) - 1] = '\0';
    assert_false(ok(long_path));
    assert_false(ad_llm_path_ok("a\xff", 2)); /* not UTF-8 */
}

static void code_blocks_that_name_files(void **state)
{
    AD_UNUSED(state);
    const char *md = "Here:\n"
                     "```ts src/app.ts\nconst a = 1;\n```\n"
                     "```python\nprint('no file')\n```\n"
                     "```README.md\n# Hi\n```\n"
                     "```js title=\"web/x.js\"\nx()\n```\n"
                     "```sh ../../etc/passwd\nevil\n```\n"
                     "```ts src/app.ts\nconst a = 2;\n```\n"
                     "```ts unclosed.ts\nnever\n";
    json_t *f = ad_llm_code_files(md);
    assert_int_equal(json_array_size(f), 3);
    json_t *a = json_array_get(f, 0);
    assert_string_equal(json_string_value(json_object_get(a, "path")), "src/app.ts");
    assert_string_equal(json_string_value(json_object_get(a, "content")), "const a = 2;\n");
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 1), "path")),
                        "README.md");
    assert_string_equal(json_string_value(json_object_get(json_array_get(f, 2), "path")),
                        "web/x.js");
    json_decref(f);
    f = ad_llm_code_files("no code here");
    assert_int_equal(json_array_size(f), 0);
    json_decref(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(paths),
        cmocka_unit_test(code_blocks_that_name_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
