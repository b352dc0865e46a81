/* SPDX-License-Identifier: MIT */
/* Tests for src/tls (tls.h) with the library's objects linked in
 * (libagentd-tls.a: nothing is loaded): a client and a server session
 * talking through memory only, the peer checked against its name, the
 * errors of a context that cannot be made and of bytes that are not TLS,
 * close_notify, and JWT signatures (RS256, ES256) against keys and
 * signatures made here with OpenSSL (linked by the test only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "tls/tls.h"

static char dir[64];
static char cert[128], key[128], other[128], pub[128];
static EVP_PKEY *ec_key; /* the certificate's, also ES256's */

static void write_pem(const char *path, EVP_PKEY *k, X509 *x, bool public_only)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    if (x != NULL) {
        assert_int_equal(PEM_write_X509(f, x), 1);
    } else if (public_only) {
        assert_int_equal(PEM_write_PUBKEY(f, k), 1);
    } else {
        assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    }
    fclose(f);
}

static void add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX c;
    X509V3_set_ctx_nodb(&c);
    X509V3_set_ctx(&c, x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &c, nid, value);
    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

/* A self-signed P-256 certificate for localhost and 127.0.0.1, its key,
 * another key, and the public key alone, in a folder of their own. */
static int setup(void **state)
{
    AD_UNUSED(state);
    snprintf(dir, sizeof(dir), "/tmp/agentd-tls-unit-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(other, sizeof(other), "%s/other.pem", dir);
    snprintf(pub, sizeof(pub), "%s/pub.pem", dir);
    ec_key = EVP_EC_gen("P-256");
    EVP_PKEY *k2 = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (ec_key == NULL || k2 == NULL || x == NULL) {
        return -1;
    }
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, ec_key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    add_ext(x, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x, NID_subject_key_identifier, "hash");
    add_ext(x, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    if (X509_sign(x, ec_key, EVP_sha256()) <= 0) {
        return -1;
    }
    write_pem(cert, NULL, x, false);
    write_pem(key, ec_key, NULL, false);
    write_pem(other, k2, NULL, false);
    write_pem(pub, ec_key, NULL, true);
    X509_free(x);
    EVP_PKEY_free(k2);
    return 0;
}

static int teardown(void **state)
{
    AD_UNUSED(state);
    EVP_PKEY_free(ec_key);
    unlink(cert);
    unlink(key);
    unlink(other);
    unlink(pub);
    rmdir(dir);
    return 0;
}

/* What a has to send, fed to b. */
static void pump(ad_tls_t *a, ad_tls_t *b)
{
    char buf[65536];
    size_t n;
    while ((n = ad_tls_take(a, buf, sizeof(buf))) > 0) {
        assert_int_equal(ad_tls_feed(b, buf, n), 0);
    }
}

/* Runs the handshake between c and s: 1 done, or AD_EIO with err (the
 * client's reason). */
static int handshake(ad_tls_t *c, ad_tls_t *s, char *err, size_t errsz)
{
    char plain[64], why[300];
    int r = ad_tls_handshake(c, err, errsz);
    for (int turn = 0; turn < 10 && r == 0; turn++) {
        pump(c, s);
        ssize_t got = ad_tls_read(s, plain, sizeof(plain), why, sizeof(why));
        pump(s, c);
        if (got < 0) {
            r = ad_tls_handshake(c, err, errsz);
            return r < 0 ? r : AD_EIO;
        }
        r = ad_tls_handshake(c, err, errsz);
    }
    if (r == 1) {
        pump(c, s); /* the client's Finished */
        assert_int_equal(ad_tls_read(s, plain, sizeof(plain), why, sizeof(why)), 0);
        assert_true(ad_tls_established(s));
    }
    return r;
}

static void a_session_carries_bytes_both_ways_and_ends_with_close_notify(void **state)
{
    AD_UNUSED(state);
    char err[300];
    ad_tls_ctx_t *sctx, *cctx;
    assert_int_equal(ad_tls_load(err, sizeof(err)), 0);
    assert_int_equal(ad_tls_server_ctx(cert, key, &sctx, err, sizeof(err)), 0);
    assert_int_equal(ad_tls_client_ctx(cert, &cctx, err, sizeof(err)), 0);
    for (int i = 0; i < 2; i++) {
        const char *host = i == 0 ? "127.0.0.1" : "localhost"; /* an IP name, a DNS name */
        ad_tls_t *s = ad_tls_new(sctx, NULL);
        ad_tls_t *c = ad_tls_new(cctx, host);
        assert_non_null(s);
        assert_non_null(c);
        assert_false(ad_tls_established(c));
        assert_int_equal(handshake(c, s, err, sizeof(err)), 1);
        assert_true(ad_tls_established(c));

        /* client -> server: a short request */
        char buf[65536];
        assert_int_equal(ad_tls_write(c, "GET / HTTP/1.1\r\n\r\n", 18), 0);
        assert_true(ad_tls_pending(c) > 18);
        pump(c, s);
        assert_int_equal(ad_tls_read(s, buf, sizeof(buf), err, sizeof(err)), 18);
        assert_memory_equal(buf, "GET / HTTP/1.1\r\n\r\n", 18);
        assert_int_equal(ad_tls_read(s, buf, sizeof(buf), err, sizeof(err)), 0);

        /* server -> client: more than one record, read in small pieces */
        static char big[100000];
        for (size_t j = 0; j < sizeof(big); j++) {
            big[j] = (char)(j * 7 + 3);
        }
        assert_int_equal(ad_tls_write(s, big, sizeof(big)), 0);
        pump(s, c);
        size_t have = 0;
        ssize_t n;
        while ((n = ad_tls_read(c, buf, 1000, err, sizeof(err))) > 0) {
            assert_true(have + (size_t)n <= sizeof(big));
            assert_memory_equal(buf, big + have, (size_t)n);
            have += (size_t)n;
        }
        assert_int_equal(n, 0);
        assert_int_equal(have, sizeof(big));

        /* the client ends TLS: the server reads an orderly end */
        ad_tls_close_notify(c);
        pump(c, s);
        assert_int_equal(ad_tls_read(s, buf, sizeof(buf), err, sizeof(err)), AD_ECLOSED);
        ad_tls_free(c);
        ad_tls_free(s);
    }
    /* a session keeps its context: freed first, the session still works */
    ad_tls_t *s = ad_tls_new(sctx, NULL);
    ad_tls_t *c = ad_tls_new(cctx, "localhost");
    ad_tls_ctx_free(sctx);
    ad_tls_ctx_free(cctx);
    assert_int_equal(handshake(c, s, err, sizeof(err)), 1);
    ad_tls_free(c);
    ad_tls_free(s);
}

static void the_peer_is_checked_against_its_name_and_the_roots(void **state)
{
    AD_UNUSED(state);
    char err[300];
    ad_tls_ctx_t *sctx, *cctx, *sys;
    assert_int_equal(ad_tls_server_ctx(cert, key, &sctx, err, sizeof(err)), 0);
    assert_int_equal(ad_tls_client_ctx(cert, &cctx, err, sizeof(err)), 0);
    assert_int_equal(ad_tls_client_ctx(NULL, &sys, err, sizeof(err)), 0);
    struct {
        ad_tls_ctx_t *ctx;
        const char *host, *why;
    } cases[] = {
        {cctx, "example.org", "TLS handshake failed: hostname mismatch"},
        {cctx, "10.0.0.1", "TLS handshake failed: IP address mismatch"},
        {sys, "localhost", "TLS handshake failed: self-signed certificate"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ad_tls_t *s = ad_tls_new(sctx, NULL);
        ad_tls_t *c = ad_tls_new(cases[i].ctx, cases[i].host);
        err[0] = '\0';
        assert_int_equal(handshake(c, s, err, sizeof(err)), AD_EIO);
        assert_non_null(strstr(err, cases[i].why));
        assert_false(ad_tls_established(c));
        ad_tls_free(c);
        ad_tls_free(s);
    }
    ad_tls_ctx_free(sctx);
    ad_tls_ctx_free(cctx);
    ad_tls_ctx_free(sys);
}

static void errors_name_what_failed(void **state)
{
    AD_UNUSED(state);
    char err[600], missing[160];
    ad_tls_ctx_t *ctx = (ad_tls_ctx_t *)&ctx;
    snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
    assert_int_equal(ad_tls_server_ctx(missing, key, &ctx, err, sizeof(err)), AD_EINVAL);
    assert_null(ctx);
    assert_non_null(strstr(err, "cannot load the certificate"));
    assert_non_null(strstr(err, missing));
    assert_int_equal(ad_tls_server_ctx(cert, missing, &ctx, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "cannot load the private key"));
    /* OpenSSL finds this one on loading the key ("key values mismatch") */
    assert_int_equal(ad_tls_server_ctx(cert, other, &ctx, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "mismatch"));
    assert_int_equal(ad_tls_client_ctx(missing, &ctx, err, sizeof(err)), AD_EIO);
    assert_null(ctx);
    assert_non_null(strstr(err, "cannot load the TLS roots"));

    /* bytes that are not TLS: the server says why, and has an alert to send */
    assert_int_equal(ad_tls_server_ctx(cert, key, &ctx, err, sizeof(err)), 0);
    ad_tls_t *s = ad_tls_new(ctx, NULL);
    const char junk[] = "\x16\x03\x01\x00\x05hello, not a handshake at all";
    assert_int_equal(ad_tls_feed(s, junk, sizeof(junk) - 1), 0);
    char buf[64];
    assert_int_equal(ad_tls_read(s, buf, sizeof(buf), err, sizeof(err)), AD_EIO);
    assert_non_null(strstr(err, "TLS handshake failed"));
    assert_true(ad_tls_pending(s) > 0);
    ad_tls_close_notify(s); /* not established: nothing */
    ad_tls_free(s);
    ad_tls_ctx_free(ctx);
    ad_tls_free(NULL);
    ad_tls_ctx_free(NULL);
    ad_tls_key_free(NULL);
}

/* sig of msg under k with SHA-256: DER for RSA, JWS's r||s for EC. */
static size_t sign(EVP_PKEY *k, const char *msg, uint8_t *sig, size_t sigsz)
{
    uint8_t der[600];
    size_t n = sizeof(der);
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(m, der, &n, (const uint8_t *)msg, strlen(msg)), 1);
    EVP_MD_CTX_free(m);
    if (EVP_PKEY_base_id(k) == EVP_PKEY_RSA) {
        assert_true(n <= sigsz);
        memcpy(sig, der, n);
        return n;
    }
    const uint8_t *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)n);
    assert_non_null(es);
    assert_true(sigsz >= 64);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
    ECDSA_SIG_free(es);
    return 64;
}

