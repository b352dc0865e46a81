/* SPDX-License-Identifier: MIT */
/*
 * The replay ring: recent events in seq order, contiguous, so an event is
 * found by arithmetic on its seq. It grows its slot array as needed; how
 * many bytes it may hold is decided by the bus, which pops the oldest.
 */
#include "bus/bus_int.h"

#include <stdlib.h>
#include <string.h>

void ad_bus_ring_init(bus_ring_t *r)
{
    memset(r, 0, sizeof(*r));
}

void ad_bus_ring_cleanup(bus_ring_t *r)
{
    while (r->count > 0) {
        ad_bus_event_unref(ad_bus_ring_pop(r));
    }
    free(r->slots);
    memset(r, 0, sizeof(*r));
}

static void grow(bus_ring_t *r)
{
    size_t ncap = r->cap ? r->cap * 2 : 1024;
    ad_bus_event_t **s = ad_xmalloc(ncap * sizeof(*s));
    for (size_t i = 0; i < r->count; i++) {
        s[i] = r->slots[(r->head + i) % r->cap];
    }
    free(r->slots);
    r->slots = s;
    r->cap = ncap;
    r->head = 0;
}

void ad_bus_ring_push(bus_ring_t *r, ad_bus_event_t *ev)
{
    if (r->count > 0 && ev->seq != ad_bus_ring_last(r) + 1) {
        AD_BUG("ring push out of order seq=%llu last=%llu", (unsigned long long)ev->seq,
               (unsigned long long)ad_bus_ring_last(r));
    }
    if (r->count == r->cap) {
        grow(r);
    }
    r->slots[(r->head + r->count) % r->cap] = ad_bus_event_ref(ev);
    r->count++;
    r->bytes += ad_bus_event_bytes(ev);
}

ad_bus_event_t *ad_bus_ring_pop(bus_ring_t *r)
{
    if (r->count == 0) {
        return NULL;
    }
    ad_bus_event_t *ev = r->slots[r->head];
    r->head = (r->head + 1) % r->cap;
    r->count--;
    r->bytes -= ad_bus_event_bytes(ev);
    return ev;
}

ad_bus_event_t *ad_bus_ring_get(const bus_ring_t *r, uint64_t seq)
{
    if (r->count == 0) {
        return NULL;
    }
    uint64_t first = r->slots[r->head]->seq;
    if (seq < first || seq - first >= r->count) {
        return NULL;
    }
    return r->slots[(r->head + (size_t)(seq - first)) % r->cap];
}

uint64_t ad_bus_ring_first(const bus_ring_t *r)
{
    return r->count ? r->slots[r->head]->seq : 0;
}

uint64_t ad_bus_ring_last(const bus_ring_t *r)
{
    return r->count ? r->slots[(r->head + r->count - 1) % r->cap]->seq : 0;
}
