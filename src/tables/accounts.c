/* SPDX-License-Identifier: MIT */
/*
 * User accounts (migration 2905): a username, an argon2id hash (made and
 * checked by src/auth, kept here as text), a home org, and per org a role
 * backed by an API token of its own. Every change that ends access
 * (a role changed or removed, the account disabled or removed) revokes the
 * tokens it had and deletes their sessions in the same transaction, and
 * answers {revoked: [token ids]} so src/auth forgets them at once.
 */
#include "store/table.h"
#include "tables/accounts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_col(ad_db_stmt_t *s, int i, char *out, size_t outsz)
{
    const char *v = (const char *)ad_db_column_text(s, i);
    snprintf(out, outsz, "%s", v != NULL ? v : "");
}

static int roles_read(ad_db_t *db, ad_store_account_t *out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT org_id, role, token_id FROM account_roles "
                                        "WHERE account_id = ?1 ORDER BY org_id");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, out->id);
    int rc;
    out->nroles = 0;
    while ((rc = ad_db_step(s)) == AD_DB_ROW && out->nroles < AD_STORE_ACCOUNT_ROLES) {
        ad_store_account_role_t *r = &out->roles[out->nroles++];
        copy_col(s, 0, r->org_id, sizeof(r->org_id));
        copy_col(s, 1, r->role, sizeof(r->role));
        copy_col(s, 2, r->token_id, sizeof(r->token_id));
    }
    int e = rc == AD_DB_DONE || rc == AD_DB_ROW ? 0 : ad_store_rc(db, rc);
    ad_db_reset(s);
    return e;
}

int ad_store_account_get(ad_store_t *st, const char *id_or_username, ad_store_account_t *out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT id, username, org_id, pw_hash, created_at, "
                                        "COALESCE(disabled_at, 0) FROM accounts "
                                        "WHERE username = ?1 OR id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id_or_username);
    int step = ad_db_step(s);
    int rc = AD_ENOENT;
    if (step == AD_DB_ROW) {
        memset(out, 0, sizeof(*out));
        copy_col(s, 0, out->id, sizeof(out->id));
        copy_col(s, 1, out->username, sizeof(out->username));
        copy_col(s, 2, out->org_id, sizeof(out->org_id));
        copy_col(s, 3, out->pw_hash, sizeof(out->pw_hash));
        out->created_at = ad_db_column_int64(s, 4);
        out->disabled_at = ad_db_column_int64(s, 5);
        rc = 0;
    } else if (step != AD_DB_DONE) {
        rc = ad_store_rc(db, step);
    }
    ad_db_reset(s);
    return rc == 0 ? roles_read(db, out) : rc;
}

int ad_store_account_list(ad_store_t *st, const char *org, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    bool all = org == NULL || org[0] == '\0';
    ad_db_stmt_t *s = ad_store_stmt(
        db, all ? "SELECT id FROM accounts ORDER BY username LIMIT 1000"
                : "SELECT id FROM accounts WHERE org_id = ?1 ORDER BY username LIMIT 1000");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    if (!all) {
        ad_store_bind_text(s, 1, org);
    }
    json_t *ids = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(ids, json_string((const char *)ad_db_column_text(s, 0)));
    }
    int e = rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
    ad_db_reset(s);
    json_t *arr = json_array();
    size_t i;
    json_t *id;
    ad_store_account_t *a = ad_xcalloc(1, sizeof(*a));
    json_array_foreach(ids, i, id)
    {
        if (e == 0) {
            e = ad_store_account_get(st, json_string_value(id), a);
        }
        if (e == 0) {
            json_array_append_new(arr, ad_store_account_json(a, all ? NULL : org));
        }
    }
    free(a);
    json_decref(ids);
    if (e != 0) {
        json_decref(arr);
        return e;
    }
    *out = arr;
    return 0;
}

json_t *ad_store_account_json(const ad_store_account_t *a, const char *org)
{
    char created[AD_TIME_MAX], disabled[AD_TIME_MAX];
    ad_time_format(a->created_at, created);
    ad_time_format(a->disabled_at, disabled);
    json_t *roles = json_array();
    for (size_t i = 0; i < a->nroles; i++) {
        if (org == NULL || strcmp(org, a->roles[i].org_id) == 0) {
            json_array_append_new(roles, json_pack("{s:s, s:s}", "orgId", a->roles[i].org_id,
                                                   "role", a->roles[i].role));
        }
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s?, s:b, s:o}", "id", a->id, "username", a->username,
                     "orgId", a->org_id, "createdAt", created, "disabledAt",
                     a->disabled_at > 0 ? disabled : NULL, "disabled", a->disabled_at > 0, "roles",
                     roles);
}

/* ---- writes ----------------------------------------------------------------------- */

/* Revokes the token and deletes its sessions; appends its id to revoked. */
static int revoke_token(ad_store_tx_t *tx, const char *token_id, int64_t now, json_t *revoked)
{
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, token_id);
    ad_db_bind_int64(s, 2, now);
    int rc = ad_store_step_done(tx->db, s);
    if (rc == 0) {
        s = ad_store_stmt(tx->db, "DELETE FROM sessions WHERE token_id = ?1");
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_store_bind_text(s, 1, token_id);
        rc = ad_store_step_done(tx->db, s);
    }
    if (rc == 0) {
        json_array_append_new(revoked, json_string(token_id));
    }
    return rc;
}