static void public_keys_check_rs256_and_es256_signatures(void **state)
{
    AD_UNUSED(state);
    char err[300];
    EVP_PKEY *rsa = EVP_RSA_gen(2048), *small = EVP_RSA_gen(1024);
    assert_non_null(rsa);
    assert_non_null(small);
    struct {
        EVP_PKEY *k;
        ad_tls_alg_t alg;
    } cases[] = {{rsa, AD_TLS_RS256}, {ec_key, AD_TLS_ES256}};
    const char *msg = "eyJhbGciOiJ4In0.eyJzdWIiOiJ5In0";
    for (size_t i = 0; i < 2; i++) {
        unsigned char *pem = NULL;
        BIO *b = BIO_new(BIO_s_mem());
        PEM_write_bio_PUBKEY(b, cases[i].k);
        long len = BIO_get_mem_data(b, &pem);
        ad_tls_key_t *k = NULL;
        ad_tls_alg_t alg = 0;
        assert_int_equal(ad_tls_key_load(pem, (size_t)len, &k, &alg, err, sizeof(err)), 0);
        BIO_free(b);
        assert_int_equal(alg, cases[i].alg);
        uint8_t sig[512];
        size_t n = sign(cases[i].k, msg, sig, sizeof(sig));
        assert_true(ad_tls_key_verify(k, msg, strlen(msg), sig, n));
        assert_false(ad_tls_key_verify(k, "eyJ.other", 9, sig, n));
        sig[n / 2] ^= 1;
        assert_false(ad_tls_key_verify(k, msg, strlen(msg), sig, n));
        assert_false(ad_tls_key_verify(k, msg, strlen(msg), sig, n - 1));
        ad_tls_key_free(k);
    }
    /* the public key file the setup wrote, as --jwt-public-key reads it */
    FILE *f = fopen(pub, "r");
    uint8_t pem[4096];
    size_t plen = fread(pem, 1, sizeof(pem), f);
    fclose(f);
    ad_tls_key_t *k = NULL;
    ad_tls_alg_t alg = 0;
    assert_int_equal(ad_tls_key_load(pem, plen, &k, &alg, err, sizeof(err)), 0);
    assert_int_equal(alg, AD_TLS_ES256);
    ad_tls_key_free(k);
    /* refused: RSA under 2048 bits, not PEM at all */
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, small);
    unsigned char *sp = NULL;
    long slen = BIO_get_mem_data(b, &sp);
    assert_int_equal(ad_tls_key_load(sp, (size_t)slen, &k, &alg, err, sizeof(err)), AD_EINVAL);
    assert_null(k);
    assert_non_null(strstr(err, "at least 2048 bits"));
    BIO_free(b);
    assert_int_equal(ad_tls_key_load((const uint8_t *)"not a key", 9, &k, &alg, err, sizeof(err)),
                     AD_EINVAL);
    assert_string_equal(err, "not a PEM public key");
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_session_carries_bytes_both_ways_and_ends_with_close_notify),
        cmocka_unit_test(the_peer_is_checked_against_its_name_and_the_roots),
        cmocka_unit_test(errors_name_what_failed),
        cmocka_unit_test(public_keys_check_rs256_and_es256_signatures),
    };
    return cmocka_run_group_tests_name("tls-session", tests, setup, teardown);
}
