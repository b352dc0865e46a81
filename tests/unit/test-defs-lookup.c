/* SPDX-License-Identifier: MIT */
/*
 * The definitions an organisation reads (src/defs/lookup.c, issue #79's
 * test for src/defs): GET /api/definitions' listing (no prompts, ranked by
 * q, the categories once each), the best definition for a prompt (its
 * alternatives, the "general" fallback), one found by name, and the data
 * dir's definitions folder read through ad_defs_find. The watcher
 * (defwatch.c) is the e2e suite's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "defs/defs.h"

static json_t *defs_fixture(void)
{
    json_t *d = json_loads(
        "[{\"name\":\"writer\",\"category\":\"docs\",\"description\":\"Writes documentation "
        "and guides\",\"capabilities\":[\"markdown\"],\"systemPrompt\":\"You write.\"},"
        "{\"name\":\"debugger\",\"category\":\"code\",\"description\":\"Finds bugs in code\","
        "\"capabilities\":[\"gdb\"],\"systemPrompt\":\"You debug.\"},"
        "{\"name\":\"reviewer\",\"category\":\"code\",\"description\":\"Reviews code for bugs "
        "and style\",\"capabilities\":[],\"systemPrompt\":\"You review.\"},"
        "{\"name\":\"general\",\"category\":\"misc\",\"description\":\"Anything else\","
        "\"capabilities\":[],\"systemPrompt\":\"You help.\"}]",
        0, NULL);
    assert_non_null(d);
    return d;
}

static bool listed(json_t *list, const char *name)
{
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "name")), name) == 0) {
            return true;
        }
    }
    return false;
}

static void listing(void **state)
{
    (void)state;
    json_t *defs = defs_fixture();
    json_t *all = ad_defs_listing(defs, NULL, NULL);
    json_t *list = json_object_get(all, "definitions");
    assert_int_equal(json_array_size(list), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *d = json_array_get(list, i);
        assert_null(json_object_get(d, "systemPrompt")); /* a listing has no prompts */
        assert_null(json_object_get(d, "score"));        /* nor scores without q */
    }
    json_t *cats = json_object_get(all, "categories");
    assert_int_equal(json_array_size(cats), 3); /* docs, code, misc: each once */
    /* the definitions themselves keep their prompts */
    assert_non_null(json_object_get(json_array_get(defs, 0), "systemPrompt"));
    json_decref(all);

    /* q keeps what matches, best first, with score and matched */
    json_t *q = ad_defs_listing(defs, "bugs", NULL);
    list = json_object_get(q, "definitions");
    assert_int_equal(json_array_size(list), 2);
    assert_true(listed(list, "debugger"));
    assert_true(listed(list, "reviewer"));
    assert_false(listed(list, "writer"));
    assert_true(json_number_value(json_object_get(json_array_get(list, 0), "score")) > 0);
    assert_non_null(json_object_get(json_array_get(list, 0), "matched"));
    json_decref(q);

    /* a category alone */
    json_t *c = ad_defs_listing(defs, NULL, "code");
    list = json_object_get(c, "definitions");
    assert_int_equal(json_array_size(list), 2);
    assert_false(listed(list, "general"));
    json_decref(c);
    json_decref(defs);
}

static void select_for_a_prompt(void **state)
{
    (void)state;
    json_t *defs = defs_fixture();
    json_t *s = ad_defs_select(defs, "please write documentation for the guides");
    json_t *def = json_object_get(s, "definition");
    assert_string_equal(json_string_value(json_object_get(def, "name")), "writer");
    assert_null(json_object_get(def, "systemPrompt"));
    assert_true(json_is_false(json_object_get(s, "default")));
    assert_true(json_number_value(json_object_get(s, "score")) > 0);
    json_decref(s);

    /* the runner-up is an alternative */
    s = ad_defs_select(defs, "bugs in code style");
    def = json_object_get(s, "definition");
    assert_string_equal(json_string_value(json_object_get(def, "name")), "reviewer");
    json_t *alts = json_object_get(s, "alternatives");
    assert_int_equal(json_array_size(alts), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(alts, 0), "name")),
                        "debugger");
    json_decref(s);

    /* no word in common: "general", as the default */
    s = ad_defs_select(defs, "zzz qqq");
    assert_true(json_is_true(json_object_get(s, "default")));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(s, "definition"), "name")), "general");
    assert_int_equal(json_array_size(json_object_get(s, "alternatives")), 0);
    json_decref(s);

    /* and with no "general", null */
    json_array_remove(defs, 3);
    s = ad_defs_select(defs, "zzz qqq");
    assert_true(json_is_null(json_object_get(s, "definition")));
    json_decref(s);

    assert_non_null(ad_defs_named(defs, "debugger"));
    assert_null(ad_defs_named(defs, "general"));
    json_decref(defs);

    /* at most three alternatives */
    defs = json_array();
    for (int i = 0; i < 6; i++) {
        char name[32];
        snprintf(name, sizeof(name), "alpha%d", i);
        json_array_append_new(defs, json_pack("{s:s, s:s, s:s, s:[]}", "name", name, "category",
                                              "x", "description", "alpha work", "capabilities"));
    }
    s = ad_defs_select(defs, "alpha");
    assert_false(json_is_true(json_object_get(s, "default")));
    assert_int_equal(json_array_size(json_object_get(s, "alternatives")), 3);
    json_decref(s);
    json_decref(defs);
}

/* ---- the data dir's folder, read on the pool ------------------------------------ */

typedef struct {
    int calls;
    char name[64];
    char prompt[64];
} found_t;

static void on_found(json_t *def, void *ud)
{
    found_t *f = ud;
    f->calls++;
    snprintf(f->name, sizeof(f->name), "%s",
             def != NULL ? json_string_value(json_object_get(def, "name")) : "(none)");
    const char *p = json_string_value(json_object_get(def, "systemPrompt"));
    snprintf(f->prompt, sizeof(f->prompt), "%s", p != NULL ? p : "");
}

static void find(uv_loop_t *loop, const char *dir, const char *name, found_t *f)
{
    *f = (found_t){0};
    assert_int_equal(ad_defs_find(loop, NULL, dir, "", name, on_found, f), 0);
    while (f->calls == 0) {
        uv_run(loop, UV_RUN_ONCE);
    }
    assert_int_equal(f->calls, 1);
}

static void found_in_the_data_dir(void **state)
{
    (void)state;
    char dir[] = "/tmp/agentd-defs-XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/definitions", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/definitions/tester.md", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("---\nname: tester\ndescription: Writes tests\n---\nYou test.\n", fp);
    fclose(fp);

    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    found_t f;
    find(&loop, dir, "tester", &f);
    assert_string_equal(f.name, "tester");
    assert_non_null(strstr(f.prompt, "You test."));
    find(&loop, dir, "general", &f); /* the built-in one */
    assert_string_equal(f.name, "general");
    find(&loop, dir, "nobody", &f);
    assert_string_equal(f.name, "(none)");
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    assert_int_equal(system(path), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(listing),
        cmocka_unit_test(select_for_a_prompt),
        cmocka_unit_test(found_in_the_data_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
