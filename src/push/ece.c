/* SPDX-License-Identifier: MIT */
/*
 * push: a Web Push payload encrypted as RFC 8291 says (§3.4), in one
 * aes128gcm record of RFC 8188 (§2): a fresh P-256 key pair and a random
 * 16-byte salt per message; ECDH with the browser's p256dh; HKDF-SHA-256
 * with the browser's auth secret to the input keying material, then with
 * the salt to the content key and the nonce. HKDF is core's HMAC; the
 * curve and AES-GCM are src/tls's.
 */
#include "push/push.h"
#include "tls/tls.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define RS 4096 /* the record size: one record holds the whole payload */

/* HKDF-Expand for one block (L <= 32): HMAC(prk, info || 0x01). */
static void expand(const uint8_t prk[32], const uint8_t *info, size_t ilen, uint8_t out[32])
{
    uint8_t buf[200];
    memcpy(buf, info, ilen);
    buf[ilen] = 0x01;
    ad_hmac_sha256(prk, 32, (const char *)buf, ilen + 1, out);
}

int ad_push_encrypt(const uint8_t ua_pub[65], const uint8_t auth[16], const void *plain, size_t len,
                    ad_buf_t *out, char *err, size_t errsz)
{
    if (len > AD_PUSH_PAYLOAD_MAX) {
        snprintf(err, errsz, "the payload is over %d bytes", AD_PUSH_PAYLOAD_MAX);
        return AD_ETOOBIG;
    }
    uint8_t as_priv[32], as_pub[65], ecdh[32], salt[16];
    int rc = ad_tls_p256_new(as_priv, as_pub, err, errsz);
    if (rc == 0) {
        rc = ad_tls_p256_ecdh(as_priv, as_pub, ua_pub, ecdh, err, errsz);
    }
    if (rc == 0 && getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt)) {
        snprintf(err, errsz, "no random bytes for the salt");
        rc = AD_EIO;
    }
    if (rc != 0) {
        memset(as_priv, 0, sizeof(as_priv));
        return rc;
    }
    /* PRK_key = HMAC(auth, ecdh); IKM = HKDF-Expand(PRK_key, key_info, 32) */
    uint8_t prk_key[32], ikm[32], prk[32], cek[32], nonce[32];
    uint8_t key_info[14 + 65 + 65];
    memcpy(key_info, "WebPush: info", 14); /* with its 0x00 */
    memcpy(key_info + 14, ua_pub, 65);
    memcpy(key_info + 14 + 65, as_pub, 65);
    ad_hmac_sha256(auth, 16, (const char *)ecdh, sizeof(ecdh), prk_key);
    expand(prk_key, key_info, sizeof(key_info), ikm);
    /* PRK = HMAC(salt, IKM); CEK and NONCE from it */
    ad_hmac_sha256(salt, sizeof(salt), (const char *)ikm, sizeof(ikm), prk);
    static const char cek_info[] = "Content-Encoding: aes128gcm"; /* and its NUL */
    static const char nonce_info[] = "Content-Encoding: nonce";
    expand(prk, (const uint8_t *)cek_info, sizeof(cek_info), cek);
    expand(prk, (const uint8_t *)nonce_info, sizeof(nonce_info), nonce);
    /* the record: the payload, then 0x02 (the last record), no padding */
    uint8_t rec[AD_PUSH_PAYLOAD_MAX + 1], sealed[AD_PUSH_PAYLOAD_MAX + 1 + 16];
    memcpy(rec, plain, len);
    rec[len] = 0x02;
    rc = ad_tls_aes128gcm_seal(cek, nonce, rec, len + 1, sealed, err, errsz);
    if (rc == 0) {
        /* the header: salt, rs (big-endian), idlen, keyid (our public key) */
        uint8_t head[16 + 4 + 1 + 65];
        memcpy(head, salt, 16);
        head[16] = (uint8_t)(RS >> 24);
        head[17] = (uint8_t)(RS >> 16);
        head[18] = (uint8_t)(RS >> 8);
        head[19] = (uint8_t)RS;
        head[20] = 65;
        memcpy(head + 21, as_pub, 65);
        if (ad_buf_append(out, head, sizeof(head)) != 0 ||
            ad_buf_append(out, sealed, len + 1 + 16) != 0) {
            snprintf(err, errsz, "the message does not fit");
            rc = AD_ETOOBIG;
        }
    }
    memset(as_priv, 0, sizeof(as_priv));
    memset(ecdh, 0, sizeof(ecdh));
    memset(prk_key, 0, sizeof(prk_key));
    memset(ikm, 0, sizeof(ikm));
    memset(prk, 0, sizeof(prk));
    memset(cek, 0, sizeof(cek));
    memset(rec, 0, len + 1);
    return rc;
}
