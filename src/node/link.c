/* SPDX-License-Identifier: MIT */
/*
 * The link's binary frames (docs/nodes.md, "Holder frames on the link"):
 * a holder frame with the run it belongs to and the epoch of the ATTACH
 * it answers. Both ends check every message here before anything else
 * reads it. Pure: no state, any thread.
 */
#include "node/node.h"

#include "hold/hold.h"

#include <string.h>

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v & 0xff);
    p[1] = (unsigned char)((v >> 8) & 0xff);
    p[2] = (unsigned char)((v >> 16) & 0xff);
    p[3] = (unsigned char)((v >> 24) & 0xff);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool run_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

size_t ad_link_header(unsigned char *out, const char *run, uint32_t epoch)
{
    size_t n = strlen(run);
    if (n == 0 || n > AD_LINK_RUN_MAX) {
        return 0;
    }
    out[0] = AD_LINK_HOLD;
    out[1] = (unsigned char)n;
    put_u32(out + 2, epoch);
    memcpy(out + AD_LINK_HDR, run, n);
    return AD_LINK_HDR + n;
}

size_t ad_link_header_lease(unsigned char *out, const char *run, uint32_t epoch, uint32_t lease)
{
    size_t n = strlen(run);
    if (n == 0 || n > AD_LINK_RUN_MAX) {
        return 0;
    }
    out[0] = AD_LINK_HOLD_LEASE;
    out[1] = (unsigned char)n;
    put_u32(out + 2, epoch);
    put_u32(out + AD_LINK_HDR, lease);
    memcpy(out + AD_LINK_HDR_LEASE, run, n);
    return AD_LINK_HDR_LEASE + n;
}

int ad_link_parse_lease(const unsigned char *m, size_t len, char run[AD_LINK_RUN_MAX + 1],
                        uint32_t *epoch, uint32_t *lease, const unsigned char **frame, size_t *flen)
{
    if (len < AD_LINK_HDR || (m[0] != AD_LINK_HOLD && m[0] != AD_LINK_HOLD_LEASE)) {
        return AD_EINVAL;
    }
    size_t hdr = m[0] == AD_LINK_HOLD_LEASE ? AD_LINK_HDR_LEASE : AD_LINK_HDR;
    size_t n = m[1];
    if (n == 0 || n > AD_LINK_RUN_MAX || len < hdr + n + AD_HOLD_HDR) {
        return AD_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!run_char_ok(m[hdr + i])) {
            return AD_EINVAL;
        }
    }
    const unsigned char *f = m + hdr + n;
    size_t rest = len - hdr - n;
    uint32_t plen = ad_hold_len(f);
    if (plen > AD_HOLD_MAX_PAYLOAD || (size_t)plen + AD_HOLD_HDR != rest) {
        return AD_EINVAL;
    }
    memcpy(run, m + hdr, n);
    run[n] = '\0';
    *epoch = get_u32(m + 2);
    *lease = hdr == AD_LINK_HDR_LEASE ? get_u32(m + AD_LINK_HDR) : 0;
    *frame = f;
    *flen = rest;
    return 0;
}

int ad_link_parse(const unsigned char *m, size_t len, char run[AD_LINK_RUN_MAX + 1],
                  uint32_t *epoch, const unsigned char **frame, size_t *flen)
{
    uint32_t lease;
    return ad_link_parse_lease(m, len, run, epoch, &lease, frame, flen);
}

bool ad_link_lease_ok(uint32_t *known, uint32_t got)
{
    if (got < *known) {
        return false;
    }
    *known = got;
    return true;
}

bool ad_link_frame_up_ok(unsigned type, size_t len)
{
    switch (type) {
    case AD_HOLD_DATA:
    case AD_HOLD_SCROLL:
        return len >= 8;
    case AD_HOLD_EOF:
    case AD_HOLD_RESUME:
        return true;
    case AD_HOLD_EXIT:
    case AD_HOLD_STALL:
        return len >= 4;
    case AD_HOLD_HELLO: /* the holder's version, first after each ATTACH */
        return len <= AD_HOLD_VERSION_MAX;
    default:
        return false;
    }
}

bool ad_link_frame_down_ok(unsigned type, size_t len)
{
    switch (type) {
    case AD_HOLD_ATTACH:
        return len >= 24;
    case AD_HOLD_ACK:
        return len >= 16;
    case AD_HOLD_SIGNAL:
    case AD_HOLD_RESIZE:
        return len >= 4;
    case AD_HOLD_INPUT:
    case AD_HOLD_CLOSE_IN:
        return true;
    default:
        return false;
    }
}
