/* SPDX-License-Identifier: MIT */
/*
 * Shared messages (ad_wsmsg_t): one pre-framed server frame that any number
 * of connections write by reference, with its permessage-deflate form kept
 * beside it once made, and runs of several messages' frames. Loop thread
 * only.
 */
#include "ws_int.h"

#include <stdlib.h>
#include <string.h>

/* The length of a frame's header for a payload of len bytes. */
static size_t header_len(size_t len)
{
    return len < 126 ? 2 : len < 65536 ? 4 : 10;
}

/* A frame's header for a payload of len bytes into h: its length. Server
 * frames are not masked. */
static size_t frame_header(unsigned char h[10], size_t len, bool binary)
{
    size_t hlen = header_len(len);
    h[0] = 0x80 | (binary ? 0x2 : 0x1);
    if (hlen == 2) {
        h[1] = (unsigned char)len;
    } else if (hlen == 4) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++) {
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        }
    }
    return hlen;
}

size_t ad_ws_text_frame_len(size_t len)
{
    return header_len(len) + len;
}

ad_wsmsg_t *ad_wsmsg_new(const void *data, size_t len, bool binary)
{
    ad_wsmsg_t *m = ad_xmalloc(sizeof(*m) + 10 + len + 1);
    m->refs = 1;
    m->deflated_bits = 0;
    m->deflated = NULL;
    m->frames = false;
    m->frames_bits = 0;
    m->cap = 0;
    unsigned char *payload = m->buf + 10;
    if (len > 0) {
        memcpy(payload, data, len);
    }
    payload[len] = '\0';
    unsigned char h[10];
    size_t hlen = frame_header(h, len, binary);
    m->frame = payload - hlen;
    memcpy(m->frame, h, hlen);
    m->hlen = hlen;
    m->flen = hlen + len;
    return m;
}

ad_wsmsg_t *ad_wsmsg_frames_new(size_t total, int bits)
{
    ad_wsmsg_t *m = ad_xmalloc(sizeof(*m) + total);
    m->refs = 1;
    m->deflated_bits = 0;
    m->deflated = NULL;
    m->frames = true;
    m->frames_bits = bits;
    m->cap = total;
    m->frame = m->buf;
    m->hlen = 0;
    m->flen = 0;
    return m;
}

int ad_wsmsg_frames_add_text(ad_wsmsg_t *m, const char *data, size_t len)
{
    if (!m->frames || m->frames_bits != 0) {
        return AD_EINVAL;
    }
    if (m->cap - m->flen < ad_ws_text_frame_len(len)) {
        return AD_ETOOBIG;
    }
    unsigned char *p = m->buf + m->flen;
    size_t hlen = frame_header(p, len, false);
    memcpy(p + hlen, data, len);
    m->flen += hlen + len;
    return 0;
}

/* m as a connection compressing with bits sends it (0: m itself). A new
 * reference. */
ad_wsmsg_t *ad_wsmsg_form_for(ad_wsmsg_t *m, int bits)
{
    return bits != 0 && !m->frames ? ad_ws_deflated(m, bits) : ad_wsmsg_ref(m);
}

size_t ad_wsmsg_frame_len(ad_wsmsg_t *m, int bits)
{
    ad_wsmsg_t *f = ad_wsmsg_form_for(m, bits);
    size_t n = f->flen;
    ad_wsmsg_unref(f);
    return n;
}

int ad_wsmsg_frames_add(ad_wsmsg_t *run, ad_wsmsg_t *m)
{
    if (!run->frames || m->frames) {
        return AD_EINVAL;
    }
    ad_wsmsg_t *f = ad_wsmsg_form_for(m, run->frames_bits);
    int rc = AD_ETOOBIG;
    if (run->cap - run->flen >= f->flen) {
        memcpy(run->buf + run->flen, f->frame, f->flen);
        run->flen += f->flen;
        rc = 0;
    }
    ad_wsmsg_unref(f);
    return rc;
}

ad_wsmsg_t *ad_wsmsg_ref(ad_wsmsg_t *m)
{
    m->refs++;
    return m;
}

void ad_wsmsg_unref(ad_wsmsg_t *m)
{
    if (m != NULL && --m->refs == 0) {
        ad_wsmsg_unref(m->deflated);
        free(m);
    }
}

bool ad_wsmsg_binary(const ad_wsmsg_t *m)
{
    return (m->frame[0] & 0x0f) == 0x2;
}

void ad_wsmsg_set_rsv1(ad_wsmsg_t *m)
{
    m->frame[0] |= 0x40;
}

bool ad_wsmsg_kept(const ad_wsmsg_t *m, int bits, ad_wsmsg_t **d)
{
    *d = m->deflated;
    return m->deflated_bits == bits;
}

void ad_wsmsg_keep(ad_wsmsg_t *m, int bits, ad_wsmsg_t *d)
{
    if (m->deflated_bits != 0) {
        ad_wsmsg_unref(d); /* m keeps another size's: d was a one-off */
        return;
    }
    m->deflated_bits = bits;
    m->deflated = d;
}

const char *ad_wsmsg_data(const ad_wsmsg_t *m, size_t *len)
{
    if (len != NULL) {
        *len = m->flen - m->hlen;
    }
    return (const char *)m->frame + m->hlen;
}
