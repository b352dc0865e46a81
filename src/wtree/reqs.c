/* SPDX-License-Identifier: MIT */
/*
 * What a review or a write of a worktree may name (review.c runs them):
 * the ref it reads against or writes into (the worktree's base branch
 * when none or "base" is given), and each write's body as git's arguments,
 * every ref checked (ad_git_ref_valid) before git sees it; and what a
 * workspace's setup and PATCH bodies give the store. Pure: any thread;
 * src/api answers 422 on the field named.
 */
#include "wtree/wtree.h"
#include "rows.h"

#include <stdio.h>
#include <string.h>

#define MESSAGE_MAX 20000

static int plain(ad_wtree_req_err_t *err)
{
    err->ref_reason = NULL;
    return AD_EINVAL;
}

int ad_wtree_req_ref(const json_t *wt, const char *given, const char *field, const char **ref,
                     ad_wtree_req_err_t *err)
{
    const char *r = given;
    snprintf(err->e.field, sizeof(err->e.field), "%s", field);
    if (r == NULL || strcmp(r, "base") == 0) {
        r = json_string_value(json_object_get(wt, "baseBranch"));
        if (r == NULL || r[0] == '\0') {
            err->ref_reason = "no_base";
            err->e.why[0] = '\0';
            return AD_EINVAL;
        }
    }
    if (!ad_git_ref_valid(r, err->e.why, sizeof(err->e.why))) {
        err->ref_reason = "invalid_ref";
        return AD_EINVAL;
    }
    *ref = r;
    return 0;
}

static int commit_args(const json_t *body, ad_git_args_t *a, ad_wtree_req_err_t *err)
{
    const char *message = NULL;
    bool all = false;
    if (ad_field_str(body, "message", true, MESSAGE_MAX, &message, &err->e) != 0 ||
        ad_field_bool(body, "all", &all, NULL, &err->e) != 0) {
        return plain(err);
    }
    if (message[0] == '\0') {
        ad_field_fail(&err->e, "message", "a commit message is required");
        return plain(err);
    }
    a->message = message;
    a->force = all;
    return 0;
}

static int merge_args(const json_t *wt, const json_t *body, ad_git_args_t *a,
                      ad_wtree_req_err_t *err)
{
    const char *into = NULL, *strategy = "merge", *message = NULL;
    if (ad_field_str(body, "into", false, 256, &into, &err->e) != 0 ||
        ad_field_enum(body, "strategy", false, "merge,squash,rebase", &strategy, &err->e) != 0 ||
        ad_field_str(body, "message", false, MESSAGE_MAX, &message, &err->e) != 0) {
        return plain(err);
    }
    if (ad_wtree_req_ref(wt, into, "into", &into, err) != 0) {
        return AD_EINVAL;
    }
    if (!ad_git_branch_name_valid(into, err->e.why, sizeof(err->e.why))) {
        snprintf(err->e.field, sizeof(err->e.field), "into");
        return plain(err);
    }
    a->branch = into;
    a->name = strategy;
    a->message = message != NULL && message[0] != '\0' ? message : NULL;
    return 0;
}

int ad_wtree_req_write(ad_git_op_t op, const json_t *wt, const json_t *body, ad_git_args_t *a,
                       ad_wtree_req_err_t *err)
{
    memset(a, 0, sizeof(*a));
    a->path = json_string_value(json_object_get(wt, "path"));
    const char *s = NULL;
    switch (op) {
    case AD_GIT_OP_COMMIT:
        return commit_args(body, a, err);
    case AD_GIT_OP_MERGE:
        return merge_args(wt, body, a, err);
    case AD_GIT_OP_REBASE:
        if (ad_field_str(body, "onto", false, 256, &s, &err->e) != 0) {
            return plain(err);
        }
        return ad_wtree_req_ref(wt, s, "onto", &a->base, err);
    default: /* push */
        if (ad_field_str(body, "remote", false, 200, &s, &err->e) != 0) {
            return plain(err);
        }
        /* A remote name follows the ref rules too: never an option or a URL. */
        if (s != NULL && !ad_git_ref_valid(s, err->e.why, sizeof(err->e.why))) {
            snprintf(err->e.field, sizeof(err->e.field), "remote");
            return plain(err);
        }
        a->name = s;
        return 0;
    }
}

json_t *ad_wtree_setup_args(const char *id, const json_t *body, int64_t now)
{
    json_t *args = json_pack("{s:s, s:I}", "id", id, "now", (json_int_t)now);
    if (json_object_get(body, "setupFiles") != NULL) {
        json_object_set(args, "setupFiles", json_object_get(body, "setupFiles"));
    }
    if (json_object_get(body, "setupCommand") != NULL) {
        json_object_set(args, "setupCommand", json_object_get(body, "setupCommand"));
    }
    return args;
}

int ad_wtree_ws_patch_check(const json_t *body, json_t **sandbox, ad_field_err_t *e)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v)
    {
        if (strcmp(k, "sandbox") != 0) {
            return ad_field_fail(e, k, "cannot be changed here (PATCH takes sandbox)");
        }
    }
    *sandbox = json_object_get(body, "sandbox");
    return *sandbox == NULL ? ad_field_fail(e, "sandbox", "is required") : 0;
}

/* A git name of body checked by valid (NULL: absent), set in args. */
static int git_name(const json_t *body, const char *key, size_t maxlen,
                    bool (*valid)(const char *, char *, size_t), json_t *args, ad_field_err_t *e)
{
    const char *v = NULL;
    if (ad_field_str(body, key, false, maxlen, &v, e) != 0) {
        return AD_EINVAL;
    }
    if (v != NULL && !valid(v, e->why, sizeof(e->why))) {
        snprintf(e->field, sizeof(e->field), "%s", key);
        return AD_EINVAL;
    }
    if (v != NULL) {
        json_object_set_new(args, key, json_string(v));
    }
    return 0;
}

