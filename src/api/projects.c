/* SPDX-License-Identifier: MIT */
/*
 * /api/projects: a conversation's messages and the files it produced,
 * saved together (src/store/projects.c). A PUT replaces them in one
 * transaction, as the seed's save_project; a PATCH of files creates,
 * changes and deletes by path, all or none. Paths are relative, without
 * "." or ".." segments, backslashes or control characters; sizes are
 * capped. The fenced code blocks of a chat answer that name a file can be
 * saved into a project. Taking a project out (export, archive, commit) is
 * project_out.c's.
 * Its routes are listed in docs/api.md, their bodies and answers in
 * docs/workbench.md.
 */
#include "api/workbench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The project of :id, visible to the caller (new reference), or NULL after
 * answering 404. */
static json_t *project_row(ad_app_t *app, ad_req_t *r)
{
    return ad_api_row_load(app, r, ad_store_project_get, "project");
}

static void publish(ad_app_t *app, json_t *p, const char *change)
{
    json_t *ev = json_pack("{s:s, s:s}", "id", ad_api_jstr(p, "id"), "change", change);
    json_object_set(ev, "project", p);
    ad_api_publish(app, "project_update", ev, "project", ad_api_jstr(p, "id"), "org",
                   ad_api_jstr(p, "orgId"), NULL);
    json_decref(ev);
    ad_api_project_sync_push(app, ad_api_jstr(p, "id")); /* its folder, if it has one */
}

void ad_api_project_changed(ad_app_t *app, const char *id, const char *change)
{
    json_t *p = NULL;
    if (ad_store_project_get(app->store, id, &p) == 0) {
        publish(app, p, change);
    }
    json_decref(p);
}

static void created(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "project", NULL);
        return;
    }
    json_t *p = json_object_get(result, "project");
    publish(app, p, "created");
    ad_res_json(r, 201, json_incref(p));
}

static void create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *name = NULL, *desc = NULL, *user = NULL, *chat = NULL;
    char org[AD_ID_MAX], id[AD_ID_MAX];
    json_t *body = NULL;
    if (!ad_api_need_store(app, r) || (body = ad_req_json(r)) == NULL) {
        return;
    }
    bool from_chat = json_is_string(json_object_get(body, "chatId"));
    if (ad_api_str(r, body, "name", !from_chat, 200, &name) == 0 &&
        ad_api_str(r, body, "description", false, 4000, &desc) == 0 &&
        ad_api_str(r, body, "userId", false, 200, &user) == 0 &&
        ad_api_str(r, body, "chatId", false, AD_ID_MAX - 1, &chat) == 0 &&
        ad_api_org_for(app, r, body, org) == 0) {
        json_t *c = NULL;
        bool chat_ok = chat == NULL || (ad_store_chat_get(app->store, chat, &c) == 0 &&
                                        strcmp(ad_api_jstr(c, "orgId"), org) == 0);
        if (name == NULL && chat_ok) { /* made from a chat: named after it */
            const char *title = ad_api_jstr(c, "title");
            json_object_set_new(body, "name",
                                json_string(title != NULL && title[0] != '\0' ? title : "Chat"));
            name = ad_api_jstr(body, "name");
        }
        json_decref(c);
        if (chat_ok && name[0] == '\0') {
            ad_api_invalid(r, "name", "must not be empty");
        } else if (!chat_ok) {
            ad_api_invalid(r, "chatId", "is not a chat of this organisation");
        } else {
            ad_id_new("proj", id);
            json_t *args = json_pack("{s:s, s:s, s:s, s:I}", "id", id, "orgId", org, "name", name,
                                     "now", (json_int_t)ad_wall_ms());
            json_object_set(args, "description", json_object_get(body, "description"));
            json_object_set(args, "userId", json_object_get(body, "userId"));
            json_object_set(args, "chatId", json_object_get(body, "chatId"));
            ad_api_write(app, r, ad_store_op_project_insert, args, created);
        }
    }
    json_decref(body);
}

static void list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *rows = NULL;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    const char *user = ad_req_query(r, "userId");
    int rc = ad_store_project_list(app->store, ad_principal_filter(ad_api_who(r)), user, &rows);
    if (rc != 0) {
        ad_api_fail(r, rc, "projects", NULL);
        return;
    }
    ad_res_json(r, 200, json_pack("{s:o}", "projects", rows));
}

static void loaded(int rc, json_t *p, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_api_fail(r, rc, "project", NULL);
        return;
    }
    ad_res_json(r, 200, p);
}

static void get(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = project_row(app, r);
    if (p != NULL) {
        ad_store_project_load(app->store, ad_api_jstr(p, "id"), loaded, r);
        json_decref(p);
    }
}

/* ---- checks of what is saved (src/llm/export.c) ---------------------------------------- */

/* 0, or -1 after answering 422 naming the field. *total adds the bytes. */
static int check_files(ad_req_t *r, json_t *files, const char *field, bool patch, size_t *total)
{
    char f[64], why[96];
    return ad_llm_project_files_check(files, field, patch, total, f, sizeof(f), why, sizeof(why)) ==
                   0
               ? 0
               : ad_api_invalid(r, f, why);
}

static int check_messages(ad_req_t *r, json_t *msgs, size_t *total)
{
    char f[48], why[96];
    return ad_llm_project_messages_check(msgs, total, f, sizeof(f), why, sizeof(why)) == 0
               ? 0
               : ad_api_invalid(r, f, why);
}

