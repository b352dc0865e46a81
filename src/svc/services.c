/* SPDX-License-Identifier: MIT */
/*
 * Services: long-running helpers kept up by agentd. Each is started from
 * its stored row (argv with {key} replaced by config values, the config
 * as JSON in SERVICE_CONFIG), restarted by its policy with a backoff that
 * doubles from 500 ms to 30 s (and starts again once a run lasted 10 s),
 * probed every probe.intervalMs while it runs (svcprobe.c), and reports its own
 * figures with {"type":"metrics", …numbers} lines. Every change of state
 * is published as service_update on service:<id> and its org's topic.
 * A service placed on a worker node (its row's nodeId, docs/nodes.md) runs
 * there: each start is a spawn on the node under a holder, relayed over
 * the node's link as a job's run is (src/node), so its lines, exit and
 * stop travel as a local process's; a command probe runs there too. It
 * waits while its node is not connected (a tick starts it once it is) and
 * shows its node unreachable while the relay says so.
 */
#include "svc/svc_int.h"
#include "tables/services.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 10000
#define ENV_MAX 8192
#define SERVICE_OUTPUT_MAX (16 * 1024)
#define NODE_TICK_MS 500

static void start(service_t *s);

/* The node the row places it on ("" here). */
static const char *row_node(const service_t *s)
{
    const char *n = json_string_value(json_object_get(s->row, "nodeId"));
    return n != NULL ? n : "";
}

/* ---- views and events ------------------------------------------------------------ */

static json_t *runtime(const service_t *s)
{
    json_t *health = json_pack("{s:s, s:o, s:s?, s:o}", "status", s->health, "latencyMs",
                               s->checked_at ? json_real(s->latency_ms) : json_null(), "error",
                               s->probe_error[0] ? s->probe_error : NULL, "checkedAt",
                               s->checked_at ? json_integer(s->checked_at) : json_null());
    json_t *exit = s->has_exit ? json_pack("{s:i, s:i, s:I}", "code", s->last_code, "signal",
                                           s->last_signal, "at", (json_int_t)s->last_exit_at)
                               : json_null();
    json_t *cfg = json_object_get(s->row, "config");
    bool pending = s->config != NULL && !json_equal(s->config, cfg);
    long pid = s->proc != NULL ? (long)ad_proc_pid(s->proc) : 0;
    /* "running" from the spawn on; "starting" until the spawner thread has
     * its pid (a spawn is off the loop) */
    bool starting =
        s->proc != NULL && ad_proc_starting(s->proc) && strcmp(s->status, "running") == 0;
    const char *status = starting ? "starting" : s->status;
    if (s->run_id[0] != '\0') {
        pid = s->proc != NULL ? (long)ad_plane_run_pid(s->ss->plane, s->run_id) : 0;
        status = s->unreachable && s->proc != NULL ? "unreachable" : status;
    }
    json_t *rt = json_pack("{s:s, s:o, s:o, s:i, s:I, s:o, s:o, s:O?, s:b, s:s?}", "status", status,
                           "pid", pid > 0 ? json_integer(pid) : json_null(), "startedAt",
                           s->proc ? json_integer(s->started_at) : json_null(), "restarts",
                           (int)s->restarts, "backoffMs", (json_int_t)s->backoff_ms, "lastExit",
                           exit, "health", health, "figures", s->figures, "pendingRestart", pending,
                           "error", s->error[0] ? s->error : NULL);
    const char *node = s->run_id[0] != '\0' ? s->node_id : row_node(s);
    json_t *n = node[0] != '\0' && s->ss->plane != NULL ? ad_plane_node(s->ss->plane, node) : NULL;
    if (node[0] != '\0') {
        const char *state = json_string_value(json_object_get(n, "state"));
        json_object_set_new(rt, "node",
                            json_pack("{s:s, s:s?, s:s?, s:b}", "id", node, "name",
                                      json_string_value(json_object_get(n, "name")), "state", state,
                                      "reachable",
                                      state != NULL && strcmp(state, "connected") == 0));
        json_object_set_new(rt, "runId",
                            s->run_id[0] != '\0' ? json_string(s->run_id) : json_null());
    }
    json_decref(n);
    return rt;
}

