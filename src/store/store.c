/* SPDX-License-Identifier: MIT */
/*
 * The store's core: opening and checking the database, the migration
 * runner, the writer thread with group commit, the per-connection statement
 * cache, SQLite error translation and the row-to-JSON mapping. The typed
 * functions of each table family live in their own files.
 */
#include "store/store.h"
#include "store/store_int.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_RETRIES 10

/* ---- statement cache ------------------------------------------------------
 * sqlite3 has no user-data slot, so each open connection is registered here
 * with its cache. Connections are few (writer, loop reader, pool readers),
 * so a short array scanned under a mutex is enough.
 */
typedef struct {
    const char *sql;
    sqlite3_stmt *stmt;
} stmt_slot_t;

typedef struct {
    sqlite3 *db;
    stmt_slot_t *slots;
    size_t cap; /* power of two */
    size_t used;
} stmt_cache_t;

#define MAX_CONNS 64
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static stmt_cache_t *conns[MAX_CONNS];

static void cache_register(sqlite3 *db)
{
    stmt_cache_t *c = ad_xcalloc(1, sizeof(*c));
    c->db = db;
    c->cap = 64;
    c->slots = ad_xcalloc(c->cap, sizeof(stmt_slot_t));
    pthread_mutex_lock(&conns_lock);
    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (conns[i] == NULL) {
            conns[i] = c;
            c = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&conns_lock);
    if (c != NULL) {
        AD_BUG("store: more than %d open connections", MAX_CONNS);
    }
}

/* Each thread remembers its last lookup, valid while no connection has
 * been closed since (conns_gen), so the common case takes no lock. */
static uint64_t conns_gen;
static _Thread_local stmt_cache_t *tl_cache;
static _Thread_local uint64_t tl_gen;

static stmt_cache_t *cache_find(sqlite3 *db)
{
    /* The generation first: a cache of a closed connection is freed. */
    if (tl_cache != NULL && tl_gen == __atomic_load_n(&conns_gen, __ATOMIC_ACQUIRE) &&
        tl_cache->db == db) {
        return tl_cache;
    }
    stmt_cache_t *found = NULL;
    pthread_mutex_lock(&conns_lock);
    tl_gen = __atomic_load_n(&conns_gen, __ATOMIC_ACQUIRE);
    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (conns[i] != NULL && conns[i]->db == db) {
            found = conns[i];
            break;
        }
    }
    pthread_mutex_unlock(&conns_lock);
    tl_cache = found;
    return found;
}

/* Finalizes the cached statements and closes db. */
static void conn_close(sqlite3 *db)
{
    if (db == NULL) {
        return;
    }
    stmt_cache_t *c = NULL;
    pthread_mutex_lock(&conns_lock);
    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (conns[i] != NULL && conns[i]->db == db) {
            c = conns[i];
            conns[i] = NULL;
            break;
        }
    }
    __atomic_add_fetch(&conns_gen, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&conns_lock);
    if (c != NULL) {
        for (size_t i = 0; i < c->cap; i++) {
            if (c->slots[i].stmt != NULL) {
                sqlite3_finalize(c->slots[i].stmt);
            }
        }
        free(c->slots);
        free(c);
    }
    sqlite3_close_v2(db);
}

