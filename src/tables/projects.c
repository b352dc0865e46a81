/* SPDX-License-Identifier: MIT */
/*
 * Projects of the LLM workbench: the row, its ordered messages and its
 * files by path. A save replaces what it is given in its one job (one
 * transaction); a whole project is read on the thread pool. What a valid
 * path or size is, is the REST layer's (src/api/projects.c).
 */
#include "store/table.h"
#include "tables/llm.h"

#include <stdlib.h>
#include <string.h>

#define PROJ_COLS "id, org_id, user_id, name, description, chat_id, created_at, updated_at"
#define PROJ_NULLS "user_id,description,chat_id"

/* With the usage of the chats that belong to the project. */
static const char SQL_PROJ_GET[] =
    "SELECT " PROJ_COLS ", (SELECT coalesce(sum(input_tokens), 0) FROM llm_chats c WHERE "
    "c.project_id = p.id) AS input_tokens, (SELECT coalesce(sum(output_tokens), 0) FROM "
    "llm_chats c WHERE c.project_id = p.id) AS output_tokens, (SELECT coalesce(sum(cost_usd), "
    "0.0) FROM llm_chats c WHERE c.project_id = p.id) AS cost_usd FROM llm_projects p WHERE id "
    "= ?1";
static const char SQL_PROJ_LIST[] =
    "SELECT " PROJ_COLS ", (SELECT count(*) FROM llm_project_files f WHERE f.project_id = p.id) "
    "AS file_count FROM llm_projects p WHERE (?1 = '' OR org_id = ?1) AND (?2 IS NULL OR user_id "
    "= ?2) ORDER BY updated_at DESC, id DESC LIMIT 500";
static const char SQL_PROJ_INSERT[] =
    "INSERT INTO llm_projects(id, org_id, user_id, name, description, chat_id, created_at, "
    "updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)";
static const char SQL_PROJ_UPDATE[] =
    "UPDATE llm_projects SET name = coalesce(?2, name), description = CASE WHEN ?3 THEN ?4 ELSE "
    "description END, updated_at = ?5 WHERE id = ?1";
static const char SQL_PROJ_DELETE[] = "DELETE FROM llm_projects WHERE id = ?1";
static const char SQL_PMSG_CLEAR[] = "DELETE FROM llm_project_messages WHERE project_id = ?1";
static const char SQL_PMSG_ADD[] =
    "INSERT INTO llm_project_messages(project_id, position, role, content, created_at) "
    "VALUES(?1, ?2, ?3, ?4, ?5)";
static const char SQL_PMSG_ALL[] = "SELECT position, role, content, created_at FROM "
                                   "llm_project_messages WHERE project_id = ?1 ORDER BY position";
static const char SQL_PFILE_CLEAR[] = "DELETE FROM llm_project_files WHERE project_id = ?1";
static const char SQL_PFILE_PUT[] =
    "INSERT INTO llm_project_files(project_id, path, content, size, updated_at) "
    "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(project_id, path) DO UPDATE SET content = ?3, "
    "size = ?4, updated_at = ?5";
static const char SQL_PFILE_DEL[] =
    "DELETE FROM llm_project_files WHERE project_id = ?1 AND path = ?2";
static const char SQL_PFILE_ALL[] = "SELECT path, content, size, updated_at FROM "
                                    "llm_project_files WHERE project_id = ?1 ORDER BY path";
static const char SQL_PFILE_LIST[] = "SELECT path, size, updated_at FROM llm_project_files "
                                     "WHERE project_id = ?1 ORDER BY path";

static int proj_read(ad_db_t *db, const char *id, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_PROJ_GET);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_one_json(db, s, NULL, PROJ_NULLS, out);
}

int ad_store_project_get(ad_store_t *st, const char *id, json_t **out)
{
    return proj_read(ad_store_rdb(st), id, out);
}

static int all_rows(ad_db_t *db, const char *sql, const char *id, json_t **out)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, ad_store_row_json(s, NULL, NULL));
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

