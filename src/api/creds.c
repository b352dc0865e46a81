/* SPDX-License-Identifier: MIT */
/*
 * /api/credentials: the provider keys of each organisation, kept by
 * src/creds (Secret Service or 0600 file, mirrored in memory); the row
 * (src/store) holds what may be shown: the last four characters, email,
 * base URL, validation status. No answer, log line or event ever carries a
 * key. Setting a base URL needs an admin token: it decides where the org's
 * key is sent.
 * Its routes are listed in docs/api.md, their bodies and answers in
 * docs/workbench.md.
 * Validating sends a one-token request with the stored key (src/llm).
 */
#include "api/workbench.h"
#include "chat/chat.h"
#include "creds/creds.h"
#include "tables/llm.h"

#include <stdio.h>

static void saved(int rc, bool in_key, json_t *result, void *ud)
{
    ad_req_t *r = ud;
    ad_app_t *app = ad_req_data(r);
    json_t *c = json_object_get(result, "credential");
    if (in_key && rc == AD_ETOOBIG) {
        ad_res_error(r, 507, "FULL", NULL, "too many credentials");
    } else if (in_key) {
        ad_res_error(r, 500, "INTERNAL", NULL, "cannot store the credential file");
    } else if (rc != 0) {
        ad_api_fail(r, rc, "credential", NULL);
    } else if (c == NULL) {
        ad_res_json(r, 200, json_incref(result));
    } else {
        ad_creds_view(app->creds, c);
        /* The event says that the credential changed, never the key. */
        ad_bus_publish_to(app->bus, "credential_update", c, "org", ad_api_jstr(c, "orgId"), NULL);
        ad_res_json(r, 200, json_incref(c));
    }
    json_decref(result);
}

/* The key stored or removed (src/creds), then the row. */
static void queue_file(ad_app_t *app, ad_req_t *r, json_t *args, const char *key)
{
    ad_req_set_data(r, app);
    if (ad_creds_save(app->creds, app->store, args, key, saved, r) != 0) {
        ad_res_error(r, 500, "INTERNAL", NULL, "cannot store the credential file");
    }
}

/* ---- routes ---------------------------------------------------------------------------- */

static bool provider_ok(ad_req_t *r, const char **out)
{
    const char *p = ad_req_param(r, "provider");
    if (!ad_creds_provider_known(p)) {
        ad_res_error(r, 404, "NOT_FOUND", json_pack("{s:s}", "provider", p ? p : ""),
                     "no such provider (known: %s)", AD_CREDS_PROVIDERS);
        return false;
    }
    *out = p;
    return true;
}

