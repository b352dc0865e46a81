/* SPDX-License-Identifier: MIT */
/*
 * The control planes' addresses a node learns (issue #39, docs/nodes.md
 * "Every control plane's address"): a plane sends the live planes'
 * advertised URLs; the node dials them after its own --join URLs. A node
 * sends its token to every URL it dials, so a learned URL is taken only
 * when it is well formed (http or https, no userinfo, a host of at most
 * 253 characters, a port, no query), uses a scheme the --join URLs use,
 * and names a host the operator allowed (a --join host or one of
 * --planes-allow). The URL dialled is rebuilt from the parts checked, never
 * the text received, so no other parser reads it differently. Refused URLs
 * are logged once each.
 */
#include "node/node_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define HOST_MAX 253
#define LEARN_LOOK_MAX 64 /* entries of one list looked at; the rest ignored */

static bool host_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/* A host name or IPv4 address (letters, digits, '.', '-', '_'; no empty label),
 * or an IPv6 address without its brackets (hex digits, ':', '.'), of
 * 1..253 characters. */
static bool host_ok(const char *h, size_t n)
{
    if (n == 0 || n > HOST_MAX) {
        return false;
    }
    bool v6 = memchr(h, ':', n) != NULL;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        bool ok = v6 ? (isxdigit((unsigned char)c) || c == ':' || c == '.') : host_char_ok(c);
        if (!ok || (!v6 && c == '.' && (i == 0 || h[i - 1] == '.'))) {
            return false;
        }
    }
    return v6 || (h[0] != '-' && h[n - 1] != '-');
}

static bool path_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '.' || c == '_' || c == '~' || c == '-')) {
            return false;
        }
    }
    /* no "." or ".." segment: the path is a prefix, never a way around */
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '/' && i + 1 < n && p[i + 1] == '.' &&
            (i + 2 == n || p[i + 2] == '/' ||
             (p[i + 2] == '.' && (i + 3 == n || p[i + 3] == '/')))) {
            return false;
        }
    }
    return true;
}

int ad_node_allow_host(ad_node_allow_t *a, const char *host)
{
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (!host_ok(host, n)) {
        return AD_EINVAL;
    }
    for (size_t i = 0; i < a->nhosts; i++) {
        if (strlen(a->hosts[i]) == n && strncasecmp(a->hosts[i], host, n) == 0) {
            return 0;
        }
    }
    if (a->nhosts == AD_NODE_ALLOW_MAX) {
        return AD_ETOOBIG;
    }
    char *dst = a->hosts[a->nhosts++];
    for (size_t i = 0; i < n; i++) {
        dst[i] = (char)tolower((unsigned char)host[i]);
    }
    dst[n] = '\0';
    return 0;
}

/* The authority of a URL, its alen bytes at p: host[hlen] (an IPv6 one
 * without its brackets, *v6 then) and the port, which it must name. No
 * userinfo. 0, or AD_EINVAL with why. */
static int split_authority(const char *p, size_t alen, const char **hostp, size_t *hlenp, bool *v6,
                           unsigned long *portp, char *why, size_t whysz)
{
    if (memchr(p, '@', alen) != NULL) {
        snprintf(why, whysz, "it has userinfo (user@)");
        return AD_EINVAL;
    }
    const char *host = p, *colon;
    size_t hlen;
    *v6 = p[0] == '[';
    if (*v6) {
        const char *rb = memchr(p, ']', alen);
        if (rb == NULL) {
            snprintf(why, whysz, "an IPv6 host without its ]");
            return AD_EINVAL;
        }
        host = p + 1;
        hlen = (size_t)(rb - host);
        colon = rb + 1;
        if (memchr(host, ':', hlen) == NULL) {
            snprintf(why, whysz, "a bracketed host that is not an IPv6 address");
            return AD_EINVAL;
        }
    } else {
        colon = memchr(p, ':', alen);
        hlen = (size_t)((colon != NULL ? colon : p + alen) - p);
    }
    if (!host_ok(host, hlen)) {
        snprintf(why, whysz, "not a host name or address of 1 to %d characters", HOST_MAX);
        return AD_EINVAL;
    }
    const char *pend = p + alen;
    if (colon == NULL || colon >= pend || *colon != ':') {
        snprintf(why, whysz, "no port");
        return AD_EINVAL;
    }
    unsigned long port = 0;
    size_t digits = (size_t)(pend - colon - 1);
    for (const char *d = colon + 1; d < pend; d++) {
        port = isdigit((unsigned char)*d) ? port * 10 + (unsigned long)(*d - '0') : 100000;
        if (port > 65535) {
            break;
        }
    }
    if (digits == 0 || digits > 5 || port == 0 || port > 65535) {
        snprintf(why, whysz, "no port, or not one of 1 to 65535");
        return AD_EINVAL;
    }
    *hostp = host;
    *hlenp = hlen;
    *portp = port;
    return 0;
}

