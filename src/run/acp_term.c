/* SPDX-License-Identifier: MIT */
/*
 * ACP terminals (terminal/create, output, wait_for_exit, kill, release):
 * a command the agent asks agentd to run, allowed already by src/agent
 * (the mode, the agent's permissions, a grant or the user's approval).
 * It runs as the agent does: in the agent's sandbox, with its environment
 * and limits (kept from the run's start, or rebuilt when a restarted
 * daemon takes the run up), in the worktree or a folder below it (opened
 * beneath it first: a cwd that leads outside by a symlink is refused).
 * A command without args is a shell line (/bin/sh -c, as editors run
 * them), one with args is run as given. Its output (stdout and stderr as
 * they come) is kept up to the request's outputByteLimit (at most
 * AD_RUN_ACP_TERM_OUT), its oldest bytes dropped first. At most
 * AD_RUN_ACP_TERMS per run at once; release kills it and forgets it, the
 * run's end kills them all.
 *
 * Ownership: a terminal is the run's while it is in run->terms; released
 * (or its run gone) while its process lives, it owns itself and is freed
 * by its exit callback. Threads: loop thread only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH, sigabbrev_np */
#endif
#include "run/run_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WAITERS_MAX 8

/* How the agent runs: what its terminals run with. */
struct ad_run_term_env {
    ad_run_sbx_t sbx;
    bool sandboxed;
    char **env; /* NULL-terminated, owned (wiped when freed: keys may be there) */
    ad_proc_limits_t limits;
};

struct ad_run_term {
    ad_run_t *run; /* NULL once released or its run has ended */
    char id[24];
    ad_proc_t *proc; /* NULL once it has exited */
    char *out;       /* the last `limit` bytes of its output */
    size_t len, limit;
    bool truncated;
    bool exited;
    int code, sig;              /* exit code (-1: by a signal), the signal or 0 */
    char *waiters[WAITERS_MAX]; /* wait_for_exit request ids, as JSON */
    size_t nwaiters;
};

/* ---- what terminals run with ---------------------------------------------------- */

void ad_run_term_env_keep(ad_run_t *run, ad_run_sbx_t *sbx, const char *const *env,
                          const ad_proc_limits_t *limits)
{
    ad_run_term_env_t *t = ad_xcalloc(1, sizeof(*t));
    t->sbx = *sbx; /* taken: its strings and policy are the terminal env's now */
    memset(sbx, 0, sizeof(*sbx));
    t->sbx.box.sb.binds = t->sbx.box.binds;
    /* a network allow-list's proxy serves the agent's own tree: its
     * terminals get the loopback only */
    t->sbx.box.sb.net_allow = NULL;
    t->sbx.box.sb.net_sock = NULL;
    t->sandboxed = !t->sbx.box.none && t->sbx.box.home != NULL;
    size_t n = 0;
    while (env != NULL && env[n] != NULL) {
        n++;
    }
    t->env = ad_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        t->env[i] = ad_xstrdup(env[i]);
    }
    t->limits = limits != NULL ? *limits : (ad_proc_limits_t){0};
    ad_run_term_env_free(run->term_env);
    run->term_env = t;
}

void ad_run_term_env_free(ad_run_term_env_t *t)
{
    if (t == NULL) {
        return;
    }
    for (size_t i = 0; t->env[i] != NULL; i++) {
        memset(t->env[i], 0, strlen(t->env[i]));
        free(t->env[i]);
    }
    free(t->env);
    ad_run_sandbox_cleanup(&t->sbx);
    free(t);
}

/* ---- answers ------------------------------------------------------------------------ */

static void answer(ad_run_t *run, const char *id_json, json_t *result, const char *error)
{
    size_t len = 0;
    char *line = ad_acp_reply(run->parser, id_json, result, -32000, error, &len);
    if (line != NULL && run->proc != NULL) {
        (void)ad_proc_write(run->proc, line, len);
    }
    free(line);
}

/* {exitCode, signal} of an exited terminal. New reference. */
static json_t *exit_status(const ad_run_term_t *t)
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
static json_t *output_of(const ad_run_term_t *t)
{
    size_t a = 0;
    while (t->truncated && a < t->len && a < 4 && ((unsigned char)t->out[a] & 0xC0) == 0x80) {
        a++;
    }
    return ad_run_json_text(t->out != NULL ? t->out + a : "", t->len - a);
}

