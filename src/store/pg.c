/* SPDX-License-Identifier: MIT */
/*
 * PostgreSQL, the first slice of issue #39: `agentd db migrate` (the SQLite
 * migrations, translated by pgsql.c, applied under an advisory lock) and
 * `agentd db copy` (every row of an agentd SQLite database, through COPY
 * FROM STDIN, counted per table before the commit). Synchronous libpq on
 * the caller's thread; no daemon serves from PostgreSQL yet. libpq's
 * errors are translated here (AD_E* and a message); the URL is never
 * printed, so its password is not either. libpq is loaded when a db
 * command first needs it (dlopen, like agentd-git.so): linked, it and the
 * libraries it brings (Kerberos, LDAP, GnuTLS, SASL) would cost every
 * daemon ~3.6 MB resident for commands it never runs (docs/internals/store.md).
 */
#include "store/store_int.h"
#include "store/pq.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The libpq functions (pq.h), resolved by pq_load(). */
struct ad_pq ad_pq;
#define pq ad_pq

/* Loads libpq once (the process keeps it). */
int ad_store_pq_load(char *err, size_t errsz)
{
    static bool loaded;
    if (loaded) {
        return 0;
    }
    void *lib = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        snprintf(err, errsz,
                 "PostgreSQL's client library cannot be loaded (%s): install the Debian "
                 "package libpq5",
                 dlerror());
        return AD_ENOENT;
    }
#define PQ_RESOLVE(f)                                                                              \
    if ((*(void **)&pq.f = dlsym(lib, #f)) == NULL) {                                              \
        snprintf(err, errsz, "libpq.so.5 has no %s: it is too old", #f);                           \
        dlclose(lib);                                                                              \
        return AD_ENOENT;                                                                          \
    }
    PQ_FUNCS(PQ_RESOLVE)
#undef PQ_RESOLVE
    loaded = true;
    return 0;
}

/* pg_advisory_xact_lock's key: "agentd" in ASCII. */
#define MIGRATE_LOCK "107852588262500"
#define COPY_FLUSH (256u << 10)

/* A connection's last error, on one line. */
static void conn_msg(PGconn *c, char *err, size_t errsz, const char *what)
{
    const char *m = c != NULL ? pq.PQerrorMessage(c) : "out of memory";
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' ')) {
        n--;
    }
    snprintf(err, errsz, "%s: %.*s", what, (int)(n > 400 ? 400 : n), m);
    char *w = err; /* line ends and tabs as one space */
    for (const char *p = err; *p != '\0'; p++) {
        bool blank = *p == '\n' || *p == '\t' || *p == ' ';
        if (!blank || (w > err && w[-1] != ' ')) {
            *w++ = blank ? ' ' : *p;
        }
    }
    *w = '\0';
}

/* The server's notices ("already exists, skipping") are not the user's. */
static void quiet(void *ud, const char *msg)
{
    AD_UNUSED(ud);
    AD_UNUSED(msg);
}

/* Replaces in err every copy of secret (n bytes) with "***". */
static void blank(char *err, const char *secret, size_t n)
{
    for (char *p = err; n > 0 && *p != '\0'; p++) {
        if (strncmp(p, secret, n) == 0) {
            memmove(p + 3, p + n, strlen(p + n) + 1);
            memcpy(p, "***", 3);
            p += 2;
        }
    }
}

/* libpq's messages can quote the URL's text (a bad %-escape, say): the
 * password in it (user:PASSWORD@ or ?password=) is blanked out of err. */
void ad_store_pg_scrub(char *err, const char *url)
{
    const char *auth = strstr(url, "://");
    auth = auth != NULL ? auth + 3 : url;
    size_t len = strcspn(auth, "/?");
    const char *at = memchr(auth, '@', len);
    const char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (colon != NULL) {
        blank(err, colon + 1, (size_t)(at - colon - 1));
    }
    for (const char *q = strstr(url, "password="); q != NULL; q = strstr(q + 1, "password=")) {
        blank(err, q + 9, strcspn(q + 9, "&"));
    }
}

