/* SPDX-License-Identifier: MIT */
/*
 * bus: the event bus. publish() assigns the global sequence number,
 * serializes the envelope once, fans it out to subscribers, keeps it in a
 * ring for replay and queues it for the event log. This header is the
 * contract other subsystems publish through, and the subscriber side that
 * the live channels (src/api/live.c) deliver with.
 *
 * Threads: loop thread only, except where a function says otherwise.
 */
#ifndef AD_BUS_H
#define AD_BUS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"
#include "core/core.h"

typedef struct ad_bus ad_bus_t;

/* Returns owned: free with ad_bus_free(). cfg is borrowed. */
ad_bus_t *ad_bus_new(uv_loop_t *loop, const ad_config_t *cfg);
/* Frees the bus. Subscribers must be freed first; events not yet persisted
 * are dropped (ad_bus_stop() hands them to the store first, to keep them). */
void ad_bus_free(ad_bus_t *bus);

/* Publishes one event of `type` to `ntopics` topics ("agent:ag_…",
 * "workspace:ws_…", "system", …). payload is borrowed (the bus takes its own
 * reference if it keeps it). Returns the event's seq (> 0). bus may be NULL
 * (then nothing is published and 0 is returned), so code that runs without a
 * bus, such as unit tests, needs no special case. */
uint64_t ad_bus_publish(ad_bus_t *bus, const char *type, const char *const *topics, size_t ntopics,
                        json_t *payload);
/* The same with the payload already serialized: payload is compact JSON
 * text of len bytes (the caller vouches for it; it goes into the envelope
 * as is). For writers that produce the text for their HTTP answer anyway,
 * so the object is serialized once. */
uint64_t ad_bus_publish_text(ad_bus_t *bus, const char *type, const char *const *topics,
                             size_t ntopics, const char *payload, size_t len);
/* ad_bus_publish with the topics given as "prefix", id pairs ended by NULL
 * (pairs.c; the text form is bus.c's): ad_bus_publish_to(bus,
 * "agent_update", p, "agent", id, "org", org, NULL) publishes to
 * "agent:<id>" and "org:<org>". A NULL id skips its pair; an empty one
 * gives the bare prefix ("system", "usage"). At most
 * AD_BUS_PAIRS_MAX topics; pairs past it are dropped. Every event about a
 * row of an org should carry its "org" pair: subscribers of other orgs never
 * see it; events without one are for everybody. */
#define AD_BUS_PAIRS_MAX 8
uint64_t ad_bus_publish_to(ad_bus_t *bus, const char *type, json_t *payload, ...);
/* The same with the payload already serialized (as ad_bus_publish_text). */
uint64_t ad_bus_publish_text_to(ad_bus_t *bus, const char *type, const char *payload, size_t len,
                                ...);
/* The last seq delivered to subscribers (0 before the first event): what a
 * client may resume from. A seq that has left the process is never handed
 * out again, not even after a crash (see ad_bus_store_ops_t.reserve). */
uint64_t ad_bus_seq(const ad_bus_t *bus);

/* Events from elsewhere may be missing (issue #77): the link to the other
 * control planes (src/cluster) was down from local seq from to to, and
 * what they published meanwhile never came. The one listener (src/live:
 * a `gap` notice to every client, who reloads from the store) is told;
 * why is a word ("redis"). Loop thread. */
typedef void (*ad_bus_gap_fn)(void *ud, uint64_t from, uint64_t to, const char *why);
void ad_bus_on_remote_gap(ad_bus_t *bus, ad_bus_gap_fn fn, void *ud);
void ad_bus_remote_gap(ad_bus_t *bus, uint64_t from, uint64_t to, const char *why);
/* The oldest seq a replay can still deliver (ring or event log); the
 * next seq when nothing is retained. */
uint64_t ad_bus_oldest_seq(const ad_bus_t *bus);

