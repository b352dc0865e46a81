/* SPDX-License-Identifier: MIT */
/*
 * Sessions (docs/security.md): a session cookie made by a login (with a
 * token or a one-time login code), looked up per request, ended by a
 * logout; kept in memory like the tokens (auth.c), written through to the
 * store. And the cookie's name and value in a request.
 */
#include "auth/auth_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sessions ---------------------------------------------------------------------- */

ad_sess_t *ad_auth_sess_add(ad_auth_t *a, const char *id_hash, int64_t expires_at, ad_tok_t *tok,
                            const char *bind)
{
    ad_sess_t *x = ad_xcalloc(1, sizeof(*x));
    snprintf(x->id_hash, sizeof(x->id_hash), "%s", id_hash);
    x->expires_at = expires_at;
    x->tok = tok;
    snprintf(x->bind, sizeof(x->bind), "%s", tok == NULL && bind != NULL ? bind : "");
    x->who = tok != NULL ? &tok->who : &a->owner;
    x->next = a->sessions;
    a->sessions = x;
    return x;
}

/* A session this plane does not hold, made through another control plane
 * on the same PostgreSQL database (issue #77): read by its hash and kept
 * when its token or owner token still signs in. NULL on SQLite (this
 * process made every session it could know). */
static ad_sess_t *session_elsewhere(ad_auth_t *a, const char *id_hash, int64_t now)
{
    ad_store_session_t row;
    if (a->sync == NULL || ad_store_session_get(a->store, id_hash, now, &row) != 0) {
        return NULL;
    }
    bool owner = strncmp(row.token_id, "owner:", 6) == 0;
    ad_tok_t *t = !owner && row.token_id[0] != '\0' ? ad_auth_tok_current(a, row.token_id) : NULL;
    if (owner ? !ad_auth_owner_bind_live(a, row.token_id) : t == NULL) {
        return NULL;
    }
    return ad_auth_sess_add(a, id_hash, row.expires_at, t, owner ? row.token_id : NULL);
}

const ad_principal_t *ad_auth_session_lookup(ad_auth_t *a, const char *cookie, ad_tok_t **tok)
{
    *tok = NULL;
    size_t len = strlen(cookie);
    if (len == 0 || len > 128) {
        return NULL;
    }
    char h[65];
    ad_sha256_hex(cookie, len, h);
    int64_t now = ad_wall_ms();
    ad_sess_t *x = a->sessions;
    while (x != NULL && !ad_consttime_eq(h, x->id_hash, 64)) {
        x = x->next;
    }
    if (x == NULL) {
        x = session_elsewhere(a, h, now);
    }
    if (x == NULL || x->expires_at <= now ||
        (x->tok != NULL ? !ad_auth_tok_live(x->tok, now) : !ad_auth_owner_bind_live(a, x->bind))) {
        return NULL;
    }
    *tok = x->tok;
    return x->who;
}

bool ad_auth_sess_forget(ad_auth_t *a, const char *id_hash)
{
    for (ad_sess_t **pp = &a->sessions; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->id_hash, id_hash) == 0) {
            ad_sess_t *x = *pp;
            *pp = x->next;
            free(x);
            return true;
        }
    }
    return false;
}

typedef struct {
    ad_auth_t *a;
    ad_store_session_t row;
    char cookie[AD_SECRET_MAX];
    ad_tok_t *tok;
    ad_auth_cb cb;
    void *ud;
} login_t;

static void on_session_stored(int rc, json_t *result, void *ud)
{
    login_t *c = ud;
    json_decref(result);
    json_t *out = NULL;
    if (rc == 0) {
        ad_sess_t *x =
            ad_auth_sess_add(c->a, c->row.id_hash, c->row.expires_at, c->tok, c->row.token_id);
        out = json_pack("{s:s, s:I, s:o}", "cookie", c->cookie, "maxAge",
                        (json_int_t)(AD_AUTH_SESSION_MS / 1000), "principal",
                        ad_auth_principal_json(c->a, x->who));
    }
    c->cb(rc, out, c->ud);
    json_decref(out);
    memset(c->cookie, 0, sizeof(c->cookie));
    free(c);
}

