/* SPDX-License-Identifier: MIT */
/*
 * Private to src/store: the statement layer every table file goes through,
 * over SQLite (db.c) or PostgreSQL (db_pg.c, issue #39). Its calls are
 * SQLite's, renamed ad_db_* with the same arguments and meaning, so the
 * table files read as they did and a sqlite3_* call added on another branch
 * converts by name.
 *
 * Ownership:
 * - An ad_db_t is one connection, used by one thread at a time (the writer,
 *   the loop's reader, one pool read). It owns its statement cache
 *   (ad_store_stmt, stmt.c) and is closed with ad_store_conn_close().
 * - A statement from ad_store_stmt() belongs to the connection's cache:
 *   reset it when done, never finalize it. One from ad_db_prepare_v2()
 *   belongs to the caller: ad_db_finalize() it.
 * - Text and blobs read from a row live until the next step, reset or
 *   finalize of that statement (as SQLite's).
 * - Bound text and blobs: AD_DB_STATIC (the caller keeps the bytes alive
 *   until the statement is reset), AD_DB_TRANSIENT (copied now), or a
 *   destructor the layer calls once it no longer needs them.
 *
 * Result codes are SQLite's numbers (AD_DB_OK, AD_DB_ROW, AD_DB_DONE, the
 * extended error codes); the PostgreSQL side maps SQLSTATEs onto them
 * (unique violation -> SQLITE_CONSTRAINT_UNIQUE, ...), so ad_store_rc()
 * translates both. Column types likewise (AD_DB_INTEGER, ...).
 *
 * The SQLite side costs a load and a predicted branch per call: every
 * function here is static inline, calling SQLite directly when the
 * statement or connection is SQLite's. What only SQLite has (PRAGMAs,
 * sqlite3_exec, limits, the user SQL console's authorizer) is reached
 * through ad_db_sqlite(), which is NULL on PostgreSQL: the caller says
 * what PostgreSQL does instead, or refuses.
 */
#ifndef AD_STORE_DB_H
#define AD_STORE_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

typedef enum { AD_DB_SQLITE = 0, AD_DB_PG = 1 } ad_db_kind_t;

#define AD_DB_OK SQLITE_OK
#define AD_DB_ROW SQLITE_ROW
#define AD_DB_DONE SQLITE_DONE
#define AD_DB_BUSY SQLITE_BUSY
#define AD_DB_LOCKED SQLITE_LOCKED
#define AD_DB_CONSTRAINT SQLITE_CONSTRAINT
#define AD_DB_INTEGER SQLITE_INTEGER
#define AD_DB_FLOAT SQLITE_FLOAT
#define AD_DB_TEXT SQLITE_TEXT
#define AD_DB_BLOB SQLITE_BLOB
#define AD_DB_NULL SQLITE_NULL
#define AD_DB_STATIC SQLITE_STATIC
#define AD_DB_TRANSIENT SQLITE_TRANSIENT
/* PostgreSQL only: the server could not be reached (the connection was
 * lost, or is being made again). An extended code SQLite never gives;
 * ad_store_rc() makes it AD_EUNAVAIL. */
#define AD_DB_UNAVAIL (SQLITE_IOERR | (200 << 8))

typedef struct ad_db_slot ad_db_slot_t; /* stmt.c */
struct ad_db_pg;                        /* db_pg.c */
struct ad_db_pgstmt;

typedef struct ad_db {
    ad_db_kind_t kind;
    sqlite3 *sq;         /* AD_DB_SQLITE */
    struct ad_db_pg *pg; /* AD_DB_PG */
    /* The statement cache (stmt.c), keyed by the SQL text's address. */
    ad_db_slot_t *slots;
    size_t cap, used;
} ad_db_t;

typedef struct ad_db_stmt {
    ad_db_kind_t kind;
    sqlite3_stmt *sq;
    ad_db_t *db;
    struct ad_db_pgstmt *pg;
} ad_db_stmt_t;

/* A connection with an empty statement cache, its handle to be set (stmt.c). */
ad_db_t *ad_db_alloc(ad_db_kind_t kind);

/* ---- the PostgreSQL side (db_pg.c) ---------------------------------------- */
/* Connects to url: 0, or an AD_E* code with a message in err (never the
 * URL's password). */
