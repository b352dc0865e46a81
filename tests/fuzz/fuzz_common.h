/* SPDX-License-Identifier: MIT */
/*
 * Shared by the libFuzzer harnesses: a server with the test routes on the
 * default loop, and one connection per input on a socketpair that the input
 * is fed into directly (split in two at a point the input chooses, so
 * partial reads are exercised). Everything the server writes is drained and
 * the connection is closed before the next input.
 */
#ifndef AD_FUZZ_COMMON_H
#define AD_FUZZ_COMMON_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http_int.h"
#include "ws/ws.h"

static ad_config_t fz_cfg;
static ad_server_t *fz_srv;

static void fz_init(void)
{
    char err[256];
    if (ad_config_load_env(&fz_cfg, err, sizeof(err)) != 0) {
        abort();
    }
    fz_cfg.max_body_bytes = 4096;
    fz_cfg.max_header_bytes = 4096;
    fz_cfg.ws_max_message_bytes = 65536;
    ad_log_set_level(AD_LOG_OFF);
    fz_srv = ad_server_new(uv_default_loop(), &fz_cfg);
    ad_server_route(fz_srv, "GET", "/healthz", AD_ACCESS_PUBLIC, ad_http_healthz, NULL);
    ad_test_routes_register(fz_srv);
}

static void fz_drain(int fd)
{
    char buf[65536];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
}

/* Runs one connection: prefix (may be NULL) then data in two pieces. */
static void fz_run(const char *prefix, const uint8_t *data, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        abort();
    }
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    ad_conn_t *c = ad_http_conn_open_fd(fz_srv, sv[0]);
    if (c == NULL) {
        abort();
    }
    size_t split = size > 0 ? data[0] % (size + 1) : 0;
    if (prefix != NULL) {
        ad_http_conn_feed(c, prefix, strlen(prefix));
    }
    if (size > 1) {
        data++;
        size--;
        if (split > size) {
            split = size;
        }
        ad_http_conn_feed(c, (const char *)data, split);
        uv_run(uv_default_loop(), UV_RUN_NOWAIT);
        fz_drain(sv[1]);
        ad_http_conn_feed(c, (const char *)data + split, size - split);
    }
    for (int i = 0; i < 4; i++) {
        uv_run(uv_default_loop(), UV_RUN_NOWAIT);
        fz_drain(sv[1]);
    }
    close(sv[1]);
    ad_conn_t *it = fz_srv->conns;
    while (it != NULL) {
        ad_conn_t *next = it->next;
        ad_conn_abort(it);
        it = next;
    }
    for (int i = 0; i < 100 && fz_srv->nconns > 0; i++) {
        uv_run(uv_default_loop(), UV_RUN_NOWAIT);
    }
    if (fz_srv->nconns != 0) {
        abort(); /* a connection that cannot be closed is a bug */
    }
}

/* Defines the libFuzzer initializer of a harness that feeds the server. */
#define FZ_DEFINE_INITIALIZE()                                                                     \
    int LLVMFuzzerInitialize(int *argc, char ***argv);                                             \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                              \
    {                                                                                              \
        AD_UNUSED(argc);                                                                           \
        AD_UNUSED(argv);                                                                           \
        fz_init();                                                                                 \
        return 0;                                                                                  \
    }

#endif
