/* SPDX-License-Identifier: MIT */
/*
 * chat: the engine behind /api/chats (issue #18). It owns the answers
 * streaming now and the rate-limit queue: a turn writes the user's message
 * and a streaming placeholder, sends the conversation to the provider
 * (src/llm) with the organisation's key (src/creds), publishes the answer
 * as it comes as events of the seed's names on chat:<id> and the chat's
 * org topic: stream_token {sessionId, messageId, text}, stream_thinking,
 * stream_retry {sessionId, status, waitMs, attempt}, stream_queued
 * {sessionId, messageId, waitMs}, stream_complete {sessionId, messageId,
 * fullMessage, usage, stopReason, stopped, toolCalls?}, stream_error
 * {sessionId, messageId, error, partial}; and writes the answer, its usage
 * and cost (the model_prices setting), the chat's totals and the usage
 * tables together when it ends. A turn its key's buckets (<org>|<provider>|
 * <model>) cannot take now waits, first come first served. The HTTP routes
 * are src/api/chats.c's; this folder knows no request.
 *
 * Ownership: ad_chat_t owns its streams, the queue, its timer, the
 * rate-limit buckets and the provider client; the loop, store, bus and
 * creds are borrowed and must outlive it. A turn (ad_chat_stream_t) belongs
 * to the engine from ad_chat_turn_new until it ends.
 * Dependencies: llm, store, bus, creds, agent (prices).
 * Threads: loop thread only.
 */
#ifndef AD_CHAT_H
#define AD_CHAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/core.h"
#include "creds/creds.h"
#include "llm/llm.h"

struct ad_store;
typedef struct ad_chat ad_chat_t;
typedef struct ad_chat_stream ad_chat_stream_t;

/* An engine; marks the answers an earlier run left streaming interrupted
 * (a store write). store may be NULL (no chats). */
ad_chat_t *ad_chat_new(uv_loop_t *loop, struct ad_store *store, ad_bus_t *bus, ad_creds_t *creds);
/* Ends every stream unsaved (the next start marks them interrupted),
 * closes the queue's timer and frees c. NULL is a no-op. */
void ad_chat_free(ad_chat_t *c);
/* The provider client every request of the workbench goes through (made
 * on first use). */
ad_llm_t *ad_chat_llm(ad_chat_t *c);

/* ---- a turn ---------------------------------------------------------------------
 * ad_chat_turn_new (the chat's row {id, orgId, model, provider, system?,
 * temperature?, maxTokens?} borrowed; content: the user's message), then
 * ad_chat_turn_admit; then ad_chat_turn_begin, or ad_chat_turn_drop when
 * the caller gives up before it.
 */
ad_chat_stream_t *ad_chat_turn_new(ad_chat_t *c, json_t *chat, const char *content);
/* Charges the turn's estimated input tokens to its key's buckets, or
 * queues it. 0 (*wait_ms 0: it starts at once; else it waits about that
 * long), or AD_EBUSY when its key's queue is full (*wait_ms: when to try
 * again). */
int ad_chat_turn_admit(ad_chat_stream_t *s, int64_t *wait_ms);
void ad_chat_turn_drop(ad_chat_stream_t *s);
/* cb(ud, rc, result, queued, wait_ms) once the user's message and the
 * placeholder are written ({user, assistant} rows, borrowed) and the turn
 * started or queued: rc 0; the write's error (the turn is gone, result
 * NULL); or the start's error (the placeholder then ends as an error). */
typedef void (*ad_chat_begun_cb)(void *ud, int rc, json_t *result, bool queued, int64_t wait_ms);
void ad_chat_turn_begin(ad_chat_stream_t *s, const char *content, ad_chat_begun_cb cb, void *ud);
/* ---- a stateless call (the workbench seed's stream_ai_response) -----------------
 * No chat row: spec {id (the caller's sessionId), orgId, model, provider?,
 * system?, temperature?, maxTokens?} and messages [{role, content}] are
 * borrowed; the answer streams as the same events on chat:<id> and the
 * org's topic, only its usage is stored. ad_chat_stateless_new, then
 * ad_chat_turn_admit, then ad_chat_stateless_begin (or ad_chat_turn_drop).
 * begin: the answer's messageId into message_id; 0, or the start's error
 * (the end event, stream_error, is then already published and s gone). */
ad_chat_stream_t *ad_chat_stateless_new(ad_chat_t *c, json_t *spec, json_t *messages);
int ad_chat_stateless_begin(ad_chat_stream_t *s, char message_id[AD_ID_MAX]);
/* Requests that may wait per key (AGENTD_LLM_QUEUE, 16 by default). */
int64_t ad_chat_queue_max(void);

/* ---- what is streaming ----------------------------------------------------------- */
/* Whether an answer of chat is streaming (or waiting for its rate limit). */
bool ad_chat_streaming(ad_chat_t *c, const char *chat);
/* Gives the streaming answer among msgs (rows of chat) the text that has
 * arrived so far. */
