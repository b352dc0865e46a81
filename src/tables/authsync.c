/* SPDX-License-Identifier: MIT */
/*
 * Accounts across control planes (migration 3000, issue #77): the change
 * log the other planes on one PostgreSQL database read (src/auth/planes.c),
 * each plane's owner token hash, one-time login codes, and one session
 * read by its hash. The change rows are written in the same transaction as
 * the change (auth.c's token and session writes), so a plane that reads a
 * change reads the row it names.
 */
#include "store/table.h"
#include "tables/accounts.h"
#include "tables/auth.h"
#include "tables/tables_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHANGES_KEEP_MS (3600 * 1000)

int ad_store_auth_change_note(ad_db_t *db, const char *kind, const char *key, int64_t at)
{
    ad_db_stmt_t *s =
        ad_store_stmt(db, "INSERT INTO auth_changes (kind, key, at) VALUES (?1, ?2, ?3)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, kind);
    ad_store_bind_text(s, 2, key);
    ad_db_bind_int64(s, 3, at);
    int rc = ad_store_step_done(db, s);
    if (rc != 0) {
        return rc;
    }
    s = ad_store_stmt(db, "DELETE FROM auth_changes WHERE at < ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, at - CHANGES_KEEP_MS);
    return ad_store_step_done(db, s);
}

/* ---- reading what changed (a pool thread) ------------------------------------------ */

static int changes_read(ad_db_t *db, int64_t since, ad_store_auth_sync_t *out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT id, kind, key FROM auth_changes WHERE at >= ?1 "
                                        "ORDER BY id LIMIT 256");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, since);
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW && out->nchanges < AD_AUTH_SYNC_MAX) {
        ad_store_auth_change_t *c = &out->changes[out->nchanges++];
        c->id = ad_db_column_int64(s, 0);
        snprintf(c->kind, sizeof(c->kind), "%s", (const char *)ad_db_column_text(s, 1));
        snprintf(c->key, sizeof(c->key), "%s", (const char *)ad_db_column_text(s, 2));
    }
    int e = rc == AD_DB_DONE || rc == AD_DB_ROW ? 0 : ad_store_rc(db, rc);
    ad_db_reset(s);
    return e;
}

static int owners_read(ad_db_t *db, int64_t live_since, ad_store_auth_sync_t *out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT plane_id, owner_hash FROM auth_owners WHERE "
                                        "updated_at >= ?1 ORDER BY plane_id LIMIT 16");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, live_since);
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW && out->nowners < AD_AUTH_OWNERS_MAX) {
        ad_store_auth_owner_t *o = &out->owners[out->nowners++];
        snprintf(o->plane_id, sizeof(o->plane_id), "%s", (const char *)ad_db_column_text(s, 0));
        snprintf(o->hash, sizeof(o->hash), "%s", (const char *)ad_db_column_text(s, 1));
    }
    int e = rc == AD_DB_DONE || rc == AD_DB_ROW ? 0 : ad_store_rc(db, rc);
    ad_db_reset(s);
    return e;
}

typedef struct {
    int64_t since, owners_since;
    ad_store_auth_sync_t *out;
    ad_store_done_cb done;
    void *ctx;
} sync_t;

static int sync_read(ad_db_t *db, void *ctx)
{
    sync_t *q = ctx;
    ad_store_auth_sync_t *out = q->out;
    out->nchanges = out->ntokens = out->nowners = 0;
    int rc = changes_read(db, q->since, out);
    for (size_t i = 0; rc == 0 && i < out->nchanges; i++) {
        if (strcmp(out->changes[i].kind, AD_AUTH_CHANGE_TOKEN) != 0) {
            continue;
        }
        int e = ad_store_token_read(db, out->changes[i].key, &out->tokens[out->ntokens]);
        if (e == 0) {
            out->ntokens++;
        } else if (e != AD_ENOENT) {
            rc = e;
        }
    }
    return rc != 0 ? rc : owners_read(db, q->owners_since, out);
}

static void sync_done(int rc, void *ctx)
{
    sync_t *q = ctx;
    q->done(rc, q->ctx);
    free(q);
}

