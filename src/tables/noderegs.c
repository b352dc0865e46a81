/* SPDX-License-Identifier: MIT */
/*
 * Registration tokens (migration 3030, issue #77, docs/nodes.md
 * "Registration tokens"): short-lived, single-use unless said, traded by a
 * node for its own key. Only the secret's SHA-256 is stored; a token is
 * found by its id and its hash compared in constant time, so a wrong
 * secret reads as no token at all. A use is one conditional UPDATE. What
 * is traded for it (the key, the node's row) is src/fleet's.
 */
#include "store/table.h"
#include "tables/fleet.h"

#include <string.h>

#define REG_COLS                                                                                   \
    "id, org_id, labels, max_uses, uses, expires_at, created_at, created_by, revoked_at, "         \
    "last_used_at"

static const char *reg_state(json_int_t max, json_int_t uses, int64_t exp, bool revoked,
                             int64_t now)
{
    return revoked ? "revoked" : uses >= max ? "used" : exp <= now ? "expired" : "active";
}

/* The row of s (REG_COLS, then hash) with its state at now. */
static json_t *reg_row(ad_db_stmt_t *s, int64_t now)
{
    json_t *row = ad_store_row_json(s, "labels", "labels");
    json_object_del(row, "hash");
    json_int_t max = json_integer_value(json_object_get(row, "maxUses"));
    json_int_t uses = json_integer_value(json_object_get(row, "uses"));
    bool revoked = json_object_get(row, "revokedAt") != NULL;
    json_object_set_new(row, "state",
                        json_string(reg_state(max, uses, ad_db_column_int64(s, 5), revoked, now)));
    return row;
}

static int reg_get(ad_db_t *db, const char *id, int64_t now, json_t **out, char hash[65])
{
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT " REG_COLS ", hash FROM node_regs WHERE id = ?1");
    *out = NULL;
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    int step = ad_db_step(s);
    if (step == AD_DB_ROW) {
        if (hash != NULL) {
            const char *h = (const char *)ad_db_column_text(s, 10);
            snprintf(hash, 65, "%s", h != NULL ? h : "");
        }
        *out = reg_row(s, now);
    }
    ad_db_reset(s);
    return step == AD_DB_ROW ? 0 : step == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, step);
}

static int reg_add(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const ad_store_nodereg_t *r = in;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "INSERT INTO node_regs (id, org_id, hash, labels, max_uses, expires_at, "
                "created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, r->id);
    ad_store_bind_text(s, 2, r->org_id);
    ad_store_bind_text(s, 3, r->hash);
    ad_store_bind_text(s, 4, r->labels);
    ad_db_bind_int64(s, 5, r->max_uses);
    ad_db_bind_int64(s, 6, r->expires_at);
    ad_db_bind_int64(s, 7, r->now);
    ad_store_bind_text(s, 8, r->created_by);
    int rc = ad_store_step_done(tx->db, s);
    return rc != 0 ? rc : reg_get(tx->db, r->id, r->now, result, NULL);
}

static void add_cleanup(void *in)
{
    free(((ad_store_nodereg_t *)in)->labels);
}

void ad_store_nodereg_add(ad_store_t *st, const ad_store_nodereg_t *r, ad_store_result_cb cb,
                          void *ud)
{
    ad_store_nodereg_t copy = *r;
    copy.labels = r->labels != NULL ? ad_xstrdup(r->labels) : NULL;
    ad_store_typed_write(st, reg_add, &copy, sizeof(copy), add_cleanup, cb, ud);
}

typedef struct {
    char id[AD_ID_MAX];
    char org[AD_ID_MAX];
    char hash[65];
    int64_t now;
} use_t;

static int refused(json_t **result, const char *why, json_t *row)
{
    *result = json_pack("{s:s, s:O?}", "refused", why, "orgId",
                        row != NULL ? json_object_get(row, "orgId") : NULL);
    json_decref(row);
    return AD_EPERM;
}

