/* SPDX-License-Identifier: MIT */
/*
 * Jobs: a program started through the supervisor (src/proc), its progress
 * lines parsed as they come, published at most every JOB_PUBLISH_MS (the
 * latest one wins; a timer sends what a quiet spell would hold back), its
 * end written to the store and published. A job's memory is freed once its
 * end is committed and its timer closed.
 */
#include "svc/svc_int.h"
#include "tables/jobs.h"
#include "tables/settings.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_PUBLISH_MS 100
#define JOB_OUTPUT_MAX (16 * 1024)
#define JOB_LINE_MAX (1024 * 1024)

typedef struct job {
    struct job *next, *prev;
    ad_jobs_t *js;
    char id[AD_ID_MAX], org[AD_ID_MAX], name[128], kind[32];
    char topics[2][96];
    ad_proc_t *proc; /* NULL once it has exited */
    ad_job_progress_t p;
    json_t *result;
    ad_buf_t output; /* the last plain lines, front dropped past the cap */
    uint64_t last_pub_ms;
    uv_timer_t timer;
    bool timer_open, pending, stop_requested, exited;
    ad_jobs_cb cb; /* start's, until the row is in */
    void *ud;
    char node_id[AD_ID_MAX]; /* the worker node it runs on, "" here */
} job_t;

struct ad_jobs {
    uv_loop_t *loop;
    const ad_config_t *cfg;
    ad_store_t *store;
    ad_bus_t *bus;
    ad_procs_t *procs;
    ad_plane_t *plane; /* worker nodes (NULL: none) */
    job_t *jobs;       /* every job not yet freed */
    size_t running;
    bool freeing;
};

/* ---- lines --------------------------------------------------------------------- */

/* A string field, cut at a character boundary to fit (jansson's strings
 * are valid UTF-8, so backing up over continuation bytes keeps it valid). */
static void copy_str(json_t *v, char *out, size_t outsz, bool *has)
{
    if (!json_is_string(v)) {
        return;
    }
    const char *s = json_string_value(v);
    size_t n = strlen(s);
    if (n >= outsz) {
        n = outsz - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
            n--;
        }
    }
    memcpy(out, s, n);
    out[n] = '\0';
    *has = true;
}

int ad_job_parse_line(const char *line, size_t len, ad_job_progress_t *p, json_t **result)
{
    if (len < 2 || line[0] != '{') {
        return 0;
    }
    json_t *o = json_loadb(line, len, 0, NULL);
    const char *type = json_string_value(json_object_get(o, "type"));
    int kind = type == NULL                    ? 0
               : strcmp(type, "progress") == 0 ? 1
               : strcmp(type, "result") == 0   ? 2
                                               : 0;
    if (kind == 1) {
        json_t *f = json_object_get(o, "fraction");
        json_t *pc = json_object_get(o, "percent");
        double x = json_is_number(f)    ? json_number_value(f)
                   : json_is_number(pc) ? json_number_value(pc) / 100.0
                                        : NAN;
        if (isfinite(x)) {
            p->has_fraction = true;
            p->fraction = x < 0 ? 0 : x > 1 ? 1 : x;
        }
        copy_str(json_object_get(o, "stage"), p->stage, sizeof(p->stage), &p->has_stage);
        copy_str(json_object_get(o, "message"), p->message, sizeof(p->message), &p->has_message);
    } else if (kind == 2) {
        json_object_del(o, "type");
        *result = json_incref(o);
    }
    json_decref(o);
    return kind;
}

/* ---- events ------------------------------------------------------------------ */

static void publish(job_t *j, const char *type, json_t *payload)
{
    const char *t[2] = {j->topics[0], j->topics[1]};
    ad_bus_publish(j->js->bus, type, t, 2, payload);
}

static json_t *progress_json(const job_t *j, const char *status)
{
    const ad_job_progress_t *p = &j->p;
    return json_pack("{s:s, s:s, s:s, s:o, s:s?, s:s?, s:s}", "jobId", j->id, "name", j->name,
                     "kind", j->kind, "fraction",
                     p->has_fraction ? json_real(p->fraction) : json_null(), "stage",
                     p->has_stage ? p->stage : NULL, "message", p->has_message ? p->message : NULL,
                     "status", status);
}

