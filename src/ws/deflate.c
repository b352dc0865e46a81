/* SPDX-License-Identifier: MIT */
/*
 * permessage-deflate (RFC 7692): the offer a client makes is answered, and
 * messages are compressed and inflated with zlib. agentd always answers
 * with server_no_context_takeover and client_no_context_takeover: every
 * message stands alone, so one compressed frame serves every connection
 * that subscribed to it (as the plain one does, src/ws/ws.c) and no
 * connection keeps a compression window while idle. Inflating stops at
 * --ws-max-message-bytes of output (a decompression bomb is cut there).
 * Loop thread only: the two zlib streams are reused, reset per message.
 * zlib is loaded (dlopen, src/core/zlib.c) at the first offer, not linked.
 */
#include "ws_int.h"

#include <string.h>
#include <strings.h>
#include <zlib.h>

/* ---- zlib, loaded at first use (src/core/zlib.c) ------------------------------------------ */

static const ad_zlib_t *zl;

static bool zlib_ready(void)
{
    static bool told;
    zl = ad_zlib();
    if (zl == NULL && !told) {
        told = true;
        ad_log(AD_LOG_WARN, "ws", "permessage-deflate is off: libz.so.1 cannot be loaded");
    }
    return zl != NULL;
}

#define DEFLATE_MIN 64 /* shorter messages go as they are */

/* ---- negotiation --------------------------------------------------------------- */

typedef struct {
    bool server_nct, client_nct, client_bits_seen;
    int server_bits; /* 0: not offered */
} offer_t;

/* A parameter's value, unquoted, as a window size 8..15; -1 otherwise. */
static int window_bits(const char *v, size_t n)
{
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n == 1 && v[0] >= '8' && v[0] <= '9') {
        return v[0] - '0';
    }
    if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
        return 10 + (v[1] - '0');
    }
    return -1;
}

static size_t trim(const char **p, size_t n)
{
    while (n > 0 && (**p == ' ' || **p == '\t')) {
        (*p)++;
        n--;
    }
    while (n > 0 && ((*p)[n - 1] == ' ' || (*p)[n - 1] == '\t')) {
        n--;
    }
    return n;
}

/* One parameter "name[=value]" of an offer into o: false for an unknown,
 * repeated or malformed one (the offer is then declined, RFC 7692 5.1). */
static bool offer_param(offer_t *o, const char *p, size_t n)
{
    n = trim(&p, n);
    const char *eq = memchr(p, '=', n);
    size_t nl = eq != NULL ? (size_t)(eq - p) : n;
    const char *v = eq != NULL ? eq + 1 : NULL;
    size_t vl = eq != NULL ? n - nl - 1 : 0;
    if (v != NULL) {
        vl = trim(&v, vl);
    }
    while (nl > 0 && (p[nl - 1] == ' ' || p[nl - 1] == '\t')) {
        nl--;
    }
#define IS(name) (nl == sizeof(name) - 1 && strncasecmp(p, name, nl) == 0)
    if (IS("server_no_context_takeover") && v == NULL && !o->server_nct) {
        o->server_nct = true;
        return true;
    }
    if (IS("client_no_context_takeover") && v == NULL && !o->client_nct) {
        o->client_nct = true;
        return true;
    }
    if (IS("server_max_window_bits") && v != NULL && o->server_bits == 0) {
        o->server_bits = window_bits(v, vl);
        return o->server_bits > 0;
    }
    if (IS("client_max_window_bits") && !o->client_bits_seen) {
        o->client_bits_seen = true; /* we inflate with 15: any size the client picks fits */
        return v == NULL || window_bits(v, vl) > 0;
    }
#undef IS
    return false;
}

/* One offer ("permessage-deflate; a; b=1"): the bits to compress with, or
 * 0 when it is declined. zlib cannot keep a raw deflate stream within a
 * 256-byte window, so an offer limiting ours to 8 bits is declined. */
static int offer_bits(const char *p, size_t n, bool *asked_bits)
{
    const char *semi = memchr(p, ';', n);
    const char *name = p;
    size_t nn = trim(&name, semi != NULL ? (size_t)(semi - p) : n);
    if (nn != 18 || strncasecmp(name, "permessage-deflate", 18) != 0) {
        return 0;
    }
    offer_t o = {0};
    while (semi != NULL) {
        const char *q = semi + 1;
        size_t left = n - (size_t)(q - p);
        semi = memchr(q, ';', left);
        if (!offer_param(&o, q, semi != NULL ? (size_t)(semi - q) : left)) {
            return 0;
        }
    }
    *asked_bits = o.server_bits != 0;
    return o.server_bits == 0 ? 15 : o.server_bits >= 9 ? o.server_bits : 0;
}

static bool deflate_on; /* --ws-deflate */

void ad_ws_deflate_allow(bool on)
{
    deflate_on = on;
}