void ad_store_auth_sync(ad_store_t *st, int64_t since, int64_t owners_since,
                        ad_store_auth_sync_t *out, ad_store_done_cb done, void *ctx)
{
    sync_t *q = ad_xcalloc(1, sizeof(*q));
    q->since = since;
    q->owners_since = owners_since;
    q->out = out;
    q->done = done;
    q->ctx = ctx;
    ad_store_read_async(st, sync_read, sync_done, q);
}

/* ---- owner tokens ------------------------------------------------------------------- */

typedef struct {
    char plane_id[AD_ID_MAX];
    char hash[65];
    int64_t now;
} owner_put_t;

static int owner_put(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const owner_put_t *o = in;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "INSERT INTO auth_owners (plane_id, owner_hash, updated_at) VALUES (?1, ?2, ?3) "
                "ON CONFLICT (plane_id) DO UPDATE SET owner_hash = excluded.owner_hash, "
                "updated_at = excluded.updated_at");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, o->plane_id);
    ad_store_bind_text(s, 2, o->hash);
    ad_db_bind_int64(s, 3, o->now);
    int rc = ad_store_step_done(tx->db, s);
    return rc != 0 ? rc
                   : ad_store_auth_change_note(tx->db, AD_AUTH_CHANGE_OWNER, o->plane_id, o->now);
}

void ad_store_auth_owner_put(ad_store_t *st, const char *plane_id, const char *hash, int64_t now)
{
    owner_put_t o = {.now = now};
    snprintf(o.plane_id, sizeof(o.plane_id), "%s", plane_id);
    snprintf(o.hash, sizeof(o.hash), "%s", hash);
    ad_store_typed_write(st, owner_put, &o, sizeof(o), NULL, NULL, NULL);
}

/* ---- login codes --------------------------------------------------------------------- */

typedef struct {
    char hash[65];
    int64_t expires_at; /* put: until when; take: now */
} code_t;

static int code_put(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const code_t *c = in;
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "DELETE FROM login_codes WHERE expires_at < ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, c->expires_at - 24 * 3600 * 1000);
    int rc = ad_store_step_done(tx->db, s);
    s = rc == 0
            ? ad_store_stmt(tx->db, "INSERT INTO login_codes (hash, expires_at) VALUES (?1, ?2)")
            : NULL;
    if (s == NULL) {
        return rc != 0 ? rc : AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, c->hash);
    ad_db_bind_int64(s, 2, c->expires_at);
    return ad_store_step_done(tx->db, s);
}

void ad_store_login_code_put(ad_store_t *st, const char *hash, int64_t expires_at)
{
    code_t c = {.expires_at = expires_at};
    snprintf(c.hash, sizeof(c.hash), "%s", hash);
    ad_store_typed_write(st, code_put, &c, sizeof(c), NULL, NULL, NULL);
}

static int code_take(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const code_t *c = in;
    ad_db_stmt_t *s =
        ad_store_stmt(tx->db, "DELETE FROM login_codes WHERE hash = ?1 AND expires_at > ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, c->hash);
    ad_db_bind_int64(s, 2, c->expires_at);
    int rc = ad_store_step_done(tx->db, s);
    return rc == 0 && ad_db_changes(tx->db) == 0 ? AD_ENOENT : rc;
}

void ad_store_login_code_take(ad_store_t *st, const char *hash, int64_t now, ad_store_result_cb cb,
                              void *ud)
{
    code_t c = {.expires_at = now};
    snprintf(c.hash, sizeof(c.hash), "%s", hash);
    ad_store_typed_write(st, code_take, &c, sizeof(c), NULL, cb, ud);
}

/* ---- one session ------------------------------------------------------------------------ */

int ad_store_session_get(ad_store_t *st, const char *id_hash, int64_t now, ad_store_session_t *out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT COALESCE(token_id, ''), created_at, expires_at "
                                        "FROM sessions WHERE id_hash = ?1 AND expires_at > ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id_hash);
    ad_db_bind_int64(s, 2, now);
    int rc = ad_db_step(s);
    int e = 0;
    if (rc == AD_DB_ROW) {
        memset(out, 0, sizeof(*out));
        snprintf(out->id_hash, sizeof(out->id_hash), "%s", id_hash);
        snprintf(out->token_id, sizeof(out->token_id), "%s", (const char *)ad_db_column_text(s, 0));
        out->created_at = ad_db_column_int64(s, 1);
        out->expires_at = ad_db_column_int64(s, 2);
    } else {
        e = rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    }
    ad_db_reset(s);
    return e;
}
