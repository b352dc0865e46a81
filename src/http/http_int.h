/* SPDX-License-Identifier: MIT */
/*
 * Private to src/http: the server, connection and request structures and
 * the functions the files of this folder share (request pool, parser,
 * router, write queue). Nothing outside src/http includes this (unit tests
 * and the fuzz harnesses excepted).
 *
 * Threads: loop thread only.
 */
#ifndef AD_HTTP_INT_H
#define AD_HTTP_INT_H

/* A connection written less than this ago, whose oldest queued write is
 * younger than this too, waits before its next write (write.c). */
#define AD_HTTP_LINGER_NS 500000u
/* A connection whose wait gathered nothing more does not wait for this
 * long: its reader is waiting for what it was sent (write.c). */
#define AD_HTTP_LINGER_OFF_NS 100000000u

#include <http_parser.h>
#include <sys/uio.h>

#include "http/http.h"
#include "tls/tls.h"

/* Requests read ahead of their responses before parsing pauses. */
#define AD_HTTP_PIPELINE_MAX 32
/* How long a connection accepted just before a shutdown may take to send its
 * first request (then it is answered and closed). */
#define AD_HTTP_CLOSE_FRESH_MS 1000

/* ---- routes ---------------------------------------------------------------- */
#define AD_ROUTE_MAX_SEGS 16
#define AD_ROUTE_MAX_PARAMS 8

/* Answers counted by status, for /metrics: the first AD_HTTP_STATUSES
 * distinct statuses each get a slot; any other lands in the last (0). */
#define AD_HTTP_STATUSES 12
typedef struct {
    uint16_t status[AD_HTTP_STATUSES];
    uint64_t count[AD_HTTP_STATUSES];
} ad_http_counts_t;
void ad_http_count(ad_http_counts_t *c, int status);

typedef struct {
    char method[12];
    char *pattern; /* owned copy */
    ad_http_counts_t counts;
    char *segs[AD_ROUTE_MAX_SEGS];
    unsigned nsegs;
    ad_access_t access;
    /* ad_server_route_upgrade(): the protocol an Upgrade header must name
     * for this route to match (owned copy); NULL for every other route */
    char *upgrade;
    ad_handler_cb cb;
    void *ud;
} ad_route_t;

/* ---- embedded assets (generated into $(O)/gen/assets.c by tools/embed) --- */
typedef struct {
    const char *path;          /* "/index.html" */
    const unsigned char *data; /* NULL when only the gzip copy is kept */
    size_t len;                /* the file's size */
    const unsigned char *gz;   /* NULL when gzip does not pay off */
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
    const char *line; /* "Name: value\r\n" in the arena, or constant lines (ad_res_header_lines) */
    size_t len;
} ad_resh_t;

struct ad_req {
    ad_server_t *srv;
    ad_conn_t *conn; /* NULL once the client has gone */
    ad_req_t *next;  /* the connection's queue, oldest first */
    ad_arena_t arena;
    char *owned_body; /* an answer's body taken by ad_res_send_buf, or NULL */

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
    const void *auth;        /* the guard's (ad_req_set_auth) */
    const char *note;        /* for the audit (ad_req_set_note), in the arena */
    const ad_route_t *route; /* matched, or NULL */
    bool dialect;            /* came in under the server's dialect prefix */
    /* body bytes counted under the peer's address (caps.c) */
    struct ad_cap_peer *cap_peer;
    size_t cap_bytes;

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
    /* an in-process call (call.c): who gets the answer, and the peer
     * name the audit sees; NULL for a request from a connection */
    ad_http_call_cb call_cb;
    void *call_ud;
    const char *call_peer;
};

