/* SPDX-License-Identifier: MIT */
/*
 * Gemini CLI's chats of a worktree shown to its gemini agent (src/proc/
 * gemcfg.c, issue #76): the user's registry names the folder, the agent's
 * registry is made to agree (keeping what it had), and a registry that is
 * no file, names a path, or a folder that is a link binds nothing. A chat
 * placed for a node's adopted agent (ad_proc_gemini_place) gets the name
 * the CLI would give, its mark and registry entry, never another folder's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc/claudesess.h"
#include "proc/proc_int.h"

static char root[PATH_MAX];
static char user[PATH_MAX + 32], mine[PATH_MAX + 32];

static void put(const char *dir, const char *rel, const char *text)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void mk(const char *dir, const char *rel)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    assert_int_equal(mkdir(p, 0700), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof(root), "/tmp/agentd-gemcfg-XXXXXX");
    if (mkdtemp(root) == NULL) {
        return -1;
    }
    snprintf(user, sizeof(user), "%s/user", root);
    snprintf(mine, sizeof(mine), "%s/mine", root);
    mkdir(user, 0700);
    mkdir(mine, 0700);
    mk(user, "tmp");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void the_users_folder_bound_and_the_agents_registry_agrees(void **state)
{
    (void)state;
    mk(user, "tmp/repo-1");
    put(user, "projects.json", "{\"projects\": {\"/work/repo\": \"repo-1\", \"/x\": \"x\"}}");
    /* the agent's own registry has another project: kept */
    put(mine, "projects.json", "{\"projects\": {\"/other\": \"other\"}, \"v\": 1}");
    ad_proc_cfg_bind_t b;
    memset(&b, 0, sizeof(b));
    assert_true(ad_proc_gemini_project(user, mine, "/work/repo", &b));
    char want[PATH_MAX * 2];
    snprintf(want, sizeof(want), "%s/tmp/repo-1", user);
    assert_string_equal(b.src, want);
    assert_string_equal(b.dst, ".gemini/tmp/repo-1");
    assert_true(b.rw);
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/projects.json", mine);
    json_t *reg = json_load_file(p, 0, NULL);
    assert_non_null(reg);
    json_t *projects = json_object_get(reg, "projects");
    assert_string_equal(json_string_value(json_object_get(projects, "/work/repo")), "repo-1");
    assert_string_equal(json_string_value(json_object_get(projects, "/other")), "other");
    assert_int_equal(json_integer_value(json_object_get(reg, "v")), 1);
    json_decref(reg);
    /* a folder the registry does not name: nothing */
    assert_false(ad_proc_gemini_project(user, mine, "/work/none", &b));
    /* named, but no such folder: nothing */
    assert_false(ad_proc_gemini_project(user, mine, "/x", &b));
}

static void hostile_registries_bind_nothing(void **state)
{
    (void)state;
    ad_proc_cfg_bind_t b;
    const char *names[] = {"..", ".", "../../etc", "a/b", "", "a b"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "{\"projects\": {\"/w\": \"%s\"}}", names[i]);
        put(user, "projects.json", text);
        assert_false(ad_proc_gemini_project(user, mine, "/w", &b));
    }
    put(user, "projects.json", "{\"projects\": {\"/w\": 7}}");
    assert_false(ad_proc_gemini_project(user, mine, "/w", &b));
    put(user, "projects.json", "not json");
    assert_false(ad_proc_gemini_project(user, mine, "/w", &b));
    /* the folder is a link (to somewhere else): not followed */
    char target[PATH_MAX * 2], link[PATH_MAX * 2];
    snprintf(target, sizeof(target), "%s", root);
    snprintf(link, sizeof(link), "%s/tmp/linked", user);
    assert_int_equal(symlink(target, link), 0);
    put(user, "projects.json", "{\"projects\": {\"/w\": \"linked\"}}");
    assert_false(ad_proc_gemini_project(user, mine, "/w", &b));
    /* the registry is a link: not read */
    char reg[PATH_MAX * 2], real[PATH_MAX * 2];
    mk(user, "tmp/ok");
    put(root, "elsewhere.json", "{\"projects\": {\"/w\": \"ok\"}}");
    snprintf(real, sizeof(real), "%s/elsewhere.json", root);
    snprintf(reg, sizeof(reg), "%s/projects.json", user);
    unlink(reg);
    assert_int_equal(symlink(real, reg), 0);
    assert_false(ad_proc_gemini_project(user, mine, "/w", &b));
    /* a relative worktree path: nothing */
    assert_false(ad_proc_gemini_project(user, mine, "w", &b));
}

