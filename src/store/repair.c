/* SPDX-License-Identifier: MIT */
/*
 * `agentd db repair` (issue #78): every readable row of a damaged
 * agentd.db copied into a new database, which then takes its place; the
 * old file is kept beside it (agentd.db.damaged-<ms>) and what was lost
 * is said table by table.
 *
 * The new database is made with the checksums' reserved bytes, the old
 * one attached to it (both through cksum.c: a damaged page is an error,
 * never rows read from garbage). The schema is the old one's, as written
 * (tables first, then indexes, triggers and views: indexes rebuilt from
 * the rows, no trigger fires during the copy, foreign keys not enforced
 * while rows of a parent table may be missing). A table with rowids is
 * read in rowid order; where a page cannot be read the next readable
 * rowid is searched (doubling, then halving: O(log n) seeks a damaged
 * region) and the rows between are lost; a row whose own overflow pages
 * are damaged is lost alone. A table WITHOUT ROWID is read from its start
 * up to the damage and from its end back to it. Lost is the table's count
 * (read through the table, else through one of its indexes) less the rows
 * copied, or unknown when no count can be read.
 */
#include "store/dbcheck.h"
#include "store/store_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    sqlite3 *src; /* the damaged database, read only */
    sqlite3 *db;  /* the new one */
    char *err;
    size_t errsz;
} rp_t;

static int fail(rp_t *r, sqlite3 *on, const char *what)
{
    snprintf(r->err, r->errsz, "%s: %s", what, sqlite3_errmsg(on));
    return AD_EIO;
}

static sqlite3_stmt *prep(sqlite3 *db, char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sql != NULL && sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        s = NULL;
    }
    sqlite3_free(sql);
    return s;
}

/* The table's columns as `"a", "b"` (sqlite3_free it) and their count, or NULL. */
static char *columns(rp_t *r, const char *table, int *n)
{
    sqlite3_stmt *s =
        prep(r->src, sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q)", table));
    char *out = NULL;
    *n = 0;
    while (s != NULL && sqlite3_step(s) == SQLITE_ROW) {
        char *next = sqlite3_mprintf("%z%s\"%w\"", out, out != NULL ? ", " : "",
                                     (const char *)sqlite3_column_text(s, 0));
        if (next == NULL) {
            break;
        }
        out = next;
        (*n)++;
    }
    sqlite3_finalize(s);
    return out;
}

static int64_t one_count(rp_t *r, char *sql)
{
    sqlite3_stmt *s = prep(r->src, sql);
    int64_t n = s != NULL && sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return n;
}

/* The table's rows: counted through the table, else through each of its
 * whole indexes (not partial ones) in turn, scanning the index (count(*)
 * alone would read the table); -1 when every way meets damage. */
static int64_t count_rows(rp_t *r, const char *table)
{
    int64_t n = one_count(r, sqlite3_mprintf("SELECT count(*) FROM \"%w\"", table));
    sqlite3_stmt *s =
        n >= 0 ? NULL
               : prep(r->src, sqlite3_mprintf("SELECT l.name, i.name FROM pragma_index_list(%Q) "
                                              "AS l, pragma_index_info(l.name) AS i WHERE "
                                              "l.partial = 0 AND i.seqno = 0 AND i.name IS NOT "
                                              "NULL",
                                              table));
    while (n < 0 && s != NULL && sqlite3_step(s) == SQLITE_ROW) {
        const char *col = (const char *)sqlite3_column_text(s, 1);
        n = one_count(r, sqlite3_mprintf("SELECT count(*) FROM \"%w\" INDEXED BY \"%w\" WHERE "
                                         "\"%w\" IS NOT NULL OR \"%w\" IS NULL",
                                         table, (const char *)sqlite3_column_text(s, 0), col, col));
    }
    sqlite3_finalize(s);
    return n;
}

typedef struct {
    int64_t copied;
    int64_t lost_rows; /* rows known lost one by one (their own pages damaged) */
    bool ranges;       /* rowid ranges skipped: their rows are not counted */
    char skipped[512];
} tally_t;

