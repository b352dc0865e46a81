/* SPDX-License-Identifier: MIT */
/*
 * What a table family (src/tables) builds on: the engine's side that
 * store.h hides, for the tables' SQL only. The statement layer (db.h:
 * SQLite or PostgreSQL), the transaction jobs run in, the statement cache
 * and error mapping, the read connections, typed writes and the
 * row-to-JSON helpers. Included by src/store and src/tables (and their
 * unit tests), never by a layer above them: what they offer the rest of
 * agentd is store.h and the families' headers (tables/agents.h, ...).
 */
#ifndef AD_STORE_TABLE_H
#define AD_STORE_TABLE_H

#include "store/db.h"
#include <stddef.h>
#include <uv.h>

#include "store/store.h"

/* What a job's ad_store_tx_t is: the writer's connection, inside the
 * group's transaction. */
struct ad_store_tx {
    ad_db_t *db;
};

/* Typed writes (writer.c): in[0..insz) is copied into the job; fn runs on
 * the writer with the copy (and may run twice, see ad_store_job_fn), then
 * cleanup(copy) (may be NULL) and cb(rc, result, ud) on the loop. */
typedef int (*ad_store_typed_fn)(ad_store_tx_t *tx, const void *in, json_t **result);
void ad_store_typed_write(ad_store_t *st, ad_store_typed_fn fn, const void *in, size_t insz,
                          void (*cleanup)(void *in), ad_store_result_cb cb, void *ud);

/* ---- statements and errors (stmt.c) -------------------------------------------
 * One cache of prepared statements per connection, keyed by the address of
 * the SQL text: pass string literals only (never text built at run time).
 * The statement comes back reset with its bindings cleared; reset it
 * (ad_db_reset) when done so a read does not hold its snapshot. NULL on a
 * prepare error (logged). Use it on the thread that owns db.
 */
ad_db_stmt_t *ad_store_stmt(ad_db_t *db, const char *sql);
/* A SQLite connection as the layer's (owned: closed by ad_store_conn_close,
 * which finalizes its cached statements and closes it, either backend). */
ad_db_t *ad_db_wrap_sqlite(sqlite3 *sq);
/* Frees a wrapper (its cached statements too) and hands the SQLite
 * connection back, open. */
sqlite3 *ad_db_unwrap(ad_db_t *db);
void ad_store_conn_close(ad_db_t *db);
/* Translates a SQLite result code (extended codes understood) into an AD_E*
 * code, logging the library's message for unexpected ones:
 * NOTFOUND-like AD_DB_DONE is not an error (returns 0);
 * UNIQUE/PRIMARY KEY -> AD_EEXIST, CHECK/FOREIGN KEY/NOT NULL ->
 * AD_ECONSTRAINT, FULL -> AD_EFULL, BUSY/LOCKED -> AD_EBUSY, CORRUPT/NOTADB
 * -> AD_ECORRUPT, IOERR -> AD_EIO, NOMEM -> AD_ENOMEM, PostgreSQL's
 * AD_DB_UNAVAIL -> AD_EUNAVAIL, else AD_EINTERNAL. */
int ad_store_rc(ad_db_t *db, int rc);
/* Runs a one-statement write through the cache: binds nothing. */
int ad_store_exec(ad_db_t *db, const char *sql);

/* ---- connections (open.c, read.c) -------------------------------------------- */
/* Opens one connection with the daemon's pragmas (writer: creates the file,
 * WAL; else query_only), registered with a statement cache. */
int ad_store_conn_open(const char *path, bool writer, bool full, int busy_ms, ad_db_t **out,
                       char *err, size_t errsz);
/* Runs sql (no parameters, may be several statements) with sqlite3_exec,
 * with a message naming path and what in err on failure. */
int ad_store_exec_raw(ad_db_t *db, const char *sql, char *err, size_t errsz, const char *path,
                      const char *what);
/* A connection of the store's backend: the SQLite file (as
 * ad_store_conn_open) or a PostgreSQL connection to st->url. */
int ad_store_conn_open_st(const ad_store_t *st, bool writer, ad_db_t **out, char *err,
                          size_t errsz);
/* The read connection, for bounded indexed reads on the loop thread. */
ad_db_t *ad_store_rdb(ad_store_t *st);
/* The pool of read connections: idle ones, and ones out on a read. Any thread. */
void ad_store_pool_counts(size_t *idle, size_t *busy);
/* Heavier reads on the libuv thread pool, on a pooled read connection (kept
 * for the next only if fn left no transaction open, no statement stepping).
 * fn runs on a pool thread; done runs on the loop with fn's return code. */
typedef int (*ad_store_read_fn)(ad_db_t *db, void *ctx);
void ad_store_read_async(ad_store_t *st, ad_store_read_fn fn, ad_store_done_cb done, void *ctx);

