/* SPDX-License-Identifier: MIT */
/*
 * The statement layer's PostgreSQL side (db.h, issue #39): libpq as pg.c
 * loads it. A cached statement is translated once (pgsql.c: $N parameters
 * and the migrations' word rewrites) and PQprepare'd once per connection;
 * an uncached one runs with PQexecParams. Parameters go in text format,
 * blobs in binary; results come whole (PQexecPrepared) and are read row by
 * row: the store's reads are bounded (LIMIT, one key), so a result's
 * memory is too. SQLSTATEs map onto SQLite's result codes (db.h), booleans
 * read as 0 and 1, bytea as bytes. A connection is one thread's at a time,
 * as on SQLite; nothing here locks but the process's database state.
 *
 * A lost connection (issue #39: the server restarted, the network cut)
 * fails every call with AD_DB_UNAVAIL until its owner reconnects it (db.h);
 * the statements it had prepared are prepared again, by their kept text
 * and parameter types, on the new connection's first use of each.
 */
#include "store/pq.h"
#include "store/store_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define PG_BOOL 16
#define PG_BYTEA 17
#define PG_INT8 20
#define PG_INT2 21
#define PG_INT4 23
#define PG_OID 26
#define PG_TEXT 25
#define PG_FLOAT4 700
#define PG_FLOAT8 701
#define PG_NUMERIC 1700

struct ad_db_pg {
    PGconn *c;
    char *url;    /* to connect again (never logged) */
    unsigned gen; /* connections made: a statement prepared on an older one is not there */
    bool lost;
    int64_t changes;
    int err;
    char msg[512];
    unsigned names; /* prepared statements made: the next one's name */
    /* ad_db_pg_begin's transaction, not yet sent: the first statement sends
     * it (with the id and pid into these); a COMMIT or ROLLBACK before any
     * statement sends nothing (a group of jobs that wrote no row) */
    bool lazy;
    int64_t *lazy_xid;
    int *lazy_pid;
};

typedef struct {
    char *val; /* NULL: SQL NULL */
    int len;
    int fmt;      /* 0 text, 1 binary */
    char num[32]; /* numbers' text, val pointing here */
    bool owned;   /* val is malloc'd */
} pg_param_t;

struct ad_db_pgstmt {
    char name[16]; /* "" for an uncached statement */
    char *sql;     /* translated */
    unsigned gen;  /* the connection it was prepared on (db->pg->gen) */
    Oid *types;    /* the parameter types the server took, to prepare again */
    int nparams;
    pg_param_t *params;
    PGresult *res;
    int row, nrows;
    bool ran;
    bool writes; /* INSERT, UPDATE or DELETE: sets the change count */
    /* decoded bytea per column of the current row */
    unsigned char **bytes;
    int *bytes_len;
    int ncols;
};

/* ---- errors ------------------------------------------------------------------- */

/* SQLite's code for a SQLSTATE. */
static int code_of(const char *st)
{
    if (st == NULL || strlen(st) != 5) {
        return SQLITE_ERROR;
    }
    if (strcmp(st, "23505") == 0) {
        return SQLITE_CONSTRAINT_UNIQUE;
    }
    if (strcmp(st, "23503") == 0) {
        return SQLITE_CONSTRAINT_FOREIGNKEY;
    }
    if (strcmp(st, "23502") == 0) {
        return SQLITE_CONSTRAINT_NOTNULL;
    }
    if (strcmp(st, "23514") == 0) {
        return SQLITE_CONSTRAINT_CHECK;
    }
    if (strncmp(st, "23", 2) == 0) {
        return SQLITE_CONSTRAINT;
    }
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0) {
        return SQLITE_BUSY;
    }
    if (strcmp(st, "53100") == 0) {
        return SQLITE_FULL;
    }
    if (strcmp(st, "53200") == 0) {
        return SQLITE_NOMEM;
    }
    if (strcmp(st, "54000") == 0 || strcmp(st, "22001") == 0) {
        return SQLITE_TOOBIG;
    }
    if (strncmp(st, "08", 2) == 0 || strncmp(st, "58", 2) == 0) {
        return SQLITE_IOERR;
    }
    if (strcmp(st, "XX001") == 0 || strcmp(st, "XX002") == 0) {
        return SQLITE_CORRUPT;
    }
    return SQLITE_ERROR;
}

/* ---- the process's database state (db.h) --------------------------------------- */

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static ad_db_pg_state_t state = {.rtt_sec = -1};

