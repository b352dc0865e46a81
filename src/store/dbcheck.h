/* SPDX-License-Identifier: MIT */
/*
 * The SQLite database's pages checked (issue #78): what the store found
 * damaged (for /api/health and each refused request), and `agentd db
 * check` and `agentd db repair` on a stopped daemon's data dir. The page
 * checksums themselves are cksum.c's; the background check and the CLI's
 * are dbcheck.c's, the repair repair.c's.
 */
#ifndef AD_STORE_DBCHECK_H
#define AD_STORE_DBCHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What is known damaged in this process's database. */
typedef struct {
    bool damaged;          /* a check or a read found a damaged page */
    bool checked;          /* a whole check finished since the start */
    bool checking;         /* one runs now */
    int64_t checked_at_ms; /* when the last one finished (wall clock), 0 before */
    uint64_t bad_reads;    /* reads refused since the start: a page failed its checksum */
    uint32_t last_bad_page;
    int ntables;      /* tables the last check found damaged */
    char tables[512]; /* their names, ", " between them */
    char reason[768]; /* what is wrong and what to do, for a person */
} ad_store_damage_t;
/* Any thread. */
void ad_store_damage(ad_store_damage_t *out);
/* Whether damage is known, with a line saying what and what to do into
 * why (for a refused request's error). Any thread. */
bool ad_store_damaged(char *why, size_t n);
/* A read met a damaged page (stmt.c's error mapping): health says so at
 * once and the background check runs again to name the table. Any thread. */
void ad_store_damage_seen(void);

/* What the store mended by itself (the event log's damaged records at the
 * start, a damaged record skipped while read): logged, and listed by
 * health for AD_STORE_REPAIR_SHOWN_MS (the newest AD_STORE_REPAIRS_MAX).
 * Any thread. */
#define AD_STORE_REPAIR_SHOWN_MS (10 * 60 * 1000)
#define AD_STORE_REPAIRS_MAX 8
typedef struct {
    int64_t at_ms;
    char what[512];
} ad_store_repair_t;
void ad_store_note_repair(const char *what);
/* The repairs still shown, newest first, into out; how many. */
size_t ad_store_repairs(ad_store_repair_t out[AD_STORE_REPAIRS_MAX]);

/* Health's database object db gets pages {damaged, checked, checking,
 * tables, badReads, checkedAt, reason?} (SQLite) and repairs [{at,
 * what}]; health (out) is made degraded, with its statusReasons, when db
 * says the database is away (up false) or damaged, or lists repairs
 * (dbhealth.c). Loop thread. */
void ad_store_health_json(json_t *db, bool sqlite);
void ad_store_health_status(json_t *out, json_t *db);
/* Health (out) gets its database object: up or not and why, its round
 * trip, connections, errors and queued writes, then the above. Loop
 * thread. */
struct ad_store;
void ad_store_health_db(struct ad_store *st, json_t *out);

/* One table's verdict: problem NULL when it reads whole. */
typedef void (*ad_store_check_cb)(const char *table, const char *problem, void *ud);
/* Reads every page of every table of the SQLite database at path (its
 * indexes and overflow pages too) and calls fn for each table. *damaged:
 * how many tables are not whole. 0, or an error (the file cannot be
 * opened or its schema read: err says so). */
int ad_store_sqlite_check(const char *path, ad_store_check_cb fn, void *ud, int *damaged, char *err,
                          size_t errsz);

/* Sums every page of the data dir's agentd.db again (a VACUUM reading
 * them unchecked): after another program (the sqlite3 shell) wrote to it
 * on purpose. Refuses (AD_EBUSY) while a daemon holds the data dir. */
int ad_store_sqlite_resum(const char *data_dir, char *err, size_t errsz);

/* One table's repair: rows copied, rows lost (-1: not known, the table's
 * every count was damaged too), and the rowid ranges skipped. */
typedef void (*ad_store_repair_cb)(const char *table, int64_t copied, int64_t lost,
                                   const char *skipped, void *ud);
/* Copies every readable row of the data dir's agentd.db into a new
 * database, table by table (the schema as it is, indexes rebuilt), then
 * puts the new one in its place and keeps the old one beside it (its name
 * into kept). Refuses (AD_EBUSY) while a daemon holds the data dir. */
int ad_store_sqlite_repair(const char *data_dir, ad_store_repair_cb fn, void *ud, char *kept,
                           size_t keptsz, char *err, size_t errsz);

#endif
