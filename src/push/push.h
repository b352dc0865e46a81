/* SPDX-License-Identifier: MIT */
/*
 * push: Web Push to the dashboard installed as an app (issue #76,
 * docs/push.md). A browser subscribes through the REST routes
 * (src/push/routes.c; rows: src/tables/push.h); this engine follows the bus
 * and sends an approval request, a turn that waits for the user, a failed
 * run and a goal met to the subscriptions of the event's org, as Web Push
 * messages: RFC 8030 delivery, the payload encrypted as RFC 8291
 * aes128gcm, signed with VAPID (RFC 8292). The crypto (P-256, ECDH,
 * ES256, AES-128-GCM) is src/tls's (agentd-tls.so); HKDF and HMAC are
 * core's SHA-256; the POST is src/llm's libcurl fetch on the thread pool.
 *
 * An approval's push carries an action token (ad_push_action_token) that
 * decides that approval only, from the notification's Allow / Deny,
 * without a session cookie: an HMAC under a key derived from the VAPID
 * key, bound to the approval, the subscription and an expiry; the route
 * also checks the subscription still exists, its user may decide, and the
 * approval still waits (so a token decides once).
 *
 * The VAPID key is the database's (table push_keys, issue #77), one for
 * every control plane of it: the first plane to need one offers its
 * <data-dir>/push-vapid.key (0600, made on the first use: a daemon nobody
 * subscribes to never loads OpenSSL for it), and every plane signs with
 * the one stored.
 *
 * Ownership: ad_push_t is the engine's (app->push). Threads: loop thread,
 * except the crypto and encoding helpers (any thread).
 */
#ifndef AD_PUSH_H
#define AD_PUSH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

extern const struct ad_engine ad_push_engine;

/* ---- keys and encodings (vapid.c) -------------------------------------------- */
typedef struct {
    uint8_t priv[32];       /* the VAPID key pair (P-256) */
    uint8_t pub[65];        /* uncompressed point */
    uint8_t action_key[32]; /* HMAC key of the action tokens, derived from priv */
    char pub_b64[90];       /* pub as base64url: the applicationServerKey */
} ad_push_key_t;

/* A plane's own key file in its data dir (the key it offers the database). */
#define AD_PUSH_KEY_FILE "push-vapid.key"
/* The key of data_dir's push-vapid.key, made (mode 0600) when missing.
 * 0, or AD_EIO / AD_EINTERNAL (no TLS library) / AD_EINVAL (a damaged
 * file) with a line in err. Any thread. */
int ad_push_key_load(const char *data_dir, ad_push_key_t *out, char *err, size_t errsz);
/* The key as text, "v1 <priv>.<pub>" in base64url (the file's line and
 * the database's row, issue #77), into out (200 bytes hold it), and back:
 * 0 or AD_EINVAL. The text is the private key: never logged or answered. */
void ad_push_key_text(const ad_push_key_t *k, char *out, size_t outsz);
int ad_push_key_parse(const char *text, ad_push_key_t *k);
/* base64url without padding of in[0..len), NUL-terminated: its length, or
 * 0 when out is too small. */
size_t ad_push_b64url(const uint8_t *in, size_t len, char *out, size_t outsz);
/* Decodes base64url (padding allowed): the bytes written, or AD_EINVAL. */
int ad_push_b64url_decode(const char *in, uint8_t *out, size_t outsz);
/* "vapid t=<JWT>, k=<key>" for an Authorization header to endpoint's
 * origin: the JWT {aud: the origin, exp: now + 12 h, sub: subject} signed
 * ES256. 0 or an error with err. Any thread. */
int ad_push_vapid_auth(const ad_push_key_t *k, const char *endpoint, const char *subject,
                       int64_t now_s, char *out, size_t outsz, char *err, size_t errsz);
/* The origin (scheme://host[:port]) of an http(s) URL: 0 or AD_EINVAL. */
int ad_push_origin(const char *url, char *out, size_t outsz);

/* ---- action tokens (vapid.c) ---------------------------------------------------- */
#define AD_PUSH_TOKEN_MAX 200
/* How long an approval's action token decides it. */
#define AD_PUSH_TOKEN_TTL_MS (24LL * 3600 * 1000)
/* "<approval>.<subscription>.<exp ms>.<HMAC>" */
void ad_push_action_token(const ad_push_key_t *k, const char *approval_id, const char *sub_id,
                          int64_t exp_ms, char out[AD_PUSH_TOKEN_MAX]);
/* A token made by ad_push_action_token with k and not expired at now_ms:
 * 0 with the approval's and the subscription's ids, else AD_EPERM (any
 * flaw alike). */
int ad_push_action_check(const ad_push_key_t *k, const char *token, int64_t now_ms,
                         char approval_id[AD_ID_MAX], char sub_id[AD_ID_MAX]);

/* ---- encryption (ece.c) ------------------------------------------------------------ */
/* The most payload bytes one push carries (one aes128gcm record). */
#define AD_PUSH_PAYLOAD_MAX 3000
/* RFC 8291: plain[0..len) encrypted for the browser's p256dh (65 bytes)
 * and auth secret (16 bytes) as one aes128gcm record (RFC 8188) with a
 * fresh key pair and salt, the header included, into out. 0, AD_ETOOBIG
 * past AD_PUSH_PAYLOAD_MAX, or the crypto's error with err. Any thread. */
int ad_push_encrypt(const uint8_t ua_pub[65], const uint8_t auth[16], const void *plain, size_t len,
                    ad_buf_t *out, char *err, size_t errsz);

/* ---- subscriptions and payloads (text.c) ----------------------------------------- */
/* A subscription's body {endpoint, keys: {p256dh, auth}} (the browser's
 * PushSubscription.toJSON()): the endpoint https (or http://127.0.0.1
 * with loopback_ok), at most 1024 bytes, no user info; p256dh a P-256
 * point, auth 16 bytes, both base64url. 0 with the strings (borrowed from
 * body), or AD_EINVAL with e. */
int ad_push_sub_check(const json_t *body, bool loopback_ok, const char **endpoint,
                      const char **p256dh, const char **auth, ad_field_err_t *e);
/* s made fit for a lock screen into out: control characters become
 * spaces, anything that looks like a secret (a NAME=value whose name says
 * key, token, secret, password, auth or cred; a run of 24 or more letters,
 * digits and _-+= without a path's / or .) is
 * replaced by "***", cut at max bytes (whole characters) with "…". */
void ad_push_scrub(const char *s, size_t max, char *out, size_t outsz);

/* ---- the engine (push.c) ------------------------------------------------------------- */
typedef struct ad_push ad_push_t;
/* The VAPID key, read from the database on the first call: NULL with err
 * when it cannot be (no TLS library, an unwritable data dir), or while
 * this plane's offer is being stored (ad_push_key_pending says so). */
const ad_push_key_t *ad_push_key(ad_push_t *p, char *err, size_t errsz);
/* Whether the key is being stored: a route that needs it calls
 * ad_push_key_later to be run again once it is. */
bool ad_push_key_pending(const ad_push_t *p);
/* Counters since start, for /metrics and the tests. */
typedef struct {
    uint64_t sent, failed, retried, gone, dropped;
} ad_push_stats_t;
void ad_push_stats(const ad_push_t *p, ad_push_stats_t *out);

#endif
