/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http and src/ws: the server, connection and request
 * structures, the write path and the hooks the WebSocket and SSE code use to
 * take over a connection. Nothing outside those two folders includes this.
 *
 * Threads: loop thread only.
 */
#ifndef AD_HTTP_INT_H
#define AD_HTTP_INT_H

#include <http_parser.h>

#include "http/http.h"

typedef struct ad_conn ad_conn_t;
typedef struct ad_ws_route ad_ws_route_t;

/* ---- routes ---------------------------------------------------------------- */
#define AD_ROUTE_MAX_SEGS 16
#define AD_ROUTE_MAX_PARAMS 8

typedef struct {
    char method[12];
    char *pattern; /* owned copy */
    char *segs[AD_ROUTE_MAX_SEGS];
    unsigned nsegs;
    ad_handler_cb cb;
    void *ud;
    void *owned; /* freed with the server (WebSocket route data) */
} ad_route_t;

/* ---- embedded assets (generated into $(O)/gen/assets.c by tools/embed) --- */
typedef struct {
    const char *path; /* "/index.html" */
    const unsigned char *data;
    size_t len;
    const unsigned char *gz; /* NULL when gzip does not pay off */
    size_t gzlen;
    const char *etag; /* strong, quoted */
    const char *ctype;
    int immutable; /* a hashed name: cache for a year */
} ad_asset_t;
extern const ad_asset_t ad_assets[];
extern const size_t ad_assets_count;

/* ---- requests -------------------------------------------------------------- */
typedef struct {
    char *name;
    char *value;
} ad_kv_t;

typedef struct ad_resh {
    struct ad_resh *next;
    const char *line; /* "Name: value\r\n" in the arena */
    size_t len;
} ad_resh_t;

struct ad_req {
    ad_server_t *srv;
    ad_conn_t *conn; /* NULL once the client has gone */
    ad_req_t *next;  /* the connection's queue, oldest first */
    ad_arena_t arena;

    /* parsed request */
    const char *method;
    unsigned method_id;
    char *url;
    size_t url_len, url_cap;
    char *path;  /* decoded */
    char *query; /* raw, without '?', or NULL */
    ad_kv_t *hdrs;
    unsigned nhdrs, hdr_cap;
    size_t fld_len, fld_cap, val_len, val_cap;
    size_t header_bytes;
    int last_cb; /* 0 none, 1 field, 2 value */
    ad_buf_t body;
    ad_kv_t params[AD_ROUTE_MAX_PARAMS];
    unsigned nparams;
    ad_kv_t *qs;
    unsigned nqs;
    bool qs_parsed;
    void *data;

    /* response */
    ad_resh_t *res_hdrs, *res_hdrs_tail;
    uv_buf_t out[2];
    unsigned nout;
    uv_write_t wr;
    int status;
    bool keep_alive;
    bool head;
    bool answered;
    bool headers_done;
    bool upgrade;
    bool cors; /* Origin is allowed: add CORS headers */
};

/* ---- connections ------------------------------------------------------------ */
enum { AD_CONN_HTTP = 0, AD_CONN_WS, AD_CONN_SSE };

struct ad_conn {
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    uv_timer_t timer;
    ad_server_t *srv;
    ad_conn_t *prev, *next; /* the server's list */
    http_parser parser;
    ad_req_t *cur;            /* being parsed */
    ad_req_t *qhead, *qtail;  /* waiting to be written, in order */
    unsigned nqueued;         /* requests in the queue */
    unsigned nwriting;        /* uv_write requests in flight */
    ad_buf_t stash;           /* unparsed input while parsing is paused */
    const char *upgrade_rest; /* bytes after an upgrade request */
    size_t upgrade_len;
    void *ws;      /* ad_ws_t when upgraded */
    ad_sse_t *sse; /* when streaming events */
    int kind;
    int timer_mode;
    bool reading;
    bool paused;  /* parsing paused: too many requests in flight */
    bool no_more; /* no further requests are read (close after the queue) */
    bool peer_eof;
    bool closing;   /* uv_close called */
    bool shutting;  /* uv_shutdown called */
    bool lingering; /* after shutdown: discard input until EOF or the timer */
    bool is_pipe;
    int nclose;     /* handles still to close before the struct is freed */
    int err_status; /* set by a parser callback that refuses the request */
    const char *err_code;
    const char *err_msg;
    ad_req_t *done; /* the request on_message_complete just finished */
    /* WebSocket/SSE writes queued this loop turn, oldest first; written
     * together (one writev) by the server's flush before the loop polls. */
    struct ad_wout *whead, *wtail;
    size_t wbytes;         /* bytes in that queue */
    ad_conn_t *dirty_next; /* the server's list of connections to flush */
    bool dirty;            /* on that list */
    int werr;              /* a write failed: closed by the next flush */
};

