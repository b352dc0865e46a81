/* SPDX-License-Identifier: MIT */
/*
 * Build-time schema maker: applies the SQL migrations given as arguments (in
 * the order given) to an empty in-memory SQLite database, then writes what
 * they made as SQL that makes it again in one go: every table, then every
 * index, view and trigger, each as SQLite keeps its text, then the rows the
 * migrations inserted. scripts/migrations.mk embeds it gzipped (tools/embed
 * --blob) as ad_schema.
 *
 * src/store/migrate.c runs it on a fresh database instead of the migrations
 * one by one: their 47 ALTER TABLEs each made SQLite parse the whole schema
 * again, most of a fresh start (S1, bench/README). tests/unit/
 * test-store-core.c checks that both ways make the same database.
 * Usage: schema OUT.c MIGRATION.sql...
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *out_path;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "schema: %s: %s\n", what, detail);
    if (out_path != NULL) {
        remove(out_path);
    }
    exit(1);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        die("cannot open", path);
    }
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap + 1);
    size_t k;
    while (s != NULL && (k = fread(s + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            cap *= 2;
            s = realloc(s, cap + 1);
        }
    }
    if (s == NULL || ferror(f)) {
        die("cannot read", path);
    }
    fclose(f);
    s[n] = '\0';
    return s;
}

static void exec(sqlite3 *db, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        die(what, msg != NULL ? msg : sqlite3_errmsg(db));
    }
}

/* A prepared statement of sql, or the tool stops naming what it was for. */
static sqlite3_stmt *prepare(sqlite3 *db, const char *sql, const char *what)
{
    sqlite3_stmt *s = NULL;
    if (sql == NULL || sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        die(what, sqlite3_errmsg(db));
    }
    return s;
}

/* Writes s as one statement of the text. */
static void put_statement(FILE *out, const char *s)
{
    fputs(s, out);
    fputs(";\n", out);
}

/* The objects' text: tables first (an index, view or trigger needs its
 * table), each kind in the order it was made. SQLite's own (sqlite_%, and
 * automatic indexes, which have no text), schema_migrations (made before
 * any migration) and a virtual table's shadow tables (its CREATE VIRTUAL
 * TABLE makes them: search's FTS5 index, issue #76) are left out. */
static void put_schema(sqlite3 *db, FILE *out)
{
    sqlite3_stmt *s = prepare(db,
                              "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT "
                              "LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> 'schema_migrations' "
                              "AND name NOT IN (SELECT name FROM pragma_table_list WHERE type = "
                              "'shadow') "
                              "ORDER BY type <> 'table', type <> 'index', type <> 'view', rowid",
                              "reading the schema");
    while (sqlite3_step(s) == SQLITE_ROW) {
        put_statement(out, (const char *)sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
}

/* The rows the migrations inserted (settings' defaults, the default org),
 * as INSERTs of SQLite's quote() of each value. A virtual table's rows are
 * its shadow tables', which its CREATE made with their first rows: those
 * are written over (INSERT OR REPLACE), so an FTS5 index's settings (its
 * rank) come out as the migrations left them. */
static void put_rows(sqlite3 *db, FILE *out)
{
    sqlite3_stmt *t = prepare(db,
                              "SELECT s.name, l.wr, l.type = 'shadow' FROM sqlite_schema AS s "
                              "JOIN pragma_table_list AS l ON l.name = s.name AND l.schema = "
                              "'main' WHERE s.type = 'table' AND l.type <> 'virtual' AND s.name "
                              "NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND "
                              "s.name <> 'schema_migrations' ORDER BY s.rowid",
                              "listing the tables");
    while (sqlite3_step(t) == SQLITE_ROW) {
        const char *table = (const char *)sqlite3_column_text(t, 0);
        /* SELECT 'INSERT INTO "t" VALUES(' || quote(c1) || ',' || ... || ')' FROM "t" */
        sqlite3_str *q = sqlite3_str_new(db);
        sqlite3_str_appendf(q, "SELECT 'INSERT%s INTO \"%w\" VALUES('",
                            sqlite3_column_int(t, 2) ? " OR REPLACE" : "", table);
        char *cols = sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q) ORDER BY cid", table);
        sqlite3_stmt *c = prepare(db, cols, "reading the columns");
        int k = 0;
        while (sqlite3_step(c) == SQLITE_ROW) {
            sqlite3_str_appendf(q, "%s || quote(\"%w\")", k++ > 0 ? " || ','" : "",
                                (const char *)sqlite3_column_text(c, 0));
        }
        sqlite3_finalize(c);
        sqlite3_free(cols);
        /* in the order the rows were inserted, so that a table's rowids
         * come out the same */
        sqlite3_str_appendf(q, " || ')' FROM \"%w\"%s", table,
                            sqlite3_column_int(t, 1) ? "" : " ORDER BY rowid");
        char *sql = sqlite3_str_finish(q);
        sqlite3_stmt *r = prepare(db, sql, "reading the rows");
        while (sqlite3_step(r) == SQLITE_ROW) {
            put_statement(out, (const char *)sqlite3_column_text(r, 0));
        }
        sqlite3_finalize(r);
        sqlite3_free(sql);
    }
    sqlite3_finalize(t);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: schema OUT.sql MIGRATION.sql...\n");
        return 2;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
        die("opening a database", "out of memory");
    }
    /* as the daemon's connection runs them (src/store/open.c) */
    exec(db, "PRAGMA foreign_keys=ON", "PRAGMA");
    exec(db,
         "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
         "applied_at INTEGER NOT NULL, checksum TEXT NOT NULL)",
         "schema_migrations");
    exec(db, "BEGIN", "BEGIN");
    for (int i = 2; i < argc; i++) {
        char *sql = read_file(argv[i]);
        exec(db, sql, argv[i]);
        free(sql);
    }
    exec(db, "COMMIT", "COMMIT");

    out_path = argv[1];
    FILE *out = fopen(out_path, "w");
    if (out == NULL) {
        die("cannot write", out_path);
    }
    put_schema(db, out);
    put_rows(db, out);
    if (fclose(out) != 0) {
        die("cannot write", out_path);
    }
    sqlite3_close(db);
    return 0;
}
