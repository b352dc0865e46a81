/* SPDX-License-Identifier: MIT */
/*
 * Agents: the rows, their listing orders (a worktree's sortMode), archive
 * (soft delete), restore, fork and reorder. Starting and stopping agents is
 * the agent subsystem's; ad_store_agent_check_startable() is its guard.
 */
#include "store/table.h"
#include "rows.h"
#include "tables/agents.h"
#include "tables/tables_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AG_FILTER                                                                                  \
    "(?2 IS NULL OR status = ?2) AND (?3 OR deleted_at IS NULL) AND (?4 = '' OR org_id = ?4)"
#define STATUS_RANK                                                                                \
    "CASE status WHEN 'running' THEN 0 WHEN 'waiting' THEN 1 WHEN 'error' THEN 2 WHEN 'idle' "     \
    "THEN 3 WHEN 'paused' THEN 4 ELSE 5 END"

static const char SQL_AG_LIST_ALL[] =
    "SELECT " AD_AGENT_COLS " FROM agents WHERE " AG_FILTER " ORDER BY created_at, id LIMIT 10000";
static const char SQL_AG_LIST_FREE[] =
    "SELECT " AD_AGENT_COLS " FROM agents WHERE worktree_id = ?1 AND " AG_FILTER
    " ORDER BY display_order, created_at, id LIMIT 10000";
static const char SQL_AG_LIST_STATUS[] =
    "SELECT " AD_AGENT_COLS " FROM agents WHERE worktree_id = ?1 AND " AG_FILTER
    " ORDER BY " STATUS_RANK ", display_order, created_at, id LIMIT 10000";
static const char SQL_AG_LIST_NAME[] =
    "SELECT " AD_AGENT_COLS " FROM agents WHERE worktree_id = ?1 AND " AG_FILTER
    " ORDER BY lower(name), created_at, id LIMIT 10000"; /* NOCASE is SQLite's */

/* The list written as text (ad_store_agent_list_text): the same columns,
 * the cost from one join instead of two lookups a row, and a page after a
 * cursor by the (created_at, id) index (migration 2860). */
#define AG_TEXT_COLS                                                                               \
    "id, worktree_id, name, status, context_level, mode, permissions, display_order, pid, "        \
    "session_id, created_at, updated_at, started_at, stopped_at, deleted_at, parent_agent_id, "    \
    "executor, crew_id, state, worktree_vanished_at, org_id, status_reason, "                      \
    "COALESCE(t.cost_usd, 0.0) AS cost_usd, COALESCE(t.total_tokens, 0) AS total_tokens, "         \
    "m.summary AS summary"
#define AG_TEXT_FROM                                                                               \
    " FROM agents LEFT JOIN agent_totals t ON t.agent_id = agents.id LEFT JOIN agent_summaries m " \
    "ON m.agent_id = agents.id"
/* The first page and a page after a cursor (?5) are two statements: with
 * "?5 IS NULL OR (created_at, id) > …" SQLite could not start at the
 * cursor and walked the index from the first agent (0.7 ms half-way through
 * 10,000; bench/README, F2). The first page keeps ?5 (NULL) so both bind
 * alike; the cast types it for PostgreSQL. */
static const char SQL_AG_TEXT_PAGE[] = "SELECT " AG_TEXT_COLS AG_TEXT_FROM " WHERE " AG_FILTER
                                       " AND CAST(?5 AS TEXT) IS NULL ORDER BY created_at, id "
                                       "LIMIT ?6";
const char ad_sql_agents_after[] =
    "SELECT " AG_TEXT_COLS AG_TEXT_FROM " WHERE " AG_FILTER
    " AND (created_at, id) > (SELECT c.created_at, c.id FROM agents c WHERE c.id = ?5) "
    "ORDER BY created_at, id LIMIT ?6";