void ad_svc_publish(service_t *s)
{
    char t0[96], t1[96];
    snprintf(t0, sizeof(t0), "service:%s", s->id);
    snprintf(t1, sizeof(t1), "org:%s", s->org);
    const char *t[2] = {t0, t1};
    json_t *p = json_deep_copy(s->row);
    json_object_set_new(p, "runtime", runtime(s));
    ad_bus_publish(s->ss->bus, "service_update", t, 2, p);
    json_decref(p);
}

static void set_status(service_t *s, const char *status)
{
    s->status = status;
    ad_svc_publish(s);
}

/* ---- process -------------------------------------------------------------------- */

static void on_line(ad_proc_t *p, ad_proc_stream_t stream, const char *line, size_t len,
                    bool truncated, void *ud)
{
    service_t *s = ud;
    if (s->run_id[0] != '\0') { /* its node's holder may free what was read */
        s->seen[stream == AD_PROC_STDOUT ? 0 : 1] = ad_proc_line_end(p, stream);
        ad_proc_held_ack(p, s->seen[0], s->seen[1]);
    }
    if (stream != AD_PROC_STDOUT || truncated || len < 2 || line[0] != '{') {
        ad_svc_tail_push(&s->output, SERVICE_OUTPUT_MAX, line, len);
        return;
    }
    json_t *o = json_loadb(line, len, 0, NULL);
    const char *type = json_string_value(json_object_get(o, "type"));
    if (type == NULL || strcmp(type, "metrics") != 0) {
        ad_svc_tail_push(&s->output, SERVICE_OUTPUT_MAX, line, len);
    } else {
        json_t *f = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
        {
            if (json_is_number(v) && json_object_size(f) < 32 && strlen(k) <= 64) {
                json_object_set(f, k, v);
            }
        }
        json_decref(s->figures);
        s->figures = f;
    }
    json_decref(o);
}

static void on_backoff(uv_timer_t *t)
{
    service_t *s = t->data;
    if (s->want_up && s->proc == NULL && !s->removed) {
        s->restarts++;
        start(s);
    }
}

/* After an exit: start again by the policy, with backoff, or rest. */
static void after_exit(service_t *s, const ad_proc_exit_t *ex, uint64_t ran_ms)
{
    const char *policy = json_string_value(json_object_get(s->row, "restart"));
    bool failed = ex->exit_code != 0;
    /* stopped by someone else (the supervisor shutting down): stay down */
    bool again = s->want_up && !ex->stop_requested && policy != NULL &&
                 (strcmp(policy, "always") == 0 || (strcmp(policy, "on-failure") == 0 && failed));
    if (!again) {
        s->want_up = false;
        set_status(s, failed && !ex->stop_requested ? "failed" : "stopped");
        return;
    }
    s->backoff_ms = ran_ms >= STABLE_MS || s->backoff_ms == 0 ? BACKOFF_MIN_MS
                    : s->backoff_ms * 2 > BACKOFF_MAX_MS      ? BACKOFF_MAX_MS
                                                              : s->backoff_ms * 2;
    uv_timer_start(&s->backoff, on_backoff, s->backoff_ms, 0);
    set_status(s, "backoff");
}

