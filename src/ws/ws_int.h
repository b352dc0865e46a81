/* SPDX-License-Identifier: MIT */
/*
 * Private to src/ws: what ws.c (connections, shared messages) and
 * deflate.c (permessage-deflate, RFC 7692) share. Loop thread only.
 */
#ifndef AD_WS_INT_H
#define AD_WS_INT_H

#include "ws/ws.h"

/* ws.c: whether m is a binary message; marks m's frame compressed (RSV1).
 * kept: whether m keeps its compressed form for bits, *d (borrowed; NULL:
 * compressing it does not pay). keep: m keeps d (taken; may be NULL) as
 * its form for bits, unless it keeps one already (d is then let go). */
bool ad_wsmsg_binary(const ad_wsmsg_t *m);
void ad_wsmsg_set_rsv1(ad_wsmsg_t *m);
bool ad_wsmsg_kept(const ad_wsmsg_t *m, int bits, ad_wsmsg_t **d);
void ad_wsmsg_keep(ad_wsmsg_t *m, int bits, ad_wsmsg_t *d);

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