static void state_down(const char *why)
{
    pthread_mutex_lock(&state_lock);
    if (!state.down) {
        state.down = true;
        state.outages++;
        state.down_since_ms = ad_wall_ms();
        ad_log(AD_LOG_WARN, "store", "PostgreSQL unreachable: %s", why);
    }
    state.errors++;
    snprintf(state.reason, sizeof(state.reason), "%s", why);
    pthread_mutex_unlock(&state_lock);
}

static void state_up(bool reconnected)
{
    pthread_mutex_lock(&state_lock);
    if (state.down) {
        ad_log(AD_LOG_INFO, "store", "PostgreSQL reachable again after %lld ms",
               (long long)(ad_wall_ms() - state.down_since_ms));
    }
    state.down = false;
    state.down_since_ms = 0;
    state.reconnects += reconnected;
    pthread_mutex_unlock(&state_lock);
}

void ad_db_pg_state(ad_db_pg_state_t *out)
{
    pthread_mutex_lock(&state_lock);
    *out = state;
    pthread_mutex_unlock(&state_lock);
}

bool ad_db_pg_down(void)
{
    pthread_mutex_lock(&state_lock);
    bool d = state.down;
    pthread_mutex_unlock(&state_lock);
    return d;
}

/* Whether r's failure (r may be NULL) means the connection is gone: libpq
 * says so, or the server's SQLSTATE is a connection exception (08) or an
 * operator intervention that ends the session (57P01 admin shutdown, 57P02
 * crash shutdown, 57P03 cannot connect now). */
static bool conn_gone(PGconn *c, const PGresult *r)
{
    if (c == NULL || ad_pq.PQstatus(c) != CONNECTION_OK || r == NULL) {
        return true;
    }
    const char *st = ad_pq.PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (st == NULL) {
        /* libpq's own failure (no server answer): the socket went */
        return ad_pq.PQresultStatus(r) == PGRES_FATAL_ERROR;
    }
    return strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
           strcmp(st, "57P03") == 0;
}

/* A lost connection's answer to any call until it is made again. */
static int unavailable(ad_db_t *db)
{
    struct ad_db_pg *p = db->pg;
    if (p->msg[0] == '\0') {
        snprintf(p->msg, sizeof(p->msg), "the connection to PostgreSQL was lost");
    }
    return p->err = AD_DB_UNAVAIL;
}

static bool usable(ad_db_t *db)
{
    struct ad_db_pg *p = db->pg;
    if (!p->lost && (p->c == NULL || ad_pq.PQstatus(p->c) != CONNECTION_OK)) {
        p->lost = true;
        state_down("the connection to PostgreSQL was lost");
    }
    return !p->lost;
}

/* Records r's error (r may be NULL: the connection's) on db; its code. */
static int fail(ad_db_t *db, const PGresult *r)
{
    struct ad_db_pg *p = db->pg;
    const char *m = r != NULL ? ad_pq.PQresultErrorMessage(r) : "";
    if (m == NULL || *m == '\0') {
        m = p->c != NULL ? ad_pq.PQerrorMessage(p->c) : "";
    }
    snprintf(p->msg, sizeof(p->msg), "%s", m != NULL && *m != '\0' ? m : "?");
    p->msg[strcspn(p->msg, "\n")] = '\0';
    if (conn_gone(p->c, r)) {
        p->lost = true;
        ad_store_pg_scrub(p->msg, p->url);
        state_down(p->msg);
        p->err = AD_DB_UNAVAIL;
    } else {
        p->err = code_of(ad_pq.PQresultErrorField(r, PG_DIAG_SQLSTATE));
    }
    return p->err;
}

/* ---- connections ------------------------------------------------------------------ */

static void quiet(void *ud, const char *msg)
{
    AD_UNUSED(ud);
    AD_UNUSED(msg);
}

int ad_db_pg_open(const char *url, ad_db_t **out, char *err, size_t errsz)
{
    *out = NULL;
    PGconn *c = NULL;
    int e = ad_store_pg_connect(url, &c, err, errsz);
    if (e != 0) {
        return e;
    }
    ad_pq.PQsetNoticeProcessor(c, quiet, NULL);
    ad_db_t *db = ad_db_alloc(AD_DB_PG);
    db->pg = ad_xcalloc(1, sizeof(*db->pg));
    db->pg->c = c;
    db->pg->url = ad_xstrdup(url);
    state_up(false);
    *out = db;
    return 0;
}

bool ad_db_pg_lost(ad_db_t *db)
{
    return db->kind == AD_DB_PG && !usable(db);
}

