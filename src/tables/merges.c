/* SPDX-License-Identifier: MIT */
/*
 * Store side of recorded merges (issue #32, migration 2320): the merges
 * agentd made of a worktree's branch, so the worktree reads merged after a
 * squash and its removal needs no force. The git work is src/git's.
 */
#include "store/table.h"
#include "tables/gitrows.h"

#include <string.h>

#define MERGE_COLS                                                                                 \
    "id, worktree_id, branch, into_branch AS \"into\", strategy, head, commit_id AS \"commit\", "  \
    "previous, created_at"

int ad_store_op_worktree_merge_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, "INSERT INTO worktree_merges (id, worktree_id, branch, "
                                        "into_branch, strategy, head, commit_id, previous, "
                                        "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    static const char *keys[] = {"id",       "worktreeId", "branch", "into",
                                 "strategy", "head",       "commit", "previous"};
    for (size_t i = 0; i < AD_ARRAY_LEN(keys); i++) {
        ad_store_bind_text(s, (int)i + 1, ad_args_str(args, keys[i]));
    }
    ad_db_bind_int64(s, 9, ad_args_int(args, "now", 0));
    int e = ad_store_step_done(db, s);
    if (e == 0) {
        *result = json_pack("{s:O}", "merge", args);
    }
    return e;
}

/* Newest first; ids are made in time order, so they break a tie within a
 * millisecond (rowid is SQLite's alone). */
int ad_store_worktree_merges(ad_store_t *st, const char *worktree_id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT " MERGE_COLS " FROM worktree_merges WHERE "
                                        "worktree_id = ?1 ORDER BY created_at DESC, id DESC "
                                        "LIMIT 100");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, worktree_id);
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, ad_store_row_json(s, NULL, "previous"));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        json_decref(arr);
        return ad_store_rc(db, rc);
    }
    *out = json_pack("{s:o}", "merges", arr);
    return 0;
}
