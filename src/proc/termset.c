/* SPDX-License-Identifier: MIT */
/*
 * An agent's terminals (ACP terminal/create, output, wait_for_exit, kill,
 * release): the processes it asked agentd to run, wherever its run is.
 * A local run keeps its set in src/run (acp_term.c), a run on a node in
 * the node's agentd (src/node/nodeterm.c); both check the request first
 * (who may run what, the cwd beneath the worktree) and say how it runs
 * (env, sandbox, limits). A command without args is a shell line (/bin/sh
 * -c, as editors run them), one with args is run as given. Its output
 * (stdout and stderr as they come) is kept up to the request's
 * outputByteLimit (at most AD_TERM_OUT_MAX), its oldest bytes dropped
 * first. At most AD_TERMS_MAX at once; release kills one and forgets it,
 * ad_terms_free kills them all.
 *
 * Ownership: a terminal is its set's while it is in set->t; let go (or
 * its set freed) while its process lives, it owns itself and is freed by
 * its exit callback. Threads: loop thread only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sigabbrev_np */
#endif
#include "proc/proc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAITERS_MAX 8
#define ARGS_MAX 256
#define ENV_MAX 256

typedef struct term {
    ad_terms_t *set; /* NULL once let go */
    char id[24];
    char who[48];
    ad_proc_t *proc; /* NULL once it has exited */
    char *out;       /* the last `limit` bytes of its output */
    size_t len, limit;
    bool truncated;
    bool exited;
    int code, sig;              /* exit code (-1: by a signal), the signal or 0 */
    char *waiters[WAITERS_MAX]; /* wait_for_exit requests, as the caller named them */
    size_t nwaiters;
} term_t;

struct ad_terms {
    ad_procs_t *procs;
    ad_terms_answer_cb answer;
    void *ud;
    term_t *t[AD_TERMS_MAX];
    unsigned seq;
};

ad_terms_t *ad_terms_new(ad_procs_t *procs, ad_terms_answer_cb answer, void *ud)
{
    ad_terms_t *ts = ad_xcalloc(1, sizeof(*ts));
    ts->procs = procs;
    ts->answer = answer;
    ts->ud = ud;
    return ts;
}

/* {exitCode, signal} of an exited terminal. New reference. */
static json_t *exit_status(const term_t *t)
{
    char sig[32] = "";
    const char *abbrev = t->sig > 0 ? sigabbrev_np(t->sig) : NULL;
    if (t->sig > 0) {
        snprintf(sig, sizeof(sig), "SIG%s", abbrev != NULL ? abbrev : "UNKNOWN");
    }
    return json_pack("{s:o, s:o}", "exitCode", t->code >= 0 ? json_integer(t->code) : json_null(),
                     "signal", sig[0] != '\0' ? json_string(sig) : json_null());
}

/* The output kept: from a character's start (the oldest bytes may have
 * been dropped mid-character), repaired UTF-8. New reference. */
static json_t *output_of(const term_t *t)
{
    size_t a = 0;
    while (t->truncated && a < t->len && a < 4 && ((unsigned char)t->out[a] & 0xC0) == 0x80) {
        a++;
    }
    return ad_json_text(t->out != NULL ? t->out + a : "", t->len - a);
}

static void term_free(term_t *t)
{
    for (size_t i = 0; i < t->nwaiters; i++) {
        free(t->waiters[i]);
    }
    free(t->out);
    free(t);
}

/* ---- the process ---------------------------------------------------------------------- */

static void on_term_data(ad_proc_t *p, ad_proc_stream_t stream, const char *data, size_t n,
                         void *ud)
{
    AD_UNUSED(p);
    AD_UNUSED(stream);
    term_t *t = ud;
    if (n >= t->limit) {
        t->truncated = t->truncated || n > t->limit || t->len > 0;
        if (t->limit > 0) {
            memcpy(t->out, data + (n - t->limit), t->limit);
        }
        t->len = t->limit;
        return;
    }
    if (t->len + n > t->limit) {
        size_t drop = t->len + n - t->limit;
        memmove(t->out, t->out + drop, t->len - drop);
        t->len -= drop;
        t->truncated = true;
    }
    memcpy(t->out + t->len, data, n);
    t->len += n;
}