void ad_chat_live_text(ad_chat_t *c, const char *chat, json_t *msgs);
/* Sets "streaming" on a chat row, or on each of an array of them. */
void ad_chat_mark_streaming(ad_chat_t *c, json_t *rows);
/* A page of chat_id's messages read on the pool (ad_store_chat_messages_page:
 * before, limit), the answer in flight showing what has arrived so far.
 * With row (taken: GET /api/chats/:id's chat), "streaming" is set on it
 * now and the page goes into it as messages and hasMore. cb(rc, out, ud)
 * on the loop: out (new) the row or the page; AD_ENOENT when before is no
 * message of that chat. */
typedef void (*ad_chat_read_cb)(int rc, json_t *out, void *ud);
void ad_chat_messages(ad_chat_t *c, json_t *row, const char *chat_id, const char *before, int limit,
                      ad_chat_read_cb cb, void *ud);
/* cb(ud, rc, message) once a stopped answer is saved: rc 0 and the saved
 * message (borrowed), or the write's error and NULL. */
typedef void (*ad_chat_stopped_cb)(void *ud, int rc, json_t *message);
/* Stops chat's answer. 0, or AD_ENOENT when none is streaming or a stop
 * already waits (cb is then not called). */
int ad_chat_stop(ad_chat_t *c, const char *chat, ad_chat_stopped_cb cb, void *ud);
/* Whether org's stateless call session is streaming (or waiting for its
 * rate limit); another org's call of the same sessionId is another call. */
bool ad_chat_session_streaming(ad_chat_t *c, const char *org, const char *session);
/* Stops org's stateless call session (the seed's stop_stream): its
 * stream_complete {stopped: true} is published, then cb(ud, 0, NULL).
 * 0, or AD_ENOENT when org has no such call streaming or a stop already
 * waits (cb is then not called). */
int ad_chat_session_stop(ad_chat_t *c, const char *org, const char *session, ad_chat_stopped_cb cb,
                         void *ud);
/* The chat is being deleted: its answer ends, nobody waits for it. */
void ad_chat_cancel(ad_chat_t *c, const char *chat);
/* The buckets whose key starts with prefix ("": all), each {model,
 * provider, orgId?, ...} (new reference). */
json_t *ad_chat_limits(ad_chat_t *c, const char *prefix);
/* GET /api/ratelimits' answer for org ("" or NULL: every org's): {limits
 * (its buckets), queueMax} (new). */
json_t *ad_chat_limits_of(ad_chat_t *c, const char *org);

/* ---- checking a stored key (keycheck.c) ------------------------------------------ */
/* cb(ud, verdict) on the loop: {provider, valid, status (the provider's
 * HTTP status), reason? (when not valid)}, a new reference the callee owns. */
typedef void (*ad_chat_key_cb)(void *ud, json_t *verdict);
/* Sends a one-token request with org's stored key for provider (model NULL:
 * a small one of the provider's) through c's client. 0 (cb will be
 * called); AD_EINVAL (not a model provider), AD_ENOENT (no key stored) or
 * AD_EIO (the request could not be sent), with err saying so, and cb is
 * not called. creds is borrowed. */
int ad_chat_key_check(ad_chat_t *c, ad_creds_t *creds, const char *org, const char *provider,
                      const char *model, ad_chat_key_cb cb, void *ud, char *err, size_t errsz);

/* ---- what a chat request may hold (spec.c), any thread ------------------------------ */
/* A stateless call's sessionId: 1 to 64 of A-Z a-z 0-9 - _, not starting
 * chat_ (a stored chat's events are not to be mixed in). */
bool ad_chat_session_id_ok(const char *id);
/* messages: 1 to 200 {role: user or assistant, content: text}. A new
 * array with just those, or NULL with why saying what is wrong. */
json_t *ad_chat_messages_check(const json_t *in, char *why, size_t whysz);
/* POST /api/chats/stream's body {sessionId, messages, model,
 * systemPrompt? (at most AD_CHAT_CONTENT_MAX bytes), provider? (anthropic,
 * openai), maxTokens? (1 to 128000)}: *spec {id, model, provider, system?,
 * maxTokens?} for ad_chat_stateless_new (the caller adds orgId) and the
 * checked *messages, both new. 0, or AD_EINVAL with e. */
#define AD_CHAT_CONTENT_MAX (256 * 1024)
int ad_chat_stateless_spec(const json_t *body, json_t **spec, json_t **messages, ad_field_err_t *e);
/* A message's body {content (1 to AD_CHAT_CONTENT_MAX bytes)}: *content
 * borrowed from body; 0, or AD_EINVAL with e. */
int ad_chat_content_check(const json_t *body, const char **content, ad_field_err_t *e);
/* A message page's query: limit (1 to 200, 50 when NULL) and before (a
 * message id, or NULL). 0, or AD_EINVAL with e. */
int ad_chat_page_query(const char *lim, const char *before, int *limit, ad_field_err_t *e);
/* A new chat's fields {provider? (anthropic, openai), model? (default
 * claude-sonnet-4-5 or gpt-4o-mini), maxTokens? (1-128000), temperature?
 * (0-1, OpenAI's 0-2), system?, definition?, projectId?, title?} into
 * args. 0, or AD_EINVAL with e. */
