/* SPDX-License-Identifier: MIT */
/*
 * In-process calls (ad_server_call): a route run from inside the daemon on
 * someone's behalf, through the same handler, access level and audit as
 * a request from a socket, its answer handed to a callback. The request
 * has no connection: ad_req_client_gone() is false for it, and a handler
 * that would take a connection over cannot (it answers 503 or 410).
 */
#include "http/http_int.h"

#include <string.h>

static unsigned method_id(const char *m)
{
    static const struct {
        const char *name;
        unsigned id;
    } ids[] = {{"GET", HTTP_GET},     {"POST", HTTP_POST},     {"PUT", HTTP_PUT},
               {"PATCH", HTTP_PATCH}, {"DELETE", HTTP_DELETE}, {"HEAD", HTTP_HEAD}};
    for (size_t i = 0; i < AD_ARRAY_LEN(ids); i++) {
        if (strcmp(ids[i].name, m) == 0) {
            return ids[i].id;
        }
    }
    return HTTP_GET;
}

/* r's method, path and query from call; false for a target that is not
 * an absolute path or does not decode. */
static bool fill(ad_req_t *r, const ad_http_call_t *call)
{
    const char *t = call->target;
    if (t == NULL || t[0] != '/') {
        return false;
    }
    size_t tl = strlen(t);
    r->url = ad_arena_alloc(&r->arena, tl + 1);
    if (r->url == NULL) {
        return false;
    }
    memcpy(r->url, t, tl + 1);
    r->url_len = tl;
    const char *q = strchr(r->url, '?');
    size_t plen = q != NULL ? (size_t)(q - r->url) : tl;
    r->path = ad_arena_alloc(&r->arena, plen + 1);
    if (r->path == NULL || ad_pct_decode(r->url, plen, r->path, false) < 0) {
        return false;
    }
    r->query = q != NULL ? (char *)q + 1 : NULL;
    r->method_id = method_id(call->method);
    r->method = http_method_str((enum http_method)r->method_id);
    r->head = r->method_id == HTTP_HEAD;
    if (call->body != NULL && call->len > 0) {
        r->hdrs = ad_arena_alloc(&r->arena, sizeof(ad_kv_t));
        if (r->hdrs == NULL || ad_buf_append(&r->body, call->body, call->len) != 0) {
            return false;
        }
        r->hdrs[0].name = (char *)"Content-Type";
        r->hdrs[0].value = (char *)"application/json";
        r->nhdrs = r->hdr_cap = 1;
    }
    return true;
}

void ad_server_call(ad_server_t *s, const ad_http_call_t *call, ad_http_call_cb cb, void *ud)
{
    AD_ASSERT_LOOP();
    ad_req_t *r = ad_http_req_get(s);
    r->call_cb = cb;
    r->call_ud = ud;
    r->call_peer = call->peer;
    r->auth = call->auth;
    r->headers_done = true;
    if (!fill(r, call)) {
        ad_res_error(r, 400, "BAD_REQUEST", NULL, "not a request agentd can run");
        return;
    }
    char allow[96];
    size_t alen = 0;
    allow[0] = '\0';
    r->route = ad_http_find_route(s, r, allow, sizeof(allow), &alen);
    if (r->route == NULL) {
        ad_res_error(r, alen > 0 ? 405 : 404, alen > 0 ? "METHOD_NOT_ALLOWED" : "NOT_FOUND", NULL,
                     "no route for %s %s", r->method, r->path);
        return;
    }
    if ((int)r->route->access > (int)call->access) {
        ad_res_error(r, 403, "FORBIDDEN", NULL, "the caller's access does not allow this");
        return;
    }
    r->route->cb(r, r->route->ud);
}

bool ad_server_route_access_of(ad_server_t *s, const char *method, const char *path,
                               ad_access_t *out)
{
    AD_ASSERT_LOOP();
    ad_req_t *r = ad_http_req_get(s);
    ad_http_call_t call = {.method = method, .target = path};
    char allow[96];
    size_t alen = 0;
    allow[0] = '\0';
    const ad_route_t *rt =
        fill(r, &call) ? ad_http_find_route(s, r, allow, sizeof(allow), &alen) : NULL;
    if (rt != NULL) {
        *out = rt->access;
    }
    bool found = rt != NULL;
    ad_http_req_put(r);
    return found;
}
