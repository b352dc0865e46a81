/* SPDX-License-Identifier: MIT */
/*
 * tls: Web Push's crypto in agentd-tls.so (issue #76, src/push): P-256 key
 * pairs as raw bytes, ECDH, ES256 signatures as JWS's r||s, AES-128-GCM.
 * OpenSSL 3's EVP interface only; every object is made and freed within
 * the call, so any thread may call.
 */
#include "tls/tls_int.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <string.h>

static int failed(char *err, size_t errsz, const char *what, int rc)
{
    unsigned long e = ERR_get_error();
    char why[160] = "";
    if (e != 0) {
        ERR_error_string_n(e, why, sizeof(why));
    }
    ERR_clear_error();
    snprintf(err, errsz, "%s%s%s", what, why[0] ? ": " : "", why);
    return rc;
}

/* A P-256 key from raw bytes: the pair (priv and pub) or, priv NULL, a
 * public key alone. NULL when the bytes are not a key of the curve. */
static EVP_PKEY *key_of(const uint8_t *priv, const uint8_t *pub)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    BIGNUM *d = priv != NULL ? BN_bin2bn(priv, AD_TLS_P256_PRIV, NULL) : NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *k = NULL;
    if (b == NULL || (priv != NULL && d == NULL) ||
        OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, AD_TLS_P256_PUB) != 1 ||
        (d != NULL && OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, d) != 1) ||
        (params = OSSL_PARAM_BLD_to_param(b)) == NULL ||
        (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
        EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &k, d != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) !=
            1) {
        k = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    BN_clear_free(d);
    return k;
}

int ad_tlsx_p256_new(uint8_t *priv, uint8_t *pub, char *err, size_t errsz)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    BIGNUM *d = NULL;
    size_t n = 0;
    int rc = 0;
    if (k == NULL || EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 ||
        BN_bn2binpad(d, priv, AD_TLS_P256_PRIV) != AD_TLS_P256_PRIV ||
        EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pub, AD_TLS_P256_PUB, &n) !=
            1 ||
        n != AD_TLS_P256_PUB || pub[0] != 0x04) {
        rc = failed(err, errsz, "cannot make a P-256 key", AD_EIO);
    }
    BN_clear_free(d);
    EVP_PKEY_free(k);
    return rc;
}

int ad_tlsx_p256_ecdh(const uint8_t *priv, const uint8_t *pub, const uint8_t *peer, uint8_t *secret,
                      char *err, size_t errsz)
{
    EVP_PKEY *mine = key_of(priv, pub);
    EVP_PKEY *theirs = key_of(NULL, peer);
    if (mine == NULL || theirs == NULL) {
        EVP_PKEY_free(mine);
        EVP_PKEY_free(theirs);
        return failed(err, errsz, "not a P-256 public key", AD_EINVAL);
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
    size_t n = 32;
    int rc = 0;
    if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
        EVP_PKEY_derive_set_peer(ctx, theirs) != 1 || EVP_PKEY_derive(ctx, secret, &n) != 1 ||
        n != 32) {
        rc = failed(err, errsz, "ECDH failed", AD_EIO);
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(mine);
    EVP_PKEY_free(theirs);
    return rc;
}

int ad_tlsx_es256_sign(const uint8_t *priv, const uint8_t *pub, const void *msg, size_t mlen,
                       uint8_t *sig, char *err, size_t errsz)
{
    EVP_PKEY *k = key_of(priv, pub);
    if (k == NULL) {
        return failed(err, errsz, "not a P-256 key pair", AD_EINVAL);
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint8_t der[80];
    size_t dlen = sizeof(der);
    const uint8_t *p = der;
    ECDSA_SIG *s = NULL;
    int rc = 0;
    if (md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
        EVP_DigestSign(md, der, &dlen, msg, mlen) != 1 ||
        (s = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) == NULL ||
        BN_bn2binpad(ECDSA_SIG_get0_r(s), sig, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(s), sig + 32, 32) != 32) {
        rc = failed(err, errsz, "ES256 signing failed", AD_EIO);
    }
    ECDSA_SIG_free(s);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return rc;
}

int ad_tlsx_aes128gcm_seal(const uint8_t *key, const uint8_t *iv, const void *in, size_t len,
                           uint8_t *out, char *err, size_t errsz)
{
    if (len > INT32_MAX) {
        snprintf(err, errsz, "too much to encrypt at once");
        return AD_EINVAL;
    }
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0, rc = 0;
    if (c == NULL || EVP_EncryptInit_ex(c, EVP_aes_128_gcm(), NULL, key, iv) != 1 ||
        EVP_EncryptUpdate(c, out, &n, in, (int)len) != 1 ||
        EVP_EncryptFinal_ex(c, out + n, &fin) != 1 || (size_t)(n + fin) != len ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, out + len) != 1) {
        rc = failed(err, errsz, "AES-128-GCM failed", AD_EIO);
    }
    EVP_CIPHER_CTX_free(c);
    return rc;
}
