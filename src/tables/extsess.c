/* SPDX-License-Identifier: MIT */
/*
 * Which agent holds which CLI session (extsess.h): one read of the agents
 * table on the thread pool, for the outside sessions' list (an adopted or
 * agentd-made session shows its agent) and their adoption (a session is
 * adopted once).
 */
#include "store/table.h"
#include "tables/extsess.h"
#include "tables/tables_int.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct {
    char org[AD_ID_MAX];
    json_t *out;
    ad_store_result_cb cb;
    void *ud;
} held_t;

static int held_read(ad_db_t *db, void *ctx)
{
    held_t *h = ctx;
    ad_db_stmt_t *s = NULL;
    int rc = ad_db_prepare_v2(db,
                              "SELECT session_id, id FROM agents WHERE deleted_at IS NULL AND "
                              "session_id IS NOT NULL AND session_id <> '' AND (?1 = '' OR "
                              "org_id = ?1) ORDER BY created_at, id LIMIT ?2",
                              -1, &s, NULL);
    if (rc != AD_DB_OK) {
        return ad_store_rc(db, rc);
    }
    ad_db_bind_text(s, 1, h->org, -1, AD_DB_STATIC);
    ad_db_bind_int64(s, 2, AD_STORE_SESSION_AGENTS_MAX);
    h->out = json_object();
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_object_set_new(h->out, (const char *)ad_db_column_text(s, 0),
                            json_string((const char *)ad_db_column_text(s, 1)));
    }
    ad_db_finalize(s);
    return rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
}

static void held_done(int rc, void *ctx)
{
    held_t *h = ctx;
    if (rc != 0) {
        json_decref(h->out);
        h->out = NULL;
    }
    h->cb(rc, h->out, h->ud);
    free(h);
}

void ad_store_session_agents(ad_store_t *st, const char *org, ad_store_result_cb cb, void *ud)
{
    held_t *h = ad_xcalloc(1, sizeof(*h));
    snprintf(h->org, sizeof(h->org), "%s", org != NULL ? org : "");
    h->cb = cb;
    h->ud = ud;
    ad_store_read_async(st, held_read, held_done, h);
}
