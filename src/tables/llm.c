/* SPDX-License-Identifier: MIT */
/*
 * The LLM workbench's rows: chats, their messages (an answer is written
 * twice: as a streaming placeholder when it starts, with its text, status
 * and usage when it ends, together with the chat's totals and the usage
 * tables), and the metadata of provider credentials. The keys are not
 * here (src/api/creds.c keeps them in 0600 files).
 */
#include "store/table.h"
#include "tables/llm.h"
#include "tables/usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_COLS                                                                                  \
    "id, org_id, title, provider, model, system, definition, project_id, temperature, "            \
    "max_tokens, "                                                                                 \
    "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, created_at, "   \
    "updated_at"
#define CHAT_NULLS "title,system,definition,project_id,temperature,max_tokens"
#define LMSG_COLS                                                                                  \
    "id, chat_id, role, content, status, error, model, stop_reason, input_tokens, "                \
    "output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, attempts, created_at, "       \
    "updated_at, tool_calls"
#define LMSG_JSON "tool_calls"
#define CRED_COLS                                                                                  \
    "org_id, provider, last4, email, base_url, status, status_reason, validated_at, created_at, "  \
    "updated_at"
#define CRED_NULLS "email,base_url,status_reason,validated_at"

static const char SQL_CHAT_GET[] = "SELECT " CHAT_COLS " FROM llm_chats WHERE id = ?1";
static const char SQL_CHAT_LIST[] = "SELECT " CHAT_COLS " FROM llm_chats WHERE ?1 = '' OR "
                                    "org_id = ?1 ORDER BY updated_at DESC, id DESC LIMIT ?2";
static const char SQL_CHAT_INSERT[] =
    "INSERT INTO llm_chats(id, org_id, title, model, system, definition, project_id, "
    "temperature, max_tokens, created_at, updated_at, provider) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, coalesce(?11, 'anthropic'))";
static const char SQL_CHAT_DELETE[] = "DELETE FROM llm_chats WHERE id = ?1";
static const char SQL_LMSG_GET[] = "SELECT " LMSG_COLS " FROM llm_messages WHERE id = ?1";
static const char SQL_LMSG_LAST[] = "SELECT " LMSG_COLS " FROM llm_messages WHERE chat_id = ?1 "
                                    "ORDER BY created_at DESC, id DESC LIMIT ?2";
/* A page older than the message ?3 (of the same chat), newest first. */
static const char SQL_LMSG_BEFORE[] =
    "SELECT " LMSG_COLS " FROM llm_messages WHERE chat_id = ?1 AND (created_at, id) < "
    "(SELECT created_at, id FROM llm_messages WHERE id = ?3 AND chat_id = ?1) "
    "ORDER BY created_at DESC, id DESC LIMIT ?2";
static const char SQL_LMSG_IN_CHAT[] = "SELECT 1 FROM llm_messages WHERE id = ?2 AND chat_id = ?1";
static const char SQL_LMSG_INSERT[] =
    "INSERT INTO llm_messages(id, chat_id, role, content, status, model, created_at, updated_at) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";
static const char SQL_LMSG_END[] =
    "UPDATE llm_messages SET content = ?2, status = ?3, error = ?4, model = ?5, stop_reason = "
    "?6, input_tokens = ?7, output_tokens = ?8, cache_read_tokens = ?9, cache_write_tokens = "
    "?10, cost_usd = ?11, attempts = ?12, updated_at = ?13, tool_calls = ?14 WHERE id = ?1 AND "
    "status = "
    "'streaming'";
static const char SQL_CHAT_ADD[] =
    "UPDATE llm_chats SET input_tokens = input_tokens + ?2, output_tokens = output_tokens + ?3, "
    "cache_read_tokens = cache_read_tokens + ?4, cache_write_tokens = cache_write_tokens + ?5, "
    "cost_usd = cost_usd + ?6, updated_at = ?7 WHERE id = ?1";
static const char SQL_CHAT_TOUCH[] =
    "UPDATE llm_chats SET updated_at = ?2, title = coalesce(title, ?3) WHERE id = ?1";