/* Revokes every role token of the account (all roles, or org's only). */
static int revoke_roles(ad_store_tx_t *tx, const char *account, const char *org, int64_t now,
                        json_t *revoked)
{
    ad_db_stmt_t *s =
        ad_store_stmt(tx->db, "SELECT token_id FROM account_roles WHERE account_id = ?1 AND "
                              "(?2 = '' OR org_id = ?2)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, account);
    ad_store_bind_text(s, 2, org != NULL ? org : "");
    json_t *ids = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(ids, json_string((const char *)ad_db_column_text(s, 0)));
    }
    int e = rc == AD_DB_DONE ? 0 : ad_store_rc(tx->db, rc);
    ad_db_reset(s);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        if (e == 0) {
            e = revoke_token(tx, json_string_value(id), now, revoked);
        }
    }
    json_decref(ids);
    return e;
}

/* sql on the account (?1), with now as ?2 when with_now. */
static int exec1(ad_store_tx_t *tx, const char *sql, const ad_store_account_op_t *op, bool with_now)
{
    ad_db_stmt_t *s = ad_store_stmt(tx->db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, op->row.id);
    if (with_now) {
        ad_db_bind_int64(s, 2, op->now);
    }
    int rc = ad_store_step_done(tx->db, s);
    return rc == 0 && ad_db_changes(tx->db) == 0 ? AD_ENOENT : rc;
}

static int account_insert(ad_store_tx_t *tx, const ad_store_account_op_t *op)
{
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "INSERT INTO accounts (id, username, org_id, pw_hash, "
                                            "created_at) VALUES (?1, ?2, ?3, ?4, ?5)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, op->row.id);
    ad_store_bind_text(s, 2, op->row.username);
    ad_store_bind_text(s, 3, op->row.org_id);
    ad_store_bind_text(s, 4, op->row.pw_hash);
    ad_db_bind_int64(s, 5, op->row.created_at);
    return ad_store_step_done(tx->db, s);
}

static int account_password(ad_store_tx_t *tx, const ad_store_account_op_t *op)
{
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "UPDATE accounts SET pw_hash = ?2 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, op->row.id);
    ad_store_bind_text(s, 2, op->row.pw_hash);
    int rc = ad_store_step_done(tx->db, s);
    return rc == 0 && ad_db_changes(tx->db) == 0 ? AD_ENOENT : rc;
}

/* Sets (role "") or removes the account's role in org, revoking the token
 * of the role it had there. */
static int account_role(ad_store_tx_t *tx, const ad_store_account_op_t *op, json_t *revoked)
{
    int rc = revoke_roles(tx, op->row.id, op->org_id, op->now, revoked);
    ad_db_stmt_t *s = rc == 0 ? ad_store_stmt(tx->db, "DELETE FROM account_roles WHERE "
                                                      "account_id = ?1 AND org_id = ?2")
                              : NULL;
    if (rc == 0 && s == NULL) {
        return AD_EINTERNAL;
    }
    if (rc == 0) {
        ad_store_bind_text(s, 1, op->row.id);
        ad_store_bind_text(s, 2, op->org_id);
        rc = ad_store_step_done(tx->db, s);
    }
    if (rc != 0 || op->role[0] == '\0') {
        return rc;
    }
    s = ad_store_stmt(tx->db, "INSERT INTO account_roles (account_id, org_id, role, token_id) "
                              "SELECT id, ?2, ?3, ?4 FROM accounts WHERE id = ?1 AND "
                              "disabled_at IS NULL");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, op->row.id);
    ad_store_bind_text(s, 2, op->org_id);
    ad_store_bind_text(s, 3, op->role);
    ad_store_bind_text(s, 4, op->token_id);
    rc = ad_store_step_done(tx->db, s);
    return rc == 0 && ad_db_changes(tx->db) == 0 ? AD_ENOENT : rc;
}

static int account_write(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const ad_store_account_op_t *op = in;
    json_t *revoked = json_array();
    int rc;
    switch (op->kind) {
    case AD_ACCOUNT_OP_CREATE:
        rc = account_insert(tx, op);
        break;
    case AD_ACCOUNT_OP_PASSWORD:
        rc = account_password(tx, op);
        break;
    case AD_ACCOUNT_OP_DISABLE:
        rc = exec1(tx, "UPDATE accounts SET disabled_at = ?2 WHERE id = ?1 AND disabled_at IS NULL",
                   op, true);
        rc = rc != 0 ? rc : revoke_roles(tx, op->row.id, NULL, op->now, revoked);
        rc = rc != 0 ? rc : exec1(tx, "DELETE FROM account_roles WHERE account_id = ?1", op, false);
        rc = rc == AD_ENOENT ? 0 : rc; /* it had no role */
        break;
    case AD_ACCOUNT_OP_DELETE:
        rc = revoke_roles(tx, op->row.id, NULL, op->now, revoked);
        rc = rc != 0 ? rc : exec1(tx, "DELETE FROM accounts WHERE id = ?1", op, false);
        break;
    case AD_ACCOUNT_OP_ROLE:
        rc = account_role(tx, op, revoked);
        break;
    default:
        rc = AD_EINVAL;
    }
    if (rc == 0) {
        *result = json_pack("{s:o}", "revoked", revoked);
    } else {
        json_decref(revoked);
    }
    return rc;
}

void ad_store_account_write(ad_store_t *st, const ad_store_account_op_t *op, ad_store_result_cb cb,
                            void *ud)
{
    ad_store_typed_write(st, account_write, op, sizeof(*op), NULL, cb, ud);
}
