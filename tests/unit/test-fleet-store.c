/* SPDX-License-Identifier: MIT */
/* Tests for what the fleet engine stores (src/tables/noderegs.c,
 * nodeevents.c, issue #77): a registration token's use is taken once and
 * only with its secret's hash (a wrong one reads as unknown), never past
 * maxUses, its expiry or a revocation, and the row never holds the hash; a
 * node's events come back newest first, paged by id, and past the bound
 * the oldest are pruned, per node. Also on PostgreSQL (make unit-pg). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "store_fixture.h"
#include "tables/fleet.h"

STORE_FX_SETUP(setup, "fleet")

static char hash_a[65], hash_b[65];

static int wait_rc(store_fx_t *f, store_wait_t *w, json_t **out)
{
    store_fx_wait(f, w);
    if (out != NULL) {
        *out = w->result;
    } else {
        json_decref(w->result);
    }
    return w->rc;
}

static void add(store_fx_t *f, const char *id, int64_t uses, int64_t expires)
{
    ad_store_nodereg_t r = {.max_uses = uses, .expires_at = expires, .now = 1000};
    snprintf(r.id, sizeof(r.id), "%s", id);
    snprintf(r.org_id, sizeof(r.org_id), "org_default");
    snprintf(r.hash, sizeof(r.hash), "%s", hash_a);
    r.labels = "{\"pool\":\"a\"}";
    store_wait_t w = {0};
    ad_store_nodereg_add(f->st, &r, store_fx_on_result, &w);
    json_t *row = NULL;
    assert_int_equal(wait_rc(f, &w, &row), 0);
    assert_null(json_object_get(row, "hash"));
    assert_string_equal(json_string_value(json_object_get(row, "state")), "active");
    json_decref(row);
}

/* One use of id with hash at now: rc, and the refusal's reason into why. */
static int use(store_fx_t *f, const char *id, const char *hash, int64_t now, char why[16])
{
    store_wait_t w = {0};
    ad_store_nodereg_use(f->st, id, hash, now, store_fx_on_result, &w);
    json_t *res = NULL;
    int rc = wait_rc(f, &w, &res);
    const char *r = json_string_value(json_object_get(res, "refused"));
    snprintf(why, 16, "%s", r != NULL ? r : "");
    json_decref(res);
    return rc;
}