static const char SQL_LMSG_LOST[] =
    "UPDATE llm_messages SET status = 'interrupted', error = 'agentd stopped while it streamed', "
    "updated_at = ?1 WHERE status = 'streaming'";
static const char SQL_CRED_GET[] =
    "SELECT " CRED_COLS " FROM llm_credentials WHERE org_id = ?1 AND provider = ?2";
static const char SQL_CRED_LIST[] = "SELECT " CRED_COLS " FROM llm_credentials WHERE ?1 = '' OR "
                                    "org_id = ?1 ORDER BY org_id, provider";
static const char SQL_CRED_UPSERT[] =
    "INSERT INTO llm_credentials(org_id, provider, last4, email, base_url, created_at, "
    "updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT(org_id, provider) DO UPDATE SET "
    "last4 = ?3, email = ?4, base_url = CASE WHEN ?7 <> 0 THEN ?5 ELSE "
    "llm_credentials.base_url END, "
    "status = 'unchecked', status_reason = NULL, validated_at = NULL, updated_at = ?6";
static const char SQL_CRED_DELETE[] =
    "DELETE FROM llm_credentials WHERE org_id = ?1 AND provider = ?2";
static const char SQL_CRED_STATUS[] =
    "UPDATE llm_credentials SET status = ?3, status_reason = ?4, validated_at = ?5 "
    "WHERE org_id = ?1 AND provider = ?2";

static int one_by_id(ad_db_t *db, const char *sql, const char *id, const char *nulls,
                     const char *json_cols, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_json(db, s, json_cols, nulls, out);
}

int ad_store_chat_get(ad_store_t *st, const char *id, json_t **out)
{
    return one_by_id(ad_store_rdb(st), SQL_CHAT_GET, id, CHAT_NULLS, NULL, out);
}

/* Rows of chats, messages or credentials; a message's tool_calls is JSON. */
static int rows(ad_db_t *db, ad_db_stmt_t *s, const char *nulls, json_t **out)
{
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, ad_store_row_json(s, LMSG_JSON, nulls));
    }
    int e = rc == AD_DB_DONE ? 0 : ad_store_rc(db, rc);
    ad_db_reset(s);
    if (e != 0) {
        json_decref(arr);
        return e;
    }
    *out = arr;
    return 0;
}

int ad_store_chat_list(ad_store_t *st, const char *org, int limit, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CHAT_LIST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    ad_db_bind_int(s, 2, limit > 0 && limit <= 1000 ? limit : 100);
    return rows(db, s, CHAT_NULLS, out);
}

int ad_store_chat_messages(ad_store_t *st, const char *chat_id, int limit, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_LMSG_LAST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, chat_id);
    ad_db_bind_int(s, 2, limit > 0 && limit <= 10000 ? limit : 1000);
    json_t *desc = NULL;
    int rc = rows(db, s, NULL, &desc);
    if (rc != 0) {
        return rc;
    }
    /* Read newest first (the last `limit`), given oldest first. */
    json_t *asc = json_array();
    for (size_t i = json_array_size(desc); i > 0; i--) {
        json_array_append(asc, json_array_get(desc, i - 1));
    }
    json_decref(desc);
    *out = asc;
    return 0;
}

/* ---- a chat's messages on the pool -------------------------------------------------- */

typedef struct {
    char id[AD_ID_MAX];
    char before[AD_ID_MAX]; /* "" for the newest */
    int limit;
    bool page; /* out is {messages, hasMore} */
    json_t *out;
    ad_store_result_cb cb;
    void *ud;
} msgs_job_t;

/* Whether message id is one of chat's: 0, AD_ENOENT or an error. */
static int msg_in_chat(ad_db_t *db, const char *chat, const char *id)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_LMSG_IN_CHAT);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, chat);
    ad_store_bind_text(s, 2, id);
    int src = ad_db_step(s);
    ad_db_reset(s);
    return src == AD_DB_ROW ? 0 : src == AD_DB_DONE ? AD_ENOENT : ad_store_rc(db, src);
}

