/* SPDX-License-Identifier: MIT */
/*
 * Hyper-parameter config schemas and configs (migration 1900): rows only.
 * What a valid schema or value is, is src/hparam's, checked by the REST
 * layer (src/api/hparams.c) before anything is written here.
 */
#include "bus/bus.h"
#include "store/table.h"
#include "tables/hparams.h"
#include "hparam/hparam.h"

#include <stdlib.h>
#include <string.h>

static const char SQL_SCHEMA_GET[] =
    "SELECT id, org_id, name, definition, created_at FROM config_schemas WHERE id = ?1";
static const char SQL_SCHEMA_LIST[] =
    "SELECT id, org_id, name, definition, created_at FROM config_schemas WHERE (?1 = '' OR "
    "org_id = ?1) ORDER BY name, id LIMIT 1000";
static const char SQL_SCHEMA_INSERT[] = "INSERT INTO config_schemas(id, org_id, name, definition, "
                                        "created_at) VALUES(?1, ?2, ?3, ?4, ?5)";
static const char SQL_SCHEMA_USED[] = "SELECT count(*) FROM configs WHERE schema_id = ?1";
static const char SQL_SCHEMA_DELETE[] = "DELETE FROM config_schemas WHERE id = ?1";

#define CFG_COLS "id, org_id, name, schema_id, vals AS \"values\", created_at, updated_at"
static const char SQL_CFG_GET[] = "SELECT " CFG_COLS " FROM configs WHERE id = ?1";
static const char SQL_CFG_LIST[] =
    "SELECT " CFG_COLS " FROM configs WHERE (?1 = '' OR org_id = ?1) AND (?2 IS NULL OR "
    "schema_id = ?2) ORDER BY updated_at DESC, id DESC LIMIT 1000";
static const char SQL_CFG_INSERT[] =
    "INSERT INTO configs(id, org_id, name, schema_id, vals, created_at, updated_at) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6)";
static const char SQL_CFG_UPDATE[] = "UPDATE configs SET name = coalesce(?2, name), vals = "
                                     "coalesce(?3, vals), updated_at = ?4 WHERE id = ?1";
static const char SQL_CFG_DELETE[] = "DELETE FROM configs WHERE id = ?1";

/* A schema row as the API shows it: the definition's keys at the top. */
static json_t *schema_json(ad_db_stmt_t *s)
{
    json_t *o = ad_store_row_json(s, "definition", NULL);
    json_t *def = json_incref(json_object_get(o, "definition"));
    json_object_del(o, "definition");
    const char *k;
    json_t *v;
    json_object_foreach(def, k, v)
    {
        if (json_object_get(o, k) == NULL) {
            json_object_set(o, k, v);
        }
    }
    json_decref(def);
    json_object_set_new(o, "builtIn", json_false());
    return o;
}

static int schema_read(ad_db_t *db, const char *id, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SCHEMA_GET);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    int rc = ad_db_step(s);
    int e = rc == AD_DB_ROW ? 0 : rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    if (e == 0) {
        *out = schema_json(s);
    }
    ad_db_reset(s);
    return e;
}

int ad_store_cfg_schema_get(ad_store_t *st, const char *id, json_t **out)
{
    return schema_read(ad_store_rdb(st), id, out);
}

/* Every row of s as fn makes it, into a new array. */
static int rows(ad_db_t *db, ad_db_stmt_t *s, json_t *(*fn)(ad_db_stmt_t *), json_t **out)
{
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, fn(s));
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

int ad_store_cfg_schema_list(ad_store_t *st, const char *org, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SCHEMA_LIST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    return rows(db, s, schema_json, out);
}

static json_t *cfg_json(ad_db_stmt_t *s)
{
    return ad_store_row_json(s, "values", NULL);
}

static int cfg_read(ad_db_t *db, const char *id, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CFG_GET);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_json(db, s, "values", NULL, out);
}

int ad_store_config_get(ad_store_t *st, const char *id, json_t **out)
{
    return cfg_read(ad_store_rdb(st), id, out);
}

int ad_store_config_list(ad_store_t *st, const char *org, const char *schema_id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CFG_LIST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    ad_store_bind_text(s, 2, schema_id);
    return rows(db, s, cfg_json, out);
}

/* ---- writes ------------------------------------------------------------------------------- */

