/* SPDX-License-Identifier: MIT */
/*
 * tls: what the daemon itself links of this subsystem, the loader of
 * agentd-tls.so and tls.h's functions forwarded to its table. Nothing here
 * includes OpenSSL: an agentd that never speaks TLS never maps libssl or
 * libcrypto (issue #38, S2). As src/git/front.c does for agentd-git.so:
 * the library is found beside the running executable ($AGENTD_TLS_LIB
 * overrides), loaded once, never unloaded.
 *
 * Unit tests link the library's objects instead (libagentd-tls.a): the
 * weak ad_tls_backend() is then defined and nothing is loaded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tls/tls_int.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#pragma weak ad_tls_backend

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const ad_tls_backend_t *be;
static char load_error[300];

static void load(void)
{
    if (ad_tls_backend != NULL) { /* linked in */
        be = ad_tls_backend();
        return;
    }
    void *lib = ad_plugin_open("agentd-tls.so", "AGENTD_TLS_LIB", load_error, sizeof(load_error));
    if (lib != NULL) {
        const ad_tls_backend_t *(*get)(void) =
            (const ad_tls_backend_t *(*)(void))dlsym(lib, "ad_tls_backend");
        const ad_tls_backend_t *t = get != NULL ? get() : NULL;
        if (t == NULL) {
            snprintf(load_error, sizeof(load_error), "agentd-tls.so has no ad_tls_backend");
        } else if (t->abi != AD_TLS_ABI) {
            snprintf(load_error, sizeof(load_error),
                     "agentd-tls.so is from another build (interface %d, agentd wants %d)", t->abi,
                     AD_TLS_ABI);
        } else {
            be = t;
        }
    }
    if (be == NULL) {
        ad_log(AD_LOG_ERROR, "tls", "TLS support not available error=\"%s\"", load_error);
    }
}

int ad_tls_load(char *err, size_t errsz)
{
    pthread_once(&load_once, load);
    if (be == NULL) {
        snprintf(err, errsz, "TLS is not available: %s", load_error);
        return AD_EINTERNAL;
    }
    return 0;
}

/* ---- contexts: these load the library ---------------------------------------- */

int ad_tls_server_ctx(const char *cert, const char *key, ad_tls_ctx_t **out, char *err,
                      size_t errsz)
{
    *out = NULL;
    int rc = ad_tls_load(err, errsz);
    return rc != 0 ? rc : be->server_ctx(cert, key, out, err, errsz);
}

int ad_tls_client_ctx(const char *ca_file, ad_tls_ctx_t **out, char *err, size_t errsz)
{
    *out = NULL;
    int rc = ad_tls_load(err, errsz);
    return rc != 0 ? rc : be->client_ctx(ca_file, out, err, errsz);
}

int ad_tls_key_load(const uint8_t *pem, size_t len, ad_tls_key_t **out, ad_tls_alg_t *alg,
                    char *err, size_t errsz)
{
    *out = NULL;
    int rc = ad_tls_load(err, errsz);
    return rc != 0 ? rc : be->key_load(pem, len, out, alg, err, errsz);
}

/* Web Push's crypto: each call loads the library (it keeps no object). */
int ad_tls_p256_new(uint8_t priv[AD_TLS_P256_PRIV], uint8_t pub[AD_TLS_P256_PUB], char *err,
                    size_t errsz)
{
    int rc = ad_tls_load(err, errsz);
    return rc != 0 ? rc : be->p256_new(priv, pub, err, errsz);
}

int ad_tls_p256_ecdh(const uint8_t priv[AD_TLS_P256_PRIV], const uint8_t pub[AD_TLS_P256_PUB],
                     const uint8_t peer[AD_TLS_P256_PUB], uint8_t secret[32], char *err,
                     size_t errsz)
{
    int rc = ad_tls_load(err, errsz);
    return rc != 0 ? rc : be->p256_ecdh(priv, pub, peer, secret, err, errsz);
}

int ad_tls_es256_sign(const uint8_t priv[AD_TLS_P256_PRIV], const uint8_t pub[AD_TLS_P256_PUB],
                      const void *msg, size_t mlen, uint8_t sig[64], char *err, size_t errsz)
{
    int rc = ad_tls_load(err, errsz);
    return rc != 0 ? rc : be->es256_sign(priv, pub, msg, mlen, sig, err, errsz);
}

int ad_tls_aes128gcm_seal(const uint8_t key[16], const uint8_t iv[12], const void *in, size_t len,
                          uint8_t *out, char *err, size_t errsz)
{
    int rc = ad_tls_load(err, errsz);
    return rc != 0 ? rc : be->aes128gcm_seal(key, iv, in, len, out, err, errsz);
}

/* ---- the rest: a context, session or key exists, so the library is loaded ---- */

void ad_tls_ctx_free(ad_tls_ctx_t *ctx)
{
    if (ctx != NULL) {
        be->ctx_free(ctx);
    }
}

ad_tls_t *ad_tls_new(ad_tls_ctx_t *ctx, const char *host)
{
    return be->session(ctx, host);
}

void ad_tls_free(ad_tls_t *s)
{
    if (s != NULL) {
        be->session_free(s);
    }
}

int ad_tls_feed(ad_tls_t *s, const void *data, size_t len)
{
    return be->feed(s, data, len);
}

int ad_tls_handshake(ad_tls_t *s, char *err, size_t errsz)
{
    return be->handshake(s, err, errsz);
}

ssize_t ad_tls_read(ad_tls_t *s, void *buf, size_t len, char *err, size_t errsz)
{
    return be->read(s, buf, len, err, errsz);
}

int ad_tls_write(ad_tls_t *s, const void *data, size_t len)
{
    return be->write(s, data, len);
}

size_t ad_tls_pending(ad_tls_t *s)
{
    return be->pending(s);
}

size_t ad_tls_take(ad_tls_t *s, void *buf, size_t len)
{
    return be->take(s, buf, len);
}

bool ad_tls_established(ad_tls_t *s)
{
    return be->established(s);
}

void ad_tls_close_notify(ad_tls_t *s)
{
    be->close_notify(s);
}

bool ad_tls_key_verify(const ad_tls_key_t *key, const void *msg, size_t mlen, const uint8_t *sig,
                       size_t slen)
{
    return be->key_verify(key, msg, mlen, sig, slen);
}

void ad_tls_key_free(ad_tls_key_t *key)
{
    if (key != NULL) {
        be->key_free(key);
    }
}