static int msgs_read(ad_db_t *db, void *ctx)
{
    msgs_job_t *j = ctx;
    if (j->before[0] != '\0') {
        int rc = msg_in_chat(db, j->id, j->before);
        if (rc != 0) {
            return rc;
        }
    }
    ad_db_stmt_t *s = ad_store_stmt(db, j->before[0] ? SQL_LMSG_BEFORE : SQL_LMSG_LAST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, j->id);
    ad_db_bind_int(s, 2, j->page ? j->limit + 1 : j->limit); /* one more: is there more? */
    if (j->before[0] != '\0') {
        ad_store_bind_text(s, 3, j->before);
    }
    json_t *desc = NULL;
    int rc = rows(db, s, NULL, &desc);
    if (rc == 0) {
        bool more = j->page && json_array_size(desc) > (size_t)j->limit;
        json_t *asc = json_array();
        for (size_t i = json_array_size(desc) - (more ? 1 : 0); i > 0; i--) {
            json_array_append(asc, json_array_get(desc, i - 1));
        }
        json_decref(desc);
        j->out = j->page ? json_pack("{s:o, s:b}", "messages", asc, "hasMore", more) : asc;
    }
    return rc;
}

static void msgs_done(int rc, void *ctx)
{
    msgs_job_t *j = ctx;
    j->cb(rc, rc == 0 ? j->out : NULL, j->ud);
    if (rc != 0) {
        json_decref(j->out);
    }
    free(j);
}

void ad_store_chat_messages_page(ad_store_t *st, const char *chat_id, const char *before, int limit,
                                 ad_store_result_cb cb, void *ud)
{
    msgs_job_t *j = ad_xcalloc(1, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "%s", chat_id);
    snprintf(j->before, sizeof(j->before), "%s", before != NULL ? before : "");
    j->limit = limit > 0 && limit <= 10000 ? limit : 100;
    j->page = true;
    j->cb = cb;
    j->ud = ud;
    ad_store_read_async(st, msgs_read, msgs_done, j);
}

static void bind_opt_real(ad_db_stmt_t *s, int i, json_t *v)
{
    if (json_is_number(v)) {
        ad_db_bind_double(s, i, json_number_value(v));
    } else {
        ad_db_bind_null(s, i);
    }
}

int ad_store_op_chat_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CHAT_INSERT);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *id = ad_args_str(args, "id");
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, ad_args_str(args, "orgId"));
    ad_store_bind_text(s, 3, ad_args_str(args, "title"));
    ad_store_bind_text(s, 4, ad_args_str(args, "model"));
    ad_store_bind_text(s, 5, ad_args_str(args, "system"));
    ad_store_bind_text(s, 6, ad_args_str(args, "definition"));
    ad_store_bind_text(s, 7, ad_args_str(args, "projectId"));
    bind_opt_real(s, 8, json_object_get(args, "temperature"));
    bind_opt_real(s, 9, json_object_get(args, "maxTokens"));
    ad_db_bind_int64(s, 10, ad_args_int(args, "now", 0));
    ad_store_bind_text(s, 11, ad_args_str(args, "provider"));
    int rc = ad_store_step_done(db, s);
    json_t *chat = NULL;
    if (rc == 0) {
        rc = one_by_id(db, SQL_CHAT_GET, id, CHAT_NULLS, NULL, &chat);
    }
    if (rc == 0) {
        *result = json_pack("{s:o}", "chat", chat);
    }
    return rc;
}

int ad_store_op_chat_delete(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CHAT_DELETE);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    int rc = ad_store_step_done(db, s);
    if (rc == 0 && ad_db_changes(db) == 0) {
        rc = AD_ENOENT;
    }
    if (rc == 0) {
        *result = json_pack("{s:s, s:b}", "id", ad_args_str(args, "id"), "deleted", 1);
    }
    return rc;
}

