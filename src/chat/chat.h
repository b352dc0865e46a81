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
/* cb(ud, rc, message) once a stopped answer is saved: rc 0 and the saved
 * message (borrowed), or the write's error and NULL. */
typedef void (*ad_chat_stopped_cb)(void *ud, int rc, json_t *message);
/* Stops chat's answer. 0, or AD_ENOENT when none is streaming or a stop
 * already waits (cb is then not called). */
int ad_chat_stop(ad_chat_t *c, const char *chat, ad_chat_stopped_cb cb, void *ud);
/* The chat is being deleted: its answer ends, nobody waits for it. */
void ad_chat_cancel(ad_chat_t *c, const char *chat);
/* The buckets whose key starts with prefix ("": all), each {model,
 * provider, orgId?, ...} (new reference). */
json_t *ad_chat_limits(ad_chat_t *c, const char *prefix);

/* ---- what a chat request may hold (spec.c), any thread ------------------------------ */
/* A stateless call's sessionId: 1 to 64 of A-Z a-z 0-9 - _, not starting
 * chat_ (a stored chat's events are not to be mixed in). */
bool ad_chat_session_id_ok(const char *id);
/* messages: 1 to 200 {role: user or assistant, content: text}. A new
 * array with just those, or NULL with why saying what is wrong. */
json_t *ad_chat_messages_check(const json_t *in, char *why, size_t whysz);
/* The model an agent definition stands for: its own (Claude Code's aliases
 * understood), else one for its tier; NULL: keep the default. Borrowed
 * from def or static. */
const char *ad_chat_def_model(const json_t *def);

#endif
