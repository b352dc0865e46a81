/* SPDX-License-Identifier: MIT */
/*
 * `agentd import claude-manager.db` (issue #40): an existing Claude Manager
 * install's workspaces, worktrees, agents, messages, usage, settings and
 * agent sessions copied into agentd's tables, in one writer transaction.
 * The source is opened read-only; its ids are kept (a seed client that
 * remembers them still finds its rows); times become milliseconds. Every
 * source row is counted as imported, present (a row with its id, or for
 * usage and settings its key and value, is here already: a second import
 * changes nothing) or skipped (its parent was not imported, its id is not
 * one agentd takes, or it breaks a rule of agentd's schema).
 */
#include "store/table.h"
#include "tables/import.h"
#include "tables/tables_int.h"

#include <string.h>
#include <sys/stat.h>

#define MS(col) "COALESCE(CAST(strftime('%s', " col ") AS INTEGER) * 1000, :now)"
#define MS_NULL(col) "CAST(strftime('%s', " col ") AS INTEGER) * 1000"
/* a session id the CLI is given after --resume: a word, never an option */
#define SESSION_ID                                                                                 \
    "CASE WHEN length(session_id) BETWEEN 1 AND 128 AND session_id NOT GLOB '*[^A-Za-z0-9._-]*' "  \
    "AND session_id NOT GLOB '-*' THEN session_id END"
/* permission entries joined with ',' after --allowedTools: a list of words */
#define PERMISSIONS                                                                                \
    "CASE WHEN json_valid(permissions) AND json_type(permissions) = 'array' AND NOT EXISTS "       \
    "(SELECT 1 FROM json_each(permissions) WHERE type != 'text' OR length(value) NOT BETWEEN 1 "   \
    "AND 200 OR value GLOB '-*' OR value GLOB '*,*') THEN permissions ELSE '[\"read\"]' END"
#define VALUE_MAX (64 << 20)    /* any value of the source */
#define CONTENT_MAX (16u << 20) /* a message's content, as POST .../messages takes */
#define DOC_MAX (1u << 20)      /* a session's data or snapshot, a usage row's models */

typedef struct {
    const char *name; /* the table, in both databases */
    const char *src;  /* reads the source: the target's columns, in order */
    const char *present;
    const char *insert;
    bool has_id;                   /* column 0 is an id to check */
    bool (*ok)(sqlite3_stmt *row); /* what agentd's API would ask of the row; NULL: nothing */
} table_t;

/* Column i is text of 1 to max bytes (0 allowed when empty_ok) without a
 * control character. */
static bool text_ok(sqlite3_stmt *row, int i, int max, bool empty_ok)
{
    if (sqlite3_column_type(row, i) != SQLITE_TEXT) {
        return empty_ok && sqlite3_column_type(row, i) == SQLITE_NULL;
    }
    const unsigned char *t = sqlite3_column_text(row, i);
    int n = sqlite3_column_bytes(row, i);
    if (t == NULL || n > max || (n == 0 && !empty_ok)) {
        return false;
    }
    for (int k = 0; k < n; k++) {
        if (t[k] < 0x20 || t[k] == 0x7f) {
            return false;
        }
    }
    return true;
}

/* An absolute path without control characters, as a workspace's is. */
static bool path_ok(sqlite3_stmt *row, int i)
{
    const unsigned char *t = sqlite3_column_text(row, i);
    return text_ok(row, i, 4095, false) && t[0] == '/';
}

/* Column i is NULL or at most max bytes (any content). */
static bool size_ok(sqlite3_stmt *row, int i, int max)
{
    return sqlite3_column_type(row, i) == SQLITE_NULL || sqlite3_column_bytes(row, i) <= max;
}

static bool workspace_ok(sqlite3_stmt *row)
{
    return text_ok(row, 1, 200, false) && path_ok(row, 2);
}

static bool worktree_ok(sqlite3_stmt *row)
{
    const unsigned char *branch = sqlite3_column_text(row, 3);
    return text_ok(row, 2, 200, false) && text_ok(row, 3, 255, false) && branch[0] != '-' &&
           path_ok(row, 4);
}