static int msg_insert(ad_db_t *db, const char *id, const char *chat, const char *role,
                      const char *content, const char *status, const char *model, int64_t now)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_LMSG_INSERT);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, chat);
    ad_store_bind_text(s, 3, role);
    ad_store_bind_text(s, 4, content);
    ad_store_bind_text(s, 5, status);
    ad_store_bind_text(s, 6, model);
    ad_db_bind_int64(s, 7, now);
    return ad_store_step_done(db, s);
}

/* The chat's title, when it has none yet: the first line of the first
 * message, at most 60 bytes cut on a UTF-8 boundary. */
static void title_of(const char *content, char out[64])
{
    size_t n = strcspn(content, "\n");
    if (n > 60) {
        n = 60;
    }
    n = ad_utf8_valid_prefix(content, n);
    memcpy(out, content, n);
    out[n] = '\0';
}

int ad_store_op_chat_turn_begin(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *chat = ad_args_str(args, "chatId");
    const char *uid = ad_args_str(args, "userId");
    const char *aid = ad_args_str(args, "assistantId");
    const char *content = ad_args_str(args, "content");
    int64_t now = ad_args_int(args, "now", 0);
    char title[64];
    title_of(content != NULL ? content : "", title);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CHAT_TOUCH);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, chat);
    ad_db_bind_int64(s, 2, now);
    ad_store_bind_text(s, 3, title);
    int rc = ad_store_step_done(db, s);
    if (rc == 0 && ad_db_changes(db) == 0) {
        rc = AD_ENOENT;
    }
    /* The answer is one millisecond later, so the pair reads in order. */
    if (rc == 0) {
        rc = msg_insert(db, uid, chat, "user", content, "complete", NULL, now);
    }
    if (rc == 0) {
        rc = msg_insert(db, aid, chat, "assistant", "", "streaming", ad_args_str(args, "model"),
                        now + 1);
    }
    json_t *u = NULL, *a = NULL;
    if (rc == 0 && (rc = one_by_id(db, SQL_LMSG_GET, uid, NULL, LMSG_JSON, &u)) == 0 &&
        (rc = one_by_id(db, SQL_LMSG_GET, aid, NULL, LMSG_JSON, &a)) == 0) {
        *result = json_pack("{s:o, s:o}", "user", u, "assistant", a);
        return 0;
    }
    json_decref(u);
    return rc;
}

static int chat_add(ad_db_t *db, const char *chat, const ad_usage_rec_t *u, int64_t now)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CHAT_ADD);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, chat);
    ad_db_bind_int64(s, 2, u->input_tokens);
    ad_db_bind_int64(s, 3, u->output_tokens);
    ad_db_bind_int64(s, 4, u->cache_read_tokens);
    ad_db_bind_int64(s, 5, u->cache_write_tokens);
    ad_db_bind_double(s, 6, u->cost_usd);
    ad_db_bind_int64(s, 7, now);
    return ad_store_step_done(db, s);
}

int ad_store_op_chat_turn_end(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *id = ad_args_str(args, "messageId");
    int64_t now = ad_args_int(args, "now", 0);
    ad_usage_rec_t u = ad_usage_rec_of_args(args, now);
    u.error = strcmp(ad_args_str(args, "status"), "error") == 0;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_LMSG_END);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, ad_args_str(args, "content"));
    ad_store_bind_text(s, 3, ad_args_str(args, "status"));
    ad_store_bind_text(s, 4, ad_args_str(args, "error"));
    ad_store_bind_text(s, 5, u.model);
    ad_store_bind_text(s, 6, ad_args_str(args, "stopReason"));
    ad_db_bind_int64(s, 7, u.input_tokens);
    ad_db_bind_int64(s, 8, u.output_tokens);
    ad_db_bind_int64(s, 9, u.cache_read_tokens);
    ad_db_bind_int64(s, 10, u.cache_write_tokens);
    ad_db_bind_double(s, 11, u.cost_usd);
    ad_db_bind_int64(s, 12, ad_args_int(args, "attempts", 1));
    ad_db_bind_int64(s, 13, now);
    json_t *tools = json_object_get(args, "toolCalls");
    if (json_array_size(tools) > 0) {
        ad_store_bind_json(s, 14, tools);
    } else {
        ad_db_bind_null(s, 14);
    }
    int rc = ad_store_step_done(db, s);
    if (rc == 0 && ad_db_changes(db) == 0) {
        rc = AD_ENOENT; /* already ended (or the chat was deleted) */
    }
    if (rc == 0) {
        rc = chat_add(db, ad_args_str(args, "chatId"), &u, now);
    }
    if (rc == 0 && (u.input_tokens > 0 || u.output_tokens > 0 || u.error)) {
        rc = ad_store_usage_apply(tx, &u);
    }
    json_t *m = NULL;
    if (rc == 0 && (rc = one_by_id(db, SQL_LMSG_GET, id, NULL, LMSG_JSON, &m)) == 0) {
        *result = json_pack("{s:o}", "message", m);
    }
    return rc;
}