/* Adds what was skipped; past the room, "..." once. */
static void note_skip(tally_t *t, const char *what)
{
    size_t len = strlen(t->skipped);
    if (len + strlen(what) + 8 < sizeof(t->skipped)) {
        snprintf(t->skipped + len, sizeof(t->skipped) - len, "%s%s", len > 0 ? ", " : "", what);
    } else if (len + 5 < sizeof(t->skipped) && strstr(t->skipped, "...") == NULL) {
        snprintf(t->skipped + len, sizeof(t->skipped) - len, ", ...");
    }
}

/* Whether a seek to rowid >= x reads (a row or the end). */
static bool readable_from(sqlite3_stmt *probe, int64_t x)
{
    sqlite3_reset(probe);
    sqlite3_bind_int64(probe, 1, x);
    int rc = sqlite3_step(probe);
    sqlite3_reset(probe);
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

/* The least rowid > lo from which a seek reads, lo's seek failing; false
 * when none does up to the largest rowid. */
static bool next_readable(sqlite3_stmt *probe, int64_t lo, int64_t *out)
{
    uint64_t k = 1;
    while (!readable_from(probe, lo + (int64_t)k)) {
        if (k > ((uint64_t)INT64_MAX - (uint64_t)lo) / 2) {
            return false;
        }
        k *= 2;
    }
    int64_t bad = k == 1 ? lo : lo + (int64_t)(k / 2), good = lo + (int64_t)k;
    while (good - bad > 1) { /* bad's seek fails, good's reads */
        int64_t mid = bad + (good - bad) / 2;
        if (readable_from(probe, mid)) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    *out = good;
    return true;
}

/* One row from get (bound, on the damaged side) into ins (the new side):
 * 1 copied, 0 unreadable, else an error. */
static int copy_row(rp_t *r, sqlite3_stmt *get, sqlite3_stmt *ins, int ncols)
{
    int rc = sqlite3_step(get);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(get);
        return 0;
    }
    for (int i = 0; i < ncols; i++) {
        sqlite3_bind_value(ins, i + 1, sqlite3_column_value(get, i));
    }
    rc = sqlite3_step(ins);
    sqlite3_reset(ins);
    sqlite3_clear_bindings(ins);
    sqlite3_reset(get);
    if (rc != SQLITE_DONE && rc != SQLITE_CONSTRAINT_PRIMARYKEY && rc != SQLITE_CONSTRAINT_UNIQUE) {
        return fail(r, r->db, "writing the new database");
    }
    return rc == SQLITE_DONE ? 1 : 0;
}

/* "?, ?, ..." for n values (sqlite3_free it). */
static char *marks(int n)
{
    char *m = NULL;
    for (int i = 0; i < n; i++) {
        m = sqlite3_mprintf("%z%s?", m, i > 0 ? ", " : "");
    }
    return m;
}

static int copy_rowid(rp_t *r, const char *table, const char *cols, int ncols, tally_t *t)
{
    char *qm = marks(ncols + 1);
    sqlite3_stmt *sel =
        prep(r->src,
             sqlite3_mprintf("SELECT rowid FROM \"%w\" WHERE rowid >= ?1 ORDER BY rowid", table));
    sqlite3_stmt *probe = prep(r->src, sqlite3_mprintf("SELECT rowid FROM \"%w\" WHERE rowid >= ?1 "
                                                       "ORDER BY rowid LIMIT 1",
                                                       table));
    sqlite3_stmt *get =
        prep(r->src, sqlite3_mprintf("SELECT rowid, %s FROM \"%w\" WHERE rowid = ?1", cols, table));
    sqlite3_stmt *ins = prep(r->db, sqlite3_mprintf("INSERT INTO \"%w\" (rowid, %s) VALUES (%s)",
                                                    table, cols, qm != NULL ? qm : "?"));
    sqlite3_free(qm);
    int e = sel == NULL || probe == NULL || get == NULL || ins == NULL ? fail(r, r->src, table) : 0;
    int64_t from = INT64_MIN;
    bool fresh = true; /* sel was just bound at from */
    if (e == 0) {
        sqlite3_bind_int64(sel, 1, from);
    }
    while (e == 0) {
        int rc = sqlite3_step(sel);
        if (rc == SQLITE_DONE) {
            break;
        }
        if (rc == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(sel, 0);
            fresh = false;
            sqlite3_bind_int64(get, 1, id);
            int got = copy_row(r, get, ins, ncols + 1);
            if (got < 0) {
                e = got;
                break;
            }
            if (got == 1) {
                t->copied++;
            } else {
                t->lost_rows++;
                char what[64];
                snprintf(what, sizeof(what), "rowid %lld", (long long)id);
                note_skip(t, what);
            }
            if (id == INT64_MAX) {
                break;
            }
            from = id + 1;
            continue;
        }
        /* the next row cannot be read (a failed read ends the damaged
         * side's read transaction, and sel with it): on from the first
         * rowid not yet copied, past what cannot be read */
        sqlite3_reset(sel);
        int64_t next = from;
        char what[64];
        if ((fresh || !readable_from(probe, from)) && !next_readable(probe, from, &next)) {
            snprintf(what, sizeof(what), "rowids from %lld", (long long)from);
            note_skip(t, what);
            t->ranges = true;
            break;
        }
        if (next > from) {
            snprintf(what, sizeof(what), "rowids %lld-%lld", (long long)from,
                     (long long)(next - 1));
            note_skip(t, what);
            t->ranges = true;
        }
        from = next;
        fresh = true;
        sqlite3_bind_int64(sel, 1, from);
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(probe);
    sqlite3_finalize(get);
    sqlite3_finalize(ins);
    return e;
}

/* WITHOUT ROWID: forward from the start, then back from the end, each up
 * to the first row that cannot be read. */
static int copy_keyed(rp_t *r, const char *table, const char *cols, int ncols, tally_t *t)
{
    char *qm = marks(ncols);
    sqlite3_stmt *ins = prep(r->db, sqlite3_mprintf("INSERT OR IGNORE INTO \"%w\" (%s) VALUES (%s)",
                                                    table, cols, qm != NULL ? qm : "?"));
    sqlite3_free(qm);
    int e = ins == NULL ? fail(r, r->db, table) : 0;
    bool damaged = false;
    for (int pass = 0; pass < 2 && e == 0; pass++) {
        /* the table's own order (its primary key), each way */
        sqlite3_stmt *sel = prep(r->src, sqlite3_mprintf("SELECT %s FROM \"%w\" ORDER BY %s", cols,
                                                         table, pass == 0 ? "1" : "1 DESC"));
        if (sel == NULL) {
            e = fail(r, r->src, table);
            break;
        }
        int rc;
        while (e == 0 && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
            for (int i = 0; i < ncols; i++) {
                sqlite3_bind_value(ins, i + 1, sqlite3_column_value(sel, i));
            }
            int irc = sqlite3_step(ins);
            sqlite3_reset(ins);
            if (irc != SQLITE_DONE) {
                e = fail(r, r->db, "writing the new database");
            } else if (sqlite3_changes(r->db) > 0) {
                t->copied++;
            }
        }
        damaged = e == 0 && rc != SQLITE_DONE;
        sqlite3_finalize(sel);
        if (!damaged) {
            break; /* read whole */
        }
    }
    if (damaged) {
        note_skip(t, "the rows between the last read from its start and the last from its end");
        t->ranges = true;
    }
    sqlite3_finalize(ins);
    return e;
}

static bool without_rowid(rp_t *r, const char *table)
{
    sqlite3_stmt *s = prep(r->src, sqlite3_mprintf("SELECT wr FROM pragma_table_list WHERE "
                                                   "schema = 'main' AND name = %Q",
                                                   table));
    bool wr = s != NULL && sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) != 0;
    sqlite3_finalize(s);
    return wr;
}

typedef struct {
    char type[16];
    char name[128];
    char *sql;
} obj_t;

static int read_schema(rp_t *r, obj_t **out, size_t *n)
{
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc = sqlite3_prepare_v2(r->src,
                                "SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT "
                                "NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT IN "
                                "(SELECT name FROM pragma_table_list WHERE type = 'shadow') "
                                "ORDER BY CASE "
                                "type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 "
                                "ELSE 3 END, rowid",
                                -1, &s, NULL);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        if ((rc = sqlite3_step(s)) != SQLITE_ROW) {
            break;
        }
        if (*n == cap) {
            cap = cap > 0 ? cap * 2 : 64;
            *out = ad_xrealloc(*out, cap * sizeof(**out));
        }
        obj_t *o = &(*out)[(*n)++];
        snprintf(o->type, sizeof(o->type), "%s", sqlite3_column_text(s, 0));
        snprintf(o->name, sizeof(o->name), "%s", sqlite3_column_text(s, 1));
        o->sql = ad_xstrdup((const char *)sqlite3_column_text(s, 2));
    }
    int e = rc == SQLITE_DONE ? 0 : AD_ECORRUPT;
    if (e != 0) {
        snprintf(r->err, r->errsz,
                 "the database's schema cannot be read (%s): nothing to copy the rows into; "
                 "restore the data dir from a backup",
                 sqlite3_errmsg(r->src));
    }
    sqlite3_finalize(s);
    return e;
}

