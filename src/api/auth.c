/* SPDX-License-Identifier: MIT */
/*
 * The REST side of accounts: logging in (a JSON login for the sign-in
 * page, with a token or a one-time code; login codes for `agentd login`;
 * rotating the owner token) and out, who am I, API tokens (create, list,
 * revoke), organisations, and the audit log. What a token may do is
 * src/auth's business; this file checks the caller's org and scope on top
 * of the route's, and answers.
 */
#include "api/api_int.h"
#include "auth/auth.h"
#include "tables/accounts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sessions ------------------------------------------------------------------- */

static void set_cookie(ad_req_t *r, const char *value, int64_t max_age)
{
    char c[256];
    ad_auth_cookie_header(r, value, max_age, c, sizeof(c));
    ad_res_header(r, "Set-Cookie", c);
}

static void logged_in(int rc, json_t *result, void *ud)
{
    ad_req_t *r = ud;
    if (rc == AD_EPERM) { /* a login code read from the database: unknown, used or expired */
        ad_res_error(r, 401, "UNAUTHORIZED", NULL,
                     "the login code is not valid (used, expired or unknown: run `agentd login` "
                     "for a new one)");
        return;
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "session", NULL);
        return;
    }
    set_cookie(r, json_string_value(json_object_get(result, "cookie")),
               json_integer_value(json_object_get(result, "maxAge")));
    ad_res_header(r, "Cache-Control", "no-store");
    ad_res_json(r, 200, json_pack("{s:O}", "principal", json_object_get(result, "principal")));
}

/* A password's sign-in, checked on the thread pool: a wrong one is 401. */
static void pw_checked(int rc, json_t *result, void *ud)
{
    if (rc == AD_EPERM) {
        ad_res_error(ud, 401, "UNAUTHORIZED", NULL, "the username or password is not right");
    } else {
        logged_in(rc, result, ud);
    }
}

/* A session for a token, a one-time code or a username and password. */
static void login_with(ad_app_t *app, ad_req_t *r, const char *token, const char *code,
                       const char *user, const char *pw, const char *org)
{
    char peer[48];
    ad_req_peer(r, peer, sizeof(peer));
    int64_t retry = 0;
    int rc = user != NULL
                 ? ad_auth_login_password(app->auth, user, pw, org, peer, &retry, pw_checked, r)
             : code != NULL ? ad_auth_login_with_code(app->auth, code, peer, &retry, logged_in, r)
                            : ad_auth_login(app->auth, token, peer, &retry, logged_in, r);
    if (rc == 0) {
        return;
    }
    if (rc == AD_EAGAIN) {
        char ra[24];
        snprintf(ra, sizeof(ra), "%lld", (long long)retry);
        ad_res_header(r, "Retry-After", ra);
        ad_res_error(r, 429, "RATE_LIMITED", NULL, "too many bad sign-ins; retry in %s s", ra);
    } else if (rc == AD_EPERM) {
        ad_res_error(r, 401, "UNAUTHORIZED", NULL,
                     code != NULL ? "the login code is not valid (used, expired or unknown: run "
                                    "`agentd login` for a new one)"
                                  : "the token is not valid");
    } else {
        ad_api_fail(r, rc, "session", NULL);
    }
}

/* POST /api/auth/login {token} or {code}: the dashboard's sign-in page,
 * with a token pasted in or the one-time code of the URL `agentd login`
 * printed (/login#code=...: a fragment, never sent in a request). Only a
 * same-origin page can send it (JSON and the Origin check: src/auth), so
 * a page elsewhere cannot sign a browser into its own session. There is
 * no GET that makes a session: GET /login is the sign-in page. */
static void login_json(ad_req_t *r, void *ud)
{
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *token = NULL, *code = NULL, *user = NULL, *pw = NULL, *org = NULL;
    if (ad_api_str(r, body, "token", false, 512, &token) == 0 &&
        ad_api_str(r, body, "code", false, 128, &code) == 0 &&
        ad_api_str(r, body, "username", false, AD_AUTH_USERNAME_MAX, &user) == 0 &&
        ad_api_str(r, body, "password", false, AD_AUTH_PASSWORD_MAX, &pw) == 0 &&
        ad_api_str(r, body, "orgId", false, AD_ID_MAX - 1, &org) == 0) {
        if ((token != NULL) + (code != NULL) + (user != NULL) != 1 ||
            (user == NULL) != (pw == NULL)) {
            ad_api_invalid(r, "token", "send either token, code, or username and password");
        } else {
            login_with(ud, r, token, code, user, pw, org);
        }
    }
    json_decref(body);
}

