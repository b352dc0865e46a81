/* SPDX-License-Identifier: MIT */
/*
 * A request sent on to the control plane that owns its work (cluster.h,
 * issue #77). Several planes share one database and one set of accounts,
 * but an agent's run is held by one plane (its lease) and a node's link by
 * one plane: a start, stop, message, pause, resume or approval that reaches
 * another plane is sent on to the owner as it came (method, path and
 * query, body, the caller's credential) and answered with the owner's
 * answer, so a client may ask any plane.
 *
 * What an attacker could make of it: the request was checked here first
 * (token, scope, org, origin) and is checked again there, under the same
 * accounts; it goes only to a plane in the planes table that is live, at an
 * http(s) URL with no userinfo, never following a redirect (src/llm's
 * fetch); a request that says it was sent on already is never sent on
 * again (no loop between two planes), and one that carries no credential
 * is not sent at all (the caller is told which plane to ask).
 *
 * Threads: the decision and the answer on the loop thread; the request
 * itself on the libuv pool (a blocking libcurl call).
 */
#include "auth/auth.h"
#include "cluster/cluster.h"
#include "http/http.h"
#include "llm/llm.h"
#include "ws/ws.h"

#include <stdlib.h>
#include <string.h>

#define FORWARD_ANSWER_MAX (8u << 20) /* the owner's answer, at most */
#define FORWARD_TIMEOUT_MS 120000     /* a stop may wait for the agent's end */

bool ad_planes_was_forwarded(const ad_req_t *r)
{
    return ad_req_header(r, AD_PLANES_FORWARDED_HEADER) != NULL;
}

bool ad_planes_agent_owner(ad_planes_t *p, const char *agent_id, ad_store_plane_ref_t *to)
{
    int64_t now = (int64_t)ad_wall_ms();
    return p != NULL && agent_id != NULL && !ad_planes_alone(p) &&
           ad_store_agent_run_plane(ad_planes_store(p), ad_planes_self(p), agent_id, now,
                                    now - AD_PLANES_LEASE_MS, to) == 0;
}

/* ---- the request as it goes --------------------------------------------------------- */

/* s percent-encoded into b: what is not unreserved (RFC 3986), and '/'
 * kept when path. */
static int encode(ad_buf_t *b, const char *s, bool path)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *c = (const unsigned char *)s; rc == 0 && *c != '\0'; c++) {
        bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || strchr("-._~", *c) != NULL || (path && *c == '/');
        rc = plain ? ad_buf_putc(b, (char)*c)
                   : ad_buf_printf(b, "%%%c%c", hex[*c >> 4], hex[*c & 15]);
    }
    return rc;
}

/* The owner's URL for r: base, r's path and its query (but skip, when
 * not NULL), re-encoded. */
static char *target_url(const ad_req_t *r, const char *base, const char *skip)
{
    ad_buf_t b;
    ad_buf_init(&b, 16384);
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/') {
        bl--;
    }
    int rc = ad_buf_append(&b, base, bl);
    rc = rc != 0 ? rc : encode(&b, ad_req_path(r), true);
    const char *name, *value;
    unsigned n = 0;
    for (unsigned i = 0; rc == 0 && ad_req_query_at(r, i, &name, &value); i++) {
        if (skip != NULL && strcmp(name, skip) == 0) {
            continue;
        }
        rc = ad_buf_putc(&b, n++ == 0 ? '?' : '&');
        rc = rc != 0 ? rc : encode(&b, name, false);
        rc = rc != 0 ? rc : ad_buf_putc(&b, '=');
        rc = rc != 0 ? rc : encode(&b, value != NULL ? value : "", false);
    }
    if (rc != 0) {
        ad_buf_cleanup(&b);
        return NULL;
    }
    return ad_buf_detach(&b, NULL);
}

/* Whether url may carry a caller's credential: http(s), a host, no
 * userinfo, no control character or space. */
