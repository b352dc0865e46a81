/* SPDX-License-Identifier: MIT */
/*
 * Private to src/auth: the auth state (tokens and sessions kept in memory,
 * written through to the store), the rate limiters, and what auth.c
 * (identity), guard.c (the per-request checks and audit) and limits.c
 * share. Loop thread only.
 */
#ifndef AD_AUTH_INT_H
#define AD_AUTH_INT_H

#include "auth/auth.h"
#include "tables/accounts.h"
#include "tables/auth.h"

#define AD_AUTH_HOSTS_MAX 32
#define AD_AUTH_ORIGINS_MAX 32
/* Remote addresses tracked for bad credentials; the oldest is replaced. */
#define AD_AUTH_PEERS_MAX 1024
/* Bad credentials from one address: each answer waits 100 ms × the count
 * (at most 2 s), and past AD_AUTH_FAILS_MAX within AD_AUTH_FAIL_WINDOW_MS
 * every attempt from it is refused for AD_AUTH_LOCK_MS. */
#define AD_AUTH_FAILS_MAX 10
#define AD_AUTH_FAIL_WINDOW_MS 60000
#define AD_AUTH_LOCK_MS 60000
#define AD_AUTH_SESSION_MS (30LL * 24 * 3600 * 1000)
#define AD_AUTH_AUDIT_TRIM_MS (3600 * 1000)

/* A token as the daemon keeps it: the row, and the principal it stands for. */
typedef struct ad_tok {
    struct ad_tok *next;
    ad_store_token_t row;
    ad_principal_t who;
    uint64_t read_ms; /* monotonic: when row was last read from a shared database */
    /* per-token rate limit: a token bucket refilled per ms */
    double tokens;
    uint64_t refilled_ms;
} ad_tok_t;

typedef struct ad_sess {
    struct ad_sess *next;
    char id_hash[65];
    int64_t expires_at;
    const ad_principal_t *who; /* the owner's, or a token's (live ones only) */
    ad_tok_t *tok;             /* NULL for the owner */
    char bind[40];             /* the owner's: the owner token it came from ("owner:…") */
} ad_sess_t;

/* Another control plane's owner token on the same database (planes.c). */
typedef struct {
    char hash[65];
    char bind[40];
} ad_owner_peer_t;

/* A channel's credential, watched (watch.c). */
struct ad_auth_watch {
    struct ad_auth_watch *next, *prev;
    ad_auth_t *a;
    ad_auth_cred_t cred;
    void (*ended)(void *ud);
    void *ud;
    int64_t expires_at; /* the credential's, wall ms (0: never) */
    bool fired;         /* unlinked: ended ran (or is running) */
};

/* A one-time login code: its hash, until when, and whose (the owner's). */
#define AD_AUTH_CODES_MAX 64
#define AD_AUTH_CODE_MS (5 * 60 * 1000)
typedef struct {
    char hash[65];
    int64_t expires_at; /* 0: a free slot */
} ad_code_t;

typedef struct {
    char addr[48];
    unsigned fails;
    uint64_t window_start;
    uint64_t locked_until;
    uint64_t last_ms;
} ad_peer_t;