int ad_store_pg_connect(const char *url, PGconn **out, char *err, size_t errsz)
{
    *out = NULL;
    int le = ad_store_pq_load(err, errsz);
    if (le != 0) {
        return le;
    }
    if (strncmp(url, "postgres://", 11) != 0 && strncmp(url, "postgresql://", 13) != 0) {
        snprintf(err, errsz,
                 "not a PostgreSQL URL: it must start with postgres:// or postgresql:// "
                 "(postgres://USER@HOST:PORT/DB, or ?host=/socket/dir for a unix socket)");
        return AD_EINVAL;
    }
    char *perr = NULL;
    PQconninfoOption *opts = pq.PQconninfoParse(url, &perr);
    if (opts == NULL) {
        snprintf(err, errsz, "bad PostgreSQL URL: %s", perr != NULL ? perr : "cannot parse it");
        err[strcspn(err, "\n")] = '\0';
        ad_store_pg_scrub(err, url);
        pq.PQfreemem(perr);
        return AD_EINVAL;
    }
    pq.PQconninfoFree(opts);
    /* A server that does not answer is given up after 10 s unless the URL
     * says otherwise (the URL's own settings come after, and win). */
    const char *keys[] = {"connect_timeout", "dbname", NULL};
    const char *vals[] = {"10", url, NULL};
    PGconn *c = pq.PQconnectdbParams(keys, vals, 1);
    if (c != NULL && pq.PQstatus(c) == CONNECTION_OK) {
        pq.PQsetNoticeProcessor(c, quiet, NULL);
        *out = c;
        return 0;
    }
    const char *m = c != NULL ? pq.PQerrorMessage(c) : "";
    int e = AD_ECLOSED;
    const char *what = "cannot reach the PostgreSQL server";
    if (c != NULL &&
        (pq.PQconnectionNeedsPassword(c) || strstr(m, "authentication failed") != NULL ||
         strstr(m, "no password supplied") != NULL ||
         (strstr(m, "role \"") != NULL && strstr(m, "does not exist") != NULL) ||
         strstr(m, "no pg_hba.conf entry") != NULL)) {
        e = AD_EPERM;
        what = "PostgreSQL refused the credentials";
    } else if (strstr(m, "database \"") != NULL && strstr(m, "does not exist") != NULL) {
        e = AD_ENOENT;
        what = "no such PostgreSQL database";
    }
    conn_msg(c, err, errsz, what);
    ad_store_pg_scrub(err, url);
    pq.PQfinish(c);
    return e;
}

/* Runs sql (one or several statements, no parameters); 0 or AD_EIO
 * with the server's message, prefixed by what. */
static int exec(PGconn *c, const char *sql, const char *what, char *err, size_t errsz)
{
    PGresult *r = pq.PQexec(c, sql);
    ExecStatusType st = pq.PQresultStatus(r);
    int e = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        e = pq.PQstatus(c) == CONNECTION_OK ? AD_EIO : AD_ECLOSED;
        conn_msg(c, err, errsz, what);
    }
    pq.PQclear(r);
    return e;
}

/* A query with text parameters answering tuples, or NULL after err. */
static PGresult *query(PGconn *c, const char *sql, int n, const char *const *params,
                       const char *what, char *err, size_t errsz)
{
    PGresult *r = pq.PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (pq.PQresultStatus(r) != PGRES_TUPLES_OK && pq.PQresultStatus(r) != PGRES_COMMAND_OK) {
        conn_msg(c, err, errsz, what);
        pq.PQclear(r);
        return NULL;
    }
    return r;
}

/* Inside a transaction holding the lock: the migrations not yet recorded,
 * applied and recorded. */
