/* SPDX-License-Identifier: MIT */
/*
 * Which folder a project may sync with, and what a project's bodies may
 * hold (src/psync, issue #79's test for it): ad_psync_path_check against
 * --project-sync-roots (an existing folder strictly below a root, no link
 * on the way, nothing when no roots are set), a commit's fields, a save's
 * args and a PATCH's file changes. The engine's pushes and pulls are the
 * e2e suite's (project-sync).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "psync/psync.h"

static json_t *J(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static void sync_folders(void **state)
{
    (void)state;
    char tmp[] = "/tmp/agentd-psync-XXXXXX", top[PATH_MAX], p[PATH_MAX + 64], root[PATH_MAX + 64],
         roots[2 * PATH_MAX + 200], why[200];
    assert_non_null(mkdtemp(tmp));
    assert_non_null(realpath(tmp, top)); /* /tmp may itself be a link */
    snprintf(root, sizeof(root), "%s/root", top);
    assert_int_equal(mkdir(root, 0700), 0);
    snprintf(p, sizeof(p), "%s/root/proj", top);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/rootless", top);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/other", top);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/root/file", top);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
    char target[PATH_MAX + 64];
    snprintf(target, sizeof(target), "%s/other", top);
    snprintf(p, sizeof(p), "%s/root/link", top);
    assert_int_equal(symlink(target, p), 0);

    /* no roots: nothing may be synced */
    snprintf(p, sizeof(p), "%s/root/proj", top);
    assert_int_equal(ad_psync_path_check("", p, why, sizeof(why)), AD_EPERM);
    assert_int_equal(ad_psync_path_check(NULL, p, why, sizeof(why)), AD_EPERM);

    assert_int_equal(ad_psync_path_check(root, p, why, sizeof(why)), 0);
    /* the second of two roots will do */
    snprintf(roots, sizeof(roots), "%s/other,%s", top, root);
    assert_int_equal(ad_psync_path_check(roots, p, why, sizeof(why)), 0);

    static const char *const refused[] = {
        "root",              /* the root itself: strictly below only */
        "rootless",          /* a sibling whose name starts like the root */
        "other",             /* under no root */
        "root/link",         /* a link out of the root */
        "root/file",         /* not a folder */
        "root/missing",      /* not there */
        "root/proj/../proj", /* not the real path */
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(refused); i++) {
        snprintf(p, sizeof(p), "%s/%s", top, refused[i]);
        why[0] = '\0';
        if (ad_psync_path_check(root, p, why, sizeof(why)) != AD_EINVAL) {
            fail_msg("%s was not refused", refused[i]);
        }
        assert_true(why[0] != '\0');
    }
    assert_int_equal(ad_psync_path_check(root, "root/proj", why, sizeof(why)), AD_EINVAL);

    snprintf(p, sizeof(p), "rm -rf %s", top);
    assert_int_equal(system(p), 0);
}

static void commit_body(void **state)
{
    (void)state;
    ad_field_err_t e = {0};
    const char *wt = NULL;
    json_t *b = J("{\"worktreeId\":\"wt_1\",\"path\":\"docs/project\",\"message\":\"m\"}");
    assert_int_equal(ad_project_commit_check(b, &wt, &e), 0);
    assert_string_equal(wt, "wt_1");
    json_decref(b);
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{}", "worktreeId"},
        {"{\"worktreeId\":\"wt_1\",\"path\":\"../up\"}", "path"},
        {"{\"worktreeId\":\"wt_1\",\"path\":\"/abs\"}", "path"},
        {"{\"worktreeId\":\"wt_1\",\"path\":\"a/./b\"}", "path"},
        {"{\"worktreeId\":\"wt_1\",\"message\":\"\"}", "message"},
        {"{\"worktreeId\":\"wt_1\",\"message\":7}", "message"},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        b = J(bad[i].body);
        memset(&e, 0, sizeof(e));
        assert_int_equal(ad_project_commit_check(b, &wt, &e), AD_EINVAL);
        assert_string_equal(e.field, bad[i].field);
        json_decref(b);
    }
}

static void save_and_changes(void **state)
{
    (void)state;
    ad_field_err_t e = {0};
    json_t *out = NULL;
    json_t *b = J("{\"name\":\"n\",\"description\":\"\",\"files\":[{\"path\":\"a.txt\","
                  "\"content\":\"x\"}]}");
    assert_int_equal(ad_project_save_args("proj_1", b, &out, &e), 0);
    assert_string_equal(json_string_value(json_object_get(out, "id")), "proj_1");
    assert_string_equal(json_string_value(json_object_get(out, "name")), "n");
    assert_string_equal(json_string_value(json_object_get(out, "description")), ""); /* cleared */
    assert_int_equal(json_array_size(json_object_get(out, "files")), 1);
    assert_null(json_object_get(out, "messages"));
    json_decref(out);
    json_decref(b);

    /* an empty name is left as it was */
    b = J("{\"name\":\"\"}");
    assert_int_equal(ad_project_save_args("proj_1", b, &out, &e), 0);
    assert_null(json_object_get(out, "name"));
    json_decref(out);
    json_decref(b);

    static const char *const bad_saves[] = {
        "{\"files\":[{\"path\":\"../x\",\"content\":\"\"}]}",
        "{\"files\":[{\"path\":\"a\",\"content\":\"1\"},{\"path\":\"a\",\"content\":\"2\"}]}",
        "{\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}",
        "{\"name\":5}",
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad_saves); i++) {
        b = J(bad_saves[i]);
        memset(&e, 0, sizeof(e));
        if (ad_project_save_args("proj_1", b, &out, &e) != AD_EINVAL) {
            fail_msg("%s was not refused", bad_saves[i]);
        }
        assert_true(e.field[0] != '\0');
        json_decref(b);
    }

    /* a PATCH may delete without content; changes are required */
    b = J("{\"changes\":[{\"path\":\"a.txt\",\"delete\":true}]}");
    assert_int_equal(ad_project_changes_check(b, &e), 0);
    json_t *args = ad_project_files_args("proj_1", json_object_get(b, "changes"));
    assert_string_equal(json_string_value(json_object_get(args, "id")), "proj_1");
    assert_int_equal(json_array_size(json_object_get(args, "changes")), 1);
    json_decref(args);
    json_decref(b);
    b = J("{}");
    assert_int_equal(ad_project_changes_check(b, &e), AD_EINVAL);
    assert_string_equal(e.field, "changes");
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sync_folders),
        cmocka_unit_test(commit_body),
        cmocka_unit_test(save_and_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
