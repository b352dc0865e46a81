/* SPDX-License-Identifier: MIT */
/*
 * Private to src/store: libpq's functions as pg.c loads them (dlopen on
 * first use, kept for the process's life), for pg.c (`agentd db`) and
 * db_pg.c (the statement layer's PostgreSQL side).
 */
#ifndef AD_STORE_PQ_H
#define AD_STORE_PQ_H

#include <libpq-fe.h>
#include <stddef.h>

#include "store/store.h"

#define PQ_FUNCS(X)                                                                                \
    X(PQclear)                                                                                     \
    X(PQcmdTuples)                                                                                 \
    X(PQconnectdbParams)                                                                           \
    X(PQconnectionNeedsPassword)                                                                   \
    X(PQconsumeInput)                                                                              \
    X(PQconninfoFree)                                                                              \
    X(PQconninfoParse)                                                                             \
    X(PQerrorMessage)                                                                              \
    X(PQescapeIdentifier)                                                                          \
    X(PQexec)                                                                                      \
    X(PQexecParams)                                                                                \
    X(PQexecPrepared)                                                                              \
    X(PQfinish)                                                                                    \
    X(PQfname)                                                                                     \
    X(PQfreemem)                                                                                   \
    X(PQftype)                                                                                     \
    X(PQgetisnull)                                                                                 \
    X(PQgetlength)                                                                                 \
    X(PQgetResult)                                                                                 \
    X(PQgetvalue)                                                                                  \
    X(PQnfields)                                                                                   \
    X(PQntuples)                                                                                   \
    X(PQprepare)                                                                                   \
    X(PQputCopyData)                                                                               \
    X(PQputCopyEnd)                                                                                \
    X(PQresultErrorField)                                                                          \
    X(PQresultErrorMessage)                                                                        \
    X(PQresultStatus)                                                                              \
    X(PQsetNoticeProcessor)                                                                        \
    X(PQsocket)                                                                                    \
    X(PQstatus)                                                                                    \
    X(PQtransactionStatus)

struct ad_pq {
#define PQ_MEMBER(f) __typeof__(f) *f;
    PQ_FUNCS(PQ_MEMBER)
#undef PQ_MEMBER
};
/* Resolved by ad_store_pq_load() (pg.c); call that first. */
extern struct ad_pq ad_pq;
int ad_store_pq_load(char *err, size_t errsz);
/* Connects to url (postgres://...): 0, or an AD_E* code with a message in
 * err that never holds the URL's password (pg.c). */
int ad_store_pg_connect(const char *url, PGconn **out, char *err, size_t errsz);
/* Applies the migrations not yet applied, in one transaction under the
 * advisory lock (pg.c). */
int ad_store_pg_migrate_conn(PGconn *c, ad_store_pg_migrated_t *res, char *err, size_t errsz);
/* Blanks url's password out of err (pg.c). */
void ad_store_pg_scrub(char *err, const char *url);

#endif
