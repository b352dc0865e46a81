/* SPDX-License-Identifier: MIT */
/* Tests for the store's core: open and migrations (checksum and newer-db
 * refusal, corrupt file), error mapping, group commit and its completions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "tables/workspaces.h"
#include "store/store_int.h"
#include "store_fixture.h"

typedef store_fx_t fixture_t; /* the store is opened and closed by each test */

static int setup(void **state)
{
    *state = store_fx_new("store", false);
    store_fx_pg_empty();
    return 0;
}

static ad_store_t *open_ok(fixture_t *f)
{
    ad_store_t *st = NULL;
    char err[512] = "";
    ad_store_opts_t o = store_fx_opts_keep(f->path);
    int rc = ad_store_open(&f->loop, &o, &st, err, sizeof(err));
    if (rc != 0) {
        fail_msg("open failed: %s", err);
    }
    return st;
}

static void close_store(fixture_t *f, ad_store_t *st)
{
    ad_store_close(st);
    uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void opens_with_wal_and_every_table(void **state)
{
    STORE_FX_SQLITE_ONLY("WAL, foreign_keys and the tables read from SQLite's schema");
    fixture_t *f = *state;
    ad_store_t *st = open_ok(f);
    sqlite3 *db = ad_db_sqlite(ad_store_rdb(st));
    /* events are no table: they live in the event log (evlog.c) */
    const char *tables[] = {"workspaces", "worktrees",      "agents",        "runs",
                            "messages",   "usage_stats",    "metric_points", "settings",
                            "bus_meta",   "agent_sessions", "crews",         "schema_migrations"};
    for (size_t i = 0; i < AD_ARRAY_LEN(tables); i++) {
        sqlite3_stmt *s = NULL;
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT count(*) FROM sqlite_schema WHERE "
                                            "type = 'table' AND name = ?",
                                            -1, &s, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(s, 1, tables[i], -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(s), SQLITE_ROW);
        if (sqlite3_column_int(s, 0) != 1) {
            fail_msg("table %s missing", tables[i]);
        }
        sqlite3_finalize(s);
    }
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_prepare_v2(db, "PRAGMA foreign_keys", -1, &s, NULL);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    sqlite3_prepare_v2(db, "SELECT version, name, length(checksum) FROM schema_migrations", -1, &s,
                       NULL);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1);
    assert_string_equal((const char *)sqlite3_column_text(s, 1), "0001_init.sql");
    assert_int_equal(sqlite3_column_int(s, 2), 64);
    sqlite3_finalize(s);
    close_store(f, st);
    /* Reopening applies nothing again and keeps working. */
    st = open_ok(f);
    close_store(f, st);
}

static void changed_checksum_refuses_naming_the_file(void **state)
{
    fixture_t *f = *state;
    close_store(f, open_ok(f));
    store_fx_exec(f, "UPDATE schema_migrations SET checksum = 'abc' WHERE version = 1");
    ad_store_t *st = NULL;
    char err[512] = "";
    ad_store_opts_t o = store_fx_opts_keep(f->path);
    assert_int_equal(ad_store_open(&f->loop, &o, &st, err, sizeof(err)), AD_ECORRUPT);
    assert_null(st);
    assert_non_null(strstr(err, "0001_init.sql"));
    assert_non_null(strstr(err, "checksum"));
    assert_true(store_fx_pg() != NULL || strstr(err, f->path) != NULL);
}

static void newer_database_refuses(void **state)
{
    fixture_t *f = *state;
    close_store(f, open_ok(f));
    store_fx_exec(f, "INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 0, 'x')");
    ad_store_t *st = NULL;
    char err[512] = "";
    ad_store_opts_t o = store_fx_opts_keep(f->path);
    assert_int_equal(ad_store_open(&f->loop, &o, &st, err, sizeof(err)), AD_ESTATE);
    assert_non_null(strstr(err, "9999_future.sql"));
    assert_non_null(strstr(err, "newer"));
}

static void corrupt_file_refuses_with_its_path(void **state)
{
    STORE_FX_SQLITE_ONLY("a SQLite file that is not one");
    fixture_t *f = *state;
    FILE *fp = fopen(f->path, "w");
    for (int i = 0; i < 200; i++) {
        fputs("this is not a database at all, just text. ", fp);
    }
    fclose(fp);
    ad_store_t *st = NULL;
    char err[512] = "";
    ad_store_opts_t o = {.path = f->path};
    assert_int_equal(ad_store_open(&f->loop, &o, &st, err, sizeof(err)), AD_ECORRUPT);
    assert_non_null(strstr(err, f->path));
    assert_non_null(strstr(err, "corrupt"));
}

/* Scribbles over n b-tree pages of f's database from page first (1-based;
 * from 2 the schema on page 1 stays readable) and leaves a WAL behind, as a
 * crash would. */
static void damage_as_a_crash_would(fixture_t *f, int64_t first, int n)
{
    FILE *fp = fopen(f->path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, (long)(first - 1) * 4096, SEEK_SET), 0);
    for (int i = 0; i < n * 4096; i++) {
        fputc(0xA5, fp);
    }
    fclose(fp);
    char wal[320];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    fp = fopen(wal, "wb");
    fputs("torn", fp);
    fclose(fp);
}

static int open_in_boot(fixture_t *f, const char *boot, char *err, size_t errsz)
{
    ad_store_t *st = NULL;
    ad_store_opts_t o = {.path = f->path, .boot_id = boot};
    int rc = ad_store_open(&f->loop, &o, &st, err, errsz);
    if (rc == 0) {
        close_store(f, st);
    }
    return rc;
}

/* An unclean stop found after a reboot reads the whole file through, and
 * refuses a damaged one, naming it. */
static void damage_after_unclean_shutdown_is_found(void **state)
{
    STORE_FX_SQLITE_ONLY("SQLite's pages scribbled over");
    fixture_t *f = *state;
    char err[512] = "";
    assert_int_equal(open_in_boot(f, "boot-a", err, sizeof(err)), 0);
    damage_as_a_crash_would(f, 2, 4);
    assert_int_equal(open_in_boot(f, "boot-b", err, sizeof(err)), AD_ECORRUPT);
    assert_non_null(strstr(err, f->path));
    assert_non_null(strstr(err, "corrupt"));
    /* no boot known (no kernel boot id): read through as well */
    assert_int_equal(open_in_boot(f, "", err, sizeof(err)), AD_ECORRUPT);
}