static void on_term_exit(ad_proc_t *p, const ad_proc_exit_t *ex, void *ud)
{
    term_t *t = ud;
    if (ex->start_error != NULL) { /* it never ran: why, as its output */
        char why[600];
        int n = snprintf(why, sizeof(why), "agentd: %s\n", ex->start_error);
        on_term_data(p, AD_PROC_STDOUT, why, n > 0 && (size_t)n < sizeof(why) ? (size_t)n : 0, t);
    }
    t->proc = NULL;
    t->exited = true;
    t->code = ex->exit_code;
    t->sig = ex->term_signal;
    if (t->set == NULL) {
        term_free(t);
        return;
    }
    ad_log(AD_LOG_INFO, "runner", "terminal ended agent=%s terminal=%s code=%d signal=%d", t->who,
           t->id, t->code, t->sig);
    for (size_t i = 0; i < t->nwaiters; i++) {
        t->set->answer(t->set->ud, t->waiters[i], exit_status(t), NULL);
        free(t->waiters[i]);
    }
    t->nwaiters = 0;
}

/* Its process runs (logged with its pid), or could not be started: then
 * it ends as an exit 127 whose output says why. */
static void on_term_start(ad_proc_t *p, int rc, const char *err, void *ud)
{
    term_t *t = ud;
    if (rc != 0) {
        ad_proc_exit_t ex = {.exit_code = 127, .start_error = err != NULL ? err : ad_strerror(rc)};
        on_term_exit(p, &ex, t);
        return;
    }
    if (t->set != NULL) {
        ad_log(AD_LOG_INFO, "runner", "terminal started agent=%s terminal=%s pid=%ld", t->who,
               t->id, (long)ad_proc_pid(p));
    }
}

/* Killed and forgotten by its set (a wait answered why, when there is
 * one): it frees itself when it has exited. */
static void let_go(ad_terms_t *ts, size_t i, const char *why)
{
    term_t *t = ts->t[i];
    ts->t[i] = NULL;
    for (size_t k = 0; k < t->nwaiters; k++) {
        if (why != NULL) {
            ts->answer(ts->ud, t->waiters[k], NULL, why);
        }
        free(t->waiters[k]);
    }
    t->nwaiters = 0;
    t->set = NULL;
    if (t->proc != NULL) {
        (void)ad_proc_stop(t->proc, true);
    } else {
        term_free(t);
    }
}

void ad_terms_free(ad_terms_t *ts)
{
    if (ts == NULL) {
        return;
    }
    for (size_t i = 0; i < AD_TERMS_MAX; i++) {
        if (ts->t[i] != NULL) {
            let_go(ts, i, NULL);
        }
    }
    free(ts);
}

/* ---- create --------------------------------------------------------------------------- */

/* params' command, args and env as the protocol has them; NULL, or why not. */
static const char *params_why(const json_t *params)
{
    const char *cmd = json_string_value(json_object_get(params, "command"));
    const json_t *args = json_object_get(params, "args");
    const json_t *env = json_object_get(params, "env");
    if (cmd == NULL || cmd[0] == '\0') {
        return "command must be a non-empty string";
    }
    if ((args != NULL && !json_is_null(args) && !json_is_array(args)) ||
        json_array_size(args) > ARGS_MAX) {
        return "args must be an array of at most 256 strings";
    }
    if ((env != NULL && !json_is_null(env) && !json_is_array(env)) ||
        json_array_size(env) > ENV_MAX) {
        return "env must be an array of at most 256 {name, value}";
    }
    size_t i;
    const json_t *v;
    json_array_foreach(args, i, v)
    {
        if (!json_is_string(v)) {
            return "args must be an array of at most 256 strings";
        }
    }
    json_array_foreach(env, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        if (name == NULL || name[0] == '\0' || strchr(name, '=') != NULL ||
            !json_is_string(json_object_get(v, "value"))) {
            return "env must be an array of at most 256 {name, value}";
        }
    }
    return NULL;
}

/* argv: a shell line, or the command and its args. Owned array of
 * borrowed strings. */
static const char **argv_of(const json_t *params)
{
    const json_t *args = json_object_get(params, "args");
    size_t n = json_array_size(args);
    const char **argv = ad_xcalloc(n + 4, sizeof(char *));
    const char *cmd = json_string_value(json_object_get(params, "command"));
    if (n == 0) {
        argv[0] = "/bin/sh";
        argv[1] = "-c";
        argv[2] = cmd;
        return argv;
    }
    argv[0] = cmd;
    for (size_t i = 0; i < n; i++) {
        argv[i + 1] = json_string_value(json_array_get(args, i));
    }
    return argv;
}

/* The agent's environment, then the request's entries. Owned array of
 * owned strings (env_free). */
static char **env_of(const char *const *agent_env, const json_t *params)
{
    size_t n = 0;
    while (agent_env != NULL && agent_env[n] != NULL) {
        n++;
    }
    const json_t *extra = json_object_get(params, "env");
    char **env = ad_xcalloc(n + json_array_size(extra) + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        env[k++] = ad_xstrdup(agent_env[i]);
    }
    size_t i;
    json_t *v;
    json_array_foreach(extra, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *val = json_string_value(json_object_get(v, "value"));
        size_t len = strlen(name) + strlen(val) + 2;
        env[k] = ad_xmalloc(len);
        snprintf(env[k++], len, "%s=%s", name, val);
    }
    return env;
}

