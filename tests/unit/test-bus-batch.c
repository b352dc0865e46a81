/* SPDX-License-Identifier: MIT */
/* Tests for batched subscribers (ad_bus_sub_batch): a turn's events reach
 * them at the turn's end in one run, in seq order, the same events an
 * immediate subscriber gets; the loop does not sleep on them; a change of
 * subscriptions delivers what waits first; freeing, overflow and a
 * callback that publishes in the middle of a run. Each test runs twice:
 * with subscribers that take events one by one, and with subscribers that
 * take a run in one call (deliver_run, as the live channels do). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/bus/bus.c"
#include "busrec_fixture.h"

static uint64_t pub(ad_bus_t *bus, const char *t1, const char *t2)
{
    const char *topics[2] = {t1, t2};
    return ad_bus_publish_text(bus, "x", topics, t2 ? 2 : 1, "{}", 2);
}

/* What batched() makes: set by each test's setup. */
static const ad_bus_sub_ops_t *batched_ops = &rec_ops;

static int one_by_one(void **state)
{
    AD_UNUSED(state);
    batched_ops = &rec_ops;
    return 0;
}

static int in_runs(void **state)
{
    AD_UNUSED(state);
    batched_ops = &rec_run_ops;
    return 0;
}

/* Counts deliveries and checks their order, for runs longer than rec_t. */
typedef struct {
    uint64_t n, last;
    int out_of_order;
} counter_t;

static int count_deliver(void *ud, const ad_bus_event_t *ev)
{
    counter_t *c = ud;
    if (ad_bus_event_seq(ev) != c->last + 1) {
        c->out_of_order++;
    }
    c->last = ad_bus_event_seq(ev);
    c->n++;
    return 0;
}

static const ad_bus_sub_ops_t counter_ops = {.deliver = count_deliver};

static ad_bus_sub_t *batched(ad_bus_t *bus, rec_t *r)
{
    ad_bus_sub_t *s = ad_bus_sub_new(bus, batched_ops, r, 0);
    ad_bus_sub_batch(s);
    r->self = s;
    return s;
}

static void sub(ad_bus_sub_t *s, const char *topic, bool has_since, uint64_t since)
{
    const char *t[] = {topic};
    assert_int_equal(ad_bus_subscribe(s, t, 1, has_since, since), 0);
}

static void assert_seqs(const rec_t *r, const uint64_t *want, size_t n)
{
    assert_int_equal(r->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r->seqs[i], want[i]);
    }
}

/* A loop and a bus on it. */
typedef struct {
    uv_loop_t loop;
    ad_bus_t *bus;
} world_t;

static ad_bus_t *open_world(world_t *w)
{
    uv_loop_init(&w->loop);
    w->bus = ad_bus_new(&w->loop, NULL);
    return w->bus;
}

/* One turn of the loop, without waiting: what was published is delivered. */
static void turn(world_t *w)
{
    uv_run(&w->loop, UV_RUN_NOWAIT);
}

static void close_world(world_t *w)
{
    ad_bus_free(w->bus);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
}

/* ---- a turn's events at its end ------------------------------------------- */

typedef struct {
    ad_bus_t *bus;
    rec_t *batched, *now;
    bool far_fired;
} turn_t;

static void far_timer(uv_timer_t *t)
{
    ((turn_t *)t->data)->far_fired = true;
}

static void publish_in_timer(uv_timer_t *t)
{
    turn_t *x = t->data;
    pub(x->bus, "agent:a", "workspace:w");
    pub(x->bus, "agent:b", NULL);
    pub(x->bus, "system", NULL);
    pub(x->bus, "agent:a", NULL);
    assert_int_equal(x->now->n, 4);     /* an immediate subscriber has them */
    assert_int_equal(x->batched->n, 0); /* the batched one at the turn's end */
}

