/* SPDX-License-Identifier: MIT */
/*
 * The autoscaling hook (issue #77, docs/operations.md "Autoscaling"): a
 * command the operator names in a JSON file (--node-autoscale FILE:
 * {argv: [absolute path, args…], minWarmIdle: 0, intervalSeconds: 30,
 * timeoutSeconds: 60, env: {NAME: value}}), run when starts wait in the
 * queue or the idle nodes are fewer or more than minWarmIdle. Never
 * through a shell: argv as written. Never two at once, and at most one
 * start per intervalSeconds; of the control planes on one database only
 * the live one with the lowest id runs it. It gets what it decides on as
 * JSON on stdin and in AUTOSCALE_* variables, and an environment bounded
 * by src/proc (PATH, HOME, LANG, … and the file's env, never AGENTD_*).
 * Past timeoutSeconds its tree is killed. Its exit and output (the first
 * AD_FLEET_OUT_MAX bytes) are logged, audited and shown by GET
 * /api/nodes/autoscale (the owner's: it sees every organisation); its
 * process tree ends with it (src/proc):
 * a hook starts nodes through something that outlives it.
 */
#include "fleet/fleet_int.h"
#include "tables/nodes.h"
#include "tables/planes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGV_MAX 64
#define ENV_MAX 64
#define PLANES_LIVE_MS 6000
#define RUNS_KEPT 10 /* a plane heard from within its lease (src/cluster) */

struct ad_autoscale {
    ad_fleet_t *f; /* NULL once stopped */
    ad_app_t *app;
    char *argv[ARGV_MAX + 1];
    char *env[ENV_MAX + 8]; /* the file's, then this run's AUTOSCALE_* */
    size_t nenv_file;
    int64_t min_warm, interval_ms, timeout_ms;
    uv_timer_t tick, deadline;
    int handles;
    ad_proc_t *proc;
    uint64_t started_ms; /* monotonic, the last start (0: none yet) */
    int64_t started_wall;
    bool timed_out;
    ad_buf_t out;
    json_t *input; /* what the running one was given */
    json_t *runs;  /* the last RUNS_KEPT runs, newest first */
};

static void env_clear_run(ad_autoscale_t *a)
{
    for (size_t i = a->nenv_file; a->env[i] != NULL; i++) {
        free(a->env[i]);
        a->env[i] = NULL;
    }
}

static void as_free(ad_autoscale_t *a)
{
    for (size_t i = 0; a->argv[i] != NULL; i++) {
        free(a->argv[i]);
    }
    env_clear_run(a);
    for (size_t i = 0; i < a->nenv_file; i++) {
        free(a->env[i]);
    }
    ad_buf_cleanup(&a->out);
    json_decref(a->input);
    json_decref(a->runs);
    free(a);
}

static void maybe_free(ad_autoscale_t *a)
{
    if (a->f == NULL && a->proc == NULL && a->handles == 0) {
        as_free(a);
    }
}

static void handle_closed(uv_handle_t *h)
{
    ad_autoscale_t *a = h->data;
    a->handles--;
    maybe_free(a);
}

/* ---- the file --------------------------------------------------------------------------- */

