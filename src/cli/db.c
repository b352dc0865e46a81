/* SPDX-License-Identifier: MIT */
/*
 * agentd db migrate|copy: a PostgreSQL database prepared for the control
 * plane (issue #39's first slice). agentd db check|repair: the SQLite
 * database's pages read through, and its readable rows copied into a new
 * one (issue #78). Flags and printing only: the work is the store's
 * (ad_store_pg_*, src/store/pg.c; ad_store_sqlite_*, src/store/dbcheck.c,
 * repair.c). Runs without a daemon.
 */
#include "cli/cli_int.h"
#include "store/dbcheck.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A bad URL is a usage error (2); everything else failed (1). */
static int failed(ad_cli_t *c, int e, const char *err)
{
    ad_cli_fail(c, err);
    return e == AD_EINVAL ? 2 : 1;
}

/* The URL: the flag's, else --database / AGENTD_DATABASE_URL. */
static const char *url_of(ad_cli_t *c, const char *flag)
{
    if (flag != NULL) {
        return flag;
    }
    return c->cfg->database_url[0] != '\0' ? c->cfg->database_url : NULL;
}

static int db_migrate(ad_cli_t *c, int argc, char **argv)
{
    const char *url = NULL;
    ad_cli_flag_t flags[] = {{"--database", true, &url, NULL}};
    int npos = 0;
    int rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), NULL, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    url = url_of(c, url);
    if (url == NULL) {
        return ad_cli_usage(c, "no database: give --database postgres://... or set "
                               "AGENTD_DATABASE_URL");
    }
    ad_store_pg_migrated_t m;
    char err[1024] = "";
    int e = ad_store_pg_migrate(url, &m, err, sizeof(err));
    if (e != 0) {
        return failed(c, e, err);
    }
    if (m.applied == 0) {
        printf("nothing to apply: all %d migrations are recorded\n", m.known);
    } else {
        printf("applied %d of %d migrations\n", m.applied, m.known);
    }
    return 0;
}

typedef struct {
    int tables;
    int64_t rows;
    int differ;
} totals_t;

static void on_count(const char *table, int64_t from, int64_t to, void *ud)
{
    totals_t *t = ud;
    if (t->tables++ == 0) {
        printf("%-28s %12s %12s\n", "TABLE", "SQLITE", "POSTGRES");
    }
    t->rows += from;
    t->differ += from != to;
    printf("%-28s %12" PRId64 " %12" PRId64 "%s\n", table, from, to, from != to ? "  DIFFERS" : "");
}

