/* SPDX-License-Identifier: MIT */
/*
 * Shared by the bus tests (test-bus-topics.c, test-bus-batch.c): a
 * subscriber that records what it is given (seqs and types), and can be
 * told to fail, to free itself, or to publish from inside a delivery.
 * rec_ops takes events one by one; rec_run_ops also takes runs
 * (deliver_run), each event of a run as rec_deliver takes it. Include
 * after cmocka.h and src/bus/bus.c.
 */
#ifndef AD_TEST_BUSREC_FIXTURE_H
#define AD_TEST_BUSREC_FIXTURE_H

#include <stdio.h>

/* Not every test file uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-variable"

typedef struct {
    uint64_t seqs[256];
    char types[256][32];
    size_t n;
    int fail_at; /* 1-based delivery that answers AD_ETOOBIG, 0 never */
    int overflows;
    uint64_t overflow_seq;
    ad_bus_sub_t *self;
    bool free_in_deliver;
    const char *publish_on_first; /* a topic the first delivery publishes to */
    int publish_count;            /* ... this many events (0: one) */
    int runs;                     /* deliver_run calls */
    size_t longest_run;
} rec_t;

static int rec_deliver(void *ud, const ad_bus_event_t *ev)
{
    rec_t *r = ud;
    if (r->fail_at != 0 && (int)r->n + 1 == r->fail_at) {
        return AD_ETOOBIG;
    }
    assert_true(r->n < AD_ARRAY_LEN(r->seqs));
    r->seqs[r->n] = ad_bus_event_seq(ev);
    snprintf(r->types[r->n], sizeof(r->types[0]), "%s", ad_bus_event_type(ev));
    r->n++;
    if (r->publish_on_first != NULL && r->n == 1) {
        const char *topic[] = {r->publish_on_first};
        for (int i = 0; i < (r->publish_count > 0 ? r->publish_count : 1); i++) {
            ad_bus_publish_text(r->self->bus, "x", topic, 1, "{}", 2);
        }
    }
    if (r->free_in_deliver) {
        ad_bus_sub_free(r->self);
        r->self = NULL;
    }
    return 0;
}

static void rec_overflow(void *ud, uint64_t last)
{
    rec_t *r = ud;
    r->overflows++;
    r->overflow_seq = last;
}

/* A run, taken event by event as rec_deliver takes them; a recorder that
 * freed its subscriber stops there. */
static int rec_run(void *ud, ad_bus_event_t *const *evs, size_t n, size_t *taken)
{
    rec_t *r = ud;
    assert_true(n >= 2);
    r->runs++;
    if (n > r->longest_run) {
        r->longest_run = n;
    }
    for (*taken = 0; *taken < n && r->self != NULL; (*taken)++) {
        int rc = rec_deliver(ud, evs[*taken]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static const ad_bus_sub_ops_t rec_ops = {.deliver = rec_deliver, .overflow = rec_overflow};
static const ad_bus_sub_ops_t rec_run_ops = {
    .deliver = rec_deliver, .overflow = rec_overflow, .deliver_run = rec_run};

#endif
