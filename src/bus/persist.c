/* SPDX-License-Identifier: MIT */
/*
 * Persistence: published events queued for the events table (they share
 * a transaction for a few ms), the ring's eviction once they are stored,
 * and retention trims. SQL is src/store/events.c's, behind the store ops.
 */
#include "bus/bus_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- ring and persistence ---------------------------------------------------- */

void ad_bus_ring_evict(ad_bus_t *bus)
{
    size_t max = bus->cfg ? (size_t)bus->cfg->event_ring_bytes : (8u << 20);
    /* A table read in flight pins the ring just past what it reads, so the
     * reader continues from the ring instead of chasing it forever; up to
     * four times the bound. */
    uint64_t pin = bus->ring.bytes <= 4 * max ? ad_bus_ring_pin(bus) : 0;
    /* Events not yet committed stay in the ring whatever its size: replay
     * relies on every event being in the ring or in the table. */
    while (bus->ring.bytes > max && bus->ring.count > 1) {
        uint64_t first = ad_bus_ring_first(&bus->ring);
        if ((bus->sops != NULL && first > bus->persisted_seq) || (pin != 0 && first >= pin)) {
            break;
        }
        ad_bus_event_unref(ad_bus_ring_pop(&bus->ring));
    }
}

static void maybe_trim(ad_bus_t *bus, bool force);

static void flush_writes(ad_bus_t *bus);

typedef struct {
    ad_bus_t *bus;
    size_t n;
    ad_bus_event_t *evs[];
} wbatch_t;

static void on_written(int rc, void *arg)
{
    wbatch_t *wb = arg;
    ad_bus_t *bus = wb->bus;
    if (rc != 0) {
        ad_log(AD_LOG_ERROR, "bus", "events not persisted first=%llu n=%zu err=%s",
               (unsigned long long)wb->evs[0]->seq, wb->n, ad_strerror(rc));
    } else if (bus->db_min == 0) {
        bus->db_min = wb->evs[0]->seq;
    }
    /* A failed batch is given up rather than retried forever; the ring
     * still holds it for a while. */
    if (wb->evs[wb->n - 1]->seq > bus->persisted_seq) {
        bus->persisted_seq = wb->evs[wb->n - 1]->seq;
    }
    for (size_t i = 0; i < wb->n; i++) {
        ad_bus_event_unref(wb->evs[i]);
    }
    free(wb);
    bus->writes--;
    if (bus->closing) {
        ad_bus_try_finish_free(bus);
        return;
    }
    ad_bus_ring_evict(bus);
    maybe_trim(bus, false);
    ad_bus_schedule_writes(bus);
}

/* One batch in flight at a time, so events queued meanwhile go in the next
 * transaction together; when stopping, everything goes at once. */
static void flush_writes(ad_bus_t *bus)
{
    if (bus->sops == NULL || bus->npending == 0 || bus->closing ||
        (bus->writes > 0 && !bus->stopping)) {
        return;
    }
    if (bus->loop != NULL && !uv_is_closing((uv_handle_t *)&bus->persist_timer)) {
        uv_timer_stop(&bus->persist_timer);
    }
    size_t n = bus->npending < AD_BUS_WRITE_BATCH_MAX || bus->stopping ? bus->npending
                                                                       : AD_BUS_WRITE_BATCH_MAX;
    wbatch_t *wb = ad_xmalloc(sizeof(*wb) + n * sizeof(wb->evs[0]));
    wb->bus = bus;
    wb->n = n;
    memcpy(wb->evs, bus->pending, n * sizeof(*bus->pending));
    memmove(bus->pending, bus->pending + n, (bus->npending - n) * sizeof(*bus->pending));
    bus->npending -= n;
    bus->writes++;
    bus->sops->write(bus->simpl, wb->evs, n, on_written, wb);
}

static void on_persist_timer(uv_timer_t *t)
{
    flush_writes(t->data);
}

/* Writes what is pending soon: at once when stopping, without a loop, or
 * with a full batch; otherwise after AD_BUS_PERSIST_DELAY_MS (or when the batch in
 * flight has committed and the delay has passed). */
void ad_bus_schedule_writes(ad_bus_t *bus)
{
    if (bus->sops == NULL || bus->npending == 0 || bus->closing) {
        return;
    }
    if (bus->loop == NULL || bus->stopping || bus->npending >= AD_BUS_WRITE_BATCH_MAX ||
        uv_is_closing((uv_handle_t *)&bus->persist_timer)) {
        flush_writes(bus);
        return;
    }
    if (bus->writes == 0 && !uv_is_active((uv_handle_t *)&bus->persist_timer)) {
        uv_timer_start(&bus->persist_timer, on_persist_timer, AD_BUS_PERSIST_DELAY_MS, 0);
    }
}

static void on_trimmed(int rc, uint64_t oldest, void *arg)
{
    ad_bus_t *bus = arg;
    bus->trimming = false;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "bus", "event retention failed err=%s", ad_strerror(rc));
    } else {
        bus->db_min = oldest;
    }
    if (bus->closing) {
        ad_bus_try_finish_free(bus);
    }
}

static void maybe_trim(ad_bus_t *bus, bool force)
{
    if (bus->sops == NULL || bus->trimming || bus->closing || bus->stopping || bus->cfg == NULL) {
        return;
    }
    if (bus->db_reads > 0) {
        return; /* a replay is reading the table: the next commit tries again */
    }
    int64_t now = ad_wall_ms();
    if (bus->db_min == 0 || (!force && now - bus->last_trim_ms < AD_BUS_TRIM_MIN_INTERVAL_MS)) {
        return;
    }
    /* Size is enforced through the mean event size of the ring, which
     * saves summing the table. */
    size_t avg = bus->ring.count ? bus->ring.bytes / bus->ring.count : 256;
    uint64_t keep = bus->cfg->event_retention_bytes / (avg ? avg : 1);
    uint64_t max_seq = bus->persisted_seq > keep ? bus->persisted_seq - keep : 0;
    if (!force && max_seq < bus->db_min) {
        return; /* under the size bound; age is the timer's job */
    }
    bus->last_trim_ms = now;
    int64_t min_ts = now - (int64_t)bus->cfg->event_retention_seconds * 1000;
    bus->trimming = true;
    bus->sops->trim(bus->simpl, max_seq, min_ts, on_trimmed, bus);
}

static void on_trim_timer(uv_timer_t *t)
{
    maybe_trim(t->data, true);
}

void ad_bus_set_store(ad_bus_t *bus, const ad_bus_store_ops_t *ops, void *impl, uint64_t min_seq,
                      uint64_t max_seq)
{
    bus->sops = ops;
    bus->simpl = impl;
    if (max_seq > bus->seq) {
        bus->seq = max_seq;
    }
    bus->persisted_seq = bus->seq;
    bus->db_min = min_seq;
    if (bus->loop != NULL) {
        uv_timer_start(&bus->trim_timer, on_trim_timer, 1000, AD_BUS_TRIM_TIMER_MS);
        uv_unref((uv_handle_t *)&bus->trim_timer);
    }
}

void ad_bus_stop(ad_bus_t *bus)
{
    if (bus == NULL || bus->stopping) {
        return;
    }
    if (bus->loop != NULL && !uv_is_closing((uv_handle_t *)&bus->trim_timer)) {
        uv_timer_stop(&bus->trim_timer);
    }
    bus->stopping = true;
    flush_writes(bus);
}
