/* SPDX-License-Identifier: MIT */
/*
 * http: the HTTP/1.1 server on the libuv loop. Listeners (TCP and a unix
 * socket), connections, request parsing (http-parser), limits, the router,
 * responses, static assets, Server-Sent Events. Another protocol (WebSocket,
 * in src/ws) takes a connection over through ad_req_take_over() and drives it
 * with the ad_conn_* calls below; this subsystem knows nothing about it.
 *
 * Threads: everything here runs on the loop thread only.
 */
#ifndef AD_HTTP_H
#define AD_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"
#include "core/core.h"

typedef struct ad_server ad_server_t;
typedef struct ad_req ad_req_t;

/* ---- server ------------------------------------------------------------- */

/* Creates a server on loop with cfg's limits. cfg is borrowed and must
 * outlive the server. Returns owned: free with ad_server_free() after
 * ad_server_close() has completed. */
ad_server_t *ad_server_new(uv_loop_t *loop, const ad_config_t *cfg);
/* Binds the TCP listener (cfg->listen_host:listen_port, port 0 picks one)
 * and the unix socket <data_dir>/agentd.sock (mode 0600). Returns 0, or a
 * negative code with a one-line message in err. */
int ad_server_listen(ad_server_t *s, char *err, size_t errsz);
/* Listeners a service manager handed over (socket activation, inherit.c):
 * at most one TCP listener (its address in host and port) and one unix
 * one (its path); -1 for none. */
typedef struct {
    int tcp_fd;
    char host[64];
    int port;
    int unix_fd;
    char unix_path[108];
} ad_listen_fds_t;
/* Takes the descriptors LISTEN_PID (ours), LISTEN_FDS and LISTEN_FDNAMES
 * name, marks them close-on-exec and removes the variables from the
 * environment (whoever they were for). Returns 0 (none is fine), or
 * AD_EINVAL with a one-line message in err for a descriptor that is not a
 * listening stream socket, or a second one of a kind. Call once, before
 * anything else opens a descriptor or starts a process. */
int ad_listen_fds_take(ad_listen_fds_t *l, char *err, size_t errsz);
/* ad_server_listen() then listens on these instead of binding (and never
 * unlinks the inherited unix socket, which belongs to the service
 * manager). l is copied. Call before ad_server_listen(). */
void ad_server_adopt(ad_server_t *s, const ad_listen_fds_t *l);
/* The TCP port actually bound (after ad_server_listen). */
int ad_server_port(const ad_server_t *s);
/* Graceful shutdown: stops accepting, lets in-flight responses finish, closes
 * WebSockets with 1001, then calls done (once) when every handle is closed,
 * or after cfg->shutdown_grace_ms at the latest. */
void ad_server_close(ad_server_t *s, void (*done)(void *ud), void *ud);
void ad_server_free(ad_server_t *s);

/* ---- routing --------------------------------------------------------------
 * Patterns are literal segments and ":name" parameters:
 * "/api/agents/:id/start". A path that matches no pattern gets 404; a path
 * that matches with another method gets 405 with Allow. Register before
 * ad_server_listen(). ud is borrowed.
 *
 * Every route declares the access it needs; the server's guard (below)
 * decides what that means for a request (src/auth). Unmatched paths (static
 * assets, 404) and preflights count as AD_ACCESS_PUBLIC.
 */
typedef enum {
    AD_ACCESS_PUBLIC = 0, /* anyone who reaches the server (/healthz, login) */
    AD_ACCESS_READ,       /* reads and subscriptions */
    AD_ACCESS_WRITE,      /* changes that start no process */
    AD_ACCESS_ADMIN,      /* processes, tokens, settings */
    /* A worker node's link (issue #34): node credentials only, and no
     * other credential (the owner's included) passes it. */
    AD_ACCESS_NODE = 100,
} ad_access_t;
typedef void (*ad_handler_cb)(ad_req_t *req, void *ud);
void ad_server_route(ad_server_t *s, const char *method, const char *pattern, ad_access_t access,
                     ad_handler_cb cb, void *ud);
/* A GET route seen only by requests that ask to switch to protocol (an
 * Upgrade header naming it, with Connection: Upgrade); any other request on
 * the path goes on to the rest of the table and the static assets. So one
 * path serves a page to a browser and a socket to a client that upgrades
 * (the seed's WebSocket on "/", a public page), each with its own access. */