static void publish_progress(job_t *j)
{
    j->pending = false;
    j->last_pub_ms = uv_now(j->js->loop);
    json_t *p = progress_json(j, "running");
    publish(j, "job_progress", p);
    if (strcmp(j->kind, "discovery") == 0) {
        publish(j, "discovery_progress", p); /* the seed's name for it */
    }
    json_decref(p);
}

static void on_timer(uv_timer_t *t)
{
    job_t *j = t->data;
    if (j->pending && !j->exited) {
        publish_progress(j);
    }
}

static void progress_changed(job_t *j)
{
    uint64_t now = uv_now(j->js->loop);
    if (now - j->last_pub_ms >= JOB_PUBLISH_MS || j->last_pub_ms == 0) {
        publish_progress(j);
        return;
    }
    if (!j->pending) {
        j->pending = true;
        uv_timer_start(&j->timer, on_timer, JOB_PUBLISH_MS - (now - j->last_pub_ms), 0);
    }
}

static void on_line(ad_proc_t *p, ad_proc_stream_t stream, const char *line, size_t len,
                    bool truncated, void *ud)
{
    AD_UNUSED(p);
    job_t *j = ud;
    json_t *result = NULL;
    int kind =
        stream == AD_PROC_STDOUT && !truncated ? ad_job_parse_line(line, len, &j->p, &result) : 0;
    if (kind == 1) {
        progress_changed(j);
    } else if (kind == 2) {
        json_decref(j->result);
        j->result = result;
    } else {
        ad_svc_tail_push(&j->output, JOB_OUTPUT_MAX, line, len);
    }
}

/* ---- life cycle ------------------------------------------------------------------ */

static void on_timer_closed(uv_handle_t *h)
{
    job_t *j = h->data;
    ad_buf_cleanup(&j->output);
    json_decref(j->result);
    free(j);
}

static void job_free(job_t *j)
{
    ad_jobs_t *js = j->js;
    if (j->prev != NULL) {
        j->prev->next = j->next;
    } else {
        js->jobs = j->next;
    }
    if (j->next != NULL) {
        j->next->prev = j->prev;
    }
    uv_close((uv_handle_t *)&j->timer, on_timer_closed);
}

static void on_ended(int rc, json_t *row, void *ud)
{
    job_t *j = ud;
    if (rc == 0) {
        publish(j, "job_update", row);
    } else {
        ad_log(AD_LOG_ERROR, "jobs", "job end not stored job=%s err=%s", j->id, ad_strerror(rc));
    }
    if (j->node_id[0] != '\0' && j->js->plane != NULL) {
        ad_plane_run_done(j->js->plane, j->id); /* its node may forget it */
    }
    json_decref(row);
    job_free(j);
}

static void on_exit_cb(ad_proc_t *p, const ad_proc_exit_t *ex, void *ud)
{
    AD_UNUSED(p);
    job_t *j = ud;
    ad_jobs_t *js = j->js;
    if (j->pending) {
        publish_progress(j); /* the last word, held back by the rate */
    }
    uv_timer_stop(&j->timer);
    j->proc = NULL;
    j->exited = true;
    js->running--;
    ad_store_job_end_t e;
    memset(&e, 0, sizeof(e));
    snprintf(e.id, sizeof(e.id), "%s", j->id);
    e.status = j->stop_requested || ex->stop_requested ? AD_JOB_STOPPED
               : ex->exit_code == 0                    ? AD_JOB_SUCCEEDED
                                                       : AD_JOB_FAILED;
    e.has_progress = j->p.has_fraction;
    e.progress = j->p.fraction;
    memcpy(e.stage, j->p.stage, sizeof(e.stage));
    memcpy(e.message, j->p.message, sizeof(e.message));
    if (ex->start_error != NULL) { /* it never ran: why */
        snprintf(e.message, sizeof(e.message), "%s", ex->start_error);
    }
    e.result = j->result != NULL ? json_dumps(j->result, JSON_COMPACT) : NULL;
    e.output = j->output.len > 0 ? ad_xstrndup(j->output.data, j->output.len) : NULL;
    e.has_exit_code = ex->exit_code >= 0;
    e.exit_code = ex->exit_code;
    e.signal = ex->term_signal;
    e.now = ad_wall_ms();
    ad_log(AD_LOG_INFO, "jobs", "job ended job=%s status=%s code=%d", j->id,
           ad_job_status_name(e.status), ex->exit_code);
    ad_store_job_end(js->store, &e, on_ended, j);
}