static size_t ptr_hash(const void *p)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static void cache_grow(stmt_cache_t *c)
{
    size_t ncap = c->cap * 2;
    stmt_slot_t *ns = ad_xcalloc(ncap, sizeof(stmt_slot_t));
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

sqlite3_stmt *ad_store_stmt(sqlite3 *db, const char *sql)
{
    stmt_cache_t *c = cache_find(db);
    if (c == NULL) {
        AD_BUG("store: statement asked of an unregistered connection");
    }
    size_t j = ptr_hash(sql) & (c->cap - 1);
    while (c->slots[j].sql != NULL) {
        if (c->slots[j].sql == sql) {
            sqlite3_stmt *s = c->slots[j].stmt;
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
            return s;
        }
        j = (j + 1) & (c->cap - 1);
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc != SQLITE_OK) {
        ad_log(AD_LOG_ERROR, "store", "prepare failed: %s sql=%.80s", sqlite3_errmsg(db), sql);
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

int ad_store_rc(sqlite3 *db, int rc)
{
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) {
        return 0;
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
    case SQLITE_CONSTRAINT:
        return AD_ECONSTRAINT;
    case SQLITE_FULL:
        err = AD_EFULL;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        err = AD_EBUSY;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        err = AD_ECORRUPT;
        break;
    case SQLITE_IOERR:
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
           db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc, ad_errname(err));
    return err;
}

int ad_store_exec(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return ad_store_rc(db, sqlite3_errcode(db));
    }
    int rc = sqlite3_step(s);
    while (rc == SQLITE_ROW) {
        rc = sqlite3_step(s);
    }
    int err = ad_store_rc(db, rc);
    sqlite3_reset(s);
    return err;
}

int ad_store_bind_text(sqlite3_stmt *s, int idx, const char *v)
{
    if (v == NULL) {
        return sqlite3_bind_null(s, idx);
    }
    return sqlite3_bind_text(s, idx, v, -1, SQLITE_TRANSIENT);
}

int ad_store_bind_json(sqlite3_stmt *s, int idx, json_t *v)
{
    if (v == NULL || json_is_null(v)) {
        return sqlite3_bind_null(s, idx);
    }
    char *txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (txt == NULL) {
        return SQLITE_NOMEM;
    }
    return sqlite3_bind_text(s, idx, txt, -1, free);
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

json_t *ad_store_row_json(sqlite3_stmt *stmt, const char *json_cols, const char *null_cols)
{
    json_t *o = json_object();
    int n = sqlite3_column_count(stmt);
    for (int i = 0; i < n; i++) {
        const char *col = sqlite3_column_name(stmt, i);
        char key[64];
        camel(col, key, sizeof(key));
        int t = sqlite3_column_type(stmt, i);
        if (t == SQLITE_NULL) {
            if (in_list(null_cols, col)) {
                json_object_set_new(o, key, json_null());
            }
            continue;
        }
        size_t len = strlen(col);
        json_t *v = NULL;
        if (len > 3 && strcmp(col + len - 3, "_at") == 0 && t == SQLITE_INTEGER) {
            char ts[AD_TIME_MAX];
            ad_time_format(sqlite3_column_int64(stmt, i), ts);
            v = json_string(ts);
        } else if (strncmp(col, "is_", 3) == 0) {
            v = json_boolean(sqlite3_column_int64(stmt, i) != 0);
        } else if (in_list(json_cols, col)) {
            const char *txt = (const char *)sqlite3_column_text(stmt, i);
            v = json_loads(txt, JSON_DECODE_ANY, NULL);
            if (v == NULL) {
                v = json_null();
            }
        } else if (t == SQLITE_INTEGER) {
            v = json_integer(sqlite3_column_int64(stmt, i));
        } else if (t == SQLITE_FLOAT) {
            v = json_real(sqlite3_column_double(stmt, i));
        } else {
            v = json_stringn((const char *)sqlite3_column_text(stmt, i),
                             (size_t)sqlite3_column_bytes(stmt, i));
            if (v == NULL) { /* not UTF-8: should not happen, never crash */
                v = json_string("");
            }
        }
        json_object_set_new(o, key, v);
    }
    return o;
}

int ad_store_one_json(sqlite3 *db, sqlite3_stmt *stmt, const char *json_cols, const char *null_cols,
                      json_t **out)
{
    int rc = sqlite3_step(stmt);
    int err = 0;
    if (rc == SQLITE_ROW) {
        *out = ad_store_row_json(stmt, json_cols, null_cols);
    } else if (rc == SQLITE_DONE) {
        err = AD_ENOENT;
    } else {
        err = ad_store_rc(db, rc);
    }
    sqlite3_reset(stmt);
    return err;
}

/* ---- opening -------------------------------------------------------------------- */

typedef struct job {
    struct job *next;
    ad_store_job_fn fn;
    ad_store_done_cb done;
    void *ctx;
    int rc;
} job_t;

struct ad_store {
    uv_loop_t *loop;
    char *path;
    bool durability_full;
    int busy_ms;
    sqlite3 *wdb; /* writer thread only */
    sqlite3 *rdb; /* loop thread only */
    uv_thread_t thread;
    bool thread_started;
    uv_async_t async;
    /* The writer is woken once per loop iteration, not once per job: jobs
     * submitted while the loop handles a round of I/O go in one group.
     * check runs right after the I/O callbacks, prepare right before the
     * loop blocks (for jobs submitted by timers and other callbacks). */
    uv_check_t wake_check;
    uv_prepare_t wake_prepare;
    bool wake_pending; /* loop thread only */
    int open_handles;  /* loop thread only: handles not yet closed */
    uv_mutex_t lock;
    uv_cond_t cond;
    /* under lock: */
    job_t *queue_head, *queue_tail;
    size_t queued;
    job_t *done_head, *done_tail;
    bool stopping;
    ad_store_stats_t stats;
    /* loop thread only: jobs submitted and not yet completed. While there
     * are any, the async handle is referenced so the loop waits for them. */
    size_t outstanding;
};

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

/* Runs sql (no parameters) with sqlite3_exec; used at open and for the
 * migrations themselves, which are multi-statement scripts. */
static int exec_raw(sqlite3 *db, const char *sql, char *err, size_t errsz, const char *path,
                    const char *what)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc == SQLITE_OK) {
        return 0;
    }
    int e = ad_store_rc(db, sqlite3_extended_errcode(db));
    if (e == 0) {
        e = AD_EINTERNAL;
    }
    if (e == AD_ECORRUPT) {
        snprintf(err, errsz,
                 "database %s is corrupt (%s); refusing to run: restore it from a "
                 "backup or move it away",
                 path, msg != NULL ? msg : sqlite3_errstr(rc));
    } else {
        snprintf(err, errsz, "database %s: %s failed: %s", path, what,
                 msg != NULL ? msg : sqlite3_errstr(rc));
    }
    sqlite3_free(msg);
    return e;
}

