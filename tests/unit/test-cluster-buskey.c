/* SPDX-License-Identifier: MIT */
/* Tests for the signature on Redis messages (src/cluster/buskey.c, issue
 * #73): a signed message verifies, and every change refuses it: a byte of
 * the text, the channel, the key, a mac cut off or missing, an `at` past
 * the skew, the same message twice (a replay); the key file is made 0600
 * and a file others may read is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/cluster.h"

#define NOW 1800000000000ull

static void sign(const uint8_t key[32], const char *channel, const char *text, uint64_t seq,
                 uint64_t at, ad_buf_t *b)
{
    ad_buf_init(b, 1 << 20);
    assert_int_equal(ad_buf_puts(b, text), 0);
    assert_int_equal(ad_cluster_sign(key, channel, seq, at, b), 0);
}

static void signed_verifies_changed_does_not(void **state)
{
    AD_UNUSED(state);
    uint8_t key[32], other[32];
    memset(key, 7, sizeof(key));
    memset(other, 8, sizeof(other));
    ad_cluster_seen_t *seen = calloc(64, sizeof(*seen));
    ad_buf_t b;
    sign(key, "agentd:bus", "{\"type\":\"x\",\"payload\":{}}", 1, NOW, &b);
    size_t body = 0;
    assert_null(ad_cluster_verify(key, "agentd:bus", b.data, b.len, NOW, seen, 64, &body));
    assert_true(body > 0 && body < b.len);
    assert_memory_equal(b.data + body, ",\"mac\":\"", 8);
    /* the same again: a replay */
    assert_non_null(ad_cluster_verify(key, "agentd:bus", b.data, b.len, NOW, seen, 64, &body));
    /* without the replay table it verifies (each check is its own) */
    assert_null(ad_cluster_verify(key, "agentd:bus", b.data, b.len, NOW, NULL, 0, &body));
    assert_non_null(ad_cluster_verify(key, "graph:c", b.data, b.len, NOW, NULL, 0, &body));
    assert_non_null(ad_cluster_verify(other, "agentd:bus", b.data, b.len, NOW, NULL, 0, &body));
    assert_non_null(
        ad_cluster_verify(key, "agentd:bus", b.data, b.len, NOW + 61000, NULL, 0, &body));
    assert_non_null(
        ad_cluster_verify(key, "agentd:bus", b.data, b.len, NOW - 61000, NULL, 0, &body));
    assert_null(ad_cluster_verify(key, "agentd:bus", b.data, b.len, NOW + 59000, NULL, 0, &body));
    for (size_t i = 0; i < b.len; i++) {
        char *copy = malloc(b.len);
        memcpy(copy, b.data, b.len);
        copy[i] ^= 1;
        assert_non_null(ad_cluster_verify(key, "agentd:bus", copy, b.len, NOW, NULL, 0, &body));
        free(copy);
    }
    assert_non_null(ad_cluster_verify(key, "agentd:bus", b.data, b.len - 1, NOW, NULL, 0, &body));
    const char *plain = "{\"type\":\"x\",\"payload\":{}}";
    assert_non_null(
        ad_cluster_verify(key, "agentd:bus", plain, strlen(plain), NOW, NULL, 0, &body));
    /* two equal events, two messages (their n differs) */
    ad_buf_t b2;
    sign(key, "agentd:bus", "{\"type\":\"x\",\"payload\":{}}", 2, NOW, &b2);
    assert_null(ad_cluster_verify(key, "agentd:bus", b2.data, b2.len, NOW, seen, 64, &body));
    ad_buf_cleanup(&b2);
    ad_buf_cleanup(&b);
    free(seen);
}

static void key_file_made_0600_loose_refused(void **state)
{
    AD_UNUSED(state);
    char dir[] = "/tmp/agentd-buskey-XXXXXX";
    assert_non_null(mkdtemp(dir));
    uint8_t k1[32], k2[32];
    char err[256];
    assert_int_equal(ad_cluster_key(dir, NULL, k1, err, sizeof(err)), 0);
    char path[300];
    snprintf(path, sizeof(path), "%s/redis.key", dir);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* the same key at the next start, and given as --redis-key-file */
    assert_int_equal(ad_cluster_key(dir, NULL, k2, err, sizeof(err)), 0);
    assert_memory_equal(k1, k2, 32);
    assert_int_equal(ad_cluster_key("/nonexistent", path, k2, err, sizeof(err)), 0);
    assert_memory_equal(k1, k2, 32);
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(ad_cluster_key(dir, path, k2, err, sizeof(err)), AD_EINVAL);
    assert_non_null(strstr(err, "others may read it"));
    assert_int_equal(chmod(path, 0600), 0);
    FILE *f = fopen(path, "w");
    fputs("short\n", f);
    fclose(f);
    assert_int_equal(ad_cluster_key(dir, NULL, k2, err, sizeof(err)), AD_EINVAL);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signed_verifies_changed_does_not),
        cmocka_unit_test(key_file_made_0600_loose_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