static bool url_ok(const char *url)
{
    const char *rest = strncmp(url, "http://", 7) == 0    ? url + 7
                       : strncmp(url, "https://", 8) == 0 ? url + 8
                                                          : NULL;
    if (rest == NULL || rest[0] == '\0' || rest[0] == '/') {
        return false;
    }
    size_t host = strcspn(rest, "/?#");
    if (memchr(rest, '@', host) != NULL) {
        return false;
    }
    for (const unsigned char *c = (const unsigned char *)url; *c != '\0'; c++) {
        if (*c <= ' ' || *c == 0x7f) {
            return false;
        }
    }
    return strlen(url) < 500;
}

typedef struct {
    uv_work_t work;
    ad_req_t *r;
    char plane[AD_ID_MAX];
    char *url, *method, *body;
    size_t body_len;
    char *hdr[6]; /* "Name: value", NULL-terminated */
    long status;
    ad_buf_t out;
    int rc;
    char err[256];
} fwd_t;

static void fwd_work(uv_work_t *w)
{
    fwd_t *f = w->data;
    ad_fetch_t q = {.method = f->method,
                    .url = f->url,
                    .headers = (const char *const *)f->hdr,
                    .body = f->body_len > 0 ? f->body : NULL,
                    .body_len = f->body_len,
                    .timeout_ms = FORWARD_TIMEOUT_MS};
    f->rc = ad_llm_fetch(&q, &f->status, &f->out, f->err, sizeof(f->err));
}

static void fwd_after(uv_work_t *w, int status)
{
    fwd_t *f = w->data;
    if (status != 0 || f->rc != 0 || f->status < 100 || f->status > 599) {
        ad_log(AD_LOG_WARN, "planes", "a request for plane %s could not be sent on: %s", f->plane,
               f->rc != 0 ? f->err : "no answer");
        ad_res_error(f->r, 502, "PLANE_UNREACHABLE", json_pack("{s:s}", "plane", f->plane),
                     "control plane %s holds this work and could not be reached: %s", f->plane,
                     f->rc != 0 ? f->err : "no answer");
    } else {
        ad_res_header(f->r, "X-Agentd-Answered-By", f->plane);
        ad_res_send(f->r, (int)f->status, "application/json", f->out.data, f->out.len);
    }
    ad_buf_cleanup(&f->out);
    for (size_t i = 0; f->hdr[i] != NULL; i++) {
        free(f->hdr[i]);
    }
    free(f->url);
    free(f->method);
    free(f->body);
    free(f);
}

/* "name: value" as the next header line of f. */
static void add_header(fwd_t *f, size_t *n, const char *name, const char *v)
{
    size_t len = strlen(name) + strlen(v) + 3;
    f->hdr[*n] = ad_xcalloc(1, len);
    snprintf(f->hdr[(*n)++], len, "%s: %s", name, v);
}

/* r's header name as a header line of f, when r has it. */
static void copy_header(fwd_t *f, size_t *n, const ad_req_t *r, const char *name)
{
    const char *v = ad_req_header(r, name);
    if (v != NULL && strpbrk(v, "\r\n") == NULL) {
        add_header(f, n, name, v);
    }
}

/* r's dashboard session as a header line of f, under the cookie name the
 * plane at url reads it by (libcurl names the port in Host unless it is
 * the scheme's own). */
static void add_session_cookie(fwd_t *f, size_t *n, const ad_req_t *r, const char *url)
{
    char token[4200], session[256], cookie[300];
    if (ad_auth_presented(r, token, sizeof(token), session, sizeof(session)) &&
        session[0] != '\0' &&
        ad_planes_session_cookie(url, false, session, cookie, sizeof(cookie)) == 0) {
        add_header(f, n, "Cookie", cookie);
    }
    memset(token, 0, sizeof(token));
    memset(session, 0, sizeof(session));
    memset(cookie, 0, sizeof(cookie));
}

/* r sent on to `to` as it came (its credential was checked by the
 * caller); answered with the owner's answer. */
