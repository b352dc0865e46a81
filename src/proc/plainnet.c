/* SPDX-License-Identifier: MIT */
/*
 * A sandboxed program's network (issue #73): an agent's, and an
 * organisation's plain programs' (jobs, services, their command probes,
 * worktree setup commands). Each runs in a network namespace of its own;
 * what it reaches goes through agentd's proxy (src/hold/netproxy.c, one
 * process for the data dir: netproxyd.c), where ad_proc_sandbox_argv
 * registers the program before bwrap when sb.net_allow is set: the
 * internet ("*"), an allow list's hosts, and "=ADDR:PORT" for each host
 * service an admin opened, which the bridge inside also listens for on
 * the program's loopback at the same port, and "^PORT" for a service's
 * port published on the host's loopback (the proxy listens there, the
 * bridge takes each connection to the service's own loopback), and
 * "@127.0.0.1:PORT" for agentd's own OTLP receiver (a run's telemetry:
 * the bridge listens at PORT, the proxy lets its three POST routes
 * through). Without any of them (network "off") there is no proxy: the
 * loopback alone.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "proc/proc_int.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int ad_proc_net_fill(const char *data_dir, const char *id, const ad_proc_net_t *net, char *allow,
                     size_t allowsz, char *bridge, size_t bridgesz, char *sock, size_t socksz,
                     ad_proc_sandbox_t *sb, char *err, size_t errsz)
{
    size_t off = 0, boff = 0;
    allow[0] = bridge[0] = sock[0] = '\0';
    if (net->network && net->nallow == 0) {
        off = (size_t)snprintf(allow, allowsz, "*");
    }
    for (size_t i = 0; i < net->nallow + net->nservices; i++) {
        bool svc = i >= net->nallow;
        const char *h = svc ? net->services[i - net->nallow] : net->allow[i];
        const char *colon = h != NULL ? strrchr(h, ':') : NULL;
        if (h == NULL || h[0] == '\0' || h[0] == '*' || h[0] == '=' || h[0] == '~' ||
            strchr(h, ',') != NULL || strchr(h, '=') != NULL || strchr(h, '^') != NULL ||
            strchr(h, '@') != NULL || (svc && colon == NULL) || off + strlen(h) + 3 >= allowsz ||
            (svc && boff + strlen(h) + 10 >= bridgesz)) {
            snprintf(err, errsz, "sandbox network %s: entry %zu is not a %s",
                     svc ? "hostServices" : "allow list", svc ? i - net->nallow : i,
                     svc ? "ADDR:PORT" : "host[:port]");
            return AD_EINVAL;
        }
        off += (size_t)snprintf(allow + off, allowsz - off, "%s%s%s", off > 0 ? "," : "",
                                svc ? "=" : "", h);
        if (svc) {
            boff += (size_t)snprintf(bridge + boff, bridgesz - boff, ",%s=%s", colon + 1, h);
        }
    }
    if (net->publish > 0 && net->publish <= 65535 && off + 8 < allowsz && boff + 8 < bridgesz) {
        off +=
            (size_t)snprintf(allow + off, allowsz - off, "%s^%u", off > 0 ? "," : "", net->publish);
        boff += (size_t)snprintf(bridge + boff, bridgesz - boff, ",^%u", net->publish);
    }
    /* agentd's OTLP receiver: "@127.0.0.1:PORT" to the proxy, ",@PORT" to
     * the bridge (the door of netproxy.c: its three POST routes only) */
    const char *oport = net->otlp != NULL ? net->otlp + 10 : NULL;
    if (oport != NULL && strncmp(net->otlp, "127.0.0.1:", 10) == 0 && oport[0] != '\0' &&
        strlen(oport) <= 5 && strspn(oport, "0123456789") == strlen(oport) && off + 20 < allowsz &&
        boff + 8 < bridgesz) {
        /* ",-" when it is all there is (network "off"): no proxy variables */
        boff +=
            (size_t)snprintf(bridge + boff, bridgesz - boff, ",@%s%s", oport, off == 0 ? ",-" : "");
        off += (size_t)snprintf(allow + off, allowsz - off, "%s@%s", off > 0 ? "," : "", net->otlp);
    }
    if (off == 0) {
        return 0;
    }
    /* <data-dir>/proxy, 0700: the sandbox sees the program's own folder
     * <data-dir>/proxy/<id> (its socket, made by the shared proxy when the
     * program is registered, src/hold/netproxyd.c) at /run/agentd-proxy
     * only */
    char dir[PATH_MAX];
    if (data_dir == NULL || data_dir[0] != '/' || id == NULL || id[0] == '\0' ||
        strchr(id, '/') != NULL ||
        (size_t)snprintf(dir, sizeof(dir), "%s/proxy", data_dir) >= sizeof(dir) ||
        (mkdir(dir, 0700) != 0 && errno != EEXIST) ||
        (size_t)snprintf(sock, socksz, "%s/%s", dir, id) >= socksz) {
        snprintf(err, errsz, "cannot make the network proxy's socket in %s/proxy: %s",
                 data_dir != NULL ? data_dir : "", strerror(errno));
        return AD_EIO;
    }
    sb->net_allow = allow;
    sb->net_sock = sock;
    sb->net_bridge = bridge;
    return 0;
}

