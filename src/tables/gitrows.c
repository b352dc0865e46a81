/* SPDX-License-Identifier: MIT */
/*
 * Store side of git worktrees (issue 7, migration 0200): creating a
 * workspace with every worktree git knows, reconciling the rows with git's
 * list on refresh (vanished worktrees with agents are kept and flagged), and
 * the per-workspace setup and per-worktree setup outcome. The git work
 * itself is src/git's; this file only keeps rows.
 */
#include "store/table.h"
#include "tables/gitrows.h"
#include "tables/tables_int.h"
#include "tables/workspaces.h"

#include <string.h>

#define WT_SYNC_COLS                                                                               \
    "id, workspace_id, name, branch, path, sort_mode, display_order, is_main, created_at, "        \
    "updated_at, vanished_at, org_id, base_branch"

static int wt_row(ad_db_t *db, const char *id, json_t **out)
{
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT " WT_SYNC_COLS ", setup FROM worktrees WHERE id = ?1 AND "
                          "removed_at IS NULL");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_json(db, s, "setup", NULL, out);
}

static int set_setup(ad_db_t *db, const char *ws_id, json_t *files, const char *command,
                     int64_t now)
{
    /* A changed command must be approved again before it runs. */
    ad_db_stmt_t *s = ad_store_stmt(
        db, "UPDATE workspaces SET setup_files = COALESCE(?2, setup_files), "
            "setup_command_approved = CASE WHEN ?3 IS NULL OR ?3 = setup_command THEN "
            "setup_command_approved ELSE 0 END, setup_command = COALESCE(?3, setup_command), "
            "updated_at = ?4 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ws_id);
    ad_store_bind_json(s, 2, files);
    ad_store_bind_text(s, 3, command);
    ad_db_bind_int64(s, 4, now);
    int e = ad_store_step_done(db, s);
    if (e == 0 && ad_db_changes(db) == 0) {
        e = AD_ENOENT;
    }
    return e;
}

/* The same path of the same org added again after it was removed: the
 * workspace comes back (its worktrees too; its agents stay archived), and
 * args' id becomes its id. 0 when revived, AD_ENOENT when there is none. */
static int revive(ad_db_t *db, json_t *args, int64_t now)
{
    ad_db_stmt_t *s = ad_store_stmt(db, "UPDATE workspaces SET removed_at = NULL, updated_at = ?3 "
                                        "WHERE path = ?1 AND org_id = ?2 AND removed_at IS NOT "
                                        "NULL RETURNING id");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "path"));
    ad_store_bind_text(s, 2, ad_args_str(args, "orgId"));
    ad_db_bind_int64(s, 3, now);
    int rc = ad_db_step(s);
    int e = AD_ENOENT;
    if (rc == AD_DB_ROW) {
        json_object_set_new(args, "id", json_string((const char *)ad_db_column_text(s, 0)));
        rc = ad_db_step(s);
        e = 0;
    }
    if (rc != AD_DB_DONE) {
        e = ad_store_rc(db, rc);
    }
    ad_db_reset(s);
    return e;
}

int ad_store_op_workspace_git_create(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    json_t *r = NULL;
    int64_t now = ad_args_int(args, "now", 0);
    int e = revive(db, args, now);
    if (e == 0) {
        json_t *ws = NULL, *wts = NULL;
        e = ad_store_git_workspace_read(db, ad_args_str(args, "id"), &ws, &wts);
        if (e == 0) {
            *result = json_pack("{s:o, s:o}", "workspace", ws, "worktrees", wts);
        }
        return e;
    }
    if (e != AD_ENOENT) {
        return e;
    }
    e = ad_store_op_workspace_insert(tx, args, &r);
    if (e != 0) {
        json_decref(r);
        return e;
    }
    json_t *files = json_object_get(args, "setupFiles");
    const char *command = ad_args_str(args, "setupCommand");
    if (files != NULL || command != NULL) {
        e = set_setup(db, ad_args_str(args, "id"), files, command, now);
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(args, "linked"), i, v)
    {
        if (e != 0) {
            break;
        }
        json_t *wa = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:I}", "id", ad_args_str(v, "id"),
                               "workspaceId", ad_args_str(args, "id"), "name",
                               ad_args_str(v, "name"), "branch", ad_args_str(v, "branch"), "path",
                               ad_args_str(v, "path"), "now", (json_int_t)now);
        json_t *wr = NULL;
        e = ad_store_op_worktree_insert(tx, wa, &wr);
        json_decref(wa);
        json_decref(wr);
    }
    json_decref(r);
    if (e == 0) {
        json_t *ws = NULL, *wts = NULL;
        e = ad_store_git_workspace_read(db, ad_args_str(args, "id"), &ws, &wts);
        if (e == 0) {
            *result = json_pack("{s:o, s:o}", "workspace", ws, "worktrees", wts);
        }
    }
    return e;
}