static void env_free(char **env)
{
    for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
        memset(env[i], 0, strlen(env[i])); /* keys may be there */
        free(env[i]);
    }
    free(env);
}

int ad_terms_create(ad_terms_t *ts, const json_t *params, const ad_terms_how_t *how,
                    char id[AD_TERM_ID_MAX], char *err, size_t errsz)
{
    size_t slot = 0;
    while (slot < AD_TERMS_MAX && ts->t[slot] != NULL) {
        slot++;
    }
    const char *why = params_why(params);
    if (why != NULL || slot == AD_TERMS_MAX) {
        snprintf(err, errsz, "%s",
                 why != NULL ? why : "too many terminals: release one first (at most 4)");
        return why != NULL ? AD_EINVAL : AD_ETOOBIG;
    }
    term_t *t = ad_xcalloc(1, sizeof(*t));
    t->set = ts;
    snprintf(t->id, sizeof(t->id), "term-%u", ++ts->seq);
    snprintf(t->who, sizeof(t->who), "%s", how->who != NULL ? how->who : "");
    json_t *lim = json_object_get(params, "outputByteLimit");
    t->limit = json_is_integer(lim) && json_integer_value(lim) >= 0 &&
                       (uint64_t)json_integer_value(lim) < AD_TERM_OUT_MAX
                   ? (size_t)json_integer_value(lim)
                   : AD_TERM_OUT_MAX;
    t->out = t->limit > 0 ? ad_xmalloc(t->limit) : NULL;
    const char **argv = argv_of(params);
    char **env = env_of(how->env, params);
    ad_proc_opts_t o = {.argv = argv,
                        .cwd = how->cwd,
                        .env = (const char *const *)env,
                        .polite = AD_PROC_POLITE_NONE,
                        .term_grace_ms = 1000,
                        .kill_grace_ms = 1000,
                        .on_data = on_term_data,
                        .on_exit = on_term_exit,
                        .on_start = on_term_start,
                        .ud = t,
                        .limits = how->limits,
                        .die_with_daemon = true,
                        .sandbox = how->sandbox};
    err[0] = '\0';
    int rc = ad_proc_spawn(ts->procs, &o, &t->proc, err, errsz);
    free(argv);
    env_free(env);
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "runner", "terminal not started agent=%s error=%s", t->who, err);
        if (err[0] == '\0') {
            snprintf(err, errsz, "the command cannot be run");
        }
        term_free(t);
        return rc;
    }
    ad_proc_close_stdin(t->proc);
    ts->t[slot] = t;
    ad_log(AD_LOG_INFO, "runner", "terminal starting agent=%s terminal=%s", t->who, t->id);
    snprintf(id, AD_TERM_ID_MAX, "%s", t->id);
    return 0;
}

/* ---- the other calls ------------------------------------------------------------------- */

void ad_terms_call(ad_terms_t *ts, const char *method, const char *id, const char *req)
{
    size_t i = 0;
    while (i < AD_TERMS_MAX && (ts->t[i] == NULL || id == NULL || strcmp(ts->t[i]->id, id) != 0)) {
        i++;
    }
    if (i == AD_TERMS_MAX) {
        ts->answer(ts->ud, req, NULL, "no such terminal");
        return;
    }
    term_t *t = ts->t[i];
    if (strcmp(method, "output") == 0) {
        json_t *res = json_pack("{s:o, s:b}", "output", output_of(t), "truncated", t->truncated);
        if (t->exited) {
            json_object_set_new(res, "exitStatus", exit_status(t));
        }
        ts->answer(ts->ud, req, res, NULL);
    } else if (strcmp(method, "wait_for_exit") == 0) {
        if (t->exited) {
            ts->answer(ts->ud, req, exit_status(t), NULL);
        } else if (t->nwaiters == WAITERS_MAX) {
            ts->answer(ts->ud, req, NULL, "too many waits on this terminal");
        } else {
            t->waiters[t->nwaiters++] = ad_xstrdup(req);
        }
    } else if (strcmp(method, "kill") == 0) {
        if (t->proc != NULL) {
            (void)ad_proc_stop(t->proc, true);
        }
        ts->answer(ts->ud, req, json_object(), NULL);
    } else if (strcmp(method, "release") == 0) {
        let_go(ts, i, "the terminal was released");
        ts->answer(ts->ud, req, json_object(), NULL);
    } else {
        ts->answer(ts->ud, req, NULL, "no such terminal method");
    }
}