int ad_store_op_chats_reconcile(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_stmt_t *s = ad_store_stmt(tx->db, SQL_LMSG_LOST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_db_bind_int64(s, 1, ad_args_int(args, "now", 0));
    int rc = ad_store_step_done(tx->db, s);
    if (rc == 0) {
        *result = json_pack("{s:i}", "messages", ad_db_changes(tx->db));
    }
    return rc;
}

/* ---- credentials ----------------------------------------------------------------- */

static int cred_read(ad_db_t *db, const char *org, const char *provider, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CRED_GET);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org);
    ad_store_bind_text(s, 2, provider);
    return ad_store_one_json(db, s, NULL, CRED_NULLS, out);
}

int ad_store_cred_get(ad_store_t *st, const char *org, const char *provider, json_t **out)
{
    return cred_read(ad_store_rdb(st), org, provider, out);
}

int ad_store_cred_list(ad_store_t *st, const char *org, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CRED_LIST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    return rows(db, s, CRED_NULLS, out);
}

int ad_store_op_cred_upsert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CRED_UPSERT);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *org = ad_args_str(args, "orgId"), *provider = ad_args_str(args, "provider");
    ad_store_bind_text(s, 1, org);
    ad_store_bind_text(s, 2, provider);
    ad_store_bind_text(s, 3, ad_args_str(args, "last4"));
    ad_store_bind_text(s, 4, ad_args_str(args, "email"));
    ad_store_bind_text(s, 5, ad_args_str(args, "baseUrl"));
    ad_db_bind_int64(s, 6, ad_args_int(args, "now", 0));
    ad_db_bind_int(s, 7, json_is_true(json_object_get(args, "setBaseUrl")) ? 1 : 0);
    int rc = ad_store_step_done(db, s);
    json_t *c = NULL;
    if (rc == 0 && (rc = cred_read(db, org, provider, &c)) == 0) {
        *result = json_pack("{s:o}", "credential", c);
    }
    return rc;
}

int ad_store_op_cred_delete(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_stmt_t *s = ad_store_stmt(tx->db, SQL_CRED_DELETE);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, ad_args_str(args, "orgId"));
    ad_store_bind_text(s, 2, ad_args_str(args, "provider"));
    int rc = ad_store_step_done(tx->db, s);
    if (rc == 0 && ad_db_changes(tx->db) == 0) {
        rc = AD_ENOENT;
    }
    if (rc == 0) {
        *result = json_pack("{s:s, s:b}", "provider", ad_args_str(args, "provider"), "deleted", 1);
    }
    return rc;
}

int ad_store_op_cred_status(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_CRED_STATUS);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *org = ad_args_str(args, "orgId"), *provider = ad_args_str(args, "provider");
    ad_store_bind_text(s, 1, org);
    ad_store_bind_text(s, 2, provider);
    ad_store_bind_text(s, 3, ad_args_str(args, "status"));
    ad_store_bind_text(s, 4, ad_args_str(args, "reason"));
    ad_db_bind_int64(s, 5, ad_args_int(args, "now", 0));
    int rc = ad_store_step_done(db, s);
    json_t *c = NULL;
    if (rc == 0 && (rc = cred_read(db, org, provider, &c)) == 0) {
        *result = json_pack("{s:o}", "credential", c);
    }
    return rc;
}