static void a_token_is_used_once_and_only_with_its_secret(void **state)
{
    store_fx_t *f = *state;
    ad_sha256_hex("secret-a", 8, hash_a);
    ad_sha256_hex("secret-b", 8, hash_b);
    add(f, "nrt_one", 1, 5000);
    char why[16];
    assert_int_equal(use(f, "nrt_one", hash_b, 2000, why), AD_EPERM);
    assert_string_equal(why, "unknown"); /* a wrong secret reads as no token */
    assert_int_equal(use(f, "nrt_none", hash_a, 2000, why), AD_EPERM);
    assert_string_equal(why, "unknown");
    /* the read-only judgement agrees, and writes nothing */
    assert_int_equal(ad_store_nodereg_check(f->st, "nrt_one", hash_b, 2000, why), AD_EPERM);
    assert_string_equal(why, "unknown");
    assert_int_equal(ad_store_nodereg_check(f->st, "nrt_one", hash_a, 2000, why), 0);
    assert_int_equal(ad_store_nodereg_check(f->st, "nrt_one", hash_a, 6000, why), AD_EPERM);
    assert_string_equal(why, "expired");
    assert_int_equal(use(f, "nrt_one", hash_a, 2000, why), 0);
    assert_int_equal(ad_store_nodereg_check(f->st, "nrt_one", hash_a, 2000, why), AD_EPERM);
    assert_string_equal(why, "used");
    assert_int_equal(use(f, "nrt_one", hash_a, 2001, why), AD_EPERM);
    assert_string_equal(why, "used");

    add(f, "nrt_two", 2, 5000);
    assert_int_equal(use(f, "nrt_two", hash_a, 2000, why), 0);
    assert_int_equal(use(f, "nrt_two", hash_a, 2000, why), 0);
    assert_int_equal(use(f, "nrt_two", hash_a, 2000, why), AD_EPERM);
    assert_string_equal(why, "used");

    add(f, "nrt_old", 5, 3000);
    assert_int_equal(use(f, "nrt_old", hash_a, 3000, why), AD_EPERM);
    assert_string_equal(why, "expired");

    add(f, "nrt_rev", 5, 9000);
    store_wait_t w = {0};
    ad_store_nodereg_revoke(f->st, "nrt_rev", "org_other", 2000, store_fx_on_result, &w);
    assert_int_equal(wait_rc(f, &w, NULL), AD_ENOENT); /* another org's: none */
    memset(&w, 0, sizeof(w));
    ad_store_nodereg_revoke(f->st, "nrt_rev", "org_default", 2000, store_fx_on_result, &w);
    assert_int_equal(wait_rc(f, &w, NULL), 0);
    assert_int_equal(use(f, "nrt_rev", hash_a, 2000, why), AD_EPERM);
    assert_string_equal(why, "revoked");

    json_t *list = NULL;
    assert_int_equal(ad_store_noderegs_list(f->st, "org_default", 2500, &list), 0);
    assert_int_equal(json_array_size(list), 4);
    json_decref(list);
    assert_int_equal(ad_store_noderegs_list(f->st, "org_other", 2500, &list), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    assert_int_equal(store_fx_int(f, "SELECT COUNT(*) FROM node_regs WHERE hash = 'secret-a'"), 0);
}

static void flushed(int rc, void *ctx)
{
    AD_UNUSED(rc);
    *(bool *)ctx = true;
}

static void event(store_fx_t *f, const char *node, const char *kind, int64_t keep)
{
    ad_store_node_event_t e = {.now = ad_wall_ms(), .keep = keep};
    snprintf(e.node_id, sizeof(e.node_id), "%s", node);
    snprintf(e.org_id, sizeof(e.org_id), "org_default");
    snprintf(e.kind, sizeof(e.kind), "%s", kind);
    e.detail = "{\"n\":1}";
    ad_store_node_event_add(f->st, &e);
}

static void events_are_newest_first_and_bounded_per_node(void **state)
{
    store_fx_t *f = *state;
    char kind[16];
    for (int i = 0; i < 8; i++) {
        snprintf(kind, sizeof(kind), "k%d", i);
        event(f, "nd_a", kind, 5);
    }
    event(f, "nd_b", "other", 5);
    bool done = false;
    ad_store_flush(f->st, flushed, &done);
    for (int i = 0; i < 100000 && !done; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(100);
    }
    assert_true(done);
    json_t *ev = NULL;
    assert_int_equal(ad_store_node_events(f->st, "nd_a", 100, 0, &ev), 0);
    assert_int_equal(json_array_size(ev), 5); /* k3 .. k7 */
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "kind")), "k7");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 4), "kind")), "k3");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(json_array_get(ev, 0), "detail"), "n")),
        1);
    json_int_t third = json_integer_value(json_object_get(json_array_get(ev, 2), "id"));
    json_decref(ev);
    assert_int_equal(ad_store_node_events(f->st, "nd_a", 100, third, &ev), 0);
    assert_int_equal(json_array_size(ev), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "kind")), "k4");
    json_decref(ev);
    assert_int_equal(ad_store_node_events(f->st, "nd_b", 100, 0, &ev), 0);
    assert_int_equal(json_array_size(ev), 1); /* another node's bound is its own */
    json_decref(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_token_is_used_once_and_only_with_its_secret, setup,
                                        store_fx_teardown),
        cmocka_unit_test_setup_teardown(events_are_newest_first_and_bounded_per_node, setup,
                                        store_fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