static int migrate_locked(PGconn *c, ad_store_pg_migrated_t *res, char *err, size_t errsz)
{
    int e = exec(c, ad_store_pg_prelude, "creating agentd's SQL functions", err, errsz);
    if (e == 0) {
        e = exec(c,
                 "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
                 "name TEXT NOT NULL, applied_at BIGINT NOT NULL, checksum TEXT NOT NULL)",
                 "creating schema_migrations", err, errsz);
    }
    if (e != 0) {
        return e;
    }
    PGresult *r = query(c, "SELECT version, name, checksum FROM schema_migrations", 0, NULL,
                        "reading schema_migrations", err, errsz);
    if (r == NULL) {
        return AD_EIO;
    }
    size_t n = ad_migrations_count;
    bool *applied = ad_xcalloc(n + 1, sizeof(bool));
    for (int row = 0; e == 0 && row < pq.PQntuples(r); row++) {
        long ver = strtol(pq.PQgetvalue(r, row, 0), NULL, 10);
        size_t k = 0;
        while (k < n && ad_migrations[k].version != ver) {
            k++;
        }
        if (k == n) {
            snprintf(err, errsz,
                     "the database was migrated by a newer agentd: it has migration %s "
                     "(version %ld), which this binary does not know; upgrade agentd",
                     pq.PQgetvalue(r, row, 1), ver);
            e = AD_ESTATE;
        } else if (strcmp(ad_migrations[k].sum, pq.PQgetvalue(r, row, 2)) != 0) {
            snprintf(err, errsz,
                     "migration %s was applied with another text (checksum %.12s… here "
                     "%.12s…); refusing to go on",
                     ad_migrations[k].name, pq.PQgetvalue(r, row, 2), ad_migrations[k].sum);
            e = AD_ECORRUPT;
        } else {
            applied[k] = true;
        }
    }
    pq.PQclear(r);
    ad_buf_t sql;
    ad_buf_init(&sql, 4u << 20);
    for (size_t k = 0; e == 0 && k < n; k++) {
        if (applied[k]) {
            continue;
        }
        const ad_migration_t *m = &ad_migrations[k];
        ad_buf_reset(&sql);
        const char *text = ad_store_migration_sql(m, err, errsz);
        e = text != NULL ? ad_store_pg_translate(m->name, text, &sql, err, errsz) : AD_ENOMEM;
        char what[200];
        snprintf(what, sizeof(what), "migration %s", m->name);
        if (e == 0) {
            e = exec(c, sql.data != NULL ? sql.data : "", what, err, errsz);
        }
        if (e == 0) {
            char ver[24], at[24];
            snprintf(ver, sizeof(ver), "%d", m->version);
            snprintf(at, sizeof(at), "%lld", (long long)ad_wall_ms());
            const char *p[] = {ver, m->name, at, m->sum}; /* the embedded list's, made from text */
            PGresult *ir = query(c,
                                 "INSERT INTO schema_migrations (version, name, applied_at, "
                                 "checksum) VALUES ($1, $2, $3, $4)",
                                 4, p, what, err, errsz);
            e = ir != NULL ? 0 : AD_EIO;
            pq.PQclear(ir);
        }
        if (e == 0) {
            res->applied++;
        }
    }
    ad_buf_cleanup(&sql);
    free(applied);
    return e;
}

int ad_store_pg_migrate_conn(PGconn *c, ad_store_pg_migrated_t *res, char *err, size_t errsz)
{
    *res = (ad_store_pg_migrated_t){.known = (int)ad_migrations_count};
    int e = exec(c, "BEGIN", "BEGIN", err, errsz);
    if (e == 0) {
        /* Two control planes starting at once: the second waits here, then
         * finds every migration recorded. */
        e = exec(c, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", "taking the migration lock",
                 err, errsz);
    }
    if (e == 0) {
        e = migrate_locked(c, res, err, errsz);
    }
    if (e == 0) {
        e = exec(c, "COMMIT", "COMMIT", err, errsz);
    }
    if (e != 0) {
        pq.PQclear(pq.PQexec(c, "ROLLBACK"));
        res->applied = 0;
    }
    return e;
}

int ad_store_pg_migrate(const char *url, ad_store_pg_migrated_t *res, char *err, size_t errsz)
{
    *res = (ad_store_pg_migrated_t){.known = (int)ad_migrations_count};
    PGconn *c = NULL;
    int e = ad_store_pg_connect(url, &c, err, errsz);
    if (e == 0) {
        e = ad_store_pg_migrate_conn(c, res, err, errsz);
    }
    if (c != NULL) {
        pq.PQfinish(c);
    }
    return e;
}

/* ---- copy ------------------------------------------------------------------ */

typedef struct {
    char name[128];
    bool done;
} table_t;

typedef struct {
    sqlite3 *db;
    PGconn *pg;
    table_t *tables;
    int n;
    ad_store_pg_count_fn fn;
    void *ud;
    char *err;
    size_t errsz;
} copy_t;

static int sqlite_fail(copy_t *cp, const char *what)
{
    snprintf(cp->err, cp->errsz, "SQLite database: %s: %s", what, sqlite3_errmsg(cp->db));
    return AD_EIO;
}

/* The source's tables, and a check that its migrations are this binary's
 * (the target's record of them is its own, made by the migrate before). */
