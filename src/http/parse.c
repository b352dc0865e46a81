/* SPDX-License-Identifier: MIT */
/*
 * Request parsing: http-parser's callbacks fill the request (URL, headers
 * with their limits, body), refusals become the right 4xx, and each complete
 * request is dispatched to the router outside the parser, so pipelining and
 * upgrades know how far the input was consumed. Connections are conn.c's.
 */
#include "http/http_int.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

static int on_message_begin(http_parser *p);
static int on_url(http_parser *p, const char *at, size_t n);
static int on_header_field(http_parser *p, const char *at, size_t n);
static int on_header_value(http_parser *p, const char *at, size_t n);
static int on_headers_complete(http_parser *p);
static int on_body(http_parser *p, const char *at, size_t n);
static int on_message_complete(http_parser *p);

const http_parser_settings ad_http_parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- parsing ------------------------------------------------------------------- */

static int refuse(ad_conn_t *c, int status, const char *code, const char *msg)
{
    c->err_status = status;
    c->err_code = code;
    c->err_msg = msg;
    /* Not 1: from on_headers_complete that would mean "no body". */
    return -1;
}

/* Appends n bytes to a growing arena string *p (len/cap), keeping a NUL. */
static int arena_append(ad_arena_t *a, char **p, size_t *len, size_t *cap, const char *at, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = *cap * 2;
        if (ncap < *len + n + 1) {
            ncap = *len + n + 1;
        }
        char *np = ad_arena_alloc(a, ncap);
        if (np == NULL) {
            return AD_ENOMEM;
        }
        if (*len > 0) {
            memcpy(np, *p, *len);
        }
        *p = np;
        *cap = ncap;
    }
    memcpy(*p + *len, at, n);
    *len += n;
    (*p)[*len] = '\0';
    return 0;
}