static void schema_read_failed(sqlite3 *db, int e, const char *path, char *err, size_t errsz)
{
    if (e == AD_ECORRUPT) {
        snprintf(err, errsz,
                 "database %s is corrupt (%s); refusing to run: restore it from a "
                 "backup or move it away",
                 path, sqlite3_errmsg(db));
    } else {
        snprintf(err, errsz, "database %s: reading schema_migrations failed: %s", path,
                 sqlite3_errmsg(db));
    }
}

int ad_store_migrate(sqlite3 *db, const ad_migration_t *list, size_t n, const char *path, char *err,
                     size_t errsz)
{
    int e = exec_raw(db,
                     "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                     "name TEXT NOT NULL, applied_at INTEGER NOT NULL, checksum TEXT NOT NULL)",
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
    /* Every recorded migration must be one we know, unchanged. */
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT version, name, checksum FROM schema_migrations "
                                "ORDER BY version",
                                -1, &s, NULL);
    if (rc != SQLITE_OK) {
        e = ad_store_rc(db, sqlite3_extended_errcode(db));
        schema_read_failed(db, e, path, err, errsz);
        return e != 0 ? e : AD_EINTERNAL;
    }
    bool *applied = ad_xcalloc(n + 1, sizeof(bool));
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int ver = sqlite3_column_int(s, 0);
        const char *name = (const char *)sqlite3_column_text(s, 1);
        const char *sum = (const char *)sqlite3_column_text(s, 2);
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
        ad_store_checksum(list[k].sql, want);
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
    if (rc != SQLITE_DONE) {
        e = ad_store_rc(db, rc);
        schema_read_failed(db, e, path, err, errsz);
        goto out;
    }
    sqlite3_finalize(s);
    s = NULL;
    for (size_t k = 0; k < n; k++) {
        if (applied[k]) {
            continue;
        }
        e = exec_raw(db, "BEGIN IMMEDIATE", err, errsz, path, "BEGIN");
        if (e != 0) {
            goto out;
        }
        char what[160];
        snprintf(what, sizeof(what), "migration %s", list[k].name);
        e = exec_raw(db, list[k].sql, err, errsz, path, what);
        if (e == 0) {
            char sum[65];
            ad_store_checksum(list[k].sql, sum);
            rc = sqlite3_prepare_v2(db,
                                    "INSERT INTO schema_migrations (version, name, "
                                    "applied_at, checksum) VALUES (?, ?, ?, ?)",
                                    -1, &s, NULL);
            if (rc == SQLITE_OK) {
                sqlite3_bind_int(s, 1, list[k].version);
                sqlite3_bind_text(s, 2, list[k].name, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s, 3, ad_wall_ms());
                sqlite3_bind_text(s, 4, sum, -1, SQLITE_TRANSIENT);
                rc = sqlite3_step(s);
            }
            sqlite3_finalize(s);
            s = NULL;
            if (rc != SQLITE_DONE) {
                e = ad_store_rc(db, rc);
                snprintf(err, errsz, "database %s: recording %s failed: %s", path, list[k].name,
                         sqlite3_errmsg(db));
            }
        }
        if (e == 0) {
            e = exec_raw(db, "COMMIT", err, errsz, path, what);
        }
        if (e != 0) {
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            if (e == AD_EINTERNAL) {
                e = AD_EINVAL;
            }
            goto out;
        }
        ad_log(AD_LOG_INFO, "store", "migration applied name=%s version=%d", list[k].name,
               list[k].version);
    }