int ad_db_pg_reconnect(ad_db_t *db)
{
    struct ad_db_pg *p = db->pg;
    PGconn *c = NULL;
    char err[512];
    int e = ad_store_pg_connect(p->url, &c, err, sizeof(err));
    if (e != 0) {
        state_down(err);
        return AD_EUNAVAIL;
    }
    ad_pq.PQsetNoticeProcessor(c, quiet, NULL);
    if (p->c != NULL) {
        ad_pq.PQfinish(p->c);
    }
    p->c = c;
    p->gen++;
    p->lost = false;
    p->lazy = false;
    p->msg[0] = '\0';
    p->err = 0;
    state_up(true);
    return 0;
}

int ad_db_pg_ping(ad_db_t *db, double *sec)
{
    if (!usable(db)) {
        return AD_EUNAVAIL;
    }
    uint64_t t0 = ad_mono_ns();
    PGresult *r = ad_pq.PQexec(db->pg->c, "SELECT 1");
    int rc = ad_pq.PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : fail(db, r);
    ad_pq.PQclear(r);
    if (rc != 0) {
        return rc == AD_DB_UNAVAIL ? AD_EUNAVAIL : AD_EIO;
    }
    *sec = (double)(ad_mono_ns() - t0) / 1e9;
    pthread_mutex_lock(&state_lock);
    state.rtt_sec = *sec;
    pthread_mutex_unlock(&state_lock);
    return 0;
}

/* ---- a COMMIT whose answer was lost ------------------------------------------------ */

/* Sends the transaction ad_db_pg_begin opened: BEGIN, and its id and pid. */
static int begin_now(ad_db_t *db)
{
    struct ad_db_pg *p = db->pg;
    p->lazy = false;
    PGresult *r = ad_pq.PQexec(p->c, "BEGIN; SELECT txid_current(), pg_backend_pid()");
    if (ad_pq.PQresultStatus(r) != PGRES_TUPLES_OK || ad_pq.PQntuples(r) != 1 ||
        ad_pq.PQnfields(r) != 2) {
        int rc = fail(db, r);
        ad_pq.PQclear(r);
        if (usable(db) && ad_pq.PQtransactionStatus(p->c) != PQTRANS_IDLE) {
            ad_pq.PQclear(ad_pq.PQexec(p->c, "ROLLBACK"));
        }
        return rc;
    }
    *p->lazy_xid = strtoll(ad_pq.PQgetvalue(r, 0, 0), NULL, 10);
    *p->lazy_pid = (int)strtol(ad_pq.PQgetvalue(r, 0, 1), NULL, 10);
    ad_pq.PQclear(r);
    return SQLITE_OK;
}

int ad_db_pg_begin(ad_db_t *db, int64_t *xid, int *pid)
{
    if (!usable(db)) {
        return unavailable(db);
    }
    *xid = 0;
    *pid = 0;
    db->pg->lazy = true;
    db->pg->lazy_xid = xid;
    db->pg->lazy_pid = pid;
    return SQLITE_DONE;
}

/* A statement on a connection whose transaction is not sent yet: the
 * transaction first, but for its end (nothing to commit or roll back).
 * SQLITE_OK to go on, SQLITE_DONE when the statement is answered, or an
 * error code. */
static int lazy_first(ad_db_t *db, const char *sql)
{
    if (strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0) {
        db->pg->lazy = false;
        return SQLITE_DONE;
    }
    return begin_now(db);
}

int ad_db_pg_xact_status(ad_db_t *db, int64_t xid, int *status)
{
    if (!usable(db)) {
        return unavailable(db);
    }
    char num[24];
    snprintf(num, sizeof(num), "%lld", (long long)xid);
    const char *vals[1] = {num};
    PGresult *r = ad_pq.PQexecParams(db->pg->c, "SELECT txid_status($1::bigint)", 1, NULL, vals,
                                     NULL, NULL, 0);
    if (ad_pq.PQresultStatus(r) != PGRES_TUPLES_OK || ad_pq.PQntuples(r) != 1) {
        int rc = fail(db, r);
        ad_pq.PQclear(r);
        return rc;
    }
    /* NULL: an id too old for the server to know (never the case minutes
     * after it was handed out); taken as not applied. */
    const char *v = ad_pq.PQgetisnull(r, 0, 0) ? "" : ad_pq.PQgetvalue(r, 0, 0);
    *status = strcmp(v, "committed") == 0     ? AD_DB_XACT_COMMITTED
              : strcmp(v, "in progress") == 0 ? AD_DB_XACT_RUNNING
                                              : AD_DB_XACT_ABORTED;
    ad_pq.PQclear(r);
    return SQLITE_OK;
}