int ad_ws_deflate_negotiate(const char *offers, char *answer, size_t answersz)
{
    if (offers == NULL || !deflate_on || !zlib_ready()) {
        return 0;
    }
    const char *p = offers;
    bool quoted = false;
    for (const char *s = p;; s++) {
        if (*s == '"') {
            quoted = !quoted;
        }
        if (*s != '\0' && (*s != ',' || quoted)) {
            continue;
        }
        bool asked = false;
        int bits = offer_bits(p, (size_t)(s - p), &asked);
        if (bits > 0) {
            char wb[48] = "";
            if (asked) {
                snprintf(wb, sizeof(wb), "; server_max_window_bits=%d", bits);
            }
            snprintf(answer, answersz,
                     "permessage-deflate; server_no_context_takeover; "
                     "client_no_context_takeover%s",
                     wb);
            return bits;
        }
        if (*s == '\0') {
            return 0;
        }
        p = s + 1;
    }
}

/* ---- compressing ------------------------------------------------------------------ */

static z_stream zd[16]; /* by window bits, made on first use */
static bool zd_ready[16];
#define ZOUT_KEEP (64 * 1024)
static uint8_t *zout; /* deflate_msg's output (loop thread), kept up to ZOUT_KEEP */
static size_t zout_cap;

/* The payload of m deflated with bits (the final empty block's 00 00 ff ff
 * taken off, RFC 7692 7.2.1) as a new message with RSV1 set; NULL when it
 * would not be smaller. */
static ad_wsmsg_t *deflate_msg(const ad_wsmsg_t *m, int bits)
{
    size_t len;
    const char *data = ad_wsmsg_data(m, &len);
    z_stream *z = &zd[bits];
    if (!zlib_ready()) {
        return NULL;
    }
    if (!zd_ready[bits]) {
        if (zl->deflate_init(z, 6, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
                             (int)sizeof(z_stream)) != Z_OK) {
            return NULL;
        }
        zd_ready[bits] = true;
    }
    size_t cap = zl->deflate_bound(z, (uLong)len) + 16;
    /* one output buffer, kept while small: a malloc and free of a frame's
     * size per message left a replay's worth of freed buffers resident */
    if (cap > zout_cap) {
        free(zout);
        zout = ad_xmalloc(cap);
        zout_cap = cap;
    }
    uint8_t *out = zout;
    z->next_in = (Bytef *)data;
    z->avail_in = (uInt)len;
    z->next_out = out;
    z->avail_out = (uInt)cap;
    int rc = zl->deflate(z, Z_SYNC_FLUSH);
    size_t n = cap - z->avail_out;
    zl->deflate_reset(z); /* server_no_context_takeover */
    ad_wsmsg_t *d = NULL;
    if (rc == Z_OK && z->avail_in == 0 && n >= 4 && n - 4 < len) {
        d = ad_wsmsg_new(out, n - 4, ad_wsmsg_binary(m));
        ad_wsmsg_set_rsv1(d);
    }
    if (zout_cap > ZOUT_KEEP) {
        free(zout); /* a big one-off is not kept */
        zout = NULL;
        zout_cap = 0;
    }
    return d;
}

ad_wsmsg_t *ad_ws_deflated(ad_wsmsg_t *m, int bits)
{
    size_t len;
    ad_wsmsg_data(m, &len);
    if (len < DEFLATE_MIN || bits < 9 || bits > 15) {
        return ad_wsmsg_ref(m);
    }
    ad_wsmsg_t *d = NULL;
    if (!ad_wsmsg_kept(m, bits, &d)) {
        d = deflate_msg(m, bits);
        ad_wsmsg_keep(m, bits, d != NULL ? ad_wsmsg_ref(d) : NULL);
        return d != NULL ? d : ad_wsmsg_ref(m);
    }
    return ad_wsmsg_ref(d != NULL ? d : m);
}

/* ---- inflating -------------------------------------------------------------------- */

static z_stream zi;
static bool zi_ready;

int ad_ws_inflate(const uint8_t *in, size_t len, size_t max, ad_buf_t *out)
{
    static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
    if (!zi_ready) {
        if (!zlib_ready() ||
            zl->inflate_init(&zi, -15, ZLIB_VERSION, (int)sizeof(z_stream)) != Z_OK) {
            return AD_ENOMEM;
        }
        zi_ready = true;
    }
    int rc = 0;
    bool ended = false;
    for (int part = 0; part < 2 && rc == 0 && !ended; part++) {
        zi.next_in = (Bytef *)(part == 0 ? in : tail);
        zi.avail_in = (uInt)(part == 0 ? len : sizeof(tail));
        /* on while input is left, or the last call filled the chunk (zlib
         * may hold more output for the next one) */
        bool more = true;
        while (rc == 0 && more) {
            uint8_t chunk[16384];
            uInt in_before = zi.avail_in;
            zi.next_out = chunk;
            zi.avail_out = sizeof(chunk);
            int z = zl->inflate(&zi, Z_SYNC_FLUSH);
            size_t n = sizeof(chunk) - zi.avail_out;
            if (out->len + n > max) {
                rc = AD_ETOOBIG;
            } else if (z != Z_OK && z != Z_BUF_ERROR && z != Z_STREAM_END) {
                rc = AD_EINVAL;
            } else if (n > 0 && ad_buf_append(out, chunk, n) != 0) {
                rc = AD_ETOOBIG;
            }
            ended = z == Z_STREAM_END; /* a final block: what follows is not ours */
            bool progress = n > 0 || zi.avail_in != in_before;
            more = !ended && progress && (zi.avail_in > 0 || zi.avail_out == 0);
        }
    }
    zl->inflate_reset(&zi); /* client_no_context_takeover */
    return rc;
}
