/* SPDX-License-Identifier: MIT */
/*
 * tables: the agents that hold a CLI session (extsess.c), for the outside
 * sessions' list and adoption (src/sessions, issue #76).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_EXTSESS_H
#define AD_TABLES_EXTSESS_H

#include <jansson.h>

#include "store/store.h"

/* {<sessionId>: <agentId>} of org's agents ("": every org's) that are not
 * archived and have a session id, read on the thread pool (at most
 * AD_STORE_SESSION_AGENTS_MAX; the newest agent wins a shared id): cb gets
 * it (owned) on the loop thread. */
#define AD_STORE_SESSION_AGENTS_MAX 100000
void ad_store_session_agents(ad_store_t *st, const char *org, ad_store_result_cb cb, void *ud);

#endif