static void on_exit_cb(ad_proc_t *p, const ad_proc_exit_t *ex, void *ud)
{
    AD_UNUSED(p);
    service_t *s = ud;
    s->proc = NULL;
    uv_timer_stop(&s->probe);
    s->has_exit = true;
    s->last_code = ex->exit_code;
    s->last_signal = ex->term_signal;
    s->last_exit_at = ad_wall_ms();
    s->health = "unknown";
    if (ex->start_error != NULL) { /* it never ran: why */
        snprintf(s->error, sizeof(s->error), "%s", ex->start_error);
    }
    uint64_t ran = uv_now(s->ss->loop) - s->started_ms;
    ad_log(AD_LOG_INFO, "services", "service exited id=%s code=%d signal=%d", s->id, ex->exit_code,
           ex->term_signal);
    if (s->run_id[0] != '\0') { /* its node may forget the run */
        ad_plane_run_done(s->ss->plane, s->run_id);
        ad_store_service_run(s->ss->store, s->id, NULL);
        s->run_id[0] = s->node_id[0] = '\0';
        s->unreachable = false;
    }
    if (s->removed) {
        ad_svc_free_maybe(s);
        return;
    }
    if (s->restart_after_stop) {
        s->restart_after_stop = false;
        s->backoff_ms = 0;
        start(s);
        return;
    }
    after_exit(s, ex, ran);
}

/* The spawner thread's outcome: the pid known, the runtime is "running"
 * (told); a program that could not be started is an exit 127 with why. */
static void on_start_cb(ad_proc_t *p, int rc, const char *err, void *ud)
{
    service_t *s = ud;
    if (rc == 0) {
        ad_svc_publish(s);
        return;
    }
    ad_proc_exit_t ex = {.exit_code = 127, .start_error = err != NULL ? err : "could not start"};
    on_exit_cb(p, &ex, s);
}

/* argv from the row: each "{key}" argument becomes the config value. */
static size_t build_argv(json_t *cmd, json_t *cfg, const char **argv, char **owned)
{
    size_t n = 0;
    size_t i;
    json_t *a;
    json_array_foreach(cmd, i, a)
    {
        if (n >= AD_SVC_ARGV_MAX) {
            break;
        }
        const char *s = json_string_value(a);
        size_t len = s != NULL ? strlen(s) : 0;
        json_t *v = NULL;
        char key[64];
        if (len > 2 && len - 2 < sizeof(key) && s[0] == '{' && s[len - 1] == '}') {
            memcpy(key, s + 1, len - 2);
            key[len - 2] = '\0';
            v = json_object_get(cfg, key);
        }
        if (v != NULL) {
            owned[n] = json_is_string(v) ? ad_xstrdup(json_string_value(v))
                                         : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            argv[n] = owned[n];
        } else {
            owned[n] = NULL;
            argv[n] = s;
        }
        n++;
    }
    argv[n] = NULL;
    return n;
}

/* A run on worker node (its id) for a service of org: argv (a JSON array
 * of strings) under a holder there, in the node's work/<svc_id> and the
 * organisation's sandbox as a job's (the owner's unconfined, another's
 * confined, refused where the node has none), env0 (or NULL) its one
 * variable; the relayed process into *out with o's callbacks. 0; AD_ESTATE
 * when the node is not connected (a start waits for it), another code
 * with err. */