int ad_db_pg_end_session(ad_db_t *db, int pid, int64_t xid)
{
    if (!usable(db)) {
        return unavailable(db);
    }
    char p[16], x[24];
    snprintf(p, sizeof(p), "%d", pid);
    snprintf(x, sizeof(x), "%lld", (long long)xid);
    const char *vals[2] = {p, x};
    /* backend_xid is the 32-bit id; txid_current() adds the epoch above it */
    PGresult *r = ad_pq.PQexecParams(db->pg->c,
                                     "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE pid = $1::int AND backend_xid::text = "
                                     "($2::bigint % 4294967296)::text",
                                     2, NULL, vals, NULL, NULL, 0);
    int rc = ad_pq.PQresultStatus(r) == PGRES_TUPLES_OK ? SQLITE_OK : fail(db, r);
    ad_pq.PQclear(r);
    return rc;
}

#ifdef AD_TEST_BUILD
static int lose_commit_mode; /* set by a test's thread, read by the writer's */

void ad_db_pg_test_lose_commit(int mode)
{
    __atomic_store_n(&lose_commit_mode, mode, __ATOMIC_SEQ_CST);
}

/* Whether s is the COMMIT to lose the answer of, at this point (1: after
 * the server applied it, 2: before it goes); disarms the hook. */
static bool lose_commit_now(const struct ad_db_pgstmt *p, int when)
{
    if (__atomic_load_n(&lose_commit_mode, __ATOMIC_SEQ_CST) != when ||
        strcmp(p->sql, "COMMIT") != 0) {
        return false;
    }
    __atomic_store_n(&lose_commit_mode, 0, __ATOMIC_SEQ_CST);
    return true;
}

/* The connection cut as a network would: the server sees it end. */
static int lose_connection(ad_db_t *db)
{
    shutdown(ad_pq.PQsocket(db->pg->c), SHUT_RDWR);
    db->pg->lost = true;
    snprintf(db->pg->msg, sizeof(db->pg->msg), "the connection was cut at a COMMIT (test hook)");
    state_down(db->pg->msg);
    return db->pg->err = AD_DB_UNAVAIL;
}
#endif

PGconn *ad_db_pg_conn(ad_db_t *db)
{
    return db->kind == AD_DB_PG ? db->pg->c : NULL;
}

void ad_db_pg_close(ad_db_t *db)
{
    if (db->pg != NULL) {
        if (db->pg->c != NULL) {
            ad_pq.PQfinish(db->pg->c);
        }
        free(db->pg->url);
        free(db->pg);
        db->pg = NULL;
    }
}

int ad_db_pg_exec(ad_db_t *db, const char *sql)
{
    if (!usable(db)) {
        return unavailable(db);
    }
    if (db->pg->lazy) {
        int rc = lazy_first(db, sql);
        if (rc != SQLITE_OK) {
            return rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
    }
    PGresult *r = ad_pq.PQexec(db->pg->c, sql);
    ExecStatusType st = ad_pq.PQresultStatus(r);
    int rc = SQLITE_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = fail(db, r);
    }
    ad_pq.PQclear(r);
    return rc;
}

int64_t ad_db_pg_changes(ad_db_t *db)
{
    return db->pg->changes;
}

int64_t ad_db_pg_last_insert_rowid(ad_db_t *db)
{
    AD_UNUSED(db);
    return 0; /* PostgreSQL has no rowid: the statement says RETURNING */
}

const char *ad_db_pg_errmsg(ad_db_t *db)
{
    return db->pg->msg[0] != '\0' ? db->pg->msg : "not an error";
}

int ad_db_pg_errcode(ad_db_t *db)
{
    return db->pg->err;
}

int ad_db_pg_autocommit(ad_db_t *db)
{
    /* A lost connection's transaction was rolled back by the server; one
     * begun and not sent yet is open. */
    return !usable(db) || (!db->pg->lazy && ad_pq.PQtransactionStatus(db->pg->c) == PQTRANS_IDLE);
}

/* ---- statements ------------------------------------------------------------------- */

int ad_db_pg_prepare(ad_db_t *db, const char *sql, int n, ad_db_stmt_t **out)
{
    *out = NULL;
    ad_buf_t b;
    ad_buf_init(&b, 1u << 20);
    int np = 0;
    int e = ad_store_pg_statement(sql, n < 0 ? strlen(sql) : (size_t)n, &b, &np);
    if (e != 0 || b.data == NULL) {
        snprintf(db->pg->msg, sizeof(db->pg->msg), "cannot translate the statement");
        ad_buf_cleanup(&b);
        return db->pg->err = SQLITE_ERROR;
    }
    ad_db_stmt_t *s = ad_xcalloc(1, sizeof(*s));
    struct ad_db_pgstmt *p = ad_xcalloc(1, sizeof(*p));
    s->kind = AD_DB_PG;
    s->db = db;
    s->pg = p;
    p->sql = ad_buf_detach(&b, NULL);
    p->nparams = np;
    const char *w = p->sql + strspn(p->sql, " \t\n");
    p->writes = strncasecmp(w, "INSERT", 6) == 0 || strncasecmp(w, "UPDATE", 6) == 0 ||
                strncasecmp(w, "DELETE", 6) == 0 || strncasecmp(w, "WITH", 4) == 0;
    p->params = ad_xcalloc((size_t)np + 1, sizeof(pg_param_t));
    *out = s;
    return SQLITE_OK;
}

