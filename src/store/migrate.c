/* SPDX-License-Identifier: MIT */
/*
 * Migrations: the embedded NNNN_name.sql scripts applied in order, all the
 * pending ones in one transaction, each recorded in schema_migrations with a
 * SHA-256 of its text; a changed or unknown recorded migration refuses to
 * start. A fresh SQLite database gets the schema they make in one go
 * instead (both kept gzipped: embedded.c). Opening the database is open.c's.
 */
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>

void ad_store_checksum(const char *sql, char out[65])
{
    uint8_t md[32];
    static const char hex[] = "0123456789abcdef";
    ad_sha256(sql, strlen(sql), md);
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

int ad_store_exec_raw(ad_db_t *db, const char *sql, char *err, size_t errsz, const char *path,
                      const char *what)
{
    char *msg = NULL;
    sqlite3 *sq = ad_db_sqlite(db);
    int rc = sq != NULL ? sqlite3_exec(sq, sql, NULL, NULL, &msg) : ad_db_pg_exec(db, sql);
    if (rc == AD_DB_OK) {
        return 0;
    }
    int e = ad_store_rc(db, ad_db_extended_errcode(db));
    if (e == 0) {
        e = AD_EINTERNAL;
    }
    if (e == AD_ECORRUPT) {
        snprintf(err, errsz,
                 "database %s is corrupt (%s); refusing to run: restore it from a "
                 "backup or move it away",
                 path, msg != NULL ? msg : ad_db_errmsg(db));
    } else {
        snprintf(err, errsz, "database %s: %s failed: %s", path, what,
                 msg != NULL ? msg : ad_db_errmsg(db));
    }
    sqlite3_free(msg);
    return e;
}

static void schema_read_failed(ad_db_t *db, int e, const char *path, char *err, size_t errsz)
{
    if (e == AD_ECORRUPT) {
        snprintf(err, errsz,
                 "database %s is corrupt (%s); refusing to run: restore it from a "
                 "backup or move it away",
                 path, ad_db_errmsg(db));
    } else {
        snprintf(err, errsz, "database %s: reading schema_migrations failed: %s", path,
                 ad_db_errmsg(db));
    }
}

/* Checks every recorded migration against list: each must be known and
 * unchanged. Marks the applied ones in applied[]. */
static int check_recorded(ad_db_t *db, const ad_migration_t *list, size_t n, bool *applied,
                          const char *path, char *err, size_t errsz)
{
    ad_db_stmt_t *s = NULL;
    int rc = ad_db_prepare_v2(db,
                              "SELECT version, name, checksum FROM schema_migrations "
                              "ORDER BY version",
                              -1, &s, NULL);
    int e = 0;
    if (rc != AD_DB_OK) {
        e = ad_store_rc(db, ad_db_extended_errcode(db));
        schema_read_failed(db, e, path, err, errsz);
        return e != 0 ? e : AD_EINTERNAL;
    }
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        int ver = ad_db_column_int(s, 0);
        const char *name = (const char *)ad_db_column_text(s, 1);
        const char *sum = (const char *)ad_db_column_text(s, 2);
        size_t k = 0;
        while (k < n && list[k].version != ver) {
            k++;
        }
        if (k == n) {
            snprintf(err, errsz,
                     "database %s was written by a newer agentd: it has migration "
                     "%s (version %d), which this binary does not know; upgrade "
                     "agentd",
                     path, name != NULL ? name : "?", ver);
            e = AD_ESTATE;
            goto out;
        }
        char want[65];
        if ((e = ad_store_migration_sum(&list[k], want, err, errsz)) != 0) {
            goto out;
        }
        if (sum == NULL || strcmp(sum, want) != 0) {
            snprintf(err, errsz,
                     "database %s: migration %s was applied with checksum %.12s… "
                     "but this binary's %s has %.12s…: the migration file changed "
                     "after release; refusing to start",
                     path, list[k].name, sum != NULL ? sum : "?", list[k].name, want);
            e = AD_ECORRUPT;
            goto out;
        }
        applied[k] = true;
    }
    if (rc != AD_DB_DONE) {
        e = ad_store_rc(db, rc);
        schema_read_failed(db, e, path, err, errsz);
    }
out:
    ad_db_finalize(s);
    return e;
}

/* Records m in schema_migrations (inside its transaction). */
static int record(ad_db_t *db, const ad_migration_t *m, const char *path, char *err, size_t errsz)
{
    char sum[65];
    if (ad_store_migration_sum(m, sum, err, errsz) != 0) {
        return AD_ENOMEM;
    }
    ad_db_stmt_t *s = NULL;
    int rc = ad_db_prepare_v2(db,
                              "INSERT INTO schema_migrations (version, name, "
                              "applied_at, checksum) VALUES (?, ?, ?, ?)",
                              -1, &s, NULL);
    if (rc == AD_DB_OK) {
        ad_db_bind_int(s, 1, m->version);
        ad_db_bind_text(s, 2, m->name, -1, AD_DB_STATIC);
        ad_db_bind_int64(s, 3, ad_wall_ms());
        ad_db_bind_text(s, 4, sum, -1, AD_DB_TRANSIENT);
        rc = ad_db_step(s);
    }
    ad_db_finalize(s);
    if (rc != AD_DB_DONE) {
        snprintf(err, errsz, "database %s: recording %s failed: %s", path, m->name,
                 ad_db_errmsg(db));
        return ad_store_rc(db, rc);
    }
    return 0;
}