/* ---- connections ------------------------------------------------------------ */
/* HTTP requests, or taken over (ad_req_take_over) by another protocol. */
enum { AD_CONN_HTTP = 0, AD_CONN_TAKEN };
/* What the connection's timer is for. */
enum { AD_TM_NONE = 0, AD_TM_HEADER, AD_TM_BODY, AD_TM_IDLE, AD_TM_LINGER, AD_TM_OWNER };

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
    ad_req_t *cur;           /* being parsed */
    ad_req_t *qhead, *qtail; /* waiting to be written, in order */
    unsigned nqueued;        /* requests in the queue */
    unsigned nwriting;       /* uv_write requests in flight */
    ad_buf_t stash;          /* unparsed input while parsing is paused */
    /* when taken over: the new owner, and the request whose answer is the
     * head (until it is written) */
    const ad_conn_ops_t *ops;
    void *ops_ud;
    ad_req_t *head_req;
    ad_conn_timer_cb owner_timer; /* AD_TM_OWNER's callback (NULL: abort) */
    int kind;
    int timer_mode;
    /* The client's timers are lazy (conn.c, ad_conn_set_timer): due is when
     * the mode's time is up, armed when c->timer fires (UINT64_MAX for an
     * owner's timer), both in the loop's milliseconds. */
    uint64_t due;
    uint64_t armed;
    /* header, body and idle timers that found the peer's bytes waiting
     * unread (conn.c, peer_waiting); back to 0 with each whole request */
    unsigned graces;
    bool reading;
    bool in_input; /* in ad_conn_on_input's parse (write.c starts no idle timer) */
    bool paused;   /* parsing paused: too many requests in flight */
    bool no_more;  /* no further requests are read (close after the queue) */
    bool began;    /* a request has begun on it (a new one has sent nothing yet) */
    bool peer_eof;
    bool closing;   /* uv_close called */
    bool shutting;  /* uv_shutdown called */
    bool lingering; /* after shutdown: discard input until EOF or the timer */
    bool is_pipe;
    void *tls;      /* the TLS session (tls.c), or NULL for plain TCP and pipes */
    char peer[48];  /* the peer's address, read once by ad_req_peer ("": not yet) */
    int nclose;     /* handles still to close before the struct is freed */
    int err_status; /* set by a parser callback that refuses the request */
    const char *err_code;
    const char *err_msg;
    ad_req_t *done; /* the request on_message_complete just finished */
    /* WebSocket/SSE writes queued this loop turn, oldest first; written
     * together (one writev) by the server's flush before the loop polls.
     * NULL while nothing is queued (an idle connection holds no array). */
    struct ad_wq *wq;
    size_t wbytes;         /* bytes in that queue */
    uint64_t wfirst_ns;    /* uv_hrtime when its oldest queued write came */
    uint64_t wlast_ns;     /* uv_hrtime of its last write (write.c's linger) */
    size_t wheld;          /* wbytes when its queue began to linger (0: not held) */
    uint64_t wnohold_ns;   /* uv_hrtime until which it does not linger */
    ad_conn_t *dirty_next; /* the server's list of connections to flush */
    bool dirty;            /* on that list */
    int werr;              /* a write failed: closed by the next flush */
    /* Bytes this connection's writes keep allocated until written: a
     * cork's whole capacity, not what was written into it, and a shared
     * frame's length (ad_conn_queued; write.c). */
    size_t pinned;
    unsigned nbatch;              /* uv_writes of queued buffers in flight */
    struct ad_cap_peer *cap_peer; /* its address's counts (caps.c), or NULL */
    /* its credential's counts (caps.c): as a connection, from its first
     * request with a credential; as a WebSocket, from the upgrade */
    struct ad_cap_cred *cap_cred, *ws_cred;
    /* Not yet counted under a credential (caps.c): pending within the caps
     * for those (per address, server-wide); past them, on probation: its
     * first request must carry a valid credential, and the oldest on
     * probation gives way to a newer one. */
    bool pending, probation, prob_global;
    ad_conn_t *prob_prev, *prob_next;   /* the server's probation list, oldest first */
    ad_conn_t *pprob_prev, *pprob_next; /* its address's */
};