static void on_inserted(int rc, json_t *row, void *ud)
{
    job_t *j = ud;
    if (rc == 0) {
        ad_jobs_overlay(j->js, row);
        publish(j, "job_update", row);
    }
    if (j->cb != NULL) {
        j->cb(rc, rc == 0 ? row : NULL, j->ud);
        j->cb = NULL;
    }
    json_decref(row);
}

static job_t *job_new(ad_jobs_t *js, const ad_job_spec_t *spec)
{
    job_t *j = ad_xcalloc(1, sizeof(*j));
    j->js = js;
    ad_id_new("job", j->id);
    snprintf(j->org, sizeof(j->org), "%s", spec->org != NULL ? spec->org : AD_ORG_DEFAULT);
    snprintf(j->name, sizeof(j->name), "%s", spec->name);
    snprintf(j->kind, sizeof(j->kind), "%s", spec->kind != NULL ? spec->kind : "job");
    snprintf(j->topics[0], sizeof(j->topics[0]), "job:%s", j->id);
    snprintf(j->topics[1], sizeof(j->topics[1]), "org:%s", j->org);
    ad_buf_init(&j->output, JOB_OUTPUT_MAX + 8);
    uv_timer_init(js->loop, &j->timer);
    j->timer.data = j;
    return j;
}