static int read_source(copy_t *cp)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(cp->db, "SELECT version FROM schema_migrations ORDER BY version", -1, &s,
                           NULL) != SQLITE_OK) {
        snprintf(cp->err, cp->errsz,
                 "the SQLite file is not an agentd database (no schema_migrations: %s)",
                 sqlite3_errmsg(cp->db));
        return AD_ESTATE;
    }
    size_t k = 0;
    bool same = true;
    while (sqlite3_step(s) == SQLITE_ROW) {
        same =
            same && k < ad_migrations_count && ad_migrations[k].version == sqlite3_column_int(s, 0);
        k++;
    }
    sqlite3_finalize(s);
    if (!same || k != ad_migrations_count) {
        snprintf(cp->err, cp->errsz,
                 "the SQLite database was made by another agentd version (%zu migrations "
                 "recorded, this binary has %zu): start this agentd on it once (agentd serve), "
                 "stop it, then copy",
                 k, ad_migrations_count);
        return AD_ESTATE;
    }
    if (sqlite3_prepare_v2(cp->db,
                           "SELECT name FROM pragma_table_list WHERE type = 'table' AND name "
                           "NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name",
                           -1, &s, NULL) != SQLITE_OK) {
        return sqlite_fail(cp, "listing tables");
    }
    int cap = 0;
    int e = 0;
    while (e == 0 && sqlite3_step(s) == SQLITE_ROW) {
        const char *t = (const char *)sqlite3_column_text(s, 0);
        if (t == NULL || strlen(t) >= sizeof(cp->tables[0].name)) {
            /* not one of agentd's: every table is copied, or none */
            snprintf(cp->err, cp->errsz,
                     "the SQLite database has a table whose name is longer than agentd's "
                     "(%.60s...): not an agentd database?",
                     t != NULL ? t : "?");
            e = AD_ESTATE;
            break;
        }
        if (cp->n == cap) {
            cap = cap == 0 ? 64 : cap * 2;
            cp->tables = ad_xrealloc(cp->tables, (size_t)cap * sizeof(table_t));
        }
        snprintf(cp->tables[cp->n].name, sizeof(cp->tables[0].name), "%s", t);
        cp->tables[cp->n++].done = false;
    }
    sqlite3_finalize(s);
    return e;
}

/* Whether every table t references (foreign keys, itself aside) is copied. */
static bool refs_done(copy_t *cp, const char *t)
{
    sqlite3_stmt *s = NULL;
    bool ok = true;
    if (sqlite3_prepare_v2(cp->db, "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?)", -1,
                           &s, NULL) != SQLITE_OK) {
        return true;
    }
    sqlite3_bind_text(s, 1, t, -1, SQLITE_STATIC);
    while (ok && sqlite3_step(s) == SQLITE_ROW) {
        const char *ref = (const char *)sqlite3_column_text(s, 0);
        for (int i = 0; ref != NULL && i < cp->n; i++) {
            if (strcmp(cp->tables[i].name, ref) == 0 && strcmp(ref, t) != 0) {
                ok = cp->tables[i].done;
            }
        }
    }
    sqlite3_finalize(s);
    return ok;
}

/* Refuses a target holding anything but what the migrations wrote (the
 * default settings, updated_at 0, and the default organisation), which
 * is then removed: the source has its own. */
static int check_empty(copy_t *cp)
{
    PGresult *r = query(cp->pg,
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                        "current_schema() AND table_type = 'BASE TABLE' AND table_name <> "
                        "'schema_migrations' ORDER BY table_name",
                        0, NULL, "listing the target's tables", cp->err, cp->errsz);
    if (r == NULL) {
        return AD_EIO;
    }
    int e = 0;
    for (int i = 0; e == 0 && i < pq.PQntuples(r); i++) {
        const char *t = pq.PQgetvalue(r, i, 0);
        const char *seed = strcmp(t, "settings") == 0 ? " WHERE updated_at <> 0"
                           : strcmp(t, "orgs") == 0   ? " WHERE id <> 'org_default'"
                                                      : "";
        char *id = pq.PQescapeIdentifier(cp->pg, t, strlen(t));
        char sql[400];
        snprintf(sql, sizeof(sql), "SELECT EXISTS (SELECT 1 FROM %s%s)", id != NULL ? id : "?",
                 seed);
        pq.PQfreemem(id);
        PGresult *q = query(cp->pg, sql, 0, NULL, "reading the target", cp->err, cp->errsz);
        if (q == NULL) {
            e = AD_EIO;
        } else if (strcmp(pq.PQgetvalue(q, 0, 0), "t") == 0) {
            snprintf(cp->err, cp->errsz,
                     "the target database is not empty (table %s has rows): copy only into a "
                     "new database",
                     t);
            e = AD_EEXIST;
        }
        pq.PQclear(q);
    }
    pq.PQclear(r);
    if (e == 0) {
        e = exec(cp->pg, "DELETE FROM settings; DELETE FROM orgs",
                 "clearing the migrations' default rows", cp->err, cp->errsz);
    }
    return e;
}

