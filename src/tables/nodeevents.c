/* SPDX-License-Identifier: MIT */
/*
 * A worker node's event history (migration 3031, issue #77, docs/nodes.md
 * "A node's history"): what happened to it, newest first, bounded per node
 * (each insert prunes the node's oldest past the bound in the same
 * transaction). What is recorded, and when, is src/node's and src/fleet's.
 */
#include "store/table.h"
#include "tables/fleet.h"

#include <string.h>

static int event_add(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const ad_store_node_event_t *e = in;
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "INSERT INTO node_events (node_id, org_id, at, kind, "
                                            "detail) VALUES (?1, ?2, ?3, ?4, ?5)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, e->node_id);
    ad_store_bind_text(s, 2, e->org_id);
    ad_db_bind_int64(s, 3, e->now);
    ad_store_bind_text(s, 4, e->kind);
    ad_store_bind_text(s, 5, e->detail != NULL ? e->detail : "{}");
    int rc = ad_store_step_done(tx->db, s);
    if (rc != 0) {
        return rc;
    }
    s = ad_store_stmt(tx->db, "DELETE FROM node_events WHERE node_id = ?1 AND id <= (SELECT id "
                              "FROM node_events WHERE node_id = ?1 ORDER BY id DESC LIMIT 1 "
                              "OFFSET ?2)");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, e->node_id);
    ad_db_bind_int64(s, 2, e->keep > 0 ? e->keep : AD_NODE_EVENTS_KEEP);
    return ad_store_step_done(tx->db, s);
}

static void event_cleanup(void *in)
{
    free(((ad_store_node_event_t *)in)->detail);
}

void ad_store_node_event_add(ad_store_t *st, const ad_store_node_event_t *e)
{
    ad_store_node_event_t copy = *e;
    copy.detail = e->detail != NULL ? ad_xstrdup(e->detail) : NULL;
    ad_store_typed_write(st, event_add, &copy, sizeof(copy), event_cleanup, NULL, NULL);
}

static json_t *event_row(ad_db_stmt_t *s)
{
    char at[AD_TIME_MAX];
    ad_time_format(ad_db_column_int64(s, 2), at);
    const char *text = (const char *)ad_db_column_text(s, 4);
    json_t *detail = text != NULL ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(detail)) {
        json_decref(detail);
        detail = json_object();
    }
    return json_pack("{s:I, s:s, s:s, s:s, s:o}", "id", (json_int_t)ad_db_column_int64(s, 0),
                     "nodeId", (const char *)ad_db_column_text(s, 1), "at", at, "kind",
                     (const char *)ad_db_column_text(s, 3), "detail", detail);
}

int ad_store_node_events(ad_store_t *st, const char *node_id, int limit, int64_t before,
                         json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT id, node_id, at, kind, detail FROM node_events "
                                        "WHERE node_id = ?1 AND (?2 = 0 OR id < ?2) "
                                        "ORDER BY id DESC LIMIT ?3");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, node_id);
    ad_db_bind_int64(s, 2, before);
    ad_db_bind_int(s, 3, limit);
    return ad_store_all_rows(db, s, event_row, out);
}
