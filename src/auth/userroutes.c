/* SPDX-License-Identifier: MIT */
/*
 * The REST side of user accounts (admin scope): make, list, change the
 * password of, disable and remove accounts, and set their role per org.
 * The owner manages every account; an org admin only those whose home is
 * its org (another org's is answered as none, 404), and gives roles in its
 * own org only (403). A password goes in, never out: no answer, log or
 * audit note carries it.
 */
#include "auth/auth_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const ad_principal_t *who_of(const ad_req_t *r)
{
    static const ad_principal_t nobody = {.name = "nobody"};
    const ad_principal_t *p = ad_auth_principal(r);
    return p != NULL ? p : &nobody;
}

static void invalid(ad_req_t *r, const ad_field_err_t *e)
{
    ad_res_error(r, 422, "VALIDATION_ERROR",
                 json_pack("{s:s, s:s}", "field", e->field, "reason", e->why), "%s %s", e->field,
                 e->why);
}

static void fail(ad_req_t *r, int rc)
{
    if (rc == AD_EEXIST) {
        ad_res_error(r, 409, "CONFLICT", NULL, "that username is taken");
    } else if (rc == AD_ENOENT) {
        ad_res_error(r, 404, "NOT_FOUND", NULL, "no such account (or organisation)");
    } else if (rc == AD_EAGAIN) {
        ad_res_header(r, "Retry-After", "1");
        ad_res_error(r, 503, "UNAVAILABLE", NULL, "passwords are being hashed; retry in 1 s");
    } else {
        ad_res_error_code(r, rc, NULL, "%s", ad_strerror(rc));
    }
}

/* The account's roles cut to what who sees. */
static json_t *seen(json_t *acct, const ad_principal_t *who)
{
    json_t *roles = json_object_get(acct, "roles");
    for (size_t i = json_array_size(roles); !who->owner && i-- > 0;) {
        const char *org = json_string_value(json_object_get(json_array_get(roles, i), "orgId"));
        if (org == NULL || strcmp(org, who->org_id) != 0) {
            json_array_remove(roles, i);
        }
    }
    return acct;
}

static void answered(int rc, json_t *result, void *ud)
{
    ad_req_t *r = ud;
    int status = (int)(intptr_t)ad_req_data(r);
    if (rc != 0) {
        fail(r, rc);
    } else if (status == 204 || result == NULL) {
        ad_res_send(r, 204, NULL, NULL, 0);
    } else {
        ad_res_json(r, status, seen(json_deep_copy(result), who_of(r)));
    }
}

/* The account :id (an id or a username) if who may manage it; else
 * answers 404 and returns false. */
static bool load(ad_auth_t *a, ad_req_t *r, ad_store_account_t *acct)
{
    const ad_principal_t *who = who_of(r);
    const char *id = ad_req_param(r, "id");
    int rc = id != NULL && strlen(id) <= 64 ? ad_store_account_get(a->store, id, acct) : AD_ENOENT;
    if (rc == 0 && !ad_principal_sees(who, acct->org_id)) {
        rc = AD_ENOENT; /* another org's account is as good as none */
    }
    if (rc != 0) {
        fail(r, rc);
        return false;
    }
    return true;
}

/* Whether who may change the account as a whole (its password, disabled,
 * removed): the owner, or an org admin when every role it has is in that
 * org. Else answers 403: an admin of org A setting the password of an
 * account the owner also gave a role in org B would sign in to B. */
static bool whole(ad_req_t *r, const ad_store_account_t *acct)
{
    const ad_principal_t *who = who_of(r);
    for (size_t i = 0; !who->owner && i < acct->nroles; i++) {
        if (strcmp(acct->roles[i].org_id, who->org_id) != 0) {
            ad_res_error(r, 403, "FORBIDDEN", NULL,
                         "the account has a role in another organisation: only the owner "
                         "changes it");
            return false;
        }
    }
    return true;
}

/* The org a body or path names for who: its own, or the owner's choice. */
static bool org_of(ad_auth_t *a, ad_req_t *r, const char *want, char org[AD_ID_MAX])
{
    int rc = ad_auth_org_named(a->store, who_of(r), want, true, org);
    if (rc == AD_EPERM) {
        ad_res_error(r, 403, "FORBIDDEN", NULL, "an org admin manages its own org's accounts only");
    } else if (rc != 0) {
        fail(r, rc);
    }
    return rc == 0;
}