int ad_db_pg_open(const char *url, ad_db_t **out, char *err, size_t errsz);
/* The libpq connection (NULL on SQLite). */
struct pg_conn *ad_db_pg_conn(ad_db_t *db);
/* A statement prepared on the server, for the cache. */
int ad_db_pg_prepare_kept(ad_db_t *db, const char *sql, ad_db_stmt_t **out);
void ad_db_pg_close(ad_db_t *db);
/* Runs sql (no parameters, maybe several statements): AD_DB_OK or an error
 * code, the message in ad_db_errmsg(). */
int ad_db_pg_exec(ad_db_t *db, const char *sql);
int ad_db_pg_prepare(ad_db_t *db, const char *sql, int n, ad_db_stmt_t **out);
void ad_db_pg_finalize(ad_db_stmt_t *s);
int ad_db_pg_bind(ad_db_stmt_t *s, int i, int type, int64_t iv, double dv, const void *p, int n,
                  void (*del)(void *));
int ad_db_pg_step(ad_db_stmt_t *s);
int ad_db_pg_reset(ad_db_stmt_t *s);
int ad_db_pg_clear_bindings(ad_db_stmt_t *s);
int ad_db_pg_column_type(ad_db_stmt_t *s, int i);
int64_t ad_db_pg_column_int64(ad_db_stmt_t *s, int i);
double ad_db_pg_column_double(ad_db_stmt_t *s, int i);
const unsigned char *ad_db_pg_column_text(ad_db_stmt_t *s, int i);
const void *ad_db_pg_column_blob(ad_db_stmt_t *s, int i);
int ad_db_pg_column_bytes(ad_db_stmt_t *s, int i);
int ad_db_pg_column_count(ad_db_stmt_t *s);
const char *ad_db_pg_column_name(ad_db_stmt_t *s, int i);
int ad_db_pg_bind_parameter_count(ad_db_stmt_t *s);
int64_t ad_db_pg_changes(ad_db_t *db);
int64_t ad_db_pg_last_insert_rowid(ad_db_t *db);
const char *ad_db_pg_errmsg(ad_db_t *db);
int ad_db_pg_errcode(ad_db_t *db);
int ad_db_pg_autocommit(ad_db_t *db);

/* Connections that come back (issue #39). A connection is lost when libpq
 * says it is bad, or a statement failed with a connection-class SQLSTATE
 * (08xxx) or an administrator's shutdown (57P01-57P03): every later call
 * on it fails with AD_DB_UNAVAIL until ad_db_pg_reconnect(), which only
 * its owner calls, outside a transaction (a statement never reconnects on
 * its own: a transaction cut in half must not go on, in autocommit, on a
 * new connection). The statements cached on the connection are prepared
 * again on the new one at their next use. */
bool ad_db_pg_lost(ad_db_t *db);
/* Whether an idle connection is gone without anyone having used it yet: the
 * server closed it (a restart) and its socket says so. Checked before an
 * idle connection is handed out, so a read after an outage does not fail on
 * it (and say the database is down when it is not). Does not block; false
 * on SQLite. */
bool ad_db_pg_stale(ad_db_t *db);
/* A new connection in place of a lost one: 0, or AD_EUNAVAIL (the reason
 * in the process's database state below). Blocks for a login, at most the
 * URL's connect_timeout (10 s unless it says). */
int ad_db_pg_reconnect(ad_db_t *db);
/* A round trip (SELECT 1): 0 with its time in *sec, or AD_EUNAVAIL. */
int ad_db_pg_ping(ad_db_t *db, double *sec);
/* A COMMIT whose answer was lost with the connection may have been applied
 * or not. The writer begins each group with ad_db_pg_begin, which also
 * reads the transaction's id and the session's pid (one round trip, as a
 * bare BEGIN is); connected again, it asks ad_db_pg_xact_status what became
 * of that id, and runs the group again only when it was not applied.
 * The BEGIN goes with the group's first statement: a group that runs none
 * (the event log's jobs write files, not rows) sends no BEGIN and no
 * COMMIT, where it cost two round trips; *xid stays 0 until then. */
int ad_db_pg_begin(ad_db_t *db, int64_t *xid, int *pid); /* AD_DB_DONE or an error code */
enum { AD_DB_XACT_ABORTED, AD_DB_XACT_COMMITTED, AD_DB_XACT_RUNNING };
/* *status: committed, running (the old session has not ended yet) or
 * aborted (also when the server no longer knows the id). AD_DB_OK or an
 * error code (AD_DB_UNAVAIL: lost again). */
