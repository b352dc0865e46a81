/* SPDX-License-Identifier: MIT */
/*
 * Static files from the embedded asset table (generated at build time by
 * tools/embed.c): lookup by exact path, the single-page-app fallback to
 * index.html, ETag / If-None-Match, precompressed gzip and cache headers.
 * A file gzip shrinks is embedded only gzipped (the binary's size): a
 * client that does not take gzip gets it inflated.
 * Lookups only ever hit the table, so no path can reach the file system.
 */
#include "http/http_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int cmp_asset(const void *key, const void *elem)
{
    return strcmp(key, ((const ad_asset_t *)elem)->path);
}

static const ad_asset_t *find(const char *path)
{
    if (ad_assets_count == 0) {
        return NULL;
    }
    return bsearch(path, ad_assets, ad_assets_count, sizeof(ad_asset_t), cmp_asset);
}

/* True when Accept-Encoding allows gzip (q > 0). */
static bool accepts_gzip(const char *ae)
{
    if (ae == NULL) {
        return false;
    }
    const char *p = ae;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t n = strcspn(p, ",");
        size_t tl = strcspn(p, ";, ");
        if ((tl == 4 && strncasecmp(p, "gzip", 4) == 0) || (tl == 1 && p[0] == '*')) {
            const char *q = memchr(p, ';', n);
            if (q == NULL) {
                return true;
            }
            q++;
            while (*q == ' ') {
                q++;
            }
            if (q[0] != 'q' || q[1] != '=') {
                return true;
            }
            q += 2;
            /* q=0, q=0.0, q=0.00 and q=0.000 refuse it */
            bool zero = q[0] == '0';
            for (const char *d = q + 1; zero && d < p + n && *d != ' '; d++) {
                if (*d != '.' && *d != '0') {
                    zero = false;
                }
            }
            return !zero;
        }
        p += n;
    }
    return false;
}

/* If-None-Match lists etag (or is "*"); weak comparison as RFC 9110 asks. */
static bool etag_matches(const char *inm, const char *etag)
{
    if (inm == NULL) {
        return false;
    }
    size_t el = strlen(etag);
    const char *p = inm;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        if (p[0] == '*') {
            return true;
        }
        if (p[0] == 'W' && p[1] == '/') {
            p += 2;
        }
        size_t n = strcspn(p, ", ");
        if (n == el && memcmp(p, etag, el) == 0) {
            return true;
        }
        p += n;
    }
    return false;
}

void ad_static_serve(ad_req_t *r)
{
    const char *path = ad_req_path(r);
    const ad_asset_t *a = NULL;
    if (strcmp(path, "/") != 0) {
        a = find(path);
    }
    if (a == NULL) {
        a = find("/index.html"); /* the app routes the rest itself */
    }
    if (a == NULL) {
        ad_res_error(r, 404, "NOT_FOUND", NULL, "no such file");
        return;
    }
    ad_res_header(r, "ETag", a->etag);
    ad_res_header(r, "Cache-Control",
                  a->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    if (a->gz != NULL) {
        ad_res_header(r, "Vary", "Accept-Encoding");
    }
    if (etag_matches(ad_req_header(r, "if-none-match"), a->etag)) {
        ad_res_send_ex(r, 304, NULL, NULL, 0, true);
        return;
    }
    if (a->gz != NULL && accepts_gzip(ad_req_header(r, "accept-encoding"))) {
        ad_res_header(r, "Content-Encoding", "gzip");
        ad_res_send_ex(r, 200, a->ctype, a->gz, a->gzlen, true);
        return;
    }
    if (a->data != NULL) {
        ad_res_send_ex(r, 200, a->ctype, a->data, a->len, true);
        return;
    }
    /* kept only gzipped: inflated into the request's arena for a client
     * that does not take gzip (curl without --compressed, a script) */
    void *raw = ad_arena_alloc(&r->arena, a->len > 0 ? a->len : 1);
    int rc = raw != NULL ? ad_gunzip(a->gz, a->gzlen, raw, a->len) : AD_ENOMEM;
    if (rc != 0) {
        ad_log(AD_LOG_ERROR, "http", "cannot inflate an embedded file path=%s error=%s", a->path,
               ad_strerror(rc));
        ad_res_error(r, 500, "INTERNAL", NULL, "cannot serve this file");
        return;
    }
    ad_res_send_ex(r, 200, a->ctype, raw, a->len, true);
}
