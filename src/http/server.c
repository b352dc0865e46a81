/* SPDX-License-Identifier: MIT */
/*
 * The server: its configuration (CORS origins), the listeners (TCP and the
 * unix socket in the data dir, bound here or handed over by a service
 * manager: inherit.c), and graceful shutdown (stop accepting, let
 * answers finish, ask taken-over connections to close, then report done).
 * Connections are conn.c's, parsing parse.c's, routing router.c's,
 * writing write.c's, responses response.c's.
 */
#include "http/http_int.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- server -------------------------------------------------------------------- */

ad_server_t *ad_server_new(uv_loop_t *loop, const ad_config_t *cfg)
{
    ad_server_t *s = ad_xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->cfg = cfg;
    s->linger_ns = AD_HTTP_LINGER_NS;
    s->linger_off_ns = AD_HTTP_LINGER_OFF_NS;
    s->adopt_tcp = -1;
    s->adopt_unix = -1;
    /* http-parser's own header cap is process-wide; keep it above ours so
     * our limit (and its 431) is the one that applies. */
    uint64_t hmax = cfg->max_header_bytes + 1024;
    http_parser_set_max_header_size(hmax > 80 * 1024 ? (uint32_t)hmax : 80 * 1024);
    const char *p = cfg->cors_origins;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t n = strcspn(p, ", ");
        if (n > 0) {
            s->cors = ad_xrealloc(s->cors, (s->ncors + 1) * sizeof(char *));
            s->cors[s->ncors++] = ad_xstrndup(p, n);
        }
        p += n;
    }
    return s;
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss)
{
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) {
        return 0;
    }
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) {
        return 0;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
        return AD_EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    if (res->ai_family == AF_INET) {
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    } else {
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
    }
    freeaddrinfo(res);
    return 0;
}

/* A bound, listening unix socket at path (mode 0600), or -1 with errno. */
static int bind_unix(const char *path)
{
    struct sockaddr_un a;
    int dirfd;
    if (ad_unix_addr(path, &a, &dirfd) != 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    mode_t old = umask(077);
    if (fd >= 0 && (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 511) != 0)) {
        int e = errno;
        close(fd);
        fd = -1;
        errno = e;
    }
    umask(old);
    if (dirfd >= 0) {
        close(dirfd);
    }
    return fd;
}

void ad_server_adopt(ad_server_t *s, const ad_listen_fds_t *l)
{
    s->adopt_tcp = l->tcp_fd;
    s->adopt_unix = l->unix_fd;
}

/* The inherited unix socket: the CLI finds the daemon at
 * <data-dir>/agentd.sock, so another path is said (the socket still
 * serves, for whoever knows it). Its mode is the service manager's;
 * conn.c lets only agentd's own user in either way. */
static int adopt_unix(ad_server_t *s)
{
    struct sockaddr_un a;
    socklen_t alen = sizeof(a);
    char path[sizeof(a.sun_path) + 1] = "";
    if (getsockname(s->adopt_unix, (struct sockaddr *)&a, &alen) == 0 &&
        alen > offsetof(struct sockaddr_un, sun_path)) {
        size_t n = alen - offsetof(struct sockaddr_un, sun_path);
        snprintf(path, sizeof(path), "%.*s", (int)strnlen(a.sun_path, n), a.sun_path);
    }
    if (strcmp(path, s->sock_path) != 0) {
        ad_log(AD_LOG_WARN, "http",
               "inherited unix socket is not where the CLI looks path=%s expected=%s", path,
               s->sock_path);
        snprintf(s->sock_path, sizeof(s->sock_path), "%s", path);
    }
    s->sock_inherited = true;
    return s->adopt_unix;
}