int ad_db_pg_xact_status(ad_db_t *db, int64_t xid, int *status);
/* Ends session pid if it is still in transaction xid (a session cut off by
 * the network, which the server has not seen go): AD_DB_OK or an error code.
 * Only a session of the same role can be ended, as PostgreSQL allows. */
int ad_db_pg_end_session(ad_db_t *db, int pid, int64_t xid);
#ifdef AD_TEST_BUILD
/* The next COMMIT on any connection loses its answer with the connection:
 * mode 1 after the server applied it, 2 before it is sent; 0 disarms. */
void ad_db_pg_test_lose_commit(int mode);
#endif
/* The database as this process last saw it (any thread): down from the
 * first lost connection until a reconnect or a new connection succeeds. */
typedef struct {
    bool down;
    char reason[256];      /* the last connection error, never a password */
    int64_t down_since_ms; /* wall clock, 0 when up */
    uint64_t errors;       /* statements that failed for the connection */
    uint64_t reconnects;   /* connections made again */
    uint64_t outages;      /* times the database went down */
    double rtt_sec;        /* the last ping's round trip, -1 before one */
} ad_db_pg_state_t;
void ad_db_pg_state(ad_db_pg_state_t *out);
bool ad_db_pg_down(void);

#define AD_DB_SQ(s) __builtin_expect((s)->kind == AD_DB_SQLITE, 1)

/* ---- connections ------------------------------------------------------------ */
/* The SQLite handle, or NULL on PostgreSQL. */
static inline sqlite3 *ad_db_sqlite(ad_db_t *db)
{
    return db != NULL && db->kind == AD_DB_SQLITE ? db->sq : NULL;
}
static inline bool ad_db_is_pg(const ad_db_t *db)
{
    return db->kind == AD_DB_PG;
}
/* An uncached statement of sql (n bytes, or -1: to its NUL), the caller's
 * to finalize; tail is SQLite's (set to the text after the first statement)
 * or NULL. */
static inline int ad_db_prepare_v2(ad_db_t *db, const char *sql, int n, ad_db_stmt_t **out,
                                   const char **tail)
{
    *out = NULL;
    if (db->kind != AD_DB_SQLITE) {
        if (tail != NULL) {
            *tail = NULL;
        }
        return ad_db_pg_prepare(db, sql, n, out);
    }
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db->sq, sql, n, &s, tail);
    if (rc != SQLITE_OK || s == NULL) {
        return rc;
    }
    ad_db_stmt_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        sqlite3_finalize(s);
        return SQLITE_NOMEM;
    }
    w->kind = AD_DB_SQLITE;
    w->sq = s;
    w->db = db;
    *out = w;
    return SQLITE_OK;
}
static inline int ad_db_finalize(ad_db_stmt_t *s)
{
    if (s == NULL) {
        return SQLITE_OK;
    }
    if (AD_DB_SQ(s)) {
        int rc = sqlite3_finalize(s->sq);
        free(s);
        return rc;
    }
    ad_db_pg_finalize(s);
    return SQLITE_OK;
}
static inline int64_t ad_db_changes(ad_db_t *db)
{
    return AD_DB_SQ(db) ? sqlite3_changes(db->sq) : ad_db_pg_changes(db);
}
static inline int64_t ad_db_last_insert_rowid(ad_db_t *db)
{
    return AD_DB_SQ(db) ? sqlite3_last_insert_rowid(db->sq) : ad_db_pg_last_insert_rowid(db);
}
static inline const char *ad_db_errmsg(ad_db_t *db)
{
    return AD_DB_SQ(db) ? sqlite3_errmsg(db->sq) : ad_db_pg_errmsg(db);
}
static inline int ad_db_errcode(ad_db_t *db)
{
    return AD_DB_SQ(db) ? sqlite3_errcode(db->sq) : ad_db_pg_errcode(db);
}
static inline int ad_db_extended_errcode(ad_db_t *db)
{
    return AD_DB_SQ(db) ? sqlite3_extended_errcode(db->sq) : ad_db_pg_errcode(db);
}
/* Non-zero outside a transaction (SQLite's autocommit mode). */
static inline int ad_db_get_autocommit(ad_db_t *db)
{
    return AD_DB_SQ(db) ? sqlite3_get_autocommit(db->sq) : ad_db_pg_autocommit(db);
}

