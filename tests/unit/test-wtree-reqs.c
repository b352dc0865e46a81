/* SPDX-License-Identifier: MIT */
/*
 * What a worktree request may name (src/wtree, issue #79's test for it):
 * the ref a review or write reads against (the base branch by default),
 * each write's body as git's arguments with every ref checked before git
 * sees it (never an option or a range), the create, checkout, PATCH, pull
 * request and setup bodies, and a git failure turned into an answer's
 * status, code and details (answer.c). The git work itself is src/git's
 * tests and the e2e suite's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "wtree/wtree.h"

static json_t *J(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static void refs(void **state)
{
    (void)state;
    json_t *wt = J("{\"path\":\"/w/a\",\"baseBranch\":\"main\"}");
    json_t *bare = J("{\"path\":\"/w/b\"}");
    ad_wtree_req_err_t err;
    const char *ref = NULL;
    char msg[400];
    assert_int_equal(ad_wtree_req_ref(wt, NULL, "ref", &ref, &err), 0);
    assert_string_equal(ref, "main");
    assert_int_equal(ad_wtree_req_ref(wt, "base", "ref", &ref, &err), 0);
    assert_string_equal(ref, "main");
    assert_int_equal(ad_wtree_req_ref(wt, "feature/x", "ref", &ref, &err), 0);
    assert_string_equal(ref, "feature/x");

    assert_int_equal(ad_wtree_req_ref(bare, NULL, "into", &ref, &err), AD_EINVAL);
    assert_string_equal(err.ref_reason, "no_base");
    ad_wtree_req_ref_why(&err, msg, sizeof(msg));
    assert_string_equal(msg, "this worktree has no base branch; name one with into");

    static const char *const bad[] = {"-x", "--upload-pack=evil", "a..b", "a b", "a~1^", ""};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        memset(&err, 0, sizeof(err));
        if (ad_wtree_req_ref(wt, bad[i], "ref", &ref, &err) != AD_EINVAL) {
            fail_msg("ref '%s' was not refused", bad[i]);
        }
        assert_string_equal(err.ref_reason, "invalid_ref");
        assert_string_equal(err.e.field, "ref");
        ad_wtree_req_ref_why(&err, msg, sizeof(msg));
        assert_int_equal(strncmp(msg, "ref: ", 5), 0);
    }
    json_decref(wt);
    json_decref(bare);
}

static void writes(void **state)
{
    (void)state;
    json_t *wt = J("{\"path\":\"/w/a\",\"baseBranch\":\"main\"}");
    ad_git_args_t a;
    ad_wtree_req_err_t err;
    json_t *b = J("{\"message\":\"fix\",\"all\":true}");
    assert_int_equal(ad_wtree_req_write(AD_GIT_OP_COMMIT, wt, b, &a, &err), 0);
    assert_string_equal(a.path, "/w/a");
    assert_string_equal(a.message, "fix");
    assert_true(a.force);
    json_decref(b);

    b = J("{\"strategy\":\"squash\",\"message\":\"\"}");
    assert_int_equal(ad_wtree_req_write(AD_GIT_OP_MERGE, wt, b, &a, &err), 0);
    assert_string_equal(a.branch, "main"); /* into the base by default */
    assert_string_equal(a.name, "squash");
    assert_null(a.message); /* an empty message is git's default */
    json_decref(b);

    b = J("{}");
    assert_int_equal(ad_wtree_req_write(AD_GIT_OP_REBASE, wt, b, &a, &err), 0);
    assert_string_equal(a.base, "main");
    assert_int_equal(ad_wtree_req_write(AD_GIT_OP_PUSH, wt, b, &a, &err), 0);
    assert_null(a.name); /* its upstream */
    json_decref(b);

    static const struct {
        ad_git_op_t op;
        const char *body, *field, *reason;
    } bad[] = {
        {AD_GIT_OP_COMMIT, "{}", "message", NULL},
        {AD_GIT_OP_COMMIT, "{\"message\":\"\"}", "message", NULL},
        {AD_GIT_OP_COMMIT, "{\"message\":\"m\",\"all\":\"yes\"}", "all", NULL},
        {AD_GIT_OP_MERGE, "{\"strategy\":\"octopus\"}", "strategy", NULL},
        {AD_GIT_OP_MERGE, "{\"into\":\"--force\"}", "into", "invalid_ref"},
        {AD_GIT_OP_REBASE, "{\"onto\":\"a..b\"}", "onto", "invalid_ref"},
        {AD_GIT_OP_PUSH, "{\"remote\":\"--receive-pack=x\"}", "remote", NULL},
        {AD_GIT_OP_PUSH, "{\"remote\":\"https://evil.example/x\"}", "remote", NULL},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad); i++) {
        b = J(bad[i].body);
        memset(&err, 0, sizeof(err));
        err.ref_reason = "unset";
        if (ad_wtree_req_write(bad[i].op, wt, b, &a, &err) != AD_EINVAL) {
            fail_msg("%s was not refused", bad[i].body);
        }
        assert_string_equal(err.e.field, bad[i].field);
        if (bad[i].reason == NULL) {
            assert_null(err.ref_reason);
        } else {
            assert_string_equal(err.ref_reason, bad[i].reason);
        }
        json_decref(b);
    }
    json_decref(wt);
}