static void term_free(ad_run_term_t *t)
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
    ad_run_term_t *t = ud;
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
    AD_UNUSED(p);
    ad_run_term_t *t = ud;
    if (ex->start_error != NULL) { /* it never ran: why, as its output */
        char why[600];
        int n = snprintf(why, sizeof(why), "agentd: %s\n", ex->start_error);
        on_term_data(p, AD_PROC_STDOUT, why, n > 0 && (size_t)n < sizeof(why) ? (size_t)n : 0, t);
    }
    t->proc = NULL;
    t->exited = true;
    t->code = ex->exit_code;
    t->sig = ex->term_signal;
    if (t->run == NULL) {
        term_free(t);
        return;
    }
    ad_log(AD_LOG_INFO, "runner", "terminal ended agent=%s terminal=%s code=%d signal=%d",
           t->run->agent_id, t->id, t->code, t->sig);
    for (size_t i = 0; i < t->nwaiters; i++) {
        answer(t->run, t->waiters[i], exit_status(t), NULL);
        free(t->waiters[i]);
    }
    t->nwaiters = 0;
}

/* Its process runs (logged with its pid), or could not be started: then
 * it ends as an exit 127 whose output says why. */
static void on_term_start(ad_proc_t *p, int rc, const char *err, void *ud)
{
    ad_run_term_t *t = ud;
    if (rc != 0) {
        ad_proc_exit_t ex = {.exit_code = 127, .start_error = err != NULL ? err : ad_strerror(rc)};
        on_term_exit(p, &ex, t);
        return;
    }
    if (t->run != NULL) {
        ad_log(AD_LOG_INFO, "runner", "terminal started agent=%s terminal=%s pid=%ld",
               t->run->agent_id, t->id, (long)ad_proc_pid(p));
    }
}

/* Killed and forgotten by its run: it frees itself when it has exited. */
static void let_go(ad_run_t *run, size_t i, const char *why)
{
    ad_run_term_t *t = run->terms[i];
    run->terms[i] = NULL;
    for (size_t k = 0; k < t->nwaiters; k++) {
        if (why != NULL) {
            answer(run, t->waiters[k], NULL, why);
        }
        free(t->waiters[k]);
    }
    t->nwaiters = 0;
    t->run = NULL;
    if (t->proc != NULL) {
        (void)ad_proc_stop(t->proc, true);
    } else {
        term_free(t);
    }
}

void ad_run_acp_terms_end(ad_run_t *run)
{
    for (size_t i = 0; i < AD_RUN_ACP_TERMS; i++) {
        if (run->terms[i] != NULL) {
            let_go(run, i, NULL);
        }
    }
}

/* The folder below the worktree a terminal runs in, checked to stay
 * there when opened (symlinks included) and not to be agentd's data dir.
 * 0, or the error to answer. */