int ad_store_git_workspace_read(ad_db_t *db, const char *id, json_t **ws, json_t **worktrees)
{
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT id, name, path, setup_files, setup_command, "
                          "setup_command_approved AS is_setup_command_approved, "
                          "created_at, updated_at, org_id, sandbox FROM workspaces WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    int e = ad_store_one_json(db, s, "setup_files,sandbox", NULL, ws);
    if (e != 0 || worktrees == NULL) {
        return e;
    }
    s = ad_store_stmt(
        db,
        "SELECT " WT_SYNC_COLS ", setup FROM worktrees WHERE workspace_id = ?1 "
        "AND removed_at IS NULL ORDER BY is_main DESC, display_order, created_at, id LIMIT 10000");
    if (s == NULL) {
        json_decref(*ws);
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, ad_store_row_json(s, "setup", NULL));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        json_decref(arr);
        json_decref(*ws);
        return ad_store_rc(db, rc);
    }
    *worktrees = arr;
    return 0;
}

int ad_store_git_workspace_get(ad_store_t *st, const char *id, json_t **out)
{
    json_t *ws = NULL, *wts = NULL;
    int e = ad_store_git_workspace_read(ad_store_rdb(st), id, &ws, &wts);
    if (e == 0) {
        json_object_set_new(ws, "worktrees", wts);
        *out = ws;
    }
    return e;
}

int ad_store_git_worktree_get(ad_store_t *st, const char *id, json_t **out)
{
    return wt_row(ad_store_rdb(st), id, out);
}

int ad_store_op_worktree_git_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    json_t *r = NULL;
    int e = ad_store_op_worktree_insert(tx, args, &r);
    json_decref(r);
    json_t *setup = json_object_get(args, "setup");
    if (e == 0 && setup != NULL) {
        ad_db_stmt_t *s = ad_store_stmt(db, "UPDATE worktrees SET setup = ?2 WHERE id = ?1");
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_store_bind_text(s, 1, ad_args_str(args, "id"));
        ad_store_bind_json(s, 2, setup);
        e = ad_store_step_done(db, s);
    }
    json_t *w = NULL;
    if (e == 0) {
        e = wt_row(db, ad_args_str(args, "id"), &w);
    }
    if (e == 0) {
        *result = json_pack("{s:o}", "worktree", w);
    }
    return e;
}

int ad_store_op_workspace_setup_update(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    int e = set_setup(db, ad_args_str(args, "id"), json_object_get(args, "setupFiles"),
                      ad_args_str(args, "setupCommand"), ad_args_int(args, "now", 0));
    json_t *ws = NULL;
    if (e == 0) {
        e = ad_store_git_workspace_read(db, ad_args_str(args, "id"), &ws, NULL);
    }
    if (e == 0) {
        *result = json_pack("{s:o}", "workspace", ws);
    }
    return e;
}

