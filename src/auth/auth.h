/* SPDX-License-Identifier: MIT */
/*
 * auth: who is asking, and whether they may. The owner token (made at
 * first start, kept in <data-dir>/owner-token with mode 0600), API tokens
 * (kept as SHA-256 hashes; each of one organisation with a scope: read,
 * write or admin), dashboard sessions (an HttpOnly, SameSite=Strict cookie
 * made from a token), and the server's guard: Host allow-list (DNS
 * rebinding), Origin and Content-Type checks on state-changing requests
 * (CSRF), credentials and scope per route, bad-token throttling, per-token
 * rate limits, security headers, and the audit of every state-changing
 * request. The unix socket is trusted as the owner.
 *
 * Threads: loop thread only.
 */
#ifndef AD_AUTH_H
#define AD_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"
#include "core/core.h"
#include "http/http.h"
#include "store/store.h"
#include "tables/auth.h"

typedef enum {
    /* A worker node (issue #34, docs/nodes.md): outside the order below.
     * It sorts under every route's access level, so the numeric checks
     * refuse it everywhere; only AD_ACCESS_NODE routes take it, and them
     * nothing else does. Never from a JWT or a login. */
    AD_SCOPE_NODE = -1,
    AD_SCOPE_NONE = 0,
    AD_SCOPE_READ,  /* GET and subscriptions */
    AD_SCOPE_WRITE, /* changes that start no process */
    AD_SCOPE_ADMIN, /* processes, tokens, settings, audit */
} ad_scope_t;

/* Who a request comes from. Borrowed from the auth subsystem; valid while
 * the request is. */
typedef struct {
    char token_id[AD_ID_MAX]; /* "" for the owner */
    char name[64];            /* "owner", "unix-socket", or the token's name */
    char org_id[AD_ID_MAX];   /* "" : every organisation (the owner) */
    ad_scope_t scope;
    bool owner;
    int64_t expires_at; /* wall ms a JWT's exp ends it at; 0: not a JWT */
} ad_principal_t;

typedef struct ad_auth ad_auth_t;
typedef void (*ad_auth_cb)(int rc, json_t *result, void *ud);

/* Reads the owner token (making it at first start), the tokens and the
 * sessions. Refuses --auth none off loopback, and an unknown --auth.
 * Returns 0 and *out (owned: ad_auth_close()), or an error with a message
 * in err. */
int ad_auth_open(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store, ad_auth_t **out,
                 char *err, size_t errsz);
/* Installs the guard on the server (before it listens). */
void ad_auth_attach(ad_auth_t *a, ad_server_t *s);
/* Writes what auth still holds for the store (the count of unauthenticated
 * requests of the interval under way) and stops counting: the daemon calls
 * it before ad_store_close(), which would leave a later write unwritten. */
void ad_auth_store_done(ad_auth_t *a);
/* Closes the audit trimmer; the memory goes in its close callback. */
void ad_auth_close(ad_auth_t *a);
/* Whether TCP requests need credentials (--auth token). */
bool ad_auth_required(const ad_auth_t *a);
/* The owner token. Borrowed. Printed only when it was made at this start
 * (ad_auth_owner_token_made): never again after the first start. */
const char *ad_auth_owner_token(const ad_auth_t *a);
bool ad_auth_owner_token_made(const ad_auth_t *a);
/* Makes a new owner token (kept in <data-dir>/owner-token unless --token
 * gave it) and ends everything the old one signed in: its sessions and
 * channels. cb gets {token} (new reference). AD_EPERM when --token gave the
 * token (then cb is not called). */
int ad_auth_owner_rotate(ad_auth_t *a, ad_auth_cb cb, void *ud, char *err, size_t errsz);
/* A one-time login code for the owner (the CLI asks for one over the unix
 * socket): 43 URL-safe characters into code, good for one login within
 * AD_AUTH_CODE_MS. 0, or AD_EIO without randomness. */
int ad_auth_login_code(ad_auth_t *a, char code[AD_SECRET_MAX], int64_t *expires_in_s);

/* ---- requests -------------------------------------------------------------------- */
/* Who sent r, or NULL when nobody is known (a WebSocket upgrade without
 * valid credentials, which its handler closes with 4401). */
const ad_principal_t *ad_auth_principal(const ad_req_t *r);
/* For WebSocket routes: 0 when the connection may stay open, else the close
 * code to use (4401: no or bad credentials; 4403: the token's scope does
 * not allow the route) and a reason. */
int ad_auth_ws_refusal(const ad_req_t *r, const char **reason);
/* The credential r presents, as a control plane sends it on to the one
 * that holds the work (issue #77): its token (Authorization: Bearer, an
 * upgrade's Sec-WebSocket-Protocol or ?token=) into token, else its
 * session cookie's value into session (token ""); false when it presents
 * neither, or one too long for the buffer. The caller wipes both. */
bool ad_auth_presented(const ad_req_t *r, char *token, size_t tokensz, char *session,
                       size_t sessionsz);
/* Whether r's Origin, if it has one, is ours (its scheme and Host) or
 * listed in --cors-origins. */