static const char *cwd_of(ad_run_t *run, const char *rel, char *out, size_t outsz)
{
    int fd = rel[0] == '\0' ? open(run->cwd, O_PATH | O_DIRECTORY | O_CLOEXEC)
                            : ad_open_beneath(run->cwd, rel, O_PATH | O_DIRECTORY);
    int err = errno;
    bool data = fd >= 0 && ad_run_acp_in_data_dir(run, fd);
    if (fd >= 0) {
        close(fd);
    }
    if (fd < 0 && err != EXDEV && err != ELOOP) {
        return "cwd is not a folder of the worktree";
    }
    if (fd < 0 || data) {
        return "path is outside the worktree";
    }
    if ((size_t)snprintf(out, outsz, "%s%s%s", run->cwd, rel[0] != '\0' ? "/" : "", rel) >= outsz) {
        return "cwd is too long";
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
 * owned strings (ad_proc_env_free). */
static char **env_of(const ad_run_term_env_t *te, const json_t *params)
{
    size_t n = 0;
    while (te->env[n] != NULL) {
        n++;
    }
    const json_t *extra = json_object_get(params, "env");
    char **env = ad_xcalloc(n + json_array_size(extra) + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        env[k++] = ad_xstrdup(te->env[i]);
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
        memset(env[i], 0, strlen(env[i]));
        free(env[i]);
    }
    free(env);
}

static void create(ad_run_t *run, const ad_rec_t *rec)
{
    size_t slot = 0;
    while (slot < AD_RUN_ACP_TERMS && run->terms[slot] != NULL) {
        slot++;
    }
    if (run->term_env == NULL) {
        answer(run, rec->tool_id, NULL, "agentd cannot run terminals for this run");
        return;
    }
    if (slot == AD_RUN_ACP_TERMS) {
        answer(run, rec->tool_id, NULL, "too many terminals: release one first (at most 4)");
        return;
    }
    char cwd[PATH_MAX];
    const char *why = cwd_of(run, rec->text, cwd, sizeof(cwd));
    if (why != NULL) {
        answer(run, rec->tool_id, NULL, why);
        return;
    }
    ad_run_term_t *t = ad_xcalloc(1, sizeof(*t));
    t->run = run;
    snprintf(t->id, sizeof(t->id), "term-%u", ++run->term_seq);
    json_t *lim = json_object_get(rec->json, "outputByteLimit");
    t->limit = json_is_integer(lim) && (uint64_t)json_integer_value(lim) < AD_RUN_ACP_TERM_OUT
                   ? (size_t)json_integer_value(lim)
                   : AD_RUN_ACP_TERM_OUT;
    t->out = t->limit > 0 ? ad_xmalloc(t->limit) : NULL;
    const char **argv = argv_of(rec->json);
    char **env = env_of(run->term_env, rec->json);
    ad_proc_opts_t o = {.argv = argv,
                        .cwd = cwd,
                        .env = (const char *const *)env,
                        .polite = AD_PROC_POLITE_NONE,
                        .term_grace_ms = 1000,
                        .kill_grace_ms = 1000,
                        .on_data = on_term_data,
                        .on_exit = on_term_exit,
                        .on_start = on_term_start,
                        .ud = t,
                        .limits = &run->term_env->limits,
                        .die_with_daemon = true,
                        .sandbox = run->term_env->sandboxed ? &run->term_env->sbx.box.sb : NULL};
    char err[256];
    int rc = ad_proc_spawn(run->r->procs, &o, &t->proc, err, sizeof(err));
    free(argv);
    env_free(env);
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "runner", "terminal not started agent=%s error=%s", run->agent_id, err);
        answer(run, rec->tool_id, NULL, err[0] != '\0' ? err : "the command cannot be run");
        term_free(t);
        return;
    }
    ad_proc_close_stdin(t->proc);
    run->terms[slot] = t;
    char text[600];
    snprintf(text, sizeof(text), "terminal %s: %.500s", t->id,
             json_string_value(json_object_get(rec->json, "command")));
    ad_log(AD_LOG_INFO, "runner", "terminal starting agent=%s terminal=%s", run->agent_id, t->id);
    ad_run_acp_say(run, text);
    answer(run, rec->tool_id, json_pack("{s:s}", "terminalId", t->id), NULL);
}

void ad_run_acp_terminal(ad_run_t *run, const ad_rec_t *rec)
{
    if (strcmp(rec->subtype, "terminal/create") == 0) {
        create(run, rec);
        return;
    }
    size_t i = 0;
    while (i < AD_RUN_ACP_TERMS &&
           (run->terms[i] == NULL || strcmp(run->terms[i]->id, rec->text) != 0)) {
        i++;
    }
    if (i == AD_RUN_ACP_TERMS) {
        answer(run, rec->tool_id, NULL, "no such terminal");
        return;
    }
    ad_run_term_t *t = run->terms[i];
    const char *m = rec->subtype + strlen("terminal/");
    if (strcmp(m, "output") == 0) {
        json_t *res = json_pack("{s:o, s:b}", "output", output_of(t), "truncated", t->truncated);
        if (t->exited) {
            json_object_set_new(res, "exitStatus", exit_status(t));
        }
        answer(run, rec->tool_id, res, NULL);
    } else if (strcmp(m, "wait_for_exit") == 0) {
        if (t->exited) {
            answer(run, rec->tool_id, exit_status(t), NULL);
        } else if (t->nwaiters == WAITERS_MAX) {
            answer(run, rec->tool_id, NULL, "too many waits on this terminal");
        } else {
            t->waiters[t->nwaiters++] = ad_xstrdup(rec->tool_id);
        }
    } else if (strcmp(m, "kill") == 0) {
        if (t->proc != NULL) {
            (void)ad_proc_stop(t->proc, true);
        }
        answer(run, rec->tool_id, json_object(), NULL);
    } else { /* release */
        let_go(run, i, "the terminal was released");
        answer(run, rec->tool_id, json_object(), NULL);
    }
}
