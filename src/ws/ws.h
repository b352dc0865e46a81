/* SPDX-License-Identifier: MIT */
/*
 * ws: WebSocket (RFC 6455) on wslay. The upgrade handshake, framing,
 * fragmentation, ping/pong and heartbeat, UTF-8 checks, close codes, and a
 * per-connection send queue bounded in bytes. One message sent to many
 * connections is serialized once (ad_wsmsg_t) and shared by reference.
 *
 * Threads: loop thread only.
 */
#ifndef AD_WS_H
#define AD_WS_H

#include <stdbool.h>
#include <stddef.h>

#include "http/http.h"

typedef struct ad_ws ad_ws_t;

/* A refcounted outgoing message: the bytes are copied once at creation and
 * freed when the last connection has written them. */
typedef struct ad_wsmsg ad_wsmsg_t;
/* Returns owned (refcount 1): drop with ad_wsmsg_unref(). binary selects the
 * opcode. */
ad_wsmsg_t *ad_wsmsg_new(const void *data, size_t len, bool binary);
ad_wsmsg_t *ad_wsmsg_ref(ad_wsmsg_t *m);
void ad_wsmsg_unref(ad_wsmsg_t *m);
const char *ad_wsmsg_data(const ad_wsmsg_t *m, size_t *len);
/* Several frames one after another, as one shared message: a run of
 * messages that many connections get alike is written once and sent as one
 * buffer to each. Made for connections that compress with bits (0: that do
 * not; see ad_ws_deflate_bits), with room for total bytes, then filled:
 * ad_wsmsg_frames_add appends a message's frame as such a connection sends
 * it (compressed once and kept with the message), ad_wsmsg_frames_add_text
 * a text frame of data (bits 0 only). ad_ws_send_msg refuses it on a
 * connection that compresses otherwise (AD_EINVAL). Returns owned
 * (refcount 1). */
ad_wsmsg_t *ad_wsmsg_frames_new(size_t total, int bits);
/* 0, AD_ETOOBIG when the frame does not fit (nothing is written), or
 * AD_EINVAL (not a message of frames, or one for compression). */
int ad_wsmsg_frames_add_text(ad_wsmsg_t *m, const char *data, size_t len);
/* 0, AD_ETOOBIG (nothing written) or AD_EINVAL (m is itself frames). */
int ad_wsmsg_frames_add(ad_wsmsg_t *run, ad_wsmsg_t *m);
/* The bytes a text frame of a len-byte payload takes. */
size_t ad_ws_text_frame_len(size_t len);
/* The bytes m's frame takes on a connection that compresses with bits (0:
 * none); compressing it, once, if it was not. */
size_t ad_wsmsg_frame_len(ad_wsmsg_t *m, int bits);

typedef struct {
    /* After the handshake; the connection is open. May send or close. */
    void (*on_open)(ad_ws_t *ws, ad_req_t *upgrade, void *ud);
    /* A complete message (reassembled, UTF-8 checked for text). */
    void (*on_message)(ad_ws_t *ws, const char *data, size_t len, bool binary, void *ud);
    /* Once, when the connection is gone for any reason; code is the close
     * code received or sent (1006 when the TCP connection just dropped).
     * The ad_ws_t is freed after this returns. */
    void (*on_close)(ad_ws_t *ws, int code, void *ud);
} ad_ws_handler_t;

/* Registers a WebSocket endpoint for GET pattern (same pattern syntax and
 * access levels as ad_server_route). A plain GET without upgrade headers
 * gets 426.
 * protocols: NULL-terminated list of subprotocols this endpoint accepts
 * (or NULL); the first one the client offers that is listed is selected.
 * handler and ud are borrowed. */
void ad_server_route_ws(ad_server_t *s, const char *pattern, ad_access_t access,
                        const char *const *protocols, const ad_ws_handler_t *handler, void *ud);

/* The same for a path that also serves a page (the seed's socket on "/"):
 * only a WebSocket upgrade reaches this route; a plain GET goes on to the
 * other routes and the static assets as if the route were not there. */
void ad_server_route_ws_shared(ad_server_t *s, const char *pattern, ad_access_t access,
                               const char *const *protocols, const ad_ws_handler_t *handler,
                               void *ud);

/* Whether a client's permessage-deflate offer is answered (--ws-deflate,
 * on by default; off until called). Set once at start, before the server
 * listens. */
void ad_ws_deflate_allow(bool on);
/* Connections open now, and opened since start (for /metrics). */
void ad_ws_stats(uint64_t *open, uint64_t *opened);
/* The same as Prometheus families into b: 0 or AD_ETOOBIG. */
int ad_ws_prom(ad_buf_t *b);

/* Queues a text message (copied). Returns 0, AD_ECLOSED, or AD_ETOOBIG when
 * the send queue would pass its bound (nothing is queued then; the caller
 * decides whether to close). */
int ad_ws_send_text(ad_ws_t *ws, const char *data, size_t len);
/* ad_ws_send_text() with a small reserve past the bound, for the last
 * message before ad_ws_close() (why the connection ends), so a reader that
 * fell behind still gets it. */
