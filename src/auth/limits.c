/* SPDX-License-Identifier: MIT */
/*
 * Throttles: bad credentials from one remote address are answered more and
 * more slowly, then refused for a while; each API token has a request rate
 * (a token bucket). Both tables are bounded. What counts as a bad
 * credential is guard.c's.
 */
#include "auth/auth_int.h"

#include <stdio.h>
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
        ad_log(AD_LOG_WARN, "auth", "too many bad credentials, refusing for a while peer=%s",
               addr);
    }
    uint64_t wait = 100u * p->fails;
    return wait > 2000 ? 2000 : wait;
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