bool ad_auth_origin_ok(const ad_auth_t *a, const ad_req_t *r);
/* Whether p may see a resource of org_id (the owner sees every org). */
bool ad_principal_sees(const ad_principal_t *p, const char *org_id);
/* The org p acts in: its own, or for the owner `requested` (may be NULL or
 * ""), else the default org. */
const char *ad_principal_org_for(const ad_principal_t *p, const char *requested);
/* The principal's org filter for lists: "" for the owner (every org). */
const char *ad_principal_filter(const ad_principal_t *p);
/* Whether p has at least scope. */
bool ad_principal_can(const ad_principal_t *p, ad_scope_t scope);
/* "read", "write", "admin" ("node" for AD_SCOPE_NODE); parse: 0 or
 * AD_EINVAL, read/write/admin only (a JWT's claim, a setting). */
const char *ad_scope_name(ad_scope_t s);
int ad_scope_parse(const char *s, ad_scope_t *out);
/* The same for an API token's stored or asked-for scope: also "node". */
int ad_scope_parse_token(const char *s, ad_scope_t *out);
/* POST /api/tokens {name (1-63), scope (read|write|admin|node),
 * expiresInSeconds? (up to 100 years), ratePerMinute?} read (name
 * borrowed from body; expires_at 0: never). 0, or AD_EINVAL with e; the
 * token's org is the caller's to choose. */
typedef struct {
    const char *name;
    ad_scope_t scope;
    int64_t expires_at; /* wall ms */
    int64_t rate;       /* requests a minute, 0: the default */
} ad_auth_token_spec_t;
int ad_auth_token_spec(const json_t *body, ad_auth_token_spec_t *t, ad_field_err_t *e);

/* What a request signed in with, kept by a channel that outlives it (a
 * WebSocket, an event stream) to be checked again: a token id ("" for the
 * owner token) or a session (by its hash). kind 0: nothing to check (the
 * unix socket, --auth none). */
typedef struct {
    int kind; /* 0 none, 1 token, 2 session, 3 JWT (key: its hash) */
    char key[65];
    int64_t expires_at; /* kind 3: its exp, wall ms */
} ad_auth_cred_t;
void ad_auth_credential(const ad_req_t *r, ad_auth_cred_t *out);
/* Whether cred still signs someone in (not revoked, expired or signed out). */
bool ad_auth_credential_live(ad_auth_t *a, const ad_auth_cred_t *cred);
/* cb(ud) runs after a token is revoked or a session ends, so long-lived
 * channels can be checked at once. One watcher; NULL removes it. */
void ad_auth_on_change(ad_auth_t *a, void (*cb)(void *ud), void *ud);

/* A long-lived channel's credential, watched: ended(ud) runs once, on the
 * loop, as soon as cred stops signing anyone in: at once after a
 * revocation, a sign-out or an owner token rotation, and at the moment it
 * expires. The channel then closes itself. Every channel that outlives its
 * request (WebSocket, SSE, terminal) watches its credential. The watch is
 * the caller's: ad_auth_unwatch() it when the channel closes (after
 * ended() too). Never NULL. */
typedef struct ad_auth_watch ad_auth_watch_t;
ad_auth_watch_t *ad_auth_watch(ad_auth_t *a, const ad_auth_cred_t *cred, void (*ended)(void *ud),
                               void *ud);
void ad_auth_unwatch(ad_auth_watch_t *w);

/* ---- tokens --------------------------------------------------------------------- */
/* Creates an API token. org_id must exist (AD_ENOENT); expires_at 0 for
 * never; rate_per_minute 0 for --token-rate-per-minute. cb gets {token
 * (the secret text, shown this once), id, name, orgId, scope, createdAt,
 * expiresAt, ratePerMinute}. Returns 0 or AD_EINVAL (err says why), and then
 * cb is not called. */
int ad_auth_token_create(ad_auth_t *a, const char *name, const char *org_id, ad_scope_t scope,
                         int64_t expires_at, int64_t rate_per_minute, ad_auth_cb cb, void *ud,
                         char *err, size_t errsz);
/* [{id, name, orgId, scope, createdAt, expiresAt, revokedAt, ratePerMinute}]
 * of org (NULL or "": every org). New reference. */
json_t *ad_auth_token_list(const ad_auth_t *a, const char *org);
/* The token's org, or NULL when there is no such token. */
const char *ad_auth_token_org(ad_auth_t *a, const char *id);
/* Revokes a token (and its sessions); AD_ENOENT for an unknown or revoked
 * one. cb (may be NULL) gets NULL on success. */
void ad_auth_token_revoke(ad_auth_t *a, const char *id, ad_auth_cb cb, void *ud);
/* The same with nobody told, auth an ad_auth_t: the shape of the callback
 * a node's revocation revokes its token with (ad_plane_revoke). */
void ad_auth_token_drop(void *auth, const char *id);

/* ---- sessions ------------------------------------------------------------------- */
#define AD_AUTH_COOKIE "agentd_session"
/* The session cookie's name for r: AD_AUTH_COOKIE, then "_<port>" when the
 * Host names a port. Browsers send a host's cookies to every port, so two
 * daemons on one machine would otherwise log each other out. */