static int worktree_setup_save(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const ad_store_worktree_setup_t *a = in;
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s =
        ad_store_stmt(db, "UPDATE worktrees SET setup = ?2, updated_at = ?3 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, a->id);
    ad_store_bind_json(s, 2, a->setup);
    ad_db_bind_int64(s, 3, a->now);
    int e = ad_store_step_done(db, s);
    if (e == 0 && ad_db_changes(db) == 0) {
        e = AD_ENOENT; /* deleted while its setup ran */
    }
    json_t *w = NULL;
    if (e == 0) {
        e = wt_row(db, a->id, &w);
    }
    if (e == 0) {
        *result = json_pack("{s:o}", "worktree", w);
    }
    return e;
}

static void worktree_setup_cleanup(void *in)
{
    json_decref(((ad_store_worktree_setup_t *)in)->setup);
}

void ad_store_worktree_setup_save(ad_store_t *st, const ad_store_worktree_setup_t *in,
                                  ad_store_result_cb cb, void *ud)
{
    ad_store_typed_write(st, worktree_setup_save, in, sizeof(*in), worktree_setup_cleanup, cb, ud);
}

/* Sets or clears the vanished flag of a worktree and of its agents; the
 * ids of the agents whose flag changed are appended to agents. */
static int flag_vanished(ad_db_t *db, const char *wt_id, int64_t now, bool vanished, json_t *agents)
{
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT id FROM agents WHERE worktree_id = ?1 AND "
                                        "(worktree_vanished_at IS NULL) = ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, wt_id);
    ad_db_bind_int(s, 2, vanished ? 1 : 0);
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(agents, json_string((const char *)ad_db_column_text(s, 0)));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        return ad_store_rc(db, rc);
    }
    s = ad_store_stmt(db, "UPDATE agents SET worktree_vanished_at = ?2 WHERE worktree_id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, wt_id);
    if (vanished) {
        ad_db_bind_int64(s, 2, now);
    }
    int e = ad_store_step_done(db, s);
    if (e != 0) {
        return e;
    }
    s = ad_store_stmt(db, "UPDATE worktrees SET vanished_at = ?2, updated_at = ?3 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, wt_id);
    if (vanished) {
        ad_db_bind_int64(s, 2, now);
    }
    ad_db_bind_int64(s, 3, now);
    return ad_store_step_done(db, s);
}

/* The present (not missing) entry of git's list with this path, or NULL. */
static json_t *git_entry_at(json_t *list, const char *path)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        const char *p = ad_args_str(v, "path");
        if (p != NULL && strcmp(p, path) == 0 && !json_is_true(json_object_get(v, "missing"))) {
            return v;
        }
    }
    return NULL;
}

/* One sync's state: git's list, and the changes it made, by kind. */
typedef struct {
    ad_store_tx_t *tx;
    const char *ws_id;
    json_t *git;
    int64_t now;
    json_t *seen; /* paths of rows git still has */
    json_t *added, *updated, *vanished, *restored, *removed, *flagged, *unflagged;
} sync_t;

/* A row git still lists: follow its branch, unflag it if it was vanished. */
static int sync_present(sync_t *y, json_t *row, json_t *g)
{
    ad_db_t *db = y->tx->db;
    const char *id = ad_args_str(row, "id");
    const char *branch = ad_args_str(g, "branch");
    const char *had = ad_args_str(row, "branch");
    int e = 0;
    json_object_set_new(y->seen, ad_args_str(row, "path"), json_true());
    if (strcmp(branch != NULL ? branch : "", had != NULL ? had : "") != 0) {
        ad_db_stmt_t *s =
            ad_store_stmt(db, "UPDATE worktrees SET branch = ?2, updated_at = ?3 WHERE id = ?1");
        ad_store_bind_text(s, 1, id);
        ad_store_bind_text(s, 2, branch != NULL ? branch : ""); /* "": detached */
        ad_db_bind_int64(s, 3, y->now);
        e = ad_store_step_done(db, s);
        json_array_append_new(y->updated, json_string(id));
    }
    if (e == 0 && json_object_get(row, "vanishedAt") != NULL) {
        e = flag_vanished(db, id, y->now, false, y->unflagged);
        json_array_append_new(y->restored, json_string(id));
    }
    return e;
}

/* A linked row whose folder git no longer lists: kept and flagged while
 * agents use it, else deleted. */
static int sync_gone(sync_t *y, json_t *row)
{
    ad_db_t *db = y->tx->db;
    const char *id = ad_args_str(row, "id");
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT COUNT(*) FROM agents WHERE worktree_id = ?1");
    ad_store_bind_text(s, 1, id);
    int rc = ad_db_step(s);
    int64_t n = rc == AD_DB_ROW ? ad_db_column_int64(s, 0) : 0;
    ad_db_reset(s);
    if (rc != AD_DB_ROW) {
        return ad_store_rc(db, rc);
    }
    if (n > 0 && json_object_get(row, "vanishedAt") == NULL) {
        json_array_append_new(y->vanished, json_string(id));
        return flag_vanished(db, id, y->now, true, y->flagged);
    }
    if (n == 0) {
        s = ad_store_stmt(db, "DELETE FROM worktrees WHERE id = ?1");
        ad_store_bind_text(s, 1, id);
        json_array_append_new(y->removed, json_incref(row));
        return ad_store_step_done(db, s);
    }
    return 0;
}