/* ---- binding ------------------------------------------------------------------ */
static inline int ad_db_bind_int64(ad_db_stmt_t *s, int i, int64_t v)
{
    return AD_DB_SQ(s) ? sqlite3_bind_int64(s->sq, i, v)
                       : ad_db_pg_bind(s, i, SQLITE_INTEGER, v, 0, NULL, 0, NULL);
}
static inline int ad_db_bind_int(ad_db_stmt_t *s, int i, int v)
{
    return ad_db_bind_int64(s, i, v);
}
static inline int ad_db_bind_double(ad_db_stmt_t *s, int i, double v)
{
    return AD_DB_SQ(s) ? sqlite3_bind_double(s->sq, i, v)
                       : ad_db_pg_bind(s, i, SQLITE_FLOAT, 0, v, NULL, 0, NULL);
}
static inline int ad_db_bind_null(ad_db_stmt_t *s, int i)
{
    return AD_DB_SQ(s) ? sqlite3_bind_null(s->sq, i)
                       : ad_db_pg_bind(s, i, SQLITE_NULL, 0, 0, NULL, 0, NULL);
}
static inline int ad_db_bind_text(ad_db_stmt_t *s, int i, const char *v, int n, void (*del)(void *))
{
    return AD_DB_SQ(s) ? sqlite3_bind_text(s->sq, i, v, n, del)
                       : ad_db_pg_bind(s, i, SQLITE_TEXT, 0, 0, v, n, del);
}
static inline int ad_db_bind_blob(ad_db_stmt_t *s, int i, const void *v, int n, void (*del)(void *))
{
    return AD_DB_SQ(s) ? sqlite3_bind_blob(s->sq, i, v, n, del)
                       : ad_db_pg_bind(s, i, SQLITE_BLOB, 0, 0, v, n, del);
}
static inline int ad_db_bind_parameter_count(ad_db_stmt_t *s)
{
    return AD_DB_SQ(s) ? sqlite3_bind_parameter_count(s->sq) : ad_db_pg_bind_parameter_count(s);
}
static inline int ad_db_clear_bindings(ad_db_stmt_t *s)
{
    return AD_DB_SQ(s) ? sqlite3_clear_bindings(s->sq) : ad_db_pg_clear_bindings(s);
}

/* ---- stepping ------------------------------------------------------------------- */
static inline int ad_db_step(ad_db_stmt_t *s)
{
    return AD_DB_SQ(s) ? sqlite3_step(s->sq) : ad_db_pg_step(s);
}
static inline int ad_db_reset(ad_db_stmt_t *s)
{
    return AD_DB_SQ(s) ? sqlite3_reset(s->sq) : ad_db_pg_reset(s);
}

/* ---- columns --------------------------------------------------------------------- */
static inline int ad_db_column_type(ad_db_stmt_t *s, int i)
{
    return AD_DB_SQ(s) ? sqlite3_column_type(s->sq, i) : ad_db_pg_column_type(s, i);
}
static inline int64_t ad_db_column_int64(ad_db_stmt_t *s, int i)
{
    return AD_DB_SQ(s) ? sqlite3_column_int64(s->sq, i) : ad_db_pg_column_int64(s, i);
}
static inline int ad_db_column_int(ad_db_stmt_t *s, int i)
{
    return AD_DB_SQ(s) ? sqlite3_column_int(s->sq, i) : (int)ad_db_pg_column_int64(s, i);
}
static inline double ad_db_column_double(ad_db_stmt_t *s, int i)
{
    return AD_DB_SQ(s) ? sqlite3_column_double(s->sq, i) : ad_db_pg_column_double(s, i);
}
static inline const unsigned char *ad_db_column_text(ad_db_stmt_t *s, int i)
{
    return AD_DB_SQ(s) ? sqlite3_column_text(s->sq, i) : ad_db_pg_column_text(s, i);
}
static inline const void *ad_db_column_blob(ad_db_stmt_t *s, int i)
{
    return AD_DB_SQ(s) ? sqlite3_column_blob(s->sq, i) : ad_db_pg_column_blob(s, i);
}
static inline int ad_db_column_bytes(ad_db_stmt_t *s, int i)
{
    return AD_DB_SQ(s) ? sqlite3_column_bytes(s->sq, i) : ad_db_pg_column_bytes(s, i);
}
static inline int ad_db_column_count(ad_db_stmt_t *s)
{
    return AD_DB_SQ(s) ? sqlite3_column_count(s->sq) : ad_db_pg_column_count(s);
}
static inline const char *ad_db_column_name(ad_db_stmt_t *s, int i)
{
    return AD_DB_SQ(s) ? sqlite3_column_name(s->sq, i) : ad_db_pg_column_name(s, i);
}

#endif