static void users_list(ad_req_t *r, void *ud)
{
    ad_auth_t *a = ud;
    json_t *arr = NULL;
    const ad_principal_t *who = who_of(r);
    int rc = ad_store_account_list(a->store, ad_principal_filter(who), &arr);
    if (rc != 0) {
        fail(r, rc);
        return;
    }
    size_t i;
    json_t *u;
    json_array_foreach(arr, i, u)
    {
        seen(u, who);
    }
    ad_res_json(r, 200, json_pack("{s:o}", "users", arr));
}

static void users_create(ad_req_t *r, void *ud)
{
    ad_auth_t *a = ud;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *username = NULL, *want = NULL, *role = NULL;
    ad_field_err_t e;
    char org[AD_ID_MAX];
    if (ad_field_str(body, "username", true, 64, &username, &e) != 0 ||
        ad_auth_username_check(username, &e) != 0 ||
        ad_auth_password_check(json_object_get(body, "password"), &e) != 0 ||
        ad_field_str(body, "orgId", false, 128, &want, &e) != 0 ||
        ad_field_enum(body, "role", false, "read,write,admin", &role, &e) != 0) {
        invalid(r, &e);
    } else if (org_of(a, r, want, org)) {
        ad_req_set_data(r, (void *)(intptr_t)201);
        const char *pw = json_string_value(json_object_get(body, "password"));
        int rc = ad_auth_user_create(a, username, pw, org, role, answered, r);
        if (rc != 0) {
            fail(r, rc);
        }
    }
    json_decref(body);
}

static void users_patch(ad_req_t *r, void *ud)
{
    ad_auth_t *a = ud;
    ad_store_account_t acct;
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    json_t *pw = json_object_get(body, "password"), *dis = json_object_get(body, "disabled");
    ad_field_err_t e;
    if (!load(a, r, &acct)) {
        /* answered: another org's account is a 404 whatever the body */
    } else if ((pw == NULL) == (dis == NULL)) {
        ad_field_fail(&e, "password", "send either password or disabled");
        invalid(r, &e);
    } else if (dis != NULL && !json_is_true(dis)) {
        ad_field_fail(&e, "disabled",
                      "can only be true: a disabled account stays so (remove "
                      "it and make it again)");
        invalid(r, &e);
    } else if (pw != NULL && ad_auth_password_check(pw, &e) != 0) {
        invalid(r, &e);
    } else if (whole(r, &acct)) {
        ad_req_set_data(r, (void *)(intptr_t)200);
        if (dis != NULL) {
            ad_auth_user_end(a, acct.id, false, answered, r);
        } else {
            int rc = ad_auth_user_password(a, acct.id, json_string_value(pw), answered, r);
            if (rc != 0) {
                fail(r, rc);
            }
        }
    }
    json_decref(body);
}

static void users_delete(ad_req_t *r, void *ud)
{
    ad_auth_t *a = ud;
    ad_store_account_t acct;
    if (load(a, r, &acct) && whole(r, &acct)) {
        ad_req_set_data(r, (void *)(intptr_t)204);
        ad_auth_user_end(a, acct.id, true, answered, r);
    }
}

static void role_set(ad_req_t *r, ad_auth_t *a, const char *role)
{
    ad_store_account_t acct;
    char org[AD_ID_MAX];
    if (load(a, r, &acct) && org_of(a, r, ad_req_param(r, "org"), org)) {
        if (acct.disabled_at > 0) {
            ad_res_error(r, 409, "CONFLICT", NULL, "the account is disabled");
            return;
        }
        ad_req_set_data(r, (void *)(intptr_t)200);
        ad_auth_user_role(a, &acct, org, role, answered, r);
    }
}

static void role_put(ad_req_t *r, void *ud)
{
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    const char *role = NULL;
    ad_field_err_t e;
    if (ad_field_enum(body, "role", true, "read,write,admin", &role, &e) != 0) {
        invalid(r, &e);
    } else {
        role_set(r, ud, role);
    }
    json_decref(body);
}

static void role_delete(ad_req_t *r, void *ud)
{
    role_set(r, ud, "");
}

void ad_auth_users_routes(ad_auth_t *a, ad_server_t *s)
{
    ad_server_route(s, "GET", "/api/users", AD_ACCESS_ADMIN, users_list, a);
    ad_server_route(s, "POST", "/api/users", AD_ACCESS_ADMIN, users_create, a);
    ad_server_route(s, "PATCH", "/api/users/:id", AD_ACCESS_ADMIN, users_patch, a);
    ad_server_route(s, "DELETE", "/api/users/:id", AD_ACCESS_ADMIN, users_delete, a);
    ad_server_route(s, "PUT", "/api/users/:id/roles/:org", AD_ACCESS_ADMIN, role_put, a);
    ad_server_route(s, "DELETE", "/api/users/:id/roles/:org", AD_ACCESS_ADMIN, role_delete, a);
}
