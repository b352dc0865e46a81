/* SPDX-License-Identifier: MIT */
/*
 * Accounts: organisations, API tokens (hashes only), dashboard sessions
 * (hashes only) and the audit log. What a token may do, and checking one,
 * is src/auth's; this file keeps the rows.
 */
#include "store/table.h"
#include "tables/accounts.h"
#include "tables/agents.h"
#include "tables/auth.h"
#include "tables/crews.h"
#include "tables/jobs.h"
#include "tables/runs.h"
#include "tables/services.h"
#include "tables/tables_int.h"
#include "tables/workspaces.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- organisations -------------------------------------------------------------- */

int ad_store_org_list(ad_store_t *st, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT id, name, created_at FROM orgs ORDER BY created_at, id LIMIT 10000");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, ad_store_row_json(s, NULL, NULL));
    }
    int e = rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
    ad_db_reset(s);
    if (e != 0) {
        json_decref(arr);
        return e;
    }
    *out = arr;
    return 0;
}

static int row_get(ad_store_t *st, ad_store_row_t kind, const char *id, json_t **row)
{
    switch (kind) {
    case AD_STORE_ROW_WORKSPACE:
        return ad_store_workspace_get(st, id, row);
    case AD_STORE_ROW_WORKTREE:
        return ad_store_worktree_get(st, id, row);
    case AD_STORE_ROW_AGENT:
        return ad_store_agent_get(st, id, row);
    case AD_STORE_ROW_CREW:
        return ad_store_crew_get(st, id, row);
    case AD_STORE_ROW_RUN: {
        json_t *run = NULL;
        int rc = ad_store_run_get(st, id, &run);
        if (rc == 0) {
            rc = ad_store_agent_get(st, json_string_value(json_object_get(run, "agentId")), row);
        }
        json_decref(run);
        return rc;
    }
    case AD_STORE_ROW_JOB:
        return ad_store_job_get(st, id, row);
    case AD_STORE_ROW_SERVICE:
        return ad_store_service_get(st, id, row);
    }
    return AD_EINVAL;
}

const char *ad_store_row_kind_name(ad_store_row_t kind)
{
    static const char *const names[] = {"workspace", "worktree", "agent",  "crew",
                                        "run",       "job",      "service"};
    return (size_t)kind < AD_ARRAY_LEN(names) ? names[kind] : "row";
}

int ad_store_row_org(ad_store_t *st, ad_store_row_t kind, const char *id, char org_out[AD_ID_MAX])
{
    if (id == NULL || id[0] == '\0' || strlen(id) >= AD_ID_MAX || st == NULL) {
        return AD_ENOENT;
    }
    json_t *row = NULL;
    int rc = row_get(st, kind, id, &row);
    if (rc == 0) {
        const char *org = json_string_value(json_object_get(row, "orgId"));
        snprintf(org_out, AD_ID_MAX, "%s", org != NULL ? org : AD_ORG_DEFAULT);
    }
    json_decref(row);
    return rc;
}

int ad_store_org_find(ad_store_t *st, const char *id_or_name, char id_out[AD_ID_MAX])
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT id FROM orgs WHERE id = ?1 OR name = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id_or_name);
    int rc = ad_db_step(s);
    int e = 0;
    if (rc == AD_DB_ROW) {
        snprintf(id_out, AD_ID_MAX, "%s", (const char *)ad_db_column_text(s, 0));
    } else {
        e = rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    }
    ad_db_reset(s);
    return e;
}

typedef struct {
    char id[AD_ID_MAX];
    char name[128];
    int64_t now;
} org_row_t;

static int org_insert(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const org_row_t *o = in;
    ad_db_stmt_t *s =
        ad_store_stmt(tx->db, "INSERT INTO orgs (id, name, created_at) VALUES (?1, ?2, ?3)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, o->id);
    ad_store_bind_text(s, 2, o->name);
    ad_db_bind_int64(s, 3, o->now);
    int rc = ad_store_step_done(tx->db, s);
    if (rc == 0) {
        char ts[AD_TIME_MAX];
        ad_time_format(o->now, ts);
        *result = json_pack("{s:s, s:s, s:s}", "id", o->id, "name", o->name, "createdAt", ts);
    }
    return rc;
}

void ad_store_org_create(ad_store_t *st, const char *id, const char *name, int64_t now,
                         ad_store_result_cb cb, void *ud)
{
    org_row_t o = {.now = now};
    snprintf(o.id, sizeof(o.id), "%s", id);
    snprintf(o.name, sizeof(o.name), "%s", name);
    ad_store_typed_write(st, org_insert, &o, sizeof(o), NULL, cb, ud);
}

/* ---- API tokens ------------------------------------------------------------------- */

static const char SQL_TOKENS[] =
    "SELECT id, name, org_id, scope, secret_hash, rate_per_minute, created_at, "
    "COALESCE(expires_at, 0), COALESCE(revoked_at, 0) FROM api_tokens ORDER BY created_at, id";

static void token_row(ad_db_stmt_t *s, ad_store_token_t *t)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->id, sizeof(t->id), "%s", (const char *)ad_db_column_text(s, 0));
    snprintf(t->name, sizeof(t->name), "%s", (const char *)ad_db_column_text(s, 1));
    snprintf(t->org_id, sizeof(t->org_id), "%s", (const char *)ad_db_column_text(s, 2));
    snprintf(t->scope, sizeof(t->scope), "%s", (const char *)ad_db_column_text(s, 3));
    snprintf(t->secret_hash, sizeof(t->secret_hash), "%s", (const char *)ad_db_column_text(s, 4));
    t->rate_per_minute = ad_db_column_int64(s, 5);
    t->created_at = ad_db_column_int64(s, 6);
    t->expires_at = ad_db_column_int64(s, 7);
    t->revoked_at = ad_db_column_int64(s, 8);
}

