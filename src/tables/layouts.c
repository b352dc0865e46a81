/* SPDX-License-Identifier: MIT */
/*
 * Saved panel layouts of the training workspace (migration 2730, issue
 * #35): one row per organisation and scope, and the layout_update a
 * change publishes. What a layout may hold is src/hparam's (layout.c),
 * checked by the REST layer (src/api/layouts.c) before anything is
 * written here.
 */
#include "bus/bus.h"
#include "store/table.h"
#include "tables/layouts.h"

#include <stdio.h>

static const char SQL_GET[] =
    "SELECT scope, layout, updated_at FROM panel_layouts WHERE org_id = ?1 AND scope = ?2";
static const char SQL_PUT[] =
    "INSERT INTO panel_layouts(org_id, scope, layout, updated_at) VALUES(?1, ?2, ?3, ?4) "
    "ON CONFLICT(org_id, scope) DO UPDATE SET layout = excluded.layout, updated_at = "
    "excluded.updated_at";
static const char SQL_DELETE[] = "DELETE FROM panel_layouts WHERE org_id = ?1 AND scope = ?2";

static int layout_read(ad_db_t *db, const char *org, const char *scope, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_GET);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org);
    ad_store_bind_text(s, 2, scope);
    return ad_store_one_json(db, s, "layout", NULL, out);
}

int ad_store_layout_get(ad_store_t *st, const char *org, const char *scope, json_t **out)
{
    return layout_read(ad_store_rdb(st), org, scope, out);
}

int ad_store_op_layout_put(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *org = ad_args_str(args, "orgId"), *scope = ad_args_str(args, "scope");
    json_t *layout = json_object_get(args, "layout");
    ad_db_stmt_t *s = ad_store_stmt(db, layout != NULL ? SQL_PUT : SQL_DELETE);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org);
    ad_store_bind_text(s, 2, scope);
    int rc = 0;
    if (layout != NULL) {
        rc = ad_store_bind_json(s, 3, layout) == AD_DB_OK ? 0 : AD_ENOMEM;
        ad_db_bind_int64(s, 4, ad_args_int(args, "now", 0));
    }
    rc = rc != 0 ? rc : ad_store_step_done(db, s);
    ad_db_reset(s);
    if (rc != 0) {
        return rc;
    }
    if (layout == NULL) {
        *result = json_pack("{s:s, s:n, s:n}", "scope", scope, "layout", "updatedAt");
    } else if ((rc = layout_read(db, org, scope, result)) != 0) {
        return rc;
    }
    /* for the caller's event topic; not part of the row */
    json_object_set_new(*result, "orgId", json_string(org));
    return 0;
}

void ad_store_layout_publish(struct ad_bus *bus, json_t *result)
{
    char org[AD_ID_MAX];
    const char *o = json_string_value(json_object_get(result, "orgId"));
    snprintf(org, sizeof(org), "%s", o != NULL ? o : "");
    json_object_del(result, "orgId");
    ad_bus_publish_to(bus, "layout_update", result, "org", org, NULL);
}
