/* SPDX-License-Identifier: MIT */
/*
 * TLS for the TCP listener (--tls-cert, --tls-key), on a session of
 * src/tls that works on memory and never touches the socket: libuv reads
 * ciphertext, we feed it in and hand the plain bytes to the same input
 * path as plain TCP, and every write is encrypted whole and handed to
 * libuv as one uv_write, so the write path above keeps its ordering and
 * callbacks. OpenSSL itself is agentd-tls.so, loaded by the listener's
 * context (an agentd without --tls-cert never maps it). The unix socket
 * never has TLS.
 *
 * Threads: loop thread only.
 */
#include "http/http_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    ad_tls_t *s;
    bool started; /* the first bytes have come */
} tls_conn_t;

/* One uv_write of ciphertext. orig is the caller's request (NULL for bytes
 * only the handshake wanted); its callback runs when ours does. */
typedef struct {
    uv_write_t wr;
    uv_write_t *orig;
    uv_write_cb cb;
    char data[];
} tls_write_t;

int ad_conn_tls_ctx(const char *cert, const char *key, ad_tls_ctx_t **out, char *err, size_t errsz)
{
    char why[4600];
    int rc = ad_tls_server_ctx(cert, key, out, why, sizeof(why));
    if (rc != 0) {
        snprintf(err, errsz, "--tls-cert, --tls-key: %s", why);
    }
    return rc;
}

int ad_conn_tls_start(ad_conn_t *c, ad_tls_ctx_t *t)
{
    ad_tls_t *s = ad_tls_new(t, NULL);
    if (s == NULL) {
        return AD_ENOMEM;
    }
    tls_conn_t *tc = ad_xcalloc(1, sizeof(*tc));
    tc->s = s;
    c->tls = tc;
    return 0;
}

void ad_conn_tls_free(ad_conn_t *c)
{
    tls_conn_t *tc = c->tls;
    if (tc != NULL) {
        ad_tls_free(tc->s);
        free(tc);
        c->tls = NULL;
    }
}

static void on_tls_written(uv_write_t *w, int status)
{
    tls_write_t *tw = w->data;
    uv_write_t *orig = tw->orig;
    uv_write_cb cb = tw->cb;
    ad_conn_t *c = w->handle->data;
    free(tw);
    if (orig != NULL) {
        cb(orig, status);
    } else if (status < 0 && !c->closing) {
        ad_conn_abort(c);
    }
}

/* Hands what TLS has produced to libuv. orig/cb: the caller's write,
 * completed with ours (NULL: handshake or alert bytes). */
static int send_pending(ad_conn_t *c, uv_write_t *orig, uv_write_cb cb)
{
    tls_conn_t *tc = c->tls;
    size_t n = ad_tls_pending(tc->s);
    if (n == 0 && orig == NULL) {
        return 0;
    }
    tls_write_t *tw = ad_xmalloc(sizeof(*tw) + n);
    tw->orig = orig;
    tw->cb = cb;
    tw->wr.data = tw;
    if (n > 0 && ad_tls_take(tc->s, tw->data, n) != n) {
        free(tw);
        return UV_EIO;
    }
    uv_buf_t b = uv_buf_init(tw->data, (unsigned)n);
    if (orig != NULL) {
        orig->handle = &c->h.stream;
    }
    int rc = uv_write(&tw->wr, &c->h.stream, &b, 1, on_tls_written);
    if (rc != 0) {
        free(tw);
    }
    return rc;
}

int ad_conn_tls_write(ad_conn_t *c, uv_write_t *req, const uv_buf_t *bufs, unsigned n,
                      uv_write_cb cb)
{
    tls_conn_t *tc = c->tls;
    for (unsigned i = 0; i < n; i++) {
        if (bufs[i].len > 0 && ad_tls_write(tc->s, bufs[i].base, bufs[i].len) != 0) {
            return UV_EIO;
        }
    }
    return send_pending(c, req, cb);
}

/* Plain HTTP sent to the TLS port gets a plain answer saying so, rather
 * than a connection closed without a word. */
static void plain_http_refused(ad_conn_t *c)
{
    static const char body[] = "{\"error\":{\"code\":\"TLS_REQUIRED\",\"message\":"
                               "\"this agentd speaks https: use an https:// URL\","
                               "\"details\":{}}}";
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      sizeof(body) - 1);
    uv_buf_t b[2] = {uv_buf_init(head, (unsigned)hl), uv_buf_init((char *)body, sizeof(body) - 1)};
    uv_try_write(&c->h.stream, b, 2);
    ad_conn_abort(c);
}

void ad_conn_tls_input(ad_conn_t *c, ssize_t n, const char *data)
{
    tls_conn_t *tc = c->tls;
    if (n <= 0) {
        ad_conn_on_input(c, n, data);
        return;
    }
    if (!tc->started) {
        tc->started = true;
        /* A TLS connection opens with a handshake record (0x16); a
         * request line opens with a method in capitals. */
        if (data[0] >= 'A' && data[0] <= 'Z') {
            plain_http_refused(c);
            return;
        }
    }
    if (ad_tls_feed(tc->s, data, (size_t)n) != 0) {
        ad_conn_abort(c);
        return;
    }
    char *plain = c->srv->tlsbuf;
    while (!c->closing) {
        char why[300];
        ssize_t got = ad_tls_read(tc->s, plain, sizeof(c->srv->tlsbuf), why, sizeof(why));
        if (got > 0) {
            ad_conn_on_input(c, got, plain);
            continue;
        }
        if (got == 0) {
            break; /* needs more ciphertext */
        }
        if (got == AD_ECLOSED) {
            send_pending(c, NULL, NULL);
            ad_conn_on_input(c, UV_EOF, NULL); /* close_notify: an orderly end */
            return;
        }
        /* Not TLS, a failed handshake, a bad record: send the alert
         * TLS made, then close. Logged quietly: scanners do this. */
        ad_log(AD_LOG_DEBUG, "http", "tls failed error=\"%s\"", why);
        send_pending(c, NULL, NULL);
        ad_conn_finish(c);
        return;
    }
    /* Handshake messages and session tickets go out now. */
    if (!c->closing && send_pending(c, NULL, NULL) != 0) {
        ad_conn_abort(c);
    }
}

void ad_conn_tls_close_notify(ad_conn_t *c)
{
    tls_conn_t *tc = c->tls;
    if (tc != NULL && ad_tls_established(tc->s)) {
        ad_tls_close_notify(tc->s);
        send_pending(c, NULL, NULL);
    }
}
