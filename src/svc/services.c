/* SPDX-License-Identifier: MIT */
/*
 * Services: long-running helpers kept up by agentd. Each is started from
 * its stored row (argv with {key} replaced by config values, the config
 * as JSON in SERVICE_CONFIG), restarted by its policy with a backoff that
 * doubles from 500 ms to 30 s (and starts again once a run lasted 10 s),
 * probed every probe.intervalMs while it runs, and reports its own
 * figures with {"type":"metrics", …numbers} lines. Every change of state
 * is published as service_update on service:<id> and its org's topic.
 */
#include "svc/svc_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 10000
#define PROBE_DEFAULT_MS 5000
#define ENV_MAX 8192
#define SERVICE_OUTPUT_MAX (16 * 1024)

typedef struct service {
    struct service *next, *prev;
    ad_services_t *ss;
    char id[AD_ID_MAX], org[AD_ID_MAX];
    json_t *row;    /* the stored row it runs from (owned) */
    json_t *config; /* the config its process started with (owned), or NULL */
    ad_proc_t *proc;
    const char *status; /* stopped, running, stopping, backoff, failed */
    bool want_up, restart_after_stop, removed, probing;
    unsigned restarts;
    uint64_t backoff_ms, started_ms;
    bool has_exit;
    int last_code, last_signal;
    int64_t last_exit_at;
    const char *health; /* unknown, healthy, unhealthy */
    double latency_ms;
    char probe_error[128];
    int64_t checked_at;
    json_t *figures;
    ad_buf_t output;    /* its last plain lines (not metrics), stdout and stderr */
    int64_t started_at; /* wall ms of the running process's start, 0 when down */
    char error[256];
    uv_timer_t backoff, probe;
    int handles; /* timers not yet closed (after removal) */
} service_t;

struct ad_services {
    uv_loop_t *loop;
    ad_bus_t *bus;
    ad_procs_t *procs;
    service_t *list;
};

static void start(service_t *s);

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
    return json_pack("{s:s, s:o, s:o, s:i, s:I, s:o, s:o, s:O?, s:b, s:s?}", "status", s->status,
                     "pid", s->proc ? json_integer(ad_proc_pid(s->proc)) : json_null(), "startedAt",
                     s->proc ? json_integer(s->started_at) : json_null(), "restarts",
                     (int)s->restarts, "backoffMs", (json_int_t)s->backoff_ms, "lastExit", exit,
                     "health", health, "figures", s->figures, "pendingRestart", pending, "error",
                     s->error[0] ? s->error : NULL);
}

static void publish(service_t *s)
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
    publish(s);
}

/* ---- probes -------------------------------------------------------------------- */

static void free_maybe(service_t *s);

static void on_probed(bool ok, double ms, const char *error, void *ud)
{
    service_t *s = ud;
    s->probing = false;
    if (s->removed) {
        free_maybe(s); /* it waited for this probe */
        return;
    }
    const char *was = s->health;
    s->health = ok ? "healthy" : "unhealthy";
    s->latency_ms = ms;
    s->checked_at = ad_wall_ms();
    snprintf(s->probe_error, sizeof(s->probe_error), "%s", error != NULL ? error : "");
    if (was != s->health) {
        publish(s);
    }
}

static void on_probe_tick(uv_timer_t *t)
{
    service_t *s = t->data;
    json_t *probe = json_object_get(s->row, "probe");
    if (s->probing || s->proc == NULL || !json_is_object(probe)) {
        return;
    }
    s->probing = true;
    ad_probe_run(s->ss->loop, s->ss->procs, probe, strcmp(s->org, AD_ORG_DEFAULT) != 0, on_probed,
                 s);
}

static void probe_start(service_t *s)
{
    json_t *probe = json_object_get(s->row, "probe");
    if (!json_is_object(probe)) {
        return;
    }
    json_t *iv = json_object_get(probe, "intervalMs");
    uint64_t every = json_is_integer(iv) ? (uint64_t)json_integer_value(iv) : PROBE_DEFAULT_MS;
    uv_timer_start(&s->probe, on_probe_tick, every, every);
}

/* ---- process -------------------------------------------------------------------- */

static void on_line(ad_proc_t *p, ad_proc_stream_t stream, const char *line, size_t len,
                    bool truncated, void *ud)
{
    AD_UNUSED(p);
    service_t *s = ud;
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
    uint64_t ran = uv_now(s->ss->loop) - s->started_ms;
    ad_log(AD_LOG_INFO, "services", "service exited id=%s code=%d signal=%d", s->id, ex->exit_code,
           ex->term_signal);
    if (s->removed) {
        free_maybe(s);
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
                        .ud = s};
    s->error[0] = '\0';
    /* Another organisation's service is contained like its agents (issue
     * #31); without a sandbox it does not start. */
    ad_proc_bind_t binds[2];
    ad_proc_sandbox_t sb;
    int rc = 0;
    if (strcmp(s->org, AD_ORG_DEFAULT) != 0) {
        const char *why = NULL;
        if (!ad_procs_sandbox(s->ss->procs, &why)) {
            snprintf(s->error, sizeof(s->error),
                     "programs of an organisation other than the owner's run only in a sandbox, "
                     "and this machine has none (%s)",
                     why);
            rc = AD_EPERM;
        }
        ad_proc_sandbox_plain(s->ss->procs, cwd, binds, &sb);
        o.sandbox = &sb;
    }
    rc = rc != 0 ? rc : ad_proc_spawn(s->ss->procs, &o, &s->proc, s->error, sizeof(s->error));
    for (size_t i = 0; i < n; i++) {
        free(owned[i]);
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
    probe_start(s);
    ad_log(AD_LOG_INFO, "services", "service started id=%s pid=%d", s->id,
           (int)ad_proc_pid(s->proc));
    set_status(s, "running");
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
static void free_maybe(service_t *s)
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
    if (enabled && !s->want_up) {
        s->want_up = true;
        if (s->proc == NULL) {
            uv_timer_stop(&s->backoff);
            s->backoff_ms = 0;
            start(s);
        }
    } else if (!enabled && s->want_up) {
        ad_services_stop(ss, id);
    } else {
        publish(s); /* a changed name, probe or config (pendingRestart) */
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

void ad_services_remove(ad_services_t *ss, const char *id)
{
    service_t *s = find(ss, id);
    if (s == NULL) {
        return;
    }
    unlink_service(ss, s);
    s->removed = true;
    s->want_up = false;
    uv_timer_stop(&s->backoff);
    uv_timer_stop(&s->probe);
    if (s->proc != NULL) {
        ad_proc_stop(s->proc, false);
    }
    free_maybe(s);
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
    return ad_probe_run(ss->loop, ss->procs, probe, strcmp(s->org, AD_ORG_DEFAULT) != 0, on_tested,
                        t);
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

ad_services_t *ad_services_new(uv_loop_t *loop, ad_bus_t *bus, ad_procs_t *procs, json_t *rows)
{
    ad_services_t *ss = ad_xcalloc(1, sizeof(*ss));
    ss->loop = loop;
    ss->bus = bus;
    ss->procs = procs;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        ad_services_apply(ss, row);
    }
    return ss;
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
        s->proc = NULL; /* the supervisor has shut down: no exit will come */
        free_maybe(s);  /* or when its probe reports */
    }
    free(ss);
}
