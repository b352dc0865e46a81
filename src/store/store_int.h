/* SPDX-License-Identifier: MIT */
/*
 * Private to src/store: the embedded migrations (generated from
 * the NNNN_name.sql files of src/store/migrations by scripts/migrations.mk) and the migration
 * runner, exposed here so unit tests can drive it with their own lists.
 */
#ifndef AD_STORE_INT_H
#define AD_STORE_INT_H

#include <sqlite3.h>
#include <stddef.h>

#include "store/store.h"

typedef struct {
    int version;      /* the number the file name starts with */
    const char *name; /* file name, e.g. "0001_init.sql" */
    const char *sql;
} ad_migration_t;

/* Generated: every migration file, by ascending version. */
extern const ad_migration_t ad_migrations[];
extern const size_t ad_migrations_count;

/* Applies every migration of list (ascending versions) not yet recorded in
 * schema_migrations, each in its own transaction. Refuses with AD_ECORRUPT
 * for a checksum mismatch and AD_ESTATE for a recorded version the list does
 * not know, with a message naming the file in err. */
int ad_store_migrate(sqlite3 *db, const ad_migration_t *list, size_t n, const char *path, char *err,
                     size_t errsz);
/* Hex SHA-256 of the migration text. out holds 65 bytes. */
void ad_store_checksum(const char *sql, char out[65]);

/* Binds text (NULL binds NULL) / a JSON value as text (NULL or json null
 * binds NULL). */
int ad_store_bind_text(sqlite3_stmt *s, int idx, const char *v);
int ad_store_bind_json(sqlite3_stmt *s, int idx, json_t *v);
/* Steps a statement that returns no rows and resets it: 0 or the mapped
 * error. Any thread that owns db. */
int ad_store_step_done(sqlite3 *db, sqlite3_stmt *s);
/* The workspace id of a worktree into out: 0, AD_ENOENT or a mapped error.
 * Any thread that owns db. */
int ad_store_workspace_of(sqlite3 *db, const char *worktree_id, char out[AD_ID_MAX]);

/* Helpers for ops reading args. */
const char *ad_args_str(json_t *args, const char *key);
int64_t ad_args_int(json_t *args, const char *key, int64_t def);

/* Reads one row of stmt (already bound) as JSON: 0, AD_ENOENT, or an error.
 * Resets stmt. */
int ad_store_one_json(sqlite3 *db, sqlite3_stmt *stmt, const char *json_cols, const char *null_cols,
                      json_t **out);

#define AD_AGENT_COLS                                                                              \
    "id, worktree_id, name, status, context_level, mode, permissions, display_order, pid, "        \
    "session_id, created_at, updated_at, started_at, stopped_at, deleted_at, parent_agent_id, "    \
    "executor, crew_id, state, worktree_vanished_at"
#define AD_AGENT_JSON "permissions,state"
#define AD_AGENT_NULLS "crew_id,state"

#endif
