/* SPDX-License-Identifier: MIT */
/*
 * A minimal blocking HTTP/1.1 client over the daemon's unix socket, for the
 * client commands: one request per connection (Connection: close), the
 * response parsed with http-parser, the body handed over as it arrives (so
 * an event stream can be followed). The daemon does not link libcurl for
 * this: libcurl's dependencies alone kept ~3.6 MB resident in every daemon.
 */
#include "cli/cli_int.h"

#include <errno.h>
#include <http_parser.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int on_headers_complete(http_parser *p)
{
    ad_cli_response_t *c = p->data;
    c->status = (long)p->status_code;
    return 0;
}

/* Keeps Mcp-Session-Id and Content-Type (a name or value may come in
 * pieces; a kept value's pieces are joined, cut at its buffer). */
static int on_header_field(http_parser *p, const char *at, size_t n)
{
    ad_cli_response_t *c = p->data;
    if (c->in_value) {
        c->field[0] = '\0'; /* a new header */
        c->in_value = false;
    }
    size_t have = strlen(c->field);
    for (size_t i = 0; i < n && have + 1 < sizeof(c->field); i++) {
        char ch = at[i];
        c->field[have++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    c->field[have] = '\0';
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    ad_cli_response_t *c = p->data;
    c->in_value = true;
    char *dst = strcmp(c->field, "mcp-session-id") == 0 ? c->session
                : strcmp(c->field, "content-type") == 0 ? c->content_type
                                                        : NULL;
    if (dst != NULL) {
        size_t cap = dst == c->session ? sizeof(c->session) : sizeof(c->content_type);
        size_t have = strlen(dst);
        size_t take = n < cap - 1 - have ? n : cap - 1 - have;
        memcpy(dst + have, at, take);
        dst[have + take] = '\0';
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    ad_cli_response_t *c = p->data;
    if (!c->on_body(at, n, c->ud)) {
        c->aborted = true;
        return 1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    ad_cli_response_t *c = p->data;
    c->done = true;
    return 0;
}

static const http_parser_settings settings = {.on_header_field = on_header_field,
                                              .on_header_value = on_header_value,
                                              .on_headers_complete = on_headers_complete,
                                              .on_body = on_body,
                                              .on_message_complete = on_message_complete};

void ad_cli_response_init(ad_cli_response_t *r, ad_cli_body_cb cb, void *ud)
{
    memset(r, 0, sizeof(*r));
    r->on_body = cb;
    r->ud = ud;
    http_parser_init(&r->parser, HTTP_RESPONSE);
    r->parser.data = r;
}

int ad_cli_response_feed(ad_cli_response_t *r, const char *buf, size_t n, char *err, size_t errsz)
{
    size_t used = http_parser_execute(&r->parser, &settings, buf, n);
    if (r->aborted) {
        snprintf(err, errsz, "response too large");
        return AD_ETOOBIG;
    }
    if (used != n || HTTP_PARSER_ERRNO(&r->parser) != HPE_OK) {
        snprintf(err, errsz, "bad response: %s",
                 http_errno_description(HTTP_PARSER_ERRNO(&r->parser)));
        return AD_EIO;
    }
    if (n == 0 && !r->done) {
        /* The daemon closed the connection mid-response (shutdown). */
        snprintf(err, errsz, "the daemon closed the connection");
        return r->status != 0 ? AD_ECLOSED : AD_EIO;
    }
    return 0;
}

static int connect_unix(const char *sock, int *fd_out, char *err, size_t errsz)
{
    struct sockaddr_un sa;
    int dirfd;
    if (ad_unix_addr(sock, &sa, &dirfd) != 0) {
        snprintf(err, errsz, "cannot reach %s: %s", sock, strerror(errno));
        return AD_ENOENT;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int e = fd < 0 ? errno : 0;
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        e = errno;
        close(fd);
        fd = -1;
    }
    if (dirfd >= 0) {
        close(dirfd);
    }
    if (fd < 0) {
        snprintf(err, errsz, "connect: %s", strerror(e));
        return AD_ENOENT; /* no daemon listening there */
    }
    *fd_out = fd;
    return 0;
}

static int send_request(int fd, const char *token, const char *method, const char *path,
                        const char *accept, const char *extra, const char *body, size_t blen,
                        char *err, size_t errsz)
{
    ad_buf_t req;
    ad_buf_init(&req, (size_t)blen + 8192);
    int rc =
        ad_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: agentd\r\nAccept: %s\r\nConnection: close\r\n",
                      method, path, accept);
    if (rc == 0 && token != NULL && token[0] != '\0') {
        rc = ad_buf_printf(&req, "Authorization: Bearer %s\r\n", token);
    }
    if (rc == 0 && extra != NULL) {
        rc = ad_buf_puts(&req, extra);
    }
    if (rc == 0 && (body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0)) {
        rc = ad_buf_printf(&req, "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
    }
    if (rc != 0 || ad_buf_puts(&req, "\r\n") != 0 ||
        ad_buf_append(&req, body ? body : "", blen) != 0) {
        snprintf(err, errsz, "request too large");
        rc = AD_ETOOBIG;
    } else if (ad_write_all(fd, req.data, req.len) != req.len) {
        snprintf(err, errsz, "write: %s", strerror(errno));
        rc = AD_EIO;
    }
    ad_buf_cleanup(&req);
    return rc;
}

/* Reads the answer until it is complete, within timeout_ms of quiet. */
static int read_response(int fd, ad_cli_response_t *r, int timeout_ms, char *err, size_t errsz)
{
    char buf[65536];
    while (!r->done) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, timeout_ms);
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr == 0) {
            snprintf(err, errsz, "no answer within %d ms", timeout_ms);
            return AD_ETIMEDOUT;
        }
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            snprintf(err, errsz, "read: %s", strerror(errno));
            return AD_EIO;
        }
        int rc = ad_cli_response_feed(r, buf, (size_t)n, err, errsz);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int ad_cli_http_ex(const char *sock, const char *token, const char *method, const char *path,
                   const char *accept, const char *extra, const char *body, size_t blen,
                   int timeout_ms, ad_cli_body_cb cb, void *ud, ad_cli_response_t *out, char *err,
                   size_t errsz)
{
    int fd = -1;
    ad_cli_response_init(out, cb, ud);
    int rc = connect_unix(sock, &fd, err, errsz);
    if (rc == 0) {
        rc = send_request(fd, token, method, path, accept, extra, body, blen, err, errsz);
    }
    if (rc == 0) {
        rc = read_response(fd, out, timeout_ms, err, errsz);
    }
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

int ad_cli_http(const char *sock, const char *token, const char *method, const char *path,
                const char *accept, const char *body, size_t blen, int timeout_ms,
                ad_cli_body_cb cb, void *ud, long *status, char *err, size_t errsz)
{
    ad_cli_response_t r;
    int rc = ad_cli_http_ex(sock, token, method, path, accept, NULL, body, blen, timeout_ms, cb, ud,
                            &r, err, errsz);
    *status = r.status;
    return rc;
}

int ad_cli_http_open(const char *sock, const char *token, const char *path, const char *accept,
                     int *fd_out, char *err, size_t errsz)
{
    int fd = -1;
    int rc = connect_unix(sock, &fd, err, errsz);
    if (rc == 0) {
        rc = send_request(fd, token, "GET", path, accept, NULL, NULL, 0, err, errsz);
    }
    if (rc != 0 && fd >= 0) {
        close(fd);
        fd = -1;
    }
    *fd_out = fd;
    return rc;
}
