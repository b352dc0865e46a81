/* SPDX-License-Identifier: MIT */
/*
 * Where an alert's webhook may go (issue #35). A webhook makes agentd call
 * out, so a rule must not turn it into a way to reach what only agentd's
 * machine can: loopback services, the private network, a cloud's metadata
 * address (169.254.169.254). The URL is http or https without a user name
 * or password; when it is sent, its host is resolved here and every
 * address it gives must be public, unless the host or the address is in
 * --alert-webhook-allow; the address checked is the one curl connects to
 * (its resolve list), so a second lookup (DNS rebinding) cannot differ.
 */
#include "train/train.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char scheme[8];
    char host[256]; /* without brackets */
    unsigned port;
} url_t;

static int parse_url(const char *url, url_t *u, char *why, size_t whysz)
{
    memset(u, 0, sizeof(*u));
    const char *rest;
    if (strncasecmp(url, "https://", 8) == 0) {
        snprintf(u->scheme, sizeof(u->scheme), "https");
        u->port = 443;
        rest = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        snprintf(u->scheme, sizeof(u->scheme), "http");
        u->port = 80;
        rest = url + 7;
    } else {
        snprintf(why, whysz, "must be an http or https URL");
        return AD_EINVAL;
    }
    size_t auth = strcspn(rest, "/?#");
    if (auth == 0) {
        snprintf(why, whysz, "has no host");
        return AD_EINVAL;
    }
    if (memchr(rest, '@', auth) != NULL) {
        snprintf(why, whysz, "must not carry a user name or password");
        return AD_EINVAL;
    }
    for (const char *c = url; *c != '\0'; c++) {
        if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '\\') {
            snprintf(why, whysz, "has a space, control character or backslash");
            return AD_EINVAL;
        }
    }
    const char *h = rest, *port = NULL;
    size_t hlen;
    if (*h == '[') {
        const char *close = memchr(h, ']', auth);
        if (close == NULL) {
            snprintf(why, whysz, "has an unclosed [ in its host");
            return AD_EINVAL;
        }
        hlen = (size_t)(close - h - 1);
        h++;
        if (close + 1 < rest + auth) {
            if (close[1] != ':') {
                snprintf(why, whysz, "has something after its host's ]");
                return AD_EINVAL;
            }
            port = close + 2;
        }
    } else {
        const char *colon = memchr(h, ':', auth);
        hlen = colon != NULL ? (size_t)(colon - h) : auth;
        port = colon != NULL ? colon + 1 : NULL;
    }
    if (hlen == 0 || hlen >= sizeof(u->host)) {
        snprintf(why, whysz, "has no host, or one too long");
        return AD_EINVAL;
    }
    memcpy(u->host, h, hlen);
    u->host[hlen] = '\0';
    if (port != NULL) {
        char *end;
        unsigned long p = strtoul(port, &end, 10);
        if (end == port || end != rest + auth || p == 0 || p > 65535) {
            snprintf(why, whysz, "has a port that is not 1 to 65535");
            return AD_EINVAL;
        }
        u->port = (unsigned)p;
    }
    return 0;
}

/* Whether the IPv4 address (host order) is not public. */
static bool v4_private(uint32_t a)
{
    return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 || (a >> 16) == 0xa9fe ||
           (a >> 20) == 0xac1 || (a >> 16) == 0xc0a8 || (a >> 22) == (100u << 2 | 1) ||
           (a >> 28) >= 0xe || (a >> 8) == 0xc00000 || (a >> 8) == 0xc00002 ||
           (a >> 17) == (0xc612u >> 1) || (a >> 8) == 0xc63364 || (a >> 8) == 0xcb0071;
}

static bool addr_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return v4_private(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family != AF_INET6) {
        return true;
    }
    const uint8_t *b = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
    static const uint8_t zero[16];
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, zero, 12) == 0) { /* v4-mapped, v4-compatible */
        uint32_t a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
        return v4_private(a);
    }
    return (b[0] & 0xfe) == 0xfc ||                   /* unique local fc00::/7 */
           (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* link-local fe80::/10 */
           (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) || /* site-local fec0::/10 */
           b[0] == 0xff ||                            /* multicast */
           (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) || /* documentation */
           (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b);   /* NAT64 */
}

