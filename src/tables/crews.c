/* SPDX-License-Identifier: MIT */
/*
 * Crews: the rows, and each crew's status derived from its live agents
 * (busy when one is running, available when one is alive and not running:
 * waiting or paused; offline otherwise, an idle agent, one that never ran,
 * included). Publishing status changes is src/api/crews.c's.
 */
#include "store/table.h"
#include "tables/auth.h"
#include "tables/crews.h"

#include <stdio.h>
#include <stdlib.h>

#define CREW_SELECT                                                                                \
    "SELECT c.id, c.name, c.created_at, c.updated_at, "                                            \
    "COALESCE(SUM(a.status = 'running'), 0), "                                                     \
    "COALESCE(SUM(a.status IN ('waiting', 'paused')), 0), COUNT(a.id), c.org_id "                  \
    "FROM crews c LEFT JOIN agents a ON a.crew_id = c.id AND a.deleted_at IS NULL "

static const char SQL_CREW_LIST[] =
    CREW_SELECT "WHERE ?1 = '' OR c.org_id = ?1 "
                "GROUP BY c.id ORDER BY c.created_at, c.id LIMIT 1000";
static const char SQL_CREW_GET[] = CREW_SELECT "WHERE c.id = ?1 GROUP BY c.id";
static const char SQL_CREW_INSERT[] =
    "INSERT INTO crews(id, name, created_at, updated_at, org_id) VALUES(?1, ?2, ?3, ?3, ?4)";

/* The crew object of the current row. */
static json_t *crew_row(ad_db_stmt_t *st)
{
    char created[AD_TIME_MAX], updated[AD_TIME_MAX];
    ad_time_format(ad_db_column_int64(st, 2), created);
    ad_time_format(ad_db_column_int64(st, 3), updated);
    const char *status = ad_db_column_int64(st, 4) > 0   ? "busy"
                         : ad_db_column_int64(st, 5) > 0 ? "available"
                                                         : "offline";
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "id",
                     (const char *)ad_db_column_text(st, 0), "name",
                     (const char *)ad_db_column_text(st, 1), "status", status, "agentCount",
                     (json_int_t)ad_db_column_int64(st, 6), "createdAt", created, "updatedAt",
                     updated, "orgId", (const char *)ad_db_column_text(st, 7));
}

int ad_store_crew_list(ad_store_t *st, const char *org, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CREW_LIST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    return ad_store_all_rows(db, s, crew_row, out);
}

int ad_store_crew_get(ad_store_t *st, const char *id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CREW_GET);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_row(db, s, crew_row, out);
}

typedef struct {
    ad_store_crew_t crew;
    ad_store_done_cb done;
    void *ctx;
} crew_job_t;

static int crew_insert(ad_store_tx_t *tx, void *ctx)
{
    const ad_store_crew_t *c = &((crew_job_t *)ctx)->crew;
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CREW_INSERT);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, c->id);
    ad_store_bind_text(s, 2, c->name);
    ad_db_bind_int64(s, 3, c->now);
    ad_store_bind_text(s, 4, c->org_id[0] != '\0' ? c->org_id : AD_ORG_DEFAULT);
    return ad_store_step_done(db, s);
}

static void crew_inserted(int rc, void *ctx)
{
    crew_job_t *j = ctx;
    if (j->done != NULL) {
        j->done(rc, j->ctx);
    }
    free(j);
}

void ad_store_crew_create(ad_store_t *st, const ad_store_crew_t *c, ad_store_done_cb done,
                          void *ctx)
{
    crew_job_t *j = ad_xmalloc(sizeof(*j));
    j->crew = *c;
    j->done = done;
    j->ctx = ctx;
    ad_store_submit(st, crew_insert, crew_inserted, j);
}

static int crew_rename(ad_store_tx_t *tx, void *ctx)
{
    const ad_store_crew_t *c = &((crew_job_t *)ctx)->crew;
    ad_db_stmt_t *s =
        ad_store_stmt(tx->db, "UPDATE crews SET name = ?, updated_at = ? WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, c->name);
    ad_db_bind_int64(s, 2, c->now);
    ad_store_bind_text(s, 3, c->id);
    int rc = ad_store_step_done(tx->db, s);
    return rc == 0 && ad_db_changes(tx->db) == 0 ? AD_ENOENT : rc;
}

void ad_store_crew_rename(ad_store_t *st, const ad_store_crew_t *c, ad_store_done_cb done,
                          void *ctx)
{
    crew_job_t *j = ad_xmalloc(sizeof(*j));
    j->crew = *c;
    j->done = done;
    j->ctx = ctx;
    ad_store_submit(st, crew_rename, crew_inserted, j);
}
