/* SPDX-License-Identifier: MIT */
/*
 * ACP terminals (terminal/create, output, wait_for_exit, kill, release):
 * a command the agent asks agentd to run, allowed already by src/agent
 * (the mode, the agent's permissions, a grant or the user's approval).
 * A local run's terminals run as the agent does: in its sandbox, with its
 * environment and limits (kept from the run's start, or rebuilt when a
 * restarted daemon takes the run up), in the worktree or a folder below
 * it (opened beneath it first: a cwd that leads outside by a symlink is
 * refused). src/proc's terminal set (termset.c) runs them and keeps their
 * output. A run on a node: the request goes to its node, which runs it
 * there the same way (src/node/nodeterm.c), with what this plane kept of
 * the spawn (the ACP state's node_term: the agent's env and sandbox policy); nothing
 * runs here. The run's end kills them all.
 *
 * Threads: loop thread only.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH */
#endif
#include "run/features.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How the agent runs: what its terminals run with. */
struct ad_run_term_env {
    ad_run_sbx_t sbx;
    bool sandboxed;
    char **env; /* NULL-terminated, owned (wiped when freed: keys may be there) */
    ad_proc_limits_t limits;
};

/* ---- what terminals run with ---------------------------------------------------- */

void ad_run_term_env_keep(ad_run_t *run, ad_run_sbx_t *sbx, const char *const *env,
                          const ad_proc_limits_t *limits)
{
    ad_run_term_env_t *t = ad_xcalloc(1, sizeof(*t));
    t->sbx = *sbx; /* taken: its strings and policy are the terminal env's now */
    memset(sbx, 0, sizeof(*sbx));
    t->sbx.box.sb.binds = t->sbx.box.binds;
    /* the agent's proxy (its network "on", an allow-list, host services)
     * serves its terminals too: each runs its own bridge to it */
    ad_proc_sandbox_t *sb = &t->sbx.box.sb;
    sb->net_shared = true;
    if (sb->net_allow != NULL) { /* into the copy, as binds above */
        sb->net_allow = t->sbx.box.net_allow;
        sb->net_sock = t->sbx.box.net_sock;
        sb->net_bridge = t->sbx.box.net_bridge;
    }
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
    ad_run_acp_t *acp = ad_run_ctx(run, AD_RUN_FEAT_ACP);
    ad_run_term_env_free(acp->term_env);
    acp->term_env = t;
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

/* The terminal set's answers: ud is the run (the set goes before it). */
static void on_answer(void *ud, const char *req, json_t *result, const char *error)
{
    answer(ud, req, result, error);
}

void ad_run_acp_terms_end(ad_run_t *run)
{
    ad_run_acp_t *acp = ad_run_ctx_peek(run, AD_RUN_FEAT_ACP);
    if (acp != NULL) {
        ad_terms_free(acp->terms);
        acp->terms = NULL;
    }
}

void ad_run_acp_free(ad_run_t *run, void *ctx)
{
    ad_run_acp_t *acp = ctx;
    ad_run_acp_terms_end(run); /* (at its end, mostly: its release) */
    ad_run_term_env_free(acp->term_env);
    json_decref(acp->node_term);
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

/* Said in the transcript, as a tool's start is. */
static void say_started(ad_run_t *run, const char *id, const json_t *params)
{
    char text[600];
    snprintf(text, sizeof(text), "terminal %s: %.500s", id,
             json_string_value(json_object_get(params, "command")));
    ad_run_acp_say(run, text);
}

static void create(ad_run_t *run, const ad_rec_t *rec)
{
    ad_run_acp_t *acp = ad_run_ctx(run, AD_RUN_FEAT_ACP);
    ad_run_term_env_t *te = acp->term_env;
    if (te == NULL) {
        answer(run, rec->tool_id, NULL, "agentd cannot run terminals for this run");
        return;
    }
    char cwd[PATH_MAX];
    const char *why = cwd_of(run, rec->text, cwd, sizeof(cwd));
    if (why != NULL) {
        answer(run, rec->tool_id, NULL, why);
        return;
    }
    if (acp->terms == NULL) {
        acp->terms = ad_terms_new(run->r->procs, on_answer, run);
    }
    ad_terms_how_t how = {.cwd = cwd,
                          .env = (const char *const *)te->env,
                          .limits = &te->limits,
                          .sandbox = te->sandboxed ? &te->sbx.box.sb : NULL,
                          .who = run->agent_id};
    char id[AD_TERM_ID_MAX], err[256];
    if (ad_terms_create(acp->terms, rec->json, &how, id, err, sizeof(err)) != 0) {
        answer(run, rec->tool_id, NULL, err);
        return;
    }
    say_started(run, id, rec->json);
    answer(run, rec->tool_id, json_pack("{s:s}", "terminalId", id), NULL);
}

/* ---- a run on a node -------------------------------------------------------------------- */

typedef struct {
    ad_runner_t *r;
    char agent_id[AD_ID_MAX], run_id[AD_ID_MAX];
    char *tool_id;  /* the request's id, as JSON */
    json_t *params; /* create's, for the transcript */
} remote_term_t;

static void remote_done(json_t *result, const char *why, void *ud)
{
    remote_term_t *c = ud;
    ad_run_t *run = ad_run_find(c->r, c->agent_id);
    if (run != NULL && strcmp(run->run_id, c->run_id) == 0) {
        const char *id = json_string_value(json_object_get(result, "terminalId"));
        if (c->params != NULL && id != NULL) {
            say_started(run, id, c->params);
        }
        answer(run, c->tool_id, why == NULL ? json_incref(result) : NULL, why);
    } /* else the run that asked has ended: nobody to answer */
    json_decref(c->params);
    free(c->tool_id);
    free(c);
}

static void remote(ad_run_t *run, const ad_rec_t *rec)
{
    const char *m = rec->subtype + strlen("terminal/");
    bool make = strcmp(m, "create") == 0;
    const ad_run_acp_t *acp = ad_run_ctx_peek(run, AD_RUN_FEAT_ACP);
    if (make && (acp == NULL || acp->node_term == NULL)) {
        answer(run, rec->tool_id, NULL, "agentd cannot run terminals for this run");
        return;
    }
    remote_term_t *c = ad_xcalloc(1, sizeof(*c));
    c->r = run->r;
    snprintf(c->agent_id, sizeof(c->agent_id), "%s", run->agent_id);
    snprintf(c->run_id, sizeof(c->run_id), "%s", run->run_id);
    c->tool_id = ad_xstrdup(rec->tool_id);
    json_t *q = json_pack("{s:s}", "op", m);
    if (make) {
        c->params = json_incref(rec->json);
        json_object_set(q, "params", rec->json);
        json_object_set_new(q, "cwd", json_string(rec->text)); /* below its folder there */
        json_object_update(q, acp->node_term);                 /* agent, env, sandbox */
    } else {
        json_object_set_new(q, "terminal", json_string(rec->text));
    }
    (void)ad_plane_term(run->r->plane, run->run_id, q, remote_done, c);
    json_decref(q);
}

void ad_run_acp_terminal(ad_run_t *run, const ad_rec_t *rec)
{
    const ad_run_acp_t *acp = ad_run_ctx_peek(run, AD_RUN_FEAT_ACP);
    if (run->node_id[0] != '\0' && run->r->plane != NULL) {
        remote(run, rec); /* its terminals are on its node, as its files are */
    } else if (strcmp(rec->subtype, "terminal/create") == 0) {
        create(run, rec);
    } else if (acp == NULL || acp->terms == NULL) {
        answer(run, rec->tool_id, NULL, "no such terminal");
    } else {
        ad_terms_call(acp->terms, rec->subtype + strlen("terminal/"), rec->text, rec->tool_id);
    }
}

/* An ACP run on a node: what its terminals run with there, sent with each
 * terminal/create (acp_term.c): the spawn's agent, env and sandbox policy. */
void ad_run_node_term_keep(ad_run_t *run, const ad_run_start_t *s)
{
    json_t *env = json_array();
    for (size_t i = 0; s->env != NULL && s->env[i] != NULL; i++) {
        json_array_append_new(env, json_string(s->env[i]));
    }
    ad_run_acp_t *acp = ad_run_ctx(run, AD_RUN_FEAT_ACP);
    json_decref(acp->node_term);
    acp->node_term = json_pack("{s:s, s:o, s:O?}", "agent", run->agent_id, "env", env, "sandbox",
                               s->remote_sandbox);
}