/* Whether entry (an address, or a block "addr/bits") holds sa. */
static bool cidr_has(const char *entry, size_t len, const struct sockaddr *sa)
{
    char buf[80];
    if (len >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, entry, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash != NULL) {
        *slash = '\0';
        char *end;
        bits = strtol(slash + 1, &end, 10);
        if (*end != '\0' || bits < 0) {
            return false;
        }
    }
    uint8_t net[16];
    const uint8_t *a;
    size_t n;
    if (sa->sa_family == AF_INET && inet_pton(AF_INET, buf, net) == 1) {
        a = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        n = 4;
    } else if (sa->sa_family == AF_INET6 && inet_pton(AF_INET6, buf, net) == 1) {
        a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        n = 16;
    } else {
        return false;
    }
    size_t nb = bits < 0 || (size_t)bits > n * 8 ? n * 8 : (size_t)bits;
    for (size_t i = 0; i < nb; i++) {
        uint8_t m = (uint8_t)(0x80u >> (i % 8));
        if ((a[i / 8] & m) != (net[i / 8] & m)) {
            return false;
        }
    }
    return true;
}

/* Whether the allow list names host, or a block holding sa (sa may be NULL). */
static bool allowed(const char *allow, const char *host, const struct sockaddr *sa)
{
    const char *p = allow != NULL ? allow : "";
    while (*p != '\0') {
        while (*p == ',' || *p == ' ') {
            p++;
        }
        size_t len = strcspn(p, ", ");
        if (len > 0 && ((strlen(host) == len && strncasecmp(p, host, len) == 0) ||
                        (sa != NULL && cidr_has(p, len, sa)))) {
            return true;
        }
        p += len;
    }
    return false;
}

int ad_train_webhook_check(const char *url, const char *allow, bool resolve, char *pin,
                           size_t pinsz, char *why, size_t whysz)
{
    url_t u;
    if (parse_url(url, &u, why, whysz) != 0) {
        return AD_EINVAL;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
    struct addrinfo *res = NULL;
    bool literal = getaddrinfo(u.host, NULL, &hints, &res) == 0;
    if (!literal && !resolve) {
        if (strcasecmp(u.host, "localhost") == 0 && !allowed(allow, u.host, NULL)) {
            snprintf(why, whysz,
                     "reaches a loopback address: not unless --alert-webhook-allow "
                     "lists it");
            return AD_EINVAL;
        }
        return 0; /* a name: resolved and checked when it is sent */
    }
    if (!literal) {
        hints.ai_flags = 0;
        int g = getaddrinfo(u.host, NULL, &hints, &res);
        if (g != 0) {
            snprintf(why, whysz, "host %s does not resolve: %s", u.host, gai_strerror(g));
            return AD_EINVAL;
        }
    }
    int rc = 0;
    char first[INET6_ADDRSTRLEN] = "";
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN] = "?";
        const void *a =
            ai->ai_family == AF_INET
                ? (const void *)&((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr
                : (const void *)&((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr;
        inet_ntop(ai->ai_family, a, text, sizeof(text));
        if (addr_private(ai->ai_addr) && !allowed(allow, u.host, ai->ai_addr)) {
            snprintf(why, whysz,
                     "reaches %s, a loopback, private or link-local address: not unless "
                     "--alert-webhook-allow lists it",
                     text);
            rc = AD_EINVAL;
            break;
        }
        if (first[0] == '\0') {
            snprintf(first, sizeof(first), "%s", text);
        }
    }
    freeaddrinfo(res);
    if (pin != NULL && pinsz > 0) {
        pin[0] = '\0'; /* an address in the URL needs no pin */
    }
    if (rc == 0 && pin != NULL && !literal) {
        bool v6 = strchr(first, ':') != NULL;
        snprintf(pin, pinsz, "%s:%u:%s%s%s", u.host, u.port, v6 ? "[" : "", first, v6 ? "]" : "");
    }
    return rc;
}