static const char SQL_AG_TEXT_FREE[] =
    "SELECT " AG_TEXT_COLS AG_TEXT_FROM " WHERE worktree_id = ?1 AND " AG_FILTER
    " ORDER BY display_order, created_at, id LIMIT ?6";
static const char SQL_AG_TEXT_STATUS[] =
    "SELECT " AG_TEXT_COLS AG_TEXT_FROM " WHERE worktree_id = ?1 AND " AG_FILTER
    " ORDER BY " STATUS_RANK ", display_order, created_at, id LIMIT ?6";
static const char SQL_AG_TEXT_NAME[] =
    "SELECT " AG_TEXT_COLS AG_TEXT_FROM " WHERE worktree_id = ?1 AND " AG_FILTER
    " ORDER BY lower(name), created_at, id LIMIT ?6";

/* ---- an org's pairs on the pool: counts by status, extsess.c's sessions
 * ------------------------------------------------- */

typedef struct {
    const char *sql; /* static */
    char org[AD_ID_MAX];
    int64_t limit;
    bool ints;
    json_t *out;
    ad_store_result_cb cb;
    void *ud;
} pairs_t;

static int pairs_read(ad_db_t *db, void *ctx)
{
    pairs_t *p = ctx;
    ad_db_stmt_t *s = NULL;
    int rc = ad_db_prepare_v2(db, p->sql, -1, &s, NULL);
    if (rc != AD_DB_OK) {
        return ad_store_rc(db, rc);
    }
    ad_db_bind_text(s, 1, p->org, -1, AD_DB_STATIC);
    if (p->limit > 0) {
        ad_db_bind_int64(s, 2, p->limit);
    }
    p->out = json_object();
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_object_set_new(p->out, (const char *)ad_db_column_text(s, 0),
                            p->ints ? json_integer(ad_db_column_int64(s, 1))
                                    : json_string((const char *)ad_db_column_text(s, 1)));
    }
    ad_db_finalize(s);
    return rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

static void pairs_done(int rc, void *ctx)
{
    pairs_t *p = ctx;
    if (rc != 0) {
        json_decref(p->out);
        p->out = NULL;
    }
    p->cb(rc, p->out, p->ud);
    free(p);
}

void ad_store_org_pairs(ad_store_t *st, const char *sql, const char *org, int64_t limit, bool ints,
                        ad_store_result_cb cb, void *ud)
{
    pairs_t *p = ad_xcalloc(1, sizeof(*p));
    *p = (pairs_t){.sql = sql, .limit = limit, .ints = ints, .cb = cb, .ud = ud};
    snprintf(p->org, sizeof(p->org), "%s", org != NULL ? org : "");
    ad_store_read_async(st, pairs_read, pairs_done, p);
}

void ad_store_agent_status_counts(ad_store_t *st, const char *org, ad_store_result_cb cb, void *ud)
{
    ad_store_org_pairs(st,
                       "SELECT status, count(*) FROM agents WHERE deleted_at IS NULL "
                       "AND (?1 = '' OR org_id = ?1) GROUP BY status",
                       org, 0, true, cb, ud);
}

/* A worktree's sortMode as 0 free, 1 status, 2 name into *mode: 0,
 * AD_ENOENT or an error. */