/* Makes a session for tok, or for the owner token of bind (tok NULL). */
static int session_make(ad_auth_t *a, ad_tok_t *tok, const char *bind, ad_auth_cb cb, void *ud)
{
    login_t *c = ad_xcalloc(1, sizeof(*c));
    c->a = a;
    c->tok = tok;
    c->cb = cb;
    c->ud = ud;
    if (ad_secret_new(c->cookie) != 0) {
        free(c);
        return AD_EIO;
    }
    ad_sha256_hex(c->cookie, strlen(c->cookie), c->row.id_hash);
    /* bound to its token: the owner's by a hash of the owner token, so a
     * new owner token (rotated, or another file at the next start) ends it */
    snprintf(c->row.token_id, sizeof(c->row.token_id), "%s", tok != NULL ? tok->row.id : bind);
    c->row.created_at = ad_wall_ms();
    c->row.expires_at = c->row.created_at + AD_AUTH_SESSION_MS;
    ad_store_session_insert(a->store, &c->row, on_session_stored, c);
    return 0;
}

int ad_auth_session_new(ad_auth_t *a, ad_tok_t *tok, ad_auth_cb cb, void *ud)
{
    return session_make(a, tok, a->owner_bind, cb, ud);
}

int ad_auth_login(ad_auth_t *a, const char *token, const char *peer, int64_t *retry_after,
                  ad_auth_cb cb, void *ud)
{
    ad_tok_t *tok = NULL;
    token = token != NULL ? token : "";
    /* a good token always gets in, however many bad ones came from its
     * network: a lockout must not be a way to keep the owner out */
    const ad_principal_t *who = ad_auth_token_lookup(a, token, &tok);
    if (who != NULL && who->scope == AD_SCOPE_NODE) {
        return AD_EPERM; /* a node's token signs nobody in (docs/nodes.md) */
    }
    if (who != NULL && tok == NULL) { /* an owner token: this plane's or another's */
        char h[65];
        ad_sha256_hex(token, strlen(token), h);
        const char *bind = ad_auth_owner_bind_for(a, h);
        return session_make(a, NULL, bind != NULL ? bind : a->owner_bind, cb, ud);
    }
    if (who != NULL) {
        return ad_auth_session_new(a, tok, cb, ud);
    }
    if (ad_auth_bad_locked(a, peer, token, retry_after)) {
        return AD_EAGAIN;
    }
    ad_auth_bad_failed(a, peer, token);
    return AD_EPERM;
}

/* ---- one-time login codes ---------------------------------------------------------- */

int ad_auth_login_code(ad_auth_t *a, char code[AD_SECRET_MAX], int64_t *expires_in_s)
{
    if (ad_secret_new(code) != 0) {
        return AD_EIO;
    }
    int64_t now = ad_wall_ms();
    ad_code_t *slot = &a->codes[0];
    for (size_t i = 0; i < AD_AUTH_CODES_MAX; i++) {
        ad_code_t *c = &a->codes[i];
        if (c->expires_at <= now) {
            slot = c; /* free or expired */
            break;
        }
        if (c->expires_at < slot->expires_at) {
            slot = c; /* else the one that ends first goes */
        }
    }
    ad_sha256_hex(code, strlen(code), slot->hash);
    slot->expires_at = now + AD_AUTH_CODE_MS;
    *expires_in_s = AD_AUTH_CODE_MS / 1000;
    if (a->sync != NULL) { /* any plane on the database takes it, once */
        ad_store_login_code_put(a->store, slot->hash, slot->expires_at);
        memset(slot, 0, sizeof(*slot));
    }
    return 0;
}

typedef struct {
    ad_auth_t *a;
    char peer[48];
    ad_auth_cb cb;
    void *ud;
} code_take_t;

