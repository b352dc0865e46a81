/* SPDX-License-Identifier: MIT */
/*
 * One API token's row by id, on the loop's read connection (issue #39):
 * with several control planes on one database a token made or revoked
 * through another plane is read here, not taken from what this process
 * loaded at its start (src/auth keeps the rows it read, and reads again).
 */
#include "store/table.h"
#include "tables/auth.h"
#include "tables/tables_int.h"

#include <string.h>

int ad_store_token_get(ad_store_t *st, const char *id, ad_store_token_t *t)
{
    return ad_store_token_read(ad_store_rdb(st), id, t);
}

int ad_store_token_read(ad_db_t *db, const char *id, ad_store_token_t *t)
{
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT id, name, org_id, scope, secret_hash, "
                                        "rate_per_minute, created_at, COALESCE(expires_at, 0), "
                                        "COALESCE(revoked_at, 0) FROM api_tokens WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    int step = ad_db_step(s);
    int rc = AD_ENOENT;
    if (step == AD_DB_ROW) {
        memset(t, 0, sizeof(*t));
        snprintf(t->id, sizeof(t->id), "%s", (const char *)ad_db_column_text(s, 0));
        snprintf(t->name, sizeof(t->name), "%s", (const char *)ad_db_column_text(s, 1));
        snprintf(t->org_id, sizeof(t->org_id), "%s", (const char *)ad_db_column_text(s, 2));
        snprintf(t->scope, sizeof(t->scope), "%s", (const char *)ad_db_column_text(s, 3));
        snprintf(t->secret_hash, sizeof(t->secret_hash), "%s",
                 (const char *)ad_db_column_text(s, 4));
        t->rate_per_minute = ad_db_column_int64(s, 5);
        t->created_at = ad_db_column_int64(s, 6);
        t->expires_at = ad_db_column_int64(s, 7);
        t->revoked_at = ad_db_column_int64(s, 8);
        rc = 0;
    } else if (step != AD_DB_DONE) {
        rc = ad_store_rc(db, step);
    }
    ad_db_reset(s);
    return rc;
}