void ad_auth_cookie_name(const ad_req_t *r, char *out, size_t outsz);
/* What the account routes compute (forms.c). The Set-Cookie header of the
 * session cookie for r holding value for max_age seconds (Secure over
 * TLS); the sign-in URL of this daemon (cfg's host and TLS, port) carrying
 * a login code in its fragment; orgs ([{id, ...}]) cut to those who sees;
 * an audit page's limit (1 to 1000, 100) and before cursor (not negative)
 * from their query strings (NULL: absent), 0 or AD_EINVAL with e. */
void ad_auth_cookie_header(const ad_req_t *r, const char *value, int64_t max_age, char *out,
                           size_t outsz);
void ad_auth_login_url(const ad_config_t *cfg, int port, const char *code, char *url, size_t urlsz);
void ad_auth_orgs_seen(json_t *orgs, const ad_principal_t *who);
int ad_auth_audit_query(const char *lim, const char *before, int *limit, int64_t *cursor,
                        ad_field_err_t *e);
/* The org a body's orgId gives a new row of who's: a token's own (another
 * org's is refused), the owner's choice (an id or a name) or the default
 * org. 0; AD_EINVAL with e; or st's error (e left alone). */
int ad_auth_org_for(ad_store_t *st, const ad_principal_t *who, const json_t *body,
                    char org[AD_ID_MAX], ad_field_err_t *e);
/* The org who asks about or acts in when naming want (an id or a name;
 * NULL: none): a token's own (another org named is AD_EPERM when
 * other_refused, else ignored), the owner's choice or the default org.
 * 0, AD_EPERM, or st's error (AD_ENOENT: no such org). */
int ad_auth_org_named(ad_store_t *st, const ad_principal_t *who, const char *want,
                      bool other_refused, char org[AD_ID_MAX]);
/* Whether the row of kind with id exists and who may see it: 0 (org_out,
 * may be NULL, gets the row's org), AD_ENOENT (missing, or another org's:
 * answered alike) or st's error. */
int ad_auth_row_org(ad_store_t *st, const ad_principal_t *who, ad_store_row_t kind, const char *id,
                    char org_out[AD_ID_MAX]);
/* Checks token (the owner's or an API token) and makes a session for it:
 * cb gets {cookie (the value to set), maxAge (s), principal {...}}.
 * A session is bound to its token: revoking the token, or rotating the
 * owner token, ends it. Returns AD_EPERM for a bad token (counted against
 * peer's network and the token's prefix), AD_EAGAIN while either is
 * locked out (*retry_after in seconds; a good token always gets in); then
 * cb is not called. */
int ad_auth_login(ad_auth_t *a, const char *token, const char *peer, int64_t *retry_after,
                  ad_auth_cb cb, void *ud);
/* The same with a one-time code (ad_auth_login_code), used up here: the
 * session is the owner's. AD_EPERM for a code that is unknown, used or
 * expired (counted against peer), AD_EAGAIN while peer is locked out. */
int ad_auth_login_with_code(ad_auth_t *a, const char *code, const char *peer, int64_t *retry_after,
                            ad_auth_cb cb, void *ud);
/* ---- user accounts (users.c, userroutes.c) ------------------------------------------
 * A username and an argon2id password hash, a home org, and per org a role
 * (read, write or admin: the token scopes) backed by a token of the
 * account's own (docs/security.md, "User accounts"). */
#define AD_AUTH_USERNAME_MAX 32
#define AD_AUTH_PASSWORD_MIN 8
#define AD_AUTH_PASSWORD_MAX 256
/* Sign-in by password: a session of the account's token for org (NULL or
 * "": the default org's role, else its first). Returns 0 and cb later:
 * rc 0 with what ad_auth_login gives, or AD_EPERM (a wrong username or
 * password, a disabled account, no role in org: all alike, counted against
 * peer's network and the username); AD_EAGAIN while either is locked out
 * or too many hashes are under way (*retry_after in s); or a read error.
 * The password is hashed on the thread pool and wiped. */
int ad_auth_login_password(ad_auth_t *a, const char *username, const char *password,
                           const char *org, const char *peer, int64_t *retry_after, ad_auth_cb cb,
                           void *ud);
/* 0, or AD_EINVAL with e (a-z 0-9 . _ -, 1-32; a string of 8-256 bytes). */
int ad_auth_username_check(const char *u, ad_field_err_t *e);
int ad_auth_password_check(const json_t *v, ad_field_err_t *e);
/* GET/POST /api/users, PATCH/DELETE /api/users/:id, PUT/DELETE
 * /api/users/:id/roles/:org (admin; an org admin its own org's only). */
void ad_auth_users_routes(ad_auth_t *a, ad_server_t *s);
/* Ends the session of r's cookie, if any. */
void ad_auth_logout(ad_auth_t *a, const ad_req_t *r);
/* {name, orgId, scope, owner, authRequired} of p. New reference. */
json_t *ad_auth_principal_json(const ad_auth_t *a, const ad_principal_t *p);

#endif
