/* SPDX-License-Identifier: MIT */
/*
 * tables: the LLM workbench and projects (llm.c, projects.c, projects_sync.c).
 * One family of src/tables, over the store's engine (store/store.h);
 * docs/internals/tables.md.
 */
#ifndef AD_TABLES_LLM_H
#define AD_TABLES_LLM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* ---- the LLM workbench (llm.c) -----------------------------------------------------
 * The chat object: id, orgId, title, provider (anthropic/openai), model, system, definition,
 * projectId, temperature, maxTokens, inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens,
 * costUsd, createdAt, updatedAt. The chat message: id, chatId, role (user/assistant), content,
 * status (complete, streaming, stopped, error, interrupted), error?, model?, stopReason?, token
 * counts, costUsd?, attempts?, createdAt, updatedAt. The credential (metadata only, never the key):
 * orgId, provider, last4, email, baseUrl, status (unchecked/valid/invalid), statusReason,
 * validatedAt, createdAt, updatedAt. Reads on the loop's read connection; writes are ops for
 * ad_store_write.
 */
int ad_store_chat_get(ad_store_t *st, const char *id, json_t **out);
/* The chats of org ("" or NULL: every org), last changed first. Array. */
int ad_store_chat_list(ad_store_t *st, const char *org, int limit, json_t **out);
/* The last limit messages of a chat, oldest first. Array. */
int ad_store_chat_messages(ad_store_t *st, const char *chat_id, int limit, json_t **out);
/* A page of a chat's messages on the pool: the limit messages before the
 * message `before` (NULL: the newest), oldest first, as {messages,
 * hasMore}. AD_ENOENT when before is no message of that chat. */
void ad_store_chat_messages_page(ad_store_t *st, const char *chat_id, const char *before, int limit,
                                 ad_store_result_cb cb, void *ud);
/* args {id, orgId, model, provider?, title?, system?, definition?,
 * projectId?, temperature?, maxTokens?, now}. result {chat}. */
int ad_store_op_chat_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id}: the chat and its messages. result {id, deleted}. */
int ad_store_op_chat_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {chatId, userId, assistantId, content, model, now}: the user's
 * message and a streaming assistant placeholder. result {user, assistant}. */
int ad_store_op_chat_turn_begin(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {chatId, messageId, content, status, error?, model, stopReason?,
 * inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, costUsd,
 * attempts, now}: the answer, the chat's totals and the usage tables, all
 * or nothing. AD_ENOENT when the answer is no longer streaming. result
 * {message}. */
int ad_store_op_chat_turn_end(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {now}: answers a previous daemon left streaming become interrupted. */
int ad_store_op_chats_reconcile(ad_store_tx_t *tx, json_t *args, json_t **result);
int ad_store_cred_get(ad_store_t *st, const char *org, const char *provider, json_t **out);
/* The credentials of org ("" or NULL: every org). Array. */
int ad_store_cred_list(ad_store_t *st, const char *org, json_t **out);
/* args {orgId, provider, last4, email?, baseUrl?, setBaseUrl, now}: status
 * goes back to unchecked; baseUrl changes only with setBaseUrl. result
 * {credential}. */
int ad_store_op_cred_upsert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {orgId, provider}. result {provider, deleted}. */
int ad_store_op_cred_delete(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {orgId, provider, status, reason?, now}. result {credential}. */
int ad_store_op_cred_status(ad_store_tx_t *tx, json_t *args, json_t **result);
/* Projects (projects.c). The project: id, orgId, userId?, name,
 * description?, chatId?, createdAt, updatedAt, and the usage of the chats
 * whose projectId it is (inputTokens, outputTokens, costUsd); loaded whole it also has
 * messages [{position, role, content, createdAt}] and files [{path,
 * content, size, updatedAt}]. */
int ad_store_project_get(ad_store_t *st, const char *id, json_t **out);
/* Of org ("" or NULL: every org) and, when given, user_id; with fileCount.
 * Array, last changed first, at most 500. */
int ad_store_project_list(ad_store_t *st, const char *org, const char *user_id, json_t **out);
/* The whole project, read on the thread pool: cb(rc, project (owned), ud). */
void ad_store_project_load(ad_store_t *st, const char *id, ad_store_result_cb cb, void *ud);
/* args {id, orgId, name, userId?, description?, chatId?, now}. result {project}. */
int ad_store_op_project_insert(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, name?, description?, messages? [{role, content}], files?
 * [{path, content}]}: the given parts replace the stored ones, all in this
 * one transaction. result {project (with messageCount, fileCount)}. */
int ad_store_op_project_save(ad_store_tx_t *tx, json_t *args, json_t **result);
/* args {id, now, changes [{path, content} | {path, delete: true}]}: all or
 * none (AD_ENOENT when a file to delete is not there). result {id, files
 * [{path, size, updatedAt}]}. */
int ad_store_op_project_files(ad_store_tx_t *tx, json_t *args, json_t **result);
/* A project's sync folder (projects_sync.c, migration 2432): set (path) or
 * cleared (NULL), cb gets {id, syncPath?}, AD_ENOENT for no such project;
 * synced: the time its last sync ended; list: [{id, path, syncedAt}] of
 * the synced projects (id NULL: all, at most 100). */
void ad_store_project_sync_set(ad_store_t *st, const char *id, const char *path,
                               ad_store_result_cb cb, void *ud);
void ad_store_project_synced(ad_store_t *st, const char *id, int64_t at, ad_store_result_cb cb,
                             void *ud);
int ad_store_project_sync_list(ad_store_t *st, const char *id, json_t **out);
/* args {id}: the project, its messages and files. result {id, deleted}. */
int ad_store_op_project_delete(ad_store_tx_t *tx, json_t *args, json_t **result);

#endif
