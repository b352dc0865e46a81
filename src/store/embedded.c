/* SPDX-License-Identifier: MIT */
/*
 * The embedded SQL, kept gzipped (scripts/migrations.mk), inflated when a
 * database needs it: none on a start on a database already migrated.
 */
#include "store/store_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generated: the migrations' texts in list order, a NUL after each, and the
 * schema they make (tools/schema.c), gzipped. */
extern const unsigned char ad_migrations_gz[], ad_schema_gz[];
extern const size_t ad_migrations_gzlen, ad_migrations_len, ad_schema_gzlen, ad_schema_len;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char **text_of; /* ad_migrations[k]'s text: all in one buffer, text_of[0] */

static void inflate_migrations(void)
{
    char *buf = ad_gunzip_text(ad_migrations_gz, ad_migrations_gzlen, ad_migrations_len);
    const char **at = calloc(ad_migrations_count + 1, sizeof(*at));
    size_t off = 0, k = 0;
    for (; buf != NULL && at != NULL && k < ad_migrations_count && off < ad_migrations_len; k++) {
        at[k] = buf + off;
        off += strlen(buf + off) + 1;
    }
    if (buf == NULL || at == NULL || k < ad_migrations_count) {
        free(buf); /* a build out of step, or no zlib or memory: no text */
        free(at);
        return;
    }
    text_of = at;
}

const char *ad_store_migration_sql(const ad_migration_t *m, char *err, size_t errsz)
{
    size_t k = 0;
    while (m->sql == NULL && k < ad_migrations_count && ad_migrations[k].version != m->version) {
        k++;
    }
    const char *sql = m->sql;
    if (sql == NULL && k < ad_migrations_count && pthread_once(&once, inflate_migrations) == 0 &&
        text_of != NULL) {
        sql = text_of[k];
    }
    if (sql == NULL) {
        snprintf(err, errsz, "this binary's %s cannot be read (no libz.so.1, or no memory)",
                 m->name);
    }
    return sql;
}

int ad_store_migration_sum(const ad_migration_t *m, char out[65], char *err, size_t errsz)
{
    if (m->sum != NULL) {
        snprintf(out, 65, "%s", m->sum);
        return 0;
    }
    const char *sql = ad_store_migration_sql(m, err, errsz);
    out[0] = '\0';
    if (sql != NULL) {
        ad_store_checksum(sql, out);
    }
    return sql != NULL ? 0 : AD_ENOMEM;
}

char *ad_store_schema_sql(char *err, size_t errsz)
{
    char *sql = ad_gunzip_text(ad_schema_gz, ad_schema_gzlen, ad_schema_len);
    if (sql == NULL) {
        snprintf(err, errsz, "this binary's schema cannot be read (no libz.so.1, or no memory)");
    }
    return sql;
}
