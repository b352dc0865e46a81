/* SPDX-License-Identifier: MIT */
/*
 * A project's sync folder (migration 2432): set or cleared, the time of
 * its last sync, and the projects that have one. Reads on the loop thread
 * (by primary key, or the partial index of synced projects, at most 100);
 * writes on the writer.
 */
#include "store/table.h"
#include "tables/llm.h"

#include <string.h>

typedef struct {
    char id[AD_ID_MAX];
    char path[4096];
    bool clear;
    int64_t at;
    bool only_at;
} sync_row_t;

static int sync_update(ad_store_tx_t *tx, const void *in, json_t **result)
{
    const sync_row_t *s = in;
    ad_db_stmt_t *st =
        ad_store_stmt(tx->db, s->only_at ? "UPDATE llm_projects SET sync_at = ?3 WHERE id = ?1 "
                                           "AND sync_path IS NOT NULL"
                                         : "UPDATE llm_projects SET sync_path = ?2, sync_at = ?3 "
                                           "WHERE id = ?1");
    if (st == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(st, 1, s->id);
    if (!s->only_at) {
        ad_store_bind_text(st, 2, s->clear ? NULL : s->path);
    }
    ad_db_bind_int64(st, 3, s->at);
    int rc = ad_store_step_done(tx->db, st);
    if (rc == 0 && ad_db_changes(tx->db) == 0 && !s->only_at) {
        rc = AD_ENOENT;
    }
    if (rc == 0) {
        *result = json_pack("{s:s, s:s?}", "id", s->id, "syncPath", s->clear ? NULL : s->path);
    }
    return rc;
}

void ad_store_project_sync_set(ad_store_t *st, const char *id, const char *path,
                               ad_store_result_cb cb, void *ud)
{
    sync_row_t row = {.clear = path == NULL};
    snprintf(row.id, sizeof(row.id), "%s", id);
    snprintf(row.path, sizeof(row.path), "%s", path != NULL ? path : "");
    ad_store_typed_write(st, sync_update, &row, sizeof(row), NULL, cb, ud);
}

void ad_store_project_synced(ad_store_t *st, const char *id, int64_t at, ad_store_result_cb cb,
                             void *ud)
{
    sync_row_t row = {.at = at, .only_at = true};
    snprintf(row.id, sizeof(row.id), "%s", id);
    ad_store_typed_write(st, sync_update, &row, sizeof(row), NULL, cb, ud);
}

int ad_store_project_sync_list(ad_store_t *st, const char *id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT id, sync_path, sync_at FROM llm_projects WHERE "
                                        "sync_path IS NOT NULL AND (?1 IS NULL OR id = ?1) "
                                        "ORDER BY id LIMIT 100");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    json_t *a = json_array();
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(a, json_pack("{s:s, s:s, s:I}", "id",
                                           (const char *)ad_db_column_text(s, 0), "path",
                                           (const char *)ad_db_column_text(s, 1), "syncedAt",
                                           (json_int_t)ad_db_column_int64(s, 2)));
    }
    ad_db_reset(s);
    if (step != AD_DB_DONE) {
        json_decref(a);
        return ad_store_rc(db, step);
    }
    *out = a;
    return 0;
}
