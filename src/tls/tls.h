/* SPDX-License-Identifier: MIT */
/*
 * tls: everything agentd does with OpenSSL, behind one interface, so that
 * the agentd executable links neither libssl nor libcrypto (issue #38,
 * bench row S2: mapped at start-up they cost every agentd ~1.7 MiB, and
 * most never speak TLS). The work is done by agentd-tls.so (openssl.c),
 * which front.c loads on the first call that needs it: the TLS listener
 * (--tls-cert), a worker node's wss:// link, a JWT public key
 * (--jwt-public-key). What is not TLS never loads it: SHA-1, SHA-256,
 * HMAC and base64 are core's own (core/digest.c), random bytes come from
 * getrandom(2).
 *
 * A session works on memory only, never on a socket: the caller feeds it
 * the peer's ciphertext (ad_tls_feed), reads the plain bytes out
 * (ad_tls_read), writes plain bytes in (ad_tls_write) and takes what is
 * to be sent (ad_tls_take). The socket, the order of writes and their
 * callbacks stay the caller's (src/http/tls.c, src/ws/client.c).
 *
 * Ownership: a context, session or key is the caller's until its _free;
 * a session keeps its context referenced, so the context may be freed
 * first. Errors: a call that can fail returns an AD_E* code and writes one
 * line into err (for a log line or an answer); AD_EINTERNAL with "TLS is
 * not available: ..." when agentd-tls.so cannot be loaded, which is the
 * only way the loader fails (and it is tried once).
 *
 * Threads: the loader on any thread; one context, session or key on one
 * thread at a time (the callers use the loop thread).
 */
#ifndef AD_TLS_H
#define AD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct ad_tls_ctx ad_tls_ctx_t; /* a side's settings: certificate and key, or roots */
typedef struct ad_tls ad_tls_t;         /* one connection's session */
typedef struct ad_tls_key ad_tls_key_t; /* a public key that checks signatures */

/* agentd-tls.so loaded (found beside the executable; $AGENTD_TLS_LIB
 * overrides): 0, or AD_EINTERNAL with err. Tried once; later calls answer
 * the same. */
int ad_tls_load(char *err, size_t errsz);

/* ---- contexts ---------------------------------------------------------------- */
/* A server's context: the PEM certificate chain in cert, its private key
 * in key (checked against each other), TLS 1.2 or later. 0 with *out, or
 * AD_EINVAL (a file unreadable or not matching: err names it), AD_EIO,
 * AD_EINTERNAL (no library). */
int ad_tls_server_ctx(const char *cert, const char *key, ad_tls_ctx_t **out, char *err,
                      size_t errsz);
/* A client's context: the peer's certificate is checked against the roots
 * in ca_file (PEM), or the system's when ca_file is NULL or empty. Codes
 * as above. */
int ad_tls_client_ctx(const char *ca_file, ad_tls_ctx_t **out, char *err, size_t errsz);
void ad_tls_ctx_free(ad_tls_ctx_t *ctx);

/* ---- sessions ------------------------------------------------------------------ */
/* A session under ctx: the accepting side for a server context; for a
 * client context the connecting side, which checks the peer against host
 * (an address against the certificate's IP names, a name against its DNS
 * names, and sends it as SNI). NULL when out of memory. */
ad_tls_t *ad_tls_new(ad_tls_ctx_t *ctx, const char *host);
void ad_tls_free(ad_tls_t *s);
/* The peer's ciphertext, all of it kept (memory only). 0 or AD_ENOMEM. */
int ad_tls_feed(ad_tls_t *s, const void *data, size_t len);
/* Moves the handshake on (a client calls it once connected, to make its
 * first flight): 1 done, 0 waiting for the peer, or AD_EIO with err
 * ("TLS handshake failed: <why>", the certificate check's reason when
 * that was it). */