int ad_store_tokens_load(ad_store_t *st, ad_store_token_t **out, size_t *n)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_TOKENS);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    size_t cap = 16;
    *n = 0;
    *out = ad_xcalloc(cap, sizeof(**out));
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        if (*n == cap) {
            cap *= 2;
            *out = ad_xrealloc(*out, cap * sizeof(**out));
        }
        token_row(s, &(*out)[(*n)++]);
    }
    int e = rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
    ad_db_reset(s);
    if (e != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return e;
}

static int token_insert(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const ad_store_token_t *t = in;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "INSERT INTO api_tokens (id, name, org_id, scope, secret_hash, rate_per_minute, "
                "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, t->id);
    ad_store_bind_text(s, 2, t->name);
    ad_store_bind_text(s, 3, t->org_id);
    ad_store_bind_text(s, 4, t->scope);
    ad_store_bind_text(s, 5, t->secret_hash);
    ad_db_bind_int64(s, 6, t->rate_per_minute);
    ad_db_bind_int64(s, 7, t->created_at);
    if (t->expires_at > 0) {
        ad_db_bind_int64(s, 8, t->expires_at);
    } else {
        ad_db_bind_null(s, 8);
    }
    int rc = ad_store_step_done(tx->db, s);
    if (rc == 0) { /* the other control planes list it */
        rc = ad_store_auth_change_note(tx->db, AD_AUTH_CHANGE_TOKEN, t->id, t->created_at);
    }
    return rc == AD_ECONSTRAINT ? AD_ENOENT : rc; /* the org is gone */
}

void ad_store_token_insert(ad_store_t *st, const ad_store_token_t *t, ad_store_result_cb cb,
                           void *ud)
{
    ad_store_typed_write(st, token_insert, t, sizeof(*t), NULL, cb, ud);
}

typedef struct {
    char id[AD_ID_MAX];
    int64_t now;
} revoke_t;

static int token_revoke(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const revoke_t *r = in;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, r->id);
    ad_db_bind_int64(s, 2, r->now);
    int rc = ad_store_step_done(tx->db, s);
    if (rc == 0 && ad_db_changes(tx->db) == 0) {
        return AD_ENOENT;
    }
    if (rc == 0) {
        /* its sessions end with it */
        s = ad_store_stmt(tx->db, "DELETE FROM sessions WHERE token_id = ?1");
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_store_bind_text(s, 1, r->id);
        rc = ad_store_step_done(tx->db, s);
    }
    if (rc == 0) { /* the other control planes end its sessions and channels */
        rc = ad_store_auth_change_note(tx->db, AD_AUTH_CHANGE_TOKEN, r->id, r->now);
    }
    return rc;
}

void ad_store_token_revoke(ad_store_t *st, const char *id, int64_t now, ad_store_result_cb cb,
                           void *ud)
{
    revoke_t r = {.now = now};
    snprintf(r.id, sizeof(r.id), "%s", id);
    ad_store_typed_write(st, token_revoke, &r, sizeof(r), NULL, cb, ud);
}

/* ---- sessions ---------------------------------------------------------------------- */

int ad_store_sessions_load(ad_store_t *st, int64_t now, ad_store_session_t **out, size_t *n)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT id_hash, COALESCE(token_id, ''), created_at, "
                                        "expires_at FROM sessions WHERE expires_at > ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, now);
    size_t cap = 16;
    *n = 0;
    *out = ad_xcalloc(cap, sizeof(**out));
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        if (*n == cap) {
            cap *= 2;
            *out = ad_xrealloc(*out, cap * sizeof(**out));
        }
        ad_store_session_t *x = &(*out)[(*n)++];
        snprintf(x->id_hash, sizeof(x->id_hash), "%s", (const char *)ad_db_column_text(s, 0));
        snprintf(x->token_id, sizeof(x->token_id), "%s", (const char *)ad_db_column_text(s, 1));
        x->created_at = ad_db_column_int64(s, 2);
        x->expires_at = ad_db_column_int64(s, 3);
    }
    int e = rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
    ad_db_reset(s);
    if (e != 0) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return e;
}