int ad_proc_sandbox_plain_net(const ad_procs_t *s, const char *cwd, const char *id,
                              const ad_proc_net_t *net, ad_proc_plain_t *x, char *err, size_t errsz)
{
    static const ad_proc_net_t internet = {.network = true};
    ad_proc_sandbox_plain(s, cwd, x->binds, &x->sb);
    x->sb.network = false; /* a namespace of its own, whatever the policy */
    return ad_proc_net_fill(s->sbx.data_dir, id, net != NULL ? net : &internet, x->net_allow,
                            sizeof(x->net_allow), x->net_bridge, sizeof(x->net_bridge), x->net_sock,
                            sizeof(x->net_sock), &x->sb, err, errsz);
}

char *ad_proc_sandbox_shell(const ad_procs_t *s, const char *cwd, const char *cmd,
                            const ad_proc_net_t *net)
{
    /* a proxy socket of its own: setup commands of two worktrees may run
     * at once */
    char id[AD_ID_MAX], err[256];
    ad_proc_plain_t *x = ad_xcalloc(1, sizeof(*x));
    if (ad_id_new("setup", id) != 0 ||
        ad_proc_sandbox_plain_net(s, cwd, id, net, x, err, sizeof(err)) != 0) {
        ad_log(AD_LOG_WARN, "proc", "setup command's sandbox refused why=\"%s\"", err);
        free(x);
        return NULL;
    }
    const char *argv[] = {"sh", "-c", cmd, NULL};
    ad_argv_t a;
    if (ad_proc_sandbox_argv(s, &x->sb, "/bin/sh", argv, cwd, &a, err, sizeof(err)) != 0) {
        free(x);
        return NULL;
    }
    free(x);
    ad_buf_t out;
    ad_buf_init(&out, 1u << 20); /* a setup command is far shorter */
    int rc = ad_buf_append(&out, "exec", 4);
    for (size_t i = 0; i < a.n && rc == 0; i++) {
        rc = ad_buf_append(&out, " '", 2);
        for (const char *p = a.v[i]; *p != '\0' && rc == 0; p++) {
            rc = *p == '\'' ? ad_buf_append(&out, "'\\''", 4) : ad_buf_append(&out, p, 1);
        }
        rc = rc == 0 ? ad_buf_append(&out, "'", 1) : rc;
    }
    ad_argv_free(&a);
    if (rc != 0) {
        ad_buf_cleanup(&out);
        return NULL;
    }
    char *line = ad_xmalloc(out.len + 1);
    memcpy(line, out.data, out.len);
    line[out.len] = '\0';
    ad_buf_cleanup(&out);
    return line;
}

void ad_proc_net_of(const json_t *pol, ad_proc_net_t *net, const char **allow, size_t amax,
                    const char **svc, size_t smax)
{
    *net = (ad_proc_net_t){.network = true};
    json_t *n = json_object_get(pol, "network"), *list = json_object_get(n, "allow");
    const char *mode = json_string_value(n);
    size_t i;
    json_t *v;
    if (mode != NULL && strcmp(mode, "off") == 0) {
        net->network = false;
    }
    /* an allow list: those only (network "off" but them); an entry that
     * is not a string, or past amax, is left out, never widened */
    if (json_is_object(n)) {
        net->network = false;
        json_array_foreach(list, i, v)
        {
            if (json_is_string(v) && net->nallow < amax) {
                allow[net->nallow++] = json_string_value(v);
            }
        }
        net->allow = allow;
    }
    json_array_foreach(json_object_get(pol, "hostServices"), i, v)
    {
        if (json_is_string(v) && net->nservices < smax) {
            svc[net->nservices++] = json_string_value(v);
        }
    }
    net->services = svc;
}

/* A second program of one agent at once (its goal's check, beside its
 * CLI) registers under a name of its own, which ends with it: under the
 * agent's, the first to end took the other's socket with it. The agent's
 * own name stays what its ACP terminals share (and find again after a
 * restart). */
static atomic_uint net_seq;

bool ad_proc_net_own(char *sock, size_t socksz)
{
    size_t n = strlen(sock);
    return n == 0 ||
           (size_t)snprintf(sock + n, socksz - n, "-%llx-%x", (unsigned long long)ad_wall_ms(),
                            atomic_fetch_add(&net_seq, 1)) < socksz - n;
}