out:
    sqlite3_finalize(s);
    free(applied);
    return e;
}

/* Opens one connection with the daemon's pragmas, registered with a
 * statement cache. */
static int conn_open(const char *path, bool writer, bool full, int busy_ms, sqlite3 **out,
                     char *err, size_t errsz)
{
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        int e = ad_store_rc(db, rc);
        snprintf(err, errsz, "cannot open database %s: %s", path,
                 db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return e != 0 ? e : AD_EIO;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, busy_ms);
    cache_register(db);
    char pragmas[256];
    snprintf(pragmas, sizeof(pragmas),
             "PRAGMA foreign_keys=ON; PRAGMA synchronous=%s; PRAGMA temp_store=MEMORY;%s",
             full ? "FULL" : "NORMAL", writer ? "" : " PRAGMA query_only=ON;");
    int e = 0;
    if (writer) {
        /* journal_mode reads the header: the first place a non-database or
         * corrupt file shows. Read the mode back: it must be WAL. */
        sqlite3_stmt *s = NULL;
        rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(s);
        }
        if (rc == SQLITE_ROW) {
            const char *mode = (const char *)sqlite3_column_text(s, 0);
            if (mode == NULL || strcmp(mode, "wal") != 0) {
                snprintf(err, errsz, "database %s: cannot use WAL journal (mode %s)", path,
                         mode != NULL ? mode : "?");
                e = AD_EIO;
            }
        } else {
            e = ad_store_rc(db, sqlite3_extended_errcode(db));
            if (e == AD_ECORRUPT) {
                snprintf(err, errsz,
                         "database %s is corrupt (%s); refusing to run: restore it "
                         "from a backup or move it away",
                         path, sqlite3_errmsg(db));
            } else {
                snprintf(err, errsz, "database %s: %s", path, sqlite3_errmsg(db));
            }
            if (e == 0) {
                e = AD_EIO;
            }
        }
        sqlite3_finalize(s);
    }
    if (e == 0) {
        e = exec_raw(db, pragmas, err, errsz, path, "setting pragmas");
    }
    if (e != 0) {
        conn_close(db);
        return e;
    }
    *out = db;
    return 0;
}

/* Reads the schema: a file that is not a database, or whose first page is
 * damaged, fails here. After an unclean shutdown (a WAL file left behind)
 * the whole file is checked too (PRAGMA quick_check, linear in its size),
 * so that a damaged database is refused before anything is written to it. */
static int check_db(sqlite3 *db, const char *path, bool unclean, char *err, size_t errsz)
{
    int e =
        exec_raw(db, "SELECT count(*) FROM sqlite_schema", err, errsz, path, "reading the schema");
    if (e != 0 || !unclean) {
        return e;
    }
    uint64_t t0 = ad_mono_ns();
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
    }
    if (rc == SQLITE_ROW) {
        const char *res = (const char *)sqlite3_column_text(s, 0);
        if (res == NULL || strcmp(res, "ok") != 0) {
            snprintf(err, errsz,
                     "database %s is corrupt (%s); refusing to run: restore it from "
                     "a backup or move it away",
                     path, res != NULL ? res : "?");
            e = AD_ECORRUPT;
        }
    } else {
        e = ad_store_rc(db, sqlite3_extended_errcode(db));
        if (e == 0) {
            e = AD_EINTERNAL;
        }
        snprintf(err, errsz,
                 "database %s is corrupt (%s); refusing to run: restore it from a "
                 "backup or move it away",
                 path, sqlite3_errmsg(db));
        if (e != AD_ECORRUPT && e != AD_EIO && e != AD_ENOMEM) {
            e = AD_ECORRUPT;
        }
    }
    sqlite3_finalize(s);
    if (e == 0) {
        ad_log(AD_LOG_INFO, "store", "checked after unclean shutdown path=%s ms=%llu", path,
               (unsigned long long)((ad_mono_ns() - t0) / 1000000));
    }
    return e;
}