static void saved(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "project", NULL);
        return;
    }
    json_t *p = json_object_get(result, "project");
    publish(app, p, "saved");
    ad_res_json(r, 200, json_incref(p));
}

static void save(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = project_row(app, r), *body = NULL;
    const char *name = NULL, *desc = NULL;
    size_t total = 0;
    if (p == NULL || (body = ad_req_json(r)) == NULL) {
        json_decref(p);
        return;
    }
    json_t *msgs = json_object_get(body, "messages"), *files = json_object_get(body, "files");
    if (ad_api_str(r, body, "name", false, 200, &name) == 0 &&
        ad_api_str(r, body, "description", false, 4000, &desc) == 0 &&
        (msgs == NULL || check_messages(r, msgs, &total) == 0) &&
        (files == NULL || check_files(r, files, "files", false, &total) == 0)) {
        json_t *args =
            json_pack("{s:s, s:I}", "id", ad_api_jstr(p, "id"), "now", (json_int_t)ad_wall_ms());
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
        ad_api_write(app, r, ad_store_op_project_save, args, saved);
    }
    json_decref(body);
    json_decref(p);
}

static void files_written(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc == AD_ENOENT) {
        ad_res_error(r, 404, "NOT_FOUND", NULL, "%s",
                     ad_api_jstr(result, "reason") ? ad_api_jstr(result, "reason") : "not found");
        return;
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "project files", NULL);
        return;
    }
    json_t *p = NULL;
    if (ad_store_project_get(app->store, ad_api_jstr(result, "id"), &p) == 0) {
        publish(app, p, "files");
        json_decref(p);
    }
    ad_res_json(r, 200, json_incref(result));
}

/* Queues a files change of project p: changes is borrowed. */
static void write_files(ad_app_t *app, ad_req_t *r, json_t *p, json_t *changes)
{
    ad_api_write(app, r, ad_store_op_project_files,
                 json_pack("{s:s, s:O, s:I}", "id", ad_api_jstr(p, "id"), "changes", changes, "now",
                           (json_int_t)ad_wall_ms()),
                 files_written);
}

static void patch_files(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = project_row(app, r), *body = NULL;
    size_t total = 0;
    if (p == NULL || (body = ad_req_json(r)) == NULL) {
        json_decref(p);
        return;
    }
    json_t *changes = json_object_get(body, "changes");
    if (changes == NULL) {
        ad_api_invalid(r, "changes", "is required");
    } else if (check_files(r, changes, "changes", true, &total) == 0) {
        write_files(app, r, p, changes);
    }
    json_decref(body);
    json_decref(p);
}

static void from_message(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = project_row(app, r), *body = NULL, *chat = NULL, *msgs = NULL;
    const char *chat_id = NULL, *msg_id = NULL;
    if (p == NULL || (body = ad_req_json(r)) == NULL ||
        ad_api_str(r, body, "chatId", true, AD_ID_MAX - 1, &chat_id) != 0 ||
        ad_api_str(r, body, "messageId", true, AD_ID_MAX - 1, &msg_id) != 0) {
        goto out;
    }
    if (ad_store_chat_get(app->store, chat_id, &chat) != 0 ||
        !ad_principal_sees(ad_api_who(r), ad_api_jstr(chat, "orgId")) ||
        ad_store_chat_messages(app->store, chat_id, 1000, &msgs) != 0) {
        ad_api_invalid(r, "chatId", "is not a chat you can see");
        goto out;
    }
    const char *content = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        if (strcmp(ad_api_jstr(m, "id"), msg_id) == 0) {
            content = ad_api_jstr(m, "content");
        }
    }
    json_t *changes = content != NULL ? ad_llm_code_files(content) : NULL;
    if (content == NULL) {
        ad_api_invalid(r, "messageId", "is not a message of that chat");
    } else if (json_array_size(changes) == 0) {
        ad_api_invalid(r, "messageId", "has no code block that names a file");
    } else {
        write_files(app, r, p, changes);
    }
    json_decref(changes);
out:
    json_decref(msgs);
    json_decref(chat);
    json_decref(body);
    json_decref(p);
}

static void deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(app);
    if (rc != 0) {
        ad_api_fail(r, rc, "project", NULL);
        return;
    }
    ad_res_json(r, 200, json_incref(result));
}

static void delete_project(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = project_row(app, r);
    if (p != NULL) {
        ad_api_write(app, r, ad_store_op_project_delete,
                     json_pack("{s:s}", "id", ad_api_jstr(p, "id")), deleted);
        json_decref(p);
    }
}

void ad_api_projects_register(ad_app_t *app)
{
    ad_server_route(app->server, "POST", "/api/projects", AD_ACCESS_WRITE, create, app);
    ad_server_route(app->server, "GET", "/api/projects", AD_ACCESS_READ, list, app);
    ad_server_route(app->server, "GET", "/api/projects/:id", AD_ACCESS_READ, get, app);
    ad_server_route(app->server, "PUT", "/api/projects/:id", AD_ACCESS_WRITE, save, app);
    ad_server_route(app->server, "PATCH", "/api/projects/:id/files", AD_ACCESS_WRITE, patch_files,
                    app);
    ad_server_route(app->server, "POST", "/api/projects/:id/files/from-message", AD_ACCESS_WRITE,
                    from_message, app);
    ad_server_route(app->server, "DELETE", "/api/projects/:id", AD_ACCESS_WRITE, delete_project,
                    app);
    ad_api_project_out_register(app);
}
