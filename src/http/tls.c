/* SPDX-License-Identifier: MIT */
/*
 * TLS for the TCP listener (--tls-cert, --tls-key). OpenSSL works on memory
 * BIOs and never touches the socket: libuv reads ciphertext into rbio, we
 * decrypt and hand the plain bytes to the same input path as plain TCP,
 * and every write is encrypted whole into wbio and handed to libuv as one
 * uv_write, so the write path above keeps its ordering and callbacks.
 * The unix socket never has TLS.
 *
 * Threads: loop thread only.
 */
#include "http/http_int.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

struct ad_tls_ctx {
    SSL_CTX *ctx;
};

typedef struct {
    SSL *ssl;
    BIO *rbio;    /* ciphertext from the peer, owned by ssl */
    BIO *wbio;    /* ciphertext to the peer, owned by ssl */
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

static void ssl_error(const char *what, char *err, size_t errsz)
{
    unsigned long e = ERR_get_error();
    char msg[256] = "";
    if (e != 0) {
        ERR_error_string_n(e, msg, sizeof(msg));
    }
    snprintf(err, errsz, "%s%s%s", what, msg[0] ? ": " : "", msg);
    ERR_clear_error();
}

int ad_tls_ctx_new(const char *cert, const char *key, ad_tls_ctx_t **out, char *err, size_t errsz)
{
    *out = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        ssl_error("cannot create a TLS context", err, errsz);
        return AD_EIO;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    char what[4200];
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(what, sizeof(what), "cannot load --tls-cert %s", cert);
        ssl_error(what, err, errsz);
        SSL_CTX_free(ctx);
        return AD_EINVAL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        snprintf(what, sizeof(what), "cannot load --tls-key %s", key);
        ssl_error(what, err, errsz);
        SSL_CTX_free(ctx);
        return AD_EINVAL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_error("--tls-key does not match --tls-cert", err, errsz);
        SSL_CTX_free(ctx);
        return AD_EINVAL;
    }
    ad_tls_ctx_t *t = ad_xcalloc(1, sizeof(*t));
    t->ctx = ctx;
    *out = t;
    return 0;
}

void ad_tls_ctx_free(ad_tls_ctx_t *t)
{
    if (t != NULL) {
        SSL_CTX_free(t->ctx);
        free(t);
    }
}

int ad_tls_conn_start(ad_conn_t *c, ad_tls_ctx_t *t)
{
    tls_conn_t *s = ad_xcalloc(1, sizeof(*s));
    s->ssl = SSL_new(t->ctx);
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    if (s->ssl == NULL || s->rbio == NULL || s->wbio == NULL) {
        BIO_free(s->rbio);
        BIO_free(s->wbio);
        SSL_free(s->ssl);
        free(s);
        ERR_clear_error();
        return AD_ENOMEM;
    }
    SSL_set_bio(s->ssl, s->rbio, s->wbio); /* ssl owns both now */
    SSL_set_accept_state(s->ssl);
    c->tls = s;
    return 0;
}

void ad_tls_conn_free(ad_conn_t *c)
{
    tls_conn_t *s = c->tls;
    if (s != NULL) {
        SSL_free(s->ssl);
        free(s);
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

/* Hands what OpenSSL has produced to libuv. orig/cb: the caller's write,
 * completed with ours (NULL: handshake or alert bytes). */
static int send_pending(ad_conn_t *c, uv_write_t *orig, uv_write_cb cb)
{
    tls_conn_t *s = c->tls;
    size_t n = BIO_ctrl_pending(s->wbio);
    if (n == 0 && orig == NULL) {
        return 0;
    }
    tls_write_t *tw = ad_xmalloc(sizeof(*tw) + n);
    tw->orig = orig;
    tw->cb = cb;
    tw->wr.data = tw;
    if (n > 0 && BIO_read(s->wbio, tw->data, (int)n) != (int)n) {
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

int ad_tls_write(ad_conn_t *c, uv_write_t *req, const uv_buf_t *bufs, unsigned n, uv_write_cb cb)
{
    tls_conn_t *s = c->tls;
    for (unsigned i = 0; i < n; i++) {
        if (bufs[i].len == 0) {
            continue;
        }
        /* A memory BIO takes everything: SSL_write never wants to wait. */
        if (SSL_write(s->ssl, bufs[i].base, (int)bufs[i].len) != (int)bufs[i].len) {
            ERR_clear_error();
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

void ad_tls_on_input(ad_conn_t *c, ssize_t n, const char *data)
{
    tls_conn_t *s = c->tls;
    if (n <= 0) {
        ad_conn_on_input(c, n, data);
        return;
    }
    if (!s->started) {
        s->started = true;
        /* A TLS connection opens with a handshake record (0x16); a
         * request line opens with a method in capitals. */
        if (data[0] >= 'A' && data[0] <= 'Z') {
            plain_http_refused(c);
            return;
        }
    }
    if (BIO_write(s->rbio, data, (int)n) != (int)n) {
        ad_conn_abort(c);
        return;
    }
    char *plain = c->srv->tlsbuf;
    while (!c->closing) {
        int got = SSL_read(s->ssl, plain, (int)sizeof(c->srv->tlsbuf));
        if (got > 0) {
            ad_conn_on_input(c, got, plain);
            continue;
        }
        int e = SSL_get_error(s->ssl, got);
        if (e == SSL_ERROR_WANT_READ) {
            break; /* needs more ciphertext */
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            send_pending(c, NULL, NULL);
            ad_conn_on_input(c, UV_EOF, NULL); /* close_notify: an orderly end */
            return;
        }
        /* Not TLS, a failed handshake, a bad record: send the alert
         * OpenSSL made, then close. Logged quietly: scanners do this. */
        unsigned long why = ERR_peek_error();
        char msg[160] = "";
        if (why != 0) {
            ERR_error_string_n(why, msg, sizeof(msg));
        }
        ERR_clear_error();
        ad_log(AD_LOG_DEBUG, "http", "tls failed error=\"%s\"", msg);
        send_pending(c, NULL, NULL);
        ad_conn_finish(c);
        return;
    }
    /* Handshake messages and session tickets go out now. */
    if (!c->closing && send_pending(c, NULL, NULL) != 0) {
        ad_conn_abort(c);
    }
}

void ad_tls_close_notify(ad_conn_t *c)
{
    tls_conn_t *s = c->tls;
    if (s != NULL && SSL_is_init_finished(s->ssl)) {
        SSL_shutdown(s->ssl);
        ERR_clear_error();
        send_pending(c, NULL, NULL);
    }
}
