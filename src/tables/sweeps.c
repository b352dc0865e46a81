/* SPDX-License-Identifier: MIT */
/*
 * Sweeps (migration 2725, issue #35): the row, its spec and its state
 * written whole by the engine (src/train/sweep.c) on every change. Reads on
 * the loop thread; writes through the writer.
 */
#include "store/table.h"
#include "tables/sweeps.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_SELECT                                                                               \
    "SELECT id, org_id, name, spec, state, status, created_at, updated_at FROM sweeps "

static json_t *sweep_row(ad_db_stmt_t *s)
{
    return ad_store_row_json(s, "spec,state", NULL);
}

int ad_store_sweep_get(ad_store_t *st, const char *id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SWEEP_SELECT "WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_row(db, s, sweep_row, out);
}

int ad_store_sweep_list(ad_store_t *st, const char *org, bool running_only, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        running_only
            ? ad_store_stmt(db, SWEEP_SELECT "WHERE status = 'running' ORDER BY created_at")
            : ad_store_stmt(db, SWEEP_SELECT "WHERE ?1 = '' OR org_id = ?1 ORDER BY created_at "
                                             "DESC, id LIMIT 200");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    if (!running_only) {
        ad_store_bind_text(s, 1, org != NULL ? org : "");
    }
    return ad_store_all_rows(db, s, sweep_row, out);
}

int ad_store_op_sweep_put(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db,
        "INSERT INTO sweeps (id, org_id, name, spec, state, status, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT(id) DO UPDATE SET state = "
        "excluded.state, status = excluded.status, updated_at = excluded.updated_at");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, ad_args_str(args, "orgId"));
    ad_store_bind_text(s, 3, ad_args_str(args, "name"));
    ad_store_bind_json(s, 4, json_object_get(args, "spec"));
    ad_store_bind_json(s, 5, json_object_get(args, "state"));
    ad_store_bind_text(s, 6, ad_args_str(args, "status"));
    ad_db_bind_int64(s, 7, ad_args_int(args, "now", 0));
    int rc = ad_store_step_done(tx->db, s);
    if (rc != 0) {
        return rc;
    }
    s = ad_store_stmt(tx->db, SWEEP_SELECT "WHERE id = ?1");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    return ad_store_one_row(tx->db, s, sweep_row, result);
}
