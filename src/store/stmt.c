/* SPDX-License-Identifier: MIT */
/*
 * The statement plumbing every table file uses: a cache of prepared statements
 * per connection, SQLite codes translated into AD_E* codes, binding and
 * stepping helpers, and rows turned into camelCase JSON. Connections are
 * opened in open.c; the writer is writer.c's.
 */
#include "store/dbcheck.h"
#include "store/store_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- statement cache ------------------------------------------------------
 * Each connection (ad_db_t) holds its own cache: an open-addressed table
 * keyed by the address of the SQL text. A connection is used by one thread
 * at a time, so no lock.
 */
struct ad_db_slot {
    const char *sql;
    ad_db_stmt_t *stmt;
};

ad_db_t *ad_db_alloc(ad_db_kind_t kind)
{
    ad_db_t *db = ad_xcalloc(1, sizeof(*db));
    db->kind = kind;
    db->cap = 64;
    db->slots = ad_xcalloc(db->cap, sizeof(ad_db_slot_t));
    return db;
}

ad_db_t *ad_db_wrap_sqlite(sqlite3 *sq)
{
    ad_db_t *db = ad_db_alloc(AD_DB_SQLITE);
    db->sq = sq;
    return db;
}

static void cache_free(ad_db_t *db)
{
    for (size_t i = 0; i < db->cap; i++) {
        if (db->slots[i].stmt != NULL) {
            ad_db_finalize(db->slots[i].stmt);
        }
    }
    free(db->slots);
}

sqlite3 *ad_db_unwrap(ad_db_t *db)
{
    sqlite3 *sq = db->sq;
    cache_free(db);
    free(db);
    return sq;
}

void ad_store_conn_close(ad_db_t *db)
{
    if (db == NULL) {
        return;
    }
    cache_free(db);
    if (db->kind == AD_DB_SQLITE) {
        sqlite3_close_v2(db->sq);
    } else {
        ad_db_pg_close(db);
    }
    free(db);
}