static int db_copy(ad_cli_t *c, int argc, char **argv)
{
    const char *from = NULL, *to = NULL;
    ad_cli_flag_t flags[] = {{"--from", true, &from, NULL}, {"--to", true, &to, NULL}};
    int npos = 0;
    int rc = ad_cli_parse(c, argc, argv, flags, AD_ARRAY_LEN(flags), NULL, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    to = url_of(c, to);
    if (to == NULL) {
        return ad_cli_usage(c, "no target: give --to postgres://... or set AGENTD_DATABASE_URL");
    }
    if (from == NULL) {
        from = c->cfg->data_dir;
    } else if (strncmp(from, "sqlite:", 7) == 0) {
        from += 7;
    } else if (strstr(from, "://") != NULL) {
        return ad_cli_usage(c, "--from takes sqlite:PATH (an agentd SQLite database)");
    }
    if (from[0] == '\0') {
        return ad_cli_usage(c, "--from sqlite:PATH needs a path");
    }
    totals_t t = {0};
    char err[1024] = "";
    int e = ad_store_pg_copy(from, to, on_count, &t, err, sizeof(err));
    if (e != 0) {
        return failed(c, e, err);
    }
    printf("copied %" PRId64 " rows in %d tables: every count matches\n", t.rows, t.tables);
    return 0;
}

static void on_checked(const char *table, const char *problem, void *ud)
{
    AD_UNUSED(ud);
    printf("%-28s %s\n", table, problem != NULL ? problem : "ok");
}

/* Exit 0: every table reads whole; 1: damage (or the file cannot be
 * read); 2: usage. */
static int db_check(ad_cli_t *c, int argc, char **argv)
{
    int npos = 0;
    int rc = ad_cli_parse(c, argc, argv, NULL, 0, NULL, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    if (c->cfg->database_url[0] != '\0') {
        return ad_cli_usage(c, "agentd db check reads the SQLite database of a data dir; on "
                               "PostgreSQL the server checks its own pages");
    }
    char path[4200];
    snprintf(path, sizeof(path), "%s/agentd.db", c->cfg->data_dir);
    int damaged = 0;
    char err[1024] = "";
    int e = ad_store_sqlite_check(path, on_checked, NULL, &damaged, err, sizeof(err));
    if (e != 0) {
        return failed(c, e, err);
    }
    if (damaged > 0) {
        printf("%d table%s damaged in %s: stop agentd and run `agentd db repair` (it keeps "
               "every readable row), or restore the data dir from a backup\n",
               damaged, damaged > 1 ? "s" : "", path);
        return 1;
    }
    printf("every page of %s reads whole\n", path);
    return 0;
}

typedef struct {
    int64_t copied, lost;
    bool unknown;
} repaired_t;

static void on_repaired(const char *table, int64_t copied, int64_t lost, const char *skipped,
                        void *ud)
{
    repaired_t *t = ud;
    t->copied += copied;
    if (lost < 0) {
        t->unknown = true;
        printf("%-28s %10" PRId64 " copied, lost: unknown (%s)\n", table, copied, skipped);
    } else {
        t->lost += lost;
        printf("%-28s %10" PRId64 " copied, %" PRId64 " lost%s%s%s\n", table, copied, lost,
               skipped[0] != '\0' ? " (" : "", skipped, skipped[0] != '\0' ? ")" : "");
    }
}

static int db_repair(ad_cli_t *c, int argc, char **argv)
{
    int npos = 0;
    int rc = ad_cli_parse(c, argc, argv, NULL, 0, NULL, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    if (c->cfg->database_url[0] != '\0') {
        return ad_cli_usage(c, "agentd db repair copies a data dir's SQLite database; on "
                               "PostgreSQL restore from the server's backups");
    }
    repaired_t t = {0};
    char kept[4400] = "", err[1024] = "";
    int e = ad_store_sqlite_repair(c->cfg->data_dir, on_repaired, &t, kept, sizeof(kept), err,
                                   sizeof(err));
    if (e != 0) {
        return failed(c, e, err);
    }
    if (t.unknown) {
        printf("repaired: %" PRId64 " rows copied, %" PRId64 " known lost and more in tables "
               "whose count could not be read; the damaged file is kept as %s\n",
               t.copied, t.lost, kept);
    } else {
        printf("repaired: %" PRId64 " rows copied, %" PRId64 " lost; the damaged file is kept "
               "as %s\n",
               t.copied, t.lost, kept);
    }
    return 0;
}

/* After the file was written by another program on purpose. */
static int db_resum(ad_cli_t *c, int argc, char **argv)
{
    int npos = 0;
    int rc = ad_cli_parse(c, argc, argv, NULL, 0, NULL, 0, &npos);
    if (rc != 0) {
        return rc;
    }
    char err[1024] = "";
    int e = ad_store_sqlite_resum(c->cfg->data_dir, err, sizeof(err));
    if (e != 0) {
        return failed(c, e, err);
    }
    printf("every page of %s/agentd.db carries its checksum again\n", c->cfg->data_dir);
    return 0;
}

int ad_cli_db(ad_cli_t *c, int argc, char **argv)
{
    static const ad_cli_sub_t subs[] = {{"migrate", db_migrate},
                                        {"copy", db_copy},
                                        {"check", db_check},
                                        {"repair", db_repair},
                                        {"resum", db_resum}};
    return ad_cli_subcommand(c, "db", subs, AD_ARRAY_LEN(subs), NULL,
                             "usage: agentd db migrate|copy|check|repair|resum ...", argc, argv);
}