static void bodies(void **state)
{
    (void)state;
    ad_field_err_t e;
    json_t *b = J("{\"workspaceId\":\"ws_1\",\"name\":\"feat\",\"createBranch\":true,"
                  "\"base\":\"main\"}");
    assert_int_equal(ad_wtree_create_check(b, &e), 0);
    json_decref(b);
    static const struct {
        const char *body, *field;
    } bad_create[] = {
        {"{\"name\":\"feat\"}", "workspaceId"},
        {"{\"workspaceId\":\"w\",\"name\":\"-rf\"}", "name"},
        {"{\"workspaceId\":\"w\",\"name\":\"ok\",\"branch\":\"a..b\"}", "branch"},
        {"{\"workspaceId\":\"w\",\"name\":\"ok\",\"createBranch\":1}", ""},
        {"{\"workspaceId\":\"w\",\"name\":\"ok\",\"base\":\"\"}", ""},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad_create); i++) {
        b = J(bad_create[i].body);
        memset(&e, 0, sizeof(e));
        assert_int_equal(ad_wtree_create_check(b, &e), AD_EINVAL);
        assert_string_equal(e.field, bad_create[i].field);
        assert_true(e.why[0] != '\0');
        json_decref(b);
    }

    b = J("{\"branch\":\"topic\",\"create\":true}");
    assert_int_equal(ad_wtree_checkout_check(b, &e), 0);
    json_decref(b);
    b = J("{}");
    assert_int_equal(ad_wtree_checkout_check(b, &e), AD_EINVAL);
    assert_string_equal(e.field, "branch");
    json_decref(b);
    b = J("{\"branch\":\"topic\",\"create\":\"y\"}");
    assert_int_equal(ad_wtree_checkout_check(b, &e), AD_EINVAL);
    assert_string_equal(e.field, "create");
    json_decref(b);

    b = J("{\"title\":\"t\",\"remote\":\"origin\",\"draft\":true}");
    assert_int_equal(ad_wtree_pr_check(b, &e), 0);
    json_decref(b);
    static const struct {
        const char *body, *field;
    } bad_pr[] = {
        {"{}", "title"},
        {"{\"title\":\"\"}", "title"},
        {"{\"title\":\"t\",\"remote\":\"-o\"}", "remote"},
        {"{\"title\":\"t\",\"draft\":\"no\"}", "draft"},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad_pr); i++) {
        b = J(bad_pr[i].body);
        memset(&e, 0, sizeof(e));
        assert_int_equal(ad_wtree_pr_check(b, &e), AD_EINVAL);
        assert_string_equal(e.field, bad_pr[i].field);
        json_decref(b);
    }

    /* a worktree's PATCH: names checked as at create */
    json_t *out = NULL;
    b = J("{\"name\":\"n2\",\"sortMode\":\"status\",\"displayOrder\":-3}");
    assert_int_equal(ad_wtree_update_args("wt_1", b, 7, &out, &e), 0);
    assert_string_equal(json_string_value(json_object_get(out, "name")), "n2");
    assert_string_equal(json_string_value(json_object_get(out, "sortMode")), "status");
    assert_int_equal(json_integer_value(json_object_get(out, "displayOrder")), -3);
    assert_int_equal(json_integer_value(json_object_get(out, "now")), 7);
    json_decref(out);
    json_decref(b);
    static const struct {
        const char *body, *field;
    } bad_patch[] = {
        {"{\"branch\":\"-x\"}", "branch"},
        {"{\"baseBranch\":\"a..b\"}", "baseBranch"},
        {"{\"sortMode\":\"random\"}", "sortMode"},
        {"{\"displayOrder\":1.5}", "displayOrder"},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(bad_patch); i++) {
        b = J(bad_patch[i].body);
        memset(&e, 0, sizeof(e));
        assert_int_equal(ad_wtree_update_args("wt_1", b, 7, &out, &e), AD_EINVAL);
        assert_string_equal(e.field, bad_patch[i].field);
        json_decref(b);
    }

    /* a workspace: its path and name; its PATCH takes sandbox only */
    const char *path = NULL;
    b = J("{\"path\":\"/r\",\"name\":null}");
    assert_int_equal(ad_wtree_ws_body_check(b, &path, &e), 0);
    assert_string_equal(path, "/r");
    json_decref(b);
    b = J("{\"path\":\"/r\",\"name\":\"\"}");
    assert_int_equal(ad_wtree_ws_body_check(b, &path, &e), AD_EINVAL);
    assert_string_equal(e.field, "name");
    json_decref(b);
    json_t *sb = NULL;
    b = J("{\"sandbox\":\"none\"}");
    assert_int_equal(ad_wtree_ws_patch_check(b, &sb, &e), 0);
    assert_string_equal(json_string_value(sb), "none");
    json_decref(b);
    b = J("{\"sandbox\":\"none\",\"path\":\"/elsewhere\"}");
    assert_int_equal(ad_wtree_ws_patch_check(b, &sb, &e), AD_EINVAL);
    assert_string_equal(e.field, "path");
    json_decref(b);
}