struct ad_auth {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    ad_store_t *store;
    bool required; /* --auth token */
    char owner_token[AD_SECRET_MAX + 256];
    char owner_hash[65];
    char owner_bind[40];       /* "owner:" + a hash of owner_hash: what its sessions are bound to */
    bool owner_made;           /* the owner token was made at this start (printed once) */
    bool owner_file;           /* it lives in <data-dir>/owner-token (not --token) */
    ad_principal_t owner;      /* token, session or --auth none */
    ad_principal_t unix_owner; /* the unix socket */
    ad_tok_t *tokens;
    ad_sess_t *sessions;
    void (*on_change)(void *ud); /* ad_auth_on_change */
    void *on_change_ud;
    char hosts[AD_AUTH_HOSTS_MAX][256];
    size_t nhosts;
    char origins[AD_AUTH_ORIGINS_MAX][256];
    size_t norigins;
    bool any_origin; /* --cors-origins '*' */
    ad_peer_t peers[AD_AUTH_PEERS_MAX];
    uv_timer_t trim_timer;
    bool trim_open;
    struct ad_auth_delayed *delayed; /* 401s waiting out their penalty */
    struct ad_auth_noise *noise;     /* unauthenticated refusals counted (noise.c) */
    struct ad_auth_watch *watches;   /* long-lived channels' credentials */
    uv_timer_t expiry_timer;         /* at the soonest expiry of a watched credential */
    int64_t expiry_soonest;          /* when it is set for (wall ms; 0: stopped) */
    bool expiry_open;
    ad_code_t codes[AD_AUTH_CODES_MAX]; /* one plane's (SQLite); else the store's */
    /* Several control planes on one PostgreSQL database (planes.c): the
     * others' owner tokens, and the reading of what they changed (NULL:
     * this plane is alone with its database). */
    ad_owner_peer_t owner_peers[AD_AUTH_OWNERS_MAX];
    size_t nowner_peers;
    struct ad_auth_sync *sync;
    struct ad_jwt *jwt; /* NULL: JWTs are not accepted (jwt.c) */
    int closing;        /* handles still closing (ad_auth_close) */
    unsigned pw_busy;   /* password hashes on the thread pool (users.c) */
    bool store_gone;    /* ad_auth_store_done: a hash's end writes nothing */
};

/* auth.c (tokens) and sessions.c (sessions, cookies) */
/* The principal a credential stands for (the owner token, an API token or
 * a session cookie), or NULL. A token that is unknown, revoked or expired
 * gives NULL. */
const ad_principal_t *ad_auth_token_lookup(ad_auth_t *a, const char *token, ad_tok_t **tok);
const ad_principal_t *ad_auth_session_lookup(ad_auth_t *a, const char *cookie, ad_tok_t **tok);
/* The session cookie's value from r's Cookie header, into out. */
bool ad_auth_cookie(const ad_req_t *r, char *out, size_t outsz);

/* For users.c: a token's row as the database has it now (NULL: none);
 * a session for tok (NULL: the owner), cb as ad_auth_login's; tokens the
 * store revoked (ids, a JSON array): forgotten here, their sessions and
 * channels ended. */
ad_tok_t *ad_auth_tok_current(ad_auth_t *a, const char *id);
int ad_auth_session_new(ad_auth_t *a, ad_tok_t *tok, ad_auth_cb cb, void *ud);
void ad_auth_tokens_revoked(ad_auth_t *a, const json_t *ids);
/* One of a->closing's holds let go: the last frees a. */
void ad_auth_release(ad_auth_t *a);
/* Whether t is neither revoked nor expired at now; after a token or a
 * session changed (watched channels checked again, on_change told). */
bool ad_auth_tok_live(const ad_tok_t *t, int64_t now);
void ad_auth_changed(ad_auth_t *a);

/* sessions.c: a session kept in memory (a loaded row or a new one) for tok
 * (NULL: the owner, bound to the owner token bind). Forget: the session
 * with that id hash, ended elsewhere (true when there was one). */
ad_sess_t *ad_auth_sess_add(ad_auth_t *a, const char *id_hash, int64_t expires_at, ad_tok_t *tok,
                            const char *bind);
bool ad_auth_sess_forget(ad_auth_t *a, const char *id_hash);

/* auth.c: a token's row as another plane left it (planes.c): added, or in
 * place of what was known; *added when it was new here; true when it was
 * live here and is not any more (revoked or expired). */
bool ad_auth_tok_put(ad_auth_t *a, const ad_store_token_t *row, bool *added);

/* planes.c: several control planes on one PostgreSQL database (issue #77).
 * open: this plane's owner token published and the reading of the others'
 * changes started (nothing on SQLite); owner_changed: after a rotation;
 * close: the timer closed and a read that is out waited for (each a hold
 * on a->closing).
 * bind_for: the bind of the owner token whose hash is hash (this plane's
 * or a live peer's), or NULL; bind_live: whether an owner session or
 * channel bound to bind still signs in. */
void ad_auth_planes_open(ad_auth_t *a);
void ad_auth_planes_owner_changed(ad_auth_t *a);
void ad_auth_planes_close(ad_auth_t *a);
const char *ad_auth_owner_bind_for(const ad_auth_t *a, const char *hash);
bool ad_auth_owner_bind_live(const ad_auth_t *a, const char *bind);