/* ---- writer thread ------------------------------------------------------------- */

static int step_retry(ad_store_stats_t *d, sqlite3_stmt *s)
{
    int rc = SQLITE_BUSY;
    for (int i = 0; i < BUSY_RETRIES; i++) {
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) {
            break;
        }
        d->retries++;
        usleep(1000u << (i < 6 ? i : 6));
    }
    return rc;
}

static const char SQL_BEGIN[] = "BEGIN IMMEDIATE";
static const char SQL_COMMIT[] = "COMMIT";
static const char SQL_ROLLBACK[] = "ROLLBACK";
static const char SQL_SAVEPOINT[] = "SAVEPOINT job";
static const char SQL_RELEASE[] = "RELEASE job";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO job";

/* Begins the group's transaction. 0, or sets every job's rc and fails. */
static int group_begin(ad_store_t *st, job_t *head, ad_store_stats_t *d)
{
    int rc = step_retry(d, ad_store_stmt(st->wdb, SQL_BEGIN));
    if (rc == SQLITE_DONE) {
        return 0;
    }
    int e = ad_store_rc(st->wdb, rc);
    for (job_t *j = head; j != NULL; j = j->next) {
        j->rc = e != 0 ? e : AD_EINTERNAL;
    }
    return -1;
}

static int run_job(sqlite3 *db, job_t *j)
{
    int rc = j->fn(db, j->ctx);
    return rc > 0 ? AD_EINTERNAL : rc; /* a job returned a SQLite code: a bug */
}

/* The fast path: every job straight in the transaction, no savepoints
 * (they cost about as much as a small insert). True when all succeeded and
 * the transaction is still open; otherwise it is rolled back. */
static bool run_fast(ad_store_t *st, job_t *head)
{
    sqlite3 *db = st->wdb;
    for (job_t *j = head; j != NULL; j = j->next) {
        j->rc = run_job(db, j);
        if (j->rc != 0 || sqlite3_get_autocommit(db)) {
            if (!sqlite3_get_autocommit(db)) {
                sqlite3_step(ad_store_stmt(db, SQL_ROLLBACK));
            }
            return false;
        }
    }
    return true;
}

/* The careful path, after a failure: each job in its own SAVEPOINT so a
 * failing one is rolled back alone. */
static void run_safe(ad_store_t *st, job_t *head, ad_store_stats_t *d)
{
    sqlite3 *db = st->wdb;
    for (job_t *j = head; j != NULL; j = j->next) {
        if (sqlite3_get_autocommit(db)) {
            /* An earlier job's error (FULL, IOERR) made SQLite roll back
             * the whole transaction: the rest of this group is lost. */
            j->rc = AD_EIO;
            continue;
        }
        int rc = sqlite3_step(ad_store_stmt(db, SQL_SAVEPOINT));
        if (rc != SQLITE_DONE) {
            j->rc = ad_store_rc(db, rc);
            continue;
        }
        j->rc = run_job(db, j);
        if (sqlite3_get_autocommit(db)) {
            /* The job's error rolled back everything before it too. */
            int e = j->rc != 0 ? j->rc : AD_EIO;
            j->rc = e;
            for (job_t *k = head; k != j; k = k->next) {
                if (k->rc == 0) {
                    k->rc = e;
                }
            }
            continue;
        }
        if (j->rc != 0) {
            sqlite3_step(ad_store_stmt(db, SQL_ROLLBACK_TO));
        }
        sqlite3_step(ad_store_stmt(db, SQL_RELEASE));
    }
    for (job_t *j = head; j != NULL; j = j->next) {
        if (j->rc != 0) {
            d->failed++;
        }
    }
}