/* Appends v to a COPY text-format line, escaped. */
static int put_text(ad_buf_t *b, const unsigned char *v, size_t n)
{
    int e = 0;
    for (size_t i = 0; e == 0 && i < n; i++) {
        unsigned char ch = v[i];
        if (ch == '\\' || ch == '\n' || ch == '\r' || ch == '\t') {
            static const char esc[] = {'\\', '\\', '\n', 'n', '\r', 'r', '\t', 't'};
            for (size_t k = 0; k < sizeof(esc); k += 2) {
                if (esc[k] == (char)ch) {
                    e = ad_buf_putc(b, '\\');
                    e = e == 0 ? ad_buf_putc(b, esc[k + 1]) : e;
                }
            }
        } else {
            e = ad_buf_putc(b, (char)ch);
        }
    }
    return e;
}

static int put_value(copy_t *cp, sqlite3_stmt *s, int col, bool bytea, ad_buf_t *b,
                     const char *table, const char *column)
{
    int type = sqlite3_column_type(s, col);
    char num[40];
    if (type == SQLITE_NULL) {
        return ad_buf_puts(b, "\\N");
    }
    if (bytea) {
        const unsigned char *p = sqlite3_column_blob(s, col);
        int n = sqlite3_column_bytes(s, col);
        static const char hex[] = "0123456789abcdef";
        int e = ad_buf_puts(b, "\\\\x");
        for (int i = 0; e == 0 && i < n; i++) {
            e = ad_buf_putc(b, hex[p[i] >> 4]);
            e = e == 0 ? ad_buf_putc(b, hex[p[i] & 15]) : e;
        }
        return e;
    }
    if (type == SQLITE_INTEGER) {
        snprintf(num, sizeof(num), "%lld", (long long)sqlite3_column_int64(s, col));
        return ad_buf_puts(b, num);
    }
    if (type == SQLITE_FLOAT) {
        double d = sqlite3_column_double(s, col);
        if (isnan(d)) {
            return ad_buf_puts(b, "NaN");
        }
        if (isinf(d)) {
            return ad_buf_puts(b, d > 0 ? "Infinity" : "-Infinity");
        }
        snprintf(num, sizeof(num), "%.17g", d); /* exact: SQLite's own text form rounds */
        return ad_buf_puts(b, num);
    }
    const unsigned char *t = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    if (t != NULL && memchr(t, '\0', (size_t)n) != NULL) {
        snprintf(cp->err, cp->errsz,
                 "table %s, column %s: a value holds a NUL byte, which PostgreSQL text cannot",
                 table, column);
        return AD_EIO;
    }
    return put_text(b, t != NULL ? t : (const unsigned char *)"", (size_t)n);
}

/* Sends the COPY lines in b to the server, and empties b. */
static int put_copy(copy_t *cp, ad_buf_t *b)
{
    int e = 0;
    if (pq.PQputCopyData(cp->pg, b->data, (int)b->len) != 1) {
        conn_msg(cp->pg, cp->err, cp->errsz, "sending rows");
        e = AD_ECLOSED;
    }
    ad_buf_reset(b);
    return e;
}

/* The most columns a copied table may have. */
#define COPY_COLS_MAX 128

/* The COPY statement (into copy) and the SELECT reading its rows (into sel)
 * of table t: its SQLite columns, by name, each found among the target's
 * (cols: column_name, data_type); bytea[i] is whether column i is bytea
 * there, *ncols how many there are. */
static int copy_columns(copy_t *cp, const char *t, const PGresult *cols, ad_buf_t *sel,
                        ad_buf_t *copy, bool bytea[COPY_COLS_MAX], int *ncols)
{
    sqlite3_stmt *info = NULL;
    int e = 0;
    char *tid = pq.PQescapeIdentifier(cp->pg, t, strlen(t));
    e = ad_buf_printf(copy, "COPY %s (", tid != NULL ? tid : "?");
    e = e == 0 ? ad_buf_puts(sel, "SELECT ") : e;
    if (e == 0 && sqlite3_prepare_v2(cp->db, "SELECT name FROM pragma_table_info(?) ORDER BY cid",
                                     -1, &info, NULL) != SQLITE_OK) {
        e = sqlite_fail(cp, "reading columns");
    }
    if (info != NULL) {
        sqlite3_bind_text(info, 1, t, -1, SQLITE_STATIC);
    }
    while (e == 0 && info != NULL && sqlite3_step(info) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(info, 0);
        int k = 0;
        while (c != NULL && k < pq.PQntuples(cols) && strcmp(pq.PQgetvalue(cols, k, 0), c) != 0) {
            k++;
        }
        if (*ncols == COPY_COLS_MAX) {
            snprintf(cp->err, cp->errsz, "table %s has more than %zu columns", t,
                     (size_t)COPY_COLS_MAX);
            e = AD_ESTATE;
            break;
        }
        if (c == NULL || k == pq.PQntuples(cols)) {
            snprintf(cp->err, cp->errsz, "the target's table %s has no column %s", t,
                     c != NULL ? c : "?");
            e = AD_ESTATE;
            break;
        }
        bytea[*ncols] = strcmp(pq.PQgetvalue(cols, k, 1), "bytea") == 0;
        char *cid = pq.PQescapeIdentifier(cp->pg, c, strlen(c));
        e = ad_buf_printf(copy, "%s%s", *ncols > 0 ? ", " : "", cid != NULL ? cid : "?");
        pq.PQfreemem(cid);
        /* SQLite's quoting of a name taken from its own schema */
        char *q = sqlite3_mprintf("%s\"%w\"", *ncols > 0 ? ", " : "", c);
        e = e == 0 ? ad_buf_puts(sel, q) : e;
        sqlite3_free(q);
        (*ncols)++;
    }
    sqlite3_finalize(info);
    char *q = sqlite3_mprintf(" FROM \"%w\"", t);
    e = e == 0 ? ad_buf_puts(sel, q) : e;
    sqlite3_free(q);
    e = e == 0 ? ad_buf_puts(copy, ") FROM STDIN") : e;
    pq.PQfreemem(tid);
    return e;
}