static int sort_mode_of(ad_db_t *db, const char *worktree_id, int *mode)
{
    ad_db_stmt_t *m = ad_store_stmt(db, "SELECT sort_mode FROM worktrees WHERE id = ?1");
    if (m == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_text(m, 1, worktree_id, -1, AD_DB_TRANSIENT);
    int rc = ad_db_step(m);
    if (rc != AD_DB_ROW) {
        ad_db_reset(m);
        return rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    }
    const char *name = (const char *)ad_db_column_text(m, 0);
    *mode = strcmp(name, "status") == 0 ? 1 : strcmp(name, "name") == 0 ? 2 : 0;
    ad_db_reset(m);
    return 0;
}

int ad_store_agent_list(ad_store_t *st, const char *worktree_id, const char *status,
                        bool include_deleted, const char *org, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    const char *sql = SQL_AG_LIST_ALL;
    if (worktree_id != NULL) {
        int mode = 0;
        int rc = sort_mode_of(db, worktree_id, &mode);
        if (rc != 0) {
            return rc;
        }
        sql = mode == 1 ? SQL_AG_LIST_STATUS : mode == 2 ? SQL_AG_LIST_NAME : SQL_AG_LIST_FREE;
    }
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    if (worktree_id != NULL) {
        ad_db_bind_text(s, 1, worktree_id, -1, AD_DB_TRANSIENT);
    }
    ad_store_bind_text(s, 2, status);
    ad_db_bind_int(s, 3, include_deleted ? 1 : 0);
    ad_store_bind_text(s, 4, org != NULL ? org : "");
    json_t *arr = json_array();
    int rc = AD_DB_DONE, e = 0;
    while (e == 0 && (rc = ad_db_step(s)) == AD_DB_ROW) {
        ad_row_agent_t a;
        e = ad_agent_from_stmt(s, &a);
        if (e == 0) {
            json_array_append_new(arr, ad_row_agent_encode(&a));
        }
        ad_row_agent_cleanup(&a);
    }
    ad_db_reset(s);
    if (e != 0 || rc != AD_DB_DONE) {
        json_decref(arr);
        return e != 0 ? e : ad_store_rc(db, rc);
    }
    *out = json_pack("{s:o}", "agents", arr);
    return 0;
}

int ad_store_agent_check_startable(ad_store_t *st, const char *id)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT deleted_at IS NOT NULL, status FROM agents "
                                        "WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_text(s, 1, id, -1, AD_DB_TRANSIENT);
    int rc = ad_db_step(s);
    int e = 0;
    if (rc == AD_DB_ROW) {
        const char *status = (const char *)ad_db_column_text(s, 1);
        if (ad_db_column_int(s, 0) != 0 || strcmp(status, "running") == 0) {
            e = AD_ESTATE;
        }
    } else {
        e = rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    }
    ad_db_reset(s);
    return e;
}

/* ---- writes (writer thread) ------------------------------------------------- */

/* result = {agent, workspaceId} for agent id. */
static int agent_result(ad_db_t *db, const char *id, json_t **result)
{
    ad_row_agent_t a;
    int e = ad_agent_row_read(db, id, &a);
    char ws[AD_ID_MAX] = "";
    e = e != 0 ? e : ad_store_workspace_of(db, a.worktree_id, ws);
    if (e == 0) {
        *result = json_pack("{s:o, s:s}", "agent", ad_row_agent_encode(&a), "workspaceId", ws);
    }
    ad_row_agent_cleanup(&a);
    return e;
}

int ad_store_agent_insert(ad_store_tx_t *tx, const ad_store_agent_new_t *a, json_t **result)
{
    ad_db_t *db = tx->db;
    char ws[AD_ID_MAX];
    int e = ad_store_workspace_of(db, a->worktree_id, ws);
    if (e != 0) {
        return e;
    }
    ad_db_stmt_t *s = ad_store_stmt(
        db, "INSERT INTO agents (id, worktree_id, name, executor, status, mode, permissions, "
            "display_order, session_id, parent_agent_id, crew_id, created_at, updated_at, state, "
            "org_id) VALUES (?1, ?2, ?3, ?4, COALESCE(?5, 'idle'), ?6, ?7, (SELECT "
            "COALESCE(MAX(display_order) + 1, 0) FROM agents WHERE worktree_id = ?2), ?8, ?9, "
            "?10, ?11, ?11, ?12, (SELECT org_id FROM worktrees WHERE id = ?2))");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, a->id);
    ad_store_bind_text(s, 2, a->worktree_id);
    ad_store_bind_text(s, 3, a->name);
    ad_store_bind_text(s, 4, ad_row_executor_name(a->executor));
    ad_store_bind_text(s, 5, a->has_status ? ad_row_agent_status_name(a->status) : NULL);
    ad_store_bind_text(s, 6, ad_row_agent_mode_name(a->mode));
    ad_store_bind_json(s, 7, a->permissions);
    ad_store_bind_text(s, 8, a->session_id);
    ad_store_bind_text(s, 9, a->parent_agent_id);
    ad_store_bind_text(s, 10, a->crew_id);
    ad_db_bind_int64(s, 11, a->now);
    ad_store_bind_json(s, 12, a->state); /* command agents' argv */
    e = ad_store_step_done(db, s);
    if (e != 0) {
        return e;
    }
    return agent_result(db, a->id, result);
}