int ad_store_op_cfg_schema_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SCHEMA_INSERT);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *id = ad_args_str(args, "id");
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, ad_args_str(args, "orgId"));
    ad_store_bind_text(s, 3, ad_args_str(args, "name"));
    int rc =
        ad_store_bind_json(s, 4, json_object_get(args, "definition")) == AD_DB_OK ? 0 : AD_ENOMEM;
    ad_db_bind_int64(s, 5, ad_args_int(args, "now", 0));
    rc = rc != 0 ? rc : ad_store_step_done(db, s);
    if (rc != 0) {
        ad_db_reset(s);
        return rc;
    }
    json_t *row = NULL;
    if ((rc = schema_read(db, id, &row)) == 0) {
        *result = json_pack("{s:o}", "schema", row);
    }
    return rc;
}

static int by_id(ad_db_t *db, const char *sql, const char *id)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    int rc = ad_store_step_done(db, s);
    return rc == 0 && ad_db_changes(db) == 0 ? AD_ENOENT : rc;
}

int ad_store_op_cfg_schema_delete(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *id = ad_args_str(args, "id");
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_SCHEMA_USED);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    int64_t used = ad_db_step(s) == AD_DB_ROW ? ad_db_column_int64(s, 0) : 0;
    ad_db_reset(s);
    if (used > 0) {
        *result = json_pack("{s:s, s:I}", "id", id, "configs", (json_int_t)used);
        return AD_ESTATE;
    }
    int rc = by_id(db, SQL_SCHEMA_DELETE, id);
    if (rc == 0) {
        *result = json_pack("{s:s, s:b}", "id", id, "deleted", 1);
    }
    return rc;
}

/* The tail of a config write: args' values bound at vals and now at
 * vals + 1, the statement run, and the row read back as {config}.
 * AD_ENOENT when it changed nothing (an update of a missing id). */
static int cfg_write(ad_db_t *db, ad_db_stmt_t *s, int vals, json_t *args, json_t **result)
{
    int rc =
        ad_store_bind_json(s, vals, json_object_get(args, "values")) == AD_DB_OK ? 0 : AD_ENOMEM;
    ad_db_bind_int64(s, vals + 1, ad_args_int(args, "now", 0));
    rc = rc != 0 ? rc : ad_store_step_done(db, s);
    ad_db_reset(s);
    if (rc == 0 && ad_db_changes(db) == 0) {
        rc = AD_ENOENT;
    }
    json_t *row = NULL;
    if (rc == 0 && (rc = cfg_read(db, ad_args_str(args, "id"), &row)) == 0) {
        *result = json_pack("{s:o}", "config", row);
    }
    return rc;
}

int ad_store_op_config_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CFG_INSERT);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *id = ad_args_str(args, "id");
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, ad_args_str(args, "orgId"));
    ad_store_bind_text(s, 3, ad_args_str(args, "name"));
    ad_store_bind_text(s, 4, ad_args_str(args, "schemaId"));
    return cfg_write(db, s, 5, args, result);
}

int ad_store_op_config_update(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CFG_UPDATE);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *id = ad_args_str(args, "id");
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, ad_args_str(args, "name"));
    return cfg_write(db, s, 3, args, result);
}

int ad_store_op_config_delete(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    const char *id = ad_args_str(args, "id");
    int rc = by_id(tx->db, SQL_CFG_DELETE, id);
    if (rc == 0) {
        *result = json_pack("{s:s, s:b}", "id", id, "deleted", 1);
    }
    return rc;
}

json_t *ad_store_cfg_schema_for(ad_store_t *st, const char *id, const char *filter, const char *org)
{
    json_t *b = id != NULL ? ad_hparam_builtin(id) : NULL;
    if (b != NULL) {
        return json_incref(b);
    }
    json_t *s = NULL;
    if (id == NULL || strlen(id) >= AD_ID_MAX || ad_store_cfg_schema_get(st, id, &s) != 0) {
        return NULL;
    }
    const char *so = json_string_value(json_object_get(s, "orgId"));
    bool seen = filter == NULL || filter[0] == '\0' || (so != NULL && strcmp(so, filter) == 0);
    if (!seen || (org != NULL && (so == NULL || strcmp(so, org) != 0))) {
        json_decref(s);
        return NULL;
    }
    return s;
}

void ad_store_cfg_publish(struct ad_bus *bus, const char *type, json_t *row, const char *change)
{
    json_t *ev = json_pack("{s:s, s:s}", "id", json_string_value(json_object_get(row, "id")),
                           "change", change);
    json_object_set(ev, strcmp(type, "config_update") == 0 ? "config" : "schema", row);
    ad_bus_publish_to(bus, type, ev, "org", json_string_value(json_object_get(row, "orgId")), NULL);
    json_decref(ev);
}