static size_t ptr_hash(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static void cache_grow(ad_db_t *c)
{
    size_t ncap = c->cap * 2;
    ad_db_slot_t *ns = ad_xcalloc(ncap, sizeof(ad_db_slot_t));
    for (size_t i = 0; i < c->cap; i++) {
        if (c->slots[i].sql == NULL) {
            continue;
        }
        size_t j = ptr_hash(c->slots[i].sql) & (ncap - 1);
        while (ns[j].sql != NULL) {
            j = (j + 1) & (ncap - 1);
        }
        ns[j] = c->slots[i];
    }
    free(c->slots);
    c->slots = ns;
    c->cap = ncap;
}

/* A statement to keep for the connection's life. */
static int prepare_kept(ad_db_t *db, const char *sql, ad_db_stmt_t **out)
{
    if (db->kind != AD_DB_SQLITE) {
        return ad_db_pg_prepare_kept(db, sql, out);
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(db->sq, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK) {
        return rc;
    }
    ad_db_stmt_t *w = ad_xcalloc(1, sizeof(*w));
    w->kind = AD_DB_SQLITE;
    w->sq = s;
    w->db = db;
    *out = w;
    return SQLITE_OK;
}

ad_db_stmt_t *ad_store_stmt(ad_db_t *c, const char *sql)
{
    size_t j = ptr_hash(sql) & (c->cap - 1);
    while (c->slots[j].sql != NULL) {
        if (c->slots[j].sql == sql) {
            ad_db_stmt_t *s = c->slots[j].stmt;
            ad_db_reset(s);
            ad_db_clear_bindings(s);
            return s;
        }
        j = (j + 1) & (c->cap - 1);
    }
    ad_db_stmt_t *s = NULL;
    int rc = prepare_kept(c, sql, &s);
    if (rc != AD_DB_OK) {
        if (rc != AD_DB_UNAVAIL) { /* the lost connection is logged once, by db_pg.c */
            ad_log(AD_LOG_ERROR, "store", "prepare failed: %s sql=%.300s", ad_db_errmsg(c), sql);
        }
        return NULL;
    }
    if ((c->used + 1) * 2 > c->cap) {
        cache_grow(c);
        j = ptr_hash(sql) & (c->cap - 1);
        while (c->slots[j].sql != NULL) {
            j = (j + 1) & (c->cap - 1);
        }
    }
    c->slots[j].sql = sql;
    c->slots[j].stmt = s;
    c->used++;
    return s;
}

/* ---- errors ------------------------------------------------------------------ */

int ad_store_rc(ad_db_t *db, int rc)
{
    if (rc == AD_DB_OK || rc == AD_DB_DONE || rc == AD_DB_ROW) {
        return 0;
    }
    if (rc == AD_DB_UNAVAIL) {
        return AD_EUNAVAIL; /* logged once, when the connection was lost (db_pg.c) */
    }
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        return AD_EEXIST;
    case SQLITE_CONSTRAINT_CHECK:
    case SQLITE_CONSTRAINT_FOREIGNKEY:
    case SQLITE_CONSTRAINT_NOTNULL:
    case SQLITE_CONSTRAINT_TRIGGER:
        return AD_ECONSTRAINT;
    default:
        break;
    }
    int err;
    switch (rc & 0xff) {
    case AD_DB_CONSTRAINT:
        return AD_ECONSTRAINT;
    case SQLITE_FULL:
        err = AD_EFULL;
        break;
    case AD_DB_BUSY:
    case AD_DB_LOCKED:
        err = AD_EBUSY;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        err = AD_ECORRUPT;
        ad_store_damage_seen(); /* health says so now (dbcheck.c) */
        break;
    case SQLITE_IOERR:
        /* a page that failed its checksum (cksum.c) is damage, not a
         * passing I/O error */
        err = rc == SQLITE_IOERR_DATA ? AD_ECORRUPT : AD_EIO;
        if (err == AD_ECORRUPT) {
            ad_store_damage_seen();
        }
        break;
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
        err = AD_EIO;
        break;
    case SQLITE_NOMEM:
        err = AD_ENOMEM;
        break;
    case SQLITE_TOOBIG:
        err = AD_ETOOBIG;
        break;
    default:
        err = AD_EINTERNAL;
        break;
    }
    ad_log(AD_LOG_WARN, "store", "sqlite error: %s code=%d err=%s",
           db != NULL ? ad_db_errmsg(db) : sqlite3_errstr(rc & 0xff), rc, ad_errname(err));
    return err;
}

int ad_store_exec(ad_db_t *db, const char *sql)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return ad_store_rc(db, ad_db_errcode(db));
    }
    int rc = ad_db_step(s);
    while (rc == AD_DB_ROW) {
        rc = ad_db_step(s);
    }
    int err = ad_store_rc(db, rc);
    ad_db_reset(s);
    return err;
}

int ad_store_bind_text(ad_db_stmt_t *s, int idx, const char *v)
{
    if (v == NULL) {
        return ad_db_bind_null(s, idx);
    }
    return ad_db_bind_text(s, idx, v, -1, AD_DB_TRANSIENT);
}

int ad_store_bind_json(ad_db_stmt_t *s, int idx, json_t *v)
{
    if (v == NULL || json_is_null(v)) {
        return ad_db_bind_null(s, idx);
    }
    char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (txt == NULL) {
        return SQLITE_NOMEM;
    }
    return ad_db_bind_text(s, idx, txt, -1, free);
}

const char *ad_args_str(json_t *args, const char *key)
{
    return json_string_value(json_object_get(args, key));
}