struct ad_server {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    bool tcp_open, pipe_open;
    int port;
    char sock_path[4096];
    int adopt_tcp, adopt_unix; /* listeners handed over (inherit.c), or -1 */
    bool sock_inherited;       /* sock_path is the service manager's: never unlinked */
    ad_route_t *routes;
    size_t nroutes, routes_cap;
    ad_http_counts_t unrouted; /* assets, 404s, preflights */
    void **owned;              /* ad_server_own(): freed with the server */
    size_t nowned;
    const ad_guard_t *guard;
    void *guard_ud;
    char dialect_prefix[32]; /* ad_server_set_dialect */
    ad_dialect_fn dialect;
    void *dialect_ud;
    ad_server_down_fn down; /* ad_server_set_down */
    void *down_ud;
    const char *const *down_exempt;
    ad_server_down_fn damaged; /* ad_server_set_damaged */
    void *damaged_ud;
    char **cors;
    size_t ncors;
    ad_conn_t *conns;
    size_t nconns;
    ad_req_t *free_reqs;
    size_t nfree_reqs;
    struct ad_wq *free_wqs; /* spare queue arrays, linked through ->next */
    size_t nfree_wqs;
    size_t wqs_out;              /* queue arrays held by connections now */
    size_t wqs_hw;               /* the most held at once since the last trim check */
    struct ad_wcopy *free_corks; /* spare corks, linked through ->next */
    size_t nfree_corks;
    size_t corks_out; /* corks queued or being written now */
    size_t corks_hw;  /* the most at once since the last trim check */
    ad_conn_t *dirty; /* connections with queued writes */
    /* Requests whose answers write.c wrote at once, put back by the turn's
     * flush: a handler may still read its request after it answers. */
    ad_req_t *written;
    size_t pinned;        /* every connection's pinned bytes (write.c) */
    size_t nunix;         /* connections over the unix socket (own budget) */
    struct ad_caps *caps; /* per-address and per-auth counts (caps.c) */
    uv_timer_t trim;      /* gives freed heap back after a burst (caps.c) */
    bool trim_open;
    size_t trim_free;               /* resident free heap bytes the last trim left (caps.c) */
    size_t trim_base;               /* resident bytes beside the heap at start */
    unsigned trim_ticks;            /* trim checks since listening, up to START_TRIM_TICKS */
    size_t pinned_hw;               /* highest pinned in the current trim check's second */
    size_t burst_hw;                /* highest of those seconds since the last trim */
    struct ad_wflush *wflush;       /* prepare+check handles that flush them */
    struct ad_sendbatch *sendbatch; /* the turn's sends in one io_uring_enter, or NULL */
    bool sendbatch_tried;           /* made once, at the first turn with two to send */
    uint64_t batched_sends;         /* sends that left through it (/metrics) */
    uint64_t linger_ns;             /* AD_HTTP_LINGER_NS (write.c); tests change it */
    uint64_t linger_off_ns;         /* AD_HTTP_LINGER_OFF_NS (write.c); tests change it */
    char rbuf[65536];               /* one read buffer for the whole loop */
    struct ad_tls_ctx *tls;         /* --tls-cert: the TCP listener speaks TLS */
    char tlsbuf[16384];             /* decrypted input (one TLS record at most) */
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

/* ---- TLS (tls.c) -------------------------------------------------------------------
 * A session of src/tls on memory: ciphertext in and out goes through
 * libuv, the plain bytes through the same paths as plain TCP. */
/* The listener's context from --tls-cert and --tls-key (loads
 * agentd-tls.so). 0, or AD_EINVAL/AD_EIO/AD_EINTERNAL with err naming the
 * options. */
int ad_conn_tls_ctx(const char *cert, const char *key, ad_tls_ctx_t **out, char *err, size_t errsz);
/* Gives an accepted connection its TLS session (c->tls). */
int ad_conn_tls_start(ad_conn_t *c, ad_tls_ctx_t *t);
/* Frees c->tls (the connection is gone). */
void ad_conn_tls_free(ad_conn_t *c);
/* Ciphertext (or EOF/error, n <= 0) from the peer: decrypts and feeds
 * ad_conn_on_input; answers the handshake; closes c on a TLS error. */
void ad_conn_tls_input(ad_conn_t *c, ssize_t n, const char *data);
/* uv_write of bufs through TLS: encrypted now, cb(req, status) when the
 * ciphertext is written. Returns 0 or a libuv error (cb then never runs). */
int ad_conn_tls_write(ad_conn_t *c, uv_write_t *req, const uv_buf_t *bufs, unsigned n,
                      uv_write_cb cb);
/* Sends close_notify (before the FIN of an orderly close). */
void ad_conn_tls_close_notify(ad_conn_t *c);

/* Every write of a connection's bytes goes through here. */
static inline int ad_conn_uv_write(ad_conn_t *c, uv_write_t *req, const uv_buf_t *bufs, unsigned n,
                                   uv_write_cb cb)
{
    if (c->tls != NULL) {
        return ad_conn_tls_write(c, req, bufs, n, cb);
    }
    return uv_write(req, &c->h.stream, bufs, n, cb);
}

/* ---- the write path (write.c) ----------------------------------------------------- */
/* The write queue of a WebSocket or SSE connection: the writes queued to it
 * within a loop turn go out together, in order, as one writev from a
 * prepare/check handle. */
/* Who owns a queued write's bytes: release(msg) once they are written, and
 * what the write counts in its connection's pinned bytes. */
typedef struct {
    void (*release)(void *msg);
    void *msg;
    size_t pin;
} ad_wref_t;

/* A connection's queued writes, oldest first: buf[head..tail) and their
 * owners ref[head..tail), both in the one allocation of this struct.
 * buf[] is handed to writev as it is. Held from the first write queued to
 * a connection until its flush has written all (or handed it to libuv),
 * then back to the server's spares: a fan-out turn touches one array per
 * connection, read and written in order, instead of a struct per frame. */
typedef struct ad_wq {
    struct ad_wq *next; /* the server's spares */
    unsigned head, tail, cap;
    uv_buf_t *buf;
    ad_wref_t *ref;
} ad_wq_t;

/* Bytes a write owns: a cork (small writes append to the queue's last one
 * while it has room) or one large write's copy. Its ad_wref_t's msg. */
typedef struct ad_wcopy {
    struct ad_wcopy *next; /* the server's spare corks */
    ad_server_t *srv;
    size_t cap; /* data[]'s size */
    char data[];
} ad_wcopy_t;

/* Writes every answered request at the head of c's queue. */
void ad_conn_flush(ad_conn_t *c);
/* Writes what is queued on c. Returns 0 or a libuv error; never closes c. */
int ad_conn_wqueue_flush(ad_conn_t *c);
/* The first slice of c's queue (which holds some): up to 256 buffers from
 * its head, what one sendmsg takes, and their bytes in *total. */
unsigned ad_conn_wq_slice(const ad_conn_t *c, uv_buf_t **bufs, size_t *total);
/* That slice, n buffers and total bytes, was offered to the socket, which
 * took w bytes (UV_EAGAIN: none): releases what went out whole, trims a
 * partly written buffer and hands the rest to libuv. Returns 0 or a libuv
 * error (kept in c->werr when the send failed). */
int ad_conn_wq_sent(ad_conn_t *c, unsigned n, size_t total, int w);
/* A send's result (bytes taken, or -errno) as the write path reads it:
 * the bytes, UV_EAGAIN for a full socket (EAGAIN, ENOBUFS), or the error. */
int ad_conn_sent_as_uv(int res);
/* Writes the queues of conns[0..n) (n at most AD_SENDBATCH_MAX): the first
 * slice of each that can go in one io_uring_enter together, then the rest
 * of each as ad_conn_wqueue_flush does; a connection whose write failed is
 * aborted (sendbatch.c). */
void ad_http_flush_conns(ad_server_t *s, ad_conn_t **conns, unsigned n);
/* Drops what is queued on c (it is closing). */
void ad_conn_wqueue_drop(ad_conn_t *c);
/* Closes the flush handles (the server is done with its connections). */
void ad_http_wflush_close(ad_server_t *s);
/* Frees the spare queue arrays and corks, and the send batch (ad_server_free). */
void ad_http_wqs_free(ad_server_t *s);
/* Once a second (caps.c): frees the spare queue arrays and corks beyond the
 * most that were in use at once since the last call, keeping
 * AD_HTTP_WQS_KEEP and AD_HTTP_CORKS_KEEP. */
#define AD_HTTP_WQS_KEEP 64
#define AD_HTTP_CORKS_KEEP 64
void ad_http_wqs_trim(ad_server_t *s);

/* ---- batched sends (sendbatch.c) ----------------------------------------------------
 * The turn's flush sends every dirty connection's first slice in one
 * io_uring_enter rather than a sendmsg each (--io-uring, on by default
 * where the kernel allows it). */
#define AD_SENDBATCH_MAX 256
typedef struct ad_sendbatch ad_sendbatch_t;
typedef struct {
    int fd;
    struct iovec *iov; /* the caller's, untouched until ad_sendbatch_run returns */
    unsigned niov;
} ad_sendbatch_item_t;
/* A batch for up to AD_SENDBATCH_MAX sends, or NULL with why filled in
 * when the kernel refuses io_uring (older than 5.6, kernel.io_uring_disabled,
 * a container's seccomp filter). Freed by ad_sendbatch_free. */
ad_sendbatch_t *ad_sendbatch_new(char *why, size_t whysz);
void ad_sendbatch_free(ad_sendbatch_t *b);
/* Whether b can take a batch (not NULL and its ring never failed). */
bool ad_sendbatch_usable(const ad_sendbatch_t *b);
/* Sends items[i] for i < n (at most AD_SENDBATCH_MAX) as sendmsg with
 * MSG_DONTWAIT | MSG_NOSIGNAL would, all in one system call, and waits
 * until each is done: res[i] is the bytes taken or -errno (-EAGAIN when
 * the socket is full), or -EINPROGRESS for a send not made (b not usable,
 * or its ring failed: the batch is unusable after), which the caller sends
 * the plain way. Returns how many items it looked at: n (at most
 * AD_SENDBATCH_MAX), or 0 when none was sent. */
unsigned ad_sendbatch_run(ad_sendbatch_t *b, const ad_sendbatch_item_t *items, int *res,
                          unsigned n);

/* ---- connections and requests (conn.c) ------------------------------------------- */
ad_req_t *ad_http_req_get(ad_server_t *s);
void ad_http_req_put(ad_req_t *r);
/* Frees the pooled requests (ad_server_free). */
void ad_http_reqs_free(ad_server_t *s);
/* response.c: r has its answer in r->out; queue it (or drop it). */
void ad_http_req_answered(ad_req_t *r);
/* A new connection on the server's list; pipe: a unix-socket one. */
ad_conn_t *ad_conn_new(ad_server_t *s, bool pipe);
/* The connection's timer for mode (AD_TM_*), ms from now; stop: none. */
void ad_conn_set_timer(ad_conn_t *c, int mode, uint64_t ms);
void ad_conn_stop_timer(ad_conn_t *c);
/* Bytes read from the peer (n > 0), or its EOF or a read error (n < 0). */
void ad_conn_on_input(ad_conn_t *c, ssize_t n, const char *data);
void ad_conn_start_reading(ad_conn_t *c);
void ad_conn_stop_reading(ad_conn_t *c);
/* Parsing paused for too many requests in flight: resume when it may. */
void ad_conn_resume_parsing(ad_conn_t *c);
/* Nothing parsed, queued or being written: arm the idle timer or close. */
void ad_conn_idle(ad_conn_t *c);
/* The listeners' connection callback. */
void ad_http_on_connection(uv_stream_t *server, int status);

/* ---- parsing (parse.c) and routing (router.c) ------------------------------------- */
extern const http_parser_settings ad_http_parser_settings;
/* Feeds bytes read from the peer to c's parser, dispatching each request. */
void ad_http_parse_input(ad_conn_t *c, const char *data, size_t len);
/* Matches r's route now (its headers are in, its body is not) and keeps it
 * for the dispatch; the access it needs (PUBLIC when none matches). */
ad_access_t ad_http_route_access(ad_server_t *s, ad_req_t *r);
/* The route for r's method and path (a GET route for HEAD), with r's
 * params filled; else NULL, with the methods the path has in allow. */
const ad_route_t *ad_http_find_route(ad_server_t *s, ad_req_t *r, char *allow, size_t cap,
                                     size_t *alen);
/* Finds the handler for r and runs it; answers 404/405/OPTIONS itself. */
void ad_http_route_request(ad_server_t *s, ad_req_t *r);

/* ---- caps (caps.c) ------------------------------------------------------------------
 * Counted per connection, never per request. */
/* Reads a TCP connection's peer address into c->peer and counts it under
 * that address, as pending (no credential yet) or, past
 * cfg->max_connections_per_address pending from its address or
 * cfg->max_connections pending in all, on probation (the oldest on
 * probation closed when as many are). Connections that carry a credential
 * are never counted here, so a flood without one cannot shut them out. */
void ad_http_caps_conn_open(ad_conn_t *c);
/* r came on a connection on probation and carries no credential (after
 * ad_http_caps_conn_cred): answered 429 (its address's cap) or 503 (the
 * server's), the connection closing; true then. */
bool ad_http_caps_probation_refused(ad_req_t *r);
/* c is gone: uncounts it (and its WebSocket, if it was one). */
void ad_http_caps_conn_close(ad_conn_t *c);
/* n more body bytes for r from c's address: false past
 * cfg->max_buffered_bytes_per_address (nothing counted then). */
bool ad_http_caps_body_add(ad_conn_t *c, ad_req_t *r, size_t n);
/* r's body is freed: uncounts it. */
void ad_http_caps_body_release(ad_req_t *r);
/* Below, auth is the guard's for a request (ad_req_set_auth), counted under
 * the name the guard's key() gives it; nothing is counted without one. */
/* Counts c under auth's credential (once; moved if a later request on it
 * has another): false when that credential has as many connections as
 * cfg->max_connections_per_token allows (c is not counted). */
bool ad_http_caps_conn_cred(ad_conn_t *c, const void *auth);
/* auth has as many WebSockets open as cfg->max_websockets_per_token allows. */
bool ad_http_caps_ws_full(ad_server_t *s, const void *auth);
/* c became a WebSocket of auth / stopped being one. */
void ad_http_caps_ws_open(ad_conn_t *c, const void *auth);
void ad_http_caps_ws_close(ad_conn_t *c);
/* Takes n request-body bytes from auth's bucket (cfg->max_body_bytes_per_minute):
 * false when it has not that many (*retry_after_s set). */
bool ad_http_caps_body_take(ad_server_t *s, const void *auth, size_t n, int64_t *retry_after_s);
/* The heap-trim timer: started with the listeners, stopped at close. */
void ad_http_caps_start(ad_server_t *s);
void ad_http_caps_stop(ad_server_t *s);
/* Frees the tables (ad_server_free). */
void ad_http_caps_free(ad_server_t *s);

/* ---- server (server.c) -------------------------------------------------------------- */
/* A connection or listener closed: call the close callback once all are. */
void ad_http_check_done(ad_server_t *s);

/* ---- response formatting (response.c) ---------------------------------------------- */
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

#ifdef AD_TEST_BUILD
/* testhooks.c, for unit tests and fuzzing: a connection on an open fd, and
 * input fed to a connection as if read from its socket. */
ad_conn_t *ad_http_conn_open_fd(ad_server_t *s, int fd);
void ad_http_conn_feed(ad_conn_t *c, const char *data, size_t len);
#endif

#endif