static void a_turns_events_arrive_at_its_end(void **state)
{
    AD_UNUSED(state);
    world_t w;
    ad_bus_t *bus = open_world(&w);
    rec_t b = {0}, u = {0};
    ad_bus_sub_t *sb = batched(bus, &b);
    ad_bus_sub_t *su = ad_bus_sub_new(bus, &rec_ops, &u, 0);
    const char *t[] = {"agent:*", "agent:a", "system"};
    assert_int_equal(ad_bus_subscribe(sb, t, 3, false, 0), 0);
    assert_int_equal(ad_bus_subscribe(su, t, 3, false, 0), 0);

    turn_t x = {bus, &b, &u, false};
    uv_timer_t pub_timer, far;
    uv_timer_init(&w.loop, &pub_timer);
    uv_timer_init(&w.loop, &far); /* what the poll would otherwise sleep until */
    pub_timer.data = &x;
    far.data = &x;
    uv_timer_start(&pub_timer, publish_in_timer, 0, 0);
    uv_timer_start(&far, far_timer, 60 * 1000, 0);

    /* One turn: the timer publishes; the waiting batch keeps the poll from
     * sleeping until the far timer, and the turn's end delivers it. */
    uv_run(&w.loop, UV_RUN_ONCE);
    assert_false(x.far_fired);
    const uint64_t want[] = {1, 2, 3, 4};
    assert_seqs(&b, want, 4);
    assert_seqs(&u, want, 4);
    if (batched_ops == &rec_run_ops) {
        assert_int_equal(b.runs, 1); /* in one call */
        assert_int_equal(b.longest_run, 4);
    }
    assert_null(bus->turn);
    assert_false(uv_is_active((uv_handle_t *)&bus->turn_idle));
    assert_false(uv_is_active((uv_handle_t *)&bus->turn_check));

    uv_close((uv_handle_t *)&pub_timer, NULL);
    uv_close((uv_handle_t *)&far, NULL);
    ad_bus_sub_free(sb);
    ad_bus_sub_free(su);
    close_world(&w);
}

/* A publisher in a check handle of its own hands its events over now. */
static void delivered_now_when_asked(void **state)
{
    AD_UNUSED(state);
    world_t w;
    ad_bus_t *bus = open_world(&w);
    rec_t b = {0};
    ad_bus_sub_t *sb = batched(bus, &b);
    sub(sb, "system", false, 0);
    pub(bus, "system", NULL);
    pub(bus, "system", NULL);
    assert_int_equal(b.n, 0);
    ad_bus_deliver_turn(bus);
    const uint64_t want[] = {1, 2};
    assert_seqs(&b, want, 2);
    assert_false(uv_is_active((uv_handle_t *)&bus->turn_check));
    ad_bus_deliver_turn(bus); /* nothing waits: nothing happens */
    ad_bus_deliver_turn(NULL);
    assert_int_equal(b.n, 2);
    ad_bus_sub_free(sb);
    close_world(&w);
}

/* Without a loop there is no turn: delivery stays immediate. */
static void without_a_loop_delivery_is_immediate(void **state)
{
    AD_UNUSED(state);
    ad_bus_t *bus = ad_bus_new(NULL, NULL);
    rec_t b = {0};
    ad_bus_sub_t *sb = batched(bus, &b);
    sub(sb, "system", false, 0);
    pub(bus, "system", NULL);
    assert_int_equal(b.n, 1);
    ad_bus_sub_free(sb);
    ad_bus_free(bus);
}

/* The same script of publishes and subscription changes gives a batched
 * subscriber exactly what an immediate one gets: a subscribe with since
 * first delivers what waits, then the replay. */
static void the_same_events_as_an_immediate_subscriber(void **state)
{
    AD_UNUSED(state);
    world_t w;
    ad_bus_t *bus = open_world(&w);
    rec_t b = {0}, u = {0};
    ad_bus_sub_t *sb = batched(bus, &b);
    ad_bus_sub_t *su = ad_bus_sub_new(bus, &rec_ops, &u, 0);
    ad_bus_sub_t *both[] = {sb, su};
    for (int i = 0; i < 2; i++) {
        sub(both[i], "agent:a", false, 0);
    }
    pub(bus, "agent:a", NULL); /* 1 */
    pub(bus, "agent:b", NULL); /* 2 */
    pub(bus, "agent:a", NULL); /* 3 */
    for (int i = 0; i < 2; i++) {
        sub(both[i], "agent:b", true, 0); /* replays 2 */
    }
    pub(bus, "agent:b", NULL); /* 4 */
    const char *a[] = {"agent:a"};
    for (int i = 0; i < 2; i++) {
        ad_bus_unsubscribe(both[i], a, 1);
    }
    pub(bus, "agent:a", NULL); /* 5: nobody's */
    pub(bus, "agent:b", NULL); /* 6 */
    turn(&w);
    const uint64_t want[] = {1, 3, 2, 4, 6};
    assert_seqs(&u, want, 5);
    assert_seqs(&b, want, 5);
    ad_bus_sub_free(sb);
    ad_bus_sub_free(su);
    close_world(&w);
}

/* A burst in one turn: a subscriber holds at most AD_BUS_BATCH_MAX events
 * before they go out, and gets them all, in order. */
