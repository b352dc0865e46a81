/* SPDX-License-Identifier: MIT */
/* Tests for the batched sends (src/http/sendbatch.c) on real sockets: each
 * item gets what its own sendmsg would have got (all its bytes, part of
 * them, -EAGAIN, its error), whatever the other items of the batch get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_int.h"

static ad_sendbatch_t *batch;

static int setup(void **state)
{
    AD_UNUSED(state);
    char why[128] = "";
    batch = ad_sendbatch_new(why, sizeof(why));
    if (batch == NULL) {
        /* Only the kernel's own switch excuses it (6.6 on: 1 or 2 refuse
         * this process a ring); otherwise a refusal is a bug here. */
        FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
        int off = 0;
        if (f != NULL) {
            if (fscanf(f, "%d", &off) != 1) {
                off = 0;
            }
            fclose(f);
        }
        if (off == 0) {
            print_error("io_uring refused (%s) on a kernel that allows it\n", why);
            return -1;
        }
        print_message("io_uring refused here (%s): the batch tests are skipped\n", why);
    }
    return 0;
}

static int teardown(void **state)
{
    AD_UNUSED(state);
    ad_sendbatch_free(batch);
    return 0;
}

/* A connected pair whose first end is non-blocking, as libuv leaves its. */
static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
}

static void need_batch(void)
{
    if (batch == NULL) {
        skip();
    }
}

/* Reads exactly n bytes from fd (blocking) into buf. */
static void read_all(int fd, char *buf, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t r = read(fd, buf + off, n - off);
        assert_true(r > 0);
        off += (size_t)r;
    }
}

static void every_item_leaves_whole_and_in_order(void **state)
{
    AD_UNUSED(state);
    need_batch();
    int sv[3][2];
    char a[] = "first ", b[] = "second", c[] = "third!";
    struct iovec iov[3][2] = {
        {{a, 6}, {b, 6}},
        {{b, 6}, {c, 6}},
        {{c, 6}, {a, 6}},
    };
    ad_sendbatch_item_t items[3];
    for (int i = 0; i < 3; i++) {
        pair(sv[i]);
        items[i] = (ad_sendbatch_item_t){sv[i][0], iov[i], 2};
    }
    int res[3];
    assert_int_equal(ad_sendbatch_run(batch, items, res, 3), 3);
    const char *want[3] = {"first second", "secondthird!", "third!first "};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(res[i], 12);
        char got[13] = {0};
        read_all(sv[i][1], got, 12);
        assert_string_equal(got, want[i]);
        close(sv[i][0]);
        close(sv[i][1]);
    }
    assert_true(ad_sendbatch_usable(batch));
}

static void a_full_socket_takes_part_or_nothing(void **state)
{
    AD_UNUSED(state);
    need_batch();
    int full[2], room[2], ok[2];
    pair(full);
    pair(room);
    pair(ok);
    /* full: filled up with plain sends until the kernel says EAGAIN */
    static char fill[65536];
    memset(fill, 'f', sizeof(fill));
    while (send(full[0], fill, sizeof(fill), MSG_DONTWAIT) > 0) {
    }
    assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
    /* room: more than the socket can hold in one go */
    size_t big = 8u << 20;
    char *lots = malloc(big);
    assert_non_null(lots);
    memset(lots, 'r', big);
    struct iovec v_full = {fill, 100}, v_room = {lots, big}, v_ok = {fill, 100};
    ad_sendbatch_item_t items[3] = {
        {full[0], &v_full, 1}, {room[0], &v_room, 1}, {ok[0], &v_ok, 1}};
    int res[3];
    assert_int_equal(ad_sendbatch_run(batch, items, res, 3), 3);
    assert_int_equal(res[0], -EAGAIN);
    assert_true(res[1] > 0 && (size_t)res[1] < big); /* a partial send counts its bytes */
    assert_int_equal(res[2], 100);
    free(lots);
    for (int i = 0; i < 2; i++) {
        close(full[i]);
        close(room[i]);
        close(ok[i]);
    }
}

static void an_items_error_is_its_own(void **state)
{
    AD_UNUSED(state);
    need_batch();
    int gone[2], ok[2], p[2];
    pair(gone);
    pair(ok);
    assert_int_equal(pipe(p), 0);
    close(gone[1]); /* the peer went away: EPIPE, and no SIGPIPE (MSG_NOSIGNAL) */
    char x[] = "hello";
    struct iovec v = {x, 5};
    ad_sendbatch_item_t items[3] = {{gone[0], &v, 1}, {p[1], &v, 1}, {ok[0], &v, 1}};
    int res[3];
    assert_int_equal(ad_sendbatch_run(batch, items, res, 3), 3);
    assert_int_equal(res[0], -EPIPE);
    assert_int_equal(res[1], -ENOTSOCK);
    assert_int_equal(res[2], 5);
    char got[6] = {0};
    read_all(ok[1], got, 5);
    assert_string_equal(got, "hello");
    assert_true(ad_sendbatch_usable(batch)); /* an item's error is not the ring's */
    close(gone[0]);
    close(ok[0]);
    close(ok[1]);
    close(p[0]);
    close(p[1]);
}

static void a_batch_holds_at_most_its_ring(void **state)
{
    AD_UNUSED(state);
    need_batch();
    enum { N = AD_SENDBATCH_MAX + 4 };
    static int sv[N][2];
    static ad_sendbatch_item_t items[N];
    static int res[N];
    char x[] = "y";
    struct iovec v = {x, 1};
    for (int i = 0; i < N; i++) {
        pair(sv[i]);
        items[i] = (ad_sendbatch_item_t){sv[i][0], &v, 1};
    }
    /* only the first AD_SENDBATCH_MAX go; the caller sends the rest next */
    assert_int_equal(ad_sendbatch_run(batch, items, res, N), AD_SENDBATCH_MAX);
    for (int i = 0; i < AD_SENDBATCH_MAX; i++) {
        assert_int_equal(res[i], 1);
    }
    assert_int_equal(ad_sendbatch_run(batch, items + AD_SENDBATCH_MAX, res, 4), 4);
    for (int i = 0; i < N; i++) {
        char c;
        read_all(sv[i][1], &c, 1);
        assert_int_equal(c, 'y');
        close(sv[i][0]);
        close(sv[i][1]);
    }
}

static void no_batch_sends_nothing(void **state)
{
    AD_UNUSED(state);
    int sv[2];
    pair(sv);
    char x[] = "z";
    struct iovec v = {x, 1};
    ad_sendbatch_item_t item = {sv[0], &v, 1};
    int res[1] = {12345};
    assert_int_equal(ad_sendbatch_run(NULL, &item, res, 1), 0);
    assert_int_equal(res[0], -EINPROGRESS); /* not sent: the caller's to send */
    assert_false(ad_sendbatch_usable(NULL));
    char c;
    assert_int_equal(recv(sv[1], &c, 1, MSG_DONTWAIT), -1);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_item_leaves_whole_and_in_order),
        cmocka_unit_test(a_full_socket_takes_part_or_nothing),
        cmocka_unit_test(an_items_error_is_its_own),
        cmocka_unit_test(a_batch_holds_at_most_its_ring),
        cmocka_unit_test(no_batch_sends_nothing),
    };
    return cmocka_run_group_tests_name("http-sendbatch", tests, setup, teardown);
}
