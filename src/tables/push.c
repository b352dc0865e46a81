/* SPDX-License-Identifier: MIT */
/*
 * Web Push subscriptions (migration 2980, issue #76): the rows src/push
 * sends to and the REST routes (src/push/routes.c) make and delete. What an
 * endpoint or key may be is checked by src/push before anything is
 * written here.
 */
#include "store/table.h"
#include "tables/push.h"

#include <string.h>

#define LIST_COLS "id, endpoint, created_at, last_ok_at, last_fail_at, last_error"

static const char SQL_LIST[] = "SELECT " LIST_COLS " FROM push_subscriptions "
                               "WHERE org_id = ?1 AND user_id = ?2 ORDER BY created_at, id";
static const char SQL_ONE[] = "SELECT " LIST_COLS " FROM push_subscriptions WHERE id = ?1";
/* a subscription whose user's token is revoked or expired gets nothing */
static const char SQL_TARGETS[] =
    "SELECT s.id, s.org_id, s.user_id, s.endpoint, s.p256dh, s.auth FROM push_subscriptions s "
    "LEFT JOIN api_tokens t ON t.id = s.user_id WHERE (s.org_id = ?1 OR s.org_id = '') AND "
    "(s.user_id = 'owner' OR (t.id IS NOT NULL AND COALESCE(t.revoked_at, 0) = 0 AND "
    "(COALESCE(t.expires_at, 0) = 0 OR t.expires_at > ?2))) ORDER BY s.id LIMIT 1000";
static const char SQL_GET[] = "SELECT id, org_id, user_id, endpoint, p256dh, auth, created_at "
                              "FROM push_subscriptions WHERE id = ?1";
static const char SQL_COUNT[] = "SELECT count(*) FROM push_subscriptions WHERE org_id = ?1 AND "
                                "user_id = ?2 AND endpoint <> ?3";
static const char SQL_PUT[] =
    "INSERT INTO push_subscriptions(id, org_id, user_id, endpoint, p256dh, auth, created_at) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(org_id, user_id, endpoint) DO UPDATE SET "
    "p256dh = excluded.p256dh, auth = excluded.auth, last_error = NULL";
static const char SQL_ID_OF[] = "SELECT id FROM push_subscriptions WHERE org_id = ?1 AND "
                                "user_id = ?2 AND endpoint = ?3";
static const char SQL_DEL_OWN[] =
    "DELETE FROM push_subscriptions WHERE org_id = ?1 AND user_id = ?2 AND endpoint = ?3";
static const char SQL_DEL_ID[] = "DELETE FROM push_subscriptions WHERE id = ?1";
static const char SQL_OK[] = "UPDATE push_subscriptions SET last_ok_at = ?2 WHERE id = ?1";
static const char SQL_FAIL[] =
    "UPDATE push_subscriptions SET last_fail_at = ?2, last_error = ?3 WHERE id = ?1";

/* The rows of s, bound by the caller, as an array into *out: 0 or the
 * read's error. */
static int rows_of(ad_db_t *db, ad_db_stmt_t *s, json_t **out)
{
    json_t *rows = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(rows, ad_store_row_json(s, NULL, NULL));
    }
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        json_decref(rows);
        return ad_store_rc(db, rc);
    }
    *out = rows;
    return 0;
}

int ad_store_push_list(ad_store_t *st, const char *org, const char *user, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_LIST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org);
    ad_store_bind_text(s, 2, user);
    return rows_of(db, s, out);
}

int ad_store_push_targets(ad_store_t *st, const char *org, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_TARGETS);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org);
    ad_db_bind_int64(s, 2, ad_wall_ms());
    return rows_of(db, s, out);
}

int ad_store_push_get(ad_store_t *st, const char *id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_GET);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_json(db, s, NULL, NULL, out);
}

/* One text column of the first row of sql bound with a, b, c, or "". */
static int first_text(ad_db_t *db, const char *sql, const char *a, const char *b, const char *c,
                      char *out, size_t outsz, int64_t *num)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, a);
    ad_store_bind_text(s, 2, b);
    ad_store_bind_text(s, 3, c);
    int rc = ad_db_step(s);
    if (out != NULL) {
        const unsigned char *t = rc == AD_DB_ROW ? ad_db_column_text(s, 0) : NULL;
        snprintf(out, outsz, "%s", t != NULL ? (const char *)t : "");
    }
    if (num != NULL) {
        *num = rc == AD_DB_ROW ? ad_db_column_int64(s, 0) : 0;
    }
    ad_db_reset(s);
    return rc == AD_DB_ROW || rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