void ad_server_route_upgrade(ad_server_t *s, const char *pattern, const char *protocol,
                             ad_access_t access, ad_handler_cb cb, void *ud);
/* Calls fn(method, pattern, access, upgrade, ud) for every route, in
 * registration order; upgrade is the protocol of an upgrade-only route,
 * else NULL. */
void ad_server_routes_each(const ad_server_t *s,
                           void (*fn)(const char *method, const char *pattern, ad_access_t access,
                                      const char *upgrade, void *ud),
                           void *ud);

/* Answers so far by route and status (for /metrics): fn gets each route's
 * method and pattern ("" and "" for requests no route matched: assets,
 * 404s, preflights), a status (0: "other", past the per-route slots) and
 * its count. Only pairs with a count. */
typedef void (*ad_server_count_fn)(const char *method, const char *pattern, int status,
                                   uint64_t count, void *ud);
void ad_server_counts_each(const ad_server_t *s, ad_server_count_fn fn, void *ud);
/* Socket sends that left in one io_uring_enter with the rest of their
 * loop turn's (--io-uring; write.c). */
uint64_t ad_server_batched_sends(const ad_server_t *s);
/* agentd_http_requests_total (by method, route pattern and status) and
 * agentd_http_batched_sends_total as Prometheus families into b (prom.c):
 * 0 or AD_ETOOBIG. */
int ad_server_prom(const ad_server_t *s, ad_buf_t *b);

/* ---- in-process calls -------------------------------------------------------
 * A route run from inside the daemon on someone's behalf, as if they had
 * sent the request (the MCP server's tools are REST calls, src/mcp): the
 * handler sees auth as ad_req_auth() and answers as it always does; the
 * guard's check (Host, Origin, credentials) is not run, since the caller
 * checked them on its own request, but its done() is (the audit). A route
 * that needs more than access is refused 403 FORBIDDEN without running.
 * The answer goes to cb exactly once (status, the body's bytes borrowed
 * for the call), maybe before ad_server_call() returns. A handler that
 * would take the connection over (an event stream, a chunked body) gets
 * none: it answers 503 or 410.
 */
typedef void (*ad_http_call_cb)(int status, const char *body, size_t len, void *ud);
typedef struct {
    const char *method;
    const char *target; /* the path, percent-encoded, with its ?query */
    const char *body;   /* JSON, or NULL */
    size_t len;
    const void *auth;   /* the guard's data for the caller: borrowed until cb */
    ad_access_t access; /* the most the caller may use */
    const char *peer;   /* what ad_req_peer() says (the audit's remote): static */
} ad_http_call_t;
void ad_server_call(ad_server_t *s, const ad_http_call_t *call, ad_http_call_cb cb, void *ud);
/* The access the route for method and path (no query) needs; false when
 * no route takes them. */
bool ad_server_route_access_of(ad_server_t *s, const char *method, const char *path,
                               ad_access_t *out);

/* ---- the guard --------------------------------------------------------------
 * One policy object sees every request before its handler: check() gets
 * the matched route's access and returns true to go on, or false after
 * answering (now or later: the request stays valid until answered). done()
 * sees every answered request with its status (for the audit). Either may
 * be NULL. Set before ad_server_listen(); ops and ud are borrowed.
 */
typedef struct {
    bool (*check)(void *ud, ad_req_t *r, ad_access_t access);
    void (*done)(void *ud, ad_req_t *r, int status);
    /* A TCP request that announces a body, once its headers are in and
     * before any of the body is read: 0 to read it, or the status to refuse
     * it with at once (401, 403, 429; the connection then closes, the body
     * unread). Headers set with ad_res_header() go with the refusal. The
     * route is matched already. May be NULL. */
    int (*pre_body)(void *ud, ad_req_t *r, ad_access_t access);
    /* The name the caps count a credential under (auth as given to
     * ad_req_set_auth): one per token, stable while the daemon runs and
     * never another token's (an id, not an address). NULL: not counted.
     * Borrowed until the call returns. May be NULL. */
    const char *(*key)(void *ud, const void *auth);
} ad_guard_t;
void ad_server_set_guard(ad_server_t *s, const ad_guard_t *ops, void *ud);
/* A client's dialect chosen by a path prefix: a request for prefix + path
 * (prefix "/seed": /seed/api/agents) is routed, guarded and answered as
 * path, except that each JSON answer goes through fn first (which changes
 * body in place; r's route and status are there to pick what to change),
 * and an answer without a body (204) is 200 with the JSON `null`: such a
 * client reads JSON from every answer. For clients whose only setting is
 * their base URL. One prefix per server. */
