/* SPDX-License-Identifier: MIT */
/*
 * Health probes of services, on the loop: a TCP or unix-socket connect, an
 * HTTP GET (any 2xx is healthy), or a command (exit 0 is healthy), each
 * with a timeout and its latency. A probe reports exactly once; one that
 * times out is torn down (a command is killed) before it reports. Used by
 * services (src/svc) here and by a worker node for the services placed on
 * it (src/node).
 */
#include "health/health.h"
#include "proc/proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROBE_ARGV_MAX 256

struct ad_probe {
    uv_loop_t *loop;
    ad_procs_t *procs;
    bool sandboxed; /* another organisation's: its command in the plain sandbox */
    ad_probe_cb cb;
    void *ud;
    uint64_t t0;
    uv_timer_t timer;
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    bool h_open, reported;
    int handles; /* open handles: freed when 0 after the report */
    uv_connect_t conn;
    uv_write_t wr;
    char req[600];
    char resp[64];
    size_t resp_len;
    bool http;
    ad_proc_t *proc;
};

static void maybe_free(ad_probe_t *p)
{
    if (p->reported && p->handles == 0 && p->proc == NULL) {
        free(p);
    }
}

static void on_closed(uv_handle_t *h)
{
    ad_probe_t *p = h->data;
    p->handles--;
    maybe_free(p);
}

/* Reports once, then tears everything down. */
static void report(ad_probe_t *p, bool ok, const char *error)
{
    if (p->reported) {
        return;
    }
    p->reported = true;
    double ms = (double)(uv_hrtime() - p->t0) / 1e6;
    uv_close((uv_handle_t *)&p->timer, on_closed);
    if (p->h_open && !uv_is_closing((uv_handle_t *)&p->h)) {
        uv_close((uv_handle_t *)&p->h, on_closed);
    }
    if (p->proc != NULL) {
        ad_proc_stop(p->proc, true); /* its exit callback frees it */
    }
    p->cb(ok, ms, ok ? NULL : error, p->ud);
    maybe_free(p);
}

static void on_timeout(uv_timer_t *t)
{
    report(t->data, false, "timed out");
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    ad_probe_t *p = s->data;
    AD_UNUSED(buf);
    if (n > 0) {
        p->resp_len += (size_t)n;
    }
    const char *sp = memchr(p->resp, ' ', p->resp_len);
    if (sp != NULL && p->resp + p->resp_len - sp >= 4) {
        char why[64];
        snprintf(why, sizeof(why), "HTTP %.3s", sp + 1);
        report(p, sp[1] == '2', why);
        return;
    }
    if (n < 0 || p->resp_len >= sizeof(p->resp) - 1) {
        report(p, false, n < 0 ? "the connection closed before a status line" : "no HTTP status");
    }
}

static void on_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
    ad_probe_t *p = h->data;
    AD_UNUSED(want);
    *buf = uv_buf_init(p->resp + p->resp_len, (unsigned)(sizeof(p->resp) - 1 - p->resp_len));
}

static void on_written(uv_write_t *w, int status)
{
    ad_probe_t *p = w->data;
    if (status != 0) {
        report(p, false, uv_strerror(status));
    }
}

static void on_connect(uv_connect_t *c, int status)
{
    ad_probe_t *p = c->data;
    if (p->reported) {
        return;
    }
    if (status != 0) {
        report(p, false, uv_strerror(status));
        return;
    }
    if (!p->http) {
        report(p, true, NULL);
        return;
    }
    uv_buf_t b = uv_buf_init(p->req, (unsigned)strlen(p->req));
    p->wr.data = p;
    int rc = uv_write(&p->wr, (uv_stream_t *)&p->h, &b, 1, on_written);
    if (rc == 0) {
        rc = uv_read_start((uv_stream_t *)&p->h, on_alloc, on_read);
    }
    if (rc != 0) {
        report(p, false, uv_strerror(rc));
    }
}

static int start_tcp(ad_probe_t *p, const char *host, int port)
{
    struct sockaddr_storage sa;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa) != 0) {
        return AD_EINVAL;
    }
    uv_tcp_init(p->loop, &p->h.tcp);
    p->h.tcp.data = p;
    p->h_open = true;
    p->handles++;
    p->conn.data = p;
    int rc = uv_tcp_connect(&p->conn, &p->h.tcp, (const struct sockaddr *)&sa, on_connect);
    return rc == 0 ? 0 : AD_EIO;
}

static void on_cmd_exit(ad_proc_t *proc, const ad_proc_exit_t *ex, void *ud)
{
    AD_UNUSED(proc);
    ad_probe_t *p = ud;
    p->proc = NULL;
    char why[64];
    snprintf(why, sizeof(why), ex->exit_code >= 0 ? "exit %d" : "signal %d",
             ex->exit_code >= 0 ? ex->exit_code : ex->term_signal);
    report(p, ex->exit_code == 0, why);
    maybe_free(p);
}

