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
#include "store/db_pg_int.h"
#include "store/pq.h"
#include "store/store_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <poll.h>
#include <sys/socket.h>

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
static uint64_t recoveries; /* under state_lock: times the state went up again */

static uint64_t state_recoveries(void)
{
    pthread_mutex_lock(&state_lock);
    uint64_t n = recoveries;
    pthread_mutex_unlock(&state_lock);
    return n;
}

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
        recoveries++;
        ad_log(AD_LOG_INFO, "store", "PostgreSQL reachable again after %lld ms",
               (long long)(ad_wall_ms() - state.down_since_ms));
    }
    state.down = false;
    state.down_since_ms = 0;
    state.reconnects += reconnected;
    pthread_mutex_unlock(&state_lock);
}

/* p lost its connection: the database is down, unless p's connection was
 * made before the server was last seen back (a leftover of that outage,
 * idle since: its failure says nothing of the server now, and reads must
 * not answer 503 because of it). */
static void conn_lost(struct ad_db_pg *p, const char *why)
{
    p->lost = true;
    if (p->since == state_recoveries()) {
        state_down(why);
    }
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
bool ad_db_pg_conn_gone(PGconn *c, const PGresult *r)
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
int ad_db_pg_unavailable(ad_db_t *db)
{
    struct ad_db_pg *p = db->pg;
    if (p->msg[0] == '\0') {
        snprintf(p->msg, sizeof(p->msg), "the connection to PostgreSQL was lost");
    }
    return p->err = AD_DB_UNAVAIL;
}

bool ad_db_pg_usable(ad_db_t *db)
{
    struct ad_db_pg *p = db->pg;
    if (!p->lost && (p->c == NULL || ad_pq.PQstatus(p->c) != CONNECTION_OK)) {
        conn_lost(p, "the connection to PostgreSQL was lost");
    }
    return !p->lost;
}

/* Records r's error (r may be NULL: the connection's) on db; its code. */
int ad_db_pg_fail(ad_db_t *db, const PGresult *r)
{
    struct ad_db_pg *p = db->pg;
    const char *m = r != NULL ? ad_pq.PQresultErrorMessage(r) : "";
    if (m == NULL || *m == '\0') {
        m = p->c != NULL ? ad_pq.PQerrorMessage(p->c) : "";
    }
    snprintf(p->msg, sizeof(p->msg), "%s", m != NULL && *m != '\0' ? m : "?");
    p->msg[strcspn(p->msg, "\n")] = '\0';
    if (ad_db_pg_conn_gone(p->c, r)) {
        ad_store_pg_scrub(p->msg, p->url);
        conn_lost(p, p->msg);
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

/* A session of the daemon's. Its transactions are the writer's, sent back
 * to back; one left open (its plane frozen by SIGSTOP or a paused VM) kept
 * its row locks for as long as the session lived, and another plane's
 * takeover of a lapsed run lease waited behind them, with everything that
 * plane wrote. The server ends such a session after 6 s, a run lease
 * (AD_PLANES_LEASE_MS, src/cluster); the frozen plane reconnects when it
 * wakes and runs its group again, as after any lost connection. */
static const char idle_tx[] = "SET idle_in_transaction_session_timeout = 6000";

static int session(const char *url, PGconn **out, char *err, size_t errsz)
{
    int e = ad_store_pg_connect(url, out, err, errsz);
    if (e == 0) {
        ad_pq.PQsetNoticeProcessor(*out, quiet, NULL);
        PGresult *r = ad_pq.PQexec(*out, idle_tx);
        if (ad_pq.PQresultStatus(r) != PGRES_COMMAND_OK) {
            ad_log(AD_LOG_WARN, "store", "cannot bound idle transactions: %s",
                   ad_pq.PQerrorMessage(*out));
        }
        ad_pq.PQclear(r);
    }
    return e;
}

int ad_db_pg_open(const char *url, ad_db_t **out, char *err, size_t errsz)
{
    *out = NULL;
    PGconn *c = NULL;
    int e = session(url, &c, err, errsz);
    if (e != 0) {
        return e;
    }
    ad_db_t *db = ad_db_alloc(AD_DB_PG);
    db->pg = ad_xcalloc(1, sizeof(*db->pg));
    db->pg->c = c;
    db->pg->url = ad_xstrdup(url);
    state_up(false);
    db->pg->since = state_recoveries();
    *out = db;
    return 0;
}

bool ad_db_pg_stale(ad_db_t *db)
{
    if (db == NULL || db->kind != AD_DB_PG) {
        return false;
    }
    struct ad_db_pg *p = db->pg;
    if (p->lost || p->c == NULL) {
        return true;
    }
    /* An idle connection has nothing to read: readable means the server
     * closed it (EOF) or sent its last word (57P01 and an EOF). */
    struct pollfd pfd = {.fd = ad_pq.PQsocket(p->c), .events = POLLIN};
    if (pfd.fd < 0 || poll(&pfd, 1, 0) <= 0) {
        return pfd.fd < 0;
    }
    return ad_pq.PQconsumeInput(p->c) == 0 || ad_pq.PQstatus(p->c) != CONNECTION_OK;
}

bool ad_db_pg_lost(ad_db_t *db)
{
    return db->kind == AD_DB_PG && !ad_db_pg_usable(db);
}

int ad_db_pg_reconnect(ad_db_t *db)
{
    struct ad_db_pg *p = db->pg;
    PGconn *c = NULL;
    char err[512];
    int e = session(p->url, &c, err, sizeof(err));
    if (e != 0) {
        state_down(err);
        return AD_EUNAVAIL;
    }
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
    p->since = state_recoveries();
    return 0;
}

int ad_db_pg_ping(ad_db_t *db, double *sec)
{
    if (!ad_db_pg_usable(db)) {
        return AD_EUNAVAIL;
    }
    uint64_t t0 = ad_mono_ns();
    PGresult *r = ad_pq.PQexec(db->pg->c, "SELECT 1");
    int rc = ad_pq.PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : ad_db_pg_fail(db, r);
    ad_pq.PQclear(r);
    if (rc != 0) {
        return rc == AD_DB_UNAVAIL ? AD_EUNAVAIL : AD_EIO;
    }
    *sec = (double)(ad_mono_ns() - t0) / 1e9;
    pthread_mutex_lock(&state_lock);
    state.rtt_sec = *sec;
    pthread_mutex_unlock(&state_lock);
    /* The server answers: up, even when the state went down after the
     * writer had reconnected (an idle reader's stale connection failing
     * after an outage said "down" again, and with the writer's own one fine
     * nothing said "up": every read answered 503 until the next outage) */
    state_up(false);
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
        int rc = ad_db_pg_fail(db, r);
        ad_pq.PQclear(r);
        if (ad_db_pg_usable(db) && ad_pq.PQtransactionStatus(p->c) != PQTRANS_IDLE) {
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
    if (!ad_db_pg_usable(db)) {
        return ad_db_pg_unavailable(db);
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
int ad_db_pg_lazy_first(ad_db_t *db, const char *sql)
{
    if (strcmp(sql, "COMMIT") == 0 || strcmp(sql, "ROLLBACK") == 0) {
        db->pg->lazy = false;
        return SQLITE_DONE;
    }
    return begin_now(db);
}

int ad_db_pg_xact_status(ad_db_t *db, int64_t xid, int *status)
{
    if (!ad_db_pg_usable(db)) {
        return ad_db_pg_unavailable(db);
    }
    char num[24];
    snprintf(num, sizeof(num), "%lld", (long long)xid);
    const char *vals[1] = {num};
    PGresult *r = ad_pq.PQexecParams(db->pg->c, "SELECT txid_status($1::bigint)", 1, NULL, vals,
                                     NULL, NULL, 0);
    if (ad_pq.PQresultStatus(r) != PGRES_TUPLES_OK || ad_pq.PQntuples(r) != 1) {
        int rc = ad_db_pg_fail(db, r);
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
    if (!ad_db_pg_usable(db)) {
        return ad_db_pg_unavailable(db);
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
    int rc = ad_pq.PQresultStatus(r) == PGRES_TUPLES_OK ? SQLITE_OK : ad_db_pg_fail(db, r);
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
bool ad_db_pg_lose_commit_now(const struct ad_db_pgstmt *p, int when)
{
    if (__atomic_load_n(&lose_commit_mode, __ATOMIC_SEQ_CST) != when ||
        strcmp(p->sql, "COMMIT") != 0) {
        return false;
    }
    __atomic_store_n(&lose_commit_mode, 0, __ATOMIC_SEQ_CST);
    return true;
}

/* The connection cut as a network would: the server sees it end. */
int ad_db_pg_lose_connection(ad_db_t *db)
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
    if (!ad_db_pg_usable(db)) {
        return ad_db_pg_unavailable(db);
    }
    if (db->pg->lazy) {
        int rc = ad_db_pg_lazy_first(db, sql);
        if (rc != SQLITE_OK) {
            return rc == SQLITE_DONE ? SQLITE_OK : rc;
        }
    }
    PGresult *r = ad_pq.PQexec(db->pg->c, sql);
    ExecStatusType st = ad_pq.PQresultStatus(r);
    int rc = SQLITE_OK;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = ad_db_pg_fail(db, r);
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
    return !ad_db_pg_usable(db) ||
           (!db->pg->lazy && ad_pq.PQtransactionStatus(db->pg->c) == PQTRANS_IDLE);
}