int ad_svc_spawn_on_node(ad_services_t *ss, const char *org, const char *svc_id, const char *node,
                         json_t *argv, const char *env0, const ad_proc_opts_t *o,
                         char run_id[AD_ID_MAX], ad_proc_t **out, char *err, size_t errsz)
{
    if (ss->plane == NULL) {
        snprintf(err, errsz, "this agentd has no worker nodes");
        return AD_EINVAL;
    }
    if (ad_procs_closing(ss->procs)) { /* a spawn sent now would be left on the node */
        snprintf(err, errsz, "shutting down");
        return AD_EIO;
    }
    bool owners = strcmp(org, AD_ORG_DEFAULT) == 0;
    json_t *n = ad_plane_node(ss->plane, node);
    const char *state = json_string_value(json_object_get(n, "state")) ?: "revoked";
    const char *name = json_string_value(json_object_get(n, "name")) ?: node;
    int rc = 0;
    if (strcmp(state, "revoked") == 0) {
        snprintf(err, errsz, "node %s is revoked or gone", name);
        rc = AD_ENOENT;
    } else if (!owners && !json_is_true(json_object_get(json_object_get(n, "caps"), "sandbox"))) {
        snprintf(err, errsz,
                 "programs of an organisation other than the owner's run only in a sandbox, and "
                 "node %s has none",
                 name);
        rc = AD_EPERM;
    } else if (strcmp(state, "connected") != 0) {
        snprintf(err, errsz, "node %s is not connected: the service starts when it connects", name);
        rc = AD_ESTATE;
    } else if (ad_node_linked_elsewhere(n, err, errsz)) {
        rc = AD_ESTATE;
    }
    json_decref(n);
    if (rc != 0) {
        return rc;
    }
    ad_id_new("svr", run_id);
    json_t *env = json_array();
    if (env0 != NULL) {
        json_array_append_new(env, json_string(env0));
    }
    json_t *spawn =
        json_pack("{s:O, s:o, s:b, s:I, s:s, s:{s:b, s:b, s:b, s:b}}", "argv", argv, "env", env,
                  "pty", false, "holdWaitSec", (json_int_t)ss->cfg->hold_wait_sec, "agent", svc_id,
                  "sandbox", "none", owners, "owners", owners, "network", true, "program", false);
    int fd = -1;
    rc = ad_plane_run_open(ss->plane, node, run_id, spawn, &fd, err, errsz);
    if (rc == 0) {
        ad_proc_resume_t at = {.pty = false};
        if (ad_proc_attach_fd(ss->procs, o, &at, fd, out) != 0) {
            ad_plane_run_done(ss->plane, run_id);
            snprintf(err, errsz, "shutting down");
            rc = AD_EIO;
        }
    }
    if (rc != 0) {
        run_id[0] = '\0';
    }
    return rc;
}

/* The process of s on its node: 0, or AD_ESTATE (waiting for the node,
 * s->error says so) or another code (s->error). */
static int start_on_node(service_t *s, const char *const *argv, const char *env0,
                         const ad_proc_opts_t *o)
{
    json_t *a = json_array();
    for (size_t i = 0; argv[i] != NULL; i++) {
        json_array_append_new(a, json_string(argv[i]));
    }
    const char *node = row_node(s);
    int rc = ad_svc_spawn_on_node(s->ss, s->org, s->id, node, a, env0, o, s->run_id, &s->proc,
                                  s->error, sizeof(s->error));
    json_decref(a);
    if (rc == 0) {
        snprintf(s->node_id, sizeof(s->node_id), "%s", node);
        s->unreachable = false;
        s->seen[0] = s->seen[1] = 0;
        ad_store_service_run(s->ss->store, s->id, s->run_id); /* taken up after a restart */
    }
    return rc;
}

/* The port another organisation's service is reached at from the host:
 * the one its tcp or http probe names on 127.0.0.1 (or localhost), else
 * 0 (docs/security.md). Not one under 1024: the proxy that listens for it
 * is agentd's user, root maybe, and the service could not bind one on
 * the host itself. */
static unsigned published_port(const json_t *probe)
{
    const char *type = json_string_value(json_object_get(probe, "type"));
    if (type != NULL && strcmp(type, "tcp") == 0) {
        const char *host = json_string_value(json_object_get(probe, "host"));
        json_int_t port = json_integer_value(json_object_get(probe, "port"));
        return host != NULL && strcmp(host, "127.0.0.1") == 0 && port >= 1024 && port <= 65535
                   ? (unsigned)port
                   : 0;
    }
    const char *url = type != NULL && strcmp(type, "http") == 0
                          ? json_string_value(json_object_get(probe, "url"))
                          : NULL;
    static const char *const hosts[] = {"http://127.0.0.1:", "http://localhost:"};
    for (size_t i = 0; url != NULL && i < AD_ARRAY_LEN(hosts); i++) {
        size_t n = strlen(hosts[i]);
        char *end = NULL;
        unsigned long port = strncmp(url, hosts[i], n) == 0 ? strtoul(url + n, &end, 10) : 0;
        if (port >= 1024 && port <= 65535 && end != NULL && (*end == '/' || *end == '\0')) {
            return (unsigned)port;
        }
    }
    return 0;
}

