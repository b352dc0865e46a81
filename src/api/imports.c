/* SPDX-License-Identifier: MIT */
/*
 * Imports that tail, over REST (issue #35): POST /api/imports {kind, path,
 * follow?, runId? | agentId? | worktreeId?, name?} (the owner alone: it
 * reads files of the daemon's machine, never the data dir), GET
 * /api/imports[/:id], POST /api/imports/:id/stop. The engine and readers
 * are src/train's (import.c, readers.c).
 */
#include "api/api_int.h"
#include "train/train.h"
#include "tables/imports.h"

static void made(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    json_t *row = rc == 0 ? ad_train_import_made(app->imports, result) : NULL;
    if (rc != 0 || row == NULL) {
        ad_api_fail(r, rc != 0 ? rc : AD_EINTERNAL, "import", NULL);
        return;
    }
    ad_res_json(r, 201, row); /* its row, read and started by src/train */
}

static void create_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_require_owner(r, "imports files of this machine")) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    ad_train_import_req_t q;
    ad_field_err_t e;
    char org[AD_ID_MAX];
    if (ad_train_import_check(body, app->cfg->data_dir, &q, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else if (q.run != NULL     ? ad_api_visible(app, r, AD_STORE_ROW_RUN, q.run, org)
               : q.agent != NULL ? ad_api_visible(app, r, AD_STORE_ROW_AGENT, q.agent, org)
                                 : ad_api_visible(app, r, AD_STORE_ROW_WORKTREE, q.wt, org)) {
        ad_api_write(app, r, ad_store_op_external_run, ad_train_import_args(app->store, &q, org),
                     made);
    }
    json_decref(body);
}

/* The import of :id the caller sees, or NULL after answering 404. */
static json_t *visible(ad_app_t *app, ad_req_t *r)
{
    return ad_api_row_load(app, r, ad_store_import_get, "import");
}

static void get_h(ad_req_t *r, void *ud)
{
    ad_api_answer_row(r, visible(ud, r));
}

static void list_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *rows = NULL;
    int rc = ad_store_import_list(app->store, ad_principal_filter(ad_api_who(r)), false, &rows);
    ad_api_list(r, rc, rows, "imports", "imports");
}

static void stop_h(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_require_owner(r, "stops an import")) {
        return;
    }
    json_t *row = visible(app, r);
    if (row == NULL) {
        return;
    }
    json_decref(row);
    if (ad_train_import_stop(app->imports, ad_req_param(r, "id")) != 0) {
        ad_res_error(r, 409, "CONFLICT", NULL, "the import is not running");
        return;
    }
    ad_res_json(r, 200, json_pack("{s:s, s:s}", "id", ad_req_param(r, "id"), "status", "stopped"));
}

void ad_api_imports_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "POST", "/api/imports", AD_ACCESS_ADMIN, create_h, app);
    ad_server_route(s, "GET", "/api/imports", AD_ACCESS_READ, list_h, app);
    ad_server_route(s, "GET", "/api/imports/:id", AD_ACCESS_READ, get_h, app);
    ad_server_route(s, "POST", "/api/imports/:id/stop", AD_ACCESS_ADMIN, stop_h, app);
}
