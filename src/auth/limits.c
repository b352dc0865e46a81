/* SPDX-License-Identifier: MIT */
/*
 * Throttles: bad credentials from one network (IPv4 /24, IPv6 /64) or for
 * one token prefix are answered more and more slowly, then refused for a
 * while (a good credential is never refused: guard.c and auth.c check it
 * first); each API token has a request rate
 * (a token bucket). Both tables are bounded. What counts as a bad
 * credential is guard.c's.
 */
#include "auth/auth_int.h"

#include <stdio.h>
#include <sys/socket.h>
#include <string.h>

static uint64_t now_ms(const ad_auth_t *a)
{
    return a->loop != NULL ? uv_now(a->loop) : (uint64_t)ad_mono_ns() / 1000000u;
}

/* A peer lives in one of PEER_PROBE slots from its address's hash: a
 * lookup, done on every request, reads those few slots only, however many
 * addresses have failed (a full scan of the table cost 5 % of a small
 * request's CPU). */
#define PEER_PROBE 8

static size_t peer_hash(const char *addr)
{
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)addr; *c != '\0'; c++) {
        h = (h ^ *c) * 1099511628211u;
    }
    return (size_t)(h % AD_AUTH_PEERS_MAX);
}

/* The slot of addr, or (create) a free or the least recently used one of
 * its probe window. */
static ad_peer_t *peer_slot(ad_auth_t *a, const char *addr, bool create)
{
    size_t h = peer_hash(addr);
    ad_peer_t *spare = NULL;
    for (size_t i = 0; i < PEER_PROBE; i++) {
        ad_peer_t *p = &a->peers[(h + i) % AD_AUTH_PEERS_MAX];
        if (p->addr[0] == '\0') {
            if (spare == NULL || spare->addr[0] != '\0') {
                spare = p;
            }
            continue;
        }
        if (strcmp(p->addr, addr) == 0) {
            return p;
        }
        if (spare == NULL || (spare->addr[0] != '\0' && p->last_ms < spare->last_ms)) {
            spare = p;
        }
    }
    if (!create) {
        return NULL;
    }
    memset(spare, 0, sizeof(*spare));
    snprintf(spare->addr, sizeof(spare->addr), "%s", addr);
    return spare;
}

bool ad_auth_peer_locked(ad_auth_t *a, const char *addr, int64_t *retry_after_s)
{
    ad_peer_t *p = peer_slot(a, addr, false);
    uint64_t now = now_ms(a);
    if (p == NULL || p->locked_until <= now) {
        return false;
    }
    *retry_after_s = (int64_t)((p->locked_until - now + 999) / 1000);
    return true;
}

uint64_t ad_auth_peer_failed(ad_auth_t *a, const char *addr)
{
    ad_peer_t *p = peer_slot(a, addr, true);
    uint64_t now = now_ms(a);
    if (now - p->window_start > AD_AUTH_FAIL_WINDOW_MS) {
        p->window_start = now;
        p->fails = 0;
    }
    p->fails++;
    p->last_ms = now;
    if (p->fails >= AD_AUTH_FAILS_MAX) {
        p->locked_until = now + AD_AUTH_LOCK_MS;
        p->fails = 0;
        p->window_start = now;
        ad_log(AD_LOG_WARN, "auth", "too many bad credentials, refusing for a while peer=%s", addr);
    }
    uint64_t wait = 100u * p->fails;
    return wait > 2000 ? 2000 : wait;
}

/* ---- bad credentials: per network and per token prefix ------------------------------ */

/* IPv4 a.b.c.d -> "v4:a.b.c" (/24), loopback 127/8 -> "v4:127" (one
 * machine, however many addresses); IPv6 -> "v6:" + its first four groups
 * (/64), IPv4-mapped ones as IPv4; anything else as given. */
static void net_key(const char *peer, char out[48])
{
    const char *v4 = peer;
    if (strncmp(peer, "::ffff:", 7) == 0 && strchr(peer + 7, '.') != NULL) {
        v4 = peer + 7;
    }
    if (strncmp(v4, "127.", 4) == 0) {
        snprintf(out, 48, "v4:127"); /* all of 127/8 is this machine: one network */
        return;
    }
    if (strchr(v4, '.') != NULL && strchr(v4, ':') == NULL) {
        const char *last = strrchr(v4, '.');
        snprintf(out, 48, "v4:%.*s", (int)(last - v4), v4);
        return;
    }
    unsigned char a6[16];
    if (strchr(peer, ':') != NULL && uv_inet_pton(AF_INET6, peer, a6) == 0) {
        snprintf(out, 48, "v6:%02x%02x:%02x%02x:%02x%02x:%02x%02x", a6[0], a6[1], a6[2], a6[3],
                 a6[4], a6[5], a6[6], a6[7]);
        return;
    }
    snprintf(out, 48, "p:%.44s", peer);
}

void ad_auth_fail_keys(const char *peer, const char *token, char net[48], char prefix[48])
{
    net_key(peer != NULL ? peer : "", net);
    const char *t = token != NULL ? token : "";
    const char *dot = strchr(t, '.');
    size_t n = dot != NULL ? (size_t)(dot - t) : strlen(t);
    if (dot == NULL && n > 6) {
        n = 6; /* no id: the first characters (the owner token's are random) */
    }
    snprintf(prefix, 48, "t:%.*s", (int)(n < 40 ? n : 40), t);
}

bool ad_auth_bad_locked(ad_auth_t *a, const char *peer, const char *token, int64_t *retry_after_s)
{
    char net[48], prefix[48];
    ad_auth_fail_keys(peer, token, net, prefix);
    int64_t r1 = 0, r2 = 0;
    bool l1 = ad_auth_peer_locked(a, net, &r1), l2 = ad_auth_peer_locked(a, prefix, &r2);
    *retry_after_s = r1 > r2 ? r1 : r2;
    return l1 || l2;
}

uint64_t ad_auth_bad_failed(ad_auth_t *a, const char *peer, const char *token)
{
    char net[48], prefix[48];
    ad_auth_fail_keys(peer, token, net, prefix);
    uint64_t w1 = ad_auth_peer_failed(a, net), w2 = ad_auth_peer_failed(a, prefix);
    return w1 > w2 ? w1 : w2;
}

bool ad_auth_tok_take(ad_auth_t *a, ad_tok_t *t, int64_t *retry_after_s)
{
    int64_t rate = t->row.rate_per_minute > 0 ? t->row.rate_per_minute
                                              : (int64_t)a->cfg->token_rate_per_minute;
    if (rate <= 0) {
        return true;
    }
    uint64_t now = now_ms(a);
    double cap = (double)rate; /* a minute's worth may come at once */
    if (t->refilled_ms == 0) {
        t->tokens = cap;
    } else {
        t->tokens += (double)(now - t->refilled_ms) * (double)rate / 60000.0;
        if (t->tokens > cap) {
            t->tokens = cap;
        }
    }
    t->refilled_ms = now;
    if (t->tokens >= 1.0) {
        t->tokens -= 1.0;
        return true;
    }
    *retry_after_s = (int64_t)((1.0 - t->tokens) * 60.0 / (double)rate) + 1;
    return false;
}