/* Runs the COPY statement copy and streams into it the rows of table t that
 * rows reads, a line of ncols values each (bytea: copy_columns'); *from
 * counts them. */
static int copy_rows(copy_t *cp, const char *t, sqlite3_stmt *rows, const char *copy, int ncols,
                     const bool *bytea, int64_t *from)
{
    ad_buf_t line;
    ad_buf_init(&line, 1u << 30);
    int e = 0;
    PGresult *r = pq.PQexec(cp->pg, copy);
    if (pq.PQresultStatus(r) != PGRES_COPY_IN) {
        conn_msg(cp->pg, cp->err, cp->errsz, "starting COPY");
        e = AD_EIO;
    }
    pq.PQclear(r);
    bool copying = e == 0;
    int step = SQLITE_DONE;
    while (e == 0 && (step = sqlite3_step(rows)) == SQLITE_ROW) {
        for (int i = 0; e == 0 && i < ncols; i++) {
            e = i > 0 ? ad_buf_putc(&line, '\t') : 0;
            e = e == 0 ? put_value(cp, rows, i, bytea[i], &line, t, sqlite3_column_name(rows, i))
                       : e;
        }
        e = e == 0 ? ad_buf_putc(&line, '\n') : e;
        (*from)++;
        if (e == 0 && line.len >= COPY_FLUSH) {
            e = put_copy(cp, &line);
        }
    }
    if (e == 0 && step != SQLITE_DONE) {
        e = sqlite_fail(cp, "reading rows");
    }
    if (copying) {
        if (e == 0 && line.len > 0) {
            e = put_copy(cp, &line);
        }
        pq.PQputCopyEnd(cp->pg, e == 0 ? NULL : "agentd: copy abandoned");
        while ((r = pq.PQgetResult(cp->pg)) != NULL) {
            if (e == 0 && pq.PQresultStatus(r) != PGRES_COMMAND_OK) {
                char what[200];
                snprintf(what, sizeof(what), "copying table %s", t);
                conn_msg(cp->pg, cp->err, cp->errsz, what);
                e = AD_EIO;
            }
            pq.PQclear(r);
        }
    }
    ad_buf_cleanup(&line);
    return e;
}

/* Copies table t: its SQLite columns, by name, into the same PostgreSQL
 * columns. Sets *from to the rows read. */
static int copy_table(copy_t *cp, const char *t, int64_t *from)
{
    *from = 0;
    const char *p[] = {t};
    PGresult *cols = query(cp->pg,
                           "SELECT column_name, data_type FROM information_schema.columns WHERE "
                           "table_schema = current_schema() AND table_name = $1",
                           1, p, "reading the target's columns", cp->err, cp->errsz);
    if (cols == NULL) {
        return AD_EIO;
    }
    if (pq.PQntuples(cols) == 0) {
        snprintf(cp->err, cp->errsz, "the target has no table %s: run agentd db migrate", t);
        pq.PQclear(cols);
        return AD_ESTATE;
    }
    ad_buf_t sel, copy;
    ad_buf_init(&sel, 1u << 16);
    ad_buf_init(&copy, 1u << 16);
    int ncols = 0;
    bool bytea[COPY_COLS_MAX];
    int e = copy_columns(cp, t, cols, &sel, &copy, bytea, &ncols);
    sqlite3_stmt *rows = NULL;
    if (e == 0 && sqlite3_prepare_v2(cp->db, sel.data, -1, &rows, NULL) != SQLITE_OK) {
        e = sqlite_fail(cp, "reading a table");
    }
    if (e == 0) {
        e = copy_rows(cp, t, rows, copy.data, ncols, bytea, from);
    }
    if (e == AD_ETOOBIG) {
        snprintf(cp->err, cp->errsz, "table %s: a row is larger than 1 GiB", t);
    }
    sqlite3_finalize(rows);
    ad_buf_cleanup(&sel);
    ad_buf_cleanup(&copy);
    pq.PQclear(cols);
    return e;
}

