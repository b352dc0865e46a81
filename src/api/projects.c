/* SPDX-License-Identifier: MIT */
/*
 * /api/projects: a conversation's messages and the files it produced,
 * saved together (src/tables/projects.c). A PUT replaces them in one
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
#include "psync/psync.h"
#include "tables/llm.h"

/* The project of :id, visible to the caller (new reference), or NULL after
 * answering 404. */
static json_t *project_row(ad_app_t *app, ad_req_t *r)
{
    return ad_api_row_load(app, r, ad_store_project_get, "project");
}

/* project_update for p, and its folder pushed (src/psync). */
static void publish(ad_app_t *app, json_t *p, const char *change)
{
    ad_psync_changed(app->psync, p, change);
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
    char org[AD_ID_MAX];
    json_t *body = NULL, *args = NULL;
    ad_field_err_t e;
    if (!ad_api_need_store(app, r) || (body = ad_req_json(r)) == NULL) {
        return;
    }
    if (ad_api_org_for(app, r, body, org) == 0) {
        if (ad_project_create_args(app->store, body, org, &args, &e) != 0) {
            ad_api_invalid_err(r, &e);
        } else {
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
    ad_api_list(r, rc, rows, "projects", "projects");
}

static void loaded(int rc, json_t *p, void *ud)
{
    ad_req_t *r = ud;
    ad_api_answer(r, rc, p, "project", NULL);
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
    json_t *p = project_row(app, r), *body = NULL, *args = NULL;
    ad_field_err_t e;
    if (p != NULL && (body = ad_req_json(r)) != NULL) {
        if (ad_project_save_args(ad_api_jstr(p, "id"), body, &args, &e) != 0) {
            ad_api_invalid_err(r, &e);
        } else {
            ad_api_write(app, r, ad_store_op_project_save, args, saved);
        }
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
                 ad_project_files_args(ad_api_jstr(p, "id"), changes), files_written);
}

static void patch_files(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = project_row(app, r), *body = NULL;
    ad_field_err_t e;
    if (p != NULL && (body = ad_req_json(r)) != NULL) {
        if (ad_project_changes_check(body, &e) != 0) {
            ad_api_invalid_err(r, &e);
        } else {
            write_files(app, r, p, json_object_get(body, "changes"));
        }
    }
    json_decref(body);
    json_decref(p);
}

static void from_message(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *p = project_row(app, r), *body = NULL, *chat = NULL, *changes = NULL;
    const char *chat_id = NULL, *msg_id = NULL;
    ad_field_err_t e;
    if (p == NULL || (body = ad_req_json(r)) == NULL ||
        ad_api_str(r, body, "chatId", true, AD_ID_MAX - 1, &chat_id) != 0 ||
        ad_api_str(r, body, "messageId", true, AD_ID_MAX - 1, &msg_id) != 0) {
        goto out;
    }
    if (ad_store_chat_get(app->store, chat_id, &chat) != 0 ||
        !ad_principal_sees(ad_api_who(r), ad_api_jstr(chat, "orgId"))) {
        ad_api_invalid(r, "chatId", "is not a chat you can see");
    } else if (ad_project_message_files(app->store, chat_id, msg_id, &changes, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else {
        write_files(app, r, p, changes);
    }
out:
    json_decref(changes);
    json_decref(chat);
    json_decref(body);
    json_decref(p);
}

static void deleted(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(app);
    ad_api_answer(r, rc, json_incref(result), "project", NULL);
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