int ad_ws_send_last(ad_ws_t *ws, const char *data, size_t len);
/* Queues a shared message, taking a new reference. Same returns. */
int ad_ws_send_msg(ad_ws_t *ws, ad_wsmsg_t *m);
/* The window bits ws compresses what it sends with (permessage-deflate
 * negotiated), or 0. */
int ad_ws_deflate_bits(const ad_ws_t *ws);
/* Starts the close handshake with code and reason; on_close follows. The
 * Close frame is queued after what is already queued; a peer that reads
 * slowly gets up to a minute to take it all before the connection is cut. */
void ad_ws_close(ad_ws_t *ws, int code, const char *reason);
/* Bytes queued and not yet written to the socket. */
size_t ad_ws_queued_bytes(const ad_ws_t *ws);
/* ad_conn_pressure() of the socket's connection (0 once it is gone). */
int ad_ws_pressure(const ad_ws_t *ws);
/* Selected subprotocol, or NULL. */
const char *ad_ws_protocol(const ad_ws_t *ws);
/* A path parameter or query value captured from the upgrade request. */
const char *ad_ws_param(const ad_ws_t *ws, const char *name);
const char *ad_ws_query(const ad_ws_t *ws, const char *name);
void ad_ws_set_data(ad_ws_t *ws, void *data);
void *ad_ws_data(const ad_ws_t *ws);

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (24 base64 characters of 16
 * bytes). out gets 28 characters and a NUL. Returns 0 or AD_EINVAL. */
int ad_ws_accept_key(const char *key, char out[29]);

/* ---- the client (client.c): a worker node's link (issue #34) ------------------------ */
typedef struct ad_wsc ad_wsc_t;
typedef struct {
    /* The upgrade was accepted; the connection is open. */
    void (*on_open)(ad_wsc_t *c, void *ud);
    /* A whole message (borrowed for the call). */
    void (*on_message)(ad_wsc_t *c, const char *data, size_t len, bool binary, void *ud);
    /* Once, whatever ended it (before it opened too): code is the close
     * code received (1006 for a dropped connection, the HTTP status when
     * the upgrade was refused, 1015 for TLS), reason a line. c is freed
     * after this returns. */
    void (*on_close)(ad_wsc_t *c, int code, const char *reason, void *ud);
} ad_wsc_handler_t;
/* Connects to url (ws:// or http://; wss:// or https:// with TLS, the
 * server's certificate checked against the system's roots, or the file
 * AGENTD_NODE_CA_FILE names) and upgrades with "Authorization: Bearer
 * bearer" (copied; one line). Messages up to max_msg bytes. 0 and *out
 * (owned until on_close), or AD_EINVAL (a bad URL or token) / AD_EIO with
 * err; then nothing is called. h is copied, ud borrowed. */
int ad_wsc_open(uv_loop_t *loop, const char *url, const char *bearer, size_t max_msg,
                const ad_wsc_handler_t *h, void *ud, ad_wsc_t **out, char *err, size_t errsz);
/* The same with the caller's header lines ("Name: value", one line each,
 * NULL-terminated; at most 4,800 bytes in all) in place of the bearer: a
 * control plane's WebSocket sent on to the plane that holds its work
 * (src/cluster, issue #77). AD_EINVAL for a header that is not one line. */
int ad_wsc_open_headers(uv_loop_t *loop, const char *url, const char *const *headers,
                        size_t max_msg, const ad_wsc_handler_t *h, void *ud, ad_wsc_t **out,
                        char *err, size_t errsz);
/* Queues a message (copied): 0, or AD_ECLOSED when not open. */
int ad_wsc_send(ad_wsc_t *c, const void *data, size_t len, bool binary);
/* Stops reading from the server (paused), or reads again: a caller that
 * cannot pass messages on as fast as they come pushes back on the
 * server this way. Nothing before the connection is open. */
void ad_wsc_pause(ad_wsc_t *c, bool paused);
/* Bytes handed to the socket and not yet written. */
size_t ad_wsc_queued(const ad_wsc_t *c);
/* Sends a Close with code (0: none, the socket just goes) and ends the
 * connection: on_close follows at once. */
void ad_wsc_close(ad_wsc_t *c, int code, const char *reason);
/* Splits url into its parts (tls for https/wss; the port defaults to 80
 * or 443, the path to "/"). 0, AD_EINVAL or AD_ETOOBIG. Pure. */
int ad_wsc_parse_url(const char *url, bool *tls, char *host, size_t hostsz, char *port,
                     size_t portsz, char *path, size_t pathsz);

#ifdef AD_TEST_BUILD
/* Test builds only: /ws/echo (echoes every message; the text "close:CODE"
 * makes the server close with CODE, "broadcast:TEXT" sends TEXT to every
 * open echo connection as one shared message), /test/sse?count=N (N events after
 * Last-Event-ID, then stays open; &close=1 ends the stream), /test/async?ms=N
 * (answers after N ms), and POST|PUT /test/echo (returns the body). */
void ad_test_routes_register(ad_server_t *s);
/* Ends what the test routes still hold (pending /test/async answers). */
void ad_test_routes_close(void);
#endif

#endif