static int session_insert(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const ad_store_session_t *x = in;
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "INSERT INTO sessions (id_hash, token_id, created_at, "
                                            "expires_at) VALUES (?1, NULLIF(?2, ''), ?3, ?4)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, x->id_hash);
    ad_store_bind_text(s, 2, x->token_id);
    ad_db_bind_int64(s, 3, x->created_at);
    ad_db_bind_int64(s, 4, x->expires_at);
    int rc = ad_store_step_done(tx->db, s);
    if (rc == 0) {
        /* expired ones go while we are here */
        s = ad_store_stmt(tx->db, "DELETE FROM sessions WHERE expires_at <= ?1");
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_db_bind_int64(s, 1, x->created_at);
        rc = ad_store_step_done(tx->db, s);
    }
    return rc;
}

void ad_store_session_insert(ad_store_t *st, const ad_store_session_t *x, ad_store_result_cb cb,
                             void *ud)
{
    ad_store_typed_write(st, session_insert, x, sizeof(*x), NULL, cb, ud);
}

static int session_delete(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const ad_store_session_t *x = in;
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "DELETE FROM sessions WHERE id_hash = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, x->id_hash);
    int rc = ad_store_step_done(tx->db, s);
    if (rc == 0 && ad_db_changes(tx->db) > 0) { /* a logout ends it on every plane */
        rc = ad_store_auth_change_note(tx->db, AD_AUTH_CHANGE_SESSION_END, x->id_hash,
                                       x->created_at);
    }
    return rc;
}

void ad_store_session_delete(ad_store_t *st, const char *id_hash, ad_store_result_cb cb, void *ud)
{
    ad_store_session_t x;
    memset(&x, 0, sizeof(x));
    snprintf(x.id_hash, sizeof(x.id_hash), "%s", id_hash);
    x.created_at = ad_wall_ms(); /* when it ended (session_delete's change row) */
    ad_store_typed_write(st, session_delete, &x, sizeof(x), NULL, cb, ud);
}

/* ---- audit ----------------------------------------------------------------------- */

static int audit_insert(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const ad_store_audit_t *a = in;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "INSERT INTO audit_log (ts, token_name, org_id, method, route, target_id, "
                "status, remote, detail) VALUES (?1, ?2, ?3, ?4, ?5, NULLIF(?6, ''), ?7, ?8, "
                "NULLIF(?9, ''))");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, a->ts);
    ad_store_bind_text(s, 2, a->token_name);
    ad_store_bind_text(s, 3, a->org_id);
    ad_store_bind_text(s, 4, a->method);
    ad_store_bind_text(s, 5, a->route);
    ad_store_bind_text(s, 6, a->target_id);
    ad_db_bind_int(s, 7, a->status);
    ad_store_bind_text(s, 8, a->remote);
    ad_store_bind_text(s, 9, a->detail);
    return ad_store_step_done(tx->db, s);
}

void ad_store_audit_insert(ad_store_t *st, const ad_store_audit_t *a)
{
    ad_store_typed_write(st, audit_insert, a, sizeof(*a), NULL, NULL, NULL);
}

int ad_store_audit_list(ad_store_t *st, const char *org, int limit, int64_t before_id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(
        db, "SELECT id, ts, token_name, org_id, method, route, target_id, status, remote, detail "
            "FROM audit_log WHERE (?1 = '' OR org_id = ?1) AND (?2 = 0 OR id < ?2) "
            "ORDER BY id DESC LIMIT ?3");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    ad_db_bind_int64(s, 2, before_id);
    ad_db_bind_int(s, 3, limit + 1);
    json_t *arr = json_array();
    int rc;
    int64_t last = 0;
    int n = 0;
    bool more = false;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        last = ad_db_column_int64(s, 0);
        char ts[AD_TIME_MAX];
        ad_time_format(ad_db_column_int64(s, 1), ts);
        const char *target = (const char *)ad_db_column_text(s, 6);
        const char *detail = (const char *)ad_db_column_text(s, 9);
        json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s?, s:i, s:s, s:s*}",
                                             "id", (json_int_t)last, "ts", ts, "tokenName",
                                             (const char *)ad_db_column_text(s, 2), "orgId",
                                             (const char *)ad_db_column_text(s, 3), "method",
                                             (const char *)ad_db_column_text(s, 4), "route",
                                             (const char *)ad_db_column_text(s, 5), "targetId",
                                             target, "status", ad_db_column_int(s, 7), "remote",
                                             (const char *)ad_db_column_text(s, 8), "detail",
                                             detail)); /* s*: no key when NULL */
        n++;
    }
    int e = rc == AD_DB_DONE || rc == AD_DB_ROW ? 0 : ad_store_rc(db, rc);
    ad_db_reset(s);
    if (e != 0) {
        json_decref(arr);
        return e;
    }
    *out = json_pack("{s:o, s:o}", "entries", arr, "nextCursor",
                     more ? json_integer(last) : json_null());
    return 0;
}

static int audit_trim(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const int64_t *before = in;
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "DELETE FROM audit_log WHERE ts < ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, *before);
    return ad_store_step_done(tx->db, s);
}

void ad_store_audit_trim(ad_store_t *st, int64_t before_ts)
{
    ad_store_typed_write(st, audit_trim, &before_ts, sizeof(before_ts), NULL, NULL, NULL);
}