int ad_tls_handshake(ad_tls_t *s, char *err, size_t errsz);
/* Plain bytes into buf, handshake first if it is not done: > 0 bytes,
 * 0 when more ciphertext is needed, AD_ECLOSED when the peer ended TLS
 * (close_notify), or AD_EIO with err (not TLS, a failed handshake, a bad
 * record). After AD_EIO, what ad_tls_take gives is the alert to send. */
ssize_t ad_tls_read(ad_tls_t *s, void *buf, size_t len, char *err, size_t errsz);
/* Plain bytes encrypted whole (memory takes everything). 0 or AD_EIO. */
int ad_tls_write(ad_tls_t *s, const void *data, size_t len);
/* Bytes of ciphertext waiting to be sent. */
size_t ad_tls_pending(ad_tls_t *s);
/* Up to len of them into buf: how many. */
size_t ad_tls_take(ad_tls_t *s, void *buf, size_t len);
/* The handshake is done. */
bool ad_tls_established(ad_tls_t *s);
/* Ends TLS with a close_notify (to take and send), if the handshake was
 * done. */
void ad_tls_close_notify(ad_tls_t *s);

/* ---- signatures (JWT RS256 / ES256) ------------------------------------------- */
typedef enum { AD_TLS_RS256 = 1, AD_TLS_ES256 = 2 } ad_tls_alg_t;
/* A PEM public key: an RSA key of at least 2048 bits (RS256) or a P-256
 * key (ES256); *alg says which. 0 with *out, or AD_EINVAL (err says why),
 * AD_EINTERNAL (no library). */
int ad_tls_key_load(const uint8_t *pem, size_t len, ad_tls_key_t **out, ad_tls_alg_t *alg,
                    char *err, size_t errsz);
/* Whether sig signs msg with SHA-256 under key: PKCS#1 v1.5 for RS256,
 * the JWS form r||s (64 bytes) for ES256. */
bool ad_tls_key_verify(const ad_tls_key_t *key, const void *msg, size_t mlen, const uint8_t *sig,
                       size_t slen);
void ad_tls_key_free(ad_tls_key_t *key);

/* ---- Web Push: P-256, ES256 signing, AES-128-GCM (issue #76, src/push) ------ */
/* Keys are raw bytes: a private key is its 32-byte scalar, a public key
 * the uncompressed point 0x04||X||Y (65 bytes), as RFC 8291 and RFC 8292
 * carry them. Each call loads the library: 0, AD_EINVAL (a point not on
 * the curve, a scalar out of range), AD_EIO (OpenSSL failed), AD_EINTERNAL
 * (no library), with a line in err. Any thread (no state is kept). */
#define AD_TLS_P256_PRIV 32
#define AD_TLS_P256_PUB 65
/* A new key pair from OpenSSL's random generator. */
int ad_tls_p256_new(uint8_t priv[AD_TLS_P256_PRIV], uint8_t pub[AD_TLS_P256_PUB], char *err,
                    size_t errsz);
/* ECDH: the shared secret (the X coordinate, 32 bytes) of our pair
 * priv/pub and the peer's public key. */
int ad_tls_p256_ecdh(const uint8_t priv[AD_TLS_P256_PRIV], const uint8_t pub[AD_TLS_P256_PUB],
                     const uint8_t peer[AD_TLS_P256_PUB], uint8_t secret[32], char *err,
                     size_t errsz);
/* ES256: msg signed with SHA-256 under priv/pub, as JWS's r||s (64 bytes). */
int ad_tls_es256_sign(const uint8_t priv[AD_TLS_P256_PRIV], const uint8_t pub[AD_TLS_P256_PUB],
                      const void *msg, size_t mlen, uint8_t sig[64], char *err, size_t errsz);
/* AES-128-GCM of in[0..len) under key and the 12-byte iv, no associated
 * data: out gets the ciphertext (len bytes) and the 16-byte tag after it. */
int ad_tls_aes128gcm_seal(const uint8_t key[16], const uint8_t iv[12], const void *in, size_t len,
                          uint8_t *out, char *err, size_t errsz);

#endif
