/* SPDX-License-Identifier: MIT */
/*
 * Private pieces shared inside src/bus: the event object, the topic index
 * (hash of exact topics plus a short list of distinct prefixes, so publish
 * cost follows the topics an event carries, not the number of subscribers)
 * and the replay ring. Loop thread only unless noted.
 */
#ifndef AD_BUS_INT_H
#define AD_BUS_INT_H

#include "bus/bus.h"

#include <stdarg.h>

/* One allocation: the header, the topic pointer array, the envelope (NUL
 * terminated), then the type and topic strings. Immutable after creation,
 * so worker threads may build and read one; refs only on the loop thread. */
struct ad_bus_event {
    uint64_t seq;
    int64_t ts_ms;
    uint32_t refs;
    uint32_t ntopics;
    size_t len;         /* envelope bytes */
    size_t payload_off; /* payload JSON inside the envelope */
    size_t payload_len;
    const char *type;
    const char **topics;
    char ts[AD_TIME_MAX];
    char data[];
};

/* Builds an event from already-serialized pieces. payload is JSON text.
 * Returns owned (refs 1), or NULL past the size cap. Any thread. */
ad_bus_event_t *ad_bus_event_make(uint64_t seq, int64_t ts_ms, const char *ts, const char *type,
                                  const char *const *topics, size_t ntopics, const char *payload,
                                  size_t payload_len);
/* The envelope up to its payload: {"seq":…,"ts":…,"topic":…,"type":…,"payload":
 * appended to b (0 or AD_ETOOBIG), whole or as its two parts: the seq, and
 * the rest (the same for every event of one stamp, topic and type). Any
 * thread. */
int ad_bus_envelope_head(ad_buf_t *b, uint64_t seq, const char *ts, const char *topic,
                         const char *type);
int ad_bus_envelope_seq(ad_buf_t *b, uint64_t seq);
int ad_bus_envelope_rest(ad_buf_t *b, const char *ts, const char *topic, const char *type);
/* An event around a whole envelope already written (env, len bytes: the
 * head, the payload from payload_off, the closing brace): one allocation,
 * env copied. Returns owned (refs 1). Any thread. */
ad_bus_event_t *ad_bus_event_wrap(uint64_t seq, int64_t ts_ms, const char *ts, const char *type,
                                  const char *const *topics, size_t ntopics, const char *env,
                                  size_t len, size_t payload_off);
ad_bus_event_t *ad_bus_event_ref(ad_bus_event_t *ev);
void ad_bus_event_unref(ad_bus_event_t *ev);
/* Accounting size of an event (what the ring and retention count). */
size_t ad_bus_event_bytes(const ad_bus_event_t *ev);
#define BUS_EVENT_MAX (8u << 20)
/* Topics and types up to this long (with the NUL) have their envelope
 * head kept between events. */
#define AD_BUS_HEAD_KEY 128

/* ---- topics ---------------------------------------------------------------- */
struct ad_bus_sub;
typedef struct bus_node bus_node_t;
typedef struct bus_entry {
    bus_node_t *node;
    struct ad_bus_sub *sub;
    struct bus_entry *prev, *next; /* in node->entries */
    struct bus_entry *sub_next;    /* in the subscriber's list */
} bus_entry_t;
struct bus_node {
    bus_node_t *next; /* hash chain, or the prefix list */
    bus_entry_t *entries;
    uint32_t hash;
    bool prefix;
    size_t len;
    char key[]; /* the exact topic, or the prefix without '*' */
};
typedef struct {
    bus_node_t **buckets;
    size_t nbuckets;
    size_t count;
    bus_node_t *prefixes;
    size_t nprefixes;
} bus_index_t;

void ad_bus_index_init(bus_index_t *ix);
void ad_bus_index_cleanup(bus_index_t *ix);
/* Finds (create: or adds) the node for a pattern ("a:b" or "a:*"). */
bus_node_t *ad_bus_index_node(bus_index_t *ix, const char *pattern, bool create);
/* The node of an exact topic, or NULL. */
bus_node_t *ad_bus_index_exact(const bus_index_t *ix, const char *topic, size_t len);
/* Frees node if no entry is left. */
void ad_bus_index_release(bus_index_t *ix, bus_node_t *node);
/* True when pattern (exact or "prefix*") matches topic. Any thread. */
bool ad_bus_pattern_match(const char *pattern, const char *topic);
bool ad_bus_node_match(const bus_node_t *node, const char *topic, size_t len);