/* An unclean stop in the boot the database was last opened in is a
 * process's end, which cannot damage a WAL database: the whole file is not
 * read (it took 19 s for 1.5 GB), so the open goes on (here past pages it
 * does not read). The next boot still reads it through. */
static void an_unclean_stop_in_the_same_boot_is_not_read_through(void **state)
{
    STORE_FX_SQLITE_ONLY("SQLite's pages scribbled over");
    fixture_t *f = *state;
    char err[512] = "";
    assert_int_equal(open_in_boot(f, "boot-a", err, sizeof(err)), 0);
    char mark[320];
    snprintf(mark, sizeof(mark), "%s-boot", f->path);
    FILE *fp = fopen(mark, "r");
    assert_non_null(fp);
    char line[64] = "";
    assert_non_null(fgets(line, sizeof(line), fp));
    fclose(fp);
    assert_string_equal(line, "boot-a\n");
    /* the messages table's only page: nothing at an open reads it */
    int64_t page = store_fx_int(f, "SELECT rootpage FROM sqlite_schema WHERE name = 'messages'");
    assert_true(page > 1);
    damage_as_a_crash_would(f, page, 1);
    assert_int_equal(open_in_boot(f, "boot-a", err, sizeof(err)), 0);
    damage_as_a_crash_would(f, page, 1);
    assert_int_equal(open_in_boot(f, "boot-b", err, sizeof(err)), AD_ECORRUPT);
}

static int count_of(sqlite3 *db, const char *sql);

/* ad_store_migrate on a bare SQLite connection, left open. */
static int migrate_raw(sqlite3 *db, const ad_migration_t *list, size_t n, const char *path,
                       char *err, size_t errsz)
{
    ad_db_t *w = ad_db_wrap_sqlite(db);
    int e = ad_store_migrate(w, list, n, path, err, errsz);
    ad_db_unwrap(w);
    return e;
}

static void migrations_apply_in_order_with_gaps(void **state)
{
    STORE_FX_SQLITE_ONLY("migrations run on a bare SQLite connection");
    fixture_t *f = *state;
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    ad_migration_t list[] = {
        {1, "0001_a.sql", "CREATE TABLE a (x INTEGER);", NULL},
        {150, "0150_b.sql", "CREATE TABLE b (x INTEGER); INSERT INTO a VALUES (150);", NULL},
    };
    char err[512] = "";
    assert_int_equal(migrate_raw(db, list, 1, f->path, err, sizeof(err)), 0);
    /* A later binary knows one more: only it is applied. */
    assert_int_equal(migrate_raw(db, list, 2, f->path, err, sizeof(err)), 0);
    assert_int_equal(migrate_raw(db, list, 2, f->path, err, sizeof(err)), 0);
    sqlite3_stmt *s = NULL;
    sqlite3_prepare_v2(db, "SELECT count(*), (SELECT count(*) FROM schema_migrations) FROM a", -1,
                       &s, NULL);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1);
    assert_int_equal(sqlite3_column_int(s, 1), 2);
    sqlite3_finalize(s);
    /* A failing migration is rolled back whole and named. */
    ad_migration_t bad[] = {
        list[0],
        list[1],
        {200, "0200_bad.sql", "CREATE TABLE c (x INTEGER); INSERT INTO nowhere VALUES (1);", NULL},
    };
    assert_int_not_equal(migrate_raw(db, bad, 3, f->path, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "0200_bad.sql"));
    sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'c'", -1, &s, NULL);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 0);
    sqlite3_finalize(s);
    /* Out-of-order lists are a build bug, refused. */
    ad_migration_t swapped[] = {list[1], list[0]};
    assert_int_not_equal(migrate_raw(db, swapped, 2, f->path, err, sizeof(err)), 0);
    sqlite3_close(db);
    /* Every pending migration is one transaction: a fresh database whose
     * third fails keeps none of the three (the daemon refuses to start
     * either way), and is then migrated whole by a list that is right. */
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_not_equal(migrate_raw(db, bad, 3, ":memory:", err, sizeof(err)), 0);
    assert_non_null(strstr(err, "0200_bad.sql"));
    assert_int_equal(count_of(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('a', 'b')"),
                     0);
    assert_int_equal(count_of(db, "SELECT count(*) FROM schema_migrations"), 0);
    assert_int_equal(migrate_raw(db, list, 2, ":memory:", err, sizeof(err)), 0);
    assert_int_equal(count_of(db, "SELECT count(*) FROM schema_migrations"), 2);
    assert_int_equal(count_of(db, "SELECT count(*) FROM a"), 1);
    sqlite3_close(db);
}

/* An agents table made by the migrations before 2000 (statuses without
 * `stopped`) keeps every row, and what hangs off it, when 2000 widens its
 * CHECK in place; `stopped` is taken and anything else still refused, on
 * this connection and on one opened before. */
static int count_of(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    int n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
        n = sqlite3_column_int(s, 0);
    }
    sqlite3_finalize(s);
    return n;
}

static int exec_rc(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Every row sql gives, each value quoted, one row a line (sqlite3_free). */
static char *dump(sqlite3 *db, const char *sql)
{
    sqlite3_str *out = sqlite3_str_new(db);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        for (int c = 0; c < sqlite3_column_count(s); c++) {
            const char *v = (const char *)sqlite3_column_text(s, c);
            sqlite3_str_appendf(out, "%s%Q", c > 0 ? "|" : "", v);
        }
        sqlite3_str_appendchar(out, 1, '\n');
    }
    sqlite3_finalize(s);
    char *text = sqlite3_str_finish(out); /* NULL when empty */
    return text != NULL ? text : sqlite3_mprintf("");
}

static void assert_same(sqlite3 *a, sqlite3 *b, const char *sql)
{
    char *x = dump(a, sql), *y = dump(b, sql);
    assert_non_null(x);
    assert_non_null(y);
    assert_string_equal(x, y);
    sqlite3_free(x);
    sqlite3_free(y);
}