/* Why a use of the row (hash the stored one) is refused at now, or NULL. */
static const char *judge(int rc, json_t *row, const char *stored, const char *hash)
{
    if (rc == AD_ENOENT || (rc == 0 && (strlen(stored) != 64 || strlen(hash) != 64 ||
                                        !ad_consttime_eq(stored, hash, 64)))) {
        return "unknown";
    }
    const char *state = rc == 0 ? json_string_value(json_object_get(row, "state")) : NULL;
    return state != NULL && strcmp(state, "active") != 0 ? state : NULL;
}

int ad_store_nodereg_check(ad_store_t *st, const char *id, const char *hash, int64_t now,
                           char why[16])
{
    json_t *row = NULL;
    char stored[65] = "";
    int rc = reg_get(ad_store_rdb(st), id, now, &row, stored);
    const char *no = judge(rc, row, stored, hash);
    snprintf(why, 16, "%s", no != NULL ? no : "");
    json_decref(row);
    return no != NULL ? AD_EPERM : rc;
}

static int reg_use(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const use_t *u = in;
    json_t *row = NULL;
    char hash[65] = "";
    int rc = reg_get(tx->db, u->id, u->now, &row, hash);
    const char *no = judge(rc, row, hash, u->hash);
    if (no != NULL) {
        char why[16];
        snprintf(why, sizeof(why), "%s", no); /* (no may be the row's) */
        return refused(result, why, row);
    }
    if (rc != 0) {
        return rc;
    }
    json_decref(row);
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "UPDATE node_regs SET uses = uses + 1, last_used_at = ?2 WHERE id = ?1 AND "
                "uses < max_uses AND expires_at > ?2 AND revoked_at IS NULL");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, u->id);
    ad_db_bind_int64(s, 2, u->now);
    rc = ad_store_step_done(tx->db, s);
    if (rc != 0) {
        return rc;
    }
    if (ad_db_changes(tx->db) != 1) {
        return refused(result, "used", NULL); /* another plane took the last use */
    }
    return reg_get(tx->db, u->id, u->now, result, NULL);
}

void ad_store_nodereg_use(ad_store_t *st, const char *id, const char *hash, int64_t now,
                          ad_store_result_cb cb, void *ud)
{
    use_t u = {.now = now};
    snprintf(u.id, sizeof(u.id), "%s", id);
    snprintf(u.hash, sizeof(u.hash), "%s", hash);
    ad_store_typed_write(st, reg_use, &u, sizeof(u), NULL, cb, ud);
}

static int reg_revoke(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const use_t *u = in;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "UPDATE node_regs SET revoked_at = ?3 WHERE id = ?1 AND (?2 = '' OR org_id = ?2) "
                "AND revoked_at IS NULL");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, u->id);
    ad_store_bind_text(s, 2, u->org);
    ad_db_bind_int64(s, 3, u->now);
    int rc = ad_store_step_done(tx->db, s);
    if (rc != 0) {
        return rc;
    }
    return ad_db_changes(tx->db) != 1 ? AD_ENOENT : reg_get(tx->db, u->id, u->now, result, NULL);
}

void ad_store_nodereg_revoke(ad_store_t *st, const char *id, const char *org, int64_t now,
                             ad_store_result_cb cb, void *ud)
{
    use_t u = {.now = now};
    snprintf(u.id, sizeof(u.id), "%s", id);
    snprintf(u.org, sizeof(u.org), "%s", org != NULL ? org : "");
    ad_store_typed_write(st, reg_revoke, &u, sizeof(u), NULL, cb, ud);
}

int ad_store_noderegs_list(ad_store_t *st, const char *org, int64_t now, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT " REG_COLS " FROM node_regs WHERE ?1 = '' OR "
                                        "org_id = ?1 ORDER BY created_at DESC, id LIMIT 200");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    json_t *a = json_array();
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(a, reg_row(s, now));
    }
    ad_db_reset(s);
    if (step != AD_DB_DONE) {
        json_decref(a);
        return ad_store_rc(db, step);
    }
    *out = a;
    return 0;
}