/* Prepares p on db's server under its name, finding the types of the
 * parameters the server cannot (kept in p->types for a later connection):
 * SQLITE_OK, or the failure's code. */
static int server_prepare(ad_db_t *db, struct ad_db_pgstmt *p)
{
    if (!usable(db)) {
        return unavailable(db);
    }
    /* A parameter nothing types (`? IS NULL OR id = ?`, `? = ''`) is text,
     * as SQLite would take it; one typed two ways (a bigint column and
     * `? <> 0`) is bigint: the server names one at a time. Inside a
     * transaction a failed prepare would abort it: a savepoint keeps it. */
    bool in_tx = ad_pq.PQtransactionStatus(db->pg->c) == PQTRANS_INTRANS;
    Oid *types = p->types;
    int last = -1;
    int rc = SQLITE_OK;
    for (int tries = 0; tries <= 2 * p->nparams; tries++) {
        if (in_tx) {
            ad_pq.PQclear(ad_pq.PQexec(db->pg->c, "SAVEPOINT ad_prepare"));
        }
        PGresult *r = ad_pq.PQprepare(db->pg->c, p->name, p->sql, p->nparams, types);
        bool ok = ad_pq.PQresultStatus(r) == PGRES_COMMAND_OK;
        if (in_tx) {
            ad_pq.PQclear(
                ad_pq.PQexec(db->pg->c, ok ? "RELEASE ad_prepare" : "ROLLBACK TO ad_prepare"));
        }
        if (ok) {
            ad_pq.PQclear(r);
            p->gen = db->pg->gen;
            return SQLITE_OK;
        }
        if (conn_gone(db->pg->c, r)) {
            rc = fail(db, r);
            ad_pq.PQclear(r);
            return rc;
        }
        const char *st = ad_pq.PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char *m = ad_pq.PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        const char *d = m != NULL ? strstr(m, "data type of parameter $") : NULL;
        bool unknown = d != NULL;
        if (d == NULL && m != NULL) {
            d = strstr(m, "types deduced for parameter $");
            d = d != NULL ? d + 5 : NULL; /* the same length from here */
        }
        int k = d != NULL ? (int)strtol(d + 24, NULL, 10) : 0;
        bool typing = st != NULL && (strcmp(st, "42P18") == 0 || strcmp(st, "42P08") == 0);
        if (st != NULL && strcmp(st, "42804") == 0 && last >= 0) {
            /* the text guessed last meets a bigint (`col = ?1`, `json_object('at', ?1)`) */
            types[last] = PG_INT8;
            last = -1;
            ad_pq.PQclear(r);
            continue;
        }
        if (!typing || k < 1 || k > p->nparams || types[k - 1] != 0) {
            rc = fail(db, r);
            ad_pq.PQclear(r);
            break;
        }
        ad_pq.PQclear(r);
        types[k - 1] = unknown ? PG_TEXT : PG_INT8;
        last = unknown ? k - 1 : -1;
    }
    return rc == SQLITE_OK ? SQLITE_ERROR : rc;
}

/* Cached statements are prepared on the server (once per connection). */
int ad_db_pg_prepare_kept(ad_db_t *db, const char *sql, ad_db_stmt_t **out)
{
    int rc = ad_db_pg_prepare(db, sql, -1, out);
    if (rc != SQLITE_OK) {
        return rc;
    }
    struct ad_db_pgstmt *p = (*out)->pg;
    snprintf(p->name, sizeof(p->name), "a%u", ++db->pg->names);
    p->types = ad_xcalloc((size_t)p->nparams + 1, sizeof(Oid));
    rc = server_prepare(db, p);
    if (rc != SQLITE_OK) {
        ad_db_pg_finalize(*out);
        *out = NULL;
    }
    return rc;
}

static void drop_bytes(struct ad_db_pgstmt *p)
{
    for (int i = 0; p->bytes != NULL && i < p->ncols; i++) {
        free(p->bytes[i]);
        p->bytes[i] = NULL;
    }
}