static char *argv_json(const char *const *argv)
{
    json_t *a = json_array();
    for (size_t i = 0; argv[i] != NULL; i++) {
        json_array_append_new(a, json_string(argv[i]));
    }
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

/* The job on worker node spec->node_id (docs/nodes.md): a holder there,
 * relayed, in the node's work/<jobId>, with no environment of ours (the
 * node's clean one) and its organisation's sandbox as here: the owner's
 * unconfined, another's confined (refused where the node has none). */
static int spawn_remote(ad_jobs_t *js, job_t *j, const ad_job_spec_t *spec, const ad_proc_opts_t *o,
                        char *err, size_t errsz)
{
    if (js->plane == NULL) {
        snprintf(err, errsz, "this agentd has no worker nodes");
        return AD_EINVAL;
    }
    bool owners = strcmp(j->org, AD_ORG_DEFAULT) == 0;
    json_t *node = ad_plane_node(js->plane, spec->node_id);
    json_t *caps = json_object_get(node, "caps");
    if (!owners && !json_is_true(json_object_get(caps, "sandbox"))) {
        snprintf(err, errsz,
                 "programs of an organisation other than the owner's run only in a sandbox, and "
                 "node %s has none",
                 json_string_value(json_object_get(node, "name")) ?: spec->node_id);
        json_decref(node);
        return AD_EPERM;
    }
    json_decref(node);
    json_t *argv = json_array();
    for (size_t i = 0; spec->argv[i] != NULL; i++) {
        json_array_append_new(argv, json_string(spec->argv[i]));
    }
    json_t *spawn =
        json_pack("{s:o, s:[], s:b, s:I, s:{s:b, s:b, s:b, s:b}}", "argv", argv, "env", "pty",
                  false, "holdWaitSec", (json_int_t)js->cfg->hold_wait_sec, "sandbox", "none",
                  owners, "owners", owners, "network", true, "program", false);
    int fd = -1;
    int rc = ad_plane_run_open(js->plane, spec->node_id, j->id, spawn, &fd, err, errsz);
    if (rc != 0) {
        return rc;
    }
    ad_proc_resume_t at = {.pty = false};
    rc = ad_proc_attach_fd(js->procs, o, &at, fd, &j->proc);
    if (rc != 0) {
        ad_plane_run_done(js->plane, j->id);
        snprintf(err, errsz, "shutting down");
        return AD_ESTATE;
    }
    snprintf(j->node_id, sizeof(j->node_id), "%s", spec->node_id);
    return 0;
}

void ad_jobs_set_plane(ad_jobs_t *js, ad_plane_t *plane)
{
    js->plane = plane;
}

int ad_jobs_start(ad_jobs_t *js, const ad_job_spec_t *spec, ad_jobs_cb cb, void *ud, char *err,
                  size_t errsz)
{
    job_t *j = job_new(js, spec);
    ad_proc_opts_t o = {.argv = spec->argv,
                        .cwd = spec->cwd != NULL && spec->cwd[0] != '\0' ? spec->cwd : NULL,
                        .polite = AD_PROC_POLITE_SIGINT,
                        .term_grace_ms = js->cfg->stop_grace_ms > 0 ? js->cfg->stop_grace_ms : 1,
                        .kill_grace_ms = js->cfg->stop_grace_ms > 0 ? js->cfg->stop_grace_ms : 1,
                        .max_line_bytes = JOB_LINE_MAX,
                        .on_line = on_line,
                        .on_exit = on_exit_cb,
                        .ud = j,
                        .cgroup_name = j->id};
    /* Another organisation's job is contained like its agents (issue #31):
     * it could read the owner token otherwise; and it has a network of its
     * own, the internet through agentd's proxy, as theirs (issue #73): the
     * host's Redis, PostgreSQL and agentd's port are not in it. */
    ad_proc_plain_t *box = ad_xcalloc(1, sizeof(*box));
    int rc = 0;
    bool remote = spec->node_id != NULL && spec->node_id[0] != '\0';
    if (remote) {
        rc = spawn_remote(js, j, spec, &o, err, errsz);
    } else if (strcmp(j->org, AD_ORG_DEFAULT) != 0) {
        const char *why = NULL;
        if (!ad_procs_sandbox(js->procs, &why)) {
            snprintf(err, errsz,
                     "programs of an organisation other than the owner's run only in a sandbox, "
                     "and this machine has none (%s)",
                     why);
            rc = AD_EPERM;
        }
        rc = rc != 0
                 ? rc
                 : ad_proc_sandbox_plain_net(js->procs, o.cwd, j->id, spec->net, box, err, errsz);
        o.sandbox = &box->sb;
    }
    rc = rc != 0 || remote ? rc : ad_proc_spawn(js->procs, &o, &j->proc, err, errsz);
    free(box);
    if (rc != 0) {
        uv_close((uv_handle_t *)&j->timer, on_timer_closed); /* frees j */
        return rc;
    }
    j->next = js->jobs;
    if (js->jobs != NULL) {
        js->jobs->prev = j;
    }
    js->jobs = j;
    js->running++;
    j->cb = cb;
    j->ud = ud;
    ad_store_job_t row = {.now = ad_wall_ms(), .command = argv_json(spec->argv)};
    memcpy(row.id, j->id, sizeof(row.id));
    memcpy(row.org, j->org, sizeof(row.org));
    memcpy(row.name, j->name, sizeof(row.name));
    memcpy(row.kind, j->kind, sizeof(row.kind));
    snprintf(row.cwd, sizeof(row.cwd), "%s", spec->cwd != NULL && !remote ? spec->cwd : "");
    memcpy(row.node_id, j->node_id, sizeof(row.node_id));
    ad_log(AD_LOG_INFO, "jobs", "job starting job=%s", j->id);
    ad_store_job_insert(js->store, &row, on_inserted, j);
    return 0;
}

static job_t *find(const ad_jobs_t *js, const char *id)
{
    for (job_t *j = js->jobs; j != NULL; j = j->next) {
        if (strcmp(j->id, id) == 0) {
            return j;
        }
    }
    return NULL;
}

int ad_jobs_stop(ad_jobs_t *js, const char *id)
{
    job_t *j = find(js, id);
    if (j == NULL || j->proc == NULL) {
        return AD_ENOENT;
    }
    j->stop_requested = true;
    return ad_proc_stop(j->proc, false) == 0 ? 0 : AD_ENOENT;
}

void ad_jobs_overlay(const ad_jobs_t *js, json_t *row)
{
    if (js == NULL) {
        return;
    }
    const char *id = json_string_value(json_object_get(row, "id"));
    job_t *j = id != NULL ? find(js, id) : NULL;
    const char *status = json_string_value(json_object_get(row, "status"));
    if (j == NULL && status != NULL && strcmp(status, "running") == 0) {
        /* Not ours: a previous daemon's, which the start-up write marks
         * lost; a read that comes before that commit says so already. */
        json_object_set_new(row, "status", json_string("lost"));
        json_object_set_new(row, "message", json_string("agentd stopped while it ran"));
        return;
    }
    if (j == NULL || j->exited) {
        return;
    }
    if (j->p.has_fraction) {
        json_object_set_new(row, "progress", json_real(j->p.fraction));
    }
    if (j->p.has_stage) {
        json_object_set_new(row, "stage", json_string(j->p.stage));
    }
    if (j->p.has_message) {
        json_object_set_new(row, "message", json_string(j->p.message));
    }
    if (j->result != NULL) {
        json_object_set(row, "result", j->result);
    }
    json_object_set_new(row, "stopping", json_boolean(j->stop_requested));
    /* what it printed so far (stored at its end) */
    json_object_set_new(row, "output",
                        json_stringn(j->output.data != NULL ? j->output.data : "", j->output.len));
}

size_t ad_jobs_running(const ad_jobs_t *js)
{
    return js != NULL ? js->running : 0;
}

static void on_reconciled(int rc, json_t *res, void *ud)
{
    AD_UNUSED(ud);
    if (rc == 0 && json_integer_value(json_object_get(res, "jobs")) > 0) {
        ad_log(AD_LOG_WARN, "jobs", "jobs left running by a previous daemon marked lost count=%lld",
               (long long)json_integer_value(json_object_get(res, "jobs")));
    }
    json_decref(res);
}

ad_jobs_t *ad_jobs_new(uv_loop_t *loop, const ad_config_t *cfg, ad_store_t *store, ad_bus_t *bus,
                       ad_procs_t *procs)
{
    ad_jobs_t *js = ad_xcalloc(1, sizeof(*js));
    js->loop = loop;
    js->cfg = cfg;
    js->store = store;
    js->bus = bus;
    js->procs = procs;
    ad_store_jobs_reconcile(store, ad_wall_ms(), on_reconciled, NULL);
    return js;
}

void ad_jobs_free(ad_jobs_t *js)
{
    if (js == NULL) {
        return;
    }
    /* Every job has ended by now (the supervisor stopped them and the
     * store delivered their ends); any left are dropped with their timers. */
    while (js->jobs != NULL) {
        job_free(js->jobs);
    }
    free(js);
}

/* ---- discovery's program --------------------------------------------------------------- */

bool ad_jobs_environment_ok(const char *env)
{
    size_t n = env != NULL ? strlen(env) : 0;
    if (n == 0 || n > 64 || !isalnum((unsigned char)env[0])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)env[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-') {
            return false;
        }
    }
    return true;
}