static bool agent_ok(sqlite3_stmt *row)
{
    return text_ok(row, 2, 200, false);
}

static bool message_ok(sqlite3_stmt *row)
{
    return size_ok(row, 3, (int)CONTENT_MAX) && text_ok(row, 5, 200, true) &&
           size_ok(row, 6, (int)CONTENT_MAX) && size_ok(row, 7, (int)CONTENT_MAX);
}

static bool usage_ok(sqlite3_stmt *row)
{
    return text_ok(row, 0, 32, false) && size_ok(row, 7, (int)DOC_MAX);
}

/* Only the seed's own settings come across: a file that names one of
 * agentd's (allow_root_auto, workspace_roots, forge_hosts, the limits)
 * changes nothing the owner did not set here. */
static bool seed_setting(const unsigned char *key)
{
    static const char *const keys[] = {"theme",          "notifications",       "default_mode",
                                       "confirm_delete", "max_context_warning", "auto_save"};
    for (size_t i = 0; key != NULL && i < AD_ARRAY_LEN(keys); i++) {
        if (strcmp((const char *)key, keys[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool setting_ok(sqlite3_stmt *row)
{
    /* every new agent in auto mode (no permission prompts) is the owner's
     * choice to make here, not a file's */
    const unsigned char *key = sqlite3_column_text(row, 0), *value = sqlite3_column_text(row, 1);
    if (key != NULL && value != NULL && strcmp((const char *)key, "default_mode") == 0 &&
        strcmp((const char *)value, "auto") == 0) {
        return false;
    }
    return text_ok(row, 0, 64, false) && seed_setting(sqlite3_column_text(row, 0)) &&
           text_ok(row, 2, 16, false) && size_ok(row, 1, (int)DOC_MAX) &&
           sqlite3_column_type(row, 1) == SQLITE_TEXT &&
           ad_store_setting_ok((const char *)sqlite3_column_text(row, 0),
                               (const char *)sqlite3_column_text(row, 2),
                               (const char *)sqlite3_column_text(row, 1));
}

static bool session_ok(sqlite3_stmt *row)
{
    return size_ok(row, 2, (int)DOC_MAX) && size_ok(row, 3, (int)DOC_MAX);
}

static const table_t tables[] = {
    {"workspaces",
     "SELECT id, name, path, " MS("created_at") ", " MS("updated_at") ", :org FROM workspaces "
                                                                      "ORDER BY created_at, id",
     "SELECT 1 FROM workspaces WHERE id = ?1",
     "INSERT OR IGNORE INTO workspaces (id, name, path, created_at, updated_at, org_id) VALUES "
     "(?1, ?2, ?3, ?4, ?5, ?6)",
     true, workspace_ok},
    {"worktrees",
     "SELECT id, workspace_id, name, branch, path, sort_mode, display_order, is_main != 0, " MS(
         "created_at") ", " MS("updated_at") " FROM worktrees ORDER BY created_at, id",
     "SELECT 1 FROM worktrees WHERE id = ?1",
     "INSERT OR IGNORE INTO worktrees (id, workspace_id, name, branch, path, sort_mode, "
     "display_order, is_main, created_at, updated_at, org_id) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, "
     "?8, ?9, ?10, org_id FROM workspaces WHERE id = ?2",
     true, worktree_ok},
    {"agents",
     "SELECT id, worktree_id, name, CASE status WHEN 'running' THEN 'finished' ELSE status END, "
     "context_level, mode, " PERMISSIONS ", display_order, " SESSION_ID
     ", " MS("created_at") ", " MS("updated_at") ", " MS_NULL("started_at") ", " MS_NULL(
         "stopped_at") ", " MS_NULL("deleted_at") " FROM agents ORDER "
                                                  "BY created_at, id",
     "SELECT 1 FROM agents WHERE id = ?1",
     "INSERT OR IGNORE INTO agents (id, worktree_id, name, executor, status, context_level, mode, "
     "permissions, display_order, session_id, created_at, updated_at, started_at, stopped_at, "
     "deleted_at, org_id) SELECT ?1, ?2, ?3, 'claude', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
     "?13, ?14, org_id FROM worktrees WHERE id = ?2",
     true, agent_ok},
    {"messages",
     "SELECT id, agent_id, role, content, COALESCE(token_count, 0), tool_name, tool_input, "
     "tool_output, is_complete != 0, " MS("created_at") " FROM messages ORDER BY created_at, id",
     "SELECT 1 FROM messages WHERE id = ?1",
     "INSERT OR IGNORE INTO messages (id, agent_id, role, content, token_count, tool_name, "
     "tool_input, tool_output, is_complete, created_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
     "?9, ?10 WHERE EXISTS (SELECT 1 FROM agents WHERE id = ?2)",
     true, message_ok},
    {"usage_stats",
     "SELECT date, period, input_tokens, output_tokens, total_tokens, request_count, "
     "error_count, CASE WHEN json_valid(model_usage) THEN model_usage ELSE '{}' END, " MS(
         "updated_at") " FROM usage_stats ORDER BY date, period",
     "SELECT 1 FROM usage_stats WHERE date = ?1 AND period = ?2",
     "INSERT OR IGNORE INTO usage_stats (date, period, input_tokens, output_tokens, "
     "total_tokens, request_count, error_count, model_usage, updated_at) VALUES (?1, ?2, ?3, "
     "?4, ?5, ?6, ?7, ?8, ?9)",
     false, usage_ok},
    /* a setting agentd has, of the same type; others are skipped */
    {"settings", "SELECT key, value, type, " MS("updated_at") " FROM settings ORDER BY key",
     "SELECT 1 FROM settings WHERE key = ?1 AND value = ?2",
     "UPDATE settings SET value = ?2, updated_at = ?4 WHERE key = ?1 AND type = ?3", false,
     setting_ok},
    {"agent_sessions",
     "SELECT id, agent_id, CASE WHEN json_valid(session_data) THEN session_data ELSE "
     "json_quote(session_data) END, CASE WHEN json_valid(context_snapshot) THEN context_snapshot "
     "END, " MS("created_at") ", " MS("updated_at") " FROM agent_sessions ORDER BY created_at, id",
     "SELECT 1 FROM agent_sessions WHERE id = ?1",
     "INSERT OR IGNORE INTO agent_sessions (id, agent_id, session_data, context_snapshot, "
     "created_at, updated_at) SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM agents "
     "WHERE id = ?2)",
     true, session_ok},
};

typedef struct {
    char path[4096];
    char org[AD_ID_MAX];
    int64_t now;
} import_in_t;

/* An id agentd can carry in a URL and a topic: 1-40 of [A-Za-z0-9._-]. */
static bool id_ok(const unsigned char *id)
{
    size_t n = 0;
    for (; id != NULL && id[n] != '\0'; n++) {
        unsigned char c = id[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n >= 40) {
            return false;
        }
    }
    return n > 0;
}

/* Binds the source row's columns (SQLite's) to s's parameters ?1..?n. */
static void bind_row(ad_db_stmt_t *s, sqlite3_stmt *row)
{
    int n = ad_db_bind_parameter_count(s), cols = sqlite3_column_count(row);
    for (int i = 0; i < n && i < cols; i++) {
        switch (sqlite3_column_type(row, i)) {
        case SQLITE_INTEGER:
            ad_db_bind_int64(s, i + 1, sqlite3_column_int64(row, i));
            break;
        case SQLITE_FLOAT:
            ad_db_bind_double(s, i + 1, sqlite3_column_double(row, i));
            break;
        case SQLITE_TEXT:
            ad_db_bind_text(s, i + 1, (const char *)sqlite3_column_text(row, i),
                            sqlite3_column_bytes(row, i), AD_DB_TRANSIENT);
            break;
        case SQLITE_BLOB:
            ad_db_bind_blob(s, i + 1, sqlite3_column_blob(row, i), sqlite3_column_bytes(row, i),
                            AD_DB_TRANSIENT);
            break;
        default:
            ad_db_bind_null(s, i + 1);
            break;
        }
    }
}

/* One row: 0 imported, 1 present, 2 skipped; <0 an error. */
static int copy_row(ad_db_t *db, const table_t *t, sqlite3_stmt *row)
{
    if ((t->has_id && !id_ok(sqlite3_column_text(row, 0))) || (t->ok != NULL && !t->ok(row))) {
        return 2;
    }
    ad_db_stmt_t *p = ad_store_stmt(db, t->present);
    ad_db_stmt_t *ins = ad_store_stmt(db, t->insert);
    if (p == NULL || ins == NULL) {
        return AD_EINTERNAL;
    }
    bind_row(p, row);
    int step = ad_db_step(p);
    ad_db_reset(p);
    if (step == AD_DB_ROW) {
        return 1;
    }
    if (step != AD_DB_DONE) {
        return ad_store_rc(db, step);
    }
    /* SQLite's OR IGNORE skips a row a CHECK refuses; PostgreSQL's ON
     * CONFLICT does not, and its failure would abort the whole import: a
     * savepoint keeps the row's failure to the row (PostgreSQL only). */
    bool pg = ad_db_is_pg(db);
    if (pg && ad_db_pg_exec(db, "SAVEPOINT ad_import_row") != AD_DB_OK) {
        return ad_store_rc(db, ad_db_errcode(db));
    }
    bind_row(ins, row);
    step = ad_db_step(ins);
    ad_db_reset(ins);
    int64_t changed = step == AD_DB_DONE ? ad_db_changes(db) : 0;
    if (pg && ad_db_pg_exec(db, step == AD_DB_DONE ? "RELEASE ad_import_row"
                                                   : "ROLLBACK TO ad_import_row") != AD_DB_OK) {
        return ad_store_rc(db, ad_db_errcode(db));
    }
    if (step != AD_DB_DONE) {
        return (step & 0xff) == AD_DB_CONSTRAINT ? 2 : ad_store_rc(db, step);
    }
    return changed > 0 ? 0 : 2;
}

/* Copies one table; its counts into counts {source, imported, present,
 * skipped}. A table the source lacks counts nothing. */
static int copy_table(ad_db_t *db, sqlite3 *src, const table_t *t, const import_in_t *in,
                      int64_t counts[4])
{
    sqlite3_stmt *row = NULL;
    if (sqlite3_prepare_v2(src, t->src, -1, &row, NULL) != SQLITE_OK) {
        return 0; /* no such table (agent_sessions is the newest) */
    }
    int i = sqlite3_bind_parameter_index(row, ":now");
    if (i > 0) {
        sqlite3_bind_int64(row, i, in->now);
    }
    i = sqlite3_bind_parameter_index(row, ":org");
    if (i > 0) {
        sqlite3_bind_text(row, i, in->org, -1, SQLITE_STATIC);
    }
    int rc = 0, step = SQLITE_DONE;
    while (rc == 0 && (step = sqlite3_step(row)) == SQLITE_ROW) {
        int r = copy_row(db, t, row);
        if (r < 0) {
            rc = r;
        } else {
            counts[0]++;
            counts[1 + r]++;
        }
    }
    if (rc == 0 && step != SQLITE_DONE) {
        rc = AD_EINVAL; /* the source is not what it says */
    }
    sqlite3_finalize(row);
    return rc;
}

/* The agents' parents, once every agent is in. */
static int link_parents(ad_db_t *db, sqlite3 *src)
{
    sqlite3_stmt *row = NULL;
    if (sqlite3_prepare_v2(
            src, "SELECT id, parent_agent_id FROM agents WHERE parent_agent_id IS NOT NULL", -1,
            &row, NULL) != SQLITE_OK) {
        return 0;
    }
    ad_db_stmt_t *u = ad_store_stmt(
        db, "UPDATE agents SET parent_agent_id = ?2 WHERE id = ?1 AND parent_agent_id IS NULL AND "
            "EXISTS (SELECT 1 FROM agents WHERE id = ?2)");
    int rc = u == NULL ? AD_EINTERNAL : 0;
    while (rc == 0 && sqlite3_step(row) == SQLITE_ROW) {
        bind_row(u, row);
        rc = ad_store_step_done(db, u);
    }
    sqlite3_finalize(row);
    return rc;
}

/* The first column of sql's first row as an integer (text "ok" is 1), or
 * -1 when it does not run. */
static int64_t one(sqlite3 *src, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(src, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        v = sqlite3_column_type(s, 0) == SQLITE_TEXT
                ? (t != NULL && strcmp((const char *)t, "ok") == 0)
                : sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    return v;
}

/* Whether src is a sound database with the seed's tables (the first six)
 * as plain tables; agent_sessions, when there, too. */
static bool looks_like_seed(sqlite3 *src)
{
    return one(src, "PRAGMA quick_check") == 1 &&
           one(src, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                    "('workspaces', 'worktrees', 'agents', 'messages', 'usage_stats', "
                    "'settings') AND sql NOT LIKE 'CREATE VIRTUAL%'") == 6 &&
           one(src, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'agent_sessions' AND "
                    "(type != 'table' OR sql LIKE 'CREATE VIRTUAL%')") == 0;
}

/* The source, read-only with SQLite's defences for a file nobody vouches
 * for; NULL when it cannot be opened. */
static sqlite3 *open_source(const char *path)
{
    sqlite3 *src = NULL;
    if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(src);
        return NULL;
    }
    sqlite3_db_config(src, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(src, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(src, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
    sqlite3_db_config(src, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
    sqlite3_limit(src, SQLITE_LIMIT_LENGTH, VALUE_MAX);
    sqlite3_limit(src, SQLITE_LIMIT_SQL_LENGTH, 1 << 20);
    sqlite3_exec(src, "PRAGMA cell_size_check = ON; PRAGMA mmap_size = 0", NULL, NULL, NULL);
    return src;
}

static int import_run(ad_store_tx_t *tx, const void *inp, json_t **result)
{
    const import_in_t *in = inp;
    sqlite3 *src = open_source(in->path);
    int rc = src != NULL && looks_like_seed(src) ? 0 : AD_EINVAL;
    json_t *out = json_object(), *per = json_object();
    int64_t total[4] = {0};
    for (size_t i = 0; i < AD_ARRAY_LEN(tables) && rc == 0; i++) {
        int64_t c[4] = {0};
        rc = copy_table(tx->db, src, &tables[i], in, c);
        json_object_set_new(per, tables[i].name,
                            json_pack("{s:I, s:I, s:I, s:I}", "source", (json_int_t)c[0],
                                      "imported", (json_int_t)c[1], "present", (json_int_t)c[2],
                                      "skipped", (json_int_t)c[3]));
        for (int k = 0; k < 4; k++) {
            total[k] += c[k];
        }
        if (rc == 0 && i == 2) {
            rc = link_parents(tx->db, src);
        }
    }
    sqlite3_close(src);
    json_object_set_new(out, "source", json_string(in->path));
    json_object_set_new(out, "orgId", json_string(in->org));
    json_object_set_new(out, "tables", per);
    json_object_set_new(out, "total",
                        json_pack("{s:I, s:I, s:I, s:I}", "source", (json_int_t)total[0],
                                  "imported", (json_int_t)total[1], "present", (json_int_t)total[2],
                                  "skipped", (json_int_t)total[3]));
    *result = out;
    return rc;
}

void ad_store_import_seed(ad_store_t *st, const char *path, const char *org, int64_t now,
                          ad_store_result_cb cb, void *ud)
{
    import_in_t in = {.now = now};
    snprintf(in.path, sizeof(in.path), "%s", path);
    snprintf(in.org, sizeof(in.org), "%s", org);
    ad_store_typed_write(st, import_run, &in, sizeof(in), NULL, cb, ud);
}

int ad_store_import_path_check(const char *path, ad_field_err_t *e)
{
    struct stat st;
    if (path[0] != '/') {
        return ad_field_fail(e, "path", "must be an absolute path");
    }
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        return ad_field_fail(e, "path", "is not a file this daemon can read");
    }
    return 0;
}
