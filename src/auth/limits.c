/* SPDX-License-Identifier: MIT */
/*
 * Throttles: bad credentials from one remote address are answered more and
 * more slowly, then refused for a while; each API token has a request rate
 * (a token bucket). Both tables are bounded. What counts as a bad
 * credential is guard.c's.
 */
#include "auth/auth_int.h"

#include <string.h>

static uint64_t now_ms(const ad_auth_t *a)
{
    return a->loop != NULL ? uv_now(a->loop) : (uint64_t)ad_mono_ns() / 1000000u;
}

/* The slot of addr, or (create) a free or the least recently used one. */
static ad_peer_t *peer_slot(ad_auth_t *a, const char *addr, bool create)
{
    ad_peer_t *oldest = NULL;
    for (size_t i = 0; i < AD_AUTH_PEERS_MAX; i++) {
        ad_peer_t *p = &a->peers[i];
        if (p->addr[0] != '\0' && strcmp(p->addr, addr) == 0) {
            return p;
        }
        if (oldest == NULL || p->last_ms < oldest->last_ms) {
            oldest = p;
        }
    }
    if (!create) {
        return NULL;
    }
    memset(oldest, 0, sizeof(*oldest));
    snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
    return oldest;
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
