/* SPDX-License-Identifier: MIT */
/*
 * Store side of git worktrees (issue 7, migration 0200): creating a
 * workspace with every worktree git knows, reconciling the rows with git's
 * list on refresh (vanished worktrees with agents are kept and flagged), and
 * the per-workspace setup and per-worktree setup outcome. The git work
 * itself is src/git's; this file only keeps rows.
 */
#include "store/store.h"
#include "store/store_int.h"

#include <string.h>

#define WT_SYNC_COLS                                                                               \
    "id, workspace_id, name, branch, path, sort_mode, display_order, is_main, created_at, "        \
    "updated_at, vanished_at"

static int wt_row(sqlite3 *db, const char *id, json_t **out)
{
    sqlite3_stmt *s =
        ad_store_stmt(db, "SELECT " WT_SYNC_COLS ", setup FROM worktrees WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_json(db, s, "setup", NULL, out);
}

static int set_setup(sqlite3 *db, const char *ws_id, json_t *files, const char *command,
                     int64_t now)
{
    sqlite3_stmt *s = ad_store_stmt(db, "UPDATE workspaces SET setup_files = COALESCE(?2, "
                                        "setup_files), setup_command = COALESCE(?3, "
                                        "setup_command), updated_at = ?4 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ws_id);
    ad_store_bind_json(s, 2, files);
    ad_store_bind_text(s, 3, command);
    sqlite3_bind_int64(s, 4, now);
    int e = ad_store_step_done(db, s);
    if (e == 0 && sqlite3_changes(db) == 0) {
        e = AD_ENOENT;
    }
    return e;
}

int ad_store_op_workspace_git_create(sqlite3 *db, json_t *args, json_t **result)
{
    json_t *r = NULL;
    int64_t now = ad_args_int(args, "now", 0);
    int e = ad_store_op_workspace_insert(db, args, &r);
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
        e = ad_store_op_worktree_insert(db, wa, &wr);
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

int ad_store_git_workspace_read(sqlite3 *db, const char *id, json_t **ws, json_t **worktrees)
{
    sqlite3_stmt *s = ad_store_stmt(db, "SELECT id, name, path, setup_files, setup_command, "
                                        "created_at, updated_at FROM workspaces WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    int e = ad_store_one_json(db, s, "setup_files", NULL, ws);
    if (e != 0 || worktrees == NULL) {
        return e;
    }
    s = ad_store_stmt(db, "SELECT " WT_SYNC_COLS ", setup FROM worktrees WHERE workspace_id = ?1 "
                          "ORDER BY is_main DESC, display_order, created_at, id LIMIT 10000");
    if (s == NULL) {
        json_decref(*ws);
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_array_append_new(arr, ad_store_row_json(s, "setup", NULL));
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
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

int ad_store_op_worktree_git_insert(sqlite3 *db, json_t *args, json_t **result)
{
    json_t *r = NULL;
    int e = ad_store_op_worktree_insert(db, args, &r);
    json_decref(r);
    json_t *setup = json_object_get(args, "setup");
    if (e == 0 && setup != NULL) {
        sqlite3_stmt *s = ad_store_stmt(db, "UPDATE worktrees SET setup = ?2 WHERE id = ?1");
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

int ad_store_op_workspace_setup_update(sqlite3 *db, json_t *args, json_t **result)
{
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

int ad_store_op_worktree_setup_result(sqlite3 *db, json_t *args, json_t **result)
{
    sqlite3_stmt *s =
        ad_store_stmt(db, "UPDATE worktrees SET setup = ?2, updated_at = ?3 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_json(s, 2, json_object_get(args, "setup"));
    sqlite3_bind_int64(s, 3, ad_args_int(args, "now", 0));
    int e = ad_store_step_done(db, s);
    if (e == 0 && sqlite3_changes(db) == 0) {
        e = AD_ENOENT; /* deleted while its setup ran */
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

/* Sets or clears the vanished flag of a worktree and of its agents; the
 * ids of the agents whose flag changed are appended to agents. */
static int flag_vanished(sqlite3 *db, const char *wt_id, int64_t now, bool vanished, json_t *agents)
{
    sqlite3_stmt *s = ad_store_stmt(db, "SELECT id FROM agents WHERE worktree_id = ?1 AND "
                                        "(worktree_vanished_at IS NULL) = ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, wt_id);
    sqlite3_bind_int(s, 2, vanished ? 1 : 0);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        json_array_append_new(agents, json_string((const char *)sqlite3_column_text(s, 0)));
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        return ad_store_rc(db, rc);
    }
    s = ad_store_stmt(db, "UPDATE agents SET worktree_vanished_at = ?2 WHERE worktree_id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, wt_id);
    if (vanished) {
        sqlite3_bind_int64(s, 2, now);
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
        sqlite3_bind_int64(s, 2, now);
    }
    sqlite3_bind_int64(s, 3, now);
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

int ad_store_op_workspace_git_sync(sqlite3 *db, json_t *args, json_t **result)
{
    const char *ws_id = ad_args_str(args, "workspaceId");
    json_t *git = json_object_get(args, "worktrees");
    int64_t now = ad_args_int(args, "now", 0);
    json_t *rows = NULL;
    json_t *ws = NULL;
    json_t *added = json_array(), *updated = json_array(), *vanished = json_array();
    json_t *restored = json_array(), *removed = json_array();
    json_t *flagged = json_array(), *unflagged = json_array();
    json_t *seen = json_object();
    int e = ad_store_git_workspace_read(db, ws_id, &ws, &rows);
    if (e != 0) {
        goto out;
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *id = ad_args_str(row, "id");
        const char *path = ad_args_str(row, "path");
        json_t *g = git_entry_at(git, path);
        bool was_vanished = json_object_get(row, "vanishedAt") != NULL;
        if (g != NULL) {
            json_object_set_new(seen, path, json_true());
            const char *branch = ad_args_str(g, "branch");
            if (branch == NULL) {
                branch = ""; /* detached */
            }
            if (strcmp(branch, ad_args_str(row, "branch") ? ad_args_str(row, "branch") : "") != 0) {
                sqlite3_stmt *s = ad_store_stmt(db, "UPDATE worktrees SET branch = ?2, "
                                                    "updated_at = ?3 WHERE id = ?1");
                ad_store_bind_text(s, 1, id);
                ad_store_bind_text(s, 2, branch);
                sqlite3_bind_int64(s, 3, now);
                e = ad_store_step_done(db, s);
                json_array_append_new(updated, json_string(id));
            }
            if (e == 0 && was_vanished) {
                e = flag_vanished(db, id, now, false, unflagged);
                json_array_append_new(restored, json_string(id));
            }
        } else if (!json_is_true(json_object_get(row, "isMain"))) {
            sqlite3_stmt *s =
                ad_store_stmt(db, "SELECT COUNT(*) FROM agents WHERE worktree_id = ?1");
            ad_store_bind_text(s, 1, id);
            int rc = sqlite3_step(s);
            int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
            sqlite3_reset(s);
            if (rc != SQLITE_ROW) {
                e = ad_store_rc(db, rc);
            } else if (n > 0 && !was_vanished) {
                e = flag_vanished(db, id, now, true, flagged);
                json_array_append_new(vanished, json_string(id));
            } else if (n == 0) {
                s = ad_store_stmt(db, "DELETE FROM worktrees WHERE id = ?1");
                ad_store_bind_text(s, 1, id);
                e = ad_store_step_done(db, s);
                json_array_append_new(removed, json_incref(row));
            }
        }
        if (e != 0) {
            goto out;
        }
    }
    json_t *g;
    json_array_foreach(git, i, g)
    {
        const char *path = ad_args_str(g, "path");
        if (path == NULL || json_object_get(seen, path) != NULL ||
            json_is_true(json_object_get(g, "missing")) ||
            json_is_true(json_object_get(g, "isMain"))) {
            continue;
        }
        char id[AD_ID_MAX];
        ad_id_new("wt", id);
        json_t *wa = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:I}", "id", id, "workspaceId", ws_id,
                               "name", ad_args_str(g, "name"), "branch",
                               ad_args_str(g, "branch") ? ad_args_str(g, "branch") : "", "path",
                               path, "now", (json_int_t)now);
        json_t *wr = NULL;
        e = ad_store_op_worktree_insert(db, wa, &wr);
        json_decref(wa);
        json_decref(wr);
        if (e != 0) {
            goto out;
        }
        json_array_append_new(added, json_string(id));
    }
    json_decref(rows);
    rows = NULL;
    json_decref(ws);
    ws = NULL;
    e = ad_store_git_workspace_read(db, ws_id, &ws, &rows);
    if (e != 0) {
        goto out;
    }
    *result = json_pack("{s:O, s:O, s:{s:O, s:O, s:O, s:O, s:O, s:O, s:O}}", "workspace", ws,
                        "worktrees", rows, "changes", "added", added, "updated", updated,
                        "vanished", vanished, "restored", restored, "removed", removed,
                        "flaggedAgents", flagged, "unflaggedAgents", unflagged);
out:
    json_decref(ws);
    json_decref(rows);
    json_decref(seen);
    json_decref(added);
    json_decref(updated);
    json_decref(vanished);
    json_decref(restored);
    json_decref(removed);
    json_decref(flagged);
    json_decref(unflagged);
    return e;
}