static void start(service_t *s)
{
    json_t *cfg = json_object_get(s->row, "config");
    const char *argv[AD_SVC_ARGV_MAX + 1];
    char *owned[AD_SVC_ARGV_MAX];
    size_t n = build_argv(json_object_get(s->row, "command"), cfg, argv, owned);
    char env0[ENV_MAX];
    char *cj = json_dumps(cfg != NULL ? cfg : json_object(), JSON_COMPACT);
    snprintf(env0, sizeof(env0), "SERVICE_CONFIG=%s", cj != NULL ? cj : "{}");
    free(cj);
    const char *env[] = {env0, NULL};
    const char *cwd = json_string_value(json_object_get(s->row, "cwd"));
    ad_proc_opts_t o = {.argv = argv,
                        .cwd = cwd,
                        .env = env,
                        .polite = AD_PROC_POLITE_NONE,
                        .on_line = on_line,
                        .on_exit = on_exit_cb,
                        .on_start = on_start_cb,
                        .ud = s};
    s->error[0] = '\0';
    /* Another organisation's service is contained like its agents (issue
     * #31); without a sandbox it does not start. Its network is its own,
     * the internet through agentd's proxy (issue #73): nothing of the
     * host's; the port its probe names is published on the host's
     * loopback, the rest are its own loopback's only. */
    ad_proc_plain_t *box = ad_xcalloc(1, sizeof(*box));
    ad_proc_net_t net = {.network = true,
                         .publish = published_port(json_object_get(s->row, "probe"))};
    int rc = 0;
    bool remote = row_node(s)[0] != '\0';
    bool was_waiting = strcmp(s->status, "waiting") == 0;
    if (remote) {
        o.cwd = NULL; /* refused with a node; the node's work folder */
        rc = start_on_node(s, argv, env0, &o);
    } else if (strcmp(s->org, AD_ORG_DEFAULT) != 0) {
        const char *why = NULL;
        if (!ad_procs_sandbox(s->ss->procs, &why)) {
            snprintf(s->error, sizeof(s->error),
                     "programs of an organisation other than the owner's run only in a sandbox, "
                     "and this machine has none (%s)",
                     why);
            rc = AD_EPERM;
        }
        rc = rc != 0 ? rc
                     : ad_proc_sandbox_plain_net(s->ss->procs, cwd, s->id, &net, box, s->error,
                                                 sizeof(s->error));
        o.sandbox = &box->sb;
    }
    rc = rc != 0 || remote ? rc
                           : ad_proc_spawn(s->ss->procs, &o, &s->proc, s->error, sizeof(s->error));
    free(box);
    for (size_t i = 0; i < n; i++) {
        free(owned[i]);
    }
    if (rc == AD_ESTATE && remote) { /* its node is away: the tick starts it when it is back */
        if (!was_waiting) {
            ad_log(AD_LOG_INFO, "services", "service waits for its node id=%s", s->id);
            set_status(s, "waiting");
        }
        return;
    }
    if (rc != 0) {
        s->want_up = false;
        set_status(s, "failed");
        return;
    }
    json_decref(s->config);
    s->config = json_deep_copy(cfg);
    s->started_ms = uv_now(s->ss->loop);
    s->started_at = ad_wall_ms();
    s->health = "unknown";
    ad_svc_probe_start(s);
    ad_log(AD_LOG_INFO, "services", "service starting id=%s node=%s", s->id,
           s->node_id[0] != '\0' ? s->node_id : "-");
    set_status(s, "running");
}

/* At the control plane's start: the run of s its node still has (the
 * row's nodeRun) taken up, as a restarted runner takes up a run on a node:
 * a relay without a spawn, attached when the node says hello and lists it
 * (its output from the start of what its holder kept), lost when it does
 * not (then the policy starts it again). False when it cannot be. */