static void a_burst_goes_out_before_the_turns_end(void **state)
{
    AD_UNUSED(state);
    world_t w;
    ad_bus_t *bus = open_world(&w);
    counter_t c = {0};
    ad_bus_sub_t *s = ad_bus_sub_new(bus, &counter_ops, &c, 0);
    ad_bus_sub_batch(s);
    sub(s, "system", false, 0);
    const uint64_t n = 3 * AD_BUS_BATCH_MAX + 5;
    for (uint64_t i = 0; i < n; i++) {
        pub(bus, "system", NULL);
        assert_true(s->nbatch < AD_BUS_BATCH_MAX);
    }
    assert_int_equal(c.n, 3 * AD_BUS_BATCH_MAX);
    turn(&w);
    assert_int_equal(c.n, n);
    assert_int_equal(c.last, n);
    assert_int_equal(c.out_of_order, 0);
    ad_bus_sub_free(s);
    close_world(&w);
}

/* ---- freeing, overflow, publishing from a run ------------------------------------ */

static void freed_with_events_waiting_gets_none(void **state)
{
    AD_UNUSED(state);
    world_t w;
    ad_bus_t *bus = open_world(&w);
    rec_t b = {0}, c = {0};
    ad_bus_sub_t *sb = batched(bus, &b);
    ad_bus_sub_t *sc = batched(bus, &c);
    sub(sb, "system", false, 0);
    sub(sc, "system", false, 0);
    pub(bus, "system", NULL);
    pub(bus, "system", NULL);
    ad_bus_sub_free(sb);
    turn(&w);
    assert_int_equal(b.n, 0);
    assert_int_equal(c.n, 2);
    /* And a bus freed while a freed subscriber's events wait: nothing is
     * delivered, nothing leaks (the sanitizers' build checks). */
    pub(bus, "system", NULL);
    ad_bus_sub_free(sc);
    close_world(&w);
    assert_int_equal(c.n, 2);
}

static void freed_in_its_own_run(void **state)
{
    AD_UNUSED(state);
    world_t w;
    ad_bus_t *bus = open_world(&w);
    rec_t b = {.free_in_deliver = true}, c = {0};
    batched(bus, &b);
    ad_bus_sub_t *sc = batched(bus, &c);
    sub(b.self, "system", false, 0);
    sub(sc, "system", false, 0);
    for (int i = 0; i < 3; i++) {
        pub(bus, "system", NULL);
    }
    turn(&w);
    assert_int_equal(b.n, 1);
    assert_null(b.self);
    assert_int_equal(c.n, 3);
    ad_bus_sub_free(sc);
    close_world(&w);
}

static void overflow_in_a_run_stops_it(void **state)
{
    AD_UNUSED(state);
    world_t w;
    ad_bus_t *bus = open_world(&w);
    rec_t b = {.fail_at = 2};
    ad_bus_sub_t *sb = batched(bus, &b);
    sub(sb, "system", false, 0);
    for (int i = 0; i < 4; i++) {
        pub(bus, "system", NULL);
    }
    turn(&w);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.overflows, 1);
    assert_int_equal(b.overflow_seq, 1);
    pub(bus, "system", NULL);
    turn(&w);
    assert_int_equal(b.n, 1);
    ad_bus_sub_free(sb);
    close_world(&w);
}

/* What a delivery publishes reaches its own subscriber and one that was
 * not waiting yet in the same run of the turn. */
static void a_callback_publishing_joins_the_run(void **state)
{
    AD_UNUSED(state);
    world_t w;
    ad_bus_t *bus = open_world(&w);
    rec_t b = {.publish_on_first = "agent:c"}, c = {0};
    ad_bus_sub_t *sb = batched(bus, &b);
    ad_bus_sub_t *sc = batched(bus, &c);
    sub(sb, "agent:*", false, 0);
    sub(sc, "agent:c", false, 0);
    pub(bus, "agent:a", NULL);
    turn(&w);
    const uint64_t want_b[] = {1, 2};
    const uint64_t want_c[] = {2};
    assert_seqs(&b, want_b, 2);
    assert_seqs(&c, want_c, 1);
    assert_null(bus->turn);
    ad_bus_sub_free(sb);
    ad_bus_sub_free(sc);
    close_world(&w);
}

/* A run's callback that publishes many events (its batch grows and moves
 * meanwhile) gets them after the run, in the same turn; and a subscriber
 * set to one org gets only that org's and org-less events in its run. */
