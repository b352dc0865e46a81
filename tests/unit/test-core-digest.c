/* SPDX-License-Identifier: MIT */
/* Tests for SHA-1, SHA-256, base64 and CRC32C: standard vectors, agreement
 * with OpenSSL (linked by the test only) for every length across block
 * edges, and CRC32C's instruction path against its table path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
/* For the two CRC paths (statics). */
#include "core/digest.c"

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
}

static void standard_vectors(void **state)
{
    AD_UNUSED(state);
    uint8_t d[32];
    char h[65];
    const char *abc = "abc";
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ad_sha256(abc, 3, d);
    hex(d, 32, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ad_sha256("", 0, d);
    hex(d, 32, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ad_sha256(two, strlen(two), d);
    hex(d, 32, h);
    assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    ad_sha1(abc, 3, d);
    hex(d, 20, h);
    assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
    ad_sha1(two, strlen(two), d);
    hex(d, 20, h);
    assert_string_equal(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
}

static void agrees_with_openssl_at_every_length(void **state)
{
    AD_UNUSED(state);
    uint8_t buf[1100];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 131 + 7);
    }
    for (size_t len = 0; len <= sizeof(buf); len++) {
        uint8_t ours[32], theirs[32];
        ad_sha256(buf, len, ours);
        SHA256(buf, len, theirs);
        assert_memory_equal(ours, theirs, 32);
        ad_sha1(buf, len, ours);
        SHA1(buf, len, theirs);
        assert_memory_equal(ours, theirs, 20);
        if (len <= 300) {
            char b1[512], b2[512];
            size_t n = ad_base64_encode(buf, len, b1, sizeof(b1));
            int m = EVP_EncodeBlock((unsigned char *)b2, buf, (int)len);
            assert_int_equal(n, (size_t)m);
            assert_string_equal(b1, b2);
            uint8_t back[300];
            assert_int_equal(ad_base64_decode(b1, n, back, sizeof(back)), (int)len);
            assert_memory_equal(back, buf, len);
        }
    }
}

static void base64_refuses_bad_input(void **state)
{
    AD_UNUSED(state);
    uint8_t out[16];
    char small[4];
    assert_int_equal(ad_base64_decode("abc", 3, out, sizeof(out)), AD_EINVAL);
    assert_int_equal(ad_base64_decode("ab=c", 4, out, sizeof(out)), AD_EINVAL);
    assert_int_equal(ad_base64_decode("a===", 4, out, sizeof(out)), AD_EINVAL);
    assert_int_equal(ad_base64_decode("ab==abcd", 8, out, sizeof(out)), AD_EINVAL);
    assert_int_equal(ad_base64_decode("ab!d", 4, out, sizeof(out)), AD_EINVAL);
    assert_int_equal(ad_base64_decode("YWJj", 4, out, 2), AD_ETOOBIG);
    assert_int_equal(ad_base64_decode("YQ==", 4, out, sizeof(out)), 1);
    assert_int_equal(out[0], 'a');
    assert_int_equal(ad_base64_encode((const uint8_t *)"abcd", 4, small, sizeof(small)), 0);
}

/* RFC 3720's check value and its appendix B.4 vectors. */
static void crc32c_vectors(void **state)
{
    AD_UNUSED(state);
    assert_int_equal(ad_crc32c(0, "123456789", 9), 0xe3069283u);
    uint8_t b[32];
    memset(b, 0, sizeof(b));
    assert_int_equal(ad_crc32c(0, b, 32), 0x8a9136aau);
    memset(b, 0xff, sizeof(b));
    assert_int_equal(ad_crc32c(0, b, 32), 0x62a8ab43u);
    for (int i = 0; i < 32; i++) {
        b[i] = (uint8_t)i;
    }
    assert_int_equal(ad_crc32c(0, b, 32), 0x46dd794eu);
    assert_int_equal(ad_crc32c(0, "", 0), 0);
}

/* Every length and every split point gives what the table gives in one go. */
static void crc32c_paths_and_splits_agree(void **state)
{
    AD_UNUSED(state);
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (uint8_t)(i * 167 + 13);
    }
    (void)ad_crc32c(0, "", 0); /* sets the table up */
    for (size_t len = 0; len <= sizeof(buf); len++) {
        uint32_t want = ~crc32c_sw(~0u, buf, len);
        assert_int_equal(ad_crc32c(0, buf, len), want);
        for (size_t cut = 0; cut <= len; cut += 7) {
            assert_int_equal(ad_crc32c(ad_crc32c(0, buf, cut), buf + cut, len - cut), want);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(standard_vectors),
        cmocka_unit_test(agrees_with_openssl_at_every_length),
        cmocka_unit_test(base64_refuses_bad_input),
        cmocka_unit_test(crc32c_vectors),
        cmocka_unit_test(crc32c_paths_and_splits_agree),
    };
    return cmocka_run_group_tests_name("core-digest", tests, NULL, NULL);
}