static int listen_unix(ad_server_t *s, char *err, size_t errsz)
{
    int n = snprintf(s->sock_path, sizeof(s->sock_path), "%s/agentd.sock", s->cfg->data_dir);
    if (s->adopt_unix < 0 && (n < 0 || (size_t)n >= sizeof(s->sock_path))) {
        ad_log(AD_LOG_WARN, "http", "no unix socket: path too long");
        s->sock_path[0] = '\0';
        return 0;
    }
    int fd;
    if (s->adopt_unix >= 0) {
        fd = adopt_unix(s);
    } else {
        struct stat st;
        if (lstat(s->sock_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            unlink(s->sock_path); /* stale: we hold the data-dir lock */
        }
        fd = bind_unix(s->sock_path);
    }
    int rc = fd < 0 ? uv_translate_sys_error(errno) : 0;
    if (fd >= 0) {
        if (!s->sock_inherited) {
            chmod(s->sock_path, 0600);
        }
        uv_pipe_init(s->loop, &s->pipe, 0);
        s->pipe.data = s;
        s->pipe_open = true;
        rc = uv_pipe_open(&s->pipe, fd);
        if (rc == 0) {
            rc = uv_listen((uv_stream_t *)&s->pipe, 511, ad_http_on_connection);
        }
    }
    if (rc != 0) {
        snprintf(err, errsz, "cannot listen on %s: %s", s->sock_path, uv_strerror(rc));
        s->sock_path[0] = '\0';
        return AD_EIO;
    }
    return 0;
}

int ad_server_listen(ad_server_t *s, char *err, size_t errsz)
{
    const ad_config_t *cfg = s->cfg;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (s->adopt_tcp < 0 && resolve(cfg->listen_host, cfg->listen_port, &ss) != 0) {
        snprintf(err, errsz, "cannot resolve listen host '%s'", cfg->listen_host);
        return AD_EINVAL;
    }
    if (cfg->tls_cert[0] != '\0' && s->tls == NULL) {
        int trc = ad_conn_tls_ctx(cfg->tls_cert, cfg->tls_key, &s->tls, err, errsz);
        if (trc != 0) {
            return trc;
        }
    }
    uv_tcp_init(s->loop, &s->tcp);
    s->tcp.data = s;
    s->tcp_open = true;
    /* An inherited listener already listens (and its backlog holds the
     * connections that came while no agentd ran): only taken up. */
    int rc = s->adopt_tcp >= 0 ? uv_tcp_open(&s->tcp, s->adopt_tcp)
                               : uv_tcp_bind(&s->tcp, (const struct sockaddr *)&ss, 0);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)&s->tcp, 511, ad_http_on_connection);
    }
    if (rc != 0) {
        /* systemd's agentd.socket holds the port while it is enabled: the
         * agentd it starts is the one to use */
        snprintf(err, errsz, "cannot listen on %s:%d: %s%s", cfg->listen_host, cfg->listen_port,
                 uv_strerror(rc),
                 rc == UV_EADDRINUSE ? " (another agentd, or agentd.socket holding it: see "
                                       "'agentd service status')"
                                     : "");
        return AD_EIO;
    }
    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&bound, &blen);
    s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    if (cfg->data_dir[0] != '\0') {
        rc = listen_unix(s, err, errsz);
        if (rc != 0) {
            return rc;
        }
    }
    ad_http_caps_start(s);
    ad_log(AD_LOG_INFO, "http", "listening host=%s port=%d tls=%s unix=%s inherited=%s",
           cfg->listen_host, s->port, s->tls != NULL ? "yes" : "no",
           s->sock_path[0] ? s->sock_path : "-",
           s->adopt_tcp >= 0 && s->sock_inherited ? "tcp,unix"
           : s->adopt_tcp >= 0                    ? "tcp"
           : s->sock_inherited                    ? "unix"
                                                  : "no");
    return 0;
}

int ad_server_port(const ad_server_t *s)
{
    return s->port;
}

static void on_server_handle_closed(uv_handle_t *h)
{
    ad_server_t *s = h->data;
    s->open_handles--;
    ad_http_check_done(s);
}

