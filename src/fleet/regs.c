/* SPDX-License-Identifier: MIT */
/*
 * Registration tokens (issue #77, docs/nodes.md "Registration tokens"),
 * admin: POST /api/nodes/registration-tokens {ttlSeconds? (1 s to 7 days,
 * 600), maxUses? (1 to 1000, 1), labels? {k: v}, orgId?} answers 201
 * {token, registrationToken: row}: the token's text is shown this once and
 * only its SHA-256 kept (src/tables/noderegs.c). GET lists the caller's
 * organisation's (their state: active, expired, used, revoked), DELETE
 * …/:id revokes one (another organisation's is a 404). What a node does
 * with one is trade.c's.
 */
#include "fleet/fleet_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ad_req_t *r;
    char token[AD_ID_MAX + AD_SECRET_MAX + 2];
} made_t;

static void reg_made(int rc, json_t *row, void *ud)
{
    made_t *m = ud;
    if (rc != 0) {
        ad_fleet_fail(m->r, rc, "registration token", NULL);
    } else {
        ad_res_json(m->r, 201,
                    json_pack("{s:s, s:O}", "token", m->token, "registrationToken", row));
    }
    json_decref(row);
    memset(m->token, 0, sizeof(m->token));
    free(m);
}

/* The body's fields, checked: 0, or -1 after answering 422. */
static int reg_body(ad_req_t *r, json_t *body, ad_store_nodereg_t *reg)
{
    ad_field_err_t e;
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "ttlSeconds") != 0 && strcmp(k, "maxUses") != 0 && strcmp(k, "labels") != 0 &&
            strcmp(k, "orgId") != 0) {
            ad_field_fail(&e, k,
                          "is not a field of a registration token (ttlSeconds, maxUses, "
                          "labels, orgId)");
            ad_fleet_invalid(r, &e);
            return -1;
        }
    }
    int64_t ttl = AD_FLEET_REG_TTL_DEFAULT, uses = 1;
    if (ad_field_int(body, "ttlSeconds", false, 1, AD_FLEET_REG_TTL_MAX, &ttl, NULL, &e) != 0 ||
        ad_field_int(body, "maxUses", false, 1, AD_FLEET_REG_USES_MAX, &uses, NULL, &e) != 0) {
        ad_fleet_invalid(r, &e);
        return -1;
    }
    json_t *labels = json_object_get(body, "labels");
    if (labels != NULL && !json_is_null(labels)) {
        json_t *only = json_pack("{s:O}", "labels", labels);
        ad_store_node_set_t set = {0};
        int rc = ad_node_set_check(only, &set, &e); /* as PATCH /api/nodes/:id checks them */
        json_decref(only);
        if (rc != 0) {
            free(set.labels);
            ad_fleet_invalid(r, &e);
            return -1;
        }
        reg->labels = set.labels;
    }
    reg->max_uses = uses;
    reg->now = ad_wall_ms();
    reg->expires_at = reg->now + ttl * 1000;
    return 0;
}

static void reg_create(ad_req_t *r, void *ud)
{
    ad_fleet_t *f = ud;
    const ad_principal_t *who = ad_fleet_who(r);
    json_t *body = ad_req_json(r);
    if (body == NULL) {
        return;
    }
    ad_store_nodereg_t reg = {0};
    ad_field_err_t e;
    char secret[AD_SECRET_MAX];
    int rc = 0;
    if (!json_is_object(body)) {
        ad_field_fail(&e, "body", "must be a JSON object");
        ad_fleet_invalid(r, &e);
    } else if (reg_body(r, body, &reg) != 0) {
        /* answered */
    } else if ((rc = ad_auth_org_for(f->app->store, who, body, reg.org_id, &e)) != 0) {
        rc == AD_EINVAL ? ad_fleet_invalid(r, &e) : ad_fleet_fail(r, rc, "organisation", NULL);
    } else if (ad_id_new(AD_FLEET_REG_PREFIX, reg.id) != 0 || ad_secret_new(secret) != 0) {
        ad_fleet_fail(r, AD_EIO, "registration token", NULL);
    } else {
        made_t *m = ad_xcalloc(1, sizeof(*m));
        m->r = r;
        snprintf(m->token, sizeof(m->token), "%s.%s", reg.id, secret);
        ad_sha256_hex(secret, strlen(secret), reg.hash);
        memset(secret, 0, sizeof(secret));
        snprintf(reg.created_by, sizeof(reg.created_by), "%s%s%s", who->name,
                 who->token_id[0] != '\0' ? " " : "", who->token_id);
        char note[256];
        snprintf(note, sizeof(note), "made registration token %s (%lld uses, %lld s)", reg.id,
                 (long long)reg.max_uses, (long long)((reg.expires_at - reg.now) / 1000));
        ad_req_set_note(r, note);
        ad_store_nodereg_add(f->app->store, &reg, reg_made, m);
    }
    free(reg.labels);
    json_decref(body);
}

static void reg_list(ad_req_t *r, void *ud)
{
    ad_fleet_t *f = ud;
    json_t *rows = NULL;
    int rc = ad_store_noderegs_list(f->app->store, ad_principal_filter(ad_fleet_who(r)),
                                    ad_wall_ms(), &rows);
    if (rc != 0) {
        ad_fleet_fail(r, rc, "registration tokens", NULL);
        return;
    }
    ad_res_json(r, 200, json_pack("{s:o}", "registrationTokens", rows));
}

static void reg_revoked(int rc, json_t *row, void *ud)
{
    ad_req_t *r = ud;
    if (rc != 0) {
        ad_fleet_fail(r, rc, "registration token", ad_req_param(r, "id"));
    } else {
        ad_res_json(r, 200, json_pack("{s:O}", "registrationToken", row));
    }
    json_decref(row);
}

static void reg_revoke(ad_req_t *r, void *ud)
{
    ad_fleet_t *f = ud;
    const char *id = ad_req_param(r, "id");
    if (id == NULL || !ad_id_valid(id, AD_FLEET_REG_PREFIX)) {
        ad_fleet_fail(r, AD_ENOENT, "registration token", id);
        return;
    }
    char note[128];
    snprintf(note, sizeof(note), "revoked registration token %s", id);
    ad_req_set_note(r, note);
    ad_store_nodereg_revoke(f->app->store, id, ad_principal_filter(ad_fleet_who(r)), ad_wall_ms(),
                            reg_revoked, r);
}

void ad_fleet_regs_routes(ad_fleet_t *f)
{
    ad_server_t *s = f->app->server;
    ad_server_route(s, "POST", "/api/nodes/registration-tokens", AD_ACCESS_ADMIN, reg_create, f);
    ad_server_route(s, "GET", "/api/nodes/registration-tokens", AD_ACCESS_ADMIN, reg_list, f);
    ad_server_route(s, "DELETE", "/api/nodes/registration-tokens/:id", AD_ACCESS_ADMIN, reg_revoke,
                    f);
}
