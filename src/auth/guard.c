/* SPDX-License-Identifier: MIT */
/*
 * The guard every request passes before its handler (ad_server_set_guard):
 * the unix socket is the owner; over TCP the Host must be one of ours (DNS
 * rebinding), a state-changing request from a browser must come from our
 * origin and carry JSON (CSRF: a "simple" cross-site POST cannot), and
 * unless the route is public it needs a credential whose scope covers the
 * route, within the token's rate and the address's bad-credential budget.
 * A WebSocket upgrade without a good credential is let through marked, so
 * its handler can close it with 4401 (a browser cannot read a refused
 * upgrade's status). Every answer gets the security headers; every
 * state-changing request leaves an audit row.
 */
#include "auth/auth_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Marks for upgrades that must be closed by their handler. */
static const ad_principal_t unauthenticated = {.name = "anonymous"};
static const ad_principal_t forbidden = {.name = "forbidden"};

const ad_principal_t *ad_auth_principal(const ad_req_t *r)
{
    const ad_principal_t *p = ad_req_auth(r);
    return p == &unauthenticated || p == &forbidden ? NULL : p;
}

int ad_auth_ws_refusal(const ad_req_t *r, const char **reason)
{
    const ad_principal_t *p = ad_req_auth(r);
    if (p == &forbidden) {
        *reason = "forbidden: the token's scope does not allow this channel";
        return 4403;
    }
    if (p == NULL || p == &unauthenticated) {
        *reason = "unauthorized: a valid token is required";
        return 4401;
    }
    return 0;
}

/* ---- what the request says ---------------------------------------------------------- */

static bool changes_state(const ad_req_t *r)
{
    const char *m = ad_req_method(r);
    return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 && strcmp(m, "OPTIONS") != 0;
}

/* The Host header without its port (and without brackets). */
static bool host_name(const ad_req_t *r, char *out, size_t outsz)
{
    const char *h = ad_req_header(r, "host");
    if (h == NULL || h[0] == '\0') {
        return false;
    }
    size_t len;
    if (h[0] == '[') {
        const char *end = strchr(h, ']');
        if (end == NULL) {
            return false;
        }
        h++;
        len = (size_t)(end - h);
    } else {
        const char *colon = strchr(h, ':');
        len = colon != NULL ? (size_t)(colon - h) : strlen(h);
    }
    if (len == 0 || len >= outsz) {
        return false;
    }
    memcpy(out, h, len);
    out[len] = '\0';
    return true;
}

static bool host_ok(const ad_auth_t *a, const ad_req_t *r)
{
    char host[256];
    if (!host_name(r, host, sizeof(host))) {
        return false;
    }
    for (size_t i = 0; i < a->nhosts; i++) {
        if (strcasecmp(a->hosts[i], host) == 0) {
            return true;
        }
    }
    return false;
}

/* Our own origin is the scheme and Host this request came to; others are
 * allowed only when listed in --cors-origins. */
static bool origin_ok(const ad_auth_t *a, const ad_req_t *r, const char *origin)
{
    const char *host = ad_req_header(r, "host");
    const char *scheme = ad_req_is_tls(r) ? "https://" : "http://";
    size_t sl = strlen(scheme);
    if (host != NULL && strncmp(origin, scheme, sl) == 0 && strcasecmp(origin + sl, host) == 0) {
        return true;
    }
    for (size_t i = 0; i < a->norigins; i++) {
        if (strcmp(a->origins[i], origin) == 0) {
            return true;
        }
    }
    return false;
}

bool ad_auth_origin_ok(const ad_auth_t *a, const ad_req_t *r)
{
    const char *origin = ad_req_header(r, "origin");
    return origin == NULL || ad_req_is_local(r) || a->any_origin || origin_ok(a, r, origin);
}

