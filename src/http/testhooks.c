/* SPDX-License-Identifier: MIT */
/*
 * Test builds only (unit tests and the fuzz harnesses): a connection on an
 * already open fd, and input fed to a connection as if read from it.
 */
#include "http/http_int.h"

#ifdef AD_TEST_BUILD
ad_conn_t *ad_http_conn_open_fd(ad_server_t *s, int fd)
{
    ad_conn_t *c = ad_conn_new(s, true);
    if (uv_pipe_open(&c->h.pipe, fd) != 0) {
        ad_conn_abort(c);
        return NULL;
    }
    ad_conn_set_timer(c, AD_TM_HEADER, s->cfg->header_timeout_ms);
    ad_conn_start_reading(c);
    return c;
}

void ad_http_conn_feed(ad_conn_t *c, const char *data, size_t len)
{
    ad_conn_on_input(c, (ssize_t)len, data);
}
#endif
