/* SPDX-License-Identifier: MIT */
/*
 * The WebSocket opening handshake (RFC 6455 section 4.2): the upgrade
 * request checked, a subprotocol and permessage-deflate picked, the 101
 * answered, the path params and query pairs kept; then ws.c takes the
 * connection over (ad_ws_start). And the routes that lead here.
 */
#include "ws_int.h"

#include <string.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int ad_ws_accept_key(const char *key, char out[29])
{
    size_t kl = strlen(key);
    uint8_t raw[18];
    /* The key is base64 of 16 random bytes (RFC 6455 §4.1). */
    if (kl != 24 || ad_base64_decode(key, kl, raw, sizeof(raw)) != 16) {
        return AD_EINVAL;
    }
    char buf[24 + sizeof(WS_GUID)];
    memcpy(buf, key, 24);
    memcpy(buf + 24, WS_GUID, sizeof(WS_GUID));
    uint8_t sha[20];
    ad_sha1(buf, 24 + sizeof(WS_GUID) - 1, sha);
    ad_base64_encode(sha, sizeof(sha), out, 29);
    return 0;
}

static const char *pick_protocol(const ad_ws_route_t *rt, const char *offered, char *out,
                                 size_t outsz)
{
    if (offered == NULL || rt->nprotocols == 0) {
        return NULL;
    }
    /* One value that is none of the route's on a route that takes "bearer":
     * the credential itself (new WebSocket(url, token)). A browser fails a
     * handshake whose answer names no protocol it offered, so it is named
     * back; the guard has decided on it already. Tokens are 32 characters
     * or more; shorter values are protocol names. */
    const char *one = offered + strspn(offered, " \t");
    size_t onelen = strcspn(one, ", \t");
    bool single = onelen > 0 && one[onelen + strspn(one + onelen, " \t")] == '\0';
    bool bearer = false;
    for (size_t i = 0; i < rt->nprotocols; i++) {
        bearer = bearer || strcmp(rt->protocols[i], "bearer") == 0;
    }
    if (single && bearer && onelen >= 32 && onelen < outsz) {
        memcpy(out, one, onelen);
        out[onelen] = '\0';
        return out;
    }
    const char *p = offered;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        size_t n = strcspn(p, ", \t");
        for (size_t i = 0; i < rt->nprotocols; i++) {
            if (strlen(rt->protocols[i]) == n && memcmp(rt->protocols[i], p, n) == 0 && n < outsz) {
                memcpy(out, p, n);
                out[n] = '\0';
                return out;
            }
        }
        p += n;
    }
    return NULL;
}

/* Checks the upgrade request's headers; answers 426/400 itself. Returns
 * true when the handshake may go on, with the accept key in accept. */
static bool handshake_ok(ad_req_t *r, char accept[29])
{
    const char *upgrade = ad_req_header(r, "upgrade");
    const char *connection = ad_req_header(r, "connection");
    if (!ad_http_has_token(upgrade, "websocket") || !ad_http_has_token(connection, "upgrade") ||
        !ad_req_is_upgrade(r)) {
        ad_res_header(r, "Upgrade", "websocket");
        ad_res_header(r, "Sec-WebSocket-Version", "13");
        ad_res_error(r, 426, "UPGRADE_REQUIRED", NULL, "this endpoint speaks WebSocket only");
        return false;
    }
    const char *version = ad_req_header(r, "sec-websocket-version");
    if (version == NULL || strcmp(version, "13") != 0) {
        ad_res_header(r, "Sec-WebSocket-Version", "13");
        ad_res_error(r, 426, "UPGRADE_REQUIRED", NULL, "unsupported WebSocket version");
        return false;
    }
    const char *key = ad_req_header(r, "sec-websocket-key");
    if (key == NULL || ad_ws_accept_key(key, accept) != 0) {
        ad_res_error(r, 400, "BAD_REQUEST", NULL, "missing or invalid Sec-WebSocket-Key");
        return false;
    }
    if (!ad_req_can_take_over(r)) {
        ad_res_error(r, 503, "UNAVAILABLE", NULL, "cannot upgrade this connection now");
        return false;
    }
    return true;
}

