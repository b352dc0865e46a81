/* SPDX-License-Identifier: MIT */
/*
 * Requests as handlers see them (headers, params, query, body, JSON) and
 * responses: the head is formatted into the request's arena in one pass,
 * the body copied there (or referenced, for embedded assets), and the pair
 * handed to the connection's in-order queue. Also the AD_E* -> status map.
 */
#include "http/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- requests ------------------------------------------------------------------ */

const char *ad_req_method(const ad_req_t *r)
{
    return r->method != NULL ? r->method : "";
}

const char *ad_req_path(const ad_req_t *r)
{
    return r->path != NULL ? r->path : "";
}

const char *ad_req_param(const ad_req_t *r, const char *name)
{
    for (unsigned i = 0; i < r->nparams; i++) {
        if (strcmp(r->params[i].name, name) == 0) {
            return r->params[i].value;
        }
    }
    return NULL;
}

const char *ad_req_query(const ad_req_t *r, const char *name)
{
    ad_req_t *m = (ad_req_t *)r;
    if (!m->qs_parsed) {
        m->qs_parsed = true;
        int n = m->query != NULL ? ad_query_parse(m->query, &m->arena, &m->qs, 256) : 0;
        m->nqs = n > 0 ? (unsigned)n : 0;
    }
    for (unsigned i = 0; i < m->nqs; i++) {
        if (strcmp(m->qs[i].name, name) == 0) {
            return m->qs[i].value;
        }
    }
    return NULL;
}

const char *ad_req_header(const ad_req_t *r, const char *name)
{
    for (unsigned i = 0; i < r->nhdrs; i++) {
        if (r->hdrs[i].name != NULL && strcasecmp(r->hdrs[i].name, name) == 0) {
            return r->hdrs[i].value;
        }
    }
    return NULL;
}

const char *ad_req_body(const ad_req_t *r, size_t *len)
{
    if (len != NULL) {
        *len = r->body.len;
    }
    return r->body.data != NULL ? r->body.data : "";
}

ad_arena_t *ad_req_arena(ad_req_t *r)
{
    return &r->arena;
}

json_t *ad_req_json(ad_req_t *r)
{
    json_error_t jerr;
    size_t len;
    const char *body = ad_req_body(r, &len);
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        ad_res_error(r, 400, "INVALID_JSON", NULL, "invalid JSON body: %s (line %d, column %d)",
                     jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        ad_res_error(r, 400, "INVALID_JSON", NULL, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

json_t *ad_req_json_optional(ad_req_t *r, bool *failed)
{
    size_t len = 0;
    const char *b = ad_req_body(r, &len);
    *failed = false;
    bool blank = true;
    for (size_t i = 0; i < len; i++) {
        if (b[i] != ' ' && b[i] != '\n' && b[i] != '\r' && b[i] != '\t') {
            blank = false;
            break;
        }
    }
    if (blank) {
        return json_object();
    }
    json_t *j = ad_req_json(r);
    if (j == NULL) {
        *failed = true;
    }
    return j;
}

bool ad_req_is_answered(const ad_req_t *r)
{
    return r->answered;
}

bool ad_req_client_gone(const ad_req_t *r)
{
    return r->conn == NULL && r->call_cb == NULL; /* an in-process call's caller waits */
}

void ad_req_set_data(ad_req_t *r, void *data)
{
    r->data = data;
}

void *ad_req_data(const ad_req_t *r)
{
    return r->data;
}

bool ad_req_param_at(const ad_req_t *r, unsigned i, const char **name, const char **value)
{
    if (i >= r->nparams) {
        return false;
    }
    *name = r->params[i].name;
    *value = r->params[i].value;
    return true;
}

bool ad_req_query_at(const ad_req_t *r, unsigned i, const char **name, const char **value)
{
    ad_req_query(r, ""); /* parses the query string once */
    if (i >= r->nqs) {
        return false;
    }
    *name = r->qs[i].name;
    *value = r->qs[i].value;
    return true;
}

bool ad_req_is_upgrade(const ad_req_t *r)
{
    return r->upgrade;
}

bool ad_req_is_local(const ad_req_t *r)
{
    return r->conn != NULL && r->conn->is_pipe;
}

bool ad_req_is_tls(const ad_req_t *r)
{
    return r->conn != NULL && r->conn->tls != NULL;
}

void ad_req_peer(const ad_req_t *r, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s", r->call_peer != NULL ? r->call_peer : "unknown");
    if (r->conn == NULL) {
        return;
    }
    if (r->conn->is_pipe) {
        snprintf(out, outsz, "unix");
        return;
    }
    char *peer = r->conn->peer; /* asked on every request (the guard): one syscall per connection */
    if (peer[0] == '\0') {
        struct sockaddr_storage ss;
        int len = sizeof(ss);
        if (uv_tcp_getpeername(&r->conn->h.tcp, (struct sockaddr *)&ss, &len) != 0) {
            return;
        }
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, peer, sizeof(r->conn->peer));
        } else if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, peer, sizeof(r->conn->peer));
        } else {
            return;
        }
    }
    snprintf(out, outsz, "%s", peer);
}