typedef void (*ad_dialect_fn)(const ad_req_t *r, int status, json_t *body, void *ud);
void ad_server_set_dialect(ad_server_t *s, const char *prefix, ad_dialect_fn fn, void *ud);
/* Whether r came in under the dialect prefix. */
bool ad_req_dialect(const ad_req_t *r);
/* The database being unreachable (issue #39): fn says whether it is, with
 * why into reason (no password). While it is, a matched route that needs
 * it is answered 503 DATABASE_UNAVAILABLE "the database is unreachable:
 * <why>" after the guard passed it and before its handler runs; so is an
 * error answer that would have been a 500 (a read that failed on the lost
 * connection) or was made from AD_EUNAVAIL. Routes that do not need it go
 * on: public ones, upgrades (live streams) and those exempt names
 * (patterns, NULL-terminated; borrowed). fn may be NULL (no database). */
typedef bool (*ad_server_down_fn)(void *ud, char *reason, size_t n);
void ad_server_set_down(ad_server_t *s, ad_server_down_fn fn, void *ud, const char *const *exempt);
/* The database being damaged (issue #78): fn says whether it is, with what
 * and what to do into reason. While it is, an error answer that would
 * have been a 500, or was made from AD_ECORRUPT, is a 500 DATA_DAMAGED
 * whose message ends with that reason. fn may be NULL. */
void ad_server_set_damaged(ad_server_t *s, ad_server_down_fn fn, void *ud);
/* Takes ownership of p (from malloc): it is freed with the server. For data
 * a route's ud points to that lives as long as the route. */
void ad_server_own(ad_server_t *s, void *p);

/* ---- requests ---------------------------------------------------------------
 * A request stays valid until its response is complete. Strings returned
 * here are owned by the request (its arena) and NUL-terminated.
 */
const char *ad_req_method(const ad_req_t *r);
/* Decoded path without the query string. */
const char *ad_req_path(const ad_req_t *r);
/* A ":name" parameter of the matched pattern, or NULL. */
const char *ad_req_param(const ad_req_t *r, const char *name);
/* A percent-decoded query value (first occurrence), or NULL when absent. */
const char *ad_req_query(const ad_req_t *r, const char *name);
/* A header value (case-insensitive name), or NULL. */
const char *ad_req_header(const ad_req_t *r, const char *name);
/* The request body (possibly empty, never NULL; NUL-terminated). */
const char *ad_req_body(const ad_req_t *r, size_t *len);
/* The per-request arena: freed when the response is complete. */
ad_arena_t *ad_req_arena(ad_req_t *r);
/* Parses the body as a JSON object. On failure it answers 400
 * (INVALID_JSON) itself and returns NULL; the handler just returns.
 * Returns a new reference: json_decref() it. */
json_t *ad_req_json(ad_req_t *r);
/* The same for a body that may be left out: an empty object when the body
 * is empty or blank; else as ad_req_json, *failed set when it answered
 * 400. New reference (NULL only when *failed). */
json_t *ad_req_json_optional(ad_req_t *r, bool *failed);
/* The request has its answer (or has been taken over). */
bool ad_req_is_answered(const ad_req_t *r);
/* True once the client has gone; a late response is then dropped. */
bool ad_req_client_gone(const ad_req_t *r);
/* Per-request user data, for handlers that answer asynchronously. */
void ad_req_set_data(ad_req_t *r, void *data);
void *ad_req_data(const ad_req_t *r);
/* Path parameters and query pairs by position (i from 0), for code that
 * keeps them beyond the request. Return false past the last one. */