static int exec(rp_t *r, const char *sql, const char *what)
{
    return sqlite3_exec(r->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : fail(r, r->db, what);
}

static int copy_table(rp_t *r, const char *table, ad_store_repair_cb fn, void *ud)
{
    int ncols = 0;
    char *cols = columns(r, table, &ncols);
    tally_t t = {0};
    int e = 0;
    if (cols == NULL) {
        snprintf(t.skipped, sizeof(t.skipped), "its columns could not be read");
        t.ranges = true;
    } else if (without_rowid(r, table)) {
        e = copy_keyed(r, table, cols, ncols, &t);
    } else {
        e = copy_rowid(r, table, cols, ncols, &t);
    }
    sqlite3_free(cols);
    if (e != 0) {
        return e;
    }
    int64_t total = count_rows(r, table);
    int64_t lost = total >= 0  ? (total > t.copied ? total - t.copied : 0)
                   : !t.ranges ? t.lost_rows
                               : -1;
    fn(table, t.copied, lost, t.skipped, ud);
    return 0;
}

static bool is_virtual(const obj_t *o)
{
    return strcmp(o->type, "table") == 0 && strncasecmp(o->sql, "CREATE VIRTUAL", 14) == 0;
}

static int copy_all(rp_t *r, ad_store_repair_cb fn, void *ud)
{
    int reserve = AD_CKSUM_RESERVE;
    sqlite3_file_control(r->db, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
    obj_t *objs = NULL;
    size_t n = 0;
    int e = read_schema(r, &objs, &n);
    if (e == 0) {
        e = exec(r, "PRAGMA foreign_keys=OFF; BEGIN", "BEGIN");
    }
    for (size_t i = 0; e == 0 && i < n; i++) {
        if (strcmp(objs[i].type, "table") == 0) {
            e = exec(r, objs[i].sql, objs[i].name);
        }
    }
    for (size_t i = 0; e == 0 && i < n; i++) {
        if (strcmp(objs[i].type, "table") == 0 && !is_virtual(&objs[i])) {
            e = copy_table(r, objs[i].name, fn, ud);
        }
    }
    for (size_t i = 0; e == 0 && i < n; i++) { /* indexes built from the rows, then the rest */
        if (strcmp(objs[i].type, "table") != 0) {
            e = exec(r, objs[i].sql, objs[i].name);
        }
    }
    /* a virtual table (search's FTS5 index, issue #76) is made from the rows
     * copied, never copied: its shadow tables were left out above */
    for (size_t i = 0; e == 0 && i < n; i++) {
        if (is_virtual(&objs[i]) && strstr(objs[i].sql, "fts5") != NULL) {
            char *sql = sqlite3_mprintf("INSERT INTO \"%w\"(\"%w\") VALUES ('rebuild')",
                                        objs[i].name, objs[i].name);
            e = exec(r, sql, objs[i].name);
            sqlite3_free(sql);
        }
    }
    if (e == 0) {
        e = exec(r, "COMMIT", "COMMIT");
    }
    for (size_t i = 0; i < n; i++) {
        free(objs[i].sql);
    }
    free(objs);
    return e;
}

static void remove_db(const char *path)
{
    char side[4200];
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-journal", path);
    unlink(side);
}

int ad_store_sqlite_repair(const char *data_dir, ad_store_repair_cb fn, void *ud, char *kept,
                           size_t keptsz, char *err, size_t errsz)
{
    char db[4200], fresh[4300], old[4300];
    if ((size_t)snprintf(db, sizeof(db), "%s/agentd.db", data_dir) >= sizeof(db)) {
        snprintf(err, errsz, "data dir path too long");
        return AD_EINVAL;
    }
    struct stat sb;
    if (stat(db, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errsz, "no database at %s", db);
        return AD_ENOENT;
    }
    ad_pidlock_t lock = {.fd = -1};
    char lerr[512];
    int e = ad_pidlock_acquire(&lock, data_dir, lerr, sizeof(lerr));
    if (e == AD_EBUSY) {
        snprintf(err, errsz, "%s: stop agentd first, then run `agentd db repair` again", lerr);
        return AD_EBUSY;
    }
    if (e != 0) {
        snprintf(err, errsz, "%s", lerr);
        return e;
    }
    snprintf(fresh, sizeof(fresh), "%s.repair", db);
    snprintf(old, sizeof(old), "%s.damaged-%lld", db, (long long)ad_wall_ms());
    remove_db(fresh);
    rp_t r = {.err = err, .errsz = errsz};
    if (sqlite3_open_v2(db, &r.src, SQLITE_OPEN_READWRITE, ad_cksum_vfs()) != SQLITE_OK ||
        sqlite3_exec(r.src, "PRAGMA query_only=ON", NULL, NULL, NULL) != SQLITE_OK) {
        e = fail(&r, r.src, "opening the damaged database");
    } else if (sqlite3_open_v2(fresh, &r.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                               ad_cksum_vfs()) != SQLITE_OK) {
        e = fail(&r, r.db, "creating the new database");
    } else {
        sqlite3_extended_result_codes(r.src, 1);
        sqlite3_extended_result_codes(r.db, 1);
        e = copy_all(&r, fn, ud);
    }
    sqlite3_close(r.src); /* its WAL checkpointed and gone, when it had one */
    if (e == 0) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(r.db, "PRAGMA quick_check", -1, &s, NULL) != SQLITE_OK ||
            sqlite3_step(s) != SQLITE_ROW ||
            strcmp((const char *)sqlite3_column_text(s, 0), "ok") != 0) {
            e = fail(&r, r.db, "the new database failed its check");
        }
        sqlite3_finalize(s);
    }
    if (sqlite3_close(r.db) != SQLITE_OK && e == 0) {
        snprintf(err, errsz, "cannot close the new database");
        e = AD_EIO;
    }
    if (e == 0) {
        /* the old file kept beside (its WAL too, if one was left), the new one in its place */
        char a[4400], b[4400];
        if (rename(db, old) != 0) {
            snprintf(err, errsz, "cannot move %s aside", db);
            e = AD_EIO;
        }
        for (int i = 0; e == 0 && i < 2; i++) { /* never the new file's */
            snprintf(a, sizeof(a), "%s%s", db, i == 0 ? "-wal" : "-shm");
            snprintf(b, sizeof(b), "%s%s", old, i == 0 ? "-wal" : "-shm");
            if (access(a, F_OK) == 0 && rename(a, b) != 0) {
                snprintf(err, errsz, "cannot move %s aside", a);
                e = AD_EIO;
            }
        }
        if (e == 0 && rename(fresh, db) != 0) {
            snprintf(err, errsz, "cannot put the new database in place of %s (the old one is %s)",
                     db, old);
            e = AD_EIO;
        }
        snprintf(kept, keptsz, "%s", old);
    } else {
        remove_db(fresh);
    }
    ad_pidlock_release(&lock);
    return e;
}
