/* SPDX-License-Identifier: MIT */
/*
 * tables: search (search.c), issue #76. Full-text search over every
 * message, tool call and tool output the store holds: SQLite's FTS5 index
 * search_fts (migration 2950, kept current by triggers on messages), or on
 * PostgreSQL the generated tsvector column messages.search_tsv under a GIN
 * index. Ranked (bm25; ts_rank), org-scoped in the SQL, with a snippet
 * whose matches are given as ranges, never as markup.
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md, "Search".
 */
#ifndef AD_TABLES_SEARCH_H
#define AD_TABLES_SEARCH_H

#include <jansson.h>
#include <stdint.h>

#include "store/store.h"

/* Bounds of a request: the query's bytes and words, the page, the offset. */
#define AD_SEARCH_Q_MAX 256
#define AD_SEARCH_WORDS_MAX 16
#define AD_SEARCH_LIMIT_DEFAULT 20
#define AD_SEARCH_LIMIT_MAX 100
#define AD_SEARCH_OFFSET_MAX 10000
/* The matches ranked: the newest this many that pass the filters (more for
 * a deeper page). Fewer matches: all of them, exactly. */
#define AD_SEARCH_WINDOW 2000

/* A search, checked. match is FTS5's query (each word a quoted string:
 * no operator of the input reaches FTS5) and words the same words with
 * single blanks between them (PostgreSQL's plainto_tsquery). org: "" for
 * every org (the owner), else only that org's agents' messages. agent,
 * worktree: "" or an id. since: ms, 0 for none. */
typedef struct {
    char match[AD_SEARCH_Q_MAX * 2 + 3 * AD_SEARCH_WORDS_MAX + 1];
    char words[AD_SEARCH_Q_MAX + 1];
    char org[AD_ID_MAX], agent[AD_ID_MAX], worktree[AD_ID_MAX];
    int64_t since;
    int limit, offset;
} ad_search_req_t;

/* The query parameters of GET /api/search as a request (each may be NULL or
 * ""): q (required, words: at most AD_SEARCH_Q_MAX bytes of UTF-8 without
 * control characters, at most AD_SEARCH_WORDS_MAX words), since (ms or
 * RFC 3339), limit (1 to AD_SEARCH_LIMIT_MAX, default 20), offset (0 to
 * AD_SEARCH_OFFSET_MAX). agent, worktree and org are copied (an id longer
 * than any is AD_EINVAL on that field). 0, or AD_EINVAL with e. Any thread. */
int ad_search_req(const char *q, const char *agent, const char *worktree, const char *since,
                  const char *limit, const char *offset, const char *org, ad_search_req_t *out,
                  ad_field_err_t *e);

/* Runs req on the thread pool (req is copied); cb(0, {results, nextOffset},
 * ud) on the loop, or cb(rc, NULL, ud). Each result: {messageId, agentId,
 * agentName, worktreeId, runId, role, kind (message, tool_call or
 * tool_output), toolName, snippet (plain text), highlights ([[start, end],
 * ...] of the snippet, in UTF-16 code units, end exclusive), createdAt,
 * rank (higher is better)}, best first among the window's (above);
 * nextOffset is null at the end.
 * The result is borrowed for the call. */
void ad_store_search(ad_store_t *st, const ad_search_req_t *req, ad_store_result_cb cb, void *ud);

#endif
