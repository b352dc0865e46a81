/* SPDX-License-Identifier: MIT */
/*
 * Server-Sent Events: turns a request into an open text/event-stream
 * response, formats events (id/event/data lines), sends keep-alive comments,
 * and bounds what a slow reader may have queued. The stream is delimited by
 * the connection's close, so the connection carries nothing else: the
 * stream takes it over (ad_req_take_over) like any other protocol would.
 */
#include "http/http.h"

#include <stdlib.h>
#include <string.h>

#define SSE_KEEPALIVE_MS 15000

struct ad_sse {
    ad_conn_t *conn;
    ad_sse_close_cb on_close;
    void *ud;
    char *last_id;
    ad_buf_t backlog; /* events sent before the response head went out */
    bool head_written;
    bool closed;
};

static void sse_tick(void *ud)
{
    ad_sse_t *sse = ud;
    if (sse->head_written) {
        static const char ka[] = ": keep-alive\n\n";
        ad_conn_write_ref(sse->conn, ka, sizeof(ka) - 1, NULL, NULL);
    }
}

/* The head is out: what was sent before it follows. */
static void sse_head_written(void *ud)
{
    ad_sse_t *sse = ud;
    sse->head_written = true;
    if (sse->backlog.len > 0) {
        ad_conn_write_copy(sse->conn, sse->backlog.data, sse->backlog.len);
    }
    ad_buf_cleanup(&sse->backlog);
}

static void sse_conn_closed(void *ud)
{
    ad_sse_t *sse = ud;
    sse->closed = true;
    if (sse->on_close != NULL) {
        sse->on_close(sse, sse->ud);
    }
    ad_buf_cleanup(&sse->backlog);
    free(sse->last_id);
    free(sse);
}

static const ad_conn_ops_t sse_ops = {
    .on_read = NULL, /* the client has nothing to say on an event stream */
    .on_head_written = sse_head_written,
    .on_close = sse_conn_closed,
    .on_server_close = NULL, /* finished at once */
};

ad_sse_t *ad_sse_start(ad_req_t *r, ad_sse_close_cb on_close, void *ud)
{
    if (ad_req_is_answered(r)) {
        return NULL;
    }
    ad_sse_t *sse = ad_xcalloc(1, sizeof(*sse));
    sse->on_close = on_close;
    sse->ud = ud;
    const char *lid = ad_req_header(r, "last-event-id");
    if (lid != NULL) {
        sse->last_id = ad_xstrdup(lid);
    }
    ad_res_header(r, "Cache-Control", "no-cache");
    ad_res_header(r, "X-Accel-Buffering", "no");
    ad_conn_t *c = ad_req_take_over(r, 200, "text/event-stream; charset=utf-8", &sse_ops, sse);
    if (c == NULL) {
        free(sse->last_id);
        free(sse);
        ad_res_send(r, 410, NULL, NULL, 0); /* releases the request */
        return NULL;
    }
    sse->conn = c;
    if (!sse->head_written) {
        ad_buf_init(&sse->backlog, ad_conn_config(c)->ws_send_queue_bytes);
    }
    ad_conn_timer(c, SSE_KEEPALIVE_MS, SSE_KEEPALIVE_MS, sse_tick);
    return sse;
}

const char *ad_sse_last_event_id(const ad_sse_t *sse)
{
    return sse->last_id;
}

size_t ad_sse_queued_bytes(const ad_sse_t *sse)
{
    if (sse->closed) {
        return 0;
    }
    return sse->backlog.len + ad_conn_queued(sse->conn);
}

int ad_sse_pressure(const ad_sse_t *sse)
{
    return sse->closed ? 0 : ad_conn_pressure(sse->conn);
}

/* Appends "name: value\n" for each line of value. */
static int put_field(ad_buf_t *b, const char *name, const char *v, size_t len)
{
    size_t nl = strlen(name);
    const char *p = v;
    const char *end = v + len;
    do {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        size_t n = e != NULL ? (size_t)(e - p) : (size_t)(end - p);
        size_t m = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
        if (ad_buf_append(b, name, nl) != 0 || ad_buf_append(b, ": ", 2) != 0 ||
            ad_buf_append(b, p, m) != 0 || ad_buf_putc(b, '\n') != 0) {
            return AD_ETOOBIG;
        }
        p = e != NULL ? e + 1 : end;
    } while (p < end);
    return 0;
}

int ad_sse_send(ad_sse_t *sse, const char *id, const char *event, const char *data, size_t len)
{
    if (sse->closed || !ad_conn_writable(sse->conn)) {
        return AD_ECLOSED;
    }
    if ((id != NULL && strpbrk(id, "\r\n") != NULL) ||
        (event != NULL && strpbrk(event, "\r\n") != NULL)) {
        return AD_EINVAL;
    }
    size_t bound = ad_conn_config(sse->conn)->ws_send_queue_bytes;
    ad_buf_t b;
    ad_buf_init(&b, bound);
    int rc = 0;
    if (id != NULL) {
        rc = put_field(&b, "id", id, strlen(id));
    }
    if (rc == 0 && event != NULL) {
        rc = put_field(&b, "event", event, strlen(event));
    }
    if (rc == 0) {
        rc = put_field(&b, "data", data != NULL ? data : "", data != NULL ? len : 0);
    }
    if (rc == 0) {
        rc = ad_buf_putc(&b, '\n');
    }
    if (rc == 0 && ad_sse_queued_bytes(sse) + b.len > bound) {
        rc = AD_ETOOBIG;
    }
    if (rc != 0) {
        ad_buf_cleanup(&b);
        ad_log(AD_LOG_WARN, "http", "event stream over its queue bound, closing queued=%zu",
               ad_sse_queued_bytes(sse));
        ad_sse_close(sse);
        return AD_ETOOBIG;
    }
    if (!sse->head_written) {
        rc = ad_buf_append(&sse->backlog, b.data, b.len);
    } else {
        size_t n;
        char *p = ad_buf_detach(&b, &n);
        rc = ad_conn_write_ref(sse->conn, p, n, free, p);
        if (rc != 0) {
            free(p);
        }
    }
    ad_buf_cleanup(&b);
    return rc;
}

void ad_sse_close(ad_sse_t *sse)
{
    if (sse->closed) {
        return;
    }
    sse->closed = true;
    ad_conn_finish(sse->conn);
}