/* Rows for the linked worktrees git lists and the table does not have. */
static int sync_new(sync_t *y)
{
    size_t i;
    json_t *g;
    json_array_foreach(y->git, i, g)
    {
        const char *path = ad_args_str(g, "path");
        if (path == NULL || json_object_get(y->seen, path) != NULL ||
            json_is_true(json_object_get(g, "missing")) ||
            json_is_true(json_object_get(g, "isMain"))) {
            continue;
        }
        char id[AD_ID_MAX];
        ad_id_new("wt", id);
        const char *branch = ad_args_str(g, "branch");
        json_t *wa =
            json_pack("{s:s, s:s, s:s?, s:s, s:s, s:I}", "id", id, "workspaceId", y->ws_id, "name",
                      ad_args_str(g, "name"), "branch", branch != NULL ? branch : "", "path", path,
                      "now", (json_int_t)y->now);
        json_t *wr = NULL;
        int e = ad_store_op_worktree_insert(y->tx, wa, &wr);
        json_decref(wa);
        json_decref(wr);
        if (e != 0) {
            return e;
        }
        json_array_append_new(y->added, json_string(id));
    }
    return 0;
}

int ad_store_op_workspace_git_sync(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    sync_t y = {.tx = tx,
                .ws_id = ad_args_str(args, "workspaceId"),
                .git = json_object_get(args, "worktrees"),
                .now = ad_args_int(args, "now", 0),
                .seen = json_object(),
                .added = json_array(),
                .updated = json_array(),
                .vanished = json_array(),
                .restored = json_array(),
                .removed = json_array(),
                .flagged = json_array(),
                .unflagged = json_array()};
    json_t *rows = NULL;
    json_t *ws = NULL;
    int e = ad_store_git_workspace_read(tx->db, y.ws_id, &ws, &rows);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (e != 0) {
            break;
        }
        json_t *g = git_entry_at(y.git, ad_args_str(row, "path"));
        if (g != NULL) {
            e = sync_present(&y, row, g);
        } else if (!json_is_true(json_object_get(row, "isMain"))) {
            e = sync_gone(&y, row);
        }
    }
    e = e != 0 ? e : sync_new(&y);
    json_decref(rows);
    json_decref(ws);
    rows = ws = NULL;
    e = e != 0 ? e : ad_store_git_workspace_read(tx->db, y.ws_id, &ws, &rows);
    if (e == 0) {
        *result = json_pack("{s:O, s:O, s:{s:O, s:O, s:O, s:O, s:O, s:O, s:O}}", "workspace", ws,
                            "worktrees", rows, "changes", "added", y.added, "updated", y.updated,
                            "vanished", y.vanished, "restored", y.restored, "removed", y.removed,
                            "flaggedAgents", y.flagged, "unflaggedAgents", y.unflagged);
    }
    json_t *owned[] = {ws,         rows,       y.seen,    y.added,   y.updated,
                       y.vanished, y.restored, y.removed, y.flagged, y.unflagged};
    for (size_t k = 0; k < AD_ARRAY_LEN(owned); k++) {
        json_decref(owned[k]);
    }
    return e;
}

typedef struct {
    char id[AD_ID_MAX];
    char command[4100];
} approve_t;

static int setup_approve(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const approve_t *a = in;
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "UPDATE workspaces SET setup_command_approved = 1 "
                                            "WHERE id = ?1 AND setup_command = ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, a->id);
    ad_store_bind_text(s, 2, a->command);
    int rc = ad_store_step_done(tx->db, s);
    return rc == 0 && ad_db_changes(tx->db) == 0 ? AD_ESTATE : rc;
}

void ad_store_setup_command_approve(ad_store_t *st, const char *ws_id, const char *command,
                                    ad_store_result_cb cb, void *ud)
{
    approve_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.id, sizeof(a.id), "%s", ws_id);
    snprintf(a.command, sizeof(a.command), "%s", command);
    ad_store_typed_write(st, setup_approve, &a, sizeof(a), NULL, cb, ud);
}
