/* SPDX-License-Identifier: MIT */
/*
 * The statement layer's PostgreSQL statements (db_pg.c has connections and
 * errors): a cached statement translated once (pgsql.c) and PQprepare'd
 * once per connection (again after a reconnect, from its kept text), an
 * uncached one run with PQexecParams; text parameters, binary blobs;
 * results read row by row, booleans as 0 and 1, bytea as bytes.
 */
#include "store/db_pg_int.h"
#include "store/pq.h"
#include "store/store_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

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
    if (!ad_db_pg_usable(db)) {
        return ad_db_pg_unavailable(db);
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
        if (ad_db_pg_conn_gone(db->pg->c, r)) {
            rc = ad_db_pg_fail(db, r);
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
            rc = ad_db_pg_fail(db, r);
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
    if (!ad_db_pg_usable(db)) {
        p->ran = false;
        return ad_db_pg_unavailable(db);
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
        int rc = ad_db_pg_lazy_first(db, p->sql);
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
    if (ad_db_pg_lose_commit_now(p, 2)) {
        return ad_db_pg_lose_connection(db);
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
        if (ad_db_pg_lose_commit_now(p, 1)) {
            ad_pq.PQclear(r);
            return ad_db_pg_lose_connection(db);
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
    int rc = ad_db_pg_fail(db, r);
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