static bool take_up(service_t *s, const char *run)
{
    ad_services_t *ss = s->ss;
    const char *node = row_node(s);
    ad_proc_opts_t o = {
        .polite = AD_PROC_POLITE_NONE, .on_line = on_line, .on_exit = on_exit_cb, .ud = s};
    char err[256] = "";
    int fd = -1;
    if (strlen(run) >= AD_ID_MAX ||
        ad_plane_run_open(ss->plane, node, run, NULL, &fd, err, sizeof(err)) != 0) {
        ad_log(AD_LOG_WARN, "services", "service's run not taken up id=%s why=\"%s\"", s->id, err);
        return false;
    }
    ad_proc_resume_t at = {.pty = false};
    if (ad_proc_attach_fd(ss->procs, &o, &at, fd, &s->proc) != 0) {
        ad_plane_run_done(ss->plane, run);
        return false;
    }
    snprintf(s->run_id, sizeof(s->run_id), "%s", run);
    snprintf(s->node_id, sizeof(s->node_id), "%s", node);
    s->want_up = true;
    s->config = json_deep_copy(json_object_get(s->row, "config"));
    s->started_ms = uv_now(ss->loop);
    s->started_at = ad_wall_ms();
    ad_svc_probe_start(s);
    ad_log(AD_LOG_INFO, "services", "service taken up on its node id=%s run=%s", s->id, run);
    set_status(s, "running");
    return true;
}

/* ---- the set -------------------------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h)
{
    service_t *s = h->data;
    if (--s->handles == 0) {
        json_decref(s->row);
        json_decref(s->config);
        json_decref(s->figures);
        ad_buf_cleanup(&s->output);
        free(s);
    }
}

/* A removed service goes once its process has exited and no probe is
 * out (a probe's callback still points at it). */
void ad_svc_free_maybe(service_t *s)
{
    if (!s->removed || s->proc != NULL || s->probing || s->handles != 2) {
        return;
    }
    uv_close((uv_handle_t *)&s->backoff, on_timer_closed);
    uv_close((uv_handle_t *)&s->probe, on_timer_closed);
}

static service_t *find(const ad_services_t *ss, const char *id)
{
    for (service_t *s = ss->list; s != NULL; s = s->next) {
        if (strcmp(s->id, id) == 0) {
            return s;
        }
    }
    return NULL;
}

static service_t *service_new(ad_services_t *ss, json_t *row)
{
    service_t *s = ad_xcalloc(1, sizeof(*s));
    s->ss = ss;
    ad_buf_init(&s->output, SERVICE_OUTPUT_MAX + 8);
    snprintf(s->id, sizeof(s->id), "%s", json_string_value(json_object_get(row, "id")));
    const char *org = json_string_value(json_object_get(row, "orgId"));
    snprintf(s->org, sizeof(s->org), "%s", org != NULL ? org : AD_ORG_DEFAULT);
    s->row = json_incref(row);
    s->status = "stopped";
    s->health = "unknown";
    uv_timer_init(ss->loop, &s->backoff);
    uv_timer_init(ss->loop, &s->probe);
    s->backoff.data = s->probe.data = s;
    s->handles = 2;
    s->next = ss->list;
    if (ss->list != NULL) {
        ss->list->prev = s;
    }
    ss->list = s;
    return s;
}

static void unlink_service(ad_services_t *ss, service_t *s)
{
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        ss->list = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    s->next = s->prev = NULL;
}

void ad_services_apply(ad_services_t *ss, json_t *row)
{
    const char *id = json_string_value(json_object_get(row, "id"));
    service_t *s = id != NULL ? find(ss, id) : NULL;
    if (s == NULL) {
        s = service_new(ss, row);
    } else {
        json_decref(s->row);
        s->row = json_incref(row);
    }
    bool enabled = json_is_true(json_object_get(row, "enabled"));
    bool moved = s->proc != NULL && strcmp(s->node_id, row_node(s)) != 0;
    if (enabled && moved) { /* placed elsewhere: it goes there now */
        ad_services_restart(ss, id);
    } else if (enabled && !s->want_up) {
        s->want_up = true;
        if (s->proc == NULL) {
            uv_timer_stop(&s->backoff);
            s->backoff_ms = 0;
            start(s);
        }
    } else if (!enabled && s->want_up) {
        ad_services_stop(ss, id);
    } else {
        ad_svc_publish(s); /* a changed name, probe or config (pendingRestart) */
    }
}

