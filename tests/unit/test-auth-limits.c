/* SPDX-License-Identifier: MIT */
/* Tests for the bad-credential throttle's peer table (src/auth/limits.c):
 * a peer is found again, locked after too many failures, and the table
 * stays bounded and correct when many more addresses fail than it holds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_int.h"

static ad_auth_t *auth_new(void)
{
    /* The peer table needs no loop (the monotonic clock is used), no store
     * and no configuration. */
    return calloc(1, sizeof(ad_auth_t));
}

static void a_peer_is_found_again_and_locked(void **state)
{
    AD_UNUSED(state);
    ad_auth_t *a = auth_new();
    int64_t retry = 0;
    assert_false(ad_auth_peer_locked(a, "10.0.0.1", &retry));
    /* each failure from the same address waits 100 ms longer */
    assert_int_equal(ad_auth_peer_failed(a, "10.0.0.1"), 100);
    assert_int_equal(ad_auth_peer_failed(a, "10.0.0.1"), 200);
    assert_int_equal(ad_auth_peer_failed(a, "10.0.0.2"), 100);
    for (int i = 2; i < AD_AUTH_FAILS_MAX; i++) {
        ad_auth_peer_failed(a, "10.0.0.1");
    }
    assert_true(ad_auth_peer_locked(a, "10.0.0.1", &retry));
    assert_true(retry > 0 && retry <= AD_AUTH_LOCK_MS / 1000);
    assert_false(ad_auth_peer_locked(a, "10.0.0.2", &retry));
    assert_false(ad_auth_peer_locked(a, "10.0.0.3", &retry));
    free(a);
}

static void many_addresses_keep_the_table_bounded(void **state)
{
    AD_UNUSED(state);
    ad_auth_t *a = auth_new();
    char addr[64];
    /* four times what the table holds: every one is recorded somewhere */
    for (int i = 0; i < 4 * AD_AUTH_PEERS_MAX; i++) {
        snprintf(addr, sizeof(addr), "192.168.%d.%d", i / 256, i % 256);
        assert_int_equal(ad_auth_peer_failed(a, addr), 100);
    }
    /* the latest ones are still known: a second failure waits longer */
    for (int i = 4 * AD_AUTH_PEERS_MAX - 8; i < 4 * AD_AUTH_PEERS_MAX; i++) {
        snprintf(addr, sizeof(addr), "192.168.%d.%d", i / 256, i % 256);
        assert_int_equal(ad_auth_peer_failed(a, addr), 200);
    }
    /* a locked peer is found among a full table */
    for (int i = 0; i < AD_AUTH_FAILS_MAX; i++) {
        ad_auth_peer_failed(a, "203.0.113.9");
    }
    int64_t retry = 0;
    assert_true(ad_auth_peer_locked(a, "203.0.113.9", &retry));
    size_t used = 0;
    for (size_t i = 0; i < AD_AUTH_PEERS_MAX; i++) {
        used += a->peers[i].addr[0] != '\0';
    }
    assert_true(used <= AD_AUTH_PEERS_MAX);
    assert_true(used > AD_AUTH_PEERS_MAX / 2); /* the hash spreads them */
    free(a);
}

static void bad_credentials_count_per_network_and_token_prefix(void **state)
{
    AD_UNUSED(state);
    char net[48], prefix[48];
    ad_auth_fail_keys("127.0.0.5", "tok_abc.secret", net, prefix);
    assert_string_equal(net, "v4:127"); /* all of 127/8 is one machine */
    ad_auth_fail_keys("192.0.2.77", "tok_abc.secret", net, prefix);
    assert_string_equal(net, "v4:192.0.2");
    assert_string_equal(prefix, "t:tok_abc");
    ad_auth_fail_keys("::ffff:10.1.2.3", "ownertokenwithoutdot", net, prefix);
    assert_string_equal(net, "v4:10.1.2");
    assert_string_equal(prefix, "t:ownert");
    ad_auth_fail_keys("2001:db8:1:2:aaaa::1", "x", net, prefix);
    assert_string_equal(net, "v6:2001:0db8:0001:0002");
    ad_auth_fail_keys("2001:db8:1:2:ffff::9", "x", prefix, net);
    assert_string_equal(prefix, "v6:2001:0db8:0001:0002"); /* same /64 */

    /* rotating the source address within the /24 does not escape */
    ad_auth_t *a = auth_new();
    char addr[32], tok[32];
    for (int i = 0; i < AD_AUTH_FAILS_MAX; i++) {
        snprintf(addr, sizeof(addr), "127.0.0.%d", i + 1);
        snprintf(tok, sizeof(tok), "guess%d.x", i);
        ad_auth_bad_failed(a, addr, tok);
    }
    int64_t retry = 0;
    assert_true(ad_auth_bad_locked(a, "127.0.0.200", "other.x", &retry));
    assert_true(ad_auth_bad_locked(a, "127.9.8.7", "other.x", &retry)); /* nor within 127/8 */
    assert_false(ad_auth_bad_locked(a, "10.0.0.1", "other.x", &retry));
    /* one token guessed at from many networks is limited too */
    for (int i = 0; i < AD_AUTH_FAILS_MAX; i++) {
        snprintf(addr, sizeof(addr), "10.%d.0.1", i);
        ad_auth_bad_failed(a, addr, "tok_target.guess");
    }
    assert_true(ad_auth_bad_locked(a, "10.99.0.1", "tok_target.another", &retry));
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_peer_is_found_again_and_locked),
        cmocka_unit_test(many_addresses_keep_the_table_bounded),
        cmocka_unit_test(bad_credentials_count_per_network_and_token_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