/* Counters since start, for /metrics. */
typedef struct {
    uint64_t published, persisted, given_up;
    uint64_t unpersisted_bytes; /* published, not yet in the event log */
    uint64_t ring_events, ring_bytes;
    /* the replay budget: bytes granted now and at most, replays waiting
     * for a grant now, that waited since start, readers cut for holding
     * a grant without reading */
    uint64_t replay_budget, replay_held, replay_peak, replay_waiting;
    uint64_t replay_queued, replay_cut;
    /* the loop thread's longest turn (CPU ns) and its turns of 50 ms or
     * more, since start */
    uint64_t loop_turn_max_ns, loop_turns_slow;
} ad_bus_stats_t;
void ad_bus_stats(const ad_bus_t *bus, ad_bus_stats_t *out);
/* The stats as Prometheus families into b (prom.c; bus NULL: zeros). 0 or
 * AD_ETOOBIG. */
int ad_bus_prom(const ad_bus_t *bus, ad_buf_t *b);

/* ---- events ---------------------------------------------------------------
 * An event is immutable once published and refcounted (loop thread). Its
 * envelope {"seq","ts","topic","type","payload"} is serialized once;
 * `topic` is the first of its topics.
 */
typedef struct ad_bus_event ad_bus_event_t;
uint64_t ad_bus_event_seq(const ad_bus_event_t *ev);
/* The envelope bytes (JSON, NUL-terminated). Any thread. */
const char *ad_bus_event_data(const ad_bus_event_t *ev, size_t *len);
const char *ad_bus_event_type(const ad_bus_event_t *ev);
size_t ad_bus_event_ntopics(const ad_bus_event_t *ev);
const char *ad_bus_event_topic(const ad_bus_event_t *ev, size_t i);
/* True for an event another control plane published (it came over Redis
 * under a from: topic, src/cluster/redis.c). A subscriber that acts on an
 * event (writes, notifies, triggers) skips these: their origin plane acts
 * on them itself; one that only forwards to clients keeps them. */
bool ad_bus_event_remote(const ad_bus_event_t *ev);
/* The event's organisation, from its "org:<id>" topic, into org
 * (AD_ID_MAX bytes): false when it has none. */
bool ad_bus_event_org(const ad_bus_event_t *ev, char org[AD_ID_MAX]);
/* The payload JSON text (a slice of the envelope; not NUL-terminated). */
const char *ad_bus_event_payload_text(const ad_bus_event_t *ev, size_t *len);
int64_t ad_bus_event_ts_ms(const ad_bus_event_t *ev);
/* The envelope's ts string (RFC 3339 UTC, ms). */
const char *ad_bus_event_ts(const ad_bus_event_t *ev);

/* ---- subscribers ----------------------------------------------------------
 * One subscriber per connection. Topics are exact ("agent:ag_1") or a
 * prefix pattern ending in '*' ("agent:*"; "*" alone matches everything).
 * An event reaches a subscriber once, whichever of its topics matched.
 */