int ad_store_op_push_put(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *org = ad_args_str(args, "orgId"), *user = ad_args_str(args, "userId");
    const char *endpoint = ad_args_str(args, "endpoint");
    int64_t others = 0;
    int rc = first_text(db, SQL_COUNT, org, user, endpoint, NULL, 0, &others);
    if (rc != 0) {
        return rc;
    }
    if (others >= AD_PUSH_SUBS_PER_USER) {
        return AD_ETOOBIG;
    }
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_PUT);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, org);
    ad_store_bind_text(s, 3, user);
    ad_store_bind_text(s, 4, endpoint);
    ad_store_bind_text(s, 5, ad_args_str(args, "p256dh"));
    ad_store_bind_text(s, 6, ad_args_str(args, "auth"));
    ad_db_bind_int64(s, 7, ad_args_int(args, "now", 0));
    if ((rc = ad_store_step_done(db, s)) != 0) {
        return rc;
    }
    char id[AD_ID_MAX];
    if ((rc = first_text(db, SQL_ID_OF, org, user, endpoint, id, sizeof(id), NULL)) != 0) {
        return rc;
    }
    s = ad_store_stmt(db, SQL_ONE);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_json(db, s, NULL, NULL, result);
}

int ad_store_op_push_delete(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    AD_UNUSED(result);
    ad_db_t *db = tx->db;
    const char *id = ad_args_str(args, "id");
    ad_db_stmt_t *s = ad_store_stmt(db, id != NULL ? SQL_DEL_ID : SQL_DEL_OWN);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    if (id != NULL) {
        ad_store_bind_text(s, 1, id);
    } else {
        ad_store_bind_text(s, 1, ad_args_str(args, "orgId"));
        ad_store_bind_text(s, 2, ad_args_str(args, "userId"));
        ad_store_bind_text(s, 3, ad_args_str(args, "endpoint"));
    }
    int rc = ad_store_step_done(db, s);
    return rc != 0 ? rc : ad_db_changes(db) > 0 ? 0 : AD_ENOENT;
}

int ad_store_op_push_mark(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    AD_UNUSED(result);
    ad_db_t *db = tx->db;
    bool ok = json_is_true(json_object_get(args, "ok"));
    ad_db_stmt_t *s = ad_store_stmt(db, ok ? SQL_OK : SQL_FAIL);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_db_bind_int64(s, 2, ad_args_int(args, "now", 0));
    if (!ok) {
        ad_store_bind_text(s, 3, ad_args_str(args, "error"));
    }
    return ad_store_step_done(db, s);
}

/* ---- the VAPID key ---------------------------------------------------------------- */

static const char SQL_VAPID[] = "SELECT secret FROM push_keys WHERE name = 'vapid'";
static const char SQL_VAPID_OFFER[] =
    "INSERT INTO push_keys(name, secret, created_at) VALUES('vapid', ?1, ?2) "
    "ON CONFLICT(name) DO NOTHING";

/* The stored key's text into out (db: the loop's or the writer's). */
static int vapid_read(ad_db_t *db, char *out, size_t outsz)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_VAPID);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    int rc = ad_db_step(s);
    const unsigned char *t = rc == AD_DB_ROW ? ad_db_column_text(s, 0) : NULL;
    int e = rc == AD_DB_ROW    ? (t != NULL && strlen((const char *)t) < outsz ? 0 : AD_EINVAL)
            : rc == AD_DB_DONE ? AD_ENOENT
                               : ad_store_rc(db, rc);
    if (e == 0) {
        snprintf(out, outsz, "%s", (const char *)t);
    }
    ad_db_reset(s);
    return e;
}

int ad_store_push_vapid_get(ad_store_t *st, char *out, size_t outsz)
{
    return vapid_read(ad_store_rdb(st), out, outsz);
}

int ad_store_op_push_vapid_offer(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_VAPID_OFFER);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "secret"));
    ad_db_bind_int64(s, 2, ad_args_int(args, "now", 0));
    int rc = ad_store_step_done(db, s);
    char text[256];
    if (rc != 0 || (rc = vapid_read(db, text, sizeof(text))) != 0) {
        return rc;
    }
    *result = json_pack("{s:s}", "secret", text);
    memset(text, 0, sizeof(text));
    return 0;
}
