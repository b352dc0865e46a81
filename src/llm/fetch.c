/* SPDX-License-Identifier: MIT */
/*
 * One plain, blocking HTTP request over the dlopened libcurl, for REST APIs
 * other than the models' (src/forge: pull requests). Pool threads only;
 * libcurl is loaded on the loop thread first (ad_llm_fetch_ready). Never
 * follows a redirect, http and https only: a token in a header goes to the
 * URL given and nowhere else. The error message is curl's, which never
 * carries a header.
 */
#include "llm/llm_int.h"
#include "llm/llm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool ad_llm_fetch_ready(char *err, size_t errsz)
{
    return ad_curl_get(err, errsz) != NULL;
}

static size_t on_write(char *p, size_t size, size_t n, void *ud)
{
    ad_buf_t *b = ud;
    size_t len = size * n;
    return ad_buf_append(b, p, len) == 0 ? len : 0; /* over the cap: curl stops */
}

/* One answer header line: the few ad_fetch_meta_t keeps. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    ad_fetch_meta_t *m = ud;
    size_t len = size * n;
    static const char *const names[] = {
        "location:", "retry-after:", "x-ratelimit-remaining:", "x-ratelimit-reset:"};
    for (size_t i = 0; i < AD_ARRAY_LEN(names); i++) {
        size_t nl = strlen(names[i]);
        if (len <= nl || strncasecmp(p, names[i], nl) != 0) {
            continue;
        }
        const char *v = p + nl;
        size_t vl = len - nl;
        while (vl > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) {
            vl--;
        }
        if (i == 0) {
            snprintf(m->location, sizeof(m->location), "%.*s", (int)vl, v);
        } else {
            char num[32];
            snprintf(num, sizeof(num), "%.*s", (int)(vl < 31 ? vl : 31), v);
            long x = strtol(num, NULL, 10);
            *(i == 1   ? &m->retry_after_s
              : i == 2 ? &m->ratelimit_remaining
                       : &m->ratelimit_reset) = x;
        }
    }
    return len;
}

int ad_llm_fetch(const ad_fetch_t *f, long *status, ad_buf_t *out, char *err, size_t errsz)
{
    const ad_curl_t *c = ad_curl_get(err, errsz);
    char ebuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *hs = NULL, *pin = NULL;
    *status = 0;
    if (c == NULL) {
        return AD_EIO;
    }
    CURL *e = c->easy_init();
    if (e == NULL) {
        snprintf(err, errsz, "cannot start an HTTP request");
        return AD_EIO;
    }
    for (size_t i = 0; f->headers != NULL && f->headers[i] != NULL; i++) {
        struct curl_slist *next = c->slist_append(hs, f->headers[i]);
        if (next != NULL) {
            hs = next;
        }
    }
    c->easy_setopt(e, CURLOPT_URL, f->url);
    c->easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    c->easy_setopt(e, CURLOPT_HTTPHEADER, hs);
    c->easy_setopt(e, CURLOPT_CUSTOMREQUEST, f->method);
    if (f->body != NULL) {
        c->easy_setopt(e, CURLOPT_POSTFIELDS, f->body);
        c->easy_setopt(e, CURLOPT_POSTFIELDSIZE,
                       (long)(f->body_len > 0 ? f->body_len : strlen(f->body)));
    }
    c->easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    c->easy_setopt(e, CURLOPT_WRITEDATA, out);
    c->easy_setopt(e, CURLOPT_ERRORBUFFER, ebuf);
    c->easy_setopt(e, CURLOPT_TIMEOUT_MS, f->timeout_ms > 0 ? f->timeout_ms : 30000L);
    c->easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    c->easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (f->meta != NULL) {
        memset(f->meta, 0, sizeof(*f->meta));
        f->meta->retry_after_s = f->meta->ratelimit_remaining = f->meta->ratelimit_reset = -1;
        c->easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        c->easy_setopt(e, CURLOPT_HEADERDATA, f->meta);
    }
    if (f->resolve != NULL) {
        /* the address the caller checked, so a second lookup cannot differ */
        pin = c->slist_append(NULL, f->resolve);
        c->easy_setopt(e, CURLOPT_RESOLVE, pin);
    }
    CURLcode rc = c->easy_perform(e);
    int ret = 0;
    if (rc != CURLE_OK) {
        snprintf(err, errsz, "%s", ebuf[0] != '\0' ? ebuf : c->easy_strerror(rc));
        ret = AD_EIO;
    } else {
        c->easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    }
    c->slist_free_all(hs);
    c->slist_free_all(pin);
    c->easy_cleanup(e);
    return ret;
}