/* Runs one group of jobs in a transaction and sets each job's rc. */
static void run_group(ad_store_t *st, job_t *head, ad_store_stats_t *d)
{
    sqlite3 *db = st->wdb;
    for (job_t *j = head; j != NULL; j = j->next) {
        d->jobs++;
    }
    if (group_begin(st, head, d) != 0) {
        return;
    }
    if (!run_fast(st, head)) {
        /* Someone failed: start again, this time isolating each job. */
        for (job_t *j = head; j != NULL; j = j->next) {
            j->rc = 0;
        }
        if (group_begin(st, head, d) != 0) {
            return;
        }
        run_safe(st, head, d);
    }
    if (sqlite3_get_autocommit(db)) {
        return;
    }
    int rc = step_retry(d, ad_store_stmt(db, SQL_COMMIT));
    if (rc != SQLITE_DONE) {
        int e = ad_store_rc(db, rc);
        if (e == 0) {
            e = AD_EINTERNAL;
        }
        if (!sqlite3_get_autocommit(db)) {
            sqlite3_step(ad_store_stmt(db, SQL_ROLLBACK));
        }
        for (job_t *j = head; j != NULL; j = j->next) {
            if (j->rc == 0) {
                j->rc = e;
            }
        }
        return;
    }
    d->groups++;
}

static void writer_main(void *arg)
{
    ad_store_t *st = arg;
    uv_mutex_lock(&st->lock);
    for (;;) {
        while (st->queue_head == NULL && !st->stopping) {
            uv_cond_wait(&st->cond, &st->lock);
        }
        if (st->queue_head == NULL) {
            break; /* stopping and drained */
        }
        /* Take up to the bound; leave the rest for the next group. */
        job_t *head = st->queue_head, *tail = head;
        size_t n = 1;
        while (tail->next != NULL && n < AD_STORE_GROUP_MAX) {
            tail = tail->next;
            n++;
        }
        st->queue_head = tail->next;
        if (st->queue_head == NULL) {
            st->queue_tail = NULL;
        }
        st->queued -= n;
        tail->next = NULL;
        uv_mutex_unlock(&st->lock);

        ad_store_stats_t d = {0};
        run_group(st, head, &d);

        uv_mutex_lock(&st->lock);
        st->stats.jobs += d.jobs;
        st->stats.groups += d.groups;
        st->stats.failed += d.failed;
        st->stats.retries += d.retries;
        if (st->done_tail != NULL) {
            st->done_tail->next = head;
        } else {
            st->done_head = head;
        }
        st->done_tail = tail;
        uv_mutex_unlock(&st->lock);
        uv_async_send(&st->async);
        uv_mutex_lock(&st->lock);
    }
    uv_mutex_unlock(&st->lock);
}

static void deliver(ad_store_t *st)
{
    uv_mutex_lock(&st->lock);
    job_t *j = st->done_head;
    st->done_head = st->done_tail = NULL;
    uv_mutex_unlock(&st->lock);
    while (j != NULL) {
        job_t *next = j->next;
        st->outstanding--;
        if (j->done != NULL) {
            j->done(j->rc, j->ctx);
        }
        free(j);
        j = next;
    }
    if (st->outstanding == 0 && !uv_is_closing((uv_handle_t *)&st->async)) {
        uv_unref((uv_handle_t *)&st->async);
    }
}

static void on_async(uv_async_t *h)
{
    deliver(h->data);
}

static void wake_writer(ad_store_t *st)
{
    if (st->wake_pending) {
        st->wake_pending = false;
        uv_cond_signal(&st->cond);
    }
}

static void on_wake_check(uv_check_t *h)
{
    wake_writer(h->data);
}

static void on_wake_prepare(uv_prepare_t *h)
{
    wake_writer(h->data);
}

void ad_store_submit(ad_store_t *st, ad_store_job_fn fn, ad_store_done_cb done, void *ctx)
{
    job_t *j = ad_xmalloc(sizeof(*j));
    j->next = NULL;
    j->fn = fn;
    j->done = done;
    j->ctx = ctx;
    j->rc = 0;
    if (st->outstanding++ == 0) {
        uv_ref((uv_handle_t *)&st->async);
    }
    uv_mutex_lock(&st->lock);
    if (st->queue_tail != NULL) {
        st->queue_tail->next = j;
    } else {
        st->queue_head = j;
    }
    st->queue_tail = j;
    st->queued++;
    if (st->queued == 1) {
        /* The writer may be asleep: wake it at the end of this round. */
        st->wake_pending = true;
    }
    uv_mutex_unlock(&st->lock);
}

/* ---- JSON ops --------------------------------------------------------------------- */

typedef struct {
    ad_store_op_fn op;
    json_t *args;
    json_t *result;
    ad_store_result_cb cb;
    void *ud;
} op_job_t;

