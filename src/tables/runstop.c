/* SPDX-License-Identifier: MIT */
/*
 * The stop asked of a running run, kept with the run (runs.stop_asked_at,
 * runs.stop_force): written when a stop is asked or escalated, read when
 * a restarted daemon takes the run up from its holder, so the stop goes on.
 */
#include "store/table.h"
#include "tables/runs.h"

#include <string.h>

/* args {id, since, force}: the first time asked stays; force only rises. */
static int stop_mark(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    (void)result;
    ad_db_stmt_t *s = ad_store_stmt(
        tx->db, "UPDATE runs SET stop_asked_at = coalesce(stop_asked_at, ?), "
                "stop_force = max(stop_force, ?) WHERE id = ? AND status = 'running'");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, json_integer_value(json_object_get(args, "since")));
    ad_db_bind_int(s, 2, json_is_true(json_object_get(args, "force")) ? 1 : 0);
    ad_store_bind_text(s, 3, json_string_value(json_object_get(args, "id")));
    return ad_store_step_done(tx->db, s);
}

void ad_store_run_stop_mark(ad_store_t *st, const char *run_id, int64_t since, bool force)
{
    ad_store_write(
        st, stop_mark,
        json_pack("{s:s, s:I, s:b}", "id", run_id, "since", (json_int_t)since, "force", force),
        NULL, NULL);
}

int ad_store_run_stop_asked(ad_store_t *st, const char *run_id, int64_t *since, bool *force)
{
    *since = 0;
    *force = false;
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s =
        ad_store_stmt(db, "SELECT coalesce(stop_asked_at, 0), stop_force FROM runs WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, run_id);
    int step = ad_db_step(s);
    if (step == AD_DB_ROW) {
        *since = ad_db_column_int64(s, 0);
        *force = ad_db_column_int(s, 1) != 0;
    }
    ad_db_reset(s);
    return step == AD_DB_ROW ? 0 : step == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, step);
}