/* Where the agent runs (issue #77: a PATCH may change it while the agent
 * is stopped): state.node or state.placement set to v, or removed when v is
 * JSON null; left alone when v is NULL. */
static int state_key(ad_db_t *db, const char *id, const char *key, json_t *v)
{
    if (v == NULL) {
        return 0;
    }
    bool node = strcmp(key, "node") == 0;
    ad_db_stmt_t *s =
        json_is_null(v)
            ? ad_store_stmt(db, node ? "UPDATE agents SET state = json_remove(COALESCE(state, "
                                       "'{}'), '$.node') WHERE id = ?1"
                                     : "UPDATE agents SET state = json_remove(COALESCE(state, "
                                       "'{}'), '$.placement') WHERE id = ?1")
            : ad_store_stmt(db, node ? "UPDATE agents SET state = json_set(COALESCE(state, '{}'), "
                                       "'$.node', json(?2)) WHERE id = ?1"
                                     : "UPDATE agents SET state = json_set(COALESCE(state, '{}'), "
                                       "'$.placement', json(?2)) WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    if (!json_is_null(v)) {
        ad_store_bind_json(s, 2, v);
    }
    return ad_store_step_done(db, s);
}

/* args as ad_store_agent_insert's fields; a word not the schema's (the
 * callers checked them) is AD_ECONSTRAINT, as the columns' CHECKs said. */
int ad_store_op_agent_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_store_agent_new_t a = {
        .id = ad_args_str(args, "id"),
        .worktree_id = ad_args_str(args, "worktreeId"),
        .name = ad_args_str(args, "name"),
        .permissions = json_object_get(args, "permissions"),
        .session_id = ad_args_str(args, "sessionId"),
        .parent_agent_id = ad_args_str(args, "parentAgentId"),
        .crew_id = ad_args_str(args, "crewId"),
        .state = json_object_get(args, "state"),
        .now = ad_args_int(args, "now", 0),
    };
    const char *status = ad_args_str(args, "status");
    a.has_status = status != NULL;
    if (ad_row_executor_parse(ad_args_str(args, "executor"), &a.executor) != 0 ||
        ad_row_agent_mode_parse(ad_args_str(args, "mode"), &a.mode) != 0 ||
        (a.has_status && ad_row_agent_status_parse(status, &a.status) != 0)) {
        return AD_ECONSTRAINT; /* as the columns' CHECKs answered it */
    }
    return ad_store_agent_insert(tx, &a, result);
}

/* state.sandbox set (NULL: removed, the workspace's then applies). */
static int set_sandbox(ad_db_t *db, const char *id, json_t *sandbox)
{
    ad_db_stmt_t *s =
        ad_store_stmt(db, sandbox == NULL ? "UPDATE agents SET state = json_remove(COALESCE("
                                            "state, '{}'), '$.sandbox') WHERE id = ?1"
                                          : "UPDATE agents SET state = json_set(COALESCE(state, "
                                            "'{}'), '$.sandbox', json(?2)) WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    if (sandbox != NULL) {
        ad_store_bind_json(s, 2, sandbox);
    }
    return ad_store_step_done(db, s);
}