typedef struct ad_bus_sub ad_bus_sub_t;
typedef struct {
    /* Delivers one event, in seq order. ev is borrowed for the call.
     * Return 0, or nonzero (AD_ETOOBIG) when the connection cannot take
     * more: the subscriber is then in overflow (below). */
    int (*deliver)(void *ud, const ad_bus_event_t *ev);
    /* The subscriber fell behind its bound. last_seq is the last event
     * delivered to it. No event is delivered after this; the owner tells the
     * client and closes the connection. */
    void (*overflow)(void *ud, uint64_t last_seq);
    /* A replay asked for events older than anything retained; replay goes
     * on from oldest_seq. */
    void (*truncated)(void *ud, uint64_t oldest_seq);
    /* Optional: bytes queued on the connection. Replay pauses while this is
     * above half the send queue bound, so a long replay does not overflow. */
    size_t (*queued)(void *ud);
    /* Optional: a replay crossed seqs from..to that history does not hold
     * (lost in a crash before they were stored, or dropped when the event
     * log could not be written). Some may have been delivered before;
     * the client should reload what it shows. Replay goes on after to. */
    void (*gap)(void *ud, uint64_t from, uint64_t to);
    /* Optional, for a batched subscriber (ad_bus_sub_batch): delivers a
     * run of events, evs[0..n) in seq order (n >= 2), in one call, as
     * deliver would one by one. The array and the events are borrowed for
     * the call. Sets *taken to how many were delivered; returns 0 (all of
     * them), or nonzero as deliver does when the connection could take no
     * more than *taken: the subscriber is then in overflow. A consumer
     * that frees its subscriber in the run takes nothing after that. */
    int (*deliver_run)(void *ud, ad_bus_event_t *const *evs, size_t n, size_t *taken);
    /* Optional: the replay budget's part (--event-replay-bytes) that a step
     * of this subscriber's replay held was not written out for
     * AD_BUS_REPLAY_HOLD_MS while other replays waited for it. As
     * overflow (used when this is NULL): nothing more is delivered; the
     * owner tells the client to come back from last_seq and closes. */
    void (*stalled)(void *ud, uint64_t last_seq);
} ad_bus_sub_ops_t;

#define AD_BUS_TOPIC_MAX 256
#define AD_BUS_SUB_TOPICS_MAX 1024

/* Returns owned: free with ad_bus_sub_free(). ops and ud are borrowed and
 * must outlive the subscriber. queue_limit is the byte bound the replay
 * paces against (0: no pacing). */
ad_bus_sub_t *ad_bus_sub_new(ad_bus_t *bus, const ad_bus_sub_ops_t *ops, void *ud,
                             size_t queue_limit);
/* Live events reach this subscriber at the end of the loop turn they were
 * published in (after the turn's I/O callbacks, before the next poll
 * blocks), all of the turn's in one run of deliver() calls, still in seq
 * order. For subscribers that only forward to a client: its connection's
 * state is then fetched once a turn, not once an event. A change of its
 * subscriptions first delivers what is waiting. Without a loop (unit
 * tests) delivery stays immediate. Call it before subscribing. */
void ad_bus_sub_batch(ad_bus_sub_t *sub);
/* Delivers what the batched subscribers wait for now. For a publisher
 * that runs in a uv_check handle of its own: a check started in the check
 * phase runs only in the next turn, after its timers, so its events would
 * wait for them (the runner's live output, src/run/output.c). bus may be
 * NULL. */
void ad_bus_deliver_turn(ad_bus_t *bus);
/* Removes every subscription; no callback is called after this returns.
 * Safe from inside a callback of this subscriber. */
void ad_bus_sub_free(ad_bus_sub_t *sub);
/* True when topic is a valid topic or pattern. */
bool ad_bus_topic_valid(const char *topic);
/* Subscribes to topics (already-held ones are kept). With has_since, every
 * matching event with seq > since is replayed first (ring, else the event
 * log), then live ones follow with no gap and no duplicate. Returns 0,
 * AD_EINVAL for an invalid topic (nothing changes), AD_ETOOBIG past
 * AD_BUS_SUB_TOPICS_MAX. */
int ad_bus_subscribe(ad_bus_sub_t *sub, const char *const *topics, size_t n, bool has_since,
                     uint64_t since);
/* Drops the given subscriptions (unknown ones are ignored). */
void ad_bus_unsubscribe(ad_bus_sub_t *sub, const char *const *topics, size_t n);
/* Limits the subscriber to the events of org (NULL or "": every org, as
 * for the owner): an event carrying an "org:<id>" topic of another org is
 * skipped, in live delivery and in replay alike. Set it before subscribing.
 * Returns 0, or AD_EINVAL for an org id too long to be one (the subscriber
 * then sees no org's events). */