static bool env_name_ok(const char *k)
{
    size_t n = strlen(k);
    bool ok = n > 0 && n < 128 && !(k[0] >= '0' && k[0] <= '9') && strncmp(k, "AGENTD_", 7) != 0 &&
              strncmp(k, "AUTOSCALE_", 10) != 0;
    for (size_t i = 0; ok && i < n; i++) {
        ok = (k[i] >= 'A' && k[i] <= 'Z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_';
    }
    return ok;
}

static int read_file(ad_autoscale_t *a, json_t *j, char *why, size_t whysz)
{
    json_t *argv = json_object_get(j, "argv"), *env = json_object_get(j, "env"), *v;
    size_t i;
    const char *k;
    if (!json_is_array(argv) || json_array_size(argv) == 0 || json_array_size(argv) > ARGV_MAX) {
        snprintf(why, whysz, "argv must be an array of 1 to %d strings", ARGV_MAX);
        return -1;
    }
    json_array_foreach(argv, i, v)
    {
        const char *s = json_string_value(v);
        if (s == NULL || s[0] == '\0' || strlen(s) > 4096 || (i == 0 && s[0] != '/')) {
            snprintf(why, whysz, "argv[%zu] must be a string (argv[0] an absolute path)", i);
            return -1;
        }
        a->argv[i] = ad_xstrdup(s);
    }
    if (env != NULL && (!json_is_object(env) || json_object_size(env) > ENV_MAX)) {
        snprintf(why, whysz, "env must be an object of at most %d strings", ENV_MAX);
        return -1;
    }
    json_object_foreach(env, k, v)
    {
        if (!env_name_ok(k) || !json_is_string(v) || json_string_length(v) > 8192) {
            snprintf(why, whysz,
                     "env %.64s: names are A-Z 0-9 _ (not AGENTD_* or AUTOSCALE_*), "
                     "values strings",
                     k);
            return -1;
        }
        size_t n = strlen(k) + json_string_length(v) + 2;
        a->env[a->nenv_file] = ad_xmalloc(n);
        snprintf(a->env[a->nenv_file++], n, "%s=%s", k, json_string_value(v));
    }
    ad_field_err_t e;
    int64_t warm = 0, every = 30, limit = 60;
    if (ad_field_int(j, "minWarmIdle", false, 0, 1000, &warm, NULL, &e) != 0 ||
        ad_field_int(j, "intervalSeconds", false, 1, 86400, &every, NULL, &e) != 0 ||
        ad_field_int(j, "timeoutSeconds", false, 1, 3600, &limit, NULL, &e) != 0) {
        snprintf(why, whysz, "%s %s", e.field, e.why);
        return -1;
    }
    a->min_warm = warm;
    a->interval_ms = every * 1000;
    a->timeout_ms = limit * 1000;
    return 0;
}

/* ---- a run of the hook ------------------------------------------------------------------- */

static void on_line(ad_proc_t *p, ad_proc_stream_t stream, const char *line, size_t len,
                    bool truncated, void *ud)
{
    AD_UNUSED(p);
    AD_UNUSED(stream);
    AD_UNUSED(truncated);
    ad_autoscale_t *a = ud;
    if (a->out.len < AD_FLEET_OUT_MAX) {
        size_t room = AD_FLEET_OUT_MAX - a->out.len;
        if (ad_buf_append(&a->out, line, len < room ? len : room) == 0 &&
            ad_buf_append(&a->out, "\n", 1) != 0) {
            return; /* full: the rest is not kept */
        }
    }
}

/* Logged, audited and kept as lastRun. */
static void finished(ad_autoscale_t *a, int code, int sig, const char *error)
{
    int64_t ms = ad_wall_ms() - a->started_wall;
    char at[AD_TIME_MAX];
    ad_time_format(a->started_wall, at);
    const char *text = a->out.data != NULL ? a->out.data : "";
    json_t *out = json_stringn(text, ad_utf8_valid_prefix(text, a->out.len));
    json_t *run = json_pack("{s:s, s:i, s:i, s:I, s:b, s:s?, s:o, s:O?}", "at", at, "exitCode",
                            code, "signal", sig, "durationMs", (json_int_t)ms, "timedOut",
                            a->timed_out, "error", error, "output", out, "input", a->input);
    json_array_insert_new(a->runs, 0, run);
    while (json_array_size(a->runs) > RUNS_KEPT) {
        json_array_remove(a->runs, RUNS_KEPT);
    }
    ad_log(code == 0 ? AD_LOG_INFO : AD_LOG_WARN, "fleet",
           "autoscaling hook ended exit=%d signal=%d ms=%lld timed_out=%d%s%s output=\"%.*s\"",
           code, sig, (long long)ms, a->timed_out, error != NULL ? " error=" : "",
           error != NULL ? error : "", (int)(a->out.len < 2000 ? a->out.len : 2000),
           a->out.data != NULL ? a->out.data : "");
    if (a->f != NULL) {
        char detail[1024];
        const char *reason = json_string_value(json_object_get(a->input, "reason"));
        snprintf(detail, sizeof(detail),
                 "autoscaling hook %s (%s, queue %lld, idle %lld): exit %d%s in %lld ms: %.*s",
                 a->argv[0], reason != NULL ? reason : "?",
                 (long long)json_integer_value(json_object_get(a->input, "queueDepth")),
                 (long long)json_integer_value(json_object_get(a->input, "idleNodes")), code,
                 a->timed_out ? " (timed out)" : "", (long long)ms,
                 (int)(a->out.len < 600 ? a->out.len : 600),
                 a->out.data != NULL ? a->out.data : "");
        ad_fleet_audit(a->f, "agentd", "", "", "HOOK", "/api/nodes/autoscale", "", code, detail);
    }
    ad_buf_reset(&a->out);
    json_decref(a->input);
    a->input = NULL;
    uv_timer_stop(&a->deadline);
}

static void on_exit_cb(ad_proc_t *p, const ad_proc_exit_t *ex, void *ud)
{
    AD_UNUSED(p);
    ad_autoscale_t *a = ud;
    a->proc = NULL;
    finished(a, ex->exit_code, ex->term_signal, ex->start_error);
    maybe_free(a);
}

static void on_deadline(uv_timer_t *t)
{
    ad_autoscale_t *a = t->data;
    if (a->proc != NULL) {
        a->timed_out = true;
        ad_log(AD_LOG_WARN, "fleet", "autoscaling hook timed out, killing it ms=%lld",
               (long long)a->timeout_ms);
        ad_proc_stop(a->proc, true);
    }
}

static void add_env(ad_autoscale_t *a, size_t *i, const char *name, long long v, const char *s)
{
    char buf[256];
    if (s != NULL) {
        snprintf(buf, sizeof(buf), "%s=%s", name, s);
    } else {
        snprintf(buf, sizeof(buf), "%s=%lld", name, v);
    }
    a->env[(*i)++] = ad_xstrdup(buf);
}

static void start(ad_autoscale_t *a, json_t *input)
{
    size_t i = a->nenv_file;
    env_clear_run(a);
    add_env(a, &i, "AUTOSCALE_REASON", 0, json_string_value(json_object_get(input, "reason")));
    add_env(a, &i, "AUTOSCALE_QUEUE_DEPTH",
            json_integer_value(json_object_get(input, "queueDepth")), NULL);
    add_env(a, &i, "AUTOSCALE_IDLE_NODES", json_integer_value(json_object_get(input, "idleNodes")),
            NULL);
    add_env(a, &i, "AUTOSCALE_NODES", (long long)json_array_size(json_object_get(input, "nodes")),
            NULL);
    add_env(a, &i, "AUTOSCALE_MIN_WARM_IDLE", a->min_warm, NULL);
    a->env[i] = NULL;
    ad_proc_opts_t o = {.argv = (const char *const *)a->argv,
                        .env = (const char *const *)a->env,
                        .cwd = a->app->cfg->data_dir,
                        .polite = AD_PROC_POLITE_NONE,
                        .leave_tree = true, /* the nodes it starts outlive it */
                        .max_line_bytes = AD_FLEET_OUT_MAX,
                        .on_line = on_line,
                        .on_exit = on_exit_cb,
                        .ud = a};
    a->input = input;
    a->timed_out = false;
    ad_buf_reset(&a->out);
    a->started_ms = ad_mono_ms();
    a->started_wall = ad_wall_ms();
    char err[256] = "";
    if (ad_proc_spawn(a->app->procs, &o, &a->proc, err, sizeof(err)) != 0) {
        a->proc = NULL;
        finished(a, 127, 0, err);
        return;
    }
    char *text = json_dumps(input, JSON_COMPACT);
    if (text != NULL) {
        (void)ad_proc_write(a->proc, text, strlen(text));
        (void)ad_proc_write(a->proc, "\n", 1);
        free(text);
    }
    ad_proc_close_stdin(a->proc);
    uv_timer_start(&a->deadline, on_deadline, (uint64_t)a->timeout_ms, 0);
    ad_log(AD_LOG_INFO, "fleet", "autoscaling hook started reason=%s queue=%lld idle=%lld",
           json_string_value(json_object_get(input, "reason")),
           (long long)json_integer_value(json_object_get(input, "queueDepth")),
           (long long)json_integer_value(json_object_get(input, "idleNodes")));
}

/* Whether this plane is the one that runs the hook: the live plane of the
 * lowest id (or alone). */
static bool leader(ad_autoscale_t *a)
{
    json_t *rows = NULL, *row;
    size_t i;
    if (ad_store_planes_list(a->app->store, ad_wall_ms() - PLANES_LIVE_MS, &rows) != 0) {
        return false;
    }
    const char *me = a->app->cfg->plane_id, *low = NULL;
    json_array_foreach(rows, i, row)
    {
        const char *id = json_string_value(json_object_get(row, "id"));
        low = id != NULL && (low == NULL || strcmp(id, low) < 0) ? id : low;
    }
    bool yes = low == NULL || strcmp(low, me) == 0;
    json_decref(rows);
    return yes;
}

/* What the hook is told, or NULL when there is nothing to ask of it. */
static json_t *situation(ad_autoscale_t *a)
{
    json_t *queue = NULL, *nodes = ad_plane_nodes(a->app->plane, "");
    if (nodes == NULL || ad_store_queue_list(a->app->store, "", 1000, &queue) != 0) {
        json_decref(nodes);
        return NULL;
    }
    json_t *brief = json_array(), *n;
    size_t i;
    json_int_t idle = 0;
    json_array_foreach(nodes, i, n)
    {
        bool up = json_is_true(json_object_get(n, "connected"));
        bool cordoned = json_is_true(json_object_get(n, "cordoned"));
        json_int_t runs = json_integer_value(json_object_get(n, "runs"));
        idle += up && !cordoned && runs == 0;
        json_array_append_new(
            brief,
            json_pack("{s:O?, s:O?, s:O?, s:O?, s:b, s:b, s:I, s:O?, s:O?}", "id",
                      json_object_get(n, "id"), "name", json_object_get(n, "name"), "orgId",
                      json_object_get(n, "orgId"), "state", json_object_get(n, "state"), "cordoned",
                      cordoned, "draining", json_is_true(json_object_get(n, "draining")), "runs",
                      runs, "maxRuns", json_object_get(n, "maxRuns"), "labels",
                      json_object_get(n, "labels")));
    }
    json_decref(nodes);
    size_t depth = json_array_size(queue);
    const char *reason = depth > 0            ? "queue"
                         : idle < a->min_warm ? "below_warm"
                         : idle > a->min_warm ? "above_warm"
                                              : NULL;
    if (reason == NULL) {
        json_decref(queue);
        json_decref(brief);
        return NULL;
    }
    json_t *q = json_array(), *item;
    json_array_foreach(queue, i, item)
    {
        json_array_append_new(q, json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?}", "agentId",
                                           json_object_get(item, "agentId"), "orgId",
                                           json_object_get(item, "orgId"), "nodeId",
                                           json_object_get(item, "nodeId"), "reasons",
                                           json_object_get(item, "reasons"), "queuedAt",
                                           json_object_get(item, "queuedAt")));
    }
    json_decref(queue);
    char at[AD_TIME_MAX];
    ad_time_format(ad_wall_ms(), at);
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o}", "reason", reason, "at", at,
                     "plane", a->app->cfg->plane_id, "queueDepth", (json_int_t)depth, "idleNodes",
                     idle, "minWarmIdle", (json_int_t)a->min_warm, "nodes", brief, "queue", q);
}