static void drop_result(struct ad_db_pgstmt *p)
{
    drop_bytes(p);
    free(p->bytes);
    free(p->bytes_len);
    p->bytes = NULL;
    p->bytes_len = NULL;
    p->ncols = 0;
    if (p->res != NULL) {
        ad_pq.PQclear(p->res);
        p->res = NULL;
    }
    p->row = p->nrows = 0;
    p->ran = false;
}

static void drop_param(pg_param_t *q)
{
    if (q->owned) {
        free(q->val);
    }
    *q = (pg_param_t){0};
}

void ad_db_pg_finalize(ad_db_stmt_t *s)
{
    struct ad_db_pgstmt *p = s->pg;
    drop_result(p);
    for (int i = 0; i <= p->nparams; i++) {
        drop_param(&p->params[i]);
    }
    free(p->params);
    free(p->types);
    free(p->sql);
    free(p);
    free(s);
}

int ad_db_pg_bind(ad_db_stmt_t *s, int i, int type, int64_t iv, double dv, const void *v, int n,
                  void (*del)(void *))
{
    struct ad_db_pgstmt *p = s->pg;
    if (i < 1 || i > p->nparams) {
        if (del != SQLITE_STATIC && del != SQLITE_TRANSIENT && del != NULL) {
            del((void *)v);
        }
        return SQLITE_RANGE;
    }
    pg_param_t *q = &p->params[i];
    drop_param(q);
    switch (type) {
    case SQLITE_INTEGER:
        q->len = snprintf(q->num, sizeof(q->num), "%lld", (long long)iv);
        q->val = q->num;
        break;
    case SQLITE_FLOAT:
        if (isnan(dv)) {
            q->len = snprintf(q->num, sizeof(q->num), "NaN");
        } else if (isinf(dv)) {
            q->len = snprintf(q->num, sizeof(q->num), dv > 0 ? "Infinity" : "-Infinity");
        } else {
            q->len = snprintf(q->num, sizeof(q->num), "%.17g", dv);
        }
        q->val = q->num;
        break;
    case SQLITE_TEXT:
    case SQLITE_BLOB:
        if (v == NULL) {
            break;
        }
        if (n < 0) {
            n = (int)strlen(v);
        }
        q->val = ad_xmalloc((size_t)n + 1);
        memcpy(q->val, v, (size_t)n);
        q->val[n] = '\0';
        q->len = n;
        q->owned = true;
        q->fmt = type == SQLITE_BLOB;
        if (del != SQLITE_STATIC && del != SQLITE_TRANSIENT && del != NULL) {
            del((void *)v);
        }
        break;
    default:
        break;
    }
    return SQLITE_OK;
}

int ad_db_pg_bind_parameter_count(ad_db_stmt_t *s)
{
    return s->pg->nparams;
}

int ad_db_pg_clear_bindings(ad_db_stmt_t *s)
{
    struct ad_db_pgstmt *p = s->pg;
    for (int i = 0; i <= p->nparams; i++) {
        drop_param(&p->params[i]);
    }
    return SQLITE_OK;
}

int ad_db_pg_reset(ad_db_stmt_t *s)
{
    drop_result(s->pg);
    return SQLITE_OK;
}

/* Whether a text parameter is not UTF-8, which PostgreSQL refuses (22021)
 * where SQLite keeps the bytes. No row PostgreSQL holds has such text, so a
 * read, update or delete by it matches nothing, as SQLite's would (an id
 * of %ff in a URL is a 404, not a 500); an insert of it fails. */
static bool not_utf8(const struct ad_db_pgstmt *p)
{
    for (int i = 1; i <= p->nparams; i++) {
        const pg_param_t *q = &p->params[i];
        if (q->val != NULL && q->fmt == 0 && !ad_utf8_valid(q->val, (size_t)q->len)) {
            return true;
        }
    }
    return false;
}