static void setup_bodies(void **state)
{
    (void)state;
    char msg[256];
    json_t *details = NULL;
    json_t *b = J("{\"setupFiles\":[\".env\",\"config/local.yml\"],\"setupCommand\":\"make\"}");
    assert_int_equal(ad_wtree_setup_files_check(b, msg, sizeof(msg), &details), 0);
    assert_int_equal(ad_wtree_setup_command_check(b, msg, sizeof(msg), &details), 0);
    json_t *args = ad_wtree_setup_args("ws_1", b, 9);
    assert_int_equal(json_array_size(json_object_get(args, "setupFiles")), 2);
    assert_string_equal(json_string_value(json_object_get(args, "setupCommand")), "make");
    json_decref(args);
    json_decref(b);

    static const char *const bad_files[] = {"../secret", "/etc/passwd", "a/../../b", ""};
    for (size_t i = 0; i < AD_ARRAY_LEN(bad_files); i++) {
        b = json_pack("{s:[s,s]}", "setupFiles", "fine.txt", bad_files[i]);
        details = NULL;
        if (ad_wtree_setup_files_check(b, msg, sizeof(msg), &details) != AD_EINVAL) {
            fail_msg("setup file '%s' was not refused", bad_files[i]);
        }
        assert_int_equal(json_integer_value(json_object_get(details, "index")), 1);
        json_decref(details);
        json_decref(b);
    }
    b = json_pack("{s:[]}", "setupFiles");
    for (int i = 0; i <= AD_WTREE_SETUP_FILES_MAX; i++) {
        json_array_append_new(json_object_get(b, "setupFiles"), json_string("f"));
    }
    details = NULL;
    assert_int_equal(ad_wtree_setup_files_check(b, msg, sizeof(msg), &details), AD_EINVAL);
    json_decref(details);
    json_decref(b);
    b = J("{\"setupCommand\":5}");
    details = NULL;
    assert_int_equal(ad_wtree_setup_command_check(b, msg, sizeof(msg), &details), AD_EINVAL);
    assert_string_equal(json_string_value(json_object_get(details, "field")), "setupCommand");
    json_decref(details);
    json_decref(b);
}

static json_t *answer(int rc, const char *reason, const char *ref_field, bool ws_create,
                      int *status, const char **code)
{
    ad_git_result_t res;
    memset(&res, 0, sizeof(res));
    res.rc = rc;
    snprintf(res.err.reason, sizeof(res.err.reason), "%s", reason);
    return ad_wtree_git_error(&res, ref_field, ws_create, status, code);
}

static void git_errors(void **state)
{
    (void)state;
    static const struct {
        int rc;
        const char *reason, *ref_field;
        bool ws_create;
        int status;
        const char *code;
    } cases[] = {
        {AD_ENOENT, "unknown_ref", "ref", false, 422, "VALIDATION_ERROR"},
        {AD_ENOENT, "unknown_branch", "into", false, 422, "VALIDATION_ERROR"},
        {AD_ENOENT, "unknown_ref", NULL, false, 404, "NOT_FOUND"},
        {AD_ENOENT, "not_found", NULL, false, 409, "WORKTREE_MISSING"},
        {AD_ENOENT, "not_a_repository", NULL, true, 422, "VALIDATION_ERROR"},
        {AD_EINVAL, "bad", NULL, false, 422, "VALIDATION_ERROR"},
        {AD_ESTATE, "dirty", NULL, false, 409, "CONFLICT"},
        {AD_ESTATE, "bare", NULL, true, 422, "VALIDATION_ERROR"},
        {AD_EEXIST, "exists", NULL, false, 409, "CONFLICT"},
        {AD_EPERM, "untrusted_git", NULL, false, 409, "CONFLICT"},
        {AD_EBUSY, "locked", NULL, false, 503, "UNAVAILABLE"},
        {AD_EIO, "", NULL, false, 500, "INTERNAL"},
    };
    for (size_t i = 0; i < AD_ARRAY_LEN(cases); i++) {
        int status = 0;
        const char *code = NULL;
        json_t *d = answer(cases[i].rc, cases[i].reason, cases[i].ref_field, cases[i].ws_create,
                           &status, &code);
        if (status != cases[i].status || strcmp(code, cases[i].code) != 0) {
            fail_msg("case %zu (%s): %d %s, not %d %s", i, cases[i].reason, status, code,
                     cases[i].status, cases[i].code);
        }
        if (cases[i].reason[0] != '\0') {
            assert_string_equal(json_string_value(json_object_get(d, "reason")), cases[i].reason);
        } else {
            assert_null(json_object_get(d, "reason"));
        }
        if (cases[i].ref_field != NULL && status == 422) {
            assert_string_equal(json_string_value(json_object_get(d, "field")), cases[i].ref_field);
        }
        if (cases[i].ws_create) {
            assert_string_equal(json_string_value(json_object_get(d, "field")), "path");
        }
        json_decref(d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(refs),         cmocka_unit_test(writes),     cmocka_unit_test(bodies),
        cmocka_unit_test(setup_bodies), cmocka_unit_test(git_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