/* Identity columns (SQLite's rowid aliases) continue after the copied ids. */
static int reset_identities(copy_t *cp)
{
    PGresult *r = query(cp->pg,
                        "SELECT table_name, column_name FROM information_schema.columns WHERE "
                        "table_schema = current_schema() AND is_identity = 'YES'",
                        0, NULL, "listing identity columns", cp->err, cp->errsz);
    if (r == NULL) {
        return AD_EIO;
    }
    int e = 0;
    for (int i = 0; e == 0 && i < pq.PQntuples(r); i++) {
        const char *t = pq.PQgetvalue(r, i, 0), *c = pq.PQgetvalue(r, i, 1);
        char *tid = pq.PQescapeIdentifier(cp->pg, t, strlen(t));
        char *cid = pq.PQescapeIdentifier(cp->pg, c, strlen(c));
        char sql[800];
        snprintf(sql, sizeof(sql),
                 "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT max(%s) FROM "
                 "%s), 0) + 1, false)",
                 cid != NULL ? cid : "?", tid != NULL ? tid : "?");
        pq.PQfreemem(tid);
        pq.PQfreemem(cid);
        const char *p[] = {t, c};
        PGresult *q =
            query(cp->pg, sql, 2, p, "moving an identity past the copied rows", cp->err, cp->errsz);
        e = q != NULL ? 0 : AD_EIO;
        pq.PQclear(q);
    }
    pq.PQclear(r);
    return e;
}

static int64_t count_pg(copy_t *cp, const char *t)
{
    char *tid = pq.PQescapeIdentifier(cp->pg, t, strlen(t));
    char sql[300];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", tid != NULL ? tid : "?");
    pq.PQfreemem(tid);
    PGresult *r = query(cp->pg, sql, 0, NULL, "counting", cp->err, cp->errsz);
    int64_t n = r != NULL && pq.PQntuples(r) == 1 ? strtoll(pq.PQgetvalue(r, 0, 0), NULL, 10) : -1;
    pq.PQclear(r);
    return n;
}

/* agentd's own triggers (pgtrig.c: functions agentd_*) off for the copy,
 * or on again: the rows they would make or change (run_stats, a run's
 * org) are copied as SQLite kept them. Other triggers stay as they are. */
static int own_triggers(copy_t *cp, bool on)
{
    PGresult *r = query(cp->pg,
                        "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = "
                        "t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid WHERE NOT t.tgisinternal "
                        "AND p.proname LIKE 'agentd\\_%' AND c.relnamespace = "
                        "current_schema()::regnamespace",
                        0, NULL, "listing agentd's triggers", cp->err, cp->errsz);
    if (r == NULL) {
        return AD_EIO;
    }
    int e = 0;
    for (int i = 0; e == 0 && i < pq.PQntuples(r); i++) {
        const char *t = pq.PQgetvalue(r, i, 0), *g = pq.PQgetvalue(r, i, 1);
        char *tid = pq.PQescapeIdentifier(cp->pg, t, strlen(t));
        char *gid = pq.PQescapeIdentifier(cp->pg, g, strlen(g));
        char sql[400];
        snprintf(sql, sizeof(sql), "ALTER TABLE %s %s TRIGGER %s", tid != NULL ? tid : "?",
                 on ? "ENABLE" : "DISABLE", gid != NULL ? gid : "?");
        pq.PQfreemem(tid);
        pq.PQfreemem(gid);
        e = exec(cp->pg, sql, "holding agentd's triggers off for the copy", cp->err, cp->errsz);
    }
    pq.PQclear(r);
    return e;
}

