/* SPDX-License-Identifier: MIT */
/*
 * An ACP agent's terminals when its run is on a node (docs/nodes.md, "ACP
 * agents on nodes"): terminal/create, output, wait_for_exit, kill and
 * release run on the node, where the agent and its worktree are, never on
 * the control plane. src/run checks a create as for a local run (the mode,
 * the agent's permissions, its cwd by name, made relative to the
 * worktree) and sends it with what the run's spawn had (the agent, its env
 * and sandbox policy); the plane sends {t: term, id, run, op, terminal? |
 * params, cwd, agent, env, sandbox} for a run on that node and waits for
 * {t: term_done, id, result | error}. The node runs the command in the
 * run's sandbox built from that policy for its own paths (nodebox.c),
 * network at most the loopback (an allow-list's proxy serves the agent's
 * own tree), in a folder opened beneath the run's folder (a way out by a
 * symlink is refused), through src/proc's terminal set. Only the node
 * asked may answer; a node that goes away fails the request; a wait for
 * an exit waits as long as TERM_WAIT_MS, the others TERM_TIMEOUT_MS. A
 * run's terminals end with it, or with the node's agentd. Loop thread.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH */
#endif
#include "node/node_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TERM_TIMEOUT_MS 15000
#define TERM_WAIT_MS (24ull * 3600 * 1000)
#define TERM_ENV_MAX 512

static void term_fail(ad_term_rpc_t *q, const char *why)
{
    q->cb(NULL, why, q->ud);
    free(q);
}

int ad_plane_term(ad_plane_t *p, const char *run_id, json_t *req, ad_plane_term_cb cb, void *ud)
{
    ad_relay_t *r = ad_relay_find(p, run_id);
    ad_node_live_t *n = r != NULL ? ad_plane_node_live(p, r->node_id) : NULL;
    ad_term_rpc_t *q = ad_xcalloc(1, sizeof(*q));
    q->cb = cb;
    q->ud = ud;
    if (n == NULL || n->link == NULL || n->unreachable) {
        term_fail(q, "the agent's node is not connected now");
        return 0;
    }
    const char *op = json_string_value(json_object_get(req, "op"));
    bool wait = op != NULL && strcmp(op, "wait_for_exit") == 0;
    ad_node_ask_add(p, &p->term_rpcs, &q->ask, n->id, wait ? TERM_WAIT_MS : TERM_TIMEOUT_MS);
    json_t *m = json_deep_copy(req);
    json_object_set_new(m, "t", json_string("term"));
    json_object_set_new(m, "id", json_integer((json_int_t)q->ask.id));
    json_object_set_new(m, "run", json_string(run_id));
    ad_plane_send_text(n, m);
    return 0;
}

void ad_plane_term_done(ad_plane_t *p, ad_node_live_t *n, json_t *msg)
{
    ad_term_rpc_t *q =
        (ad_term_rpc_t *)ad_node_ask_take(&p->term_rpcs, json_object_get(msg, "id"), n->id);
    if (q == NULL) {
        ad_log(AD_LOG_WARN, "node", "terminal answer ignored node=%s id=%lld (not one asked of it)",
               n->name, (long long)json_integer_value(json_object_get(msg, "id")));
        return;
    }
    json_t *result = json_object_get(msg, "result");
    const char *err = json_string_value(json_object_get(msg, "error"));
    if (err != NULL || !json_is_object(result)) {
        char why[200];
        snprintf(why, sizeof(why), "%s", err != NULL ? err : "the node answered wrongly");
        q->cb(NULL, why, q->ud);
    } else {
        q->cb(result, NULL, q->ud);
    }
    free(q);
}

void ad_plane_term_expire(ad_plane_t *p, bool all)
{
    bool gone;
    ad_term_rpc_t *q;
    while ((q = (ad_term_rpc_t *)ad_node_ask_expired(p, &p->term_rpcs, all, &gone)) != NULL) {
        term_fail(q, gone ? "the agent's node went away before it answered"
                          : "the agent's node did not answer in time");
    }
}

/* ---- the node's side ------------------------------------------------------------------ */

/* term_done for the plane's ask id: result (taken; NULL: {}) or error. */
static void answer(worker_t *w, json_int_t id, json_t *result, const char *error)
{
    json_t *m = json_pack("{s:s, s:I}", "t", "term_done", "id", id);
    if (error != NULL) {
        json_object_set_new(m, "error", json_string(error));
        json_decref(result);
    } else {
        json_object_set_new(m, "result", result != NULL ? result : json_object());
    }
    ad_worker_send(w, m);
}

/* The set's answers: req is the plane's ask id, in decimal. */
static void on_answer(void *ud, const char *req, json_t *result, const char *error)
{
    wrun_t *r = ud;
    answer(r->w, (json_int_t)strtoll(req, NULL, 10), result, error);
}