int ad_store_project_list(ad_store_t *st, const char *org, const char *user_id, json_t **out)
{
    ad_db_t *db = ad_store_rdb(st);
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_PROJ_LIST);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, org != NULL ? org : "");
    ad_store_bind_text(s, 2, user_id);
    json_t *arr = json_array();
    int rc;
    while ((rc = ad_db_step(s)) == AD_DB_ROW) {
        json_array_append_new(arr, ad_store_row_json(s, NULL, PROJ_NULLS));
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

/* ---- the whole project, on the pool ---------------------------------------------------- */

typedef struct {
    char id[AD_ID_MAX];
    json_t *out;
    ad_store_result_cb cb;
    void *ud;
} load_t;

static int load_read(ad_db_t *db, void *ctx)
{
    load_t *l = ctx;
    json_t *p = NULL, *msgs = NULL, *files = NULL;
    int rc = proj_read(db, l->id, &p);
    if (rc == 0) {
        rc = all_rows(db, SQL_PMSG_ALL, l->id, &msgs);
    }
    if (rc == 0) {
        rc = all_rows(db, SQL_PFILE_ALL, l->id, &files);
    }
    if (rc == 0) {
        json_object_set_new(p, "messages", msgs);
        json_object_set_new(p, "files", files);
        l->out = p;
        return 0;
    }
    json_decref(p);
    json_decref(msgs);
    return rc;
}

static void load_done(int rc, void *ctx)
{
    load_t *l = ctx;
    l->cb(rc, rc == 0 ? l->out : NULL, l->ud);
    if (rc != 0) {
        json_decref(l->out);
    }
    free(l);
}

void ad_store_project_load(ad_store_t *st, const char *id, ad_store_result_cb cb, void *ud)
{
    load_t *l = ad_xcalloc(1, sizeof(*l));
    snprintf(l->id, sizeof(l->id), "%s", id);
    l->cb = cb;
    l->ud = ud;
    ad_store_read_async(st, load_read, load_done, l);
}

/* ---- writes ------------------------------------------------------------------------------- */

/* A project made from a chat keeps its conversation (issue #40, the
 * workbench seed's "Save to project"): the chat's system prompt, then its
 * messages that have text, in order; and the chat is the project's. */
static int chat_to_project(ad_db_t *db, const char *project, const char *chat)
{
    static const char *const sql[] = {
        "INSERT INTO llm_project_messages (project_id, position, role, content, created_at) "
        "SELECT ?1, 0, 'system', system, created_at FROM llm_chats WHERE id = ?2 AND "
        "COALESCE(system, '') != ''",
        "INSERT INTO llm_project_messages (project_id, position, role, content, created_at) "
        "SELECT ?1, ?3 + ROW_NUMBER() OVER (ORDER BY created_at, id) - 1, role, content, "
        "created_at FROM llm_messages WHERE chat_id = ?2 AND content != '' "
        "ORDER BY created_at, id",
        "UPDATE llm_chats SET project_id = ?1 WHERE id = ?2",
    };
    int rc = 0, first = 0; /* the first message's position: after the system prompt's */
    for (size_t i = 0; i < AD_ARRAY_LEN(sql) && rc == 0; i++) {
        ad_db_stmt_t *s = ad_store_stmt(db, sql[i]);
        if (s == NULL) {
            return AD_EINTERNAL;
        }
        ad_store_bind_text(s, 1, project);
        ad_store_bind_text(s, 2, chat);
        if (i == 1) {
            ad_db_bind_int(s, 3, first);
        }
        rc = ad_store_step_done(db, s);
        first = i == 0 ? ad_db_changes(db) : first;
    }
    return rc;
}

int ad_store_op_project_insert(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_PROJ_INSERT);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    const char *id = ad_args_str(args, "id");
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, ad_args_str(args, "orgId"));
    ad_store_bind_text(s, 3, ad_args_str(args, "userId"));
    ad_store_bind_text(s, 4, ad_args_str(args, "name"));
    ad_store_bind_text(s, 5, ad_args_str(args, "description"));
    ad_store_bind_text(s, 6, ad_args_str(args, "chatId"));
    ad_db_bind_int64(s, 7, ad_args_int(args, "now", 0));
    int rc = ad_store_step_done(db, s);
    const char *chat = ad_args_str(args, "chatId");
    if (rc == 0 && chat != NULL && chat[0] != '\0') {
        rc = chat_to_project(db, id, chat);
    }
    json_t *p = NULL;
    if (rc == 0 && (rc = proj_read(db, id, &p)) == 0) {
        *result = json_pack("{s:o}", "project", p);
    }
    return rc;
}

static int by_id(ad_db_t *db, const char *sql, const char *id)
{
    ad_db_stmt_t *s = ad_store_stmt(db, sql);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    return ad_store_step_done(db, s);
}

static int put_messages(ad_db_t *db, const char *id, json_t *msgs, int64_t now)
{
    int rc = by_id(db, SQL_PMSG_CLEAR, id);
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        ad_db_stmt_t *s = rc == 0 ? ad_store_stmt(db, SQL_PMSG_ADD) : NULL;
        if (s == NULL) {
            return rc != 0 ? rc : AD_EINTERNAL;
        }
        ad_store_bind_text(s, 1, id);
        ad_db_bind_int64(s, 2, (int64_t)i);
        ad_store_bind_text(s, 3, ad_args_str(m, "role"));
        ad_store_bind_text(s, 4, ad_args_str(m, "content"));
        ad_db_bind_int64(s, 5, now);
        rc = ad_store_step_done(db, s);
    }
    return rc;
}

