/* SPDX-License-Identifier: MIT */
/*
 * tls: between front.c (in agentd) and openssl.c (agentd-tls.so) only.
 * Not for other subsystems: they use tls.h.
 */
#ifndef AD_TLS_INT_H
#define AD_TLS_INT_H

#include "core/core.h"
#include "tls/tls.h"

/* Raised when the table changes shape: a library from another build
 * beside agentd is refused rather than called wrongly. */
#define AD_TLS_ABI 2

/* The library's table: tls.h's functions, which front.c forwards to. */
typedef struct {
    int abi; /* AD_TLS_ABI */
    int (*server_ctx)(const char *cert, const char *key, ad_tls_ctx_t **out, char *err,
                      size_t errsz);
    int (*client_ctx)(const char *ca_file, ad_tls_ctx_t **out, char *err, size_t errsz);
    void (*ctx_free)(ad_tls_ctx_t *ctx);
    ad_tls_t *(*session)(ad_tls_ctx_t *ctx, const char *host);
    void (*session_free)(ad_tls_t *s);
    int (*feed)(ad_tls_t *s, const void *data, size_t len);
    int (*handshake)(ad_tls_t *s, char *err, size_t errsz);
    ssize_t (*read)(ad_tls_t *s, void *buf, size_t len, char *err, size_t errsz);
    int (*write)(ad_tls_t *s, const void *data, size_t len);
    size_t (*pending)(ad_tls_t *s);
    size_t (*take)(ad_tls_t *s, void *buf, size_t len);
    bool (*established)(ad_tls_t *s);
    void (*close_notify)(ad_tls_t *s);
    int (*key_load)(const uint8_t *pem, size_t len, ad_tls_key_t **out, ad_tls_alg_t *alg,
                    char *err, size_t errsz);
    bool (*key_verify)(const ad_tls_key_t *key, const void *msg, size_t mlen, const uint8_t *sig,
                       size_t slen);
    void (*key_free)(ad_tls_key_t *key);
    /* Web Push (ABI 2) */
    int (*p256_new)(uint8_t *priv, uint8_t *pub, char *err, size_t errsz);
    int (*p256_ecdh)(const uint8_t *priv, const uint8_t *pub, const uint8_t *peer, uint8_t *secret,
                     char *err, size_t errsz);
    int (*es256_sign)(const uint8_t *priv, const uint8_t *pub, const void *msg, size_t mlen,
                      uint8_t *sig, char *err, size_t errsz);
    int (*aes128gcm_seal)(const uint8_t *key, const uint8_t *iv, const void *in, size_t len,
                          uint8_t *out, char *err, size_t errsz);
} ad_tls_backend_t;

/* Web Push's crypto (p256.c), the table's entries: tls.h says what each
 * does. */
int ad_tlsx_p256_new(uint8_t *priv, uint8_t *pub, char *err, size_t errsz);
int ad_tlsx_p256_ecdh(const uint8_t *priv, const uint8_t *pub, const uint8_t *peer, uint8_t *secret,
                      char *err, size_t errsz);
int ad_tlsx_es256_sign(const uint8_t *priv, const uint8_t *pub, const void *msg, size_t mlen,
                       uint8_t *sig, char *err, size_t errsz);
int ad_tlsx_aes128gcm_seal(const uint8_t *key, const uint8_t *iv, const void *in, size_t len,
                           uint8_t *out, char *err, size_t errsz);

/* The library's table (openssl.c): its one exported symbol. front.c
 * refers to it weakly, so it is defined only where the library's objects
 * are linked in (unit tests). */
const ad_tls_backend_t *ad_tls_backend(void);

#endif