static void grace_closed(uv_handle_t *h)
{
    ad_server_t *s = h->data;
    s->grace_open = false;
    if (!s->done_called) {
        s->done_called = true;
        if (s->done != NULL) {
            s->done(s->done_ud);
        }
    }
}

void ad_http_check_done(ad_server_t *s)
{
    if (!s->closing || s->nconns > 0 || s->open_handles > 0 || !s->grace_open) {
        return;
    }
    if (uv_is_closing((uv_handle_t *)&s->grace)) {
        return;
    }
    ad_http_wflush_close(s);
    uv_timer_stop(&s->grace);
    uv_close((uv_handle_t *)&s->grace, grace_closed);
}

static void on_grace(uv_timer_t *t)
{
    ad_server_t *s = t->data;
    ad_log(AD_LOG_WARN, "http", "shutdown grace period over, closing connections open=%zu",
           s->nconns);
    ad_conn_t *c = s->conns;
    while (c != NULL) {
        ad_conn_t *next = c->next;
        ad_conn_abort(c);
        c = next;
    }
}

void ad_server_close(ad_server_t *s, void (*done)(void *ud), void *ud)
{
    if (s->closing) {
        return;
    }
    s->closing = true;
    s->done = done;
    s->done_ud = ud;
    if (s->tcp_open) {
        s->open_handles++;
        uv_close((uv_handle_t *)&s->tcp, on_server_handle_closed);
        s->tcp_open = false;
    }
    if (s->pipe_open) {
        s->open_handles++;
        uv_close((uv_handle_t *)&s->pipe, on_server_handle_closed);
        s->pipe_open = false;
        if (s->sock_path[0] != '\0' && !s->sock_inherited) {
            unlink(s->sock_path); /* an inherited one stays: it queues for the next agentd */
        }
    }
    ad_http_caps_stop(s);
    uv_timer_init(s->loop, &s->grace);
    s->grace.data = s;
    s->grace_open = true;
    uv_timer_start(&s->grace, on_grace, s->cfg->shutdown_grace_ms, 0);
    uv_unref((uv_handle_t *)&s->grace);
    ad_conn_t *c = s->conns;
    while (c != NULL) {
        ad_conn_t *next = c->next;
        if (c->closing) {
            /* already on its way out */
        } else if (c->kind == AD_CONN_TAKEN) {
            if (c->ops != NULL && c->ops->on_server_close != NULL) {
                c->ops->on_server_close(c->ops_ud);
            } else {
                ad_conn_finish(c);
            }
        } else if (c->cur != NULL) {
            /* a request still arriving: read on; it is answered with
             * Connection: close (dispatch, parse.c) */
        } else if (c->qhead == NULL && c->nwriting == 0) {
            if (c->began) {
                ad_conn_finish(c); /* kept alive between requests */
            } else {
                /* accepted just before: its first request may be on its
                 * way (a restart hands the listeners on; closing it now
                 * would hang up on that request). It gets a moment. */
                ad_conn_set_timer(c, AD_TM_IDLE, AD_HTTP_CLOSE_FRESH_MS);
            }
        } else {
            c->no_more = true; /* finish the answers, then close */
        }
        c = next;
    }
    ad_http_check_done(s);
}

void ad_server_free(ad_server_t *s)
{
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->nroutes; i++) {
        ad_route_cleanup(&s->routes[i]);
    }
    free(s->routes);
    for (size_t i = 0; i < s->ncors; i++) {
        free(s->cors[i]);
    }
    free(s->cors);
    ad_http_wflush_close(s);
    ad_http_wqs_free(s);
    ad_http_reqs_free(s);
    ad_http_caps_free(s);
    ad_tls_ctx_free(s->tls);
    for (size_t i = 0; i < s->nowned; i++) {
        free(s->owned[i]);
    }
    free(s->owned);
    free(s);
}