int ad_node_plane_url(const ad_node_allow_t *a, const char *url, char *out, size_t outsz, char *why,
                      size_t whysz)
{
    size_t len = url != NULL ? strlen(url) : 0;
    if (len == 0 || len > AD_NODE_URL_MAX) {
        snprintf(why, whysz, "empty, or longer than %d characters", AD_NODE_URL_MAX);
        return AD_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f || url[i] == '\\') {
            snprintf(why, whysz, "a space, control, backslash or non-ASCII character");
            return AD_EINVAL;
        }
    }
    bool tls;
    const char *p;
    if (strncasecmp(url, "http://", 7) == 0) {
        tls = false;
        p = url + 7;
    } else if (strncasecmp(url, "https://", 8) == 0) {
        tls = true;
        p = url + 8;
    } else {
        snprintf(why, whysz, "not an http:// or https:// URL");
        return AD_EINVAL;
    }
    size_t alen = strcspn(p, "/?#");
    const char *host;
    size_t hlen;
    bool v6;
    unsigned long port;
    if (split_authority(p, alen, &host, &hlen, &v6, &port, why, whysz) != 0) {
        return AD_EINVAL;
    }
    const char *pend = p + alen;
    const char *path = pend;
    size_t plen = strlen(path);
    if (strpbrk(path, "?#") != NULL) {
        snprintf(why, whysz, "it has a query or fragment");
        return AD_EINVAL;
    }
    while (plen > 0 && path[plen - 1] == '/') {
        plen--;
    }
    if (!path_ok(path, plen)) {
        snprintf(why, whysz, "a path of other than letters, digits, / . _ ~ -, or a . segment");
        return AD_EINVAL;
    }
    if (tls ? !a->https : !a->http) {
        snprintf(why, whysz, "scheme %s, which no --join URL uses", tls ? "https" : "http");
        return AD_EPERM;
    }
    bool allowed = false;
    for (size_t i = 0; i < a->nhosts && !allowed; i++) {
        allowed = strlen(a->hosts[i]) == hlen && strncasecmp(a->hosts[i], host, hlen) == 0;
    }
    if (!allowed) {
        snprintf(why, whysz, "host %.*s is not a --join host nor in --planes-allow",
                 (int)(hlen > 64 ? 64 : hlen), host);
        return AD_EPERM;
    }
    /* rebuilt from the parts checked: what is dialled is what was judged */
    char lhost[HOST_MAX + 1];
    for (size_t i = 0; i < hlen; i++) {
        lhost[i] = (char)tolower((unsigned char)host[i]);
    }
    lhost[hlen] = '\0';
    int k = snprintf(out, outsz, "%s://%s%s%s:%lu%.*s/api/nodes/link", tls ? "https" : "http",
                     v6 ? "[" : "", lhost, v6 ? "]" : "", port, (int)plen, path);
    if (k < 0 || (size_t)k >= outsz) {
        snprintf(why, whysz, "too long");
        return AD_EINVAL;
    }
    return 0;
}

/* ---- the dial list -------------------------------------------------------------------------- */

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

/* Whether text was not logged yet (remembered in a ring of the last
 * AD_NODE_REFUSED_MAX). */
static bool first_time(worker_t *w, const char *text)
{
    uint64_t h = fnv(text);
    size_t n = w->nrefused < AD_NODE_REFUSED_MAX ? w->nrefused : AD_NODE_REFUSED_MAX;
    for (size_t i = 0; i < n; i++) {
        if (w->refused[i] == h) {
            return false;
        }
    }
    w->refused[w->nrefused++ % AD_NODE_REFUSED_MAX] = h;
    return true;
}

/* A hostile URL in a log line: its userinfo (a password, perhaps) as ***,
 * at most 120 characters, printable, no quote. */
static void log_safe(const char *s, char *out, size_t outsz)
{
    char buf[160];
    const char *sep = strstr(s, "://");
    const char *auth = sep != NULL ? sep + 3 : s;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *c = auth; c < auth + alen; c++) {
        at = *c == '@' ? c : at;
    }
    if (at != NULL) {
        snprintf(buf, sizeof(buf), "%.*s***%s", (int)(auth - s), s, at);
        s = buf;
    }
    size_t i = 0;
    for (; s[i] != '\0' && i < 120 && i + 1 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c < 0x21 || c >= 0x7f || c == '"' ? '?' : (char)c;
    }
    out[i] = '\0';
}

/* A refusal not said before goes into the list's one log line (a warning
 * per list: the log holds back a repeated format for a while). */
static void refuse(worker_t *w, ad_buf_t *said, const char *url, const char *why)
{
    char key[2400];
    snprintf(key, sizeof(key), "%s\n%s", url != NULL ? url : "(not a string)", why);
    if (first_time(w, key)) {
        char safe[128];
        log_safe(url != NULL ? url : "(not a string)", safe, sizeof(safe));
        if (ad_buf_printf(said, "%s%s (%s)", said->len > 0 ? "; " : "", safe, why) != 0) {
            return; /* past the line's bound: remembered, not said */
        }
    }
}