int ad_store_agent_update(ad_store_tx_t *tx, const ad_store_agent_change_t *c, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(
        db,
        "UPDATE agents SET name = COALESCE(?2, name), mode = COALESCE(?3, mode), "
        "permissions = COALESCE(?4, permissions), display_order = COALESCE(?5, "
        "display_order), crew_id = CASE WHEN ?6 <> 0 THEN ?7 ELSE crew_id END, updated_at = ?8, "
        "state = CASE WHEN ?9 IS NULL AND ?10 IS NULL THEN state "
        "WHEN ?10 IS NULL THEN json_set(COALESCE(state, '{}'), '$.env', json(?9)) "
        "WHEN ?9 IS NULL THEN json_set(COALESCE(state, '{}'), '$.command', json(?10)) "
        "ELSE json_set(COALESCE(state, '{}'), '$.env', json(?9), '$.command', json(?10)) END "
        "WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, c->id);
    ad_store_bind_text(s, 2, c->name);
    ad_store_bind_text(s, 3, c->has_mode ? ad_row_agent_mode_name(c->mode) : NULL);
    ad_store_bind_json(s, 4, c->permissions);
    if (c->has_display_order) {
        ad_db_bind_int64(s, 5, c->display_order);
    }
    ad_db_bind_int(s, 6, c->set_crew ? 1 : 0);
    ad_store_bind_text(s, 7, c->crew_id);
    ad_db_bind_int64(s, 8, c->now);
    ad_store_bind_json(s, 9, c->env); /* admin's: src/api/agents.c */
    ad_store_bind_json(s, 10, c->command);
    int e = ad_store_step_done(db, s);
    if (e == 0 && ad_db_changes(db) == 0) {
        e = AD_ENOENT;
    }
    if (e == 0 && c->set_sandbox) { /* admin's */
        e = set_sandbox(db, c->id, c->sandbox);
    }
    e = e != 0 ? e : state_key(db, c->id, "node", c->node);
    e = e != 0 ? e : state_key(db, c->id, "placement", c->placement);
    return e != 0 ? e : agent_result(db, c->id, result);
}

int ad_store_op_agent_update(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    json_t *order = json_object_get(args, "displayOrder");
    json_t *crew = json_object_get(args, "crewId");
    json_t *sandbox = json_object_get(args, "sandbox");
    const char *mode = ad_args_str(args, "mode");
    ad_store_agent_change_t c = {
        .id = ad_args_str(args, "id"),
        .now = ad_args_int(args, "now", 0),
        .name = ad_args_str(args, "name"),
        .has_mode = mode != NULL,
        .permissions = json_object_get(args, "permissions"),
        .has_display_order = json_is_integer(order),
        .display_order = json_is_integer(order) ? json_integer_value(order) : 0,
        .set_crew = crew != NULL,
        .crew_id = json_string_value(crew),
        .env = json_object_get(args, "env"),
        .command = json_object_get(args, "command"),
        .set_sandbox = sandbox != NULL,
        .sandbox = json_is_null(sandbox) ? NULL : sandbox,
        .node = json_object_get(args, "node"),
        .placement = json_object_get(args, "placement"),
    };
    if (c.has_mode && ad_row_agent_mode_parse(mode, &c.mode) != 0) {
        return AD_ECONSTRAINT; /* as the column's CHECK answered it */
    }
    return ad_store_agent_update(tx, &c, result);
}

int ad_store_op_agent_delete(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *id = ad_args_str(args, "id");
    int64_t now = ad_args_int(args, "now", 0);
    if (json_is_true(json_object_get(args, "archive"))) {
        ad_db_stmt_t *s = ad_store_stmt(db, "UPDATE agents SET deleted_at = COALESCE(deleted_at, "
                                            "?2), updated_at = ?2 WHERE id = ?1");
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_store_bind_text(s, 1, id);
        ad_db_bind_int64(s, 2, now);
        int e = ad_store_step_done(db, s);
        if (e == 0 && ad_db_changes(db) == 0) {
            e = AD_ENOENT;
        }
        return e != 0 ? e : agent_result(db, id, result);
    }
    int e = agent_result(db, id, result);
    if (e != 0) {
        return e;
    }
    ad_row_agent_t a;
    e = ad_agent_row_read(db, id, &a);
    bool running = e == 0 && a.status == AD_ROW_AGENT_STATUS_RUNNING;
    ad_row_agent_cleanup(&a);
    if (e != 0 || running) {
        return e != 0 ? e : AD_ESTATE;
    }
    ad_db_stmt_t *s = ad_store_stmt(db, "DELETE FROM agents WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_step_done(db, s);
}

int ad_store_op_agent_restore(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    /* An agent of a removed worktree (or workspace) stays archived: it
     * would come back where nothing shows it and nothing can run it. */
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT t.removed_at IS NOT NULL OR w.removed_at IS NOT NULL FROM agents a JOIN "
            "worktrees t ON t.id = a.worktree_id JOIN workspaces w ON w.id = t.workspace_id "
            "WHERE a.id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    int rc = ad_db_step(s);
    bool gone = rc == AD_DB_ROW && ad_db_column_int(s, 0) != 0;
    ad_db_reset(s);
    if (gone) {
        return AD_ESTATE;
    }
    s = ad_store_stmt(db, "UPDATE agents SET deleted_at = NULL, updated_at = ?2 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_db_bind_int64(s, 2, ad_args_int(args, "now", 0));
    int e = ad_store_step_done(db, s);
    if (e == 0 && ad_db_changes(db) == 0) {
        e = AD_ENOENT;
    }
    return e != 0 ? e : agent_result(db, ad_args_str(args, "id"), result);
}

/* The fork's state: the parent's (a command agent keeps its command, env
 * and stop step), and for an agent with a session forkSession, so its
 * first run resumes the parent's session into a new one (--fork-session)
 * and never appends to the parent's session file. New reference. */
static json_t *fork_state(const ad_row_agent_t *src, const json_t *place)
{
    json_t *out = json_is_object(src->state) ? json_deep_copy(src->state) : json_object();
    json_object_del(out, "statusReason");
    json_object_del(out, "forkSession");
    /* where the fork runs, when the request said (issue #77): null removes */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)place, k, v)
    {
        if (json_is_null(v)) {
            json_object_del(out, k);
        } else {
            json_object_set(out, k, v);
        }
    }
    if (src->session_id != NULL && src->session_id[0] != '\0') {
        json_object_set_new(out, "forkSession", json_true());
    }
    return out;
}

int ad_store_op_agent_fork(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_row_agent_t src;
    int e = ad_agent_row_read(db, ad_args_str(args, "id"), &src);
    if (e != 0) {
        ad_row_agent_cleanup(&src);
        return e;
    }
    const char *name = ad_args_str(args, "name");
    char defname[512];
    if (name == NULL) {
        snprintf(defname, sizeof(defname), "%s (fork)", src.name != NULL ? src.name : "");
        name = defname;
    }
    const char *wt = ad_args_str(args, "worktreeId"); /* absent or null: the parent's */
    ad_store_agent_new_t ins = {
        .id = ad_args_str(args, "newId"),
        .worktree_id = wt != NULL ? wt : src.worktree_id,
        .name = name,
        .executor = src.executor,
        .mode = src.mode,
        .has_status = true,
        .status = AD_ROW_AGENT_STATUS_IDLE,
        .permissions = src.permissions,
        .session_id = src.session_id,
        .parent_agent_id = src.id,
        .crew_id = src.crew_id,
        .state = fork_state(&src, json_object_get(args, "place")),
        .now = ad_args_int(args, "now", 0),
    };
    e = ad_store_agent_insert(tx, &ins, result);
    json_decref(ins.state);
    ad_row_agent_cleanup(&src);
    return e;
}

int ad_store_op_agent_reorder(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *wt = ad_args_str(args, "worktreeId");
    char ws[AD_ID_MAX];
    int e = ad_store_workspace_of(db, wt, ws);
    if (e != 0) {
        return e;
    }
    ad_db_stmt_t *s = ad_store_stmt(db, "UPDATE agents SET display_order = ?3, updated_at = ?4 "
                                        "WHERE id = ?1 AND worktree_id = ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    size_t i;
    json_t *v;
    json_t *out = json_array();
    json_array_foreach(json_object_get(args, "ids"), i, v)
    {
        ad_store_bind_text(s, 1, json_string_value(v));
        ad_store_bind_text(s, 2, wt);
        ad_db_bind_int64(s, 3, (int64_t)i);
        ad_db_bind_int64(s, 4, ad_args_int(args, "now", 0));
        e = ad_store_step_done(db, s);
        if (e == 0 && ad_db_changes(db) == 0) {
            e = AD_EINVAL;
        }
        json_t *a = NULL;
        if (e == 0) {
            e = ad_agent_json_read(db, json_string_value(v), &a);
        }
        if (e != 0) {
            json_decref(out);
            *result = json_pack("{s:O}", "id", v);
            return e;
        }
        json_array_append_new(out, a);
    }
    *result = json_pack("{s:o, s:s}", "agents", out, "workspaceId", ws);
    return 0;
}

/* The statuses an agent's row holds: the schema's but "stopping" (shown
 * while a stop is under way, never stored), which is its last word. */
_Static_assert(AD_ROW_AGENT_STATUS_STOPPING == AD_ROW_AGENT_STATUS_COUNT - 1,
               "stopping must stay agent_status's last word in schema/rows.def");
static void stored_statuses(char *out, size_t n)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < AD_ROW_AGENT_STATUS_STOPPING && len < n; i++) {
        int w =
            snprintf(out + len, n - len, "%s%s", i > 0 ? "," : "", ad_row_agent_status_names[i]);
        len += w > 0 ? (size_t)w : 0;
    }
}

