/* SPDX-License-Identifier: MIT */
/*
 * tables: agents' one-line summaries (summaries.c, migration 3010, issue
 * #76). One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 *
 * One row per agent: its newest line, the turn it read (the id of the
 * newest message the model was shown) and what its lines cost so far. The
 * line reaches the API as the agent object's summary {text, at, turn}
 * (AD_AGENT_COLS); the cost counts in the usage tables and in the
 * organisation's credits (credits.c).
 */
#ifndef AD_TABLES_SUMMARIES_H
#define AD_TABLES_SUMMARIES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The longest line stored, in bytes (src/chat cuts it before). */
#define AD_SUMMARY_TEXT_MAX 300
/* The longest turn id (a message id). */
#define AD_SUMMARY_TURN_MAX 64

/* The turn agent's stored line read into turn ("" when it has none). 0 or
 * a read error. Loop thread. */
int ad_store_agent_summary_turn(ad_store_t *st, const char *agent,
                                char turn[AD_SUMMARY_TURN_MAX + 1]);
/* The newest limit (at most 100) messages of agent, newest first, as the
 * summary's transcript reads them: [{id, role, content, toolName?,
 * toolInput?, toolOutput?}] with content cut at 2,000 characters and the
 * tool's input and output at 500 (a tool's output may be megabytes: the
 * loop never reads more). 0 or a read error. Loop thread. */
int ad_store_agent_summary_input(ad_store_t *st, const char *agent, int limit, json_t **out);
/* The organisation of agent (not archived) into org: 0, AD_ENOENT or a
 * read error. Loop thread. */
int ad_store_agent_summary_org(ad_store_t *st, const char *agent, char org[AD_ID_MAX]);
/* args {agentId, text, turn, model, inputTokens, outputTokens,
 * cacheReadTokens?, cacheWriteTokens?, costUsd, now}: the agent's line
 * replaced (its org taken from the agent's row), its request, tokens and
 * cost added to the row's and to the usage tables. AD_ENOENT when the
 * agent is gone. result {agentId, orgId, summary {text, at, turn}}. */
int ad_store_op_agent_summary_set(ad_store_tx_t *tx, json_t *args, json_t **result);
#endif