static int run(ad_db_stmt_t *s)
{
    struct ad_db_pgstmt *p = s->pg;
    ad_db_t *db = s->db;
    if (!usable(db)) {
        p->ran = false;
        return unavailable(db);
    }
    if (p->name[0] != '\0' && p->gen != db->pg->gen) {
        int rc = server_prepare(db, p); /* the connection was made again */
        if (rc != SQLITE_OK) {
            return rc;
        }
    }
    if (not_utf8(p)) {
        const char *w = p->sql + strspn(p->sql, " \t\n");
        if (strncasecmp(w, "INSERT", 6) == 0 || strncasecmp(w, "WITH", 4) == 0) {
            snprintf(db->pg->msg, sizeof(db->pg->msg), "a text value is not UTF-8");
            return db->pg->err = SQLITE_MISMATCH;
        }
        p->ran = true;
        p->nrows = 0;
        p->row = -1;
        if (p->writes) {
            db->pg->changes = 0;
        }
        return SQLITE_OK;
    }
    if (db->pg->lazy) {
        int rc = lazy_first(db, p->sql);
        if (rc == SQLITE_DONE) {
            p->ran = true;
            p->nrows = 0;
            p->row = -1;
            return SQLITE_OK;
        }
        if (rc != SQLITE_OK) {
            return rc;
        }
    }
#ifdef AD_TEST_BUILD
    if (lose_commit_now(p, 2)) {
        return lose_connection(db);
    }
#endif
    const char *vals[1000];
    int lens[1000], fmts[1000];
    int np = p->nparams < 1000 ? p->nparams : 999;
    for (int i = 0; i < np; i++) {
        pg_param_t *q = &p->params[i + 1];
        vals[i] = q->val;
        lens[i] = q->len;
        fmts[i] = q->fmt;
    }
    PGresult *r = p->name[0] != '\0'
                      ? ad_pq.PQexecPrepared(db->pg->c, p->name, np, vals, lens, fmts, 0)
                      : ad_pq.PQexecParams(db->pg->c, p->sql, np, NULL, vals, lens, fmts, 0);
    ExecStatusType st = ad_pq.PQresultStatus(r);
    p->ran = true;
    if (st == PGRES_TUPLES_OK) {
        p->res = r;
        p->nrows = ad_pq.PQntuples(r);
        p->ncols = ad_pq.PQnfields(r);
        p->bytes = ad_xcalloc((size_t)p->ncols + 1, sizeof(*p->bytes));
        p->bytes_len = ad_xcalloc((size_t)p->ncols + 1, sizeof(int));
        p->row = -1;
        if (p->writes) { /* RETURNING: a SELECT leaves the last change's count */
            const char *ct = ad_pq.PQcmdTuples(r);
            db->pg->changes = ct != NULL && *ct != '\0' ? strtoll(ct, NULL, 10) : 0;
        }
        return SQLITE_OK;
    }
    if (st == PGRES_COMMAND_OK) {
        p->nrows = 0;
        p->row = -1;
#ifdef AD_TEST_BUILD
        if (lose_commit_now(p, 1)) {
            ad_pq.PQclear(r);
            return lose_connection(db);
        }
#endif
        if (!p->writes) { /* BEGIN, SAVEPOINT...: the last change's count stays */
            ad_pq.PQclear(r);
            return SQLITE_OK;
        }
        const char *ct = ad_pq.PQcmdTuples(r);
        db->pg->changes = ct != NULL && *ct != '\0' ? strtoll(ct, NULL, 10) : 0;
        ad_pq.PQclear(r);
        p->nrows = 0;
        p->row = -1;
        return SQLITE_OK;
    }
    int rc = fail(db, r);
    ad_pq.PQclear(r);
    return rc;
}

int ad_db_pg_step(ad_db_stmt_t *s)
{
    struct ad_db_pgstmt *p = s->pg;
    if (!p->ran) {
        int rc = run(s);
        if (rc != SQLITE_OK) {
            return rc;
        }
    }
    drop_bytes(p);
    if (p->row + 1 < p->nrows) {
        p->row++;
        return SQLITE_ROW;
    }
    p->row = p->nrows;
    return SQLITE_DONE;
}

/* ---- columns ------------------------------------------------------------------------ */

static bool has(struct ad_db_pgstmt *p, int i)
{
    return p->res != NULL && p->row >= 0 && p->row < p->nrows && i >= 0 && i < p->ncols;
}

int ad_db_pg_column_count(ad_db_stmt_t *s)
{
    struct ad_db_pgstmt *p = s->pg;
    return p->res != NULL ? p->ncols : 0;
}

const char *ad_db_pg_column_name(ad_db_stmt_t *s, int i)
{
    struct ad_db_pgstmt *p = s->pg;
    return p->res != NULL && i >= 0 && i < p->ncols ? ad_pq.PQfname(p->res, i) : NULL;
}

/* Whether a numeric's text is a whole number: SUM over integers is numeric
 * in PostgreSQL and an integer in SQLite, which the callers expect. */
static bool numeric_whole(const char *v)
{
    v += *v == '-';
    size_t n = strlen(v);
    return n > 0 && n <= 18 && strspn(v, "0123456789") == n;
}

