/* SPDX-License-Identifier: MIT */
/*
 * What a project's bodies may hold (issue #30, moved from
 * src/api/projects.c): a new project (named, or after the chat it is made
 * from, which must be its organisation's), a PUT's name, description,
 * messages and files, a PATCH's file changes, and the files a chat
 * answer's code blocks name; each turned into the store's args. The
 * checks of paths, sizes and messages are src/llm/export.c's.
 */
#include "psync/psync.h"
#include "llm/llm.h"
#include "wtree/wtree.h"
#include "tables/llm.h"

#include <string.h>

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

int ad_project_create_args(ad_store_t *st, const json_t *body, const char *org, json_t **out,
                           ad_field_err_t *e)
{
    const char *name = NULL, *desc = NULL, *user = NULL, *chat = NULL;
    bool from_chat = json_is_string(json_object_get(body, "chatId"));
    if (ad_field_str(body, "name", !from_chat, 200, &name, e) != 0 ||
        ad_field_str(body, "description", false, 4000, &desc, e) != 0 ||
        ad_field_str(body, "userId", false, 200, &user, e) != 0 ||
        ad_field_str(body, "chatId", false, AD_ID_MAX - 1, &chat, e) != 0) {
        return AD_EINVAL;
    }
    json_t *c = NULL;
    bool chat_ok = chat == NULL ||
                   (ad_store_chat_get(st, chat, &c) == 0 && strcmp(jstr(c, "orgId"), org) == 0);
    json_t *named = NULL;
    if (name == NULL && chat_ok) { /* made from a chat: named after it */
        const char *title = jstr(c, "title");
        named = json_string(title != NULL && title[0] != '\0' ? title : "Chat");
        name = json_string_value(named);
    }
    int rc = 0;
    if (!chat_ok) {
        rc = ad_field_fail(e, "chatId", "is not a chat of this organisation");
    } else if (name[0] == '\0') {
        rc = ad_field_fail(e, "name", "must not be empty");
    } else {
        char id[AD_ID_MAX];
        ad_id_new("proj", id);
        *out = json_pack("{s:s, s:s, s:s, s:I}", "id", id, "orgId", org, "name", name, "now",
                         (json_int_t)ad_wall_ms());
        json_object_set(*out, "description", json_object_get(body, "description"));
        json_object_set(*out, "userId", json_object_get(body, "userId"));
        json_object_set(*out, "chatId", json_object_get(body, "chatId"));
    }
    json_decref(named);
    json_decref(c);
    return rc;
}

/* src/llm's checks as a field error. */
static int files_ok(const json_t *files, const char *name, bool patch, size_t *total,
                    ad_field_err_t *e)
{
    if (ad_llm_project_files_check(files, name, patch, total, e->field, sizeof(e->field), e->why,
                                   sizeof(e->why)) != 0) {
        return AD_EINVAL;
    }
    return 0;
}

int ad_project_save_args(const char *id, const json_t *body, json_t **out, ad_field_err_t *e)
{
    const char *name = NULL, *desc = NULL;
    size_t total = 0;
    json_t *msgs = json_object_get(body, "messages"), *files = json_object_get(body, "files");
    if (ad_field_str(body, "name", false, 200, &name, e) != 0 ||
        ad_field_str(body, "description", false, 4000, &desc, e) != 0) {
        return AD_EINVAL;
    }
    if (msgs != NULL && ad_llm_project_messages_check(msgs, &total, e->field, sizeof(e->field),
                                                      e->why, sizeof(e->why)) != 0) {
        return AD_EINVAL;
    }
    if (files != NULL && files_ok(files, "files", false, &total, e) != 0) {
        return AD_EINVAL;
    }
    json_t *args = json_pack("{s:s, s:I}", "id", id, "now", (json_int_t)ad_wall_ms());
    if (name != NULL && name[0] != '\0') {
        json_object_set_new(args, "name", json_string(name));
    }
    if (json_object_get(body, "description") != NULL) {
        json_object_set(args, "description", json_object_get(body, "description"));
    }
    if (msgs != NULL) {
        json_object_set(args, "messages", msgs);
    }
    if (files != NULL) {
        json_object_set(args, "files", files);
    }
    *out = args;
    return 0;
}

json_t *ad_project_files_args(const char *id, const json_t *changes)
{
    return json_pack("{s:s, s:O, s:I}", "id", id, "changes", changes, "now",
                     (json_int_t)ad_wall_ms());
}

int ad_project_changes_check(const json_t *body, ad_field_err_t *e)
{
    size_t total = 0;
    json_t *changes = json_object_get(body, "changes");
    if (changes == NULL) {
        return ad_field_fail(e, "changes", "is required");
    }
    return files_ok(changes, "changes", true, &total, e);
}

int ad_project_message_files(ad_store_t *st, const char *chat_id, const char *msg_id, json_t **out,
                             ad_field_err_t *e)
{
    json_t *msgs = NULL;
    if (ad_store_chat_messages(st, chat_id, 1000, &msgs) != 0) {
        return ad_field_fail(e, "chatId", "is not a chat you can see");
    }
    const char *content = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        if (strcmp(jstr(m, "id"), msg_id) == 0) {
            content = jstr(m, "content");
        }
    }
    json_t *changes = content != NULL ? ad_llm_code_files(content) : NULL;
    int rc = 0;
    if (content == NULL) {
        rc = ad_field_fail(e, "messageId", "is not a message of that chat");
    } else if (json_array_size(changes) == 0) {
        rc = ad_field_fail(e, "messageId", "has no code block that names a file");
    } else {
        *out = json_incref(changes);
    }
    json_decref(changes);
    json_decref(msgs);
    return rc;
}

int ad_project_commit_check(const json_t *body, const char **wt_id, ad_field_err_t *e)
{
    const char *dir = NULL, *msg = NULL;
    if (ad_field_str(body, "worktreeId", true, AD_ID_MAX - 1, wt_id, e) != 0 ||
        ad_field_str(body, "path", false, 512, &dir, e) != 0 ||
        ad_field_str(body, "message", false, AD_WTREE_COMMIT_MESSAGE_MAX, &msg, e) != 0) {
        return AD_EINVAL;
    }
    if (dir != NULL && dir[0] != '\0' && !ad_llm_path_ok(dir, strlen(dir))) {
        return ad_field_fail(e, "path", "must be a relative folder without . or .. segments");
    }
    if (msg != NULL && msg[0] == '\0') {
        return ad_field_fail(e, "message", "must not be empty");
    }
    return 0;
}