int ad_store_agent_list_parse(ad_store_agent_query_t *q, const char *status,
                              const char *(*get)(void *ud, const char *key), void *ud,
                              ad_field_err_t *e)
{
    char statuses[128];
    stored_statuses(statuses, sizeof(statuses));
    const char *wt = get(ud, "worktreeId"), *cursor = get(ud, "cursor");
    bool paged = false;
    q->worktree_id = wt != NULL && wt[0] != '\0' ? wt : NULL;
    q->status = status != NULL && status[0] != '\0' ? status : NULL;
    q->cursor = cursor != NULL && cursor[0] != '\0' ? cursor : NULL;
    q->limit = 0;
    if (ad_field_query_bool(get(ud, "includeDeleted"), "includeDeleted", false, &q->include_deleted,
                            e) != 0) {
        return AD_EINVAL;
    }
    if (q->status != NULL && !ad_field_choice(statuses, q->status)) {
        return ad_field_fail(e, "status", "must be one of %s", statuses);
    }
    if (ad_field_query_int(get(ud, "limit"), "limit", 1, AD_AGENT_LIST_MAX, &paged, &q->limit, e) !=
        0) {
        return AD_EINVAL;
    }
    if ((paged || q->cursor != NULL) && q->worktree_id != NULL) {
        return ad_field_fail(e, paged ? "limit" : "cursor",
                             "pages the list of every agent, not a worktree's");
    }
    return 0;
}