/* The folder below the run's a terminal runs in: opened beneath it (a
 * symlink out is refused by the kernel). NULL, or why not. */
static const char *cwd_of(const wrun_t *r, const char *rel, char *out, size_t outsz)
{
    if (rel == NULL || rel[0] == '/') {
        return "cwd must be a folder of the worktree";
    }
    int fd = rel[0] == '\0' ? open(r->cwd, O_PATH | O_DIRECTORY | O_CLOEXEC)
                            : ad_open_beneath(r->cwd, rel, O_PATH | O_DIRECTORY);
    int err = errno;
    if (fd >= 0) {
        close(fd);
    } else {
        return err == EXDEV || err == ELOOP ? "path is outside the worktree"
                                            : "cwd is not a folder of the worktree";
    }
    if ((size_t)snprintf(out, outsz, "%s%s%s", r->cwd, rel[0] != '\0' ? "/" : "", rel) >= outsz) {
        return "cwd is too long";
    }
    return NULL;
}

static void create(worker_t *w, wrun_t *r, json_int_t id, json_t *msg)
{
    char cwd[4400];
    const char *why = cwd_of(r, json_string_value(json_object_get(msg, "cwd")), cwd, sizeof(cwd));
    json_t *envs = json_object_get(msg, "env");
    size_t n = json_array_size(envs);
    if (why == NULL && (!json_is_array(envs) || n > TERM_ENV_MAX)) {
        why = "a malformed terminal request";
    }
    const char **env = why == NULL ? ad_xcalloc(n + 1, sizeof(char *)) : NULL;
    for (size_t i = 0; why == NULL && i < n; i++) {
        env[i] = json_string_value(json_array_get(envs, i));
        why = env[i] == NULL ? "a malformed terminal request" : NULL;
    }
    if (why != NULL) {
        free(env);
        answer(w, id, NULL, why);
        return;
    }
    /* the run's policy, for a command: network at most the loopback when
     * the agent's goes through an allow-list's proxy */
    json_t *pol = json_deep_copy(json_object_get(msg, "sandbox"));
    if (json_is_object(pol)) {
        json_object_set_new(pol, "program", json_false());
        if (json_is_array(json_object_get(pol, "allow"))) {
            json_object_del(pol, "allow");
            json_object_set_new(pol, "network", json_false());
        }
    }
    json_t *spawn = json_pack("{s:o?}", "sandbox", pol);
    const char *agent = json_string_value(json_object_get(msg, "agent"));
    ad_proc_box_t box;
    char err[512] = "", prog[4096];
    int rc = ad_worker_box(w, r, ad_node_id_ok(agent) ? agent : r->id, spawn, r->cwd, NULL, prog,
                           &box, err, sizeof(err));
    json_decref(spawn);
    char term[AD_TERM_ID_MAX];
    if (rc == 0) {
        const char **benv = ad_worker_box_env(env, &box);
        if (r->terms == NULL) {
            r->terms = ad_terms_new(w->procs, on_answer, r);
        }
        ad_terms_how_t how = {.cwd = cwd,
                              .env = benv,
                              .sandbox = box.none || box.home == NULL ? NULL : &box.sb,
                              .who = r->agent_id[0] != '\0' ? r->agent_id : r->id};
        rc =
            ad_terms_create(r->terms, json_object_get(msg, "params"), &how, term, err, sizeof(err));
        free(benv);
    }
    ad_proc_box_cleanup(&box);
    free(env);
    if (rc != 0) {
        answer(w, id, NULL, err[0] != '\0' ? err : "the command cannot be run");
        return;
    }
    answer(w, id, json_pack("{s:s}", "terminalId", term), NULL);
}

void ad_worker_term(worker_t *w, json_t *msg)
{
    json_t *idj = json_object_get(msg, "id");
    const char *run = json_string_value(json_object_get(msg, "run"));
    const char *op = json_string_value(json_object_get(msg, "op"));
    wrun_t *r = run != NULL ? ad_worker_run_find(w, run) : NULL;
    if (!json_is_integer(idj)) {
        return;
    }
    json_int_t id = json_integer_value(idj);
    if (r == NULL || r->cwd[0] == '\0' || op == NULL) { /* only a run of its own with its folder */
        answer(w, id, NULL, "no such run on this node");
    } else if (strcmp(op, "create") == 0) {
        create(w, r, id, msg);
    } else if (r->terms == NULL) {
        answer(w, id, NULL, "no such terminal");
    } else {
        char req[32];
        snprintf(req, sizeof(req), "%lld", (long long)id);
        ad_terms_call(r->terms, op, json_string_value(json_object_get(msg, "terminal")), req);
    }
}