int ad_services_stop(ad_services_t *ss, const char *id)
{
    service_t *s = find(ss, id);
    if (s == NULL) {
        return AD_ENOENT;
    }
    s->want_up = false;
    s->restart_after_stop = false;
    uv_timer_stop(&s->backoff);
    if (s->proc != NULL) {
        ad_proc_stop(s->proc, false);
        set_status(s, "stopping");
    } else if (strcmp(s->status, "stopped") != 0) {
        set_status(s, "stopped");
    }
    return 0;
}

int ad_services_restart(ad_services_t *ss, const char *id)
{
    service_t *s = find(ss, id);
    if (s == NULL) {
        return AD_ENOENT;
    }
    s->want_up = true;
    uv_timer_stop(&s->backoff);
    s->backoff_ms = 0;
    if (s->proc != NULL) {
        s->restart_after_stop = true;
        ad_proc_stop(s->proc, false);
        set_status(s, "stopping");
    } else {
        start(s);
    }
    return 0;
}

void ad_services_remove(ad_services_t *ss, const json_t *row)
{
    const char *id = json_string_value(json_object_get(row, "id"));
    service_t *s = find(ss, id);
    if (s != NULL) {
        unlink_service(ss, s);
        s->removed = true;
        s->want_up = false;
        uv_timer_stop(&s->backoff);
        uv_timer_stop(&s->probe);
        if (s->proc != NULL) {
            ad_proc_stop(s->proc, false);
        }
        ad_svc_free_maybe(s);
    }
    ad_bus_publish_to(ss->bus, "service_update", (json_t *)row, "service", id, "org",
                      json_string_value(json_object_get(row, "orgId")), NULL);
}

typedef struct {
    ad_services_test_cb cb;
    void *ud;
} test_t;

static void on_tested(bool ok, double ms, const char *error, void *ud)
{
    test_t *t = ud;
    t->cb(ok, ms, error, t->ud);
    free(t);
}

int ad_services_test(ad_services_t *ss, const char *id, ad_services_test_cb cb, void *ud)
{
    service_t *s = find(ss, id);
    json_t *probe = s != NULL ? json_object_get(s->row, "probe") : NULL;
    if (!json_is_object(probe)) {
        return s == NULL ? AD_ENOENT : AD_ESTATE;
    }
    test_t *t = ad_xmalloc(sizeof(*t));
    t->cb = cb;
    t->ud = ud;
    if (s->node_id[0] == '\0' && row_node(s)[0] != '\0') {
        t->cb(false, 0, "its node runs its probe, and it does not run there now", t->ud);
        free(t);
        return 0;
    }
    ad_svc_probe_run(s, probe, on_tested, t);
    return 0;
}

void ad_services_overlay(const ad_services_t *ss, json_t *row)
{
    const char *id = json_string_value(json_object_get(row, "id"));
    const service_t *s = ss != NULL && id != NULL ? find(ss, id) : NULL;
    if (s != NULL) {
        json_object_set_new(row, "runtime", runtime(s));
    } else {
        json_object_set_new(row, "runtime", json_pack("{s:s}", "status", "stopped"));
    }
}

json_t *ad_services_output(const ad_services_t *ss, const char *id)
{
    const service_t *s = ss != NULL ? find(ss, id) : NULL;
    if (s == NULL) {
        return json_string("");
    }
    return json_stringn(s->output.data != NULL ? s->output.data : "", s->output.len);
}

void ad_services_each(const ad_services_t *ss,
                      void (*fn)(const char *id, const char *org, const char *name,
                                 bool healthy_known, bool healthy, json_t *figures, void *ud),
                      void *ud)
{
    for (const service_t *s = ss != NULL ? ss->list : NULL; s != NULL; s = s->next) {
        if (s->proc == NULL) {
            continue;
        }
        fn(s->id, s->org, json_string_value(json_object_get(s->row, "name")),
           strcmp(s->health, "unknown") != 0, strcmp(s->health, "healthy") == 0, s->figures, ud);
    }
}