#define ARG_MAX_BYTES 8192

json_t *ad_jobs_discovery_argv(const json_t *command, const char *env)
{
    static const char key[] = "{environment}";
    if (!json_is_array(command) || json_array_size(command) == 0) {
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *a;
    json_array_foreach(command, i, a)
    {
        const char *t = json_string_value(a);
        ad_buf_t b;
        ad_buf_init(&b, ARG_MAX_BYTES);
        int rc = t != NULL ? 0 : AD_EINVAL;
        while (rc == 0 && *t != '\0') {
            const char *hit = strstr(t, key);
            size_t lit = hit != NULL ? (size_t)(hit - t) : strlen(t);
            rc = ad_buf_append(&b, t, lit);
            if (rc == 0 && hit != NULL) {
                rc = ad_buf_puts(&b, env);
            }
            t += lit + (hit != NULL ? sizeof(key) - 1 : 0);
        }
        if (rc == 0) {
            json_array_append_new(out, json_stringn(b.data != NULL ? b.data : "", b.len));
        }
        ad_buf_cleanup(&b);
        if (rc != 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

json_t *ad_jobs_discovery_command(ad_store_t *store, const char *env, const char **why)
{
    json_t *settings = NULL, *argv = NULL;
    if (!ad_jobs_environment_ok(env)) {
        *why = "environment must be 1 to 64 of A-Z a-z 0-9 . _ -, starting with a letter or "
               "digit";
        return NULL;
    }
    if (ad_store_settings_get(store, &settings) == 0) {
        argv = ad_jobs_discovery_argv(json_object_get(settings, "discovery_command"), env);
    }
    json_decref(settings);
    *why = argv == NULL ? "no command given, and the discovery_command setting names no program"
                        : NULL;
    return argv;
}