static bool json_body_ok(const ad_req_t *r)
{
    size_t len = 0;
    ad_req_body(r, &len);
    if (len == 0) {
        return true;
    }
    const char *ct = ad_req_header(r, "content-type");
    if (ct == NULL) {
        return false;
    }
    size_t n = strcspn(ct, "; ");
    return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

/* The token a request presents: Authorization: Bearer, or for an upgrade
 * the Sec-WebSocket-Protocol pair "bearer, <token>" (as the seed's client
 * sends it), the token as its only value, or ?token=. Copied into out;
 * false when there is none. */
static bool presented_token(const ad_req_t *r, char *out, size_t outsz)
{
    const char *h = ad_req_header(r, "authorization");
    if (h != NULL && strncasecmp(h, "bearer ", 7) == 0) {
        h += 7;
        while (*h == ' ') {
            h++;
        }
        return snprintf(out, outsz, "%s", h) < (int)outsz;
    }
    if (!ad_req_is_upgrade(r)) {
        return false;
    }
    const char *protos = ad_req_header(r, "sec-websocket-protocol");
    if (protos != NULL) {
        const char *p = protos;
        while (*p == ' ' || *p == ',') {
            p++;
        }
        if (strncasecmp(p, "bearer", 6) == 0 && (p[6] == ',' || p[6] == ' ')) {
            p += 6;
            while (*p == ' ' || *p == ',') {
                p++;
            }
            size_t len = strcspn(p, ", ");
            if (len > 0 && len < outsz) {
                memcpy(out, p, len);
                out[len] = '\0';
                return true;
            }
        } else if (p[strcspn(p, ", ")] == '\0' && strlen(p) >= 32) {
            /* The token as the only value (the crews seed's client:
             * new WebSocket(url, token)); src/ws answers it back. */
            return snprintf(out, outsz, "%s", p) < (int)outsz;
        }
    }
    const char *q = ad_req_query(r, "token");
    return q != NULL && q[0] != '\0' && snprintf(out, outsz, "%s", q) < (int)outsz;
}

bool ad_auth_presented(const ad_req_t *r, char *token, size_t tokensz, char *session,
                       size_t sessionsz)
{
    token[0] = session[0] = '\0';
    if (presented_token(r, token, tokensz)) {
        return token[0] != '\0';
    }
    token[0] = '\0';
    return ad_auth_cookie(r, session, sessionsz) && session[0] != '\0';
}

void ad_auth_credential(const ad_req_t *r, ad_auth_cred_t *out)
{
    char token[AD_AUTH_PRESENTED_MAX];
    memset(out, 0, sizeof(*out));
    if (ad_req_is_local(r)) {
        return;
    }
    if (presented_token(r, token, sizeof(token)) && ad_auth_jwt_shaped(token)) {
        /* stateless: it signs in until its exp (the guard checked it) */
        const ad_principal_t *who = ad_req_auth(r);
        out->kind = 3;
        ad_sha256_hex(token, strlen(token), out->key);
        out->expires_at = who != NULL ? who->expires_at : 1;
    } else if (presented_token(r, token, sizeof(token))) {
        const char *dot = strchr(token, '.');
        size_t idlen = dot != NULL ? (size_t)(dot - token) : 0;
        if (dot == NULL) {
            /* the owner token has no id: what it is bound to, so that
             * rotating it ends its channels */
            char h[65];
            ad_sha256_hex(token, strlen(token), h);
            out->kind = 1;
            ad_auth_owner_bind_of(h, out->key);
        } else if (idlen < sizeof(out->key)) {
            out->kind = 1;
            memcpy(out->key, token, idlen);
            out->key[idlen] = '\0';
        }
    } else if (ad_auth_cookie(r, token, sizeof(token))) {
        out->kind = 2;
        ad_sha256_hex(token, strlen(token), out->key);
    }
    memset(token, 0, sizeof(token));
}

/* ---- answers ---------------------------------------------------------------------- */

/* The headers every answer carries, as constant lines: made once by the
 * compiler, not copied and checked byte by byte for each answer (they were
 * the largest of agentd's own costs in a small GET). HSTS only over TLS. */
#define SECURITY_HEAD                                                                              \
    "X-Content-Type-Options: nosniff\r\n"                                                          \
    "Referrer-Policy: no-referrer\r\n"                                                             \
    "X-Frame-Options: DENY\r\n"
#define SECURITY_CSP                                                                               \
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self' "            \
    "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src "      \
    "'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'\r\n"

static void security_headers(ad_req_t *r)
{
    static const char plain[] = SECURITY_HEAD SECURITY_CSP;
    static const char tls[] =
        SECURITY_HEAD "Strict-Transport-Security: max-age=31536000\r\n" SECURITY_CSP;
    if (ad_req_is_tls(r)) {
        ad_res_header_lines(r, tls, sizeof(tls) - 1);
    } else {
        ad_res_header_lines(r, plain, sizeof(plain) - 1);
    }
}

struct ad_auth_delayed {
    uv_timer_t timer;
    ad_auth_t *a;
    ad_req_t *req;
    struct ad_auth_delayed *prev, *next;
};
typedef struct ad_auth_delayed delayed_t;

static void delayed_closed(uv_handle_t *h)
{
    delayed_t *d = h->data;
    if (d->prev != NULL) {
        d->prev->next = d->next;
    } else {
        d->a->delayed = d->next;
    }
    if (d->next != NULL) {
        d->next->prev = d->prev;
    }
    free(d);
}

static void answer_delayed(delayed_t *d)
{
    ad_res_header(d->req, "WWW-Authenticate", "Bearer");
    ad_res_error(d->req, 401, "UNAUTHORIZED", NULL, "the token is not valid");
    uv_close((uv_handle_t *)&d->timer, delayed_closed);
}

static void on_delayed(uv_timer_t *t)
{
    answer_delayed(t->data);
}

void ad_auth_delayed_flush(ad_auth_t *a)
{
    for (delayed_t *d = a->delayed; d != NULL; d = d->next) {
        if (!uv_is_closing((uv_handle_t *)&d->timer)) {
            answer_delayed(d);
        }
    }
}

/* A bad credential: answered after the penalty of its network and token
 * prefix, so guessing is slow; past the budget both are refused for a
 * while. */
static void answer_bad_credential(ad_auth_t *a, ad_req_t *r, const char *peer, const char *token)
{
    uint64_t wait = ad_auth_bad_failed(a, peer, token);
    if (wait == 0 || a->loop == NULL) {
        ad_res_header(r, "WWW-Authenticate", "Bearer");
        ad_res_error(r, 401, "UNAUTHORIZED", NULL, "the token is not valid");
        return;
    }
    delayed_t *d = ad_xcalloc(1, sizeof(*d));
    d->req = r;
    d->a = a;
    d->next = a->delayed;
    if (a->delayed != NULL) {
        a->delayed->prev = d;
    }
    a->delayed = d;
    uv_timer_init(a->loop, &d->timer);
    d->timer.data = d;
    uv_timer_start(&d->timer, on_delayed, wait, 0);
}

static void answer_retry(ad_req_t *r, int64_t retry_after, const char *why)
{
    char ra[24];
    snprintf(ra, sizeof(ra), "%lld", (long long)retry_after);
    ad_res_header(r, "Retry-After", ra);
    ad_res_error(r, 429, "RATE_LIMITED", json_pack("{s:I}", "retryAfter", (json_int_t)retry_after),
                 "%s; retry in %lld s", why, (long long)retry_after);
}

/* ---- the checks ------------------------------------------------------------------- */

/* Browser protections, for TCP requests: false after answering. */
static bool request_ok(ad_auth_t *a, ad_req_t *r)
{
    if (!host_ok(a, r)) {
        ad_res_error(r, 403, "HOST_NOT_ALLOWED", NULL,
                     "this server does not answer for that Host (add it with --allowed-hosts)");
        return false;
    }
    const char *origin = ad_req_header(r, "origin");
    if (origin != NULL && (changes_state(r) || ad_req_is_upgrade(r)) && !a->any_origin &&
        !origin_ok(a, r, origin)) {
        ad_res_error(r, 403, "ORIGIN_NOT_ALLOWED", json_pack("{s:s}", "origin", origin),
                     "requests from another origin are refused (list it in --cors-origins)");
        return false;
    }
    return true;
}

/* A body sent to the API must say it is JSON: a page on another origin
 * cannot send that type without a preflight we never grant. (Public test
 * and static routes that take other bodies are left to their handlers.) */
static bool type_ok(ad_req_t *r, ad_access_t access)
{
    bool api = access != AD_ACCESS_PUBLIC || strncmp(ad_req_path(r), "/api/", 5) == 0;
    if (api && changes_state(r) && !json_body_ok(r)) {
        ad_res_error(r, 415, "UNSUPPORTED_MEDIA_TYPE", NULL,
                     "a request body must be JSON (Content-Type: application/json)");
        return false;
    }
    return true;
}

/* Who this TCP request is; false after answering (or marking an upgrade). */
static bool identify(ad_auth_t *a, ad_req_t *r, const ad_principal_t **who, ad_tok_t **tok)
{
    char token[AD_AUTH_PRESENTED_MAX];
    char peer[48];
    bool upgrade = ad_req_is_upgrade(r);
    *who = NULL;
    if (presented_token(r, token, sizeof(token))) {
        ad_req_peer(r, peer, sizeof(peer));
        /* A good token always gets in: only bad ones are throttled, so
         * bad ones sent in someone's name cannot lock them out. */
        *who = ad_auth_lookup(a, r, token, tok);
        int64_t retry = 0;
        if (*who == NULL && ad_auth_bad_locked(a, peer, token, &retry)) {
            memset(token, 0, sizeof(token));
            answer_retry(r, retry, "too many bad tokens from this network");
            return false;
        }
        if (*who == NULL && !upgrade) {
            answer_bad_credential(a, r, peer, token);
            memset(token, 0, sizeof(token));
            return false;
        }
        if (*who == NULL) {
            ad_auth_bad_failed(a, peer, token);
        }
        memset(token, 0, sizeof(token));
    } else if (ad_auth_cookie(r, token, sizeof(token))) {
        *who = ad_auth_session_lookup(a, token, tok);
    }
    if (*who == NULL && upgrade) {
        ad_req_set_auth(r, &unauthenticated); /* closed with 4401 by its handler */
        return false;
    }
    if (*who == NULL) {
        ad_res_header(r, "WWW-Authenticate", "Bearer");
        ad_res_error(r, 401, "UNAUTHORIZED", NULL,
                     "a token is required (Authorization: Bearer, or log in to the dashboard)");
        return false;
    }
    return true;
}

/* Whether who's scope covers a route of access: the order read < write <
 * admin, except a node's link, which takes a node's credential and
 * nothing else, while a node's credential (sorting below every level)
 * takes nothing but it. */
static bool node_fits(const ad_principal_t *who, ad_access_t access)
{
    if (access == AD_ACCESS_NODE || who->scope == AD_SCOPE_NODE) {
        return access == AD_ACCESS_NODE && who->scope == AD_SCOPE_NODE;
    }
    return (int)who->scope >= (int)access;
}

static bool guard_check(void *ud, ad_req_t *r, ad_access_t access)
{
    ad_auth_t *a = ud;
    security_headers(r);
    if (ad_req_is_local(r)) {
        ad_req_set_auth(r, &a->unix_owner);
        return true;
    }
    if (!request_ok(a, r) || !type_ok(r, access)) {
        return false;
    }
    if (!a->required) {
        ad_req_set_auth(r, &a->owner);
        return true;
    }
    if (access == AD_ACCESS_PUBLIC) {
        return true;
    }
    const ad_principal_t *who = NULL;
    ad_tok_t *tok = NULL;
    if (!identify(a, r, &who, &tok)) {
        return ad_req_auth(r) == &unauthenticated; /* an upgrade goes on, marked */
    }
    ad_req_set_auth(r, who); /* the audit names who was refused, too */
    if (!node_fits(who, access)) {
        if (ad_req_is_upgrade(r)) {
            ad_req_set_auth(r, &forbidden);
            return true;
        }
        ad_res_error(r, 403, "FORBIDDEN", json_pack("{s:s}", "scope", ad_scope_name(who->scope)),
                     "this token's scope (%s) does not allow this", ad_scope_name(who->scope));
        return false;
    }
    int64_t retry = 0;
    if (tok != NULL && !ad_auth_tok_take(a, tok, &retry)) {
        answer_retry(r, retry, "this token's request rate is used up");
        return false;
    }
    return true;
}

/* Before a TCP request's body is read: a route that needs a credential
 * gets no body from a request without a good one (401, or 429 for an
 * address locked out for bad tokens, 403 for too small a scope); the
 * connection then closes with the body unread. A Host that is not ours is
 * a 403 first, as in the full check (DNS rebinding). What the full check
 * does later (origin, type, rate) is left to it. */
static int guard_pre_body(void *ud, ad_req_t *r, ad_access_t access)
{
    ad_auth_t *a = ud;
    if (ad_req_is_local(r)) {
        return 0;
    }
    if (!host_ok(a, r)) {
        security_headers(r);
        return 403; /* DNS rebinding: not our name, whatever the token */
    }
    if (!a->required || access == AD_ACCESS_PUBLIC) {
        return 0;
    }
    char token[AD_AUTH_PRESENTED_MAX];
    const ad_principal_t *who = NULL;
    ad_tok_t *tok = NULL;
    if (presented_token(r, token, sizeof(token))) {
        char peer[48];
        ad_req_peer(r, peer, sizeof(peer));
        int64_t retry = 0;
        if (ad_auth_peer_locked(a, peer, &retry)) {
            memset(token, 0, sizeof(token));
            char ra[24];
            snprintf(ra, sizeof(ra), "%lld", (long long)retry);
            security_headers(r);
            ad_res_header(r, "Retry-After", ra);
            return 429;
        }
        who = ad_auth_lookup(a, r, token, &tok);
        if (who == NULL) {
            ad_auth_peer_failed(a, peer);
        }
    } else if (ad_auth_cookie(r, token, sizeof(token))) {
        who = ad_auth_session_lookup(a, token, &tok);
    }
    memset(token, 0, sizeof(token));
    if (who == NULL) {
        security_headers(r);
        ad_res_header(r, "WWW-Authenticate", "Bearer");
        return 401;
    }
    if (!node_fits(who, access)) {
        ad_req_set_auth(r, who); /* the audit names who was refused */
        security_headers(r);
        return 403;
    }
    return 0;
}

/* ---- the audit ------------------------------------------------------------------------- */

static void guard_done(void *ud, ad_req_t *r, int status)
{
    ad_auth_t *a = ud;
    if (!changes_state(r) || a->store == NULL) {
        return;
    }
    ad_store_audit_t row;
    memset(&row, 0, sizeof(row));
    row.ts = ad_wall_ms();
    const ad_principal_t *who = ad_auth_principal(r);
    ad_req_peer(r, row.remote, sizeof(row.remote));
    if (who == NULL && status >= 400 && ad_auth_noise_note(a, row.remote, status)) {
        return; /* unauthenticated noise: counted into one row an interval */
    }
    snprintf(row.token_name, sizeof(row.token_name), "%s", who != NULL ? who->name : "anonymous");
    snprintf(row.org_id, sizeof(row.org_id), "%s", who != NULL ? who->org_id : "");
    snprintf(row.method, sizeof(row.method), "%s", ad_req_method(r));
    const char *route = ad_req_route(r);
    snprintf(row.route, sizeof(row.route), "%s", route != NULL ? route : ad_req_path(r));
    const char *id = ad_req_param(r, "id");
    snprintf(row.target_id, sizeof(row.target_id), "%s", id != NULL ? id : "");
    row.status = status;
    const char *note = ad_req_note(r); /* what the handler changed, in words */
    snprintf(row.detail, sizeof(row.detail), "%s", note != NULL ? note : "");
    ad_store_audit_insert(a->store, &row);
}

/* The caps' name for a principal: its token's id, not its address. A
 * session counts under the token it was made from. */
static const char *guard_key(void *ud, const void *auth)
{
    const ad_auth_t *a = ud;
    const ad_principal_t *p = auth;
    if (p == &unauthenticated) {
        return "(unauthenticated)";
    }
    if (p == &forbidden) {
        return "(forbidden)";
    }
    if (p == &a->unix_owner) {
        return NULL;
    }
    return p->owner || p->token_id[0] == '\0' ? "(owner)" : p->token_id;
}

static const ad_guard_t guard_ops = {guard_check, guard_done, guard_pre_body, guard_key};

void ad_auth_attach(ad_auth_t *a, ad_server_t *s)
{
    ad_server_set_guard(s, &guard_ops, a);
}