static int put_file(ad_db_t *db, const char *id, json_t *f, int64_t now)
{
    const char *path = ad_args_str(f, "path");
    json_t *content = json_object_get(f, "content");
    ad_db_stmt_t *s;
    if (json_is_true(json_object_get(f, "delete"))) {
        if ((s = ad_store_stmt(db, SQL_PFILE_DEL)) == NULL) {
            return AD_EINTERNAL;
        }
        ad_store_bind_text(s, 1, id);
        ad_store_bind_text(s, 2, path);
        int rc = ad_store_step_done(db, s);
        return rc == 0 && ad_db_changes(db) == 0 ? AD_ENOENT : rc;
    }
    if ((s = ad_store_stmt(db, SQL_PFILE_PUT)) == NULL) {
        return AD_EINTERNAL;
    }
    ad_store_bind_text(s, 1, id);
    ad_store_bind_text(s, 2, path);
    ad_db_bind_text(s, 3, json_string_value(content), (int)json_string_length(content),
                    AD_DB_TRANSIENT);
    ad_db_bind_int64(s, 4, (int64_t)json_string_length(content));
    ad_db_bind_int64(s, 5, now);
    return ad_store_step_done(db, s);
}

static int put_files(ad_db_t *db, const char *id, json_t *files, bool replace, int64_t now)
{
    int rc = replace ? by_id(db, SQL_PFILE_CLEAR, id) : 0;
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f)
    {
        if (rc == 0) {
            rc = put_file(db, id, f, now);
        }
    }
    return rc;
}

static int touch(ad_db_t *db, json_t *args)
{
    ad_db_stmt_t *s = ad_store_stmt(db, SQL_PROJ_UPDATE);
    if (s == NULL) {
        return AD_EINTERNAL;
    }
    json_t *desc = json_object_get(args, "description");
    ad_store_bind_text(s, 1, ad_args_str(args, "id"));
    ad_store_bind_text(s, 2, ad_args_str(args, "name"));
    ad_db_bind_int(s, 3, desc != NULL);
    ad_store_bind_text(s, 4, json_string_value(desc));
    ad_db_bind_int64(s, 5, ad_args_int(args, "now", 0));
    int rc = ad_store_step_done(db, s);
    return rc == 0 && ad_db_changes(db) == 0 ? AD_ENOENT : rc;
}

int ad_store_op_project_save(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *id = ad_args_str(args, "id");
    int64_t now = ad_args_int(args, "now", 0);
    json_t *msgs = json_object_get(args, "messages"), *files = json_object_get(args, "files");
    int rc = touch(db, args);
    if (rc == 0 && msgs != NULL) {
        rc = put_messages(db, id, msgs, now);
    }
    if (rc == 0 && files != NULL) {
        rc = put_files(db, id, files, true, now);
    }
    json_t *p = NULL;
    if (rc == 0 && (rc = proj_read(db, id, &p)) == 0) {
        json_object_set_new(p, "messageCount", json_integer((json_int_t)json_array_size(msgs)));
        json_object_set_new(p, "fileCount", json_integer((json_int_t)json_array_size(files)));
        *result = json_pack("{s:o}", "project", p);
    }
    return rc;
}

int ad_store_op_project_files(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    ad_db_t *db = tx->db;
    const char *id = ad_args_str(args, "id");
    int rc = touch(db, args);
    if (rc == 0) {
        rc =
            put_files(db, id, json_object_get(args, "changes"), false, ad_args_int(args, "now", 0));
    }
    if (rc == AD_ENOENT) {
        *result = json_pack("{s:s}", "reason", "a file to delete does not exist");
    }
    json_t *files = NULL;
    if (rc == 0 && (rc = all_rows(db, SQL_PFILE_LIST, id, &files)) == 0) {
        *result = json_pack("{s:s, s:o}", "id", id, "files", files);
    }
    return rc;
}

int ad_store_op_project_delete(ad_store_tx_t *tx, json_t *args, json_t **result)
{
    const char *id = ad_args_str(args, "id");
    int rc = by_id(tx->db, SQL_PROJ_DELETE, id);
    if (rc == 0 && ad_db_changes(tx->db) == 0) {
        rc = AD_ENOENT;
    }
    if (rc == 0) {
        *result = json_pack("{s:s, s:b}", "id", id, "deleted", 1);
    }
    return rc;
}
