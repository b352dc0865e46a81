/* SPDX-License-Identifier: MIT */
/*
 * push: the VAPID key (RFC 8292) and what is made from it: the key file,
 * the Authorization header a push service checks, and the action tokens
 * an approval's notification decides it with. base64url is here too.
 */
#include "push/push.h"
#include "tls/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

size_t ad_push_b64url(const uint8_t *in, size_t len, char *out, size_t outsz)
{
    size_t n = ad_base64_encode(in, len, out, outsz);
    if (n == 0 && len > 0) {
        return 0;
    }
    while (n > 0 && out[n - 1] == '=') {
        n--;
    }
    out[n] = '\0';
    for (size_t i = 0; i < n; i++) {
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }
    return n;
}

int ad_push_b64url_decode(const char *in, uint8_t *out, size_t outsz)
{
    char buf[1100];
    size_t n = strlen(in);
    while (n > 0 && in[n - 1] == '=') {
        n--;
    }
    if (n == 0 || n % 4 == 1 || n + 3 >= sizeof(buf)) {
        return AD_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '+' || c == '/') {
            return AD_EINVAL; /* base64url only */
        }
        buf[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    while (n % 4 != 0) {
        buf[n++] = '=';
    }
    int rc = ad_base64_decode(buf, n, out, outsz);
    return rc < 0 ? AD_EINVAL : rc;
}

/* The action tokens' key: HMAC(priv, label), so it goes with the VAPID
 * key and nothing else has to be kept. */
static void derive(ad_push_key_t *k)
{
    static const char label[] = "agentd web push action tokens v1";
    ad_hmac_sha256(k->priv, sizeof(k->priv), label, sizeof(label) - 1, k->action_key);
    ad_push_b64url(k->pub, sizeof(k->pub), k->pub_b64, sizeof(k->pub_b64));
}

/* "v1 <priv>.<pub>\n" in base64url. */
int ad_push_key_parse(const char *text, ad_push_key_t *k)
{
    char a[64], b[100];
    if (sscanf(text, "v1 %63[A-Za-z0-9_-].%99[A-Za-z0-9_-]", a, b) != 2 ||
        ad_push_b64url_decode(a, k->priv, sizeof(k->priv)) != 32 ||
        ad_push_b64url_decode(b, k->pub, sizeof(k->pub)) != 65 || k->pub[0] != 0x04) {
        return AD_EINVAL;
    }
    derive(k);
    return 0;
}

static int make(const char *path, ad_push_key_t *k, char *err, size_t errsz)
{
    int rc = ad_tls_p256_new(k->priv, k->pub, err, errsz);
    if (rc != 0) {
        return rc;
    }
    char a[64], b[100], line[200];
    ad_push_b64url(k->priv, sizeof(k->priv), a, sizeof(a));
    ad_push_b64url(k->pub, sizeof(k->pub), b, sizeof(b));
    int n = snprintf(line, sizeof(line), "v1 %s.%s\n", a, b);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || ad_write_all(fd, line, (size_t)n) != (size_t)n || fsync(fd) != 0) {
        snprintf(err, errsz, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        memset(line, 0, sizeof(line));
        return AD_EIO;
    }
    close(fd);
    memset(line, 0, sizeof(line));
    memset(a, 0, sizeof(a));
    derive(k);
    ad_log(AD_LOG_INFO, "push", "made the VAPID key file=%s", path);
    return 0;
}

int ad_push_key_load(const char *data_dir, ad_push_key_t *out, char *err, size_t errsz)
{
    char path[4200], text[256] = "";
    snprintf(path, sizeof(path), "%s/%s", data_dir, AD_PUSH_KEY_FILE);
    memset(out, 0, sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        return make(path, out, err, errsz);
    }
    if (fd < 0) {
        snprintf(err, errsz, "cannot read %s: %s", path, strerror(errno));
        return AD_EIO;
    }
    struct stat st;
    ssize_t n = fstat(fd, &st) == 0 ? read(fd, text, sizeof(text) - 1) : -1;
    close(fd);
    if (n > 0 && (st.st_mode & 077) != 0) {
        snprintf(err, errsz, "%s is readable by others (mode %o): chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
        return AD_EINVAL;
    }
    int rc = n > 0 ? ad_push_key_parse(text, out) : AD_EINVAL;
    memset(text, 0, sizeof(text));
    if (rc != 0) {
        snprintf(err, errsz, "%s is not a VAPID key file (move it away to make a new one)", path);
    }
    return rc;
}

void ad_push_key_text(const ad_push_key_t *k, char *out, size_t outsz)
{
    char a[64], b[100];
    ad_push_b64url(k->priv, sizeof(k->priv), a, sizeof(a));
    ad_push_b64url(k->pub, sizeof(k->pub), b, sizeof(b));
    snprintf(out, outsz, "v1 %s.%s", a, b);
    memset(a, 0, sizeof(a));
}

int ad_push_origin(const char *url, char *out, size_t outsz)
{
    size_t skip = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
    if (skip == 0) {
        return AD_EINVAL;
    }
    size_t host = strcspn(url + skip, "/?#");
    if (host == 0 || skip + host >= outsz) {
        return AD_EINVAL;
    }
    memcpy(out, url, skip + host);
    out[skip + host] = '\0';
    return 0;
}

int ad_push_vapid_auth(const ad_push_key_t *k, const char *endpoint, const char *subject,
                       int64_t now_s, char *out, size_t outsz, char *err, size_t errsz)
{
    char aud[1100];
    if (ad_push_origin(endpoint, aud, sizeof(aud)) != 0) {
        snprintf(err, errsz, "not an http(s) endpoint");
        return AD_EINVAL;
    }
    static const char head[] = "{\"typ\":\"JWT\",\"alg\":\"ES256\"}";
    json_t *claims = json_pack("{s:s, s:I, s:s}", "aud", aud, "exp",
                               (json_int_t)(now_s + 12 * 3600), "sub", subject);
    char *ctext = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    char h64[64], c64[2000], signing[2100], s64[100];
    uint8_t sig[64];
    ad_push_b64url((const uint8_t *)head, sizeof(head) - 1, h64, sizeof(h64));
    size_t cn = ad_push_b64url((const uint8_t *)ctext, strlen(ctext), c64, sizeof(c64));
    free(ctext);
    if (cn == 0) {
        snprintf(err, errsz, "the endpoint is too long");
        return AD_EINVAL;
    }
    int n = snprintf(signing, sizeof(signing), "%s.%s", h64, c64);
    int rc = ad_tls_es256_sign(k->priv, k->pub, signing, (size_t)n, sig, err, errsz);
    if (rc != 0) {
        return rc;
    }
    ad_push_b64url(sig, sizeof(sig), s64, sizeof(s64));
    if ((size_t)snprintf(out, outsz, "vapid t=%s.%s, k=%s", signing, s64, k->pub_b64) >= outsz) {
        snprintf(err, errsz, "the Authorization header does not fit");
        return AD_ETOOBIG;
    }
    return 0;
}

/* ---- action tokens ---------------------------------------------------------------- */

static void mac(const ad_push_key_t *k, const char *approval_id, const char *sub_id, int64_t exp,
                char out[48])
{
    char msg[200];
    uint8_t md[32];
    int n = snprintf(msg, sizeof(msg), "approval-action\n%s\n%s\n%lld", approval_id, sub_id,
                     (long long)exp);
    ad_hmac_sha256(k->action_key, sizeof(k->action_key), msg, (size_t)n, md);
    ad_push_b64url(md, sizeof(md), out, 48);
}

void ad_push_action_token(const ad_push_key_t *k, const char *approval_id, const char *sub_id,
                          int64_t exp_ms, char out[AD_PUSH_TOKEN_MAX])
{
    char m[48];
    mac(k, approval_id, sub_id, exp_ms, m);
    snprintf(out, AD_PUSH_TOKEN_MAX, "%s.%s.%lld.%s", approval_id, sub_id, (long long)exp_ms, m);
}

/* The next '.'-ended part of *p into out (1 to outsz-1 bytes of [A-Za-z0-9_-]). */
static bool part(const char **p, char *out, size_t outsz)
{
    size_t n = strspn(*p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
    if (n == 0 || n >= outsz) {
        return false;
    }
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n;
    if (**p == '.') {
        (*p)++;
    }
    return true;
}

int ad_push_action_check(const ad_push_key_t *k, const char *token, int64_t now_ms,
                         char approval_id[AD_ID_MAX], char sub_id[AD_ID_MAX])
{
    char ap[AD_ID_MAX], sub[AD_ID_MAX], exp[24], got[48], want[48];
    const char *p = token != NULL ? token : "";
    if (strlen(p) >= AD_PUSH_TOKEN_MAX || !part(&p, ap, sizeof(ap)) ||
        !part(&p, sub, sizeof(sub)) || !part(&p, exp, sizeof(exp)) || !part(&p, got, sizeof(got)) ||
        *p != '\0') {
        return AD_EPERM;
    }
    char *end = NULL;
    long long e = strtoll(exp, &end, 10);
    mac(k, ap, sub, e, want);
    /* compared in constant time: the MAC is the secret part */
    unsigned diff = strlen(got) != strlen(want);
    for (size_t i = 0; i < strlen(want) && i < strlen(got); i++) {
        diff |= (unsigned)(got[i] ^ want[i]);
    }
    if (diff != 0 || end == NULL || *end != '\0' || e <= now_ms) {
        return AD_EPERM;
    }
    snprintf(approval_id, AD_ID_MAX, "%s", ap);
    snprintf(sub_id, AD_ID_MAX, "%s", sub);
    return 0;
}
