/* SPDX-License-Identifier: MIT */
/*
 * Shared by the unit tests that drive the HTTP server over socketpairs
 * (test-http-limits.c, test-http-stream.c): the loop, the config and the
 * server as file statics, the start of the group set-up and its tear-down.
 * Include after cmocka.h.
 */
#ifndef AD_TEST_HTTP_FIXTURE_H
#define AD_TEST_HTTP_FIXTURE_H

#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "http/http_int.h"

static uv_loop_t loop;
static ad_config_t cfg;
static ad_server_t *srv;

/* The default config in cfg (a test may change it before making srv),
 * warnings only in the log, and the loop. */
static void http_fx_init(void)
{
    char err[256];
    assert_int_equal(ad_config_load_env(&cfg, err, sizeof(err)), 0);
    ad_log_set_level(AD_LOG_WARN);
    assert_int_equal(uv_loop_init(&loop), 0);
}

/* Reads fd while the loop runs, into *buf (malloc'd, grown; *cap its size,
 * NUL-terminated), until the peer closes (returns true) or quiet_max polls
 * in a row bring nothing (nap_us asleep each), at most polls polls. *len is
 * the number of bytes read. */
static bool http_fx_read(int fd, char **buf, size_t *cap, size_t *len, int polls, int quiet_max,
                         unsigned nap_us)
{
    size_t got = 0;
    bool closed = false;
    int quiet = 0;
    for (int i = 0; i < polls && quiet < quiet_max; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        if (*buf == NULL || got + 1 >= *cap) {
            *cap = *cap ? *cap * 2 : 1 << 16;
            *buf = realloc(*buf, *cap);
            assert_non_null(*buf);
        }
        ssize_t n = read(fd, *buf + got, *cap - 1 - got);
        if (n == 0) {
            closed = true;
            break;
        }
        if (n > 0) {
            got += (size_t)n;
            quiet = 0;
        } else {
            quiet++;
            usleep(nap_us);
        }
    }
    if (*buf == NULL) {
        *cap = 1;
        *buf = malloc(1);
        assert_non_null(*buf);
    }
    (*buf)[got] = '\0';
    *len = got;
    return closed;
}

/* Closes srv, lets its connections go, and closes the loop. */
static int http_fx_teardown(void **state)
{
    AD_UNUSED(state);
    ad_server_close(srv, NULL, NULL);
    for (int i = 0; i < 100 && uv_run(&loop, UV_RUN_NOWAIT) != 0; i++) {
    }
    ad_server_free(srv);
    assert_int_equal(uv_loop_close(&loop), 0);
    return 0;
}

#endif
