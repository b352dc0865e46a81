/* SPDX-License-Identifier: MIT */
/* Tests for src/llm/files.c: project paths (no traversal, no absolute
 * paths, no control characters) and the code blocks of an answer that
 * name a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
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

/* tar.c: ustar headers with a valid checksum, a pax header for a long
 * path, data padded to 512 bytes, two zero blocks at the end. */
static unsigned checksum(const unsigned char *h)
{
    unsigned sum = 0;
    for (size_t i = 0; i < 512; i++) {
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    }
    return sum;
}

static void tar_archive(void **state)
{
    AD_UNUSED(state);
    ad_buf_t b;
    ad_buf_init(&b, 1 << 20);
    assert_int_equal(ad_llm_tar_file(&b, "p/a.txt", "hello", 5, 1700000000), 0);
    assert_int_equal(b.len, 1024);
    const unsigned char *h = (const unsigned char *)b.data;
    assert_string_equal((const char *)h, "p/a.txt");
    assert_memory_equal(h + 257, "ustar", 6);
    assert_int_equal(h[156], '0');
    assert_int_equal(strtoul((const char *)h + 124, NULL, 8), 5);
    assert_int_equal(strtoul((const char *)h + 148, NULL, 8), checksum(h));
    assert_memory_equal(b.data + 512, "hello", 5);
    char longp[300];
    memset(longp, 'x', sizeof(longp) - 1);
    longp[0] = 'p';
    longp[1] = '/';
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(ad_llm_tar_file(&b, longp, "", 0, 0), 0);
    const unsigned char *x = (const unsigned char *)b.data + 1024;
    assert_int_equal(x[156], 'x');
    char rec[400];
    snprintf(rec, sizeof(rec), "309 path=%s\n", longp);
    assert_memory_equal(b.data + 1536, rec, strlen(rec));
    assert_int_equal(strlen(rec), 309);
    assert_int_equal(ad_llm_tar_end(&b), 0);
    assert_int_equal(b.len % 512, 0);
    ad_buf_cleanup(&b);
    char name[80];
    ad_llm_tar_folder_name("My site / v1", name, sizeof(name));
    assert_string_equal(name, "My-site---v1");
    ad_llm_tar_folder_name("..", name, sizeof(name));
    assert_string_equal(name, "-.");
    ad_llm_tar_folder_name("", name, sizeof(name));
    assert_string_equal(name, "project");
    ad_buf_init(&b, 1000); /* bounded: a file past the buffer's max */
    assert_int_not_equal(ad_llm_tar_file(&b, "a", longp, sizeof(longp), 0), 0);
    ad_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tar_archive),
        cmocka_unit_test(paths),
        cmocka_unit_test(code_blocks_that_name_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