static void on_code_taken(int rc, json_t *result, void *ud)
{
    code_take_t *c = ud;
    json_decref(result);
    if (rc == 0) {
        rc = ad_auth_session_new(c->a, NULL, c->cb, c->ud);
    } else if (rc == AD_ENOENT) {
        ad_auth_bad_failed(c->a, c->peer, "code");
        rc = AD_EPERM;
    }
    if (rc != 0) {
        c->cb(rc, NULL, c->ud);
    }
    free(c);
}

int ad_auth_login_with_code(ad_auth_t *a, const char *code, const char *peer, int64_t *retry_after,
                            ad_auth_cb cb, void *ud)
{
    size_t len = code != NULL ? strlen(code) : 0;
    int64_t now = ad_wall_ms();
    if (len > 0 && len <= 128 && a->sync != NULL) { /* the store's: taken once, whichever plane */
        if (ad_auth_bad_locked(a, peer, "code", retry_after)) {
            return AD_EAGAIN;
        }
        code_take_t *c = ad_xcalloc(1, sizeof(*c));
        c->a = a;
        snprintf(c->peer, sizeof(c->peer), "%s", peer != NULL ? peer : "");
        c->cb = cb;
        c->ud = ud;
        char h[65];
        ad_sha256_hex(code, len, h);
        ad_store_login_code_take(a->store, h, now, on_code_taken, c);
        return 0;
    }
    if (len > 0 && len <= 128) {
        char h[65];
        ad_sha256_hex(code, len, h);
        for (size_t i = 0; i < AD_AUTH_CODES_MAX; i++) {
            ad_code_t *c = &a->codes[i];
            if (c->expires_at > now && ad_consttime_eq(h, c->hash, 64)) {
                memset(c, 0, sizeof(*c)); /* once */
                return ad_auth_session_new(a, NULL, cb, ud);
            }
        }
    }
    if (ad_auth_bad_locked(a, peer, "code", retry_after)) {
        return AD_EAGAIN;
    }
    ad_auth_bad_failed(a, peer, "code");
    return AD_EPERM;
}

/* ---- cookies ------------------------------------------------------------------------ */

/* The value of cookie name in a Cookie header, copied into out. */
static bool cookie_value(const char *header, const char *name, char *out, size_t outsz)
{
    size_t nl = strlen(name);
    for (const char *p = header; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == ';') {
            p++;
        }
        const char *end = strchr(p, ';');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = len - nl - 1;
            if (vl >= outsz) {
                return false;
            }
            memcpy(out, p + nl + 1, vl);
            out[vl] = '\0';
            return true;
        }
        p = end;
    }
    return false;
}

void ad_auth_cookie_name(const ad_req_t *r, char *out, size_t outsz)
{
    const char *host = ad_req_header(r, "host");
    const char *colon = host != NULL ? strrchr(host, ':') : NULL;
    if (colon != NULL && strchr(colon, ']') == NULL && colon[1] != '\0' &&
        strspn(colon + 1, "0123456789") == strlen(colon + 1) && strlen(colon + 1) <= 5) {
        snprintf(out, outsz, "%s_%s", AD_AUTH_COOKIE, colon + 1);
    } else {
        snprintf(out, outsz, "%s", AD_AUTH_COOKIE);
    }
}

bool ad_auth_cookie(const ad_req_t *r, char *out, size_t outsz)
{
    const char *h = ad_req_header(r, "cookie");
    char name[32];
    ad_auth_cookie_name(r, name, sizeof(name));
    return h != NULL && cookie_value(h, name, out, outsz);
}

void ad_auth_logout(ad_auth_t *a, const ad_req_t *r)
{
    char cookie[160];
    if (!ad_auth_cookie(r, cookie, sizeof(cookie))) {
        return;
    }
    char h[65];
    ad_sha256_hex(cookie, strlen(cookie), h);
    for (ad_sess_t **pp = &a->sessions; *pp != NULL; pp = &(*pp)->next) {
        if (ad_consttime_eq((*pp)->id_hash, h, 64)) {
            ad_sess_t *x = *pp;
            *pp = x->next;
            ad_store_session_delete(a->store, x->id_hash, NULL, NULL);
            free(x);
            ad_auth_changed(a);
            return;
        }
    }
}
