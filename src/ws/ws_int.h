/* SPDX-License-Identifier: MIT */
/*
 * Private to src/ws: what ws.c (connections), wsmsg.c (shared messages),
 * handshake.c (the upgrade) and deflate.c (permessage-deflate, RFC 7692)
 * share. Loop thread only.
 */
#ifndef AD_WS_INT_H
#define AD_WS_INT_H

#include "ws/ws.h"

#include <wslay/wslay.h>

typedef struct ad_ws_route {
    ad_ws_handler_t handler;
    void *ud;
    size_t nprotocols;
    char *protocols[];
} ad_ws_route_t;

typedef struct {
    char *name;
    char *value;
} ws_kv_t;

/* Where the input stands between frames: a header being read (have bytes
 * of it), payload bytes still to come, a data message with more fragments
 * to come. Follows the headers only; wslay checks everything else. */
typedef struct {
    uint8_t hdr[14];
    uint8_t have;
    uint64_t left;
    bool frag;
} ws_track_t;

struct ad_ws {
    ad_conn_t *conn;
    wslay_event_context_ptr ctx; /* NULL while idle (see above) */
    ws_track_t track;
    const ad_ws_route_t *route;
    const char *in; /* input being handed to wslay */
    size_t in_len;
    ad_buf_t ctl; /* frames wslay wrote, flushed after each wslay call */
    char *protocol;
    ws_kv_t *kv; /* path params first, then query pairs */
    unsigned nparams, nkv;
    void *data;
    uint64_t last_rx;
    uint64_t last_ping;
    bool in_recv;
    bool closing;
    /* ws_on_read is under way: a close it causes (a failed flush inside
     * pump ends the connection at once) frees the socket only when it
     * returns, so nothing it does after reads freed memory */
    bool reading;
    bool free_pending;
    uint64_t close_waited; /* ms spent waiting for the peer after our Close */
    /* wslay may hold control frames (set when it reads input or we queue a
     * ping or Close): data writes check for them only then, not per frame */
    bool ctl_maybe;
    uint8_t deflate_bits; /* permessage-deflate's window (9..15); 0: off */
    /* The start of a frame fast_frames() will read once the rest arrives
     * (a read that ended mid-frame); NULL when none (see ws_read) */
    uint8_t *carry;
    size_t carry_len, carry_cap;
};

struct ad_wsmsg {
    unsigned refs;
    int deflated_bits;         /* the window bits deflated was made for (0: not tried) */
    struct ad_wsmsg *deflated; /* its permessage-deflate form (NULL: does not pay) */
    size_t flen;               /* frame length: header + payload */
    size_t hlen;               /* header length */
    bool frames;               /* several messages' frames (ad_wsmsg_frames_new) */
    int frames_bits;           /* ... as a connection compressing with these sends them */
    size_t cap;                /* ... and the room for them in buf */
    unsigned char *frame;
    unsigned char buf[]; /* 10 bytes of header room, then the payload */
};

/* ws.c: the handshake is answered; the connection becomes ws's (counted,
 * its heartbeat started). */
void ad_ws_start(ad_ws_t *ws, ad_req_t *r);

/* wsmsg.c: whether m is a binary message; marks m's frame compressed (RSV1).
 * kept: whether m keeps its compressed form for bits, *d (borrowed; NULL:
 * compressing it does not pay). keep: m keeps d (taken; may be NULL) as
 * its form for bits, unless it keeps one already (d is then let go). */
bool ad_wsmsg_binary(const ad_wsmsg_t *m);
void ad_wsmsg_set_rsv1(ad_wsmsg_t *m);
bool ad_wsmsg_kept(const ad_wsmsg_t *m, int bits, ad_wsmsg_t **d);
void ad_wsmsg_keep(ad_wsmsg_t *m, int bits, ad_wsmsg_t *d);
/* wsmsg.c: m as a connection compressing with bits sends it (0: m
 * itself). A new reference. */
ad_wsmsg_t *ad_wsmsg_form_for(ad_wsmsg_t *m, int bits);

/* deflate.c */
/* Answers a Sec-WebSocket-Extensions offer: the window bits agentd
 * compresses with (9..15) and the header's value in answer, or 0 when no
 * permessage-deflate offer in it is acceptable (no header then). */
int ad_ws_deflate_negotiate(const char *offers, char *answer, size_t answersz);
/* m as a connection that negotiated bits gets it: its compressed form (made
 * once, kept with m) or m itself when compressing does not pay. A new
 * reference. */
ad_wsmsg_t *ad_ws_deflated(ad_wsmsg_t *m, int bits);
/* Inflates a compressed message's payload into out, at most max bytes:
 * 0, AD_ETOOBIG past max (a decompression bomb), AD_EINVAL for bad data. */
int ad_ws_inflate(const uint8_t *in, size_t len, size_t max, ad_buf_t *out);

#endif