int ad_db_pg_column_type(ad_db_stmt_t *s, int i)
{
    struct ad_db_pgstmt *p = s->pg;
    if (!has(p, i) || ad_pq.PQgetisnull(p->res, p->row, i)) {
        return SQLITE_NULL;
    }
    switch (ad_pq.PQftype(p->res, i)) {
    case PG_BOOL:
    case PG_INT2:
    case PG_INT4:
    case PG_INT8:
    case PG_OID:
        return SQLITE_INTEGER;
    case PG_NUMERIC:
        return numeric_whole(ad_pq.PQgetvalue(p->res, p->row, i)) ? SQLITE_INTEGER : SQLITE_FLOAT;
    case PG_FLOAT4:
    case PG_FLOAT8:
        return SQLITE_FLOAT;
    case PG_BYTEA:
        return SQLITE_BLOB;
    default:
        return SQLITE_TEXT;
    }
}

/* The raw text of column i, or NULL. */
static const char *raw(struct ad_db_pgstmt *p, int i)
{
    if (!has(p, i) || ad_pq.PQgetisnull(p->res, p->row, i)) {
        return NULL;
    }
    return ad_pq.PQgetvalue(p->res, p->row, i);
}

int64_t ad_db_pg_column_int64(ad_db_stmt_t *s, int i)
{
    struct ad_db_pgstmt *p = s->pg;
    const char *v = raw(p, i);
    if (v == NULL) {
        return 0;
    }
    Oid t = ad_pq.PQftype(p->res, i);
    if (t == PG_BOOL) {
        return v[0] == 't';
    }
    if (t == PG_FLOAT4 || t == PG_FLOAT8 || t == PG_NUMERIC) {
        double d = strtod(v, NULL);
        return isfinite(d) ? (int64_t)d : 0;
    }
    return strtoll(v, NULL, 10);
}

double ad_db_pg_column_double(ad_db_stmt_t *s, int i)
{
    struct ad_db_pgstmt *p = s->pg;
    const char *v = raw(p, i);
    if (v == NULL) {
        return 0;
    }
    if (ad_pq.PQftype(p->res, i) == PG_BOOL) {
        return v[0] == 't';
    }
    return strtod(v, NULL);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Column i's bytea, decoded from its hex text once per row. */
static const unsigned char *bytea(struct ad_db_pgstmt *p, int i, int *len)
{
    if (p->bytes[i] != NULL) {
        *len = p->bytes_len[i];
        return p->bytes[i];
    }
    const char *v = ad_pq.PQgetvalue(p->res, p->row, i);
    size_t n = (size_t)ad_pq.PQgetlength(p->res, p->row, i);
    unsigned char *out = ad_xmalloc(n / 2 + 1);
    size_t o = 0;
    if (n >= 2 && v[0] == '\\' && v[1] == 'x') {
        for (size_t k = 2; k + 1 < n; k += 2) {
            int h = hexval(v[k]), l = hexval(v[k + 1]);
            if (h < 0 || l < 0) {
                break;
            }
            out[o++] = (unsigned char)(h << 4 | l);
        }
    }
    out[o] = '\0';
    p->bytes[i] = out;
    p->bytes_len[i] = (int)o;
    *len = (int)o;
    return out;
}

const unsigned char *ad_db_pg_column_text(ad_db_stmt_t *s, int i)
{
    struct ad_db_pgstmt *p = s->pg;
    const char *v = raw(p, i);
    if (v == NULL) {
        return NULL;
    }
    Oid t = ad_pq.PQftype(p->res, i);
    if (t == PG_BOOL) {
        return (const unsigned char *)(v[0] == 't' ? "1" : "0");
    }
    if (t == PG_BYTEA) {
        int len;
        return bytea(p, i, &len);
    }
    return (const unsigned char *)v;
}

const void *ad_db_pg_column_blob(ad_db_stmt_t *s, int i)
{
    struct ad_db_pgstmt *p = s->pg;
    if (raw(p, i) == NULL) {
        return NULL;
    }
    if (ad_pq.PQftype(p->res, i) == PG_BYTEA) {
        int len;
        return bytea(p, i, &len);
    }
    return ad_db_pg_column_text(s, i);
}

int ad_db_pg_column_bytes(ad_db_stmt_t *s, int i)
{
    struct ad_db_pgstmt *p = s->pg;
    if (raw(p, i) == NULL) {
        return 0;
    }
    Oid t = ad_pq.PQftype(p->res, i);
    if (t == PG_BYTEA) {
        int len;
        bytea(p, i, &len);
        return len;
    }
    if (t == PG_BOOL) {
        return 1;
    }
    return ad_pq.PQgetlength(p->res, p->row, i);
}
