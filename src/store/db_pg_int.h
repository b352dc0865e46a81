/* SPDX-License-Identifier: MIT */
/*
 * Private to the statement layer's PostgreSQL side (db_pg.c: errors, the
 * process's database state, connections, transactions; db_pgstmt.c:
 * statements and columns): a connection's and a statement's state, and the
 * error paths they share.
 */
#ifndef AD_STORE_DB_PG_INT_H
#define AD_STORE_DB_PG_INT_H

#include "store/pq.h"
#include "store/store_int.h"

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
    uint64_t since; /* the process's recoveries when it connected (conn_lost) */
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

/* Whether r's failure (r may be NULL) means the connection is gone. */
bool ad_db_pg_conn_gone(PGconn *c, const PGresult *r);
/* A lost connection's answer to any call until it is made again. */
int ad_db_pg_unavailable(ad_db_t *db);
/* Whether db's connection is up (marking it lost when libpq says not). */
bool ad_db_pg_usable(ad_db_t *db);
/* Records r's error (r may be NULL: the connection's) on db; its code. */
int ad_db_pg_fail(ad_db_t *db, const PGresult *r);
/* A statement on a connection whose transaction is not sent yet: the
 * transaction first, but for its end. SQLITE_OK to go on, SQLITE_DONE when
 * the statement is answered, or an error code. */
int ad_db_pg_lazy_first(ad_db_t *db, const char *sql);
#ifdef AD_TEST_BUILD
/* The test hook's COMMIT to lose (ad_db_pg_test_lose_commit), and the cut. */
bool ad_db_pg_lose_commit_now(const struct ad_db_pgstmt *p, int when);
int ad_db_pg_lose_connection(ad_db_t *db);
#endif

#endif
