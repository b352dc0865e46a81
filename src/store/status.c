/* SPDX-License-Identifier: MIT */
/* Why an agent has its status (issue #33, migration 2470): the reason a
 * write hands the store, and the agent's status history. */
#include "store/store.h"
#include "store/store_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ad_status_reason_set(ad_store_status_reason_t *r, const char *code, const char *ref,
                          const char *fmt, ...)
{
    snprintf(r->code, sizeof(r->code), "%s", code);
    snprintf(r->ref, sizeof(r->ref), "%s", ref != NULL ? ref : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text, sizeof(r->text), fmt, ap);
    va_end(ap);
}

int ad_store_bind_reason(sqlite3_stmt *s, int idx, const ad_store_status_reason_t *r, int64_t at)
{
    if (r == NULL || r->code[0] == '\0') {
        return sqlite3_bind_null(s, idx);
    }
    json_t *j = json_pack("{s:s, s:s, s:I, s:s?}", "code", r->code, "text", r->text, "at",
                          (json_int_t)at, "ref", r->ref[0] != '\0' ? r->ref : NULL);
    int rc = ad_store_bind_json(s, idx, j);
    json_decref(j);
    return rc;
}

int ad_store_status_history(ad_store_t *st, const char *agent_id, int limit, json_t **out)
{
    sqlite3 *db = ad_store_rdb(st);
    sqlite3_stmt *s = ad_store_stmt(db, "SELECT 1 FROM agents WHERE id = ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent_id);
    int step = sqlite3_step(s);
    sqlite3_reset(s);
    if (step != SQLITE_ROW) {
        return step == SQLITE_DONE ? AD_ENOENT : ad_store_rc(db, step);
    }
    s = ad_store_stmt(db, "SELECT status, code, text, ref, at FROM agent_status_history "
                          "WHERE agent_id = ? ORDER BY id DESC LIMIT ?");
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, agent_id);
    sqlite3_bind_int(s, 2, limit > 0 && limit <= 200 ? limit : 50);
    json_t *entries = json_array();
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        json_array_append_new(entries, ad_store_row_json(s, "", "code,text,ref"));
    }
    sqlite3_reset(s);
    if (step != SQLITE_DONE) {
        json_decref(entries);
        return ad_store_rc(db, step);
    }
    *out = json_pack("{s:s, s:o}", "agentId", agent_id, "entries", entries);
    return 0;
}
