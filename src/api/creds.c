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
#include "run/run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Model providers, then the forges' tokens (pull requests, src/api/pr.c). */
#define PROVIDERS "anthropic,openai,github,gitlab,gitea"
#define MODEL_PROVIDERS "anthropic,openai"

static void cred_view(ad_app_t *app, json_t *row)
{
    json_object_set_new(row, "storage",
                        json_string(ad_creds_storage(app->creds, ad_api_jstr(row, "orgId"),
                                                     ad_api_jstr(row, "provider"))));
    char mask[64];
    ad_creds_mask(ad_api_jstr(row, "last4"), mask, sizeof(mask));
    json_object_set_new(row, "masked", json_string(mask));
    json_object_del(row, "last4");
    json_object_set_new(row, "configured", json_true());
}

static void row_written(ad_app_t *app, ad_req_t *r, int rc, json_t *result)
{
    if (rc != 0) {
        ad_api_fail(r, rc, "credential", NULL);
        return;
    }
    json_t *c = json_object_get(result, "credential");
    if (c == NULL) {
        ad_res_json(r, 200, json_incref(result));
        return;
    }
    cred_view(app, c);
    /* The event says that the credential changed, never the key. */
    ad_api_publish(app, "credential_update", c, "org", ad_api_jstr(c, "orgId"), NULL);
    ad_res_json(r, 200, json_incref(c));
}

/* A key stored or removed (src/creds): then the row. */
typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    json_t *args; /* the row's write, after the key */
    bool put;
} file_job_t;

static void key_stored(int rc, void *ud)
{
    file_job_t *j = ud;
    if (rc == AD_ETOOBIG) {
        ad_res_error(j->req, 507, "FULL", NULL, "too many credentials");
        json_decref(j->args);
    } else if (rc != 0) {
        ad_res_error(j->req, 500, "INTERNAL", NULL, "cannot store the credential file");
        json_decref(j->args);
    } else {
        ad_api_write(j->app, j->req, j->put ? ad_store_op_cred_upsert : ad_store_op_cred_delete,
                     j->args, row_written);
    }
    free(j);
}

static void queue_file(ad_app_t *app, ad_req_t *r, json_t *args, const char *key)
{
    file_job_t *j = ad_xcalloc(1, sizeof(*j));
    j->app = app;
    j->req = r;
    j->args = args;
    j->put = key != NULL;
    if (ad_creds_set(app->creds, ad_api_jstr(args, "orgId"), ad_api_jstr(args, "provider"), key,
                     key_stored, j) != 0) {
        ad_res_error(r, 500, "INTERNAL", NULL, "cannot store the credential file");
        json_decref(args);
        free(j);
    }
}

/* ---- routes ---------------------------------------------------------------------------- */

static bool provider_ok(ad_req_t *r, const char **out)
{
    const char *p = ad_req_param(r, "provider");
    if (p == NULL || !ad_api_choice(PROVIDERS, p)) {
        ad_res_error(r, 404, "NOT_FOUND", json_pack("{s:s}", "provider", p ? p : ""),
                     "no such provider (known: %s)", PROVIDERS);
        return false;
    }
    *out = p;
    return true;
}

static bool key_ok(ad_req_t *r, const char *key)
{
    bool ok = ad_creds_key_ok(key);
    if (!ok) {
        ad_api_invalid(r, "apiKey", "must be 8 to 512 printable characters without spaces");
    }
    return ok;
}

static bool url_ok(ad_req_t *r, const char *url)
{
    if (url == NULL || url[0] == '\0') {
        return true;
    }
    if (!ad_creds_url_ok(url)) {
        ad_api_invalid(r, "baseUrl", "must be an http:// or https:// URL");
        return false;
    }
    return ad_api_require(r, AD_SCOPE_ADMIN, "setting a base URL");
}

static void put_cred(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *provider, *key = NULL, *email = NULL, *url = NULL;
    char org[AD_ID_MAX];
    json_t *body = NULL;
    if (!provider_ok(r, &provider) || !ad_api_need_store(app, r) ||
        (body = ad_req_json(r)) == NULL) {
        return;
    }
    if (ad_api_str(r, body, "apiKey", true, AD_CREDS_KEY_MAX, &key) == 0 && key_ok(r, key) &&
        ad_api_str(r, body, "email", false, 254, &email) == 0 &&
        ad_api_str(r, body, "baseUrl", false, 512, &url) == 0 && url_ok(r, url) &&
        ad_api_org_for(app, r, body, org) == 0) {
        size_t n = strlen(key);
        json_t *args =
            json_pack("{s:s, s:s, s:s, s:b, s:I}", "orgId", org, "provider", provider, "last4",
                      key + n - 4, "setBaseUrl", url != NULL, "now", (json_int_t)ad_wall_ms());
        if (email != NULL) {
            json_object_set_new(args, "email", json_string(email));
        }
        if (url != NULL && url[0] != '\0') {
            json_object_set_new(args, "baseUrl", json_string(url));
        }
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
    int rc = ad_store_cred_get(app->store, org, provider, &row);
    if (rc != 0) {
        ad_api_fail(r, rc, "credential", provider);
        return;
    }
    cred_view(app, row);
    ad_res_json(r, 200, row);
}

static void list_creds(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *rows = NULL;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    int rc = ad_store_cred_list(app->store, ad_principal_filter(ad_api_who(r)), &rows);
    if (rc != 0) {
        ad_api_fail(r, rc, "credentials", NULL);
        return;
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        cred_view(app, row);
    }
    ad_res_json(r, 200, json_pack("{s:o}", "credentials", rows));
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
    json_t *rows = NULL;
    if (!ad_api_need_store(app, r)) {
        return;
    }
    char org[AD_ID_MAX];
    org_of(r, org);
    json_t *providers = json_object();
    if (ad_store_cred_list(app->store, org, &rows) == 0) {
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row)
        {
            const char *p = ad_api_jstr(row, "provider");
            if (p != NULL &&
                ad_api_choice(MODEL_PROVIDERS, p)) { /* a forge token signs no model in */
                cred_view(app, row);
                json_object_set(providers, p, row);
            }
        }
    }
    json_decref(rows);
    bool any = json_object_size(providers) > 0;
    ad_res_json(
        r, 200,
        json_pack("{s:b, s:s, s:o}", "authenticated", any, "orgId", org, "providers", providers));
}