/* ---- ring -----------------------------------------------------------------
 * The most recent events in seq order with no holes, bounded in bytes by
 * the caller (bus.c evicts).
 */
typedef struct {
    ad_bus_event_t **slots;
    size_t cap;
    size_t head; /* index of the oldest */
    size_t count;
    size_t bytes;
} bus_ring_t;

void ad_bus_ring_init(bus_ring_t *r);
void ad_bus_ring_cleanup(bus_ring_t *r);
/* Appends (takes a reference). ev->seq must follow the newest. */
void ad_bus_ring_push(bus_ring_t *r, ad_bus_event_t *ev);
/* Removes the oldest and returns it (caller owns the reference), or NULL. */
ad_bus_event_t *ad_bus_ring_pop(bus_ring_t *r);
/* The event with this seq, or NULL when outside the ring. Borrowed. */
ad_bus_event_t *ad_bus_ring_get(const bus_ring_t *r, uint64_t seq);
/* The oldest / newest seq held, 0 when empty. */
uint64_t ad_bus_ring_first(const bus_ring_t *r);
uint64_t ad_bus_ring_last(const bus_ring_t *r);

/* ---- the bus and its subscribers (bus.c, persist.c, replay.c) ----------------- */
#define AD_BUS_WRITE_BATCH_MAX 8192
#define AD_BUS_READ_BATCH_ROWS 1024
#define AD_BUS_REPLAY_SLICE 512 /* ring events delivered before re-checking pacing */
/* A batched subscriber's batch is delivered at once when it holds this many
 * events: a burst in one turn costs each subscriber at most this many
 * pointers before its send queue's bound applies. */
#define AD_BUS_BATCH_MAX 1024
#define AD_BUS_PACE_MS 2
/* The replay budget (replay.c): a replay step (a slice of the
 * ring, a read of the log) delivers about this many bytes, then waits
 * until the connection has written them out (its queue back under
 * AD_BUS_REPLAY_LOW) before it asks for the next. */
#define AD_BUS_REPLAY_CHUNK (256u * 1024)
#define AD_BUS_REPLAY_LOW (32u * 1024)
/* Ring replay the loop does within one ms of its clock: a loop turn never
 * copies much more before it answers other requests. */
#define AD_BUS_REPLAY_TURN_BYTES (1024u * 1024)
/* Log reads in flight at once: the thread pool stays free for others. */
#define AD_BUS_REPLAY_READS_MAX 2
/* A reader whose step has not been written out after this while others
 * wait for the budget is cut (it reads nothing; its grant is needed). */
#define AD_BUS_REPLAY_HOLD_MS 5000
#define AD_BUS_TRIM_MIN_INTERVAL_MS 250
#define AD_BUS_TRIM_TIMER_MS 60000
/* Events wait this long for others to share their transaction. Fan-out is
 * not delayed; replay serves unpersisted events from the ring. Committing
 * each event alone cost a store round trip (and a wake-up of the loop by
 * the writer thread) per event. */
#define AD_BUS_PERSIST_DELAY_MS 5
/* Seqs reserved durably at a time; the next block is asked for when half
 * is used, so delivery waits for a reservation only if the writer is
 * stalled for half a block. */
#define AD_BUS_SEQ_BLOCK (UINT64_C(1) << 20)
/* A failed events write is retried after this, doubling up to the max. */
#define AD_BUS_RETRY_MIN_MS 100
#define AD_BUS_RETRY_MAX_MS 5000

typedef struct backfill {
    struct backfill *next;
    uint64_t cursor; /* delivered up to here */
    uint64_t end;
    size_t ntopics;
    char **topics;
} backfill_t;