static void on_tick(uv_timer_t *t)
{
    ad_autoscale_t *a = t->data;
    if (a->f == NULL || a->proc != NULL || ad_store_db_down(a->app->store, NULL, 0) ||
        (a->started_ms != 0 && ad_mono_ms() - a->started_ms < (uint64_t)a->interval_ms) ||
        !leader(a)) {
        return;
    }
    json_t *input = situation(a);
    if (input != NULL) {
        start(a, input);
    }
}

/* ---- the engine's calls --------------------------------------------------------------------- */

int ad_autoscale_open(ad_fleet_t *f, const char *path, char *why, size_t whysz)
{
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        snprintf(why, whysz, "%s", j == NULL ? je.text : "not a JSON object");
        json_decref(j);
        return -1;
    }
    ad_autoscale_t *a = ad_xcalloc(1, sizeof(*a));
    a->f = f;
    a->app = f->app;
    ad_buf_init(&a->out, AD_FLEET_OUT_MAX + 2);
    a->runs = json_array();
    if (read_file(a, j, why, whysz) != 0) {
        json_decref(j);
        as_free(a);
        return -1;
    }
    json_decref(j);
    uv_timer_init(f->app->loop, &a->tick);
    uv_timer_init(f->app->loop, &a->deadline);
    a->tick.data = a->deadline.data = a;
    a->handles = 2;
    uv_unref((uv_handle_t *)&a->tick);
    uv_timer_start(&a->tick, on_tick, 1000, 1000);
    f->as = a;
    ad_log(AD_LOG_INFO, "fleet", "autoscaling hook on argv0=%s min_warm_idle=%lld interval_s=%lld",
           a->argv[0], (long long)a->min_warm, (long long)(a->interval_ms / 1000));
    return 0;
}

