/* SPDX-License-Identifier: MIT */
/*
 * push: what a subscription may be, and text made fit for a lock screen
 * (no control characters, nothing that looks like a secret, bounded).
 */
#include "push/push.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define ENDPOINT_MAX 1024

/* https://<name>[:port]/..., or http://127.0.0.1[:port]/... when allowed.
 * A push service is named: an address (or localhost) as the host is
 * refused, so a user cannot make agentd post to a host of its network. */
static const char *endpoint_why(const char *u, bool loopback_ok)
{
    if (strpbrk(u, " \t\r\n\\") != NULL) {
        return "must be a URL without spaces or backslashes";
    }
    for (const char *p = u; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
            return "must be a URL without control characters";
        }
    }
    bool local =
        loopback_ok && strncmp(u, "http://127.0.0.1", 16) == 0 && (u[16] == ':' || u[16] == '/');
    if (!local && strncmp(u, "https://", 8) != 0) {
        return loopback_ok ? "must be an https:// URL (or http://127.0.0.1)"
                           : "must be an https:// URL";
    }
    const char *host = u + (local ? 7 : 8);
    size_t hlen = strcspn(host, "/?#");
    if (hlen == 0 || memchr(host, '@', hlen) != NULL || host[hlen] != '/') {
        return "must be a URL with a host and a path, without user info";
    }
    if (local) {
        return NULL;
    }
    size_t name = strcspn(host, ":/");
    bool numeric = true;
    for (size_t i = 0; i < name; i++) {
        numeric = numeric && (isdigit((unsigned char)host[i]) || host[i] == '.');
    }
    if (host[0] == '[' || numeric || (name == 9 && strncasecmp(host, "localhost", 9) == 0)) {
        return "must name its push service's host, not an address";
    }
    return NULL;
}

int ad_push_sub_check(const json_t *body, bool loopback_ok, const char **endpoint,
                      const char **p256dh, const char **auth, ad_field_err_t *e)
{
    uint8_t b[80];
    const char *why;
    if (ad_field_str(body, "endpoint", true, ENDPOINT_MAX, endpoint, e) != 0) {
        return AD_EINVAL;
    }
    if ((why = endpoint_why(*endpoint, loopback_ok)) != NULL) {
        return ad_field_fail(e, "endpoint", "%s", why);
    }
    json_t *keys = json_object_get(body, "keys");
    if (!json_is_object(keys)) {
        return ad_field_fail(e, "keys", "must be an object {p256dh, auth}");
    }
    if (ad_field_str(keys, "p256dh", true, 100, p256dh, e) != 0) {
        snprintf(e->field, sizeof(e->field), "keys.p256dh");
        return AD_EINVAL;
    }
    if (ad_field_str(keys, "auth", true, 40, auth, e) != 0) {
        snprintf(e->field, sizeof(e->field), "keys.auth");
        return AD_EINVAL;
    }
    if (ad_push_b64url_decode(*p256dh, b, sizeof(b)) != 65 || b[0] != 0x04) {
        return ad_field_fail(e, "keys.p256dh",
                             "must be a P-256 public key, uncompressed, in base64url");
    }
    if (ad_push_b64url_decode(*auth, b, sizeof(b)) != 16) {
        return ad_field_fail(e, "keys.auth", "must be 16 bytes in base64url");
    }
    return 0;
}

static bool token_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '+' || c == '=';
}

/* Whether the word before '=' at s[0..n) names a secret. */
static bool secret_name(const char *s, size_t n)
{
    static const char *const words[] = {"key", "token", "secret", "passw", "auth", "cred"};
    char low[64];
    if (n == 0 || n >= sizeof(low)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        low[i] = (char)tolower((unsigned char)s[i]);
    }
    low[n] = '\0';
    for (size_t i = 0; i < AD_ARRAY_LEN(words); i++) {
        if (strstr(low, words[i]) != NULL) {
            return true;
        }
    }
    return false;
}

void ad_push_scrub(const char *s, size_t max, char *out, size_t outsz)
{
    char tmp[4096];
    size_t o = 0;
    if (max + 4 > outsz) {
        max = outsz > 4 ? outsz - 4 : 0;
    }
    for (size_t i = 0; s != NULL && s[i] != '\0' && o + 4 < sizeof(tmp);) {
        size_t run = 0;
        while (token_char(s[i + run])) {
            run++;
        }
        if (run == 0) {
            unsigned char c = (unsigned char)s[i++];
            tmp[o++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
            continue;
        }
        const char *eq = memchr(s + i, '=', run);
        if (run >= 24 && eq == NULL) {
            memcpy(tmp + o, "***", 3);
            o += 3;
        } else if (eq != NULL && secret_name(s + i, (size_t)(eq - (s + i))) &&
                   o + (size_t)(eq - (s + i)) + 5 < sizeof(tmp)) {
            size_t k = (size_t)(eq - (s + i)) + 1;
            memcpy(tmp + o, s + i, k);
            memcpy(tmp + o + k, "***", 3);
            o += k + 3;
        } else if (eq != NULL && run - (size_t)(eq - (s + i)) > 24) {
            size_t k = (size_t)(eq - (s + i)) + 1;
            memcpy(tmp + o, s + i, k);
            memcpy(tmp + o + k, "***", 3);
            o += k + 3;
        } else {
            size_t k = run < sizeof(tmp) - 4 - o ? run : sizeof(tmp) - 4 - o;
            memcpy(tmp + o, s + i, k);
            o += k;
        }
        i += run;
    }
    tmp[o] = '\0';
    if (o <= max) {
        snprintf(out, outsz, "%s", tmp);
        return;
    }
    size_t cut = max;
    while (cut > 0 && ((unsigned char)tmp[cut] & 0xC0) == 0x80) {
        cut--; /* not inside a UTF-8 character */
    }
    snprintf(out, outsz, "%.*s\xE2\x80\xA6", (int)cut, tmp);
}