/* Node services: a start that waits for its node is tried again; a change
 * of its node's reachability is published. */
static void on_node_tick(uv_timer_t *t)
{
    ad_services_t *ss = t->data;
    for (service_t *s = ss->list; s != NULL; s = s->next) {
        if (s->want_up && s->proc == NULL && strcmp(s->status, "waiting") == 0) {
            start(s);
        } else if (s->proc != NULL && s->run_id[0] != '\0') {
            bool away = false;
            ad_plane_run_node(ss->plane, s->run_id, NULL, 0, &away);
            if (away != s->unreachable) {
                s->unreachable = away;
                ad_log(AD_LOG_INFO, "services", "service's node %s id=%s",
                       away ? "unreachable" : "back", s->id);
                ad_svc_publish(s);
            }
        }
    }
}

/* The node named node (a name or id) of org into id. */
static int place_node(ad_services_t *ss, const char *org, const char *node, char id[AD_ID_MAX],
                      char *err, size_t errsz)
{
    bool connected = false;
    if (ss == NULL || ss->plane == NULL ||
        ad_plane_find(ss->plane, org, node, id, &connected) != 0) {
        snprintf(err, errsz, "names no node of the service's organisation");
        return AD_ENOENT;
    }
    json_t *n = ad_plane_node(ss->plane, id);
    bool boxed = json_is_true(json_object_get(json_object_get(n, "caps"), "sandbox"));
    json_decref(n);
    if (strcmp(org, AD_ORG_DEFAULT) != 0 && !boxed) {
        snprintf(err, errsz,
                 "programs of an organisation other than the owner's run only in a sandbox, and "
                 "node %s has none",
                 node);
        return AD_EPERM;
    }
    return 0;
}

int ad_services_place(ad_services_t *ss, const char *org, json_t *args, char *err, size_t errsz)
{
    json_t *node = json_object_get(args, "node");
    char id[AD_ID_MAX] = "";
    if (node == NULL) {
        return 0;
    }
    int rc =
        json_is_string(node) ? place_node(ss, org, json_string_value(node), id, err, errsz) : 0;
    if (rc != 0) {
        return rc;
    }
    json_object_set_new(args, "nodeId", json_string(id));
    json_object_del(args, "node");
    return 0;
}

ad_services_t *ad_services_new(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store,
                               ad_bus_t *bus, ad_procs_t *procs, ad_plane_t *plane, json_t *rows)
{
    ad_services_t *ss = ad_xcalloc(1, sizeof(*ss));
    ss->loop = loop;
    ss->cfg = cfg;
    ss->store = store;
    ss->bus = bus;
    ss->procs = procs;
    ss->plane = plane;
    uv_timer_init(loop, &ss->tick);
    ss->tick.data = ss;
    if (plane != NULL) {
        uv_timer_start(&ss->tick, on_node_tick, NODE_TICK_MS, NODE_TICK_MS);
        uv_unref((uv_handle_t *)&ss->tick);
    }
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *run = json_string_value(json_object_get(row, "nodeRun"));
        if (run != NULL && plane != NULL && json_is_true(json_object_get(row, "enabled")) &&
            json_is_string(json_object_get(row, "nodeId")) && take_up(service_new(ss, row), run)) {
            continue;
        }
        ad_services_apply(ss, row); /* (the service take_up made, if it could not) */
    }
    return ss;
}

static void on_tick_closed(uv_handle_t *h)
{
    free(h->data);
}

void ad_services_free(ad_services_t *ss)
{
    if (ss == NULL) {
        return;
    }
    while (ss->list != NULL) {
        service_t *s = ss->list;
        unlink_service(ss, s);
        s->removed = true;
        s->proc = NULL;       /* the supervisor has shut down: no exit will come */
        ad_svc_free_maybe(s); /* or when its probe reports */
    }
    uv_close((uv_handle_t *)&ss->tick, on_tick_closed);
}
