/* SPDX-License-Identifier: MIT */
/*
 * Unauthenticated noise in the audit: a refused request with no principal
 * (no token, a bad one, a locked-out address) is written as a row the
 * first time its address is seen in an interval; the rest from that
 * address are counted, and one row per address closes the interval with
 * the count (method "*", route "(unauthenticated requests)", targetId the
 * count). 20,000 refused requests thus leave two rows an address, not
 * 20,000. The table is bounded: when it is full it is written out early.
 * Which requests are audited at all is guard.c's.
 */
#include "auth/auth_int.h"

#include <stdlib.h>
#include <string.h>

#define NOISE_MAX 256

typedef struct {
    char addr[48];
    uint64_t count; /* after the first, written one */
    int status;     /* the last one's */
} noise_t;

struct ad_auth_noise {
    uv_timer_t timer;
    ad_store_t *store;
    noise_t e[NOISE_MAX];
    size_t n;
};

static void flush(struct ad_auth_noise *z)
{
    for (size_t i = 0; i < z->n; i++) {
        const noise_t *e = &z->e[i];
        if (e->count == 0 || z->store == NULL) {
            continue;
        }
        ad_store_audit_t row;
        memset(&row, 0, sizeof(row));
        row.ts = ad_wall_ms();
        snprintf(row.token_name, sizeof(row.token_name), "anonymous");
        snprintf(row.method, sizeof(row.method), "*");
        snprintf(row.route, sizeof(row.route), "(unauthenticated requests)");
        snprintf(row.target_id, sizeof(row.target_id), "%llu", (unsigned long long)e->count);
        row.status = e->status;
        snprintf(row.remote, sizeof(row.remote), "%s", e->addr);
        ad_store_audit_insert(z->store, &row);
    }
    z->n = 0;
}

static void on_interval(uv_timer_t *t)
{
    flush(t->data);
}

bool ad_auth_noise_note(ad_auth_t *a, const char *addr, int status)
{
    if (a->loop == NULL) {
        return false;
    }
    struct ad_auth_noise *z = a->noise;
    if (z == NULL) {
        z = ad_xcalloc(1, sizeof(*z));
        z->store = a->store;
        uv_timer_init(a->loop, &z->timer);
        z->timer.data = z;
        uint64_t ms = a->cfg->audit_noise_interval_ms;
        uv_timer_start(&z->timer, on_interval, ms, ms);
        uv_unref((uv_handle_t *)&z->timer);
        a->noise = z;
    }
    for (size_t i = 0; i < z->n; i++) {
        if (strcmp(z->e[i].addr, addr) == 0) {
            z->e[i].count++;
            z->e[i].status = status;
            return true;
        }
    }
    if (z->n == NOISE_MAX) {
        flush(z); /* full: this interval ends early */
    }
    noise_t *e = &z->e[z->n++];
    snprintf(e->addr, sizeof(e->addr), "%s", addr);
    e->count = 0;
    e->status = status;
    return false;
}

static void noise_closed(uv_handle_t *h)
{
    free(h->data);
}

void ad_auth_noise_close(ad_auth_t *a)
{
    struct ad_auth_noise *z = a->noise;
    if (z == NULL) {
        return;
    }
    a->noise = NULL;
    flush(z);
    uv_close((uv_handle_t *)&z->timer, noise_closed);
}