void ad_worker_learn(worker_t *w, json_t *list)
{
    if (!json_is_array(list)) {
        return;
    }
    char learned[AD_NODE_JOIN_MAX][AD_NODE_DIAL_MAX];
    size_t n = 0;
    /* a learned URL the link is on now stays: a plane left alone sends no
     * list, and the node must still find its way back to it */
    for (size_t j = w->njoin; j < w->nurls && n == 0; j++) {
        if (strcmp(w->urls[j], w->url) == 0) {
            memcpy(learned[n++], w->url, strlen(w->url) + 1);
        }
    }
    ad_buf_t said;
    ad_buf_init(&said, 4096); /* bounded: what does not fit is not said */
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        if (i == LEARN_LOOK_MAX) {
            refuse(w, &said, "(the rest of the list)", "more than 64 URLs sent");
            break;
        }
        const char *url = json_string_value(v);
        char dial[AD_NODE_DIAL_MAX], why[160];
        if (ad_node_plane_url(&w->allow, url, dial, sizeof(dial), why, sizeof(why)) != 0) {
            refuse(w, &said, url, why);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < w->njoin && !dup; j++) {
            dup = strcmp(w->urls[j], dial) == 0;
        }
        for (size_t j = 0; j < n && !dup; j++) {
            dup = strcmp(learned[j], dial) == 0;
        }
        if (dup) {
            continue;
        }
        if (w->njoin + n == AD_NODE_JOIN_MAX) {
            refuse(w, &said, url, "the dial list is full (8 URLs in all)");
            continue;
        }
        memcpy(learned[n++], dial, strlen(dial) + 1);
    }
    if (said.len > 0) {
        ad_log(AD_LOG_WARN, "node", "control plane URLs refused, never dialled refused=\"%.*s\"",
               (int)said.len, said.data);
    }
    ad_buf_cleanup(&said);
    bool same = w->nurls == w->njoin + n;
    for (size_t j = 0; j < n && same; j++) {
        same = strcmp(w->urls[w->njoin + j], learned[j]) == 0;
    }
    if (same) {
        return;
    }
    for (size_t j = 0; j < n; j++) {
        memcpy(w->urls[w->njoin + j], learned[j], strlen(learned[j]) + 1);
        ad_log(AD_LOG_INFO, "node", "control plane learned url=%s", learned[j]);
    }
    w->nurls = w->njoin + n;
    /* the link now keeps its place; one no longer listed moves on to the
     * first URL when it fails */
    w->cur = w->nurls - 1;
    for (size_t j = 0; j < w->nurls; j++) {
        if (strcmp(w->urls[j], w->url) == 0) {
            w->cur = j;
        }
    }
}

void ad_worker_moved(worker_t *w, json_t *msg)
{
    const char *url = json_string_value(json_object_get(msg, "url"));
    const char *plane = json_string_value(json_object_get(msg, "plane"));
    char dial[AD_NODE_DIAL_MAX], why[160], safe[128];
    log_safe(url != NULL ? url : "(not a string)", safe, sizeof(safe));
    if (ad_node_plane_url(&w->allow, url, dial, sizeof(dial), why, sizeof(why)) != 0) {
        ad_log(AD_LOG_ERROR, "node",
               "the control plane says this node's runs are another plane's, whose URL this node "
               "may not dial: staying url=\"%s\" why=\"%s\"",
               safe, why);
        return;
    }
    if (strcmp(dial, w->failed_url) == 0 && ad_mono_ms() - w->failed_ms < w->lease_ms) {
        ad_log(AD_LOG_INFO, "node", "not moving to a control plane whose link just failed url=%s",
               dial); /* it went; the plane here takes the runs when their lease lapses */
        return;
    }
    size_t at = w->nurls;
    for (size_t j = 0; j < w->nurls; j++) {
        at = strcmp(w->urls[j], dial) == 0 ? j : at;
    }
    if (at == w->nurls) { /* not learned yet: in the last learned place, or a new one */
        at = w->nurls < AD_NODE_JOIN_MAX ? w->nurls++ : AD_NODE_JOIN_MAX - 1;
        if (at < w->njoin) {
            ad_log(AD_LOG_ERROR, "node", "no room to learn url=%s: staying", dial);
            return;
        }
        memcpy(w->urls[at], dial, strlen(dial) + 1);
    }
    w->cur = at;
    snprintf(w->url, sizeof(w->url), "%s", w->urls[at]);
    ad_log(AD_LOG_INFO, "node",
           "moving to the control plane that owns this node's runs plane=%s "
           "url=%s",
           plane != NULL && ad_node_id_ok(plane) ? plane : "?", w->url);
    if (w->link != NULL) {
        ad_wsc_close(w->link, 1000, "moving to the plane that owns its runs");
    }
}
