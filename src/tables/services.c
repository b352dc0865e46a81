/* SPDX-License-Identifier: MIT */
/*
 * Services: the rows of long-running helpers (src/svc keeps them up). A
 * REST body passes through, so the writes are JSON ops; the REST layer
 * checks the config against the schema before anything is queued.
 */
#include "store/table.h"
#include "tables/services.h"

#include <stdio.h>
#include <string.h>

#define SVC_COLS                                                                                   \
    "id, org_id, name, command, cwd, config, schema, restart, probe, enabled, created_at, "        \
    "updated_at, node_id, node_run"
#define SVC_JSON_COLS "command,config,schema,probe"
#define SVC_NULL_COLS "cwd,probe,node_id"

static const char SQL_SVC_GET[] = "SELECT " SVC_COLS " FROM services WHERE id = ?1";
static const char SQL_SVC_LIST[] = "SELECT " SVC_COLS " FROM services WHERE ?1 = '' OR org_id = ?1 "
                                   "ORDER BY created_at, id LIMIT 1000";
static const char SQL_SVC_INSERT[] =
    "INSERT INTO services(id, org_id, name, command, cwd, config, schema, restart, probe, enabled, "
    "created_at, updated_at, node_id) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, "
    "?12)";
static const char SQL_SVC_UPDATE[] =
    "UPDATE services SET name = COALESCE(?2, name), config = COALESCE(?3, config), "
    "restart = COALESCE(?4, restart), probe = CASE WHEN ?5 THEN ?6 ELSE probe END, "
    "enabled = COALESCE(?7, enabled), updated_at = ?8, "
    "node_id = CASE WHEN ?9 THEN ?10 ELSE node_id END WHERE id = ?1";
static const char SQL_SVC_DELETE[] = "DELETE FROM services WHERE id = ?1";

static json_t *svc_row(ad_db_stmt_t *s)
{
    json_t *o = ad_store_row_json(s, SVC_JSON_COLS, SVC_NULL_COLS);
    json_object_set_new(o, "enabled", json_boolean(ad_db_column_int(s, 9) != 0));
    return o;
}

static int svc_read(ad_db_t *db, const char *id, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SVC_GET);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_row(db, s, svc_row, out);
}

int ad_store_service_get(ad_store_t *st, const char *id, json_t **out)
{
    return svc_read(ad_store_rdb(st), id, out);
}

int ad_store_service_list(ad_store_t *st, const char *org, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SVC_LIST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    json_t *arr = NULL;
    int e = ad_store_all_rows(db, s, svc_row, &arr);
    if (e == 0) {
        *out = json_pack("{s:o}", "services", arr);
    }
    return e;
}

int ad_store_op_service_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SVC_INSERT);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *id = ad_args_str(args, "id");
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, ad_args_str(args, "orgId"));
    ad_store_bind_text(s, 3, ad_args_str(args, "name"));
    ad_store_bind_json(s, 4, json_object_get(args, "command"));
    ad_store_bind_text(s, 5, ad_args_str(args, "cwd"));
    ad_store_bind_json(s, 6, json_object_get(args, "config"));
    ad_store_bind_json(s, 7, json_object_get(args, "schema"));
    ad_store_bind_text(s, 8, ad_args_str(args, "restart"));
    ad_store_bind_json(s, 9, json_object_get(args, "probe"));
    ad_db_bind_int(s, 10, json_is_false(json_object_get(args, "enabled")) ? 0 : 1);
    ad_db_bind_int64(s, 11, ad_args_int(args, "now", 0));
    ad_store_bind_text(s, 12, ad_args_str(args, "nodeId")); /* NULL or "": here */
    int rc = ad_store_step_done(db, s);
    return rc != 0 ? rc : svc_read(db, id, result);
}

int ad_store_op_service_update(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SVC_UPDATE);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *id = ad_args_str(args, "id");
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, ad_args_str(args, "name"));
    ad_store_bind_json(s, 3, json_object_get(args, "config"));
    ad_store_bind_text(s, 4, ad_args_str(args, "restart"));
    json_t *probe = json_object_get(args, "probe");
    ad_db_bind_int(s, 5, probe != NULL);
    ad_store_bind_json(s, 6, probe); /* json null clears it */
    json_t *en = json_object_get(args, "enabled");
    if (json_is_boolean(en)) {
        ad_db_bind_int(s, 7, json_is_true(en));
    } else {
        ad_db_bind_null(s, 7);
    }
    ad_db_bind_int64(s, 8, ad_args_int(args, "now", 0));
    /* nodeId: a node's id moves it there, "" brings it back here, absent
     * leaves it */
    json_t *node = json_object_get(args, "nodeId");
    ad_db_bind_int(s, 9, json_is_string(node));
    const char *nid = json_string_value(node);
    if (nid != NULL && nid[0] != '\0') {
        ad_store_bind_text(s, 10, nid);
    } else {
        ad_db_bind_null(s, 10);
    }
    int rc = ad_store_step_done(db, s);
    if (rc == 0 && ad_db_changes(db) == 0) {
        rc = AD_ENOENT;
    }
    return rc != 0 ? rc : svc_read(db, id, result);
}

typedef struct {
    char id[AD_ID_MAX], run[AD_ID_MAX];
} svc_run_t;

static int svc_run(ad_store_tx_t *tx, const void *in, json_t **result)
{
    AD_UNUSED(result);
    const svc_run_t *x = in;
    ad_db_stmt_t *s = ad_store_stmt(tx->db, "UPDATE services SET node_run = ?2 WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, x->id);
    ad_store_bind_text(s, 2, x->run[0] != '\0' ? x->run : NULL);
    return ad_store_step_done(tx->db, s);
}

void ad_store_service_run(ad_store_t *st, const char *id, const char *run)
{
    svc_run_t x;
    snprintf(x.id, sizeof(x.id), "%s", id);
    snprintf(x.run, sizeof(x.run), "%s", run != NULL ? run : "");
    ad_store_typed_write(st, svc_run, &x, sizeof(x), NULL, NULL, NULL);
}

int ad_store_op_service_delete(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SVC_DELETE);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *id = ad_args_str(args, "id");
    json_t *row = NULL;
    int rc = svc_read(db, id, &row);
    if (rc != 0) {
        return rc;
    }
    ad_store_bind_text(s, 1, id);
    rc = ad_store_step_done(db, s);
    if (rc == 0) {
        *result = json_pack("{s:s, s:O, s:b}", "id", id, "orgId", json_object_get(row, "orgId"),
                            "deleted", 1);
    }
    json_decref(row);
    return rc;
}