/* A fresh database gets what the migrations make in one go (ad_schema,
 * made from them at build time, S1): the same tables, indexes, triggers and
 * rows as the migrations run one by one, every migration recorded. */
static void a_fresh_database_is_what_the_migrations_make(void **state)
{
    STORE_FX_SQLITE_ONLY("the schema in one go is SQLite's");
    (void)state;
    sqlite3 *made = NULL, *migrated = NULL;
    assert_int_equal(sqlite3_open(":memory:", &made), SQLITE_OK);
    assert_int_equal(sqlite3_open(":memory:", &migrated), SQLITE_OK);
    exec_rc(made, "PRAGMA foreign_keys=ON");
    exec_rc(migrated, "PRAGMA foreign_keys=ON");
    char err[512] = "";
    assert_int_equal(
        migrate_raw(made, ad_migrations, ad_migrations_count, ":memory:", err, sizeof(err)), 0);
    /* the same list elsewhere is not the embedded one: one by one */
    ad_migration_t *copy = calloc(ad_migrations_count, sizeof(*copy));
    assert_non_null(copy);
    memcpy(copy, ad_migrations, ad_migrations_count * sizeof(*copy));
    assert_int_equal(migrate_raw(migrated, copy, ad_migrations_count, ":memory:", err, sizeof(err)),
                     0);
    free(copy);
    /* each change of the schema counts: the fresh one took the short way */
    assert_true(count_of(made, "PRAGMA schema_version") <
                count_of(migrated, "PRAGMA schema_version"));
    assert_same(made, migrated,
                "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY 1, 2");
    assert_same(made, migrated,
                "SELECT version, name, checksum FROM schema_migrations ORDER BY version");
    assert_int_equal(count_of(made, "SELECT count(*) FROM schema_migrations"),
                     (int)ad_migrations_count);
    /* every table's rows, in full */
    sqlite3_stmt *t = NULL;
    assert_int_equal(sqlite3_prepare_v2(migrated,
                                        "SELECT s.name, (SELECT count(*) FROM "
                                        "pragma_table_info(s.name)) FROM sqlite_schema AS s "
                                        "WHERE s.type = 'table' AND s.name <> "
                                        "'schema_migrations'",
                                        -1, &t, NULL),
                     SQLITE_OK);
    int tables = 0, rows = 0;
    while (sqlite3_step(t) == SQLITE_ROW) {
        sqlite3_str *q = sqlite3_str_new(migrated);
        sqlite3_str_appendf(q, "SELECT * FROM \"%w\" ORDER BY 1",
                            (const char *)sqlite3_column_text(t, 0));
        for (int c = 2; c <= sqlite3_column_int(t, 1); c++) {
            sqlite3_str_appendf(q, ", %d", c);
        }
        char *sql = sqlite3_str_finish(q);
        assert_same(made, migrated, sql);
        char *count = sqlite3_mprintf("SELECT count(*) FROM \"%w\"", sqlite3_column_text(t, 0));
        rows += count_of(made, count);
        sqlite3_free(count);
        sqlite3_free(sql);
        tables++;
    }
    sqlite3_finalize(t);
    assert_true(tables > 50);
    assert_true(rows > 0); /* the settings' defaults, the default org */
    assert_int_equal(count_of(made, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    assert_int_equal(count_of(made, "SELECT count(*) FROM pragma_integrity_check WHERE "
                                    "integrity_check <> 'ok'"),
                     0);
    sqlite3_close(made);
    sqlite3_close(migrated);
}

/* The embedded migrations are kept gzipped with their checksums made at
 * build time (scripts/embed-migrations.sh): each checksum is the one the
 * daemon makes of the text it inflates, so a database migrated by a build
 * that made them from the text is still seen as migrated. */
static void the_embedded_migrations_carry_their_checksums(void **state)
{
    (void)state;
    char err[256] = "";
    assert_true(ad_migrations_count > 50);
    for (size_t k = 0; k < ad_migrations_count; k++) {
        const ad_migration_t *m = &ad_migrations[k];
        assert_null(m->sql);
        assert_non_null(m->sum);
        const char *sql = ad_store_migration_sql(m, err, sizeof(err));
        assert_non_null(sql);
        assert_non_null(strstr(sql, ";"));
        char made[65], kept[65];
        ad_store_checksum(sql, made);
        assert_int_equal(ad_store_migration_sum(m, kept, err, sizeof(err)), 0);
        assert_string_equal(made, kept);
        /* a copy of the entry finds the same text by its version */
        ad_migration_t copy = *m;
        assert_ptr_equal(ad_store_migration_sql(&copy, err, sizeof(err)), sql);
    }
    /* the texts in list order: the first migration makes the first tables */
    assert_non_null(
        strstr(ad_store_migration_sql(&ad_migrations[0], err, sizeof(err)), "CREATE TABLE"));
    /* a version the binary does not have has no text, and no checksum */
    ad_migration_t unknown = {999999, "999999_none.sql", NULL, NULL};
    char sum[65] = "x";
    assert_null(ad_store_migration_sql(&unknown, err, sizeof(err)));
    assert_non_null(strstr(err, "999999_none.sql"));
    assert_int_equal(ad_store_migration_sum(&unknown, sum, err, sizeof(err)), AD_ENOMEM);
    assert_string_equal(sum, "");
    char *schema = ad_store_schema_sql(err, sizeof(err));
    assert_non_null(schema);
    assert_non_null(strstr(schema, "CREATE TABLE"));
    free(schema);
}

static void agent_stopped_migration_keeps_rows(void **state)
{
    STORE_FX_SQLITE_ONLY("SQLite's CHECK widened in place (PostgreSQL's is ALTER TABLE)");
    fixture_t *f = *state;
    sqlite3 *db = NULL, *other = NULL;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    exec_rc(db, "PRAGMA foreign_keys=ON");
    size_t k = 0;
    while (k < ad_migrations_count && ad_migrations[k].version < 2000) {
        k++;
    }
    assert_true(k < ad_migrations_count && ad_migrations[k].version == 2000);
    char err[512] = "";
    assert_int_equal(migrate_raw(db, ad_migrations, k, f->path, err, sizeof(err)), 0);
    assert_int_equal(exec_rc(db, "INSERT INTO workspaces (id, name, path, created_at, updated_at) "
                                 "VALUES ('ws_1', 'w', '/r', 1, 1);"
                                 "INSERT INTO worktrees (id, workspace_id, name, path, created_at, "
                                 "updated_at) VALUES ('wt_1', 'ws_1', 'main', '/r', 1, 1);"
                                 "INSERT INTO agents (id, worktree_id, name, status, created_at, "
                                 "updated_at) VALUES ('ag_1', 'wt_1', 'a', 'finished', 1, 1), "
                                 "('ag_2', 'wt_1', 'b', 'idle', 1, 1);"
                                 "INSERT INTO runs (id, agent_id, started_at) VALUES ('run_1', "
                                 "'ag_1', 1);"
                                 "INSERT INTO messages (id, agent_id, run_id, role, content, "
                                 "created_at) VALUES ('msg_1', 'ag_1', 'run_1', 'user', 'hi', 1);"),
                     SQLITE_OK);
    assert_int_not_equal(exec_rc(db, "UPDATE agents SET status = 'stopped' WHERE id = 'ag_1'"),
                         SQLITE_OK);
    assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
    assert_int_equal(count_of(other, "SELECT count(*) FROM agents"), 2); /* schema cached */
    assert_int_equal(migrate_raw(db, ad_migrations, ad_migrations_count, f->path, err, sizeof(err)),
                     0);
    assert_int_equal(count_of(db, "SELECT count(*) FROM agents"), 2);
    assert_int_equal(count_of(db, "SELECT count(*) FROM runs WHERE agent_id = 'ag_1'"), 1);
    assert_int_equal(count_of(db, "SELECT count(*) FROM messages WHERE run_id = 'run_1'"), 1);
    assert_int_equal(exec_rc(db, "UPDATE agents SET status = 'stopped' WHERE id = 'ag_1'"),
                     SQLITE_OK);
    assert_int_not_equal(exec_rc(db, "UPDATE agents SET status = 'bogus' WHERE id = 'ag_2'"),
                         SQLITE_OK);
    assert_int_equal(exec_rc(other, "UPDATE agents SET status = 'stopped' WHERE id = 'ag_2'"),
                     SQLITE_OK);
    assert_int_equal(count_of(db, "SELECT count(*) FROM agents WHERE status = 'stopped'"), 2);
    assert_int_equal(
        count_of(db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"),
        1);
    sqlite3_close(other);
    sqlite3_close(db);
}

/* ---- group commit ---------------------------------------------------------- */

typedef struct {
    ad_store_t *st;
    int n;
    int done;
    int order_ok;
    int last;
    int rcs[64];
} counter_t;

typedef struct {
    counter_t *c;
    int i;
    int fail_with;
} ins_t;

static int ins_job(ad_store_tx_t *tx, void *ctx)
{
    ad_db_t *db = tx->db;
    ins_t *x = ctx;
    ad_db_stmt_t *s = ad_store_stmt(db, "INSERT INTO crews (id, name, created_at, updated_at) "
                                        "VALUES (?1, ?2, 0, 0)");
    char id[32];
    snprintf(id, sizeof(id), "cr_%d", x->i);
    ad_db_bind_text(s, 1, id, -1, AD_DB_TRANSIENT);
    ad_db_bind_text(s, 2, id, -1, AD_DB_TRANSIENT);
    int rc = ad_db_step(s);
    ad_db_reset(s);
    if (rc != AD_DB_DONE) {
        return ad_store_rc(db, rc);
    }
    return x->fail_with;
}

static int crew_count(ad_store_t *st)
{
    ad_db_stmt_t *s = ad_store_stmt(ad_store_rdb(st), "SELECT count(*) FROM crews");
    assert_int_equal(ad_db_step(s), AD_DB_ROW);
    int n = ad_db_column_int(s, 0);
    ad_db_reset(s);
    return n;
}

static bool crew_exists(ad_store_t *st, int i)
{
    char id[32];
    snprintf(id, sizeof(id), "cr_%d", i);
    ad_db_stmt_t *s = ad_store_stmt(ad_store_rdb(st), "SELECT 1 FROM crews WHERE id = ?1");
    ad_db_bind_text(s, 1, id, -1, AD_DB_TRANSIENT);
    bool yes = ad_db_step(s) == AD_DB_ROW;
    ad_db_reset(s);
    return yes;
}

static void ins_done(int rc, void *ctx)
{
    ins_t *x = ctx;
    counter_t *c = x->c;
    if (x->i != c->last + 1) {
        c->order_ok = 0;
    }
    c->last = x->i;
    if (x->i < 64) {
        c->rcs[x->i] = rc;
    }
    /* The write is visible to the read connection once completed. */
    if (rc == 0 && !crew_exists(c->st, x->i)) {
        c->order_ok = -100;
    }
    c->done++;
}

static void run_until(uv_loop_t *loop, counter_t *c)
{
    for (int i = 0; i < 100000 && c->done < c->n; i++) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (c->done < c->n) {
            usleep(100);
        }
    }
    assert_int_equal(c->done, c->n);
}

static void group_commit_completes_every_job_in_order(void **state)
{
    fixture_t *f = *state;
    ad_store_t *st = open_ok(f);
    enum { N = 3000 };
    ins_t *jobs = calloc(N, sizeof(ins_t));
    counter_t c = {.st = st, .n = N, .order_ok = 1, .last = -1};
    for (int i = 0; i < N; i++) {
        jobs[i] = (ins_t){.c = &c, .i = i};
        ad_store_submit(st, ins_job, ins_done, &jobs[i]);
    }
    run_until(&f->loop, &c);
    assert_int_equal(c.order_ok, 1);
    assert_int_equal(crew_count(st), N);
    ad_store_stats_t stats;
    ad_store_stats(st, &stats);
    assert_int_equal(stats.jobs, N);
    /* Everything was queued at once: far fewer commits than jobs. */
    assert_true(stats.groups < N / 2);
    assert_true(stats.groups >= N / AD_STORE_GROUP_MAX);
    close_store(f, st);
    /* Durable: a new open sees them all. */
    st = open_ok(f);
    assert_int_equal(crew_count(st), N);
    close_store(f, st);
    free(jobs);
}

static void failing_job_is_rolled_back_alone_with_mapped_codes(void **state)
{
    fixture_t *f = *state;
    ad_store_t *st = open_ok(f);
    ins_t jobs[6];
    counter_t c = {.st = st, .n = 6, .order_ok = 1, .last = -1};
    jobs[0] = (ins_t){.c = &c, .i = 0};
    jobs[1] = (ins_t){.c = &c, .i = 1, .fail_with = AD_EINVAL}; /* inserted, then fails */
    jobs[2] = (ins_t){.c = &c, .i = 2};
    jobs[3] = (ins_t){.c = &c, .i = 0}; /* duplicate id: UNIQUE */
    jobs[4] = (ins_t){.c = &c, .i = 4};
    jobs[5] = (ins_t){.c = &c, .i = 5};
    for (int i = 0; i < 6; i++) {
        ad_store_submit(st, ins_job, ins_done, &jobs[i]);
    }
    run_until(&f->loop, &c);
    assert_int_equal(c.rcs[1], AD_EINVAL);
    assert_int_equal(c.rcs[2], 0);
    assert_int_equal(c.rcs[0], AD_EEXIST); /* the second completion for id 0 */
    assert_int_equal(c.rcs[4], 0);
    assert_false(crew_exists(st, 1));
    assert_true(crew_exists(st, 0));
    assert_true(crew_exists(st, 2));
    assert_int_equal(crew_count(st), 4);
    close_store(f, st);
}

/* ---- error mapping through real statements --------------------------------------- */

typedef struct {
    const char *sql;
    int rc;
} sql_job_t;

static int sql_job(ad_store_tx_t *tx, void *ctx)
{
    ad_db_t *db = tx->db;
    sql_job_t *j = ctx;
    if (ad_db_is_pg(db)) {
        return ad_store_exec(db, j->sql);
    }
    char *msg = NULL;
    int rc = sqlite3_exec(ad_db_sqlite(db), j->sql, NULL, NULL, &msg);
    sqlite3_free(msg);
    return ad_store_rc(db, rc == AD_DB_OK ? rc : ad_db_extended_errcode(db));
}

static void sql_done(int rc, void *ctx)
{
    sql_job_t *j = ctx;
    j->rc = rc;
}

static int run_sql(fixture_t *f, ad_store_t *st, const char *sql)
{
    sql_job_t j = {.sql = sql, .rc = 1};
    ad_store_submit(st, sql_job, sql_done, &j);
    for (int i = 0; i < 20000 && j.rc == 1; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(100);
    }
    return j.rc;
}

static void sqlite_errors_map_to_ad_codes(void **state)
{
    fixture_t *f = *state;
    ad_store_t *st = open_ok(f);
    assert_int_equal(run_sql(f, st,
                             "INSERT INTO workspaces (id, name, path, created_at, updated_at) "
                             "VALUES ('ws_1', 'a', '/a', 0, 0)"),
                     0);
    /* UNIQUE (path) and PRIMARY KEY -> conflict */
    assert_int_equal(run_sql(f, st,
                             "INSERT INTO workspaces (id, name, path, created_at, updated_at) "
                             "VALUES ('ws_2', 'b', '/a', 0, 0)"),
                     AD_EEXIST);
    assert_int_equal(run_sql(f, st,
                             "INSERT INTO workspaces (id, name, path, created_at, updated_at) "
                             "VALUES ('ws_1', 'b', '/b', 0, 0)"),
                     AD_EEXIST);
    /* CHECK and FOREIGN KEY and NOT NULL -> constraint */
    assert_int_equal(run_sql(f, st,
                             "INSERT INTO worktrees (id, workspace_id, name, path, "
                             "sort_mode, created_at, updated_at) VALUES ('wt_1', 'ws_1', "
                             "'m', '/a', 'bogus', 0, 0)"),
                     AD_ECONSTRAINT);
    assert_int_equal(run_sql(f, st,
                             "INSERT INTO worktrees (id, workspace_id, name, path, "
                             "created_at, updated_at) VALUES ('wt_1', 'ws_nope', 'm', "
                             "'/a', 0, 0)"),
                     AD_ECONSTRAINT);
    assert_int_equal(run_sql(f, st,
                             "INSERT INTO workspaces (id, name, path, created_at, updated_at) "
                             "VALUES ('ws_3', NULL, '/c', 0, 0)"),
                     AD_ECONSTRAINT);
    /* A full disk: cap the file at its current size, then grow it
     * (SQLite's: PostgreSQL's server has a disk of its own). */
    if (store_fx_pg() == NULL) {
        assert_int_equal(run_sql(f, st, "PRAGMA max_page_count = 1"), 0);
        assert_int_equal(run_sql(f, st,
                                 "INSERT INTO crews (id, name, created_at, updated_at) VALUES "
                                 "('cr_big', hex(zeroblob(200000)), 0, 0)"),
                         AD_EFULL);
    }
    /* Reads keep working after a full disk. */
    json_t *ws = NULL;
    assert_int_equal(ad_store_workspace_get(st, "ws_1", &ws), 0);
    json_decref(ws);
    assert_int_equal(ad_store_workspace_get(st, "ws_404", &ws), AD_ENOENT);
    /* Direct translations. */
    assert_int_equal(ad_store_rc(NULL, AD_DB_BUSY), AD_EBUSY);
    assert_int_equal(ad_store_rc(NULL, AD_DB_LOCKED), AD_EBUSY);
    assert_int_equal(ad_store_rc(NULL, SQLITE_CORRUPT), AD_ECORRUPT);
    assert_int_equal(ad_store_rc(NULL, SQLITE_NOTADB), AD_ECORRUPT);
    assert_int_equal(ad_store_rc(NULL, SQLITE_IOERR_WRITE), AD_EIO);
    assert_int_equal(ad_store_rc(NULL, AD_DB_DONE), 0);
    close_store(f, st);
}

static int busy_job(ad_store_tx_t *tx, void *ctx)
{
    AD_UNUSED(ctx);
    ad_db_t *db = tx->db;
    return ad_store_exec(
        db, "INSERT INTO crews (id, name, created_at, updated_at) VALUES ('cr_busy', 'b', 0, 0)");
}

/* A store with a short busy timeout, and another connection (as another
 * process would) holding SQLite's write lock until the caller lets go. */
static ad_store_t *open_locked_out(fixture_t *f, sqlite3 **other)
{
    ad_store_opts_t o = {.path = f->path, .busy_timeout_ms = 20};
    ad_store_t *st = NULL;
    char err[512];
    assert_int_equal(ad_store_open(&f->loop, &o, &st, err, sizeof(err)), 0);
    assert_int_equal(sqlite3_open(f->path, other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(*other, "BEGIN IMMEDIATE", NULL, NULL, NULL), AD_DB_OK);
    return st;
}

static void busy_database_is_retried_within_a_bound(void **state)
{
    STORE_FX_SQLITE_ONLY("another process holding SQLite's write lock");
    fixture_t *f = *state;
    /* Another process holds the write lock for good: the job fails with
     * EBUSY after bounded retries instead of hanging. */
    sqlite3 *other = NULL;
    ad_store_t *st = open_locked_out(f, &other);
    sql_job_t j = {.rc = 1};
    ad_store_submit(st, busy_job, sql_done, &j);
    for (int i = 0; i < 100000 && j.rc == 1; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(100);
    }
    assert_int_equal(j.rc, AD_EBUSY);
    ad_store_stats_t stats;
    ad_store_stats(st, &stats);
    assert_true(stats.retries > 0);
    /* Once released, writes go through again. */
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    j.rc = 1;
    ad_store_submit(st, busy_job, sql_done, &j);
    for (int i = 0; i < 100000 && j.rc == 1; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(100);
    }
    assert_int_equal(j.rc, 0);
    close_store(f, st);
}

/* A job that writes no row (the event log's) runs without a transaction:
 * another process holding SQLite's write lock does not hold it up, and
 * the writer never asks for the lock. With a transaction the jobs would
 * fail with EBUSY after the busy timeout's retries. */
typedef struct {
    int ran;  /* writer thread */
    int done; /* loop thread, after the writer handed the job back */
    int failed;
} norow_t;

static int norow_job(ad_store_tx_t *tx, void *ctx)
{
    AD_UNUSED(tx);
    ((norow_t *)ctx)->ran++;
    return 0;
}

static void norow_done(int rc, void *ctx)
{
    norow_t *n = ctx;
    n->failed += rc != 0;
    n->done++;
}

static void a_job_without_rows_takes_no_write_lock(void **state)
{
    STORE_FX_SQLITE_ONLY("another process holding SQLite's write lock");
    fixture_t *f = *state;
    sqlite3 *other = NULL;
    ad_store_t *st = open_locked_out(f, &other);
    norow_t n = {0};
    for (int i = 0; i < 3; i++) {
        ad_store_submit_norow(st, norow_job, norow_done, &n);
    }
    for (int i = 0; i < 100000 && n.done < 3; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(100);
    }
    assert_int_equal(n.done, 3);
    assert_int_equal(n.failed, 0);
    assert_int_equal(n.ran, 3); /* each once */
    ad_store_stats_t stats;
    ad_store_stats(st, &stats);
    assert_int_equal(stats.retries, 0);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    close_store(f, st);
}

/* A job whose completion, delivered while the store closes, writes again:
 * the writer thread has stopped by then, and the new job used to stay
 * queued for ever (never stored, its done never called, its memory lost).
 * Each of a chain of three now runs, in order, and is answered. */
typedef struct {
    ins_t ins;
    int next; /* how many more to chain after this one */
    struct chain_s *all;
} chain_t;

struct chain_s {
    ad_store_t *st;
    chain_t links[3];
    int rcs[3];
    int done;
};

static void chain_done(int rc, void *ctx)
{
    chain_t *l = ctx;
    l->all->rcs[l->ins.i] = rc;
    l->all->done++;
    if (l->next > 0) {
        chain_t *n = &l->all->links[l->ins.i + 1];
        ad_store_submit(l->all->st, ins_job, chain_done, n);
    }
}

static void close_runs_what_completions_write(void **state)
{
    fixture_t *f = *state;
    ad_store_t *st = open_ok(f);
    counter_t c = {.st = st, .n = 3, .order_ok = 1, .last = -1};
    struct chain_s ch = {.st = st, .rcs = {-1, -1, -1}};
    for (int i = 0; i < 3; i++) {
        ch.links[i] = (chain_t){.ins = {.c = &c, .i = i}, .next = 2 - i, .all = &ch};
    }
    ad_store_submit(st, ins_job, chain_done, &ch.links[0]);
    close_store(f, st); /* no loop turn in between: all three complete in the close */
    assert_int_equal(ch.done, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ch.rcs[i], 0);
    }
    st = open_ok(f);
    assert_int_equal(crew_count(st), 3);
    close_store(f, st);
}

static void close_runs_queued_jobs_first(void **state)
{
    fixture_t *f = *state;
    ad_store_t *st = open_ok(f);
    enum { N = 50 };
    ins_t jobs[N];
    counter_t c = {.st = st, .n = N, .order_ok = 1, .last = -1};
    for (int i = 0; i < N; i++) {
        jobs[i] = (ins_t){.c = &c, .i = 100 + i};
        c.last = 99;
        ad_store_submit(st, ins_job, NULL, &jobs[i]);
    }
    close_store(f, st);
    st = open_ok(f);
    assert_int_equal(crew_count(st), N);
    close_store(f, st);
}

/* A COMMIT whose answer is lost with the connection (issue #39): the
 * writer asks the server, connected again, whether it applied the group,
 * and runs it again only if not. Three crews with unique ids: a group run
 * again after it was applied fails on its own rows. */
static void lost_commit(fixture_t *f, int mode, uint64_t want_reruns, uint64_t want_found)
{
    STORE_FX_PG_ONLY("a COMMIT's answer lost with the connection is PostgreSQL's");
    ad_store_t *st = open_ok(f);
    enum { N = 3 };
    ins_t jobs[N];
    counter_t c = {.st = st, .n = N, .order_ok = 1, .last = -1};
    ad_db_pg_test_lose_commit(mode);
    for (int i = 0; i < N; i++) {
        jobs[i] = (ins_t){.c = &c, .i = i};
        ad_store_submit(st, ins_job, ins_done, &jobs[i]);
    }
    run_until(&f->loop, &c);
    ad_db_pg_test_lose_commit(0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(c.rcs[i], 0);
    }
    assert_int_equal(c.order_ok, 1);
    assert_int_equal(crew_count(st), N);
    ad_store_stats_t stats;
    ad_store_stats(st, &stats);
    assert_int_equal(stats.reruns, want_reruns);
    assert_int_equal(stats.found_applied, want_found);
    close_store(f, st);
}

static void lost_commit_answer_found_applied_is_not_run_again(void **state)
{
    lost_commit(*state, 1, 0, 1);
}

static void lost_commit_never_applied_runs_again(void **state)
{
    lost_commit(*state, 2, 1, 0);
}

static void statement_cache_reuses_by_literal(void **state)
{
    fixture_t *f = *state;
    ad_store_t *st = open_ok(f);
    static const char q[] = "SELECT 1";
    ad_db_stmt_t *a = ad_store_stmt(ad_store_rdb(st), q);
    ad_db_stmt_t *b = ad_store_stmt(ad_store_rdb(st), q);
    assert_non_null(a);
    assert_ptr_equal(a, b);
    assert_null(ad_store_stmt(ad_store_rdb(st), "SELEC nonsense"));
    /* Many distinct statements grow the cache without losing any. */
    char *texts[200];
    ad_db_stmt_t *stmts[200];
    for (int i = 0; i < 200; i++) {
        texts[i] = malloc(32);
        snprintf(texts[i], 32, "SELECT %d", i);
        stmts[i] = ad_store_stmt(ad_store_rdb(st), texts[i]);
        assert_non_null(stmts[i]);
    }
    for (int i = 0; i < 200; i++) {
        assert_ptr_equal(ad_store_stmt(ad_store_rdb(st), texts[i]), stmts[i]);
    }
    close_store(f, st);
    for (int i = 0; i < 200; i++) {
        free(texts[i]);
    }
}

static int count_crews(ad_db_t *db, void *ctx)
{
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT count(*) FROM crews");
    if (s == NULL || ad_db_step(s) != AD_DB_ROW) {
        return AD_EINTERNAL;
    }
    *(int *)ctx = ad_db_column_int(s, 0);
    ad_db_reset(s);
    return 0;
}

static void read_done(int rc, void *ctx)
{
    AD_UNUSED(ctx);
    assert_int_equal(rc, 0);
}

static void heavy_reads_run_on_the_pool(void **state)
{
    fixture_t *f = *state;
    ad_store_t *st = open_ok(f);
    assert_int_equal(
        run_sql(f, st,
                "INSERT INTO crews (id, name, created_at, updated_at) VALUES ('cr_a', 'a', 0, 0), "
                "('cr_b', 'b', 0, 0)"),
        0);
    int n = -1;
    ad_store_read_async(st, count_crews, read_done, &n);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(n, 2);
    close_store(f, st);
}

/* A plane frozen in the middle of its writer's transaction (SIGSTOP, a
 * paused VM) kept its row locks for as long as its session lived: another
 * plane's takeover of the run lease waited behind them, and every write of
 * that plane with it (CI saw it in planes-fence.test.js). The daemon's
 * sessions have the server end a transaction left idle after 6 s. */
static void a_transaction_left_open_holds_its_locks_a_lease_at_most(void **state)
{
    STORE_FX_PG_ONLY("the server's sessions");
    fixture_t *f = *state;
    ad_store_t *st = open_ok(f);
    ad_db_t *frozen = store_fx_conn(f); /* ad_db_pg_open, as the daemon's */
    assert_int_equal(ad_store_exec(frozen, "BEGIN"), 0);
    assert_int_equal(ad_store_exec(frozen, "INSERT INTO settings (key, value, type, updated_at) "
                                           "VALUES ('fence', 'frozen', 'string', 0)"),
                     0);
    /* the same row through the writer waits for the frozen one's lock */
    sql_job_t j = {.sql = "INSERT INTO settings (key, value, type, updated_at) VALUES ('fence', "
                          "'writer', 'string', 1) ON CONFLICT (key) DO UPDATE SET value = 'writer'",
                   .rc = 1};
    ad_store_submit(st, sql_job, sql_done, &j);
    uint64_t end = ad_mono_ms() + 30000; /* far past the 6 s: never when it is not there */
    while (j.rc == 1 && ad_mono_ms() < end) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    int waited = j.rc;
    int ended = ad_store_exec(frozen, "SELECT 1"); /* fails: the server ended it */
    ad_store_conn_close(frozen);                   /* (and the lock with it, when the test fails) */
    while (j.rc == 1) {
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    close_store(f, st);
    assert_int_equal(waited, 0);
    assert_int_not_equal(ended, 0);
    assert_int_equal(store_fx_int(f, "SELECT count(*) FROM settings WHERE key = 'fence' AND "
                                     "value = 'writer'"),
                     1);
}

/* SQLite's pool reads keep their connection for the next read (an open
 * parses the schema again: 3 ms), only one a read left fit (no statement
 * still stepping: it would hold its snapshot), and never past a drop: a
 * read out at ad_store_close() closes its own, and the close drops the
 * idle ones before the writer's, whose close removes the WAL. */
typedef struct {
    sqlite3 *sq;
    bool stepping;          /* leave the statement stepping */
    uv_sem_t *entered, *go; /* when set: say so, then wait for go */
    int rc;
    bool done;
} kept_t;

static int kept_conn(ad_db_t *db, void *ctx)
{
    kept_t *k = ctx;
    k->sq = ad_db_sqlite(db);
    if (k->entered != NULL) {
        uv_sem_post(k->entered);
        uv_sem_wait(k->go);
    }
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT 1 UNION ALL SELECT 2");
    if (s == NULL || ad_db_step(s) != AD_DB_ROW) {
        return AD_EIO;
    }
    if (!k->stepping) {
        ad_db_reset(s);
    }
    return 0;
}

static void kept_done(int rc, void *ctx)
{
    kept_t *k = ctx;
    k->rc = rc;
    k->done = true;
}

static size_t kept_read(fixture_t *f, ad_store_t *st, kept_t *k)
{
    ad_store_read_async(st, kept_conn, kept_done, k);
    while (!k->done) {
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    assert_int_equal(k->rc, 0);
    size_t idle = 0, busy = 0;
    ad_store_pool_counts(&idle, &busy);
    assert_int_equal(busy, 0);
    return idle;
}

static void sqlite_pool_reads_keep_their_connection(void **state)
{
    STORE_FX_SQLITE_ONLY("PostgreSQL's pool has its own test below");
    fixture_t *f = *state;
    ad_store_t *st = open_ok(f);
    kept_t a = {0}, b = {0}, c = {.stepping = true}, d = {0};
    assert_int_equal(kept_read(f, st, &a), 1);
    assert_int_equal(kept_read(f, st, &b), 1);
    assert_ptr_equal(b.sq, a.sq);              /* the same connection, not opened again */
    assert_int_equal(kept_read(f, st, &c), 0); /* left stepping: closed */
    assert_ptr_equal(c.sq, a.sq);
    assert_int_equal(kept_read(f, st, &d), 1); /* a new one, kept */
    /* A read out while the pool is dropped closes its connection after. */
    uv_sem_t entered, go;
    assert_int_equal(uv_sem_init(&entered, 0), 0);
    assert_int_equal(uv_sem_init(&go, 0), 0);
    kept_t e = {.entered = &entered, .go = &go};
    ad_store_read_async(st, kept_conn, kept_done, &e);
    uv_sem_wait(&entered); /* it took the idle connection */
    ad_store_pool_drop(f->path);
    uv_sem_post(&go);
    while (!e.done) {
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    assert_int_equal(e.rc, 0);
    assert_ptr_equal(e.sq, d.sq);
    size_t idle = 9, busy = 9;
    ad_store_pool_counts(&idle, &busy);
    assert_int_equal(idle, 0);
    uv_sem_destroy(&entered);
    uv_sem_destroy(&go);
    /* One kept again; the store's close drops it, and the WAL goes with
     * the writer's connection, the last. */
    kept_t g = {0};
    assert_int_equal(kept_read(f, st, &g), 1);
    char wal[320];
    snprintf(wal, sizeof(wal), "%s-wal", f->path);
    assert_int_equal(access(wal, F_OK), 0);
    close_store(f, st);
    ad_store_pool_counts(&idle, &busy);
    assert_int_equal(idle, 0);
    assert_int_not_equal(access(wal, F_OK), 0);
}

/* A pooled PostgreSQL connection the server ended while it waited (it
 * restarted, or an admin terminated it): the next read runs its function
 * once, on a live connection. A read's function builds its answer as it
 * goes; run twice, the first answer was lost (a leak CI met, under
 * pg-down). */
typedef struct {
    int calls;
    int pid;
    int rc;
    bool done;
} pooled_t;

static int backend_pid(ad_db_t *db, void *ctx)
{
    pooled_t *p = ctx;
    p->calls++;
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT pg_backend_pid()");
    if (s == NULL || ad_db_step(s) != AD_DB_ROW) {
        return AD_EIO;
    }
    p->pid = ad_db_column_int(s, 0);
    ad_db_reset(s);
    return 0;
}

static void pooled_done(int rc, void *ctx)
{
    pooled_t *p = ctx;
    p->rc = rc;
    p->done = true;
}

static pooled_t pooled_read(fixture_t *f, ad_store_t *st)
{
    pooled_t p = {.rc = -1};
    ad_store_read_async(st, backend_pid, pooled_done, &p);
    while (!p.done) {
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    return p;
}

static void a_pooled_connection_ended_by_the_server_is_not_read_on(void **state)
{
    STORE_FX_PG_ONLY("the idle pool is PostgreSQL's");
    fixture_t *f = *state;
    ad_store_t *st = open_ok(f);
    pooled_t first = pooled_read(f, st); /* its connection waits in the pool after */
    assert_int_equal(first.rc, 0);
    assert_int_equal(first.calls, 1);
    size_t idle = 0, busy = 0;
    ad_store_pool_counts(&idle, &busy);
    assert_int_equal(idle, 1);
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", first.pid);
    ad_db_stmt_t *t = ad_store_stmt(ad_store_rdb(st), sql);
    assert_non_null(t);
    assert_int_equal(ad_db_step(t), AD_DB_ROW);
    ad_db_reset(t);
    /* gone from the server's list: its last word and its end are on the wire */
    for (int gone = 0; !gone;) {
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE pid = %d",
                 first.pid);
        ad_db_stmt_t *q = ad_store_stmt(ad_store_rdb(st), sql);
        assert_int_equal(ad_db_step(q), AD_DB_ROW);
        gone = ad_db_column_int(q, 0) == 0;
        ad_db_reset(q);
    }
    pooled_t next = pooled_read(f, st);
    assert_int_equal(next.rc, 0);
    assert_int_equal(next.calls, 1);
    assert_int_not_equal(next.pid, first.pid);
    close_store(f, st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(opens_with_wal_and_every_table, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(changed_checksum_refuses_naming_the_file, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(newer_database_refuses, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(corrupt_file_refuses_with_its_path, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(damage_after_unclean_shutdown_is_found, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(an_unclean_stop_in_the_same_boot_is_not_read_through, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(migrations_apply_in_order_with_gaps, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(agent_stopped_migration_keeps_rows, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(a_fresh_database_is_what_the_migrations_make, setup,
                                        store_fx_teardown),
        cmocka_unit_test(the_embedded_migrations_carry_their_checksums),
        cmocka_unit_test_setup_teardown(group_commit_completes_every_job_in_order, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(failing_job_is_rolled_back_alone_with_mapped_codes, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(sqlite_errors_map_to_ad_codes, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(a_job_without_rows_takes_no_write_lock, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(busy_database_is_retried_within_a_bound, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(close_runs_queued_jobs_first, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(close_runs_what_completions_write, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(statement_cache_reuses_by_literal, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(heavy_reads_run_on_the_pool, setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(a_transaction_left_open_holds_its_locks_a_lease_at_most,
                                        setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(sqlite_pool_reads_keep_their_connection, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(a_pooled_connection_ended_by_the_server_is_not_read_on,
                                        setup, store_fx_teardown),
        cmocka_unit_test_setup_teardown(lost_commit_answer_found_applied_is_not_run_again, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(lost_commit_never_applied_runs_again, setup,
                                        store_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
