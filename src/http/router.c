/* SPDX-License-Identifier: MIT */
/*
 * Routing: the route table (registration), patterns compiled into
 * segments, matching with ":name" parameters, dispatch to the handler with
 * 404/405/OPTIONS answered here, percent-decoding and query strings. The
 * matching pieces are pure functions over strings and an arena, so they are
 * easy to test and fuzz.
 */
#include "http/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ad_route_compile(ad_route_t *rt, const char *method, const char *pattern)
{
    if (strlen(method) >= sizeof(rt->method) || pattern[0] != '/') {
        return AD_EINVAL;
    }
    memcpy(rt->method, method, strlen(method) + 1);
    rt->pattern = ad_xstrdup(pattern);
    rt->nsegs = 0;
    const char *p = pattern + 1;
    while (*p != '\0') {
        const char *e = strchr(p, '/');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
        if (rt->nsegs == AD_ROUTE_MAX_SEGS) {
            ad_route_cleanup(rt);
            return AD_EINVAL;
        }
        rt->segs[rt->nsegs++] = ad_xstrndup(p, n);
        if (e == NULL) {
            break;
        }
        p = e + 1;
        if (*p == '\0') {
            rt->segs[rt->nsegs++] = ad_xstrdup(""); /* trailing slash */
            break;
        }
    }
    unsigned nparams = 0;
    for (unsigned i = 0; i < rt->nsegs; i++) {
        if (rt->segs[i][0] == ':') {
            nparams++;
        }
    }
    if (nparams > AD_ROUTE_MAX_PARAMS) {
        ad_route_cleanup(rt);
        return AD_EINVAL;
    }
    return 0;
}

void ad_route_cleanup(ad_route_t *rt)
{
    for (unsigned i = 0; i < rt->nsegs; i++) {
        free(rt->segs[i]);
    }
    rt->nsegs = 0;
    free(rt->pattern);
    rt->pattern = NULL;
    free(rt->upgrade);
    rt->upgrade = NULL;
}

int ad_route_match(const ad_route_t *rt, const char *path, ad_arena_t *a, ad_kv_t *params,
                   unsigned *nparams)
{
    *nparams = 0;
    if (path[0] != '/') {
        return 0;
    }
    /* Match first, copy parameter values only for a full match, so trying
     * the routes that do not match costs no arena memory. */
    const char *pv[AD_ROUTE_MAX_PARAMS];
    size_t pl[AD_ROUTE_MAX_PARAMS];
    const char *pn[AD_ROUTE_MAX_PARAMS];
    unsigned np = 0;
    const char *p = path + 1;
    unsigned i = 0;
    if (*p == '\0') {
        return rt->nsegs == 0 ? 1 : 0; /* "/" has no segments */
    }
    for (;;) {
        const char *e = strchr(p, '/');
        size_t n = e != NULL ? (size_t)(e - p) : strlen(p);
        if (i == rt->nsegs) {
            return 0;
        }
        const char *seg = rt->segs[i];
        if (seg[0] == ':') {
            if (n == 0 || np == AD_ROUTE_MAX_PARAMS) {
                return 0; /* a parameter is never empty */
            }
            pn[np] = seg + 1;
            pv[np] = p;
            pl[np] = n;
            np++;
        } else if (strlen(seg) != n || memcmp(seg, p, n) != 0) {
            return 0;
        }
        i++;
        if (e == NULL) {
            break;
        }
        p = e + 1;
        if (*p == '\0') {
            /* trailing slash: matches a pattern with one too */
            if (i + 1 != rt->nsegs || rt->segs[i][0] != '\0') {
                return 0;
            }
            i++;
            break;
        }
    }
    if (i != rt->nsegs) {
        return 0;
    }
    for (unsigned k = 0; k < np; k++) {
        char *v = ad_arena_strndup(a, pv[k], pl[k]);
        if (v == NULL) {
            return AD_ENOMEM;
        }
        params[k].name = (char *)pn[k];
        params[k].value = v;
    }
    *nparams = np;
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

ssize_t ad_pct_decode(const char *s, size_t n, char *out, bool plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            if (i + 2 >= n) {
                return -1;
            }
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            ch = (char)(hi * 16 + lo);
            i += 2;
            if (ch == '\0') {
                return -1;
            }
        } else if (ch == '+' && plus_space) {
            ch = ' ';
        } else if (ch == '\0') {
            return -1;
        }
        out[o++] = ch;
    }
    out[o] = '\0';
    return (ssize_t)o;
}