int ad_chat_spec(const json_t *body, json_t *args, ad_field_err_t *e);
/* What a new chat's args (ad_chat_spec's) add for org: its id, org and
 * time, whether the body named no model (defaultModel, kept only with a
 * definition, for ad_chat_spec_def); its projectId must be a project of
 * org. 0, or AD_EINVAL with e. */
int ad_chat_new_args(struct ad_store *st, json_t *args, const char *org, const json_t *body,
                     ad_field_err_t *e);
/* A definition's prompt and model fill what args (a chat's insert, with
 * defaultModel: whether the request named none) left out; defaultModel is
 * taken away. */
void ad_chat_spec_def(json_t *args, const json_t *def);
/* The model an agent definition stands for: its own (Claude Code's aliases
 * understood), else one for its tier; NULL: keep the default. Borrowed
 * from def or static. */
const char *ad_chat_def_model(const json_t *def);

/* What a request of model with usage u cost in USD (the model_prices
 * setting, else the built-in list prices; 0 when neither knows it). */
double ad_chat_cost(ad_chat_t *c, const char *model, const ad_llm_usage_t *u);

/* ---- agents' one-line summaries (summary.c, sumtext.c; issue #76) -----------------
 * Made by the engine when the summary_model setting names a model: after an
 * agent's turn ends, or when it starts waiting for an approval or an
 * answer, the model is asked (the agent's org's key for summary_provider)
 * for one line from the transcript of the turn; the line is stored with its
 * cost (tables/summaries.h) and published as agent_summary {agentId, orgId,
 * summary {text, at, turn}} on agent:<id> and the org's topic. A turn
 * already summarized is not asked again; a failing model is logged and
 * changes nothing else. Owned by the engine (ad_chat_new, when it has a
 * store); stopped by ad_chat_summaries_stop, before the store closes. */
/* Counts since the start (GET /metrics: agentd_agent_summaries_total). */
typedef struct {
    uint64_t made;    /* lines stored */
    uint64_t cached;  /* a turn that had its line already: not asked */
    uint64_t failed;  /* the model failed (down, 429, 5xx, a stall) or answered no line */
    uint64_t skipped; /* no key for the org, too many waiting, a read failed */
} ad_chat_sum_stats_t;
typedef struct ad_chat_sum ad_chat_sum_t;
ad_chat_sum_t *ad_chat_sum_new(ad_chat_t *c, uv_loop_t *loop, struct ad_store *st, ad_bus_t *bus,
                               ad_creds_t *creds);
/* No event is taken and no request asked after this; those under way are
 * cancelled (a write under way still completes). */
void ad_chat_sum_stop(ad_chat_sum_t *s);
void ad_chat_sum_free(ad_chat_sum_t *s);
void ad_chat_sum_stats(const ad_chat_sum_t *s, ad_chat_sum_stats_t *out);
/* The engine's summaries stopped (the engine's stop hook). */
void ad_chat_summaries_stop(ad_chat_t *c);
void ad_chat_summary_stats(const ad_chat_t *c, ad_chat_sum_stats_t *out);
/* The summary model's instructions (the system prompt). */
extern const char ad_chat_summary_system[];
/* The transcript's bound, and the longest line kept (bytes). */
#define AD_CHAT_SUMMARY_INPUT_MAX (12 * 1024)
#define AD_CHAT_SUMMARY_LINE_MAX 200
/* The user message for msgs (an agent's messages, newest first, as
 * ad_store_agent_summary_input or GET /api/agents/:id/messages give
 * them): the agent's last turn, from its newest
 * message back to the user message that started it (at most 40 messages,
 * each cut, AD_CHAT_SUMMARY_INPUT_MAX bytes in all, newest kept), one line
 * per message between <transcript> tags, with control characters, '<'
 * and '>' replaced and anything that looks like a secret masked. turn: the
 * newest message's id. 0 (appended to out), AD_ENOENT (no message) or
 * out's error. Any thread. */
int ad_chat_summary_transcript(const json_t *msgs, ad_buf_t *out, char turn[AD_ID_MAX]);
/* The model's answer made into the stored line: its first line with text,
 * list marks and quotes taken off, control characters gone, secrets
 * masked, at most AD_CHAT_SUMMARY_LINE_MAX bytes (whole characters, "…"
 * when cut). "" when it has no text. outsz: at least 8. Any thread. */
void ad_chat_summary_clean(const char *answer, char *out, size_t outsz);
/* Whether m may be the summary_model setting: "" (off) or 1 to 128 bytes
 * of letters, digits and . _ : / @ -, starting with a letter or digit. */
bool ad_chat_summary_model_ok(const char *m);

/* The subsystem as an engine of the daemon (plugin.c; src/engine/engine.h;
 * src/engines.c opens it). */
extern const struct ad_engine ad_chat_engine;

#endif
