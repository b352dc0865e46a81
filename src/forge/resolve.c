/* SPDX-License-Identifier: MIT */
/*
 * forge: which forge a git remote URL points at, and the setting that maps
 * self-hosted remotes to their API base (forge_hosts). Pure string work.
 */
#include "forge/forge.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define HOSTS_MAX 64

static const char *const kinds[] = {"github", "gitlab", "gitea"};

const char *ad_forge_kind_name(ad_forge_kind_t k)
{
    return (size_t)k < AD_ARRAY_LEN(kinds) ? kinds[k] : "github";
}

static int kind_of(const char *s, ad_forge_kind_t *out)
{
    for (size_t i = 0; s != NULL && i < AD_ARRAY_LEN(kinds); i++) {
        if (strcmp(s, kinds[i]) == 0) {
            *out = (ad_forge_kind_t)i;
            return 0;
        }
    }
    return AD_EINVAL;
}

static bool http_url(const char *u)
{
    return u != NULL && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
           strlen(u) < 500 && strpbrk(u, " \t\r\n@?#") == NULL;
}

int ad_forge_hosts_validate(json_t *hosts, const char **why)
{
    const char *prefix;
    json_t *v;
    ad_forge_kind_t k;
    if (!json_is_object(hosts) || json_object_size(hosts) > HOSTS_MAX) {
        *why = "must be an object {\"<remote URL prefix>\": {kind, apiBase}} of at most 64 entries";
        return AD_EINVAL;
    }
    json_object_foreach(hosts, prefix, v)
    {
        size_t n = strlen(prefix);
        if (n < 2 || n > 500 || (prefix[n - 1] != '/' && prefix[n - 1] != ':') ||
            strpbrk(prefix, " \t\r\n") != NULL || (strstr(prefix, "://") && strchr(prefix, '@'))) {
            *why = "each key is a remote URL prefix ending in '/' or ':', without user info";
            return AD_EINVAL;
        }
        if (!json_is_object(v) || kind_of(json_string_value(json_object_get(v, "kind")), &k) != 0) {
            *why = "each entry's kind must be one of github,gitlab,gitea";
            return AD_EINVAL;
        }
        if (!http_url(json_string_value(json_object_get(v, "apiBase")))) {
            *why = "each entry's apiBase must be an http:// or https:// URL";
            return AD_EINVAL;
        }
    }
    return 0;
}

/* remote without user info ("https://u:p@h/x" -> "https://h/x"), and where
 * its host and path are within it. local: no host (a path or file://). */
static void split_url(const char *url, char *clean, size_t cleansz, char *host, size_t hostsz,
                      const char **path)
{
    const char *s = strstr(url, "://");
    host[0] = '\0';
    if (s != NULL) {
        const char *auth = s + 3, *end = auth + strcspn(auth, "/");
        const char *at = memchr(auth, '@', (size_t)(end - auth));
        const char *h = at != NULL ? at + 1 : auth;
        snprintf(clean, cleansz, "%.*s%s", (int)(auth - url), url, h);
        size_t hl = strcspn(h, ":/");
        snprintf(host, hostsz, "%.*s", (int)hl, h);
        if (strncmp(url, "file://", 7) == 0) {
            host[0] = '\0';
        }
    } else {
        snprintf(clean, cleansz, "%s", url);
        const char *colon = strchr(url, ':'), *slash = strchr(url, '/');
        if (colon != NULL && (slash == NULL || colon < slash)) { /* scp-like user@host:path */
            const char *at = memchr(url, '@', (size_t)(colon - url));
            const char *h = at != NULL ? at + 1 : url;
            snprintf(host, hostsz, "%.*s", (int)(colon - h), h);
        }
    }
    *path = clean;
    if (s != NULL) { /* after the authority, or the whole path of file:// */
        const char *p = strstr(clean, "://") + 3;
        p += strcspn(p, "/");
        *path = *p == '/' && host[0] != '\0' ? p + 1 : p;
    } else if (host[0] != '\0') {
        *path = strchr(clean, ':') + 1;
    }
}

static bool segment_ok(const char *s, size_t n)
{
    if (n == 0 || n > 100 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            return false;
        }
    }
    return true;
}