/* Every table, referenced ones first, then the counts compared. */
static int copy_all(copy_t *cp)
{
    int e = check_empty(cp);
    if (e == 0) {
        e = own_triggers(cp, false);
    }
    int64_t *from = ad_xcalloc((size_t)cp->n + 1, sizeof(int64_t));
    int *order = ad_xcalloc((size_t)cp->n + 1, sizeof(int));
    int copied = 0;
    while (e == 0 && copied < cp->n) {
        int pick = -1;
        for (int i = 0; i < cp->n && pick < 0; i++) {
            if (!cp->tables[i].done && refs_done(cp, cp->tables[i].name)) {
                pick = i;
            }
        }
        for (int i = 0; i < cp->n && pick < 0; i++) {
            pick = cp->tables[i].done ? -1 : i; /* a cycle: the constraint will say */
        }
        e = copy_table(cp, cp->tables[pick].name, &from[pick]);
        cp->tables[pick].done = true;
        order[copied++] = pick;
    }
    if (e == 0) {
        e = reset_identities(cp);
    }
    if (e == 0) {
        e = own_triggers(cp, true);
    }
    int bad = 0;
    for (int k = 0; e == 0 && k < cp->n; k++) {
        int i = order[k];
        int64_t to = count_pg(cp, cp->tables[i].name);
        if (to != from[i]) {
            bad++;
        }
        if (cp->fn != NULL) {
            cp->fn(cp->tables[i].name, from[i], to, cp->ud);
        }
    }
    if (e == 0 && bad > 0) {
        snprintf(cp->err, cp->errsz,
                 "%d table(s) hold a different number of rows after the copy: nothing was "
                 "committed",
                 bad);
        e = AD_ECORRUPT;
    }
    free(from);
    free(order);
    return e;
}

int ad_store_pg_copy(const char *sqlite_path, const char *url, ad_store_pg_count_fn fn, void *ud,
                     char *err, size_t errsz)
{
    char file[4096], dir[4096];
    struct stat st;
    if (stat(sqlite_path, &st) != 0) {
        snprintf(err, errsz, "no SQLite database at %s: %s", sqlite_path, strerror(errno));
        return AD_ENOENT;
    }
    bool is_dir = S_ISDIR(st.st_mode);
    if ((size_t)snprintf(file, sizeof(file), "%s%s", sqlite_path, is_dir ? "/agentd.db" : "") >=
        sizeof(file)) {
        snprintf(err, errsz, "path too long");
        return AD_EIO;
    }
    snprintf(dir, sizeof(dir), "%s", is_dir ? sqlite_path : sqlite_path);
    if (!is_dir) {
        char *slash = strrchr(dir, '/');
        if (slash == NULL) {
            snprintf(dir, sizeof(dir), ".");
        } else {
            slash[slash == dir ? 1 : 0] = '\0';
        }
    }
    if (stat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errsz, "no SQLite database at %s", file);
        return AD_ENOENT;
    }
    /* A daemon holds its data dir's agentd.pid locked while it runs: take
     * the lock for the copy's length, so none starts (or runs) meanwhile. */
    ad_pidlock_t lock = {.fd = -1};
    char pidfile[4200];
    snprintf(pidfile, sizeof(pidfile), "%s/agentd.pid", dir);
    if (access(pidfile, F_OK) == 0) {
        char lerr[512];
        int le = ad_pidlock_acquire(&lock, dir, lerr, sizeof(lerr));
        if (le == AD_EBUSY) {
            snprintf(err, errsz, "%s: stop that daemon before copying its database", lerr);
            return AD_EBUSY;
        }
        if (le != 0) {
            snprintf(err, errsz, "%s", lerr);
            return le;
        }
    }
    copy_t cp = {.fn = fn, .ud = ud, .err = err, .errsz = errsz};
    int e = 0;
    if (sqlite3_open_v2(file, &cp.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        e = sqlite_fail(&cp, "opening");
    }
    if (e == 0 && sqlite3_exec(cp.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        e = sqlite_fail(&cp, "BEGIN");
    }
    if (e == 0) {
        e = read_source(&cp);
    }
    ad_store_pg_migrated_t m;
    if (e == 0) {
        e = ad_store_pg_connect(url, &cp.pg, err, errsz);
    }
    if (e == 0) {
        e = ad_store_pg_migrate_conn(cp.pg, &m, err, errsz);
    }
    if (e == 0) {
        e = exec(cp.pg, "BEGIN", "BEGIN", err, errsz);
        if (e == 0) {
            e = copy_all(&cp);
        }
        if (e == 0) {
            e = exec(cp.pg, "COMMIT", "COMMIT", err, errsz);
        } else {
            pq.PQclear(pq.PQexec(cp.pg, "ROLLBACK"));
        }
    }
    if (cp.pg != NULL) {
        pq.PQfinish(cp.pg);
    }
    sqlite3_close(cp.db);
    free(cp.tables);
    ad_pidlock_release(&lock);
    return e;
}