bool ad_req_param_at(const ad_req_t *r, unsigned i, const char **name, const char **value);
bool ad_req_query_at(const ad_req_t *r, unsigned i, const char **name, const char **value);
/* The request asked to switch protocols (Connection: Upgrade). */
bool ad_req_is_upgrade(const ad_req_t *r);
/* The request came over the unix socket (a local, trusted client). */
bool ad_req_is_local(const ad_req_t *r);
/* The request came over TLS. */
bool ad_req_is_tls(const ad_req_t *r);
/* The peer's address as text ("127.0.0.1", "::1", "unix"), into out. */
void ad_req_peer(const ad_req_t *r, char *out, size_t outsz);
/* The pattern of the route that matched ("/api/agents/:id"), or NULL. */
const char *ad_req_route(const ad_req_t *r);
/* The guard's data for this request (who is asking); NULL unless set. */
void ad_req_set_auth(ad_req_t *r, const void *auth);
const void *ad_req_auth(const ad_req_t *r);
/* What the handler changed, in words, for the guard's audit row (copied,
 * at most AD_REQ_NOTE_MAX bytes kept; a later call replaces it). */
#define AD_REQ_NOTE_MAX 1000
void ad_req_set_note(ad_req_t *r, const char *note);
const char *ad_req_note(const ad_req_t *r);
/* Comma-separated token list contains tok (case-insensitive). */
bool ad_http_has_token(const char *list, const char *tok);

/* ---- responses --------------------------------------------------------------
 * Each request gets exactly one response, from the handler or later on the
 * loop thread (asynchronous handlers keep the ad_req_t until they answer).
 */
/* Adds a response header; call before the response. Strings are copied. */
void ad_res_header(ad_req_t *r, const char *name, const char *value);
/* Adds whole header lines as they are ("Name: value\r\n" each, len bytes,
 * no other line break): neither copied nor checked, so lines must outlive
 * the answer (a constant). For the headers every answer carries. */
void ad_res_header_lines(ad_req_t *r, const char *lines, size_t len);
void ad_res_send(ad_req_t *r, int status, const char *content_type, const void *body, size_t len);
/* The same with b's bytes as the body, taken instead of copied (a list's
 * answer is up to megabytes): b is left empty, the request frees them. */
void ad_res_send_buf(ad_req_t *r, int status, const char *content_type, ad_buf_t *b);
/* Serializes body (compact JSON). Steals the reference to body. */
void ad_res_json(ad_req_t *r, int status, json_t *body);
/* The error shape {"error":{"code","message","details"}}. details may be
 * NULL ({}); the reference is stolen. */