/* Whether db is a SQLite database with nothing in it but an empty
 * schema_migrations, to be given every migration of the embedded list. */
static bool fresh_sqlite(ad_db_t *db, const ad_migration_t *list, size_t n, size_t pending)
{
    if (ad_db_sqlite(db) == NULL || list != ad_migrations || n != ad_migrations_count ||
        pending != n) {
        return false;
    }
    ad_db_stmt_t *s = NULL;
    bool empty = ad_db_prepare_v2(db,
                                  "SELECT 1 FROM sqlite_schema WHERE name <> "
                                  "'schema_migrations' LIMIT 1",
                                  -1, &s, NULL) == AD_DB_OK &&
                 ad_db_step(s) == AD_DB_DONE;
    ad_db_finalize(s);
    return empty;
}

/* Applies the migrations of list not yet applied (applied[k] false), all in
 * one transaction: every one of them, or none. One transaction instead of
 * one each: a fresh data dir's start was mostly its 50-odd commits, each
 * making SQLite read the whole schema again (S1, bench/README). A fresh
 * database runs what they make (ad_schema, made from them at build
 * time) instead of them: their ALTER TABLEs still made SQLite parse the
 * whole schema again, one by one. Either way each is recorded. */
static int apply_pending(ad_db_t *db, const ad_migration_t *list, size_t n, const bool *applied,
                         const char *path, char *err, size_t errsz)
{
    size_t pending = 0;
    for (size_t k = 0; k < n; k++) {
        pending += !applied[k];
    }
    if (pending == 0) {
        return 0;
    }
    bool fresh = fresh_sqlite(db, list, n, pending);
    int e = ad_store_exec_raw(db, "BEGIN IMMEDIATE", err, errsz, path, "BEGIN");
    if (e != 0) {
        return e;
    }
    char what[160] = "the schema of a fresh database";
    if (fresh) {
        char *schema = ad_store_schema_sql(err, errsz);
        e = schema != NULL ? ad_store_exec_raw(db, schema, err, errsz, path, what) : AD_ENOMEM;
        free(schema);
    }
    for (size_t k = 0; e == 0 && k < n; k++) {
        if (applied[k]) {
            continue;
        }
        snprintf(what, sizeof(what), "migration %s", list[k].name);
        if (!fresh) {
            const char *sql = ad_store_migration_sql(&list[k], err, errsz);
            e = sql != NULL ? ad_store_exec_raw(db, sql, err, errsz, path, what) : AD_ENOMEM;
        }
        if (e == 0) {
            e = record(db, &list[k], path, err, errsz);
        }
    }
    if (e == 0) {
        e = ad_store_exec_raw(db, "COMMIT", err, errsz, path, what);
    }
    if (e != 0) {
        ad_store_exec_raw(db, "ROLLBACK", what, sizeof(what), path, "ROLLBACK");
        return e == AD_EINTERNAL ? AD_EINVAL : e;
    }
    if (fresh) {
        ad_log(AD_LOG_INFO, "store", "fresh database made migrations=%zu last=%s", n,
               list[n - 1].name);
        return 0;
    }
    for (size_t k = 0; k < n; k++) {
        if (!applied[k]) {
            ad_log(AD_LOG_INFO, "store", "migration applied name=%s version=%d", list[k].name,
                   list[k].version);
        }
    }
    return 0;
}

int ad_store_migrate(ad_db_t *db, const ad_migration_t *list, size_t n, const char *path, char *err,
                     size_t errsz)
{
    int e = ad_store_exec_raw(db,
                              "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER "
                              "PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL, "
                              "checksum TEXT NOT NULL)",
                              err, errsz, path, "creating schema_migrations");
    if (e != 0) {
        return e;
    }
    for (size_t i = 1; i < n; i++) {
        if (list[i].version <= list[i - 1].version) {
            snprintf(err, errsz, "migrations %s and %s are out of order or share a version",
                     list[i - 1].name, list[i].name);
            return AD_EINTERNAL;
        }
    }
    bool *applied = ad_xcalloc(n + 1, sizeof(bool));
    e = check_recorded(db, list, n, applied, path, err, errsz);
    if (e == 0) {
        e = apply_pending(db, list, n, applied, path, err, errsz);
    }
    free(applied);
    return e;
}