int ad_query_parse(const char *q, ad_arena_t *a, ad_kv_t **out, unsigned max)
{
    unsigned count = 0;
    for (const char *p = q; *p != '\0'; p++) {
        if (*p == '&') {
            count++;
        }
    }
    count++;
    if (count > max) {
        count = max;
    }
    ad_kv_t *kv = ad_arena_alloc(a, count * sizeof(*kv));
    if (kv == NULL) {
        return AD_ENOMEM;
    }
    unsigned n = 0;
    const char *p = q;
    while (*p != '\0' && n < count) {
        size_t len = strcspn(p, "&");
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t kl = eq != NULL ? (size_t)(eq - p) : len;
            size_t vl = eq != NULL ? len - kl - 1 : 0;
            char *k = ad_arena_alloc(a, kl + 1);
            char *v = ad_arena_alloc(a, vl + 1);
            if (k == NULL || v == NULL) {
                return AD_ENOMEM;
            }
            /* A pair with a bad escape is skipped rather than failing the
             * whole request. */
            if (ad_pct_decode(p, kl, k, true) >= 0 &&
                ad_pct_decode(eq != NULL ? eq + 1 : "", vl, v, true) >= 0) {
                kv[n].name = k;
                kv[n].value = v;
                n++;
            }
        }
        p += len;
        if (*p == '&') {
            p++;
        }
    }
    *out = kv;
    return (int)n;
}

/* ---- the route table and dispatch ------------------------------------------- */

/* Adds method to the comma-separated Allow list, once. */
static void allow_add(char *allow, size_t cap, size_t *alen, const char *method)
{
    size_t ml = strlen(method);
    for (const char *a = allow; *a != '\0';) {
        const char *e = strchr(a, ',');
        size_t l = e != NULL ? (size_t)(e - a) : strlen(a);
        if (l == ml && memcmp(a, method, ml) == 0) {
            return;
        }
        a = e != NULL ? e + 2 : a + l;
    }
    if (*alen + ml + 3 < cap) {
        if (*alen > 0) {
            memcpy(allow + *alen, ", ", 2);
            *alen += 2;
        }
        memcpy(allow + *alen, method, ml);
        *alen += ml;
        allow[*alen] = '\0';
    }
}

/* r asks to switch to protocol. */
static bool upgrade_to(const ad_req_t *r, const char *protocol)
{
    return r->upgrade && ad_http_has_token(ad_req_header(r, "upgrade"), protocol);
}

const ad_route_t *ad_http_find_route(ad_server_t *s, ad_req_t *r, char *allow, size_t cap,
                                     size_t *alen)
{
    const ad_route_t *head_fallback = NULL;
    for (size_t i = 0; i < s->nroutes; i++) {
        const ad_route_t *rt = &s->routes[i];
        if (rt->upgrade != NULL && !upgrade_to(r, rt->upgrade)) {
            continue; /* not there for this request at all: no 405 either */
        }
        unsigned np = 0;
        ad_kv_t params[AD_ROUTE_MAX_PARAMS];
        if (ad_route_match(rt, r->path, &r->arena, params, &np) <= 0) {
            continue;
        }
        bool same = strcmp(rt->method, r->method) == 0;
        if (same || (r->head && head_fallback == NULL && strcmp(rt->method, "GET") == 0)) {
            memcpy(r->params, params, np * sizeof(params[0]));
            r->nparams = np;
            if (same) {
                return rt;
            }
            head_fallback = rt;
        }
        allow_add(allow, cap, alen, rt->method);
    }
    return head_fallback;
}

/* A path under the server's dialect prefix (ad_server_set_dialect) is the
 * route of the same name without it, marked so its answer is rewritten.
 * Done once, whether the route is matched before the body or after it. */
static void strip_dialect(const ad_server_t *s, ad_req_t *r)
{
    if (r->dialect || s->dialect == NULL) {
        return;
    }
    size_t pl = strlen(s->dialect_prefix);
    if (strncmp(r->path, s->dialect_prefix, pl) == 0 && r->path[pl] == '/') {
        r->path += pl; /* the arena keeps the whole string */
        r->dialect = true;
    }
}

ad_access_t ad_http_route_access(ad_server_t *s, ad_req_t *r)
{
    char allow[96];
    size_t alen = 0;
    strip_dialect(s, r);
    r->route = ad_http_find_route(s, r, allow, sizeof(allow), &alen);
    return r->route != NULL ? r->route->access : AD_ACCESS_PUBLIC;
}

