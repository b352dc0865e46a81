/* SPDX-License-Identifier: MIT */
/*
 * Approvals (migration 1400): the permission prompts of agents' runs and
 * their decisions. Ops run on the writer thread (ad_store_write); reads on
 * the read connection, loop thread. Objects are camelCase: id, agentId,
 * runId, orgId, toolName, toolUseId, input (JSON), description, status,
 * decision, decidedBy, createdAt, decidedAt. The CLI's request id stays in
 * the row and never goes out (the runner keeps it for the answer).
 */
#include "store/table.h"
#include "tables/approvals.h"
#include "tables/tables_int.h"

#include <stdio.h>
#include <string.h>

#define APPROVAL_COLS                                                                              \
    "id, agent_id, run_id, org_id, tool_name, tool_use_id, input, description, status, "           \
    "decision, decided_by, created_at, decided_at"
#define APPROVAL_JSON "input"
#define APPROVAL_NULLS "decision,decided_at"

static int approval_read(ad_db_t *db, const char *id, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT " APPROVAL_COLS " FROM approvals WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_json(db, s, APPROVAL_JSON, APPROVAL_NULLS, out);
}

int ad_store_approval_get(ad_store_t *st, const char *id, json_t **out)
{
    return approval_read(ad_store_rdb(st), id, out);
}

int ad_store_approval_list(ad_store_t *st, const char *agent_id, bool pending_only, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT " APPROVAL_COLS " FROM approvals WHERE agent_id = ?1 AND (?2 = 0 OR status = "
            "'pending') ORDER BY created_at DESC, id DESC LIMIT 200");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent_id);
    ad_db_bind_int(s, 2, pending_only ? 1 : 0);
    json_t *list = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(list, ad_store_row_json(s, APPROVAL_JSON, APPROVAL_NULLS));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        json_decref(list);
        return ad_store_rc(db, rc);
    }
    *out = list;
    return 0;
}

int ad_store_approval_pending_of_run(ad_store_t *st, const char *run_id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT id, request_id AS requestId FROM approvals WHERE "
                                        "run_id = ?1 AND status = 'pending' ORDER BY created_at, "
                                        "id LIMIT 64");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, run_id);
    json_t *list = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(list, ad_store_row_json(s, NULL, NULL));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        json_decref(list);
        return ad_store_rc(db, rc);
    }
    *out = list;
    return 0;
}

int ad_store_op_approval_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(
        db, "INSERT INTO approvals (id, agent_id, run_id, org_id, request_id, tool_name, "
            "tool_use_id, input, description, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
            "?8, ?9, ?10)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, ad_args_str(args, "agentId"));
    ad_store_bind_text(s, 3, ad_args_str(args, "runId"));
    ad_store_bind_text(s, 4, ad_args_str(args, "orgId"));
    ad_store_bind_text(s, 5, ad_args_str(args, "requestId"));
    ad_store_bind_text(s, 6, ad_args_str(args, "toolName"));
    ad_store_bind_text(s, 7, ad_args_str(args, "toolUseId"));
    ad_store_bind_json(s, 8, json_object_get(args, "input"));
    ad_store_bind_text(s, 9, ad_args_str(args, "description"));
    ad_db_bind_int64(s, 10, ad_args_int(args, "now", 0));
    int e = ad_store_step_done(db, s);
    return e != 0 ? e : approval_read(db, ad_args_str(args, "id"), result);
}

/* Adds tool to the agent's permissions unless it is there already: the
 * list read, added to here and written back (SQLite's json_each and
 * json_insert have no PostgreSQL equivalent of the same name; this runs
 * once per "allow always"). */
static int allow_tool(ad_db_t *db, const char *agent_id, const char *tool, int64_t now)
{
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT permissions FROM agents WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent_id);
    int rc = ad_db_step(s);
    if (rc != AD_DB_ROW) {
        ad_db_reset(s);
        return rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
    }
    const char *text = (const char *)ad_db_column_text(s, 0);
    json_t *perms = text != NULL ? json_loads(text, 0, NULL) : json_array();
    ad_db_reset(s);
    if (!json_is_array(perms)) {
        json_decref(perms);
        perms = json_array();
    }
    size_t i;
    json_t *v;
    json_array_foreach(perms, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), tool) == 0) {
            json_decref(perms);
            return 0;
        }
    }
    json_array_append_new(perms, json_string(tool));
    s = ad_store_stmt(db, "UPDATE agents SET permissions = ?2, updated_at = ?3 WHERE id = ?1");
    if (s == NULL) {
        json_decref(perms);
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent_id);
    ad_store_bind_json(s, 2, perms);
    ad_db_bind_int64(s, 3, now);
    json_decref(perms);
    return ad_store_step_done(db, s);
}

int ad_store_op_approval_decide(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *id = ad_args_str(args, "id");
    const char *decision = ad_args_str(args, "decision");
    const char *status = ad_args_str(args, "status");
    int64_t now = ad_args_int(args, "now", 0);
    ad_db_stmt_t *s = ad_store_stmt(
        db, "UPDATE approvals SET status = ?2, decision = ?3, decided_by = ?4, decided_at = ?5 "
            "WHERE id = ?1 AND status = 'pending'");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, status);
    ad_store_bind_text(s, 3, decision);
    ad_store_bind_text(s, 4, ad_args_str(args, "by"));
    ad_db_bind_int64(s, 5, now);
    int e = ad_store_step_done(db, s);
    bool changed = e == 0 && ad_db_changes(db) > 0;
    json_t *a = NULL;
    e = e != 0 ? e : approval_read(db, id, &a);
    if (e == 0 && !changed) {
        e = AD_ESTATE; /* decided already, or ended with its run */
    }
    if (e == 0 && decision != NULL && strcmp(decision, "allow_always") == 0) {
        e = allow_tool(db, json_string_value(json_object_get(a, "agentId")),
                       json_string_value(json_object_get(a, "toolName")), now);
    }
    if (e == 0) {
        *result = a;
    } else {
        json_decref(a);
    }
    return e;
}

int ad_store_op_approval_close(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    AD_UNUSED(result);
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s =
        ad_store_stmt(db, "UPDATE approvals SET status = ?3, decided_at = ?4 WHERE run_id = ?1 AND "
                          "(?2 IS NULL OR request_id = ?2) AND status = 'pending'");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "runId"));
    ad_store_bind_text(s, 2, ad_args_str(args, "requestId"));
    ad_store_bind_text(s, 3, ad_args_str(args, "status"));
    ad_db_bind_int64(s, 4, ad_args_int(args, "now", 0));
    return ad_store_step_done(db, s);
}

int ad_store_approvals_expire_all(ad_db_t *db, int64_t now)
{
    /* a run taken up from its holder is still running: its CLI still waits */
    ad_db_stmt_t *s = ad_store_stmt(db, "UPDATE approvals SET status = 'expired', decided_at = ?1 "
                                        "WHERE status = 'pending' AND run_id NOT IN (SELECT id "
                                        "FROM runs WHERE status = 'running')");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, now);
    return ad_store_step_done(db, s);
}