static char *slurp(const char *dir, const char *rel)
{
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "r");
    if (f == NULL) {
        return NULL;
    }
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void a_placed_chat_gets_the_clis_name_its_mark_and_the_registry(void **state)
{
    (void)state;
    char name[256];
    size_t trusted = strlen(user);
    assert_int_equal(
        ad_proc_gemini_place(user, trusted, "/data/worktrees/WT_Ab1", name, sizeof(name)), 0);
    assert_string_equal(name, "wt-ab1");
    assert_string_equal(slurp(user, "tmp/wt-ab1/.project_root"), "/data/worktrees/WT_Ab1");
    char p[PATH_MAX * 2];
    snprintf(p, sizeof(p), "%s/projects.json", user);
    json_t *reg = json_load_file(p, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(json_object_get(reg, "projects"),
                                                          "/data/worktrees/WT_Ab1")),
                        "wt-ab1");
    json_decref(reg);
    /* asked again: the same */
    assert_int_equal(
        ad_proc_gemini_place(user, trusted, "/data/worktrees/WT_Ab1", name, sizeof(name)), 0);
    assert_string_equal(name, "wt-ab1");
    /* another folder of the same last part: the next name, the first kept */
    assert_int_equal(ad_proc_gemini_place(user, trusted, "/elsewhere/wt-ab1", name, sizeof(name)),
                     0);
    assert_string_equal(name, "wt-ab1-1");
    assert_string_equal(slurp(user, "tmp/wt-ab1/.project_root"), "/data/worktrees/WT_Ab1");
    /* a registry naming the folder with a name that is a path: not taken */
    put(user, "projects.json", "{\"projects\": {\"/w/repo\": \"../../etc\"}}");
    assert_int_equal(ad_proc_gemini_place(user, trusted, "/w/repo", name, sizeof(name)), 0);
    assert_string_equal(name, "repo");
    /* a name another folder's mark holds is not taken either */
    mk(user, "tmp/proj");
    put(user, "tmp/proj/.project_root", "/someone/else");
    put(user, "projects.json", "{\"projects\": {\"/w/proj\": \"proj\"}}");
    assert_int_equal(ad_proc_gemini_place(user, trusted, "/w/proj", name, sizeof(name)), 0);
    assert_string_equal(name, "proj-1");
    assert_string_equal(slurp(user, "tmp/proj/.project_root"), "/someone/else");
    /* a relative folder: refused */
    assert_int_not_equal(ad_proc_gemini_place(user, trusted, "w", name, sizeof(name)), 0);
}

static void a_placed_chat_follows_no_link(void **state)
{
    (void)state;
    char name[256], cfg[PATH_MAX + 64], target[PATH_MAX * 2], link[PATH_MAX * 2];
    snprintf(cfg, sizeof(cfg), "%s/cfg", mine);
    mkdir(cfg, 0700);
    snprintf(target, sizeof(target), "%s/outside", root);
    mkdir(target, 0700);
    snprintf(link, sizeof(link), "%s/tmp", cfg);
    assert_int_equal(symlink(target, link), 0);
    assert_int_not_equal(ad_proc_gemini_place(cfg, strlen(cfg), "/w/r", name, sizeof(name)), 0);
    assert_null(slurp(target, "r/.project_root"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(the_users_folder_bound_and_the_agents_registry_agrees,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(hostile_registries_bind_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(a_placed_chat_gets_the_clis_name_its_mark_and_the_registry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_placed_chat_follows_no_link, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
