/* SPDX-License-Identifier: MIT */
/*
 * Store side of a worktree's pull request (issue #32, migration 2410):
 * where it was opened and its last known state. The forge work is
 * src/forge's, the routes src/api/pr.c's.
 */
#include "store/table.h"
#include "tables/gitrows.h"

#include <string.h>

#define PR_COLS                                                                                    \
    "worktree_id, forge, api_base, owner, repo, number, url, title, head_branch AS head, "         \
    "base_branch AS base, state, draft, created_at, updated_at"

int ad_store_op_worktree_pr_put(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(
        db, "INSERT INTO worktree_prs (worktree_id, forge, api_base, owner, repo, url, title, "
            "head_branch, base_branch, state, number, draft, created_at, updated_at) VALUES (?1, "
            "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13) ON CONFLICT(worktree_id) DO "
            "UPDATE SET forge = ?2, api_base = ?3, owner = ?4, repo = ?5, url = ?6, title = ?7, "
            "head_branch = ?8, base_branch = ?9, state = ?10, number = ?11, draft = ?12, "
            "updated_at = ?13");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    static const char *keys[] = {"worktreeId", "forge", "apiBase", "owner", "repo",
                                 "url",        "title", "head",    "base",  "state"};
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        ad_store_bind_text(s, (int)i + 1, ad_args_str(args, keys[i]));
    }
    ad_db_bind_int64(s, 11, ad_args_int(args, "number", 0));
    ad_db_bind_int(s, 12, json_is_true(json_object_get(args, "draft")));
    ad_db_bind_int64(s, 13, ad_args_int(args, "now", 0));
    int e = ad_store_step_done(db, s);
    if (e == 0) {
        *result = json_object();
    }
    return e;
}

int ad_store_worktree_pr(ad_store_t *st, const char *worktree_id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT " PR_COLS " FROM worktree_prs WHERE worktree_id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, worktree_id);
    int rc = ad_db_step(s);
    if (rc == AD_DB_ROW) {
        *out = ad_store_row_json(s, NULL, NULL);
        json_object_set_new(*out, "draft",
                            json_boolean(json_integer_value(json_object_get(*out, "draft")) != 0));
    }
    ad_db_reset(s);
    if (rc == AD_DB_ROW) {
        return 0;
    }
    return rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
}
