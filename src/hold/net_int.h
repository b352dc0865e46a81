/* SPDX-License-Identifier: MIT */
/*
 * The network allow-list's two halves (netproxy.c outside the sandbox,
 * netserve.c inside) share these; nothing outside src/hold uses them.
 */
#ifndef AD_HOLD_NET_INT_H
#define AD_HOLD_NET_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "hold/hold.h"

#define AD_NET_UNUSED(x) ((void)(x))

/* One accepted connection's handler (its own thread; the caller closes fd). */
typedef void (*ad_net_conn_fn)(int fd, void *ud);

/* Writes n bytes at p on the socket fd (MSG_NOSIGNAL); false when the
 * peer is gone. */
bool ad_net_send_all(int fd, const char *p, size_t n);
/* Copies both ways between sockets a and b until both ends have said all. */
void ad_net_splice(int a, int b);
/* A listening socket on the namespace's loopback (::1 when v6) at port,
 * or -1 (why on stderr). */
int ad_net_listen_loopback(unsigned long port, bool v6);
/* Serves one more listener l with conn(fd, ud), a thread per connection,
 * beside ad_net_serve's (at most 16); false when it cannot. */
bool ad_net_listen_more(int l, ad_net_conn_fn conn, void *ud);
/* A published port (POLICY's "^PORT", the bridge's ",^PORT"; a service's,
 * issue #73): the proxy listens on the host's 127.0.0.1:PORT and sends
 * each connection to the unix socket SOCK AD_NET_PUB_DIR "/PORT", where
 * the bridge, inside, takes it to 127.0.0.1:PORT of the program's own
 * namespace. The folder is the proxy's (made at the registration, before
 * the sandbox, which binds it in beside SOCK). */
#define AD_NET_PUB_DIR ".pub"
#define AD_NET_MAX_PUBLISH 4
/* The shared proxy's files, in <data-dir>/proxy (netproxyd.c): its control
 * socket, its lock, and for each registered program ID a folder ID/ (the
 * sandbox binds it in read-only at /run/agentd-proxy) holding the
 * program's socket AD_NET_SOCK (and AD_NET_SOCK AD_NET_PUB_DIR/), and
 * ID.reg, the registration the proxy takes up again after a restart. */
#define AD_NET_CTL "ctl"
#define AD_NET_SOCK "s"
/* One program's policy in the shared proxy (netproxyd.c), read-only once
 * made: POLICY (see netproxy.c), owned; what ad_net_pol_parse reads from
 * it; dir, the program's folder <data-dir>/proxy/ID, owned. */
typedef struct {
    char *policy;
    bool internet;    /* it holds "*" */
    const char *door; /* after its '@' (agentd's OTLP receiver), door_len bytes; NULL: none */
    size_t door_len;
    char *dir;
} ad_net_pol_t;
/* Sets pol's internet and door from its policy. */
void ad_net_pol_parse(ad_net_pol_t *pol);
/* Serves one proxy request on c under pol (netproxy.c): pre (npre bytes)
 * is what was read of it already; the refusal lines go to note (the
 * program's stderr as its bridge sent it; -1: none). */
void ad_net_proxy_conn(int c, const ad_net_pol_t *pol, int note, const char *pre, size_t npre);
/* A connection to pol's published port (its text) on the host's loopback:
 * to the bridge's socket for it (netproxy.c). */
void ad_net_publish_conn(int c, const ad_net_pol_t *pol, const char *port);
/* The bridge starts each connection to the proxy with this byte, sent
 * with its stderr (SCM_RIGHTS) for the proxy's refusal lines; a request
 * never starts with it. */
#define AD_NET_HELLO '\0'
/* argv after --net-register / --net-bridge, "A B -- CMD...": CMD, or NULL. */
char **ad_net_command_of(int argc, char **argv);
/* Runs cmd (a fork: listening sockets are close-on-exec) and serves
 * listener l with conn, a thread per connection, until cmd ends; returns
 * its exit status. The bridge passes proxy_url: cmd gets its proxy
 * variables set to it ("": none) and its default SIGINT and SIGTERM
 * back (the proxy: NULL). */
int ad_net_serve(int l, char **cmd, ad_net_conn_fn conn, const char *proxy_url);

#endif