/* users.c: the account changes; cb is called with rc and the account's JSON (or NULL).
 * create and password hash on the pool: AD_EAGAIN when it is busy (then
 * cb is not called). end: disable, or remove; role "" removes org's. */
int ad_auth_user_create(ad_auth_t *a, const char *username, const char *password,
                        const char *home_org, const char *role, ad_auth_cb cb, void *ud);
int ad_auth_user_password(ad_auth_t *a, const char *id, const char *password, ad_auth_cb cb,
                          void *ud);
void ad_auth_user_end(ad_auth_t *a, const char *id, bool remove, ad_auth_cb cb, void *ud);
void ad_auth_user_role(ad_auth_t *a, const ad_store_account_t *acct, const char *org,
                       const char *role, ad_auth_cb cb, void *ud);

/* When cred stops signing in by itself (wall ms), 0 for never. */
int64_t ad_auth_credential_expiry(ad_auth_t *a, const ad_auth_cred_t *cred);
/* The owner binding of an owner token ("owner:" + 32 hex), into out[40]. */
void ad_auth_owner_bind_of(const char *owner_hash, char out[40]);

/* watch.c: checks every watched credential now (after a change) and sets
 * the expiry timer; closes the timer and forgets the watches (close). */
void ad_auth_watch_recheck(ad_auth_t *a);
void ad_auth_watch_close(ad_auth_t *a, uv_close_cb closed);

/* jwt.c: reads the --jwt-* keys (a->jwt stays NULL without them); 0 or
 * AD_EINVAL with err. free: lets them go. */
int ad_auth_jwt_open(ad_auth_t *a, char *err, size_t errsz);
void ad_auth_jwt_free(ad_auth_t *a);
/* Whether token has a JWT's shape (three base64url parts, a JSON header). */
bool ad_auth_jwt_shaped(const char *token);
/* The principal of a valid JWT (kept in r's arena) and its subject's rate
 * bucket in *tok, or NULL (why logged). */
const ad_principal_t *ad_auth_jwt_lookup(ad_auth_t *a, ad_req_t *r, const char *token,
                                         ad_tok_t **tok);
/* A presented credential, whichever kind (owner token, API token, JWT). */
const ad_principal_t *ad_auth_lookup(ad_auth_t *a, ad_req_t *r, const char *token, ad_tok_t **tok);
/* The longest credential read from a request (a JWT with an RSA signature
 * is about 700 characters). */
#define AD_AUTH_PRESENTED_MAX 4200

/* guard.c: answers the 401s still waiting out their penalty (close). */
void ad_auth_delayed_flush(ad_auth_t *a);

/* noise.c: a refused request with no principal from addr. False: write
 * its audit row (the first from addr this interval); true: counted, for
 * the one row the interval ends with. */
bool ad_auth_noise_note(ad_auth_t *a, const char *addr, int status);
/* Writes what is counted and lets the table go (ad_auth_close). */
void ad_auth_noise_close(ad_auth_t *a);

/* limits.c */
/* ms to wait before answering a bad credential from addr (0: none), and
 * whether addr is locked out (retry_after_s set). */
bool ad_auth_peer_locked(ad_auth_t *a, const char *addr, int64_t *retry_after_s);
uint64_t ad_auth_peer_failed(ad_auth_t *a, const char *addr);
/* A bad credential's keys: the address's network (IPv4 /24, IPv6 /64:
 * rotating the source address within it does not escape) and the token's
 * prefix (its id, or the first characters of a token without one), so
 * guessing one token's secret from many networks is limited too. */
void ad_auth_fail_keys(const char *peer, const char *token, char net[48], char prefix[48]);
/* Whether a bad credential from peer with token is refused now (either
 * key locked out); failed: count one more against both. */
bool ad_auth_bad_locked(ad_auth_t *a, const char *peer, const char *token, int64_t *retry_after_s);
uint64_t ad_auth_bad_failed(ad_auth_t *a, const char *peer, const char *token);
/* Takes one request from the token's bucket: false when it is empty
 * (*retry_after_s set). */
bool ad_auth_tok_take(ad_auth_t *a, ad_tok_t *t, int64_t *retry_after_s);

#endif