int ad_wtree_update_args(const char *id, const json_t *body, int64_t now, json_t **out,
                         ad_field_err_t *e)
{
    const char *mode = NULL, *s = NULL;
    int64_t order = 0;
    bool has_order = false;
    json_t *args = json_pack("{s:s, s:I}", "id", id, "now", (json_int_t)now);
    /* The same rules as creating one: a name or branch git would read as
     * an option or a range ("-x", "--upload-pack=x", "a..b") never lands. */
    if (ad_field_str(body, "name", false, 200, &s, e) != 0 ||
        ad_field_str(body, "branch", false, 250, &s, e) != 0 ||
        ad_field_str(body, "baseBranch", false, 250, &s, e) != 0 ||
        ad_field_enum(body, "sortMode", false, AD_ROW_SORT_MODE_CHOICES, &mode, e) != 0 ||
        ad_field_int(body, "displayOrder", false, -1000000000, 1000000000, &order, &has_order, e) !=
            0 ||
        git_name(body, "name", 200, ad_git_worktree_name_valid, args, e) != 0 ||
        git_name(body, "branch", 250, ad_git_branch_name_valid, args, e) != 0 ||
        git_name(body, "baseBranch", 250, ad_git_ref_valid, args, e) != 0) {
        json_decref(args);
        return AD_EINVAL;
    }
    if (mode != NULL) {
        json_object_set_new(args, "sortMode", json_string(mode));
    }
    if (has_order) {
        json_object_set_new(args, "displayOrder", json_integer(order));
    }
    *out = args;
    return 0;
}

int ad_wtree_ws_body_check(const json_t *body, const char **path, ad_field_err_t *e)
{
    *path = json_string_value(json_object_get(body, "path"));
    json_t *name = json_object_get(body, "name");
    if (*path == NULL || (*path)[0] == '\0') {
        return ad_field_fail(e, "path", "is required: the folder of a git work tree");
    }
    if (name != NULL && !json_is_null(name) &&
        (!json_is_string(name) || json_string_length(name) == 0 ||
         json_string_length(name) > 200)) {
        return ad_field_fail(e, "name", "must be a string of 1 to 200 characters");
    }
    return 0;
}

int ad_wtree_create_check(const json_t *body, ad_field_err_t *e)
{
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *branch = json_string_value(json_object_get(body, "branch"));
    json_t *create = json_object_get(body, "createBranch");
    json_t *base = json_object_get(body, "base");
    e->field[0] = '\0';
    if (json_string_value(json_object_get(body, "workspaceId")) == NULL) {
        snprintf(e->field, sizeof(e->field), "workspaceId");
        snprintf(e->why, sizeof(e->why), "workspaceId is required");
    } else if (!ad_git_worktree_name_valid(name, e->why, sizeof(e->why))) {
        snprintf(e->field, sizeof(e->field), "name");
    } else if (!ad_git_branch_name_valid(branch != NULL ? branch : name, e->why, sizeof(e->why))) {
        snprintf(e->field, sizeof(e->field),
                 "branch"); /* a worktree's branch defaults to its name */
    } else if ((create != NULL && !json_is_boolean(create)) ||
               (base != NULL && !json_is_null(base) &&
                (!json_is_string(base) || json_string_length(base) == 0 ||
                 json_string_length(base) > 256))) {
        snprintf(e->why, sizeof(e->why),
                 "createBranch must be a boolean and base a commit-ish string");
        return AD_EINVAL;
    } else {
        return 0;
    }
    return AD_EINVAL;
}

int ad_wtree_checkout_check(const json_t *body, ad_field_err_t *e)
{
    const char *branch = json_string_value(json_object_get(body, "branch"));
    json_t *create = json_object_get(body, "create");
    if (!ad_git_branch_name_valid(branch, e->why, sizeof(e->why))) {
        snprintf(e->field, sizeof(e->field), "branch");
        if (branch == NULL) {
            snprintf(e->why, sizeof(e->why), "branch is required");
        }
        return AD_EINVAL;
    }
    if (create != NULL && !json_is_boolean(create)) {
        snprintf(e->field, sizeof(e->field), "create");
        snprintf(e->why, sizeof(e->why), "create must be a boolean");
        return AD_EINVAL;
    }
    return 0;
}

int ad_wtree_pr_check(const json_t *body, ad_field_err_t *e)
{
    const char *title = NULL, *text = NULL, *remote = NULL;
    bool draft = false;
    if (ad_field_str(body, "title", true, 256, &title, e) != 0 ||
        ad_field_str(body, "body", false, 65536, &text, e) != 0 ||
        ad_field_bool(body, "draft", &draft, NULL, e) != 0 ||
        ad_field_str(body, "remote", false, 200, &remote, e) != 0) {
        return AD_EINVAL;
    }
    if (title[0] == '\0') {
        return ad_field_fail(e, "title", "a title is required");
    }
    if (remote != NULL && !ad_git_ref_valid(remote, e->why, sizeof(e->why))) {
        snprintf(e->field, sizeof(e->field), "remote");
        return AD_EINVAL;
    }
    return 0;
}

void ad_wtree_req_ref_why(const ad_wtree_req_err_t *err, char *msg, size_t n)
{
    if (err->ref_reason != NULL && strcmp(err->ref_reason, "no_base") == 0) {
        snprintf(msg, n, "this worktree has no base branch; name one with %s", err->e.field);
    } else {
        snprintf(msg, n, "%s: %s", err->e.field, err->e.why);
    }
}