static int count_header_bytes(ad_conn_t *c, ad_req_t *r, size_t n)
{
    r->header_bytes += n;
    if (r->header_bytes > c->srv->cfg->max_header_bytes) {
        return refuse(c, 431, "HEADERS_TOO_LARGE", "request headers are too large");
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    ad_conn_t *c = p->data;
    ad_req_t *r = ad_http_req_get(c->srv);
    r->conn = c;
    if (c->qtail != NULL) {
        c->qtail->next = r;
    } else {
        c->qhead = r;
    }
    c->qtail = r;
    c->nqueued++;
    c->cur = r;
    c->began = true;
    if (c->timer_mode != AD_TM_HEADER) {
        ad_conn_set_timer(c, AD_TM_HEADER, c->srv->cfg->header_timeout_ms);
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    ad_conn_t *c = p->data;
    ad_req_t *r = c->cur;
    if (r->url_len + n > c->srv->cfg->max_url_bytes) {
        return refuse(c, 414, "URL_TOO_LONG", "request target is too long");
    }
    if (count_header_bytes(c, r, n) != 0) {
        return 1;
    }
    if (arena_append(&r->arena, &r->url, &r->url_len, &r->url_cap, at, n) != 0) {
        return refuse(c, 431, "HEADERS_TOO_LARGE", "request headers are too large");
    }
    return 0;
}

static void commit_header(ad_req_t *r)
{
    if (r->last_cb == 2) {
        r->nhdrs++;
    }
    r->fld_len = r->fld_cap = r->val_len = r->val_cap = 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    ad_conn_t *c = p->data;
    ad_req_t *r = c->cur;
    if (count_header_bytes(c, r, n) != 0) {
        return 1;
    }
    if (r->headers_done) {
        /* A chunked body's trailer: counted against the size limit, not
         * kept (no handler reads trailers, and keeping them would reopen
         * the header table after it was finished). */
        return 0;
    }
    if (r->last_cb != 1) {
        commit_header(r);
        if (r->nhdrs + 1 > c->srv->cfg->max_header_count) {
            return refuse(c, 431, "TOO_MANY_HEADERS", "too many request headers");
        }
        if (r->nhdrs == r->hdr_cap) {
            unsigned ncap = r->hdr_cap ? r->hdr_cap * 2 : 16;
            ad_kv_t *nh = ad_arena_alloc(&r->arena, ncap * sizeof(*nh));
            if (nh == NULL) {
                return refuse(c, 431, "HEADERS_TOO_LARGE", "request headers are too large");
            }
            if (r->nhdrs > 0) {
                memcpy(nh, r->hdrs, r->nhdrs * sizeof(*nh));
            }
            r->hdrs = nh;
            r->hdr_cap = ncap;
        }
        r->hdrs[r->nhdrs].name = NULL;
        r->hdrs[r->nhdrs].value = NULL;
        r->header_bytes += 4; /* ": " and CRLF */
    }
    r->last_cb = 1;
    ad_kv_t *h = &r->hdrs[r->nhdrs];
    if (arena_append(&r->arena, &h->name, &r->fld_len, &r->fld_cap, at, n) != 0) {
        return refuse(c, 431, "HEADERS_TOO_LARGE", "request headers are too large");
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    ad_conn_t *c = p->data;
    ad_req_t *r = c->cur;
    if (count_header_bytes(c, r, n) != 0) {
        return 1;
    }
    if (r->headers_done) {
        return 0; /* a trailer's value: see on_header_field */
    }
    r->last_cb = 2;
    ad_kv_t *h = &r->hdrs[r->nhdrs];
    if (arena_append(&r->arena, &h->value, &r->val_len, &r->val_cap, at, n) != 0) {
        return refuse(c, 431, "HEADERS_TOO_LARGE", "request headers are too large");
    }
    return 0;
}

static bool origin_allowed(const ad_server_t *s, const char *origin)
{
    for (size_t i = 0; i < s->ncors; i++) {
        if (strcmp(s->cors[i], origin) == 0 || strcmp(s->cors[i], "*") == 0) {
            return true;
        }
    }
    return false;
}

/* Splits the request target into the decoded path and the raw query:
 * origin-form "/path?query"; absolute-form "http://host/path" is cut to its
 * path. */
static int parse_target(ad_conn_t *c, ad_req_t *r)
{
    if (r->url == NULL) {
        return refuse(c, 400, "BAD_REQUEST", "missing request target");
    }
    const char *u = r->url;
    if (u[0] != '/' && u[0] != '*') {
        const char *sch = strstr(u, "://");
        if (sch == NULL) {
            return refuse(c, 400, "BAD_REQUEST", "invalid request target");
        }
        u = strchr(sch + 3, '/');
        if (u == NULL) {
            u = "/";
        }
    }
    const char *q = strchr(u, '?');
    size_t plen = q != NULL ? (size_t)(q - u) : strlen(u);
    const char *hash = memchr(u, '#', plen);
    if (hash != NULL) {
        plen = (size_t)(hash - u);
    }
    r->path = ad_arena_alloc(&r->arena, plen + 1);
    if (r->path == NULL || ad_pct_decode(u, plen, r->path, false) < 0) {
        return refuse(c, 400, "BAD_REQUEST", "invalid percent-encoding in the path");
    }
    if (q != NULL) {
        r->query = (char *)q + 1;
        char *h2 = strchr(r->query, '#');
        if (h2 != NULL) {
            *h2 = '\0';
        }
    }
    return 0;
}

/* The body's size limit, Expect: 100-continue and the body timer. */
static int prepare_body(ad_conn_t *c, ad_req_t *r, http_parser *p)
{
    const ad_config_t *cfg = c->srv->cfg;
    bool chunked = (p->flags & F_CHUNKED) != 0;
    bool has_len = !chunked && p->content_length != ULLONG_MAX && p->content_length > 0;
    if (has_len && p->content_length > cfg->max_body_bytes) {
        return refuse(c, 413, "TOO_LARGE", "request body is too large");
    }
    const ad_server_t *s = c->srv;
    if ((has_len || chunked) && !c->is_pipe && s->guard != NULL && s->guard->pre_body != NULL) {
        /* Who is asking is known from the headers: a body nobody may send
         * is never read, let alone buffered (nor waited for). */
        int st = s->guard->pre_body(s->guard_ud, r, ad_http_route_access(c->srv, r));
        if (st == 401) {
            return refuse(c, 401, "UNAUTHORIZED",
                          "a valid token is required before a request body is read");
        }
        if (st == 429) {
            return refuse(c, 429, "RATE_LIMITED", "too many requests; retry later");
        }
        if (st != 0) {
            return refuse(c, 403, "FORBIDDEN", "this request is not allowed");
        }
    }
    const char *expect = ad_req_header(r, "expect");
    if (expect != NULL && (has_len || chunked)) {
        if (strcasecmp(expect, "100-continue") != 0) {
            return refuse(c, 417, "EXPECTATION_FAILED", "unsupported Expect header");
        }
        /* Only when every earlier answer is already on the wire, so the
         * interim response cannot overtake one of them. */
        if (c->qhead == r) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            ad_conn_write_copy(c, cont, sizeof(cont) - 1);
        }
    }
    if (has_len || chunked) {
        ad_conn_set_timer(c, AD_TM_BODY, cfg->body_timeout_ms);
    } else {
        ad_conn_stop_timer(c);
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    ad_conn_t *c = p->data;
    ad_req_t *r = c->cur;
    if (r->last_cb == 2) {
        r->nhdrs++;
    } else if (r->last_cb == 1) {
        return refuse(c, 400, "BAD_REQUEST", "malformed header");
    }
    /* A header without a value leaves value NULL; make it "". A second
     * Host is refused: which one a proxy and we would each believe differs. */
    unsigned hosts = 0;
    for (unsigned i = 0; i < r->nhdrs; i++) {
        if (r->hdrs[i].value == NULL) {
            r->hdrs[i].value = (char *)"";
        }
        const char *n = r->hdrs[i].name;
        if ((n[0] | 0x20) == 'h' && strcasecmp(n, "host") == 0) {
            hosts++;
        }
    }
    if (hosts > 1) {
        return refuse(c, 400, "BAD_REQUEST", "more than one Host header");
    }
    r->headers_done = true;
    r->method_id = p->method;
    r->method = http_method_str((enum http_method)p->method);
    r->head = p->method == HTTP_HEAD;
    r->keep_alive = http_should_keep_alive(p) != 0;
    r->upgrade = p->upgrade != 0;
    if (parse_target(c, r) != 0) {
        return -1;
    }
    if (p->http_major == 1 && p->http_minor >= 1 && ad_req_header(r, "host") == NULL) {
        return refuse(c, 400, "BAD_REQUEST", "an HTTP/1.1 request needs a Host header");
    }
    const char *origin = ad_req_header(r, "origin");
    if (origin != NULL && c->srv->ncors > 0 && origin_allowed(c->srv, origin)) {
        r->cors = true;
    }
    return prepare_body(c, r, p);
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    ad_conn_t *c = p->data;
    ad_req_t *r = c->cur;
    if (!ad_http_caps_body_add(c, r, n)) {
        ad_res_header(r, "Retry-After", "1");
        return refuse(c, 429, "RATE_LIMITED",
                      "too many request-body bytes held from this address; retry later");
    }
    if (ad_buf_append(&r->body, at, n) != 0) {
        return refuse(c, 413, "TOO_LARGE", "request body is too large");
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    ad_conn_t *c = p->data;
    c->done = c->cur;
    c->cur = NULL;
    c->graces = 0;
    if (c->timer_mode == AD_TM_BODY || c->timer_mode == AD_TM_HEADER) {
        ad_conn_stop_timer(c);
    }
    /* Stop here: the request is dispatched outside the parser, where we know
     * how far the input was consumed (pipelining and upgrades need it). */
    http_parser_pause(p, 1);
    return 0;
}

/* Bytes read after a request that took its connection over go to the new
 * owner, now that the handler has returned. */
static void hand_over_rest(ad_conn_t *c, const char *data, size_t len)
{
    if (len > 0 && !c->closing && c->kind == AD_CONN_TAKEN && c->ops != NULL &&
        c->ops->on_read != NULL) {
        c->ops->on_read(c->ops_ud, data, len);
    }
}

static void dispatch(ad_conn_t *c, ad_req_t *r)
{
    if (r->upgrade) {
        /* Whatever follows an upgrade request is not HTTP any more: unless a
         * WebSocket route takes the connection, answer and close. */
        r->keep_alive = false;
    }
    if (c->srv->closing) {
        r->keep_alive = false;
    }
    if (!r->keep_alive) {
        c->no_more = true;
    }
    ad_http_route_request(c->srv, r);
    if (c->closing || c->kind != AD_CONN_HTTP) {
        return;
    }
    if (c->nqueued >= AD_HTTP_PIPELINE_MAX) {
        c->paused = true;
    }
}

/* Answers a request the parser refused, then closes. */
static void parse_failed(ad_conn_t *c, enum http_errno e)
{
    int status = c->err_status;
    const char *code = c->err_code;
    const char *msg = c->err_msg;
    if (status == 0) {
        status = e == HPE_HEADER_OVERFLOW ? 431 : 400;
        code = e == HPE_HEADER_OVERFLOW ? "HEADERS_TOO_LARGE" : "BAD_REQUEST";
        msg = e == HPE_HEADER_OVERFLOW ? "request headers are too large" : NULL;
    }
    ad_req_t *r = c->cur;
    if (r == NULL) {
        on_message_begin(&c->parser);
        r = c->cur;
    }
    c->cur = NULL;
    c->no_more = true;
    r->keep_alive = false;
    r->head = false;
    ad_log(AD_LOG_INFO, "http", "bad request status=%d reason=\"%s\"", status,
           msg != NULL ? msg : http_errno_description(e));
    if (msg != NULL) {
        ad_res_error(r, status, code, NULL, "%s", msg);
    } else {
        ad_res_error(r, status, code, NULL, "malformed request: %s", http_errno_description(e));
    }
}

void ad_http_parse_input(ad_conn_t *c, const char *data, size_t len)
{
    while (len > 0 && !c->closing) {
        if (c->no_more || c->kind != AD_CONN_HTTP) {
            return; /* input after the last request is discarded */
        }
        if (c->paused) {
            if (ad_buf_append(&c->stash, data, len) != 0) {
                ad_conn_abort(c);
                return;
            }
            ad_conn_stop_reading(c);
            return;
        }
        size_t n = http_parser_execute(&c->parser, &ad_http_parser_settings, data, len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            data += n;
            len -= n;
            ad_req_t *r = c->done;
            c->done = NULL;
            dispatch(c, r);
            if (r->upgrade || c->kind != AD_CONN_HTTP) {
                /* What follows an upgrade is not HTTP: it belongs to the
                 * connection's new owner, if a handler took it over. */
                hand_over_rest(c, data, len);
                return;
            }
            continue;
        }
        if (e != HPE_OK) {
            parse_failed(c, e);
            return;
        }
        if (c->parser.upgrade) {
            return; /* CONNECT and the like: answered when dispatched */
        }
        data += n;
        len -= n;
        if (n == 0) {
            break;
        }
    }
}