/* SPDX-License-Identifier: MIT */
/*
 * POST /api/import {path, orgId?} (issue #40): an existing Claude Manager
 * install's database (claude-manager.db) brought into agentd, every row
 * counted (src/tables/import.c). The owner alone: it reads a file of the
 * daemon's machine. `agentd import PATH` calls it over the unix socket.
 */
#include "api/api_int.h"
#include "tables/import.h"

static void imported(int rc, json_t *result, void *ud)
{
    ad_req_t *r = ud;
    if (rc == AD_EINVAL) {
        json_decref(result);
        ad_res_error(r, 422, "VALIDATION_ERROR", json_pack("{s:s}", "field", "path"),
                     "not a Claude Manager database (its workspaces, worktrees, agents, "
                     "messages, usage_stats and settings tables)");
        return;
    }
    if (rc != 0) {
        json_decref(result);
        ad_api_fail(r, rc, "import", NULL);
        return;
    }
    ad_res_json(r, 200, result);
}

static void import_post(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_require_owner(r, "imports a database")) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *path = NULL, *want = NULL;
    char org[AD_ID_MAX];
    if (ad_api_str(r, body, "path", true, 4000, &path) != 0 ||
        ad_api_str(r, body, "orgId", false, 128, &want) != 0) {
        json_decref(body);
        return;
    }
    int rc = ad_store_org_find(app->store, want != NULL ? want : AD_ORG_DEFAULT, org);
    ad_field_err_t e;
    if (ad_store_import_path_check(path, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else if (rc != 0) {
        ad_api_fail(r, rc, "organisation", want);
    } else {
        ad_store_import_seed(app->store, path, org, ad_wall_ms(), imported, r);
    }
    json_decref(body);
}

void ad_api_import_register(ad_app_t *app)
{
    ad_server_route(app->server, "POST", "/api/import", AD_ACCESS_ADMIN, import_post, app);
}