static void put_cred(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *provider, *key = NULL, *url = NULL;
    char org[AD_ID_MAX];
    json_t *body = NULL;
    if (!provider_ok(r, &provider) || !ad_api_need_store(app, r) ||
        (body = ad_req_json(r)) == NULL) {
        return;
    }
    json_t *args = NULL;
    ad_field_err_t e;
    if (ad_creds_put_args(body, provider, NULL, NULL, &key, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else if ((url = ad_api_jstr(body, "baseUrl")) != NULL && url[0] != '\0' &&
               !ad_api_require(r, AD_SCOPE_ADMIN, "setting a base URL")) {
        /* answered: the base URL decides where the org's key is sent */
    } else if (ad_api_org_for(app, r, body, org) == 0) {
        ad_creds_put_args(body, provider, org, &args, &key, &e);
        queue_file(app, r, args, key);
    }
    json_decref(body);
}

/* The caller's org for a read or change of one credential: an org token's
 * own; the owner's ?orgId= or the default org. */
static void org_of(ad_req_t *r, char org[AD_ID_MAX])
{
    const ad_principal_t *who = ad_api_who(r);
    const char *q = ad_req_query(r, "orgId");
    snprintf(org, AD_ID_MAX, "%s",
             !who->owner ? who->org_id : (q != NULL && ad_creds_name_ok(q) ? q : AD_ORG_DEFAULT));
}

static void get_cred(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *provider;
    char org[AD_ID_MAX];
    if (!provider_ok(r, &provider) || !ad_api_need_store(app, r)) {
        return;
    }
    org_of(r, org);
    json_t *row = NULL;
    int rc = ad_creds_get(app->creds, app->store, org, provider, &row);
    ad_api_answer(r, rc, row, "credential", provider);
}

static void list_creds(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *rows = NULL;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    int rc = ad_creds_list(app->creds, app->store, ad_principal_filter(ad_api_who(r)), &rows);
    ad_api_list(r, rc, rows, "credentials", "credentials");
}

static void delete_cred(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *provider;
    char org[AD_ID_MAX];
    if (!provider_ok(r, &provider) || !ad_api_need_store(app, r)) {
        return;
    }
    org_of(r, org);
    json_t *row = NULL;
    int rc = ad_store_cred_get(app->store, org, provider, &row);
    json_decref(row);
    if (rc != 0) {
        ad_api_fail(r, rc, "credential", provider);
        return;
    }
    queue_file(app, r, json_pack("{s:s, s:s}", "orgId", org, "provider", provider), NULL);
}

static void auth_status(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    char org[AD_ID_MAX];
    org_of(r, org);
    ad_res_json(r, 200, ad_creds_status_of(app->creds, app->store, org));
}

/* ---- validating a credential (src/chat sends the request) ------------------------------- */

/* The verdict is answered once its status is stored, so a read that
 * follows the answer sees it. */
static void checked_written(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    AD_UNUSED(app);
    AD_UNUSED(result);
    json_t *out = ad_req_data(r);
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "llm", "a credential status was not saved err=%s", ad_errname(rc));
    }
    ad_res_json(r, 200, out);
}

static void on_checked(void *ud, json_t *verdict)
{
    ad_req_t *r = ud;
    ad_app_t *app = ad_req_data(r);
    const ad_principal_t *who = ad_api_who(r);
    json_t *args = ad_creds_status_args(verdict, who->owner ? AD_ORG_DEFAULT : who->org_id,
                                        (int64_t)ad_wall_ms());
    ad_req_set_data(r, verdict);
    ad_api_write(app, r, ad_store_op_cred_status, args, checked_written);
}

static void validate(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *provider, *model = NULL;
    bool failed = false;
    char err[256];
    if (!provider_ok(r, &provider)) {
        return;
    }
    json_t *body = ad_req_json_optional(r, &failed);
    if (!failed && (body == NULL || ad_api_str(r, body, "model", false, 127, &model) == 0)) {
        const ad_principal_t *who = ad_api_who(r);
        ad_req_set_data(r, app); /* until the verdict: then the verdict */
        int rc = ad_chat_key_check(app->chat, app->creds, who->owner ? AD_ORG_DEFAULT : who->org_id,
                                   provider, model, on_checked, r, err, sizeof(err));
        if (rc == AD_EINVAL) {
            ad_api_invalid(r, "provider", err);
        } else if (rc == AD_ENOENT) {
            ad_res_error(r, 404, "NOT_FOUND", NULL, "%s", err);
        } else if (rc != 0) {
            ad_res_error(r, 502, "UPSTREAM", NULL, "%s", err);
        }
    }
    json_decref(body);
}

void ad_api_creds_register(ad_app_t *app)
{
    ad_server_route(app->server, "PUT", "/api/credentials/:provider", AD_ACCESS_WRITE, put_cred,
                    app);
    ad_server_route(app->server, "GET", "/api/credentials", AD_ACCESS_READ, list_creds, app);
    ad_server_route(app->server, "GET", "/api/credentials/:provider", AD_ACCESS_READ, get_cred,
                    app);
    ad_server_route(app->server, "DELETE", "/api/credentials/:provider", AD_ACCESS_ADMIN,
                    delete_cred, app);
    ad_server_route(app->server, "GET", "/api/auth/status", AD_ACCESS_READ, auth_status, app);
    ad_server_route(app->server, "POST", "/api/credentials/:provider/validate", AD_ACCESS_WRITE,
                    validate, app);
}