/* ---- rows as JSON (stmt.c) -------------------------------------------------------
 * Turns the current row of stmt into a JSON object with camelCase keys:
 * snake_case columns become camelCase, columns ending in "_at" (integer
 * milliseconds) become RFC 3339 strings, "is_*" become booleans, columns
 * named in json_cols (comma-separated) are parsed JSON, and NULL columns are
 * left out unless named in null_cols (then they are JSON null). */
json_t *ad_store_row_json(ad_db_stmt_t *stmt, const char *json_cols, const char *null_cols);
/* One column's value given as JSON text instead of the row's (col, json;
 * json NULL: none), and members appended at the end of the object (tail,
 * ",\"k\":v..." or NULL), for a caller that changes a row as it goes out. */
typedef struct {
    int col;
    const char *json;
    const char *tail;
} ad_store_row_over_t;
/* What ad_store_row_text writes for each column of a statement, worked out
 * once for all its rows: the key (camelCase, quoted, with its comma and
 * colon) and how the value is written. */
#define AD_ROW_PLAN_COLS 64
typedef struct {
    char key[72];
    size_t keylen;
    bool is_at, is_bool, is_json, keep_null;
} ad_store_row_col_t;
typedef struct {
    int n;
    ad_store_row_col_t col[AD_ROW_PLAN_COLS];
} ad_store_row_plan_t;
/* The plan of stmt's columns for json_cols and null_cols (as
 * ad_store_row_json takes them; a statement of more than AD_ROW_PLAN_COLS
 * columns is cut there). */
void ad_store_row_plan(ad_db_stmt_t *stmt, const char *json_cols, const char *null_cols,
                       ad_store_row_plan_t *plan);
/* The current row of stmt as JSON text appended to out, byte for byte what
 * json_dumps(ad_store_row_json(stmt, json_cols, null_cols), JSON_COMPACT)
 * writes for the plan's json_cols and null_cols (with over's changes as
 * json_object_set would make them; over may be NULL), without a json_t for
 * any value. 0 or AD_ETOOBIG (out is then cut anywhere). Any thread that
 * owns stmt. */
int ad_store_row_text(ad_db_stmt_t *stmt, const ad_store_row_plan_t *plan,
                      const ad_store_row_over_t *over, ad_buf_t *out);
/* For the forms that keep a tree: after a text writer's rc, *out is b's JSON
 * text read back (AD_EINTERNAL if it does not read). b is cleaned up here. */
int ad_store_text_tree(int rc, ad_buf_t *b, json_t **out);

/* Binds text (NULL binds NULL) / a JSON value as text (NULL or json null
 * binds NULL). */
int ad_store_bind_text(ad_db_stmt_t *s, int idx, const char *v);
int ad_store_bind_json(ad_db_stmt_t *s, int idx, json_t *v);

/* Steps a statement that returns no rows and resets it: 0 or the mapped
 * error. Any thread that owns db. */
int ad_store_step_done(ad_db_t *db, ad_db_stmt_t *s);

/* Helpers for ops reading args. */
const char *ad_args_str(json_t *args, const char *key);
int64_t ad_args_int(json_t *args, const char *key, int64_t def);

/* Reads one row of stmt (already bound) as JSON: 0, AD_ENOENT, or an error.
 * Resets stmt. */
int ad_store_one_json(ad_db_t *db, ad_db_stmt_t *stmt, const char *json_cols, const char *null_cols,
                      json_t **out);
/* A row as JSON in a table's own shape (a new reference). */
typedef json_t *(*ad_store_row_fn)(ad_db_stmt_t *s);
/* One row of s (already bound) through row: 0, AD_ENOENT or an error.
 * Resets s. */
int ad_store_one_row(ad_db_t *db, ad_db_stmt_t *s, ad_store_row_fn row, json_t **out);
/* Every row of s (already bound) through row, as a new array in *out (set
 * only on success). Resets s. */
int ad_store_all_rows(ad_db_t *db, ad_db_stmt_t *s, ad_store_row_fn row, json_t **out);
/* A read connection of the store's backend made away from the store (a
 * pool read may outlive ad_store_close()): what to open, copied from st;
 * opened (as ad_store_conn_open's reader, or PostgreSQL's) on the thread
 * that uses it; freed by the caller. */
typedef struct {
    char *path;
    char *url; /* PostgreSQL's, or NULL: the SQLite file */
    bool full;
    int busy_ms;
} ad_store_conn_spec_t;
void ad_store_conn_spec(const ad_store_t *st, ad_store_conn_spec_t *out);
int ad_store_conn_spec_open(const ad_store_conn_spec_t *c, ad_db_t **out, char *err, size_t errsz);
void ad_store_conn_spec_free(ad_store_conn_spec_t *c);
/* Whether ad_store_close() began: a chain of jobs stops queueing. Any
 * thread. */
bool ad_store_stopping(ad_store_t *st);

#endif