const char *ad_req_route(const ad_req_t *r)
{
    return r->route != NULL ? r->route->pattern : NULL;
}

void ad_req_set_auth(ad_req_t *r, const void *auth)
{
    r->auth = auth;
}

const void *ad_req_auth(const ad_req_t *r)
{
    return r->auth;
}

void ad_req_set_note(ad_req_t *r, const char *note)
{
    size_t n = strlen(note);
    if (n > AD_REQ_NOTE_MAX) {
        n = AD_REQ_NOTE_MAX;
        while (n > 0 && ((unsigned char)note[n] & 0xC0) == 0x80) {
            n--; /* not inside a UTF-8 character */
        }
    }
    r->note = ad_arena_strndup(&r->arena, note, n);
}

const char *ad_req_note(const ad_req_t *r)
{
    return r->note;
}

/* ---- helpers ----------------------------------------------------------------- */

bool ad_http_has_token(const char *list, const char *tok)
{
    if (list == NULL) {
        return false;
    }
    size_t tl = strlen(tok);
    const char *p = list;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        size_t n = strcspn(p, ",;");
        size_t m = n;
        while (m > 0 && (p[m - 1] == ' ' || p[m - 1] == '\t')) {
            m--;
        }
        if (m == tl && strncasecmp(p, tok, tl) == 0) {
            return true;
        }
        p += n;
        if (*p == ';') {
            p += strcspn(p, ",");
        }
    }
    return false;
}

const char *ad_http_date(ad_server_t *s, size_t *len)
{
    time_t now = time(NULL);
    if ((int64_t)now != s->date_sec || s->date_len == 0) {
        struct tm tm;
        gmtime_r(&now, &tm);
        s->date_len = strftime(s->date, sizeof(s->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        s->date_sec = (int64_t)now;
    }
    *len = s->date_len;
    return s->date;
}

const char *ad_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Entity";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 507:
        return "Insufficient Storage";
    default:
        return "Unknown";
    }
}

/* ---- responses --------------------------------------------------------------- */

/* Puts h last among r's answer headers. */
static void append_header(ad_req_t *r, ad_resh_t *h)
{
    h->next = NULL;
    if (r->res_hdrs_tail != NULL) {
        r->res_hdrs_tail->next = h;
    } else {
        r->res_hdrs = h;
    }
    r->res_hdrs_tail = h;
}

void ad_res_header(ad_req_t *r, const char *name, const char *value)
{
    if (r->answered) {
        return;
    }
    size_t nl = strlen(name), vl = strlen(value);
    ad_resh_t *h = ad_arena_alloc(&r->arena, sizeof(*h) + nl + vl + 5);
    if (h == NULL) {
        return;
    }
    char *line = (char *)(h + 1);
    memcpy(line, name, nl);
    memcpy(line + nl, ": ", 2);
    memcpy(line + nl + 2, value, vl);
    /* A header value never carries a line break into the response. */
    for (size_t i = nl + 2; i < nl + 2 + vl; i++) {
        if (line[i] == '\r' || line[i] == '\n') {
            line[i] = ' ';
        }
    }
    memcpy(line + nl + 2 + vl, "\r\n", 3);
    h->line = line;
    h->len = nl + vl + 4;
    append_header(r, h);
}

