/* SPDX-License-Identifier: MIT */
/*
 * tls: agentd-tls.so, the one part of agentd that calls OpenSSL (front.c
 * loads it on the first use). Sessions work on two memory BIOs and never
 * touch a socket: rbio holds the peer's ciphertext, wbio what is to be
 * sent; the caller moves the bytes. ad_tls_backend() is the library's
 * only exported symbol; everything else in it is hidden, and what it uses
 * of agentd (core's allocation) comes from the executable, which exports
 * it. OpenSSL keeps its state per thread: the callers are on the loop
 * thread, whose state OpenSSL's own exit handler frees.
 */
#include "tls/tls_int.h"

#include <limits.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ad_tls_ctx {
    SSL_CTX *ctx;
    bool server;
};

struct ad_tls {
    SSL *ssl;
    BIO *rbio; /* the peer's ciphertext, owned by ssl */
    BIO *wbio; /* ciphertext to the peer, owned by ssl */
};

struct ad_tls_key {
    EVP_PKEY *pkey;
    ad_tls_alg_t alg;
};

/* "<what>" and OpenSSL's first queued reason, if any, into err; the queue
 * emptied (it is per thread and would otherwise be read by the next
 * failure). */
static void fail_msg(const char *what, char *err, size_t errsz)
{
    unsigned long e = ERR_get_error();
    char msg[256] = "";
    if (e != 0) {
        ERR_error_string_n(e, msg, sizeof(msg));
    }
    snprintf(err, errsz, "%s%s%s", what, msg[0] ? ": " : "", msg);
    ERR_clear_error();
}

/* ---- contexts ------------------------------------------------------------------ */

static ad_tls_ctx_t *wrap(SSL_CTX *ctx, bool server)
{
    ad_tls_ctx_t *t = ad_xcalloc(1, sizeof(*t));
    t->ctx = ctx;
    t->server = server;
    return t;
}

static int server_ctx(const char *cert, const char *key, ad_tls_ctx_t **out, char *err,
                      size_t errsz)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        fail_msg("cannot create a TLS context", err, errsz);
        return AD_EIO;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    char what[4200];
    int rc = 0;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(what, sizeof(what), "cannot load the certificate %s", cert);
        rc = AD_EINVAL;
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        snprintf(what, sizeof(what), "cannot load the private key %s", key);
        rc = AD_EINVAL;
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(what, sizeof(what), "the private key does not match the certificate");
        rc = AD_EINVAL;
    }
    if (rc != 0) {
        fail_msg(what, err, errsz);
        SSL_CTX_free(ctx);
        return rc;
    }
    *out = wrap(ctx, true);
    return 0;
}

static int client_ctx(const char *ca_file, ad_tls_ctx_t **out, char *err, size_t errsz)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        fail_msg("cannot create a TLS context", err, errsz);
        return AD_EIO;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if ((ca_file != NULL && ca_file[0] != '\0' ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                                               : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
        fail_msg("cannot load the TLS roots", err, errsz);
        SSL_CTX_free(ctx);
        return AD_EIO;
    }
    *out = wrap(ctx, false);
    return 0;
}

static void ctx_free(ad_tls_ctx_t *t)
{
    SSL_CTX_free(t->ctx);
    free(t);
}

/* ---- sessions ------------------------------------------------------------------ */

static void session_free(ad_tls_t *s)
{
    if (s->ssl != NULL) {
        SSL_free(s->ssl); /* the BIOs with it */
    } else {
        BIO_free(s->rbio);
        BIO_free(s->wbio);
    }
    free(s);
}

static ad_tls_t *session(ad_tls_ctx_t *t, const char *host)
{
    ad_tls_t *s = ad_xcalloc(1, sizeof(*s));
    s->ssl = SSL_new(t->ctx);
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    if (s->ssl == NULL || s->rbio == NULL || s->wbio == NULL) {
        SSL_free(s->ssl);
        s->ssl = NULL;
        session_free(s);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_bio(s->ssl, s->rbio, s->wbio); /* ssl owns both now */
    if (t->server) {
        SSL_set_accept_state(s->ssl);
        return s;
    }
    SSL_set_connect_state(s->ssl);
    /* An address is checked against the certificate's IP names, a host
     * name against its DNS names (and sent as SNI). */
    if (host != NULL && host[0] != '\0' &&
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), host) != 1) {
        if (SSL_set_tlsext_host_name(s->ssl, host) != 1 || SSL_set1_host(s->ssl, host) != 1) {
            session_free(s);
            ERR_clear_error();
            return NULL;
        }
    }
    ERR_clear_error(); /* set1_ip_asc's "not an address" */
    return s;
}

static int feed(ad_tls_t *s, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        int n = len > INT_MAX / 2 ? INT_MAX / 2 : (int)len;
        if (BIO_write(s->rbio, p, n) != n) {
            ERR_clear_error();
            return AD_ENOMEM;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Why the handshake failed: the certificate check's reason when that was
 * it, else OpenSSL's. */
static void handshake_failed(ad_tls_t *s, char *err, size_t errsz)
{
    long v = SSL_get_verify_result(s->ssl);
    if (v != X509_V_OK) {
        snprintf(err, errsz, "TLS handshake failed: %s", X509_verify_cert_error_string(v));
        ERR_clear_error();
    } else {
        fail_msg("TLS handshake failed", err, errsz);
    }
}

static int handshake(ad_tls_t *s, char *err, size_t errsz)
{
    int r = SSL_do_handshake(s->ssl);
    if (r == 1) {
        return 1;
    }
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        return 0;
    }
    handshake_failed(s, err, errsz);
    return AD_EIO;
}

static ssize_t tls_read(ad_tls_t *s, void *buf, size_t len, char *err, size_t errsz)
{
    int got = SSL_read(s->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
    if (got > 0) {
        return got;
    }
    int e = SSL_get_error(s->ssl, got);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        return 0; /* needs more ciphertext */
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        return AD_ECLOSED; /* close_notify: an orderly end */
    }
    if (!SSL_is_init_finished(s->ssl)) {
        handshake_failed(s, err, errsz);
    } else {
        fail_msg("TLS read failed", err, errsz);
    }
    return AD_EIO;
}

static int tls_write(ad_tls_t *s, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        /* A memory BIO takes everything: SSL_write never wants to wait. */
        int n = len > 16384 ? 16384 : (int)len;
        if (SSL_write(s->ssl, p, n) != n) {
            ERR_clear_error();
            return AD_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static size_t pending(ad_tls_t *s)
{
    return BIO_ctrl_pending(s->wbio);
}

static size_t take(ad_tls_t *s, void *buf, size_t len)
{
    int n = BIO_read(s->wbio, buf, len > INT_MAX ? INT_MAX : (int)len);
    return n > 0 ? (size_t)n : 0;
}

static bool established(ad_tls_t *s)
{
    return SSL_is_init_finished(s->ssl) == 1;
}

static void close_notify(ad_tls_t *s)
{
    if (SSL_is_init_finished(s->ssl)) {
        SSL_shutdown(s->ssl);
        ERR_clear_error();
    }
}

/* ---- signatures ------------------------------------------------------------------- */

static int key_load(const uint8_t *pem, size_t len, ad_tls_key_t **out, ad_tls_alg_t *alg,
                    char *err, size_t errsz)
{
    BIO *bio = len <= INT_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    EVP_PKEY *k = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    ERR_clear_error();
    if (k == NULL) {
        snprintf(err, errsz, "not a PEM public key");
        return AD_EINVAL;
    }
    ad_tls_alg_t a = 0;
    if (EVP_PKEY_base_id(k) == EVP_PKEY_RSA && EVP_PKEY_bits(k) >= 2048) {
        a = AD_TLS_RS256;
    } else if (EVP_PKEY_base_id(k) == EVP_PKEY_EC && EVP_PKEY_bits(k) == 256) {
        a = AD_TLS_ES256; /* P-256: the only 256-bit curve OpenSSL reads here */
    } else {
        EVP_PKEY_free(k);
        snprintf(err, errsz,
                 "an RSA key of at least 2048 bits (RS256) or a P-256 key (ES256) is needed");
        return AD_EINVAL;
    }
    ad_tls_key_t *key = ad_xcalloc(1, sizeof(*key));
    key->pkey = k;
    key->alg = a;
    *alg = a;
    *out = key;
    return 0;
}

/* ES256's signature is r||s (32 bytes each); OpenSSL verifies DER. The
 * DER's length, or -1. */
static int es256_der(const uint8_t *sig, size_t len, uint8_t *der, size_t dersz)
{
    if (len != 64) {
        return -1;
    }
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL);
    BIGNUM *ss = BN_bin2bn(sig + 32, 32, NULL);
    if (s == NULL || r == NULL || ss == NULL || ECDSA_SIG_set0(s, r, ss) != 1) {
        BN_free(r);
        BN_free(ss);
        ECDSA_SIG_free(s);
        return -1;
    }
    int n = i2d_ECDSA_SIG(s, NULL);
    uint8_t *p = der;
    if (n <= 0 || (size_t)n > dersz || i2d_ECDSA_SIG(s, &p) != n) {
        n = -1;
    }
    ECDSA_SIG_free(s);
    return n;
}

static bool key_verify(const ad_tls_key_t *key, const void *msg, size_t mlen, const uint8_t *sig,
                       size_t slen)
{
    uint8_t der[80];
    if (key->alg == AD_TLS_ES256) {
        int n = es256_der(sig, slen, der, sizeof(der));
        if (n <= 0) {
            return false;
        }
        sig = der;
        slen = (size_t)n;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
              EVP_DigestVerify(ctx, sig, slen, msg, mlen) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static void key_free(ad_tls_key_t *key)
{
    EVP_PKEY_free(key->pkey);
    free(key);
}

__attribute__((visibility("default"))) const ad_tls_backend_t *ad_tls_backend(void)
{
    static const ad_tls_backend_t table = {
        .abi = AD_TLS_ABI,
        .server_ctx = server_ctx,
        .client_ctx = client_ctx,
        .ctx_free = ctx_free,
        .session = session,
        .session_free = session_free,
        .feed = feed,
        .handshake = handshake,
        .read = tls_read,
        .write = tls_write,
        .pending = pending,
        .take = take,
        .established = established,
        .close_notify = close_notify,
        .key_load = key_load,
        .key_verify = key_verify,
        .key_free = key_free,
        .p256_new = ad_tlsx_p256_new,
        .p256_ecdh = ad_tlsx_p256_ecdh,
        .es256_sign = ad_tlsx_es256_sign,
        .aes128gcm_seal = ad_tlsx_aes128gcm_seal,
    };
    return &table;
}