typedef struct {
    ad_req_t *r;
    json_t *body; /* {code, url, expiresIn} */
} code_answer_t;

static void code_stored(int rc, void *ud)
{
    code_answer_t *c = ud;
    if (rc != 0) {
        ad_api_fail(c->r, rc, "login code", NULL);
        json_decref(c->body);
    } else {
        ad_res_header(c->r, "Cache-Control", "no-store");
        ad_res_json(c->r, 201, c->body);
    }
    free(c);
}

/* POST /api/auth/login-code: a one-time login code for the owner, and the
 * URL that carries it in its fragment (`agentd login` asks over the unix
 * socket and prints it). */
static void login_code(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_require_owner(r, "makes login codes")) {
        return;
    }
    char code[AD_SECRET_MAX];
    int64_t expires_in = 0;
    int rc = ad_auth_login_code(app->auth, code, &expires_in);
    if (rc != 0) {
        ad_api_fail(r, rc, "login code", NULL);
        return;
    }
    char url[512];
    ad_auth_login_url(app->cfg, app->server != NULL ? ad_server_port(app->server) : 0, code, url,
                      sizeof(url));
    code_answer_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = r;
    c->body =
        json_pack("{s:s, s:s, s:I}", "code", code, "url", url, "expiresIn", (json_int_t)expires_in);
    memset(code, 0, sizeof(code));
    /* answered once the code is stored: with several planes on one database
     * (src/auth/planes.c) another plane takes it from there at once */
    ad_store_flush(app->store, code_stored, c);
}

static void rotated(int rc, json_t *result, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_api_fail(r, rc, "owner token", NULL);
        return;
    }
    ad_res_header(r, "Cache-Control", "no-store");
    ad_res_json(r, 200, json_pack("{s:O}", "token", json_object_get(result, "token")));
}

/* POST /api/auth/owner-token/rotate: a new owner token; every session and
 * channel of the old one ends. The owner's alone. */
static void owner_rotate(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_require_owner(r, "rotates the owner token")) {
        return;
    }
    char err[160];
    int rc = ad_auth_owner_rotate(app->auth, rotated, r, err, sizeof(err));
    if (rc == AD_EPERM) {
        ad_res_error(r, 409, "CONFLICT", NULL, "%s", err);
    } else if (rc != 0) {
        ad_res_error_code(r, rc, NULL, "%s", err);
    }
}

static void logout(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_auth_logout(app->auth, r);
    set_cookie(r, "", 0);
    ad_res_send(r, 204, NULL, NULL, 0);
}

static void whoami(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_res_json(r, 200, ad_auth_principal_json(app->auth, ad_api_who(r)));
}

/* ---- tokens --------------------------------------------------------------------- */

static void token_created(int rc, json_t *result, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_api_fail(r, rc, rc == AD_ENOENT ? "organisation" : "token", NULL);
        return;
    }
    ad_res_json(r, 201, json_incref(result));
}

/* The org a new token goes to: an org admin's own; the owner's choice. */
static int token_org(ad_app_t *app, ad_req_t *r, json_t *body, char org[AD_ID_MAX])
{
    const ad_principal_t *who = ad_api_who(r);
    const char *want = NULL;
    if (ad_api_str(r, body, "orgId", false, 128, &want) != 0) {
        return -1;
    }
    int rc = ad_auth_org_named(app->store, who, want, true, org);
    if (rc == AD_EPERM) {
        ad_res_error(r, 403, "FORBIDDEN", NULL, "tokens can only be made for your own org");
        return -1;
    }
    if (rc != 0) {
        ad_api_fail(r, rc, "organisation", want);
        return -1;
    }
    return 0;
}