static int op_run(sqlite3 *db, void *ctx)
{
    op_job_t *o = ctx;
    /* A job may run twice (see ad_store_job_fn): forget the first result. */
    json_decref(o->result);
    o->result = NULL;
    return o->op(db, o->args, &o->result);
}

static void op_done(int rc, void *ctx)
{
    op_job_t *o = ctx;
    json_decref(o->args);
    if (o->cb != NULL) {
        o->cb(rc, o->result, o->ud);
    } else {
        json_decref(o->result);
    }
    free(o);
}

void ad_store_write(ad_store_t *st, ad_store_op_fn op, json_t *args, ad_store_result_cb cb,
                    void *ud)
{
    op_job_t *o = ad_xcalloc(1, sizeof(*o));
    o->op = op;
    o->args = args;
    o->cb = cb;
    o->ud = ud;
    ad_store_submit(st, op_run, op_done, o);
}

/* ---- reads on the pool -------------------------------------------------------------- */

typedef struct {
    uv_work_t work;
    /* Copies, not the store: a pool read may outlive ad_store_close(). */
    char *path;
    bool full;
    int busy_ms;
    ad_store_read_fn fn;
    ad_store_done_cb done;
    void *ctx;
    int rc;
} read_job_t;

static void read_work(uv_work_t *w)
{
    read_job_t *r = w->data;
    sqlite3 *db = NULL;
    char err[512];
    r->rc = conn_open(r->path, false, r->full, r->busy_ms, &db, err, sizeof(err));
    if (r->rc != 0) {
        ad_log(AD_LOG_ERROR, "store", "%s", err);
        return;
    }
    r->rc = r->fn(db, r->ctx);
    conn_close(db);
}

static void read_after(uv_work_t *w, int status)
{
    read_job_t *r = w->data;
    if (r->done != NULL) {
        r->done(status == UV_ECANCELED ? AD_ECLOSED : r->rc, r->ctx);
    }
    free(r->path);
    free(r);
}

void ad_store_read_async(ad_store_t *st, ad_store_read_fn fn, ad_store_done_cb done, void *ctx)
{
    read_job_t *r = ad_xcalloc(1, sizeof(*r));
    r->path = ad_xstrdup(st->path);
    r->full = st->durability_full;
    r->busy_ms = st->busy_ms;
    r->fn = fn;
    r->done = done;
    r->ctx = ctx;
    r->work.data = r;
    uv_queue_work(st->loop, &r->work, read_work, read_after);
}

/* ---- life cycle --------------------------------------------------------------------- */

int ad_store_open(uv_loop_t *loop, const ad_store_opts_t *opts, ad_store_t **out, char *err,
                  size_t errsz)
{
    /* Memory statistics cost a global mutex per allocation; nothing reads
     * them. Only possible before SQLite initializes: later calls are
     * refused, harmlessly. */
    static bool configured;
    if (!configured) {
        configured = true;
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    }
    ad_store_t *st = ad_xcalloc(1, sizeof(*st));
    st->loop = loop;
    st->path = ad_xstrdup(opts->path);
    st->durability_full = opts->durability_full;
    st->busy_ms = opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 5000;
    /* A WAL left behind means the last run did not close the database. */
    char wal[4200];
    struct stat sb;
    snprintf(wal, sizeof(wal), "%s-wal", st->path);
    bool unclean = stat(wal, &sb) == 0 && sb.st_size > 0;
    int e = conn_open(st->path, true, st->durability_full, st->busy_ms, &st->wdb, err, errsz);
    if (e == 0) {
        e = check_db(st->wdb, st->path, unclean, err, errsz);
    }
    if (e == 0) {
        e = ad_store_migrate(st->wdb, ad_migrations, ad_migrations_count, st->path, err, errsz);
    }
    if (e == 0) {
        e = conn_open(st->path, false, st->durability_full, st->busy_ms, &st->rdb, err, errsz);
    }
#ifdef AD_TEST_BUILD
    /* Test hook: AGENTD_TEST_DB_FULL=1 caps the file at its current size
     * (max_page_count never goes below it), so writes that grow it fail
     * with SQLITE_FULL as on a full disk. */
    const char *cap = getenv("AGENTD_TEST_DB_FULL");
    if (e == 0 && cap != NULL && cap[0] == '1') {
        e = exec_raw(st->wdb, "PRAGMA max_page_count = 1", err, errsz, st->path, "test hook");
        ad_log(AD_LOG_WARN, "store", "test hook: database capped at its current size");
    }
#endif
    if (e != 0) {
        conn_close(st->rdb);
        conn_close(st->wdb);
        free(st->path);
        free(st);
        return e;
    }
    uv_mutex_init(&st->lock);
    uv_cond_init(&st->cond);
    uv_async_init(loop, &st->async, on_async);
    st->async.data = st;
    /* An idle store must not keep the loop alive (see outstanding). */
    uv_unref((uv_handle_t *)&st->async);
    uv_check_init(loop, &st->wake_check);
    st->wake_check.data = st;
    uv_check_start(&st->wake_check, on_wake_check);
    uv_unref((uv_handle_t *)&st->wake_check);
    uv_prepare_init(loop, &st->wake_prepare);
    st->wake_prepare.data = st;
    uv_prepare_start(&st->wake_prepare, on_wake_prepare);
    uv_unref((uv_handle_t *)&st->wake_prepare);
    st->open_handles = 3;
    if (uv_thread_create(&st->thread, writer_main, st) != 0) {
        AD_BUG("store: cannot start the writer thread");
    }
    st->thread_started = true;
    ad_log(AD_LOG_INFO, "store", "opened path=%s synchronous=%s", st->path,
           st->durability_full ? "full" : "normal");
    *out = st;
    return 0;
}

