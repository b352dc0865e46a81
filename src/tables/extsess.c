/* SPDX-License-Identifier: MIT */
/*
 * Which agent holds which CLI session (extsess.h): one read of the agents
 * table on the thread pool (ad_store_org_pairs, agents.c), for the outside sessions' list (an
 * adopted or agentd-made session shows its agent) and their adoption (a session is adopted once).
 */
#include "store/table.h"
#include "tables/extsess.h"
#include "tables/tables_int.h"

void ad_store_session_agents(ad_store_t *st, const char *org, ad_store_result_cb cb, void *ud)
{
    ad_store_org_pairs(st,
                       "SELECT session_id, id FROM agents WHERE deleted_at IS NULL AND "
                       "session_id IS NOT NULL AND session_id <> '' AND (?1 = '' OR "
                       "org_id = ?1) ORDER BY created_at, id LIMIT ?2",
                       org, AD_STORE_SESSION_AGENTS_MAX, false, cb, ud);
}