void ad_res_error(ad_req_t *r, int status, const char *code, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Answers an AD_E* code with its status and code name:
 * ENOENT 404 NOT_FOUND, EEXIST 409 CONFLICT, ESTATE 409 CONFLICT,
 * EINVAL 422 VALIDATION_ERROR, ECONSTRAINT 422 CONSTRAINT_VIOLATION,
 * ETOOBIG 413 TOO_LARGE, EFULL 507 INSUFFICIENT_STORAGE,
 * EBUSY/EAGAIN 503 UNAVAILABLE, anything else 500 INTERNAL. */
void ad_res_error_code(ad_req_t *r, int err, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The status an AD_E* code maps to, and its code name, as above. */
int ad_http_status_of(int err, const char **code);

/* GET /healthz: answers 200 {"status":"ok"}. Register it with
 * ad_server_route(s, "GET", "/healthz", ad_http_healthz, NULL). */
void ad_http_healthz(ad_req_t *r, void *ud);

/* ---- taking a connection over ----------------------------------------------------
 * A handler may hand its request's connection to another protocol: the
 * response head (status, ad_res_header() headers, no length) goes out as
 * the request's answer, and from then on the connection carries only what
 * the new owner writes with ad_conn_write_*(). The http layer reports to
 * the owner through ops, each called with ud:
 *   on_read          bytes from the peer, including any that arrived with
 *                    the request itself (delivered as soon as the handler
 *                    returns, so take over from within the handler's own
 *                    call); NULL discards input.
 *   on_head_written  the head has been handed to the socket (a head queued
 *                    behind earlier pipelined answers goes out after them);
 *                    may be NULL.
 *   on_close         once, when the connection is gone for any reason; the
 *                    ad_conn_t must not be used after it returns. Required.
 *   on_server_close  the server is shutting down: close gracefully soon
 *                    (within cfg->shutdown_grace_ms). NULL: finished at once.
 * No op is ever called from inside ad_req_take_over().
 */
typedef struct ad_conn ad_conn_t;
typedef struct {
    void (*on_read)(void *ud, const char *data, size_t len);
    void (*on_head_written)(void *ud);
    void (*on_close)(void *ud);
    void (*on_server_close)(void *ud);
} ad_conn_ops_t;
typedef void (*ad_conn_timer_cb)(void *ud);

/* r is unanswered, its client is there, its connection speaks plain HTTP,
 * nothing before r waits to be written and the server is not closing. */
bool ad_req_can_take_over(const ad_req_t *r);
/* Answers r with status and content_type (NULL: none) and hands its
 * connection to ops and ud (both borrowed until on_close). Returns the
 * connection, or NULL, answering nothing, when r is already answered, its
 * client has gone or its connection was already taken over. */
ad_conn_t *ad_req_take_over(ad_req_t *r, int status, const char *content_type,
                            const ad_conn_ops_t *ops, void *ud);
/* Writes bytes on c (copied). Returns 0 or AD_ECLOSED. Bytes leave in queue
 * order before the loop next waits for I/O (at once past 64 KiB queued),
 * but on a connection written less than 0.5 ms ago: its writes wait until
 * the oldest of them is 0.5 ms old (1-2 ms when the loop is otherwise
 * idle), and leave together. */
int ad_conn_write_copy(ad_conn_t *c, const void *p, size_t n);
/* Writes n bytes at p that stay valid until release(msg) is called once
 * they are written (release may be NULL); a write of 512 bytes or less is
 * copied into the connection's cork and released before this returns. On
 * failure (AD_ECLOSED) nothing is taken: release is not called and the
 * caller keeps msg. Neither write
 * call closes the connection, so both are safe inside the owner's ops. */
int ad_conn_write_ref(ad_conn_t *c, const void *p, size_t n, void (*release)(void *), void *msg);
/* Bytes this connection's writes keep allocated until the socket takes
 * them: queued or handed to the socket, counted by the buffers they pin (a
 * cork's capacity, a shared frame's length), so a bound on it holds in
 * bytes resident, not bytes written. */
size_t ad_conn_queued(const ad_conn_t *c);
/* The server-wide bound on what every connection's writes pin
 * (cfg->send_queue_total_bytes), as it bears on c: 0 room; 1 past half the
 * bound and c holds more than its share of that half (a producer that can
 * wait, a replay, should); 2 past the bound and c holds more than its
 * share (bound / open connections): cut it, saying why. O(1). */
int ad_conn_pressure(const ad_conn_t *c);
/* Neither closing nor shut down for writing. */
bool ad_conn_writable(const ad_conn_t *c);
/* Closes after pending writes, waiting briefly for the peer's FIN. */
void ad_conn_finish(ad_conn_t *c);
/* Closes now; pending writes are dropped. on_close is called from here. */
void ad_conn_abort(ad_conn_t *c);
/* (Re)arms the connection's one timer: cb(ud) after ms, then every repeat
 * ms (0: once). cb NULL: the connection is aborted when it fires. */
void ad_conn_timer(ad_conn_t *c, uint64_t ms, uint64_t repeat, ad_conn_timer_cb cb);
uv_loop_t *ad_conn_loop(const ad_conn_t *c);
const ad_config_t *ad_conn_config(const ad_conn_t *c);

/* ---- Server-Sent Events -------------------------------------------------------
 * Turns the request into an open text/event-stream response. The stream
 * stays open until the client leaves or ad_sse_close(); on_close is called
 * once either way, after which the ad_sse_t is gone. Keep-alive comments
 * are sent by the server.
 */
typedef struct ad_sse ad_sse_t;
typedef void (*ad_sse_close_cb)(ad_sse_t *sse, void *ud);
/* Returns NULL (and on_close is never called) when the client has already
 * gone; the request is released then. The stream's queue bound is
 * cfg->ws_send_queue_bytes. */
ad_sse_t *ad_sse_start(ad_req_t *r, ad_sse_close_cb on_close, void *ud);
/* Last-Event-ID from the request that opened the stream, or NULL. */
const char *ad_sse_last_event_id(const ad_sse_t *sse);
/* Sends one event; id and event may be NULL. data may hold newlines.
 * Returns 0, or AD_ETOOBIG when the client's queue is over its bound (the
 * stream is then closed), or AD_ECLOSED. */
int ad_sse_send(ad_sse_t *sse, const char *id, const char *event, const char *data, size_t len);
void ad_sse_close(ad_sse_t *sse);
size_t ad_sse_queued_bytes(const ad_sse_t *sse);
/* ad_conn_pressure() of the stream's connection (0 once it is closed). */
int ad_sse_pressure(const ad_sse_t *sse);

/* ---- streamed responses (Transfer-Encoding: chunked) -----------------------------
 * For a body too large to build in memory. The stream takes the
 * connection over (it closes after the last chunk) and asks the producer
 * for each piece with pull() once the previous piece has been handed to the
 * socket: at most one piece waits in memory whatever the client's speed. A
 * client that takes nothing for a minute is dropped.
 *   pull      answer with exactly one ad_stream_write() (n may be 0: asked
 *             again) or ad_stream_end(), now or later on the loop thread.
 *   on_close  once, when the stream is over: ended (the last chunk was
 *             queued) or cut (client gone, stalled, aborted, server
 *             closing). st is gone after it returns; the producer frees
 *             what it holds (or does so when its pending work returns).
 */
typedef struct ad_stream ad_stream_t;
typedef struct {
    void (*pull)(ad_stream_t *st, void *ud);
    void (*on_close)(ad_stream_t *st, bool ended, void *ud);
} ad_stream_ops_t;
/* Answers r with status, content_type and Transfer-Encoding: chunked
 * (headers from ad_res_header() too) and starts pulling. Returns NULL
 * after answering otherwise (HEAD: the head alone; 503 when the connection
 * cannot be taken over); ops is then never called. ops and ud are borrowed
 * until on_close. */
ad_stream_t *ad_stream_start(ad_req_t *r, int status, const char *content_type,
                             const ad_stream_ops_t *ops, void *ud);
/* Sends p[0..n) as one chunk (copied). Only as the answer to a pull.
 * Returns 0, or AD_ECLOSED (not in answer to a pull, or the connection is
 * gone: on_close follows or has run). */
int ad_stream_write(ad_stream_t *st, const void *p, size_t n);
/* Sends the last chunk and closes the connection once it is written. */
void ad_stream_end(ad_stream_t *st);
/* Cuts the stream (an error mid-way): the client sees a body without its
 * last chunk, i.e. incomplete. on_close is called from here. */
void ad_stream_abort(ad_stream_t *st);
/* ---- an answer read a piece at a time elsewhere (pieces.c) -----------------------
 * A streamed answer (as above) whose pieces are read off the loop, such as
 * an export read on the thread pool. The first piece is read before the
 * answer: an error there answers its status ("<what> failed: <error>");
 * then each piece is asked for once the last one is on the socket, and a
 * read error mid-way cuts the stream (logged "<log_what> failed mid-way").
 *   read  starts reading the next piece, appended to *body (the pump sends
 *         and empties it), *end set once every piece is out; calls
 *         ad_pieces_done(pc, rc) on the loop when the piece is in.
 *   free  frees ud, once: when the stream is over (or never started) and
 *         no read is out.
 */
typedef struct ad_pieces ad_pieces_t;
typedef struct {
    void (*read)(ad_pieces_t *pc, void *ud);
    void (*free)(void *ud);
} ad_pieces_ops_t;
typedef struct {
    const char *content_type; /* of the 200 */
    const char *disposition;  /* its Content-Disposition header, or NULL */
    const char *what;         /* "export": the words of a first piece's error */
    const char *log_what;     /* "metrics export": the words of the log lines */
    ad_buf_t *body;           /* where read puts a piece (ud's) */
    const bool *end;          /* set by read after the last piece (ud's) */
    const int64_t *points;    /* how many rows went out, logged when cut; or NULL */
} ad_pieces_opts_t;
/* Reads the first piece, then answers r. o is copied, its strings and
 * pointers borrowed until ops->free; ops borrowed; ud belongs to the pump
 * from here (ops->free frees it, even when nothing is answered 200). */
void ad_pieces_start(ad_req_t *r, const ad_pieces_opts_t *o, const ad_pieces_ops_t *ops, void *ud);
/* read's piece is in (rc 0) or failed. */
void ad_pieces_done(ad_pieces_t *pc, int rc);
/* The chunk head "<hex n>\r\n" into out; returns its length. */
#define AD_HTTP_CHUNK_HEAD_MAX 20
size_t ad_http_chunk_head(char out[AD_HTTP_CHUNK_HEAD_MAX], size_t n);

#endif