/* ---- validating a credential ------------------------------------------------------------ */

typedef struct {
    ad_app_t *app;
    ad_req_t *req;
    char org[AD_ID_MAX];
    char provider[16];
} check_t;

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

static void on_checked(void *ud, const ad_llm_result_t *res)
{
    check_t *c = ud;
    /* A stop after the first token is what a one-token request ends with;
     * any answer that is no refusal of the key says the key works. */
    bool valid = res->rc == 0 || (res->http_status >= 200 && res->http_status < 300) ||
                 res->http_status == 429 || res->http_status == 529;
    char reason[600];
    snprintf(reason, sizeof(reason), "%s%s%s", res->error_type, res->error_type[0] ? ": " : "",
             res->error_message);
    json_t *out = json_pack("{s:s, s:b, s:i}", "provider", c->provider, "valid", valid, "status",
                            res->http_status);
    if (!valid) {
        json_object_set_new(out, "reason", json_string(reason));
    }
    ad_req_set_data(c->req, out);
    ad_api_write(c->app, c->req, ad_store_op_cred_status,
                 json_pack("{s:s, s:s, s:s, s:s?, s:I}", "orgId", c->org, "provider", c->provider,
                           "status", valid ? "valid" : "invalid", "reason", valid ? NULL : reason,
                           "now", (json_int_t)ad_wall_ms()),
                 checked_written);
    free(c);
}

static void validate(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *provider, *model;
    ad_llm_provider_t kind;
    bool failed = false;
    if (!provider_ok(r, &provider)) {
        return;
    }
    if (ad_llm_provider_parse(provider, &kind) != 0) {
        ad_api_invalid(r, "provider", "only a model provider's key can be validated");
        return;
    }
    model = kind == AD_LLM_OPENAI ? "gpt-4o-mini" : "claude-haiku-4-5";
    json_t *body = ad_api_body_optional(r, &failed);
    if (failed || (body != NULL && ad_api_str(r, body, "model", false, 127, &model) != 0)) {
        json_decref(body);
        return;
    }
    const ad_principal_t *who = ad_api_who(r);
    check_t *c = ad_xcalloc(1, sizeof(*c));
    c->app = app;
    c->req = r;
    snprintf(c->org, sizeof(c->org), "%s", who->owner ? AD_ORG_DEFAULT : who->org_id);
    snprintf(c->provider, sizeof(c->provider), "%s", provider);
    const char *key = ad_creds_key(app->creds, c->org, provider);
    if (key == NULL) {
        ad_res_error(r, 404, "NOT_FOUND", NULL, "no %s credential for this organisation", provider);
        free(c);
        json_decref(body);
        return;
    }
    json_t *msgs = json_pack("[{s:s, s:s}]", "role", "user", "content", "ping");
    ad_llm_body_t b = {.provider = kind, .model = model, .messages = msgs, .max_tokens = 1};
    json_t *req_body = ad_llm_request_body(&b);
    char base[600], err[256];
    ad_creds_base_url(app->creds, c->org, provider, base, sizeof(base));
    ad_llm_spec_t spec = {.provider = kind,
                          .base_url = base,
                          .api_key = key,
                          .body = req_body,
                          .max_retries = 0,
                          .stall_ms = 30000};
    ad_llm_cbs_t cbs = {.on_end = on_checked};
    ad_llm_req_t *rq;
    if (ad_llm_start(ad_chat_llm(app->chat), &spec, &cbs, c, &rq, err, sizeof(err)) != 0) {
        ad_res_error(r, 502, "UPSTREAM", NULL, "%s", err);
        free(c);
    }
    json_decref(req_body);
    json_decref(msgs);
    json_decref(body);
}

/* The runner's key source: an agent without a key in its environment gets
 * its organisation's stored one, a model provider's only: a forge token
 * (pull requests) never reaches an agent. */
static const char *key_for_agent(void *ud, const char *org, const char *provider)
{
    ad_app_t *app = ud;
    if (provider == NULL || !ad_api_choice(MODEL_PROVIDERS, provider)) {
        return NULL;
    }
    return ad_creds_key(app->creds, org, provider);
}

void ad_api_creds_register(ad_app_t *app)
{
    app->creds = ad_creds_new(app->loop, app->store, app->cfg->data_dir);
    if (app->runner != NULL) {
        ad_runner_set_key_source(app->runner, key_for_agent, app);
    }
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

void ad_api_creds_close(ad_app_t *app)
{
    ad_creds_free(app->creds);
    app->creds = NULL;
}