void ad_autoscale_stop(ad_autoscale_t *a)
{
    if (a == NULL) {
        return;
    }
    a->f = NULL;
    if (a->proc != NULL) {
        ad_proc_stop(a->proc, true);
    }
    uv_close((uv_handle_t *)&a->tick, handle_closed);
    uv_close((uv_handle_t *)&a->deadline, handle_closed);
}

static void autoscale_get(ad_req_t *r, void *ud)
{
    ad_fleet_t *f = ud;
    ad_autoscale_t *a = f->as;
    if (!ad_fleet_who(r)->owner) { /* its runs' input names every org's nodes and queue */
        ad_res_error(r, 403, "FORBIDDEN", NULL,
                     "only the owner reads the autoscaling hook (it sees every organisation)");
        return;
    }
    if (a == NULL) {
        ad_res_json(r, 200, json_pack("{s:b}", "configured", false));
        return;
    }
    json_t *argv = json_array(), *env = json_array();
    for (size_t i = 0; a->argv[i] != NULL; i++) {
        json_array_append_new(argv, json_string(a->argv[i]));
    }
    for (size_t i = 0; i < a->nenv_file; i++) { /* names only: values may be secrets */
        json_array_append_new(env, json_stringn(a->env[i], strcspn(a->env[i], "=")));
    }
    ad_res_json(r, 200,
                json_pack("{s:b, s:o, s:o, s:I, s:I, s:I, s:b, s:O?, s:O}", "configured", true,
                          "argv", argv, "envNames", env, "minWarmIdle", (json_int_t)a->min_warm,
                          "intervalSeconds", (json_int_t)(a->interval_ms / 1000), "timeoutSeconds",
                          (json_int_t)(a->timeout_ms / 1000), "running", a->proc != NULL, "lastRun",
                          json_array_get(a->runs, 0), "runs", a->runs));
}

void ad_autoscale_routes(ad_fleet_t *f)
{
    ad_server_route(f->app->server, "GET", "/api/nodes/autoscale", AD_ACCESS_ADMIN, autoscale_get,
                    f);
}
