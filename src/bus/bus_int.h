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
ad_bus_event_t *bus_event_make(uint64_t seq, int64_t ts_ms, const char *ts, const char *type,
                               const char *const *topics, size_t ntopics, const char *payload,
                               size_t payload_len);
ad_bus_event_t *bus_event_ref(ad_bus_event_t *ev);
void bus_event_unref(ad_bus_event_t *ev);
/* Accounting size of an event (what the ring and retention count). */
size_t bus_event_bytes(const ad_bus_event_t *ev);
#define BUS_EVENT_MAX (8u << 20)

/* json.c: appends v as compact JSON text, the same bytes as jansson's
 * json_dump_callback(JSON_COMPACT | JSON_ENCODE_ANY), to b. 0, or an AD_E*
 * code (b's cap reached, or nesting deeper than 256: then b holds a
 * partial text). Any thread. */
int bus_json_write(ad_buf_t *b, json_t *v);

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

void bus_index_init(bus_index_t *ix);
void bus_index_cleanup(bus_index_t *ix);
/* Finds (create: or adds) the node for a pattern ("a:b" or "a:*"). */
bus_node_t *bus_index_node(bus_index_t *ix, const char *pattern, bool create);
/* The node of an exact topic, or NULL. */
bus_node_t *bus_index_exact(const bus_index_t *ix, const char *topic, size_t len);
/* Frees node if no entry is left. */
void bus_index_release(bus_index_t *ix, bus_node_t *node);
/* True when pattern (exact or "prefix*") matches topic. Any thread. */
bool bus_pattern_match(const char *pattern, const char *topic);
bool bus_node_match(const bus_node_t *node, const char *topic, size_t len);

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

void bus_ring_init(bus_ring_t *r);
void bus_ring_cleanup(bus_ring_t *r);
/* Appends (takes a reference). ev->seq must follow the newest. */
void bus_ring_push(bus_ring_t *r, ad_bus_event_t *ev);
/* Removes the oldest and returns it (caller owns the reference), or NULL. */
ad_bus_event_t *bus_ring_pop(bus_ring_t *r);
/* The event with this seq, or NULL when outside the ring. Borrowed. */
ad_bus_event_t *bus_ring_get(const bus_ring_t *r, uint64_t seq);
/* The oldest / newest seq held, 0 when empty. */
uint64_t bus_ring_first(const bus_ring_t *r);
uint64_t bus_ring_last(const bus_ring_t *r);

#endif