void ad_res_header_lines(ad_req_t *r, const char *lines, size_t len)
{
    if (r->answered) {
        return;
    }
    ad_resh_t *h = ad_arena_alloc(&r->arena, sizeof(*h));
    if (h == NULL) {
        return;
    }
    h->line = lines;
    h->len = len;
    append_header(r, h);
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *put_u64(char *p, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n > 0) {
        *p++ = tmp[--n];
    }
    return p;
}

/* The bytes the head of an answer needs at most. */
static size_t head_size(const ad_req_t *r, const char *reason, size_t dlen, const char *ctype,
                        const char *origin)
{
    size_t need = 9 + 4 + strlen(reason) + 2 + 6 + dlen + 2 + 64 + 24;
    if (ctype != NULL) {
        need += 14 + strlen(ctype) + 2;
    }
    for (const ad_resh_t *h = r->res_hdrs; h != NULL; h = h->next) {
        need += h->len;
    }
    if (origin != NULL) {
        need += 30 + strlen(origin) + 2 + 15;
    }
    return need;
}

/* Out of memory for the head: a fixed 500 that closes the connection. */
static void answer_oom(ad_req_t *r)
{
    r->res_hdrs = r->res_hdrs_tail = NULL;
    ad_arena_reset(&r->arena); /* nothing of the request is needed now */
    static const char oom[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                              "Connection: close\r\n\r\n";
    r->keep_alive = false;
    r->out[0] = uv_buf_init((char *)oom, sizeof(oom) - 1);
    r->nout = 1;
    ad_http_req_answered(r);
}

/* Writes the head into head (head_size() bytes); returns its end. */
static char *format_head(ad_req_t *r, char *p, int status, const char *reason, const char *ctype,
                         size_t len, const char *origin)
{
    bool stream = len == SIZE_MAX;
    bool no_body = status == 204 || status == 304 || status < 200;
    size_t dlen;
    const char *date = ad_http_date(r->srv, &dlen);
    p = put(p, "HTTP/1.1 ", 9);
    p = put_u64(p, (uint64_t)status);
    *p++ = ' ';
    p = put(p, reason, strlen(reason));
    p = put(p, "\r\nDate: ", 8);
    p = put(p, date, dlen);
    p = put(p, "\r\n", 2);
    if (ctype != NULL) {
        p = put(p, "Content-Type: ", 14);
        p = put(p, ctype, strlen(ctype));
        p = put(p, "\r\n", 2);
    }
    if (!no_body && !stream) {
        p = put(p, "Content-Length: ", 16);
        p = put_u64(p, len);
        p = put(p, "\r\n", 2);
    }
    for (ad_resh_t *h = r->res_hdrs; h != NULL; h = h->next) {
        p = put(p, h->line, h->len);
    }
    if (origin != NULL) {
        p = put(p, "Access-Control-Allow-Origin: ", 29);
        p = put(p, origin, strlen(origin));
        p = put(p, "\r\nVary: Origin\r\n", 16);
    }
    if (status != 101) {
        if (!r->keep_alive || stream) {
            p = put(p, "Connection: close\r\n", 19);
        } else if (r->conn->parser.http_minor == 0) {
            p = put(p, "Connection: keep-alive\r\n", 24);
        }
    }
    return put(p, "\r\n", 2);
}

/* len == SIZE_MAX: a stream (SSE) without Content-Length, delimited by the
 * close. Status 101 carries no length either. */
void ad_res_send_ex(ad_req_t *r, int status, const char *ctype, const void *body, size_t len,
                    bool nocopy)
{
    if (r->answered) {
        ad_log(AD_LOG_ERROR, "http", "second answer to one request ignored status=%d", status);
        return;
    }
    if (status == 204 && r->dialect && r->method_id != HTTP_OPTIONS && !r->head) {
        /* a dialect's client reads JSON from every answer */
        status = 200;
        ctype = "application/json";
        body = "null";
        len = 4;
        nocopy = true;
    }
    r->answered = true;
    r->status = status;
    if (r->conn == NULL && r->call_cb != NULL && len != SIZE_MAX && len > 0) {
        /* an in-process call: the body goes to its callback (call.c) */
        char *copy = nocopy ? (char *)body : ad_arena_alloc(&r->arena, len);
        if (copy != NULL && !nocopy) {
            memcpy(copy, body, len);
        }
        r->out[1] = uv_buf_init(copy, copy != NULL ? (unsigned)len : 0);
        r->nout = 2;
    }
    if (r->conn == NULL) {
        ad_http_req_answered(r);
        return;
    }
    if (r->srv->closing) {
        r->keep_alive = false;
    }
    bool has_body = !(status == 204 || status == 304 || status < 200) && len != SIZE_MAX;
    const char *reason = ad_http_reason(status);
    const char *origin = r->cors ? ad_req_header(r, "origin") : NULL;
    size_t dlen;
    ad_http_date(r->srv, &dlen);
    char *head = ad_arena_alloc(&r->arena, head_size(r, reason, dlen, ctype, origin));
    if (head == NULL) {
        answer_oom(r);
        return;
    }
    char *end = format_head(r, head, status, reason, ctype, len, origin);
    r->out[0] = uv_buf_init(head, (unsigned)(end - head));
    r->nout = 1;
    if (has_body && !r->head && len > 0) {
        const void *b = body;
        if (!nocopy) {
            char *copy = ad_arena_alloc(&r->arena, len);
            if (copy == NULL) {
                r->keep_alive = false; /* the length is promised: give up */
                r->out[0].len = 0;
                ad_http_req_answered(r);
                return;
            }
            memcpy(copy, body, len);
            b = copy;
        }
        r->out[1] = uv_buf_init((char *)b, (unsigned)len);
        r->nout = 2;
    }
    ad_http_req_answered(r);
}

void ad_res_send(ad_req_t *r, int status, const char *content_type, const void *body, size_t len)
{
    ad_res_send_ex(r, status, content_type, body, len, false);
}

void ad_res_send_buf(ad_req_t *r, int status, const char *content_type, ad_buf_t *b)
{
    if (r->answered) {
        ad_buf_cleanup(b);
        ad_res_send_ex(r, status, content_type, NULL, 0, true); /* logs the second answer */
        return;
    }
    size_t len; /* owned_body is NULL: it is set only here, with the answer */
    r->owned_body = ad_buf_detach(b, &len);
    ad_res_send_ex(r, status, content_type, r->owned_body, len, true);
}

/* A JSON answer's text is bounded as the request's arena is (conn.c). */
#define JSON_ANSWER_MAX (256u << 20)

void ad_res_json(ad_req_t *r, int status, json_t *body)
{
    AD_ASSERT_LOOP();
    if (body == NULL) {
        ad_res_send(r, status, "application/json", "null", 4);
        return;
    }
    if (r->dialect && r->srv->dialect != NULL) {
        r->srv->dialect(r, status, body, r->srv->dialect_ud);
    }
    /* One pass of the core's writer (its reals cost no printf, issue #38);
     * only a value nested deeper than it goes is left to jansson, which
     * measures in a first pass and writes in a second. */
    ad_buf_t text;
    ad_buf_init(&text, JSON_ANSWER_MAX);
    AD_DISCARD(ad_buf_reserve(&text, 4096)); /* most answers: one allocation */
    char *buf = NULL;
    size_t n = 0;
    if (ad_json_write(&text, body) == 0) {
        buf = ad_arena_alloc(&r->arena, text.len);
        n = text.len;
        if (buf != NULL) {
            memcpy(buf, text.data, n);
        }
    } else if ((n = json_dumpb(body, NULL, 0, JSON_COMPACT)) > 0) {
        buf = ad_arena_alloc(&r->arena, n);
        if (buf != NULL && json_dumpb(body, buf, n, JSON_COMPACT) != n) {
            buf = NULL;
        }
    }
    ad_buf_cleanup(&text);
    if (buf == NULL || n == 0) {
        json_decref(body);
        static const char fail[] = "{\"error\":{\"code\":\"INTERNAL\",\"message\":"
                                   "\"cannot serialize the response\",\"details\":{}}}";
        ad_res_send_ex(r, 500, "application/json", fail, sizeof(fail) - 1, true);
        return;
    }
    json_decref(body);
    ad_res_send_ex(r, status, "application/json", buf, n, true);
}

__attribute__((format(printf, 5, 0))) static void
res_verror(ad_req_t *r, int status, const char *code, json_t *details, const char *fmt, va_list ap)
{
    char msg[1280];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* A failure of the database's absence says so (ad_server_set_down). */
    bool unavail = strcmp(code, "DATABASE_UNAVAILABLE") == 0;
    if ((unavail || status == 500) && r->srv != NULL && r->srv->down != NULL) {
        char why[256];
        if (r->srv->down(r->srv->down_ud, why, sizeof(why))) {
            status = 503;
            code = "DATABASE_UNAVAILABLE";
            if (strncmp(msg, "the database is unreachable: ", 29) != 0) {
                snprintf(msg, sizeof(msg), "the database is unreachable: %s", why);
            }
        } else if (unavail) {
            snprintf(msg, sizeof(msg), "the database is unreachable; try again");
        }
    }
    /* A failure of a damaged database says what is damaged and what to do
     * (ad_server_set_damaged), never a bare 500. */
    if (status == 500 && r->srv != NULL && r->srv->damaged != NULL) {
        char why[768];
        if (r->srv->damaged(r->srv->damaged_ud, why, sizeof(why))) {
            code = "DATA_DAMAGED";
            size_t len = strlen(msg);
            snprintf(msg + len, sizeof(msg) - len, ": %s", why);
        }
    }
    /* A message may quote hostile input (an id with invalid UTF-8) or be
     * cut inside a character: repaired, so the answer is always the error
     * shape, never null. A details object that could not be built (for
     * the same reason) is empty. */
    ad_buf_t fixed;
    ad_buf_init(&fixed, sizeof(msg) * 3 + 16);
    /* Sized for the worst case (every byte a 3-byte U+FFFD): cannot fail. */
    AD_DISCARD(ad_utf8_repair(&fixed, msg, strlen(msg)));
    json_t *err =
        json_pack("{s:s, s:s%, s:o}", "code", code, "message", fixed.data != NULL ? fixed.data : "",
                  fixed.len, "details", details != NULL ? details : json_object());
    ad_buf_cleanup(&fixed);
    ad_res_json(r, status, json_pack("{s:o}", "error", err));
}

void ad_res_error(ad_req_t *r, int status, const char *code, json_t *details, const char *fmt, ...)
{
    AD_ASSERT_LOOP();
    va_list ap;
    va_start(ap, fmt);
    res_verror(r, status, code, details, fmt, ap);
    va_end(ap);
}

int ad_http_status_of(int err, const char **code)
{
    int status;
    const char *c;
    switch (err) {
    case AD_ENOENT:
        status = 404;
        c = "NOT_FOUND";
        break;
    case AD_EEXIST:
        status = 409;
        c = "CONFLICT";
        break;
    case AD_ESTATE:
        status = 409;
        c = "CONFLICT";
        break;
    case AD_EINVAL:
        status = 422;
        c = "VALIDATION_ERROR";
        break;
    case AD_EPERM:
        status = 403;
        c = "FORBIDDEN";
        break;
    case AD_ECONSTRAINT:
        status = 422;
        c = "CONSTRAINT_VIOLATION";
        break;
    case AD_ETOOBIG:
        status = 413;
        c = "TOO_LARGE";
        break;
    case AD_EFULL:
        status = 507;
        c = "INSUFFICIENT_STORAGE";
        break;
    case AD_EBUSY:
    case AD_EAGAIN:
        status = 503;
        c = "UNAVAILABLE";
        break;
    case AD_EUNAVAIL:
        status = 503;
        c = "DATABASE_UNAVAILABLE";
        break;
    case AD_ECORRUPT:
        status = 500;
        c = "DATA_DAMAGED";
        break;
    default:
        status = 500;
        c = "INTERNAL";
        break;
    }
    if (code != NULL) {
        *code = c;
    }
    return status;
}

void ad_res_error_code(ad_req_t *r, int err, json_t *details, const char *fmt, ...)
{
    const char *code;
    int status = ad_http_status_of(err, &code);
    va_list ap;
    va_start(ap, fmt);
    res_verror(r, status, code, details, fmt, ap);
    va_end(ap);
}

/* GET /healthz */
void ad_http_healthz(ad_req_t *r, void *ud)
{
    AD_UNUSED(ud);
    static const char ok[] = "{\"status\":\"ok\"}";
    ad_res_send_ex(r, 200, "application/json", ok, sizeof(ok) - 1, true);
}