struct ad_server {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    bool tcp_open, pipe_open;
    int port;
    char sock_path[4096];
    ad_route_t *routes;
    size_t nroutes, routes_cap;
    char **cors;
    size_t ncors;
    ad_conn_t *conns;
    size_t nconns;
    ad_req_t *free_reqs;
    size_t nfree_reqs;
    struct ad_wout *free_wouts; /* linked through ->next */
    size_t nfree_wouts;
    ad_conn_t *dirty;         /* connections with queued writes */
    struct ad_wflush *wflush; /* prepare+check handles that flush them */
    char rbuf[65536];         /* one read buffer for the whole loop */
    char date[64];
    size_t date_len;
    int64_t date_sec;
    /* shutdown */
    bool closing;
    uv_timer_t grace;
    bool grace_open;
    unsigned open_handles; /* listeners and the grace timer still to close */
    void (*done)(void *ud);
    void *done_ud;
    bool done_called;
};

/* ---- shared between http and ws ---------------------------------------------- */
/* A queued write that owns its bytes (or refers to a shared WebSocket
 * message). Writes queued to one connection within a loop turn go out
 * together, in order, as one writev from a prepare/check handle. */
typedef struct ad_wout {
    struct ad_wout *next;
    void (*release)(void *msg); /* called once the bytes are written */
    void *msg;
    uv_buf_t buf;
    bool copy; /* bytes in data[] (not pooled) */
    char data[];
} ad_wout_t;

/* Writes bytes on conn (copied). Returns 0 or AD_ECLOSED. The bytes are
 * queued and leave, in queue order, before the loop next waits for I/O
 * (or before any HTTP response or shutdown queued later). */
int ad_conn_write_copy(ad_conn_t *c, const void *p, size_t n);
/* Writes n bytes at p that stay valid until release(msg) is called once
 * the write is done (release may be NULL). On failure (AD_ECLOSED) nothing
 * is taken: release is not called and the caller keeps msg. Neither write
 * function closes the connection itself, so both are safe inside wslay
 * callbacks. */
int ad_conn_write_ref(ad_conn_t *c, const void *p, size_t n, void (*release)(void *), void *msg);
/* Writes every answered request at the head of the queue. */
void ad_conn_flush(ad_conn_t *c);
/* Bytes queued or handed to the socket and not yet written. */
size_t ad_conn_queued(const ad_conn_t *c);
/* Closes after pending writes (lingering close). */
void ad_conn_finish(ad_conn_t *c);
/* Closes now; pending writes are dropped. */
void ad_conn_abort(ad_conn_t *c);
/* (Re)arms the connection's timer. */
void ad_conn_timer(ad_conn_t *c, uint64_t ms, uint64_t repeat, uv_timer_cb cb);

/* Internal response paths. body is copied unless nocopy. */
void ad_res_send_ex(ad_req_t *r, int status, const char *ctype, const void *body, size_t len,
                    bool nocopy);
const char *ad_http_reason(int status);
/* Router internals (router.c). */
int ad_route_compile(ad_route_t *rt, const char *method, const char *pattern);
void ad_route_cleanup(ad_route_t *rt);
/* Matches path against rt; fills params (decoded, in the arena) when it
 * matches. Returns 1 on match, 0 otherwise, AD_ENOMEM past the arena cap. */
int ad_route_match(const ad_route_t *rt, const char *path, ad_arena_t *a, ad_kv_t *params,
                   unsigned *nparams);
/* Percent-decodes s[0..n) into out (n+1 bytes); plus_space turns '+' into
 * ' '. Returns the decoded length, or -1 on a bad escape or a NUL byte. */
ssize_t ad_pct_decode(const char *s, size_t n, char *out, bool plus_space);
/* Parses a query string into pairs in the arena. Returns the count or
 * AD_EINVAL / AD_ENOMEM. */
int ad_query_parse(const char *q, ad_arena_t *a, ad_kv_t **out, unsigned max);
/* Serves an embedded asset for a GET/HEAD that no route matched. */
void ad_static_serve(ad_req_t *r);
/* Date header value, cached per second. */
const char *ad_http_date(ad_server_t *s, size_t *len);
/* Comma-separated token list contains tok (case-insensitive). */
bool ad_http_has_token(const char *list, const char *tok);

/* SSE hooks (sse.c) */
void ad_sse_on_head_written(ad_sse_t *sse);
void ad_sse_on_conn_close(ad_sse_t *sse);
/* WebSocket hooks (ws.c) */
void ad_ws_on_read(void *ws, const char *data, size_t len);
void ad_ws_on_conn_close(void *ws);
void ad_ws_on_server_close(void *ws);
/* Takes over c after a 101 answer has been queued. */
void ad_conn_upgraded(ad_conn_t *c, void *ws);

#endif