int64_t ad_args_int(json_t *args, const char *key, int64_t def)
{
    json_t *v = json_object_get(args, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

/* ---- rows as JSON ---------------------------------------------------------- */

/* True when name is one of the comma-separated names in list. */
static bool in_list(const char *list, const char *name)
{
    if (list == NULL) {
        return false;
    }
    size_t n = strlen(name);
    const char *p = list;
    while (*p != '\0') {
        const char *e = strchr(p, ',');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0) {
            return true;
        }
        if (e == NULL) {
            break;
        }
        p = e + 1;
    }
    return false;
}

static void camel(const char *col, char *out, size_t outsz)
{
    size_t o = 0;
    bool up = false;
    for (const char *p = col; *p != '\0' && o + 1 < outsz; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        out[o++] = up ? (char)toupper((unsigned char)*p) : *p;
        up = false;
    }
    out[o] = '\0';
}

json_t *ad_store_row_json(ad_db_stmt_t *stmt, const char *json_cols, const char *null_cols)
{
    json_t *o = json_object();
    int n = ad_db_column_count(stmt);
    for (int i = 0; i < n; i++) {
        const char *col = ad_db_column_name(stmt, i);
        char key[64];
        camel(col, key, sizeof(key));
        int t = ad_db_column_type(stmt, i);
        if (t == AD_DB_NULL) {
            if (in_list(null_cols, col)) {
                json_object_set_new(o, key, json_null());
            }
            continue;
        }
        size_t len = strlen(col);
        json_t *v = NULL;
        if (len > 3 && strcmp(col + len - 3, "_at") == 0 && t == AD_DB_INTEGER) {
            char ts[AD_TIME_MAX];
            ad_time_format(ad_db_column_int64(stmt, i), ts);
            v = json_string(ts);
        } else if (strncmp(col, "is_", 3) == 0) {
            v = json_boolean(ad_db_column_int64(stmt, i) != 0);
        } else if (in_list(json_cols, col)) {
            const char *txt = (const char *)ad_db_column_text(stmt, i);
            v = json_loads(txt, JSON_DECODE_ANY, NULL);
            if (v == NULL) {
                v = json_null();
            }
        } else if (t == AD_DB_INTEGER) {
            v = json_integer(ad_db_column_int64(stmt, i));
        } else if (t == AD_DB_FLOAT) {
            v = json_real(ad_db_column_double(stmt, i));
        } else {
            v = json_stringn((const char *)ad_db_column_text(stmt, i),
                             (size_t)ad_db_column_bytes(stmt, i));
            if (v == NULL) { /* not UTF-8: should not happen, never crash */
                v = json_string("");
            }
        }
        json_object_set_new(o, key, v);
    }
    return o;
}

/* A JSON column's text as jansson would write it back: as it is when it
 * is already that (the usual case: agentd wrote it), else read and dumped. */
static int json_col_text(ad_buf_t *out, const char *txt)
{
    size_t n = strlen(txt);
    if (ad_json_canonical(txt, n)) {
        return ad_buf_append(out, txt, n);
    }
    json_t *v = json_loads(txt, JSON_DECODE_ANY, NULL);
    if (v == NULL) {
        return ad_buf_puts(out, "null");
    }
    char *dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    int rc = ad_buf_puts(out, dump != NULL ? dump : "null");
    free(dump);
    return rc;
}

void ad_store_row_plan(ad_db_stmt_t *stmt, const char *json_cols, const char *null_cols,
                       ad_store_row_plan_t *plan)
{
    int n = ad_db_column_count(stmt);
    plan->n = n < AD_ROW_PLAN_COLS ? n : AD_ROW_PLAN_COLS;
    for (int i = 0; i < plan->n; i++) {
        const char *col = ad_db_column_name(stmt, i);
        char key[64];
        camel(col, key, sizeof(key));
        /* the key with its quotes and colon, ready to copy */
        int len = snprintf(plan->col[i].key, sizeof(plan->col[i].key), ",\"%s\":", key);
        plan->col[i].keylen = len > 0 && (size_t)len < sizeof(plan->col[i].key)
                                  ? (size_t)len
                                  : sizeof(plan->col[i].key) - 1;
        size_t cl = strlen(col);
        plan->col[i].is_at = cl > 3 && strcmp(col + cl - 3, "_at") == 0;
        plan->col[i].is_bool = strncmp(col, "is_", 3) == 0;
        plan->col[i].is_json = in_list(json_cols, col);
        plan->col[i].keep_null = in_list(null_cols, col);
    }
}

int ad_store_row_text(ad_db_stmt_t *stmt, const ad_store_row_plan_t *plan,
                      const ad_store_row_over_t *over, ad_buf_t *out)
{
    int rc = ad_buf_putc(out, '{');
    bool first = true;
    for (int i = 0; i < plan->n && rc == 0; i++) {
        const ad_store_row_col_t *c = &plan->col[i];
        int t = ad_db_column_type(stmt, i);
        if (t == AD_DB_NULL && !c->keep_null) {
            continue;
        }
        size_t mark = out->len;
        /* the first key without its comma */
        rc = ad_buf_append(out, c->key + first, c->keylen - first);
        if (rc != 0) {
            break;
        }
        if (over != NULL && over->col == i && over->json != NULL) {
            rc = ad_buf_puts(out, over->json);
        } else if (t == AD_DB_NULL) {
            rc = ad_buf_append(out, "null", 4);
        } else if (c->is_at && t == AD_DB_INTEGER) {
            char ts[AD_TIME_MAX];
            ad_time_format(ad_db_column_int64(stmt, i), ts);
            rc = ad_json_string(out, ts, strlen(ts));
        } else if (c->is_bool) {
            rc = ad_buf_puts(out, ad_db_column_int64(stmt, i) != 0 ? "true" : "false");
        } else if (c->is_json) {
            rc = json_col_text(out, (const char *)ad_db_column_text(stmt, i));
        } else if (t == AD_DB_INTEGER) {
            rc = ad_json_integer(out, ad_db_column_int64(stmt, i));
        } else if (t == AD_DB_FLOAT) {
            rc = ad_json_real(out, ad_db_column_double(stmt, i));
            if (rc == AD_EINVAL) { /* no real in jansson either: the key goes */
                ad_buf_truncate(out, mark);
                rc = 0;
                continue;
            }
        } else {
            const char *txt = (const char *)ad_db_column_text(stmt, i);
            size_t bytes = (size_t)ad_db_column_bytes(stmt, i);
            /* not UTF-8: should not happen, never crash (as the jansson form) */
            rc = ad_utf8_valid(txt, bytes) ? ad_json_string(out, txt, bytes)
                                           : ad_buf_append(out, "\"\"", 2);
        }
        first = false;
    }
    if (rc == 0 && over != NULL && over->tail != NULL) {
        rc = ad_buf_puts(out, over->tail);
    }
    return rc ? rc : ad_buf_putc(out, '}');
}

int ad_store_text_tree(int rc, ad_buf_t *b, json_t **out)
{
    if (rc == 0) {
        *out = json_loadb(b->data, b->len, 0, NULL);
        rc = *out != NULL ? 0 : AD_EINTERNAL;
    }
    ad_buf_cleanup(b);
    return rc;
}

int ad_store_one_json(ad_db_t *db, ad_db_stmt_t *stmt, const char *json_cols, const char *null_cols,
                      json_t **out)
{
    int rc = ad_db_step(stmt);
    int err = 0;
    if (rc == AD_DB_ROW) {
        *out = ad_store_row_json(stmt, json_cols, null_cols);
    } else if (rc == AD_DB_DONE) {
        err = AD_ENOENT;
    } else {
        err = ad_store_rc(db, rc);
    }
    ad_db_reset(stmt);
    return err;
}

int ad_store_one_row(ad_db_t *db, ad_db_stmt_t *s, ad_store_row_fn row, json_t **out)
{
    int rc = ad_db_step(s);
    int err = 0;
    if (rc == AD_DB_ROW) {
        *out = row(s);
    } else {
        err = rc == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    }
    ad_db_reset(s);
    return err;
}

int ad_store_all_rows(ad_db_t *db, ad_db_stmt_t *s, ad_store_row_fn row, json_t **out)
{
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, row(s));
    }
    int err = rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
    ad_db_reset(s);
    if (err != 0) {
        json_decref(arr);
        return err;
    }
    *out = arr;
    return 0;
}

int ad_store_step_done(ad_db_t *db, ad_db_stmt_t *s)
{
    int rc = ad_db_step(s);
    /* Map before the reset, while the error state is still the step's. */
    int err = rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
    ad_db_reset(s);
    return err;
}