static void a_run_publishing_many(void **state)
{
    AD_UNUSED(state);
    world_t w;
    ad_bus_t *bus = open_world(&w);
    rec_t b = {.publish_on_first = "agent:c", .publish_count = 40};
    ad_bus_sub_t *sb = batched(bus, &b);
    sub(sb, "agent:*", false, 0);
    pub(bus, "agent:a", NULL);
    pub(bus, "agent:b", NULL);
    turn(&w);
    assert_int_equal(b.n, 42);
    for (size_t i = 0; i < b.n; i++) {
        assert_int_equal(b.seqs[i], i + 1);
    }
    assert_null(bus->turn);
    ad_bus_sub_free(sb);
    close_world(&w);
}

static void a_run_holds_only_its_orgs_events(void **state)
{
    AD_UNUSED(state);
    world_t w;
    ad_bus_t *bus = open_world(&w);
    rec_t b = {0};
    ad_bus_sub_t *sb = batched(bus, &b);
    assert_int_equal(ad_bus_sub_set_org(sb, "o1"), 0);
    sub(sb, "agent:*", false, 0);
    pub(bus, "agent:a", "org:o1"); /* 1 */
    pub(bus, "agent:a", "org:o2"); /* 2: another org's */
    pub(bus, "agent:a", NULL);     /* 3: no org */
    pub(bus, "agent:a", "org:o2"); /* 4 */
    pub(bus, "agent:a", "org:o1"); /* 5 */
    turn(&w);
    const uint64_t want[] = {1, 3, 5};
    assert_seqs(&b, want, 3);
    if (batched_ops == &rec_run_ops) {
        assert_int_equal(b.runs, 1);
        assert_int_equal(b.longest_run, 3);
    }
    ad_bus_sub_free(sb);
    close_world(&w);
}

/* The longest org id a principal holds (AD_ID_MAX - 1 characters) is a
 * filter like any other; one longer is refused and its subscriber gets no
 * org's events, not every org's. */
static void the_longest_org_id_filters_and_a_longer_one_matches_nothing(void **state)
{
    AD_UNUSED(state);
    world_t w;
    ad_bus_t *bus = open_world(&w);
    char org[2 * AD_ID_MAX], topic[2 * AD_ID_MAX + 8];
    memset(org, 'o', sizeof(org));
    org[AD_ID_MAX - 1] = '\0';
    snprintf(topic, sizeof(topic), "org:%s", org);
    rec_t b = {0};
    ad_bus_sub_t *sb = batched(bus, &b);
    assert_int_equal(ad_bus_sub_set_org(sb, org), 0);
    sub(sb, "agent:*", false, 0);
    pub(bus, "agent:a", topic);    /* 1 */
    pub(bus, "agent:a", "org:o2"); /* 2: another org's */
    turn(&w);
    const uint64_t want[] = {1};
    assert_seqs(&b, want, 1);

    org[AD_ID_MAX - 1] = 'o';
    org[2 * AD_ID_MAX - 1] = '\0';
    assert_int_equal(ad_bus_sub_set_org(sb, org), AD_EINVAL);
    pub(bus, "agent:a", topic);    /* 3 */
    pub(bus, "agent:a", "org:o2"); /* 4 */
    pub(bus, "agent:a", NULL);     /* 5: no org */
    turn(&w);
    const uint64_t still[] = {1, 5};
    assert_seqs(&b, still, 2);
    ad_bus_sub_free(sb);
    close_world(&w);
}

int main(void)
{
    /* each test one by one, then in runs */
#define BOTH(t) cmocka_unit_test_setup(t, one_by_one), cmocka_unit_test_setup(t, in_runs)
    const struct CMUnitTest tests[] = {
        BOTH(a_turns_events_arrive_at_its_end),
        BOTH(delivered_now_when_asked),
        BOTH(without_a_loop_delivery_is_immediate),
        BOTH(the_same_events_as_an_immediate_subscriber),
        cmocka_unit_test(a_burst_goes_out_before_the_turns_end),
        BOTH(freed_with_events_waiting_gets_none),
        BOTH(freed_in_its_own_run),
        BOTH(overflow_in_a_run_stops_it),
        BOTH(a_callback_publishing_joins_the_run),
        BOTH(a_run_publishing_many),
        BOTH(the_longest_org_id_filters_and_a_longer_one_matches_nothing),
        BOTH(a_run_holds_only_its_orgs_events),
    };
#undef BOTH
    return cmocka_run_group_tests(tests, NULL, NULL);
}