int ad_store_open_cfg(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t **out, char *err,
                      size_t errsz)
{
    char path[4200];
    if ((size_t)snprintf(path, sizeof(path), "%s/agentd.db", cfg->data_dir) >= sizeof(path)) {
        snprintf(err, errsz, "data dir path too long");
        return AD_EINVAL;
    }
    ad_store_opts_t o = {.path = path, .durability_full = cfg->durability_full};
    return ad_store_open(loop, &o, out, err, errsz);
}

static void on_closed(uv_handle_t *h)
{
    ad_store_t *st = h->data;
    if (--st->open_handles > 0) {
        return;
    }
    uv_mutex_destroy(&st->lock);
    uv_cond_destroy(&st->cond);
    free(st->path);
    free(st);
}

void ad_store_close(ad_store_t *st)
{
    if (st == NULL) {
        return;
    }
    uv_mutex_lock(&st->lock);
    st->stopping = true;
    uv_mutex_unlock(&st->lock);
    uv_cond_signal(&st->cond);
    if (st->thread_started) {
        uv_thread_join(&st->thread);
    }
    deliver(st);
    conn_close(st->rdb);
    /* A clean close checkpoints and removes the WAL. */
    conn_close(st->wdb);
    st->rdb = st->wdb = NULL;
    ad_log(AD_LOG_INFO, "store", "closed jobs=%llu groups=%llu", (unsigned long long)st->stats.jobs,
           (unsigned long long)st->stats.groups);
    uv_close((uv_handle_t *)&st->async, on_closed);
    uv_close((uv_handle_t *)&st->wake_check, on_closed);
    uv_close((uv_handle_t *)&st->wake_prepare, on_closed);
}

const char *ad_store_path(const ad_store_t *st)
{
    return st->path;
}

sqlite3 *ad_store_rdb(ad_store_t *st)
{
    return st->rdb;
}

void ad_store_stats(ad_store_t *st, ad_store_stats_t *out)
{
    uv_mutex_lock(&st->lock);
    *out = st->stats;
    uv_mutex_unlock(&st->lock);
}

int ad_store_step_done(sqlite3 *db, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    /* Map before the reset, while the error state is still the step's. */
    int err = rc == SQLITE_DONE ? 0 : ad_store_rc(db, rc);
    sqlite3_reset(s);
    return err;
}

int ad_store_workspace_of(sqlite3 *db, const char *worktree_id, char out[AD_ID_MAX])
{
    sqlite3_stmt *s = ad_store_stmt(db, "SELECT workspace_id FROM worktrees WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, worktree_id);
    int rc = sqlite3_step(s);
    int e = 0;
    if (rc == SQLITE_ROW) {
        snprintf(out, AD_ID_MAX, "%s", (const char *)sqlite3_column_text(s, 0));
    } else {
        e = rc == SQLITE_DONE ? AD_ENOENT : ad_store_rc(db, rc);
    }
    sqlite3_reset(s);
    return e;
}