/* Keeps the path params and query pairs: the request is gone after the 101. */
static void keep_params(ad_ws_t *ws, ad_req_t *r)
{
    const char *name;
    const char *value;
    unsigned np = 0;
    unsigned nq = 0;
    while (ad_req_param_at(r, np, &name, &value)) {
        np++;
    }
    while (ad_req_query_at(r, nq, &name, &value)) {
        nq++;
    }
    ws->nparams = np;
    ws->nkv = np + nq;
    ws->kv = ad_xcalloc(ws->nkv ? ws->nkv : 1, sizeof(ws_kv_t));
    for (unsigned i = 0; i < np; i++) {
        ad_req_param_at(r, i, &name, &value);
        ws->kv[i].name = ad_xstrdup(name);
        ws->kv[i].value = ad_xstrdup(value);
    }
    for (unsigned i = 0; i < nq; i++) {
        ad_req_query_at(r, i, &name, &value);
        ws->kv[np + i].name = ad_xstrdup(name);
        ws->kv[np + i].value = ad_xstrdup(value);
    }
}

static void ws_upgrade(ad_req_t *r, void *ud)
{
    const ad_ws_route_t *rt = ud;
    char accept[29];
    if (!handshake_ok(r, accept)) {
        return;
    }
    ad_ws_t *ws = ad_xcalloc(1, sizeof(*ws));
    ws->route = rt; /* the wslay context comes with the first input */
    ad_buf_init(&ws->ctl, 64 * 1024);
    char proto[4200]; /* a token named back (pick_protocol): a JWT can be long */
    const char *sel =
        pick_protocol(rt, ad_req_header(r, "sec-websocket-protocol"), proto, sizeof(proto));
    if (sel != NULL) {
        ws->protocol = ad_xstrdup(sel);
    }
    keep_params(ws, r);
    char ext[160];
    int bits =
        ad_ws_deflate_negotiate(ad_req_header(r, "sec-websocket-extensions"), ext, sizeof(ext));
    if (bits > 0) {
        ws->deflate_bits = (uint8_t)bits;
        ad_res_header(r, "Sec-WebSocket-Extensions", ext);
    }
    ad_res_header(r, "Upgrade", "websocket");
    ad_res_header(r, "Connection", "Upgrade");
    ad_res_header(r, "Sec-WebSocket-Accept", accept);
    if (ws->protocol != NULL) {
        ad_res_header(r, "Sec-WebSocket-Protocol", ws->protocol);
    }
    ad_ws_start(ws, r);
    if (rt->handler.on_open != NULL) {
        rt->handler.on_open(ws, r, rt->ud);
    }
}

static ad_ws_route_t *ws_route_new(const char *const *protocols, const ad_ws_handler_t *handler,
                                   void *ud)
{
    size_t n = 0;
    while (protocols != NULL && protocols[n] != NULL) {
        n++;
    }
    ad_ws_route_t *rt = ad_xcalloc(1, sizeof(*rt) + n * sizeof(char *) + 1);
    rt->handler = *handler;
    rt->ud = ud;
    rt->nprotocols = n;
    /* Protocol names live as long as the route: copy them into one block
     * owned by the route list. */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += strlen(protocols[i]) + 1;
    }
    rt = ad_xrealloc(rt, sizeof(*rt) + n * sizeof(char *) + total + 1);
    char *p = (char *)&rt->protocols[n];
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(protocols[i]) + 1;
        memcpy(p, protocols[i], l);
        rt->protocols[i] = p;
        p += l;
    }
    return rt;
}

void ad_server_route_ws(ad_server_t *s, const char *pattern, ad_access_t access,
                        const char *const *protocols, const ad_ws_handler_t *handler, void *ud)
{
    ad_ws_route_t *rt = ws_route_new(protocols, handler, ud);
    ad_server_route(s, "GET", pattern, access, ws_upgrade, rt);
    ad_server_own(s, rt);
}

void ad_server_route_ws_shared(ad_server_t *s, const char *pattern, ad_access_t access,
                               const char *const *protocols, const ad_ws_handler_t *handler,
                               void *ud)
{
    ad_ws_route_t *rt = ws_route_new(protocols, handler, ud);
    ad_server_route_upgrade(s, pattern, "websocket", access, ws_upgrade, rt);
    ad_server_own(s, rt);
}