static int start_cmd(ad_probe_t *p, json_t *argv, char *err, size_t errsz)
{
    const char *a[PROBE_ARGV_MAX + 1];
    size_t n = json_array_size(argv);
    for (size_t i = 0; i < n && i < PROBE_ARGV_MAX; i++) {
        a[i] = json_string_value(json_array_get(argv, i));
    }
    a[n < PROBE_ARGV_MAX ? n : PROBE_ARGV_MAX] = NULL;
    ad_proc_opts_t o = {.argv = a, .polite = AD_PROC_POLITE_NONE, .on_exit = on_cmd_exit, .ud = p};
    if (!p->sandboxed) {
        return ad_proc_spawn(p->procs, &o, &p->proc, err, errsz);
    }
    if (!ad_procs_sandbox(p->procs, NULL)) {
        snprintf(err, errsz,
                 "another organisation's probe runs only in a sandbox, and "
                 "this machine has none");
        return AD_EPERM;
    }
    /* a network of its own as its service's (issue #73), with a proxy
     * socket of its own */
    char id[AD_ID_MAX];
    ad_proc_plain_t *box = ad_xcalloc(1, sizeof(*box));
    int rc = ad_id_new("probe", id);
    rc = rc != 0 ? rc : ad_proc_sandbox_plain_net(p->procs, NULL, id, NULL, box, err, errsz);
    o.sandbox = &box->sb;
    rc = rc != 0 ? rc : ad_proc_spawn(p->procs, &o, &p->proc, err, errsz);
    free(box);
    return rc;
}

/* "http://host:port/path" into host, port and the request. */
static int http_request(ad_probe_t *p, const char *url, char *host, size_t hostsz, int *port)
{
    if (url == NULL || strncmp(url, "http://", 7) != 0) {
        return AD_EINVAL;
    }
    const char *h = url + 7, *path = strchr(h, '/');
    size_t hl = path != NULL ? (size_t)(path - h) : strlen(h);
    const char *colon = memchr(h, ':', hl);
    size_t namel = colon != NULL ? (size_t)(colon - h) : hl;
    if (namel == 0 || namel >= hostsz) {
        return AD_EINVAL;
    }
    memcpy(host, h, namel);
    host[namel] = '\0';
    *port = colon != NULL ? (int)strtol(colon + 1, NULL, 10) : 80;
    if (*port <= 0 || *port > 65535) {
        return AD_EINVAL;
    }
    int w =
        snprintf(p->req, sizeof(p->req),
                 "GET %s HTTP/1.1\r\nHost: %.*s\r\nConnection: close\r\nUser-Agent: agentd-probe"
                 "\r\n\r\n",
                 path != NULL ? path : "/", (int)hl, h);
    p->http = true;
    return w > 0 && (size_t)w < sizeof(p->req) ? 0 : AD_EINVAL;
}

static int start_kind(ad_probe_t *p, json_t *probe, char *err, size_t errsz)
{
    const char *type = json_string_value(json_object_get(probe, "type"));
    const char *path = json_string_value(json_object_get(probe, "path"));
    if (type == NULL || (strcmp(type, "command") == 0 && p->procs == NULL) ||
        (strcmp(type, "unix") == 0 && path == NULL) ||
        (strcmp(type, "tcp") == 0 && !json_is_string(json_object_get(probe, "host")))) {
        snprintf(err, errsz, "not a probe that can run here");
        return AD_EINVAL;
    }
    if (strcmp(type, "command") == 0) {
        return start_cmd(p, json_object_get(probe, "command"), err, errsz);
    }
    if (strcmp(type, "unix") == 0) {
        uv_pipe_init(p->loop, &p->h.pipe, 0);
        p->h.pipe.data = p;
        p->h_open = true;
        p->handles++;
        p->conn.data = p;
        uv_pipe_connect(&p->conn, &p->h.pipe, path, on_connect);
        return 0;
    }
    char host[256];
    int port = (int)json_integer_value(json_object_get(probe, "port"));
    if (strcmp(type, "http") == 0) {
        if (http_request(p, json_string_value(json_object_get(probe, "url")), host, sizeof(host),
                         &port) != 0) {
            snprintf(err, errsz, "url must be http://host:port/path");
            return AD_EINVAL;
        }
    } else {
        snprintf(host, sizeof(host), "%s", json_string_value(json_object_get(probe, "host")));
    }
    int rc = start_tcp(p, host, port);
    if (rc != 0) {
        snprintf(err, errsz, "cannot connect to %.200s:%d (an IP address is needed)", host, port);
    }
    return rc;
}

int ad_probe_run(uv_loop_t *loop, ad_procs_t *procs, json_t *probe, bool sandboxed, ad_probe_cb cb,
                 void *ud)
{
    ad_probe_t *p = ad_xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->procs = procs;
    p->sandboxed = sandboxed;
    p->cb = cb;
    p->ud = ud;
    p->t0 = uv_hrtime();
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
    p->handles = 1;
    json_t *to = json_object_get(probe, "timeoutMs");
    /* The loop's clock stops at the start of its turn: after a long turn a
     * timer started from it ran out early, measured from t0 (a 150 ms
     * timeout reported at under 140 ms on a busy machine). */
    uv_update_time(loop);
    uv_timer_start(&p->timer, on_timeout,
                   json_is_integer(to) ? (uint64_t)json_integer_value(to) : 2000, 0);
    char err[256] = "";
    if (start_kind(p, probe, err, sizeof(err)) != 0) {
        report(p, false, err[0] ? err : "cannot start the probe");
    }
    return 0;
}