/* The path exists with other methods: 204 for OPTIONS (a CORS preflight
 * too), else 405, both with Allow. */
static void answer_other_method(ad_req_t *r, char *allow, size_t cap, size_t alen)
{
    if (strstr(allow, "GET") != NULL && alen + 6 < cap) {
        memcpy(allow + alen, ", HEAD", 7);
        alen += 6;
    }
    if (alen + 9 < cap) {
        memcpy(allow + alen, ", OPTIONS", 10);
        alen += 9;
    }
    ad_res_header(r, "Allow", allow);
    if (r->method_id == HTTP_OPTIONS) {
        if (r->cors) {
            ad_res_header(r, "Access-Control-Allow-Methods", allow);
            const char *rh = ad_req_header(r, "access-control-request-headers");
            ad_res_header(r, "Access-Control-Allow-Headers",
                          rh != NULL ? rh : "Content-Type, Authorization");
            ad_res_header(r, "Access-Control-Max-Age", "600");
        }
        ad_res_send(r, 204, NULL, NULL, 0);
        return;
    }
    ad_res_error(r, 405, "METHOD_NOT_ALLOWED", NULL, "method %s is not allowed here", r->method);
}

/* The database is unreachable and the route needs it: answered 503. */
static bool refused_for_database(ad_server_t *s, ad_req_t *r, const ad_route_t *rt)
{
    if (s->down == NULL || rt->access == AD_ACCESS_PUBLIC || rt->upgrade != NULL || r->upgrade) {
        return false;
    }
    for (const char *const *e = s->down_exempt; e != NULL && *e != NULL; e++) {
        if (strcmp(*e, rt->pattern) == 0) {
            return false;
        }
    }
    char why[256];
    if (!s->down(s->down_ud, why, sizeof(why))) {
        return false;
    }
    ad_res_header(r, "Retry-After", "5");
    ad_res_error(r, 503, "DATABASE_UNAVAILABLE", NULL, "the database is unreachable: %s", why);
    return true;
}

void ad_http_route_request(ad_server_t *s, ad_req_t *r)
{
    char allow[96];
    size_t alen = 0;
    allow[0] = '\0';
    strip_dialect(s, r);
    /* a request with a body was matched before it (ad_http_route_access) */
    const ad_route_t *found =
        r->route != NULL ? r->route : ad_http_find_route(s, r, allow, sizeof(allow), &alen);
    r->route = found;
    /* a connection past the caps for those without a credential: this
     * request shows one, or the connection ends with its answer */
    bool ka = r->keep_alive, prob = r->conn != NULL && r->conn->probation;
    r->keep_alive = ka && !prob;
    if (s->guard != NULL && s->guard->check != NULL &&
        !s->guard->check(s->guard_ud, r, found != NULL ? found->access : AD_ACCESS_PUBLIC)) {
        return; /* refused, answered by the guard */
    }
    if (!r->conn->is_pipe && !ad_http_caps_conn_cred(r->conn, r->auth)) {
        r->keep_alive = false; /* not counted: it must not stay open */
        ad_res_header(r, "Retry-After", "10");
        ad_res_error(r, 429, "RATE_LIMITED", NULL,
                     "this token has too many connections open (--max-connections-per-token)");
        return;
    }
    if (ad_http_caps_probation_refused(r)) {
        return;
    }
    r->keep_alive = ka;
    int64_t retry = 0;
    if (r->body.len > 0 && !r->conn->is_pipe &&
        !ad_http_caps_body_take(s, r->auth, r->body.len, &retry)) {
        char ra[24];
        snprintf(ra, sizeof(ra), "%lld", (long long)retry);
        ad_res_header(r, "Retry-After", ra);
        ad_res_error(r, 429, "RATE_LIMITED", NULL,
                     "this token's request bodies per minute are used up "
                     "(--max-body-bytes-per-minute); retry in %lld s",
                     (long long)retry);
        return;
    }
    if (r->upgrade && found != NULL && !r->conn->is_pipe && ad_http_caps_ws_full(s, r->auth)) {
        ad_res_header(r, "Retry-After", "10");
        ad_res_error(r, 429, "RATE_LIMITED", NULL,
                     "this token has too many WebSockets open (--max-websockets-per-token)");
        return;
    }
    if (found != NULL && refused_for_database(s, r, found)) {
        return;
    }
    if (found != NULL) {
        found->cb(r, found->ud);
        return;
    }
    if (alen > 0) {
        answer_other_method(r, allow, sizeof(allow), alen);
        return;
    }
    const char *p = r->path;
    bool api = strncmp(p, "/api/", 5) == 0 || strcmp(p, "/api") == 0;
    bool ws = strncmp(p, "/ws/", 4) == 0 || strcmp(p, "/ws") == 0;
    if ((r->method_id == HTTP_GET || r->head) && !api && !ws) {
        ad_static_serve(r);
        return;
    }
    ad_res_error(r, 404, "NOT_FOUND", NULL, "no route for %s %s", r->method, r->path);
}