struct ad_bus_sub {
    ad_bus_t *bus;
    const ad_bus_sub_ops_t *ops;
    void *ud;
    /* "org:<id>", or "" for every org. An org id fits AD_ID_MAX as a
     * principal's does (src/auth), not a topic's 256: this is per
     * subscriber, so per idle WebSocket (W1). */
    char org_topic[sizeof("org:") + AD_ID_MAX];
    size_t queue_limit;
    bus_entry_t *entries;
    size_t nentries;
    uint64_t mark;     /* seq of the last event offered (dedupes topics) */
    uint64_t last_seq; /* last delivered */
    uint64_t cursor;   /* replay chase position while replaying */
    backfill_t *backfills, **bf_tail;
    struct ad_bus_sub *pace_next, *pace_prev;
    struct ad_bus_sub *zombie_next;
    /* A batched subscriber's events of this loop turn, in seq order, each
     * with a reference, delivered in one run at the turn's end (see
     * ad_bus_sub_batch). */
    ad_bus_event_t **batch;
    size_t nbatch, batch_cap;
    struct ad_bus_sub *turn_next; /* in bus->turn while turn_listed */
    unsigned busy;                /* inside one of its callbacks */
    bool batched;
    bool turn_listed;
    bool turn_running; /* its batch is being delivered */
    bool replaying;
    bool paced;
    bool db_pending;
    bool db_stale; /* subscriptions changed while a chase read was out */
    bool dead;     /* overflowed */
    bool freed;
    bool zombie;
    /* The replay budget (replay.c): bytes granted to its current step,
     * held until they are written out; since when; its place in the queue
     * of those waiting for a grant. */
    bool rp_waiting;
    bool rd_waiting; /* holds a grant, waits for a log read slot */
    size_t rp_grant, rp_used;
    size_t rp_need; /* bytes it waits for in the queue */
    uint64_t rp_since_ms;
    struct ad_bus_sub *rp_next, *rd_next;
};

struct ad_bus {
    ad_bus_gap_fn remote_gap; /* ad_bus_on_remote_gap's listener, or NULL */
    void *remote_gap_ud;
    uv_loop_t *loop;
    const ad_config_t *cfg;
    uint64_t seq;      /* the last seq assigned */
    uint64_t visible;  /* the last seq fanned out (<= reserved) */
    uint64_t reserved; /* durable ceiling: seqs above it wait (held) */
    uint64_t reserve_target;
    unsigned reserving; /* reservations in flight */
    bus_index_t index;
    bus_ring_t ring;
    ad_buf_t scratch;
    int64_t ts_ms;        /* the last publish's ms and its RFC 3339 text: */
    char ts[AD_TIME_MAX]; /* bursts share it instead of formatting again */
    /* The envelope after the seq for that stamp, first topic and type:
     * a run of like events copies it (head.len 0: none kept). */
    ad_buf_t head;
    int64_t head_ms;
    char head_topic[AD_BUS_HEAD_KEY];
    char head_type[AD_BUS_HEAD_KEY];
    unsigned in_publish;
    ad_bus_sub_t *zombies;
    ad_bus_sub_t *paced; /* subscribers whose replay waits for room */
    /* Batched subscribers with events waiting for the turn's end. While the
     * list is not empty the idle handle keeps the poll from blocking and the
     * check handle delivers after the turn's I/O. Both are started when the
     * list gains its first subscriber, so they run before the server's own
     * flush handles (libuv runs the handles started last first). */
    ad_bus_sub_t *turn;
    uv_idle_t turn_idle;
    uv_check_t turn_check;
    uv_timer_t pace_timer;
    uv_timer_t trim_timer;
    uv_timer_t persist_timer;
    uv_timer_t retry_timer; /* a failed write or reservation, again */
    int open_handles;
    bool closing;
    /* persistence */
    const ad_bus_store_ops_t *sops;
    void *simpl;
    ad_bus_event_t **pending;
    size_t npending, pending_cap;
    unsigned writes;          /* batches in flight (a batch waiting to retry counts) */
    struct wbatch *retry;     /* the batch whose write failed, to retry */
    int64_t retry_ms;         /* its current backoff */
    size_t unpersisted_bytes; /* events published and not yet stored */
    uint64_t dropped;         /* events given up on (the log has a gap) */
    uint64_t published;       /* events published since start */
    uint64_t stored;          /* events written to the log since start */
    bool stopping;
    uint64_t persisted_seq;
    uint64_t db_min; /* oldest record in the log, 0: none */
    /* The seqs an unclean stop skipped (after the newest record stored, up
     * to the last reservation; 0 and 0: none): what the log lacks there is
     * a gap, never what retention removed (replay_truncated). */
    uint64_t skipped_from, skipped_to;
    /* What the log holds: as the last trim found it, plus what was
     * written since (counted as the ring counts, a little over the bytes
     * on disk); retention asks the store to trim once it passes the
     * bound. Unknown until the first trim answers. */
    uint64_t db_bytes;
    bool db_bytes_known;
    bool trimming;
    int64_t last_trim_ms;
    unsigned db_reads;
    struct dbread *reads; /* in flight: they pin the ring */
    /* The replay budget (replay.c): bytes every replay may hold at once
     * (0: no bound), granted now, the subscribers waiting for a grant in
     * order, and the ring replay done in the current ms of the loop. */
    uint64_t rp_budget, rp_held;
    ad_bus_sub_t *rp_head, *rp_tail;
    ad_bus_sub_t *rd_head, *rd_tail; /* waiting for a log read slot */
    uint64_t rp_turn_ms, rp_turn_bytes;
    uint64_t rp_queued, rp_cut; /* since start: replays that waited, readers cut */
    uint64_t rp_peak;           /* the most granted at once */
    /* the loop's turns (bus.c's meter): CPU ns at the last poll, the
     * longest turn, the turns of 50 ms or more */
    uv_prepare_t meter;
    uint64_t turn_cpu_ns, turn_max_ns, turns_slow;
};