int ad_bus_sub_set_org(ad_bus_sub_t *sub, const char *org);
/* The last seq delivered to this subscriber (0 if none). */
uint64_t ad_bus_sub_last_seq(const ad_bus_sub_t *sub);
/* True while a replay is still running for this subscriber. */
bool ad_bus_sub_replaying(const ad_bus_sub_t *sub);

/* ---- persistence -----------------------------------------------------------
 * The bus queues events for the event log through these operations; the
 * store side lives in src/store/events.c. Without them (unit tests, no
 * store) the bus keeps only the ring.
 */
typedef void (*ad_bus_write_done_cb)(int rc, void *arg);
typedef void (*ad_bus_trim_done_cb)(int rc, uint64_t oldest_seq, uint64_t bytes, void *arg);
/* One event as read back from the log (worker thread). */
typedef struct {
    uint64_t seq;
    int64_t ts_ms;
    const char *type;
    const char *topics; /* JSON array text */
    const char *payload;
    size_t payload_len;
} ad_bus_row_t;
typedef int (*ad_bus_row_cb)(const ad_bus_row_t *row, void *arg);
typedef struct {
    /* Loop thread: writes evs[0..n) in one transaction (the bus holds the
     * references until done); done runs on the loop after commit. */
    void (*write)(void *impl, ad_bus_event_t *const *evs, size_t n, ad_bus_write_done_cb done,
                  void *arg);
    /* Worker thread: calls cb for up to limit rows with after < seq <= upto
     * in seq order, until cb returns non-zero (negative: that row was not
     * taken; the next read, after the row before it, starts there).
     * Returns 0 or an AD_E* code. */
    int (*read)(void *impl, uint64_t after, uint64_t upto, size_t limit, ad_bus_row_cb cb,
                void *arg);
    /* Loop thread: deletes the oldest records while the log holds more than
     * max_bytes of them or while they are older than min_ts_ms (either
     * bound may be 0: none), a bounded number per call; never by seq
     * distance (a crash skips seqs that hold nothing). done gets the oldest
     * seq left (0 when the log is empty) and the bytes held now. */
    void (*trim)(void *impl, uint64_t max_bytes, int64_t min_ts_ms, ad_bus_trim_done_cb done,
                 void *arg);
    /* Loop thread: durably records that seqs up to upto may be in use
     * (handed out before they are stored). At start the bus continues
     * above the recorded value, so a crash never reuses a seq a subscriber
     * saw. done runs on the loop after commit. */
    void (*reserve)(void *impl, uint64_t upto, ad_bus_write_done_cb done, void *arg);
} ad_bus_store_ops_t;
/* Connects the bus to durable storage: sequence numbers continue after
 * max_seq and reserved (the last ceiling recorded by reserve), min_seq is
 * the oldest row (0: none). ops and impl are borrowed. */
void ad_bus_set_store(ad_bus_t *bus, const ad_bus_store_ops_t *ops, void *impl, uint64_t min_seq,
                      uint64_t max_seq, uint64_t reserved);
/* The last seq known committed to the event log. */
uint64_t ad_bus_persisted_seq(const ad_bus_t *bus);
/* The bytes of events published and not yet in the event log. */
size_t ad_bus_unpersisted_bytes(const ad_bus_t *bus);
/* Before the store closes: queues every pending event in one last write,
 * records the last seq as the ceiling (so a clean restart shows no gap) and
 * stops retention and further writes. */
void ad_bus_stop(ad_bus_t *bus);

/* Implemented in src/store/events.c: opens the event log beside the
 * store's database (segments sized for retention_bytes), reads its bounds
 * and connects the bus to the store's writer. plane_id names this control
 * plane's own seq ceiling on a database several planes share (NULL or ""
 * for the one key of a single plane). Loop thread, before anything is
 * published. Returns 0 or an AD_E* code with a message in err. */
struct ad_store;
int ad_store_events_attach(struct ad_store *store, ad_bus_t *bus, uint64_t retention_bytes,
                           const char *plane_id, char *err, size_t errsz);

#endif
