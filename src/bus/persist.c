/* SPDX-License-Identifier: MIT */
/*
 * Persistence: published events queued for the event log (they share
 * a commit for a few ms), the ring's eviction once they are stored,
 * retention trims, and the durable seq ceiling: a seq is handed out only
 * below a reservation committed to the store, so a restart after a crash
 * continues above anything a subscriber may have seen. A failed write is
 * retried with backoff while the events wait in memory, up to a bound;
 * past it they are given up and replay reports the gap. Storing them is
 * src/store/events.c's, behind the store ops.
 */
#include "bus/bus_int.h"

#include <stdlib.h>
#include <string.h>

/* ---- ring and persistence ---------------------------------------------------- */

void ad_bus_ring_evict(ad_bus_t *bus)
{
    size_t max = bus->cfg ? (size_t)bus->cfg->event_ring_bytes : (8u << 20);
    /* A log read in flight pins the ring just past what it reads, so the
     * reader continues from the ring instead of chasing it forever; up to
     * four times the bound. */
    uint64_t pin = bus->ring.bytes <= 4 * max ? ad_bus_ring_pin(bus) : 0;
    /* Events not yet committed stay in the ring whatever its size: replay
     * relies on every event being in the ring or in the log. */
    while (bus->ring.bytes > max && bus->ring.count > 1) {
        uint64_t first = ad_bus_ring_first(&bus->ring);
        if ((bus->sops != NULL && first > bus->persisted_seq) || first > bus->visible ||
            (pin != 0 && first >= pin)) {
            break;
        }
        ad_bus_event_unref(ad_bus_ring_pop(&bus->ring));
    }
}

static void maybe_trim(ad_bus_t *bus, bool force);

static void flush_writes(ad_bus_t *bus);

typedef struct wbatch {
    ad_bus_t *bus;
    size_t n;
    ad_bus_event_t *evs[];
} wbatch_t;

static void on_written(int rc, void *arg);

/* Events waiting in memory may take this much before a failing log is
 * given up on (four ring bounds). */
static size_t unpersisted_max(const ad_bus_t *bus)
{
    return (bus->cfg ? (size_t)bus->cfg->event_ring_bytes : (8u << 20)) * 4;
}

/* A failed batch waits to be written again, unless the daemon is stopping
 * or too much waits already. True when kept. */
static bool keep_for_retry(ad_bus_t *bus, wbatch_t *wb, int rc)
{
    if (bus->stopping || bus->closing || bus->loop == NULL ||
        bus->unpersisted_bytes > unpersisted_max(bus)) {
        return false;
    }
    ad_log(AD_LOG_WARN, "bus", "events not stored yet, will retry first=%llu n=%zu err=%s",
           (unsigned long long)wb->evs[0]->seq, wb->n, ad_strerror(rc));
    bus->retry = wb;
    bus->retry_ms = bus->retry_ms ? bus->retry_ms * 2 : AD_BUS_RETRY_MIN_MS;
    if (bus->retry_ms > AD_BUS_RETRY_MAX_MS) {
        bus->retry_ms = AD_BUS_RETRY_MAX_MS;
    }
    uv_timer_start(&bus->retry_timer, ad_bus_retry_timer, (uint64_t)bus->retry_ms, 0);
    return true;
}

void ad_bus_drop_retry(ad_bus_t *bus)
{
    wbatch_t *wb = bus->retry;
    if (wb == NULL) {
        return;
    }
    bus->retry = NULL;
    for (size_t i = 0; i < wb->n; i++) {
        ad_bus_event_unref(wb->evs[i]);
    }
    free(wb);
    bus->writes--;
}

void ad_bus_retry_timer(uv_timer_t *t)
{
    ad_bus_t *bus = t->data;
    if (bus->retry != NULL) {
        wbatch_t *wb = bus->retry;
        bus->retry = NULL;
        bus->sops->write(bus->simpl, wb->evs, wb->n, on_written, wb);
    }
    ad_bus_reserve_ahead(bus);
}