/* bus.c: the bus is freed once its handles are closed and no subscriber is
 * in a callback; a dead or freed subscriber once it is out of callbacks. */
void ad_bus_try_finish_free(ad_bus_t *bus);
void ad_bus_sub_try_reap(ad_bus_sub_t *sub);
/* Hands ev to sub (false: it overflowed and is dead). */
bool ad_bus_sub_deliver(ad_bus_sub_t *sub, const ad_bus_event_t *ev);
void ad_bus_backfill_free(backfill_t *bf);
void ad_bus_pace_remove(ad_bus_sub_t *sub);
/* persist.c: drops the oldest ring events past the byte bound (never one
 * not yet persisted, nor one an in-flight log read pins); queues the
 * event log write of what was published. */
void ad_bus_ring_evict(ad_bus_t *bus);
void ad_bus_schedule_writes(ad_bus_t *bus);
/* Asks for the next block of seqs when half the current one is used. */
void ad_bus_reserve_ahead(ad_bus_t *bus);
void ad_bus_retry_timer(uv_timer_t *t);
/* Lets go of a batch waiting to be retried (the bus is being freed). */
void ad_bus_drop_retry(ad_bus_t *bus);
/* bus.c: fans out the held events the reservation now covers. */
void ad_bus_release_held(ad_bus_t *bus);
/* replay.c: runs sub's replay as far as it can now; the oldest seq an
 * in-flight log read still needs from the ring (0: none). */
void ad_bus_run_replay(ad_bus_sub_t *sub);
uint64_t ad_bus_ring_pin(const ad_bus_t *bus);
/* replay.c: gives sub's replay grant back and takes it out of the queues
 * (it is done, dead or freed); those waiting get the budget at the next
 * pace tick. Safe to call again. */
void ad_bus_rp_drop(ad_bus_sub_t *sub);
/* pairs.c: the topics of ad_bus_publish_to's "prefix", id pairs (ended by
 * NULL), at most AD_BUS_PAIRS_MAX (pairs past it are dropped). */
typedef struct {
    char buf[AD_BUS_PAIRS_MAX][AD_ID_MAX + 16];
    const char *ptrs[AD_BUS_PAIRS_MAX];
    size_t n;
} ad_bus_pairs_t;
void ad_bus_pairs_collect(ad_bus_pairs_t *t, va_list ap);

#endif