/* path "owner/repo(.git)(/)" into out; gitlab allows groups before. */
static int owner_repo(const char *path, ad_forge_target_t *out, char *why, size_t whysz)
{
    char p[600];
    if (strlen(path) >= sizeof(p)) { /* cut, it would name another repository */
        snprintf(why, whysz, "the remote's path is too long");
        return AD_EINVAL;
    }
    memcpy(p, path, strlen(path) + 1);
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '/') {
        p[--n] = '\0';
    }
    if (n > 4 && strcmp(p + n - 4, ".git") == 0) {
        p[n -= 4] = '\0';
    }
    char *last = strrchr(p, '/');
    int segs = 1;
    for (const char *q = p; *q != '\0'; q++) {
        segs += *q == '/';
    }
    bool ok = last != NULL && (segs == 2 || (out->kind == AD_FORGE_GITLAB && segs <= 20));
    for (const char *q = p; ok && *q != '\0';) {
        size_t len = strcspn(q, "/");
        ok = segment_ok(q, len);
        q += len + (q[len] == '/');
    }
    if (!ok || (size_t)(last - p) >= sizeof(out->owner) || strlen(last + 1) >= sizeof(out->repo)) {
        snprintf(why, whysz, "the remote does not name an owner and a repository");
        return AD_EINVAL;
    }
    snprintf(out->owner, sizeof(out->owner), "%.*s", (int)(last - p), p);
    snprintf(out->repo, sizeof(out->repo), "%s", last + 1);
    return 0;
}

/* The longest forge_hosts prefix clean starts with, or NULL. */
static json_t *hosts_match(json_t *hosts, const char *clean, size_t *plen)
{
    const char *prefix;
    json_t *v, *best = NULL;
    *plen = 0;
    json_object_foreach(hosts, prefix, v)
    {
        size_t n = strlen(prefix);
        if (n > *plen && strncmp(clean, prefix, n) == 0) {
            best = v;
            *plen = n;
        }
    }
    return best;
}

int ad_forge_resolve(const char *remote_url, json_t *hosts, ad_forge_target_t *out, char *why,
                     size_t whysz)
{
    char clean[1024], host[256];
    const char *path;
    size_t plen;
    memset(out, 0, sizeof(*out));
    if (remote_url == NULL || strlen(remote_url) >= sizeof(clean)) {
        snprintf(why, whysz, "the remote has no usable URL");
        return AD_ENOENT;
    }
    split_url(remote_url, clean, sizeof(clean), host, sizeof(host), &path);
    json_t *m = json_is_object(hosts) ? hosts_match(hosts, clean, &plen) : NULL;
    if (m != NULL && kind_of(json_string_value(json_object_get(m, "kind")), &out->kind) == 0 &&
        http_url(json_string_value(json_object_get(m, "apiBase")))) {
        snprintf(out->api_base, sizeof(out->api_base), "%s",
                 json_string_value(json_object_get(m, "apiBase")));
        path = clean + plen;
    } else if (strcasecmp(host, "github.com") == 0) {
        out->kind = AD_FORGE_GITHUB;
        snprintf(out->api_base, sizeof(out->api_base), "https://api.github.com");
    } else if (strcasecmp(host, "gitlab.com") == 0) {
        out->kind = AD_FORGE_GITLAB;
        snprintf(out->api_base, sizeof(out->api_base), "https://gitlab.com/api/v4");
    } else {
        snprintf(why, whysz,
                 "no forge is known for this remote; an admin maps it in the setting forge_hosts");
        return AD_ENOENT;
    }
    size_t n = strlen(out->api_base);
    while (n > 0 && out->api_base[n - 1] == '/') {
        out->api_base[--n] = '\0';
    }
    return owner_repo(path, out, why, whysz);
}

void ad_forge_target_of(json_t *row, ad_forge_target_t *out)
{
    memset(out, 0, sizeof(*out));
    (void)kind_of(json_string_value(json_object_get(row, "forge")), &out->kind);
    const char *base = json_string_value(json_object_get(row, "apiBase"));
    const char *owner = json_string_value(json_object_get(row, "owner"));
    const char *repo = json_string_value(json_object_get(row, "repo"));
    snprintf(out->api_base, sizeof(out->api_base), "%s", base != NULL ? base : "");
    snprintf(out->owner, sizeof(out->owner), "%s", owner != NULL ? owner : "");
    snprintf(out->repo, sizeof(out->repo), "%s", repo != NULL ? repo : "");
}