static void on_written(int rc, void *arg)
{
    wbatch_t *wb = arg;
    ad_bus_t *bus = wb->bus;
    if (rc != 0 && keep_for_retry(bus, wb, rc)) {
        return; /* still one batch in flight: later events wait behind it */
    }
    if (rc != 0) {
        bus->dropped += wb->n;
        ad_log(AD_LOG_ERROR, "bus",
               "events given up, replay will report the gap first=%llu last=%llu waiting=%zu "
               "err=%s",
               (unsigned long long)wb->evs[0]->seq, (unsigned long long)wb->evs[wb->n - 1]->seq,
               bus->unpersisted_bytes, ad_strerror(rc));
    } else {
        bus->retry_ms = 0;
        bus->stored += wb->n;
        if (bus->db_min == 0) {
            bus->db_min = wb->evs[0]->seq;
        }
        for (size_t i = 0; i < wb->n; i++) {
            bus->db_bytes += ad_bus_event_bytes(wb->evs[i]);
        }
    }
    if (wb->evs[wb->n - 1]->seq > bus->persisted_seq) {
        bus->persisted_seq = wb->evs[wb->n - 1]->seq;
    }
    for (size_t i = 0; i < wb->n; i++) {
        size_t b = ad_bus_event_bytes(wb->evs[i]);
        bus->unpersisted_bytes -= b < bus->unpersisted_bytes ? b : bus->unpersisted_bytes;
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

static void on_trimmed(int rc, uint64_t oldest, uint64_t bytes, void *arg)
{
    ad_bus_t *bus = arg;
    bus->trimming = false;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "bus", "event retention failed err=%s", ad_strerror(rc));
    } else {
        bus->db_min = oldest;
        bus->db_bytes = bytes;
        bus->db_bytes_known = true;
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
        return; /* a replay is reading the log: the next commit tries again */
    }
    int64_t now = ad_wall_ms();
    if (bus->db_min == 0 || (!force && now - bus->last_trim_ms < AD_BUS_TRIM_MIN_INTERVAL_MS)) {
        return;
    }
    /* Size is what the store holds, never a seq distance: a crash skips a
     * block of seqs (the durable ceiling) that holds no event, and a bound
     * turned into seqs would count them and delete real history. */
    if (!force && bus->db_bytes_known && bus->db_bytes <= bus->cfg->event_retention_bytes) {
        return; /* under the size bound; age is the timer's job */
    }
    bus->last_trim_ms = now;
    int64_t min_ts = now - (int64_t)bus->cfg->event_retention_seconds * 1000;
    bus->trimming = true;
    bus->sops->trim(bus->simpl, bus->cfg->event_retention_bytes, min_ts, on_trimmed, bus);
}

static void on_trim_timer(uv_timer_t *t)
{
    maybe_trim(t->data, true);
}

/* ---- the durable seq ceiling -------------------------------------------------------- */

static void on_reserved(int rc, void *arg)
{
    ad_bus_t *bus = arg;
    bus->reserving--;
    if (bus->closing) {
        ad_bus_try_finish_free(bus);
        return;
    }
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "bus", "seqs not reserved, new events wait upto=%llu err=%s",
               (unsigned long long)bus->reserve_target, ad_strerror(rc));
        if (bus->loop != NULL && !bus->stopping) {
            uv_timer_start(&bus->retry_timer, ad_bus_retry_timer, AD_BUS_RETRY_MAX_MS, 0);
        }
        return;
    }
    if (bus->reserve_target > bus->reserved) {
        bus->reserved = bus->reserve_target;
    }
    ad_bus_release_held(bus);
}

void ad_bus_reserve_ahead(ad_bus_t *bus)
{
    if (bus->sops == NULL || bus->sops->reserve == NULL || bus->reserving > 0 || bus->stopping ||
        bus->closing || bus->seq + AD_BUS_SEQ_BLOCK / 2 <= bus->reserved) {
        return;
    }
    bus->reserving++;
    bus->reserve_target = bus->seq + AD_BUS_SEQ_BLOCK;
    bus->sops->reserve(bus->simpl, bus->reserve_target, on_reserved, bus);
}

void ad_bus_set_store(ad_bus_t *bus, const ad_bus_store_ops_t *ops, void *impl, uint64_t min_seq,
                      uint64_t max_seq, uint64_t reserved)
{
    bus->sops = ops;
    bus->simpl = impl;
    /* After a crash the seqs up to the last reservation may have reached
     * subscribers without being stored: continue above all of them. */
    uint64_t start = max_seq > reserved ? max_seq : reserved;
    if (start > bus->seq) {
        bus->seq = start;
    }
    if (reserved > max_seq) {
        ad_log(AD_LOG_WARN, "bus", "seqs skipped after an unclean stop from=%llu to=%llu",
               (unsigned long long)max_seq + 1, (unsigned long long)reserved);
        bus->skipped_from = max_seq + 1;
        bus->skipped_to = reserved;
    }
    bus->visible = bus->seq;
    bus->reserved = ops->reserve != NULL ? bus->seq : UINT64_MAX;
    bus->persisted_seq = bus->seq;
    bus->db_min = min_seq;
    ad_bus_reserve_ahead(bus);
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
    if (bus->retry != NULL) {
        uv_timer_stop(&bus->retry_timer);
        ad_bus_retry_timer(&bus->retry_timer); /* one last try, before the rest */
    }
    flush_writes(bus);
    /* The ceiling comes down to the last seq, after the last events: a
     * clean restart continues right after them, with no gap to report. */
    if (bus->sops != NULL && bus->sops->reserve != NULL) {
        bus->reserving++; /* queued after an extension in flight, if any */
        bus->reserve_target = bus->seq;
        bus->sops->reserve(bus->simpl, bus->seq, on_reserved, bus);
    }
}
