/* SPDX-License-Identifier: MIT */
/*
 * agent_sessions (migration 2431): one row per ended run, written by a
 * trigger, with the session's data and a context snapshot. Read here, on
 * the loop thread (one agent's rows by index, newest first, bounded).
 */
#include "store/table.h"
#include "tables/agents.h"

#include <string.h>

/* A JSON column as a value (null when empty or not JSON). */
static json_t *json_col(ad_db_stmt_t *s, int i)
{
    const char *t = (const char *)ad_db_column_text(s, i);
    json_t *v = t != NULL ? json_loads(t, 0, NULL) : NULL;
    return v != NULL ? v : json_null();
}

int ad_store_agent_sessions(ad_store_t *st, const char *agent_id, int limit, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, "SELECT id, session_data, context_snapshot, created_at, "
                                        "updated_at FROM agent_sessions WHERE agent_id = ?1 "
                                        "ORDER BY created_at DESC, id DESC LIMIT ?2");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent_id);
    ad_db_bind_int(s, 2, limit);
    json_t *a = json_array();
    int step;
    while ((step = ad_db_step(s)) == AD_DB_ROW) {
        char c[AD_TIME_MAX], u[AD_TIME_MAX];
        ad_time_format(ad_db_column_int64(s, 3), c);
        ad_time_format(ad_db_column_int64(s, 4), u);
        json_array_append_new(a,
                              json_pack("{s:s, s:s, s:o, s:o, s:s, s:s}", "id",
                                        (const char *)ad_db_column_text(s, 0), "agentId", agent_id,
                                        "sessionData", json_col(s, 1), "contextSnapshot",
                                        json_col(s, 2), "createdAt", c, "updatedAt", u));
    }
    ad_db_reset(s);
    if (step != AD_DB_DONE) {
        json_decref(a);
        return ad_store_rc(db, step);
    }
    *out = json_pack("{s:o}", "sessions", a);
    return 0;
}