static ad_route_t *route_add(ad_server_t *s, const char *method, const char *pattern,
                             ad_access_t access, ad_handler_cb cb, void *ud)
{
    if (s->nroutes == s->routes_cap) {
        s->routes_cap = s->routes_cap ? s->routes_cap * 2 : 32;
        s->routes = ad_xrealloc(s->routes, s->routes_cap * sizeof(ad_route_t));
    }
    ad_route_t *rt = &s->routes[s->nroutes];
    memset(rt, 0, sizeof(*rt));
    if (ad_route_compile(rt, method, pattern) != 0) {
        AD_BUG("invalid route %s %s", method, pattern);
    }
    rt->access = access;
    rt->cb = cb;
    rt->ud = ud;
    s->nroutes++;
    return rt;
}

void ad_server_route(ad_server_t *s, const char *method, const char *pattern, ad_access_t access,
                     ad_handler_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    route_add(s, method, pattern, access, cb, ud);
}

void ad_server_route_upgrade(ad_server_t *s, const char *pattern, const char *protocol,
                             ad_access_t access, ad_handler_cb cb, void *ud)
{
    route_add(s, "GET", pattern, access, cb, ud)->upgrade = ad_xstrdup(protocol);
}

void ad_server_routes_each(const ad_server_t *s,
                           void (*fn)(const char *method, const char *pattern, ad_access_t access,
                                      const char *upgrade, void *ud),
                           void *ud)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        const ad_route_t *rt = &s->routes[i];
        fn(rt->method, rt->pattern, rt->access, rt->upgrade, ud);
    }
}

void ad_http_count(ad_http_counts_t *c, int status)
{
    for (size_t i = 0; i < AD_HTTP_STATUSES - 1; i++) {
        if (c->status[i] == status || c->status[i] == 0) {
            c->status[i] = (uint16_t)status;
            c->count[i]++;
            return;
        }
    }
    c->count[AD_HTTP_STATUSES - 1]++;
}

static void counts_each(const ad_http_counts_t *c, const char *method, const char *pattern,
                        ad_server_count_fn fn, void *ud)
{
    for (size_t i = 0; i < AD_HTTP_STATUSES; i++) {
        if (c->count[i] > 0) {
            fn(method, pattern, i < AD_HTTP_STATUSES - 1 ? c->status[i] : 0, c->count[i], ud);
        }
    }
}

void ad_server_counts_each(const ad_server_t *s, ad_server_count_fn fn, void *ud)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        counts_each(&s->routes[i].counts, s->routes[i].method, s->routes[i].pattern, fn, ud);
    }
    counts_each(&s->unrouted, "", "", fn, ud);
}

void ad_server_set_guard(ad_server_t *s, const ad_guard_t *ops, void *ud)
{
    s->guard = ops;
    s->guard_ud = ud;
}

void ad_server_set_dialect(ad_server_t *s, const char *prefix, ad_dialect_fn fn, void *ud)
{
    snprintf(s->dialect_prefix, sizeof(s->dialect_prefix), "%s", prefix);
    s->dialect = fn;
    s->dialect_ud = ud;
}

void ad_server_set_down(ad_server_t *s, ad_server_down_fn fn, void *ud, const char *const *exempt)
{
    s->down = fn;
    s->down_ud = ud;
    s->down_exempt = exempt;
}

void ad_server_set_damaged(ad_server_t *s, ad_server_down_fn fn, void *ud)
{
    s->damaged = fn;
    s->damaged_ud = ud;
}

bool ad_req_dialect(const ad_req_t *r)
{
    return r->dialect;
}

void ad_server_own(ad_server_t *s, void *p)
{
    s->owned = ad_xrealloc(s->owned, (s->nowned + 1) * sizeof(void *));
    s->owned[s->nowned++] = p;
}