int ad_store_agent_list_text(ad_store_t *st, const ad_store_agent_query_t *q,
                             ad_store_agent_out_fn fn, void *ud, ad_buf_t *out)
{
    ad_db_t *db = ad_store_rdb(st);
    const char *sql = q->cursor != NULL ? ad_sql_agents_after : SQL_AG_TEXT_PAGE;
    if (q->worktree_id != NULL) {
        int mode = 0;
        int rc = sort_mode_of(db, q->worktree_id, &mode);
        if (rc != 0) {
            return rc;
        }
        sql = mode == 1 ? SQL_AG_TEXT_STATUS : mode == 2 ? SQL_AG_TEXT_NAME : SQL_AG_TEXT_FREE;
    }
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    int64_t limit = q->limit > 0 && q->limit < AD_AGENT_LIST_MAX ? q->limit : AD_AGENT_LIST_MAX;
    if (q->worktree_id != NULL) {
        ad_db_bind_text(s, 1, q->worktree_id, -1, AD_DB_TRANSIENT);
    }
    ad_store_bind_text(s, 2, q->status);
    ad_db_bind_int(s, 3, q->include_deleted ? 1 : 0);
    ad_store_bind_text(s, 4, q->org != NULL ? q->org : "");
    if (q->worktree_id == NULL) {
        ad_store_bind_text(s, 5, q->cursor);
    }
    ad_db_bind_int64(s, 6, limit);
    /* worked out at the first row: PostgreSQL names a result's columns
     * only once the statement has run */
    ad_store_row_plan_t plan = {.n = -1};
    /* about 420 bytes a row: one allocation for most lists, not a dozen */
    int err = ad_buf_reserve(out, (size_t)(limit < 2500 ? limit : 2500) * 512);
    err = err ? err : ad_buf_puts(out, "{\"agents\":[");
    int64_t n = 0;
    char last[AD_ID_MAX] = "";
    bool first = true;
    int rc = AD_DB_DONE;
    while (err == 0 && (rc = ad_db_step(s)) == AD_DB_ROW) {
        if (plan.n < 0) {
            ad_store_row_plan(s, AD_AGENT_JSON, AD_AGENT_NULLS, &plan);
        }
        const char *id = (const char *)ad_db_column_text(s, 0);
        id = id != NULL ? id : "";
        n++;
        if (q->limit > 0) { /* a page's cursor: not a copy a row of 10,000 */
            snprintf(last, sizeof(last), "%s", id);
        }
        ad_store_agent_out_t o = {.skip = false};
        if (fn != NULL) {
            fn(ud, id, (const char *)ad_db_column_text(s, 3), &o);
        }
        if (o.skip) {
            continue;
        }
        char status[64] = "";
        ad_store_row_over_t over = {.col = 3, .tail = o.tail[0] != '\0' ? o.tail : NULL};
        if (o.status[0] != '\0') {
            snprintf(status, sizeof(status), "\"%s\"", o.status);
            over.json = status;
        }
        err = first ? 0 : ad_buf_putc(out, ',');
        err = err ? err : ad_store_row_text(s, &plan, &over, out);
        first = false;
    }
    ad_db_reset(s);
    if (err != 0) {
        return err;
    }
    if (rc != AD_DB_DONE) {
        return ad_store_rc(db, rc);
    }
    err = ad_buf_putc(out, ']');
    /* a full page may have more after it; the unpaged form stays as it was */
    if (err == 0 && q->limit > 0 && n == limit && q->worktree_id == NULL) {
        err = ad_buf_puts(out, ",\"nextCursor\":");
        err = err ? err : ad_json_string(out, last, strlen(last));
    }
    return err ? err : ad_buf_putc(out, '}');
}

int ad_store_agents_prom(ad_buf_t *b, const json_t *counts)
{
    int rc = ad_prom_family(b, "agentd_agents", "gauge", "Agents by status (archived not counted)");
    /* the stored statuses: the schema's but stopping, its last */
    for (int i = 0; i < AD_ROW_AGENT_STATUS_STOPPING && rc == 0; i++) {
        const char *st = ad_row_agent_status_names[i];
        json_t *v = json_object_get(counts, st);
        rc = ad_prom_sample(b, "agentd_agents", v ? (double)json_integer_value(v) : 0, "status", st,
                            NULL);
    }
    return rc;
}