static void token_create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    ad_auth_token_spec_t t;
    ad_field_err_t e;
    char org[AD_ID_MAX], err[160];
    if (ad_auth_token_spec(body, &t, &e) != 0) {
        ad_api_invalid_err(r, &e);
    } else if (token_org(app, r, body, org) == 0) {
        int rc = ad_auth_token_create(app->auth, t.name, org, t.scope, t.expires_at, t.rate,
                                      token_created, r, err, sizeof(err));
        if (rc != 0) {
            ad_res_error_code(r, rc, NULL, "%s", err);
        }
    }
    json_decref(body);
}

static void token_list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    ad_res_json(r, 200,
                json_pack("{s:o}", "tokens",
                          ad_auth_token_list(app->auth, ad_principal_filter(ad_api_who(r)))));
}

static void token_revoked(int rc, json_t *result, void *ud)
{
    AD_UNUSED(result);
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_api_fail(r, rc, "token", ad_req_param(r, "id"));
        return;
    }
    ad_res_send(r, 204, NULL, NULL, 0);
}

static void token_revoke(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    const char *id = ad_req_param(r, "id");
    const char *org = ad_auth_token_org(app->auth, id);
    if (org == NULL || !ad_principal_sees(ad_api_who(r), org)) {
        ad_api_fail(r, AD_ENOENT, "token", id); /* another org's is as good as none */
        return;
    }
    ad_auth_token_revoke(app->auth, id, token_revoked, r);
}

/* ---- organisations and audit ------------------------------------------------------- */

static void org_list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    json_t *orgs = NULL;
    int rc = ad_store_org_list(app->store, &orgs);
    if (rc != 0) {
        ad_api_fail(r, rc, "organisations", NULL);
        return;
    }
    ad_auth_orgs_seen(orgs, ad_api_who(r));
    ad_res_json(r, 200, json_pack("{s:o}", "orgs", orgs));
}

static void org_created(int rc, json_t *result, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        json_decref(result); /* ours, even on error */
        ad_api_fail(r, rc, "organisation", NULL);
        return;
    }
    ad_res_json(r, 201, result);
}

static void org_create(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    if (!ad_api_require_owner(r, "makes organisations")) {
        return;
    }
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *name = NULL;
    if (ad_api_str(r, body, "name", true, 100, &name) == 0) {
        char id[AD_ID_MAX];
        ad_id_new("org", id);
        ad_store_org_create(app->store, id, name, ad_wall_ms(), org_created, r);
    }
    json_decref(body);
}

static void audit_list(ad_req_t *r, void *ud)
{
    ad_app_t *app = ud;
    int limit = 0;
    int64_t cursor = 0;
    ad_field_err_t e;
    if (ad_auth_audit_query(ad_req_query(r, "limit"), ad_req_query(r, "before"), &limit, &cursor,
                            &e) != 0) {
        ad_api_invalid_err(r, &e);
        return;
    }
    json_t *out = NULL;
    int rc =
        ad_store_audit_list(app->store, ad_principal_filter(ad_api_who(r)), limit, cursor, &out);
    ad_api_answer(r, rc, out, "audit", NULL);
}

void ad_api_auth_register(ad_app_t *app)
{
    ad_server_t *s = app->server;
    ad_server_route(s, "POST", "/api/auth/login", AD_ACCESS_PUBLIC, login_json, app);
    ad_server_route(s, "POST", "/api/auth/login-code", AD_ACCESS_ADMIN, login_code, app);
    ad_server_route(s, "POST", "/api/auth/owner-token/rotate", AD_ACCESS_ADMIN, owner_rotate, app);
    ad_server_route(s, "POST", "/api/auth/logout", AD_ACCESS_PUBLIC, logout, app);
    ad_server_route(s, "GET", "/api/auth/whoami", AD_ACCESS_READ, whoami, app);
    ad_server_route(s, "GET", "/api/tokens", AD_ACCESS_ADMIN, token_list, app);
    ad_server_route(s, "POST", "/api/tokens", AD_ACCESS_ADMIN, token_create, app);
    ad_server_route(s, "DELETE", "/api/tokens/:id", AD_ACCESS_ADMIN, token_revoke, app);
    ad_server_route(s, "GET", "/api/orgs", AD_ACCESS_ADMIN, org_list, app);
    ad_server_route(s, "POST", "/api/orgs", AD_ACCESS_ADMIN, org_create, app);
    ad_server_route(s, "GET", "/api/audit", AD_ACCESS_ADMIN, audit_list, app);
    ad_auth_users_routes(app->auth, s);
}