static void send_on(ad_planes_t *p, ad_req_t *r, const ad_store_plane_ref_t *to)
{
    fwd_t *f = ad_xcalloc(1, sizeof(*f));
    f->r = r;
    snprintf(f->plane, sizeof(f->plane), "%s", to->id);
    f->url = target_url(r, to->url, NULL);
    f->method = ad_xstrdup(ad_req_method(r));
    size_t len = 0;
    const char *body = ad_req_body(r, &len);
    if (len > 0) {
        f->body = ad_xcalloc(1, len + 1);
        memcpy(f->body, body, len);
    }
    f->body_len = len;
    size_t n = 0;
    copy_header(f, &n, r, "authorization");
    add_session_cookie(f, &n, r, to->url);
    copy_header(f, &n, r, "content-type");
    add_header(f, &n, "X-Agentd-Forwarded-By", ad_planes_self(p));
    f->hdr[n] = NULL;
    ad_buf_init(&f->out, FORWARD_ANSWER_MAX);
    if (f->url == NULL) {
        f->rc = AD_ETOOBIG;
        snprintf(f->err, sizeof(f->err), "the request's address is too long");
        f->work.data = f;
        fwd_after(&f->work, 0);
        return;
    }
    ad_log(AD_LOG_INFO, "planes", "request sent on to the owning plane plane=%s %s %s", to->id,
           f->method, ad_req_path(r));
    f->work.data = f;
    uv_queue_work(ad_planes_loop(p), &f->work, fwd_work, fwd_after);
}

/* Sends r on to `to` unless it came sent on already (never a second run),
 * has no credential where one is needed, or `to` cannot be reached: then
 * 409 naming the plane. */
static void forward_or_409(ad_planes_t *p, ad_req_t *r, const ad_store_plane_ref_t *to,
                           bool needs_credential)
{
    char err[256] = "";
    bool credential =
        ad_req_header(r, "authorization") != NULL || ad_req_header(r, "cookie") != NULL;
    if (ad_planes_was_forwarded(r) || (needs_credential && !credential) || !url_ok(to->url) ||
        !ad_llm_fetch_ready(err, sizeof(err))) {
        ad_res_error(r, 409, "OWNED_ELSEWHERE",
                     json_pack("{s:s, s:s}", "plane", to->id, "url", to->url),
                     "control plane %s (%s) holds this work: ask that plane%s%s", to->id, to->url,
                     err[0] != '\0' ? " (" : "", err[0] != '\0' ? err : "");
        return;
    }
    send_on(p, r, to);
}

void ad_planes_forward(ad_planes_t *p, ad_req_t *r, const ad_store_plane_ref_t *to)
{
    forward_or_409(p, r, to, true);
}

/* ---- for a socket sent on (wsfwd.c) and a request whose credential is its body ---- */

bool ad_planes_url_ok(const char *url)
{
    return url != NULL && url_ok(url);
}

char *ad_planes_ws_url(const ad_req_t *r, const char *base)
{
    return target_url(r, base, "token"); /* the token goes as a header, never in a URL */
}

int ad_planes_session_cookie(const char *url, bool port_always, const char *value, char *out,
                             size_t outsz)
{
    bool tls = false;
    char host[256], port[8], path[1024];
    if (value == NULL || value[0] == '\0' || strpbrk(value, ";, \r\n") != NULL ||
        ad_wsc_parse_url(url, &tls, host, sizeof(host), port, sizeof(port), path, sizeof(path)) !=
            0) {
        return AD_EINVAL;
    }
    bool named = port_always || strcmp(port, tls ? "443" : "80") != 0;
    int n = snprintf(out, outsz, "%s%s%s=%s", AD_AUTH_COOKIE, named ? "_" : "", named ? port : "",
                     value);
    return n > 0 && (size_t)n < outsz ? 0 : AD_ETOOBIG;
}

void ad_planes_forward_bearing(ad_planes_t *p, ad_req_t *r, const ad_store_plane_ref_t *to)
{
    forward_or_409(p, r, to, false);
}
