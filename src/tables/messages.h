/* SPDX-License-Identifier: MIT */
/*
 * tables: messages (messages.c, msgrecord.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_MESSAGES_H
#define AD_TABLES_MESSAGES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- messages (messages.c) ---------------------------------------------------------
 * The message object: id, agentId, runId?, role, content, tokenCount,
 * toolName?, toolInput?, toolOutput?, isComplete, createdAt.
 */
/* A run's messages oldest first (its log, issue #35): {messages, hasMore,
 * nextCursor} with after = a cursor of an earlier page or NULL. AD_ENOENT
 * (no such run), AD_EINVAL (a bad cursor). Loop thread. */
int ad_store_run_messages(ad_store_t *st, const char *run_id, int limit, const char *after,
                          json_t **out);
/* One page, newest first. before is NULL or a cursor from a previous page
 * (or a message id). {messages, hasMore, nextCursor (null at the end)}.
 * AD_EINVAL for a malformed cursor. */
int ad_store_message_page(ad_store_t *st, const char *agent_id, int limit, const char *before,
                          json_t **out);
/* The same two pages as JSON text appended to out, written row by row (what
 * the API sends; the forms above read it back). A page ends before limit
 * when its text passes 16 MiB, with hasMore and a cursor as usual. out's
 * max should be AD_STORE_PAGE_TEXT_MAX: one more row after 16 MiB, each
 * byte escaped at most six-fold. Loop thread. */
#define AD_STORE_PAGE_TEXT_MAX (256u << 20)
int ad_store_message_page_text(ad_store_t *st, const char *agent_id, int limit, const char *before,
                               ad_buf_t *out);
int ad_store_run_messages_text(ad_store_t *st, const char *run_id, int limit, const char *after,
                               ad_buf_t *out);
/* args {id, agentId, role, content, now, runId?, tokenCount?, toolName?,
 * toolInput?, toolOutput?, isComplete?, isError?}: AD_ENOENT for an unknown agent.
 * result {message, worktreeId, workspaceId}. */
int ad_store_op_message_insert(ad_store_tx_t *tx, json_t *args, json_t **result);

/* The typed form of the same write, for the hot REST path: no JSON on the
 * way in or out. The strings are borrowed (they must outlive the job); id,
 * agent_id and role are required, the others may be NULL (content: ""). */
typedef struct {
    const char *id, *agent_id, *run_id, *role, *content;
    const char *tool_name, *tool_input, *tool_output;
    int64_t token_count;
    bool is_complete;
    bool is_error; /* a failed or denied tool call, an API error */
    /* ad_store_messages_insert only: this row is written over the
     * agent's row with the same id (a tool call's result over the call),
     * keeping its time; without it a taken id fails the batch. */
    bool replace;
    int64_t now;
    /* Held output (issue #15): the spool offsets just past what this row
     * covers, stored with it; 0: none. */
    int64_t hold_out, hold_err;
    /* Set by ad_store_message_insert on success. */
    char worktree_id[AD_ID_MAX], workspace_id[AD_ID_MAX];
} ad_store_message_t;
/* The largest content of a message a client records (POST
 * /api/agents/:id/messages). */
#define AD_STORE_MESSAGE_MAX (16u << 20)
/* A recorded message's body {content, role? (user|assistant|system|tool;
 * user), toolName?, runId?, tokenCount?, isComplete?, toolInput?,
 * toolOutput? (a string, or any JSON kept as its text: texts[0] and [1],
 * owned by the caller)} into m (strings borrowed from body); id,
 * agent_id and now are the caller's. 0, or AD_EINVAL with e. */
int ad_store_message_from(const json_t *body, ad_store_message_t *m, char *texts[2],
                          ad_field_err_t *e);
/* Writer thread (inside a job): inserts m and sets its worktree_id and
 * workspace_id. AD_ENOENT for an unknown agent; the constraint codes of
 * ad_store_rc otherwise. May run twice (see ad_store_job_fn). */
int ad_store_message_insert(ad_store_tx_t *tx, ad_store_message_t *m);
/* The message object of m exactly as a read of its row gives it (the
 * object above). Any thread; new reference. */
json_t *ad_store_message_json(const ad_store_message_t *m);
/* Appends the same object as JSON text, byte for byte what
 * json_dumps(ad_store_message_json(m), JSON_COMPACT) gives, without
 * building it. 0, or the ad_buf error once out's cap is reached. Any thread. */
int ad_store_message_text(const ad_store_message_t *m, ad_buf_t *out);
/* A client's message for agent agent_id of org (msgrecord.c, loop
 * thread): body (borrowed; kept while the write is under way) checked as
 * ad_store_message_from does, given a new "msg_" id and the time, and
 * inserted by one writer job. After the commit it is published on bus as
 * message_created {message} (the agent's, worktree's, workspace's and
 * org's topics) and cb(0, its JSON text, len, ud) runs on the loop (the
 * text valid for the call); else cb(rc, NULL, 0, ud) (AD_ENOENT for an
 * unknown agent, AD_EINTERNAL when it does not serialize). 0, or AD_EINVAL
 * with e (nothing queued, no cb), or AD_ENOENT when agent_id is longer than
 * any id. */
typedef void (*ad_store_message_cb)(int rc, const char *json, size_t len, void *ud);
int ad_store_message_record(ad_store_t *st, struct ad_bus *bus, json_t *body, const char *agent_id,
                            const char *org, ad_store_message_cb cb, void *ud, ad_field_err_t *e);
/* limit= of a message page: absent or empty 50, else 1 to 200 in digits
 * only; 0, or AD_EINVAL with e. Any thread. */
int ad_store_message_limit(const char *s, int *limit, ad_field_err_t *e);

#endif
