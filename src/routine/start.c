/* SPDX-License-Identifier: MIT */
/*
 * A routine's run started: a fresh worktree from its base branch when the
 * routine wants one (POST /api/worktrees), its agent (POST /api/agents,
 * named after the routine), the start (POST /api/agents/:id/start with
 * the prompt), each a REST call in-process as the routine
 * (ad_server_call): the same checks, org scoping and audit as a client's,
 * with nothing of the agent or start code written twice. A webhook's body
 * is given to the run as a file named by AGENTD_TRIGGER_PAYLOAD, in the
 * worktree's git folder (which the agent's sandbox shows at its path; the
 * data dir it hides), and, for a prompt, quoted into it. The run row follows: running with its
 * agent, or failed with the answer that refused it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* O_PATH */
#endif
#include "git/git.h"
#include "routine/routine_int.h"
#include "tables/auth.h"
#include "tables/routines.h"
#include "tables/workspaces.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUOTE_MAX (32 * 1024) /* the payload quoted into a prompt, at most */

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

void ad_routines_who(const json_t *routine, ad_principal_t *who)
{
    memset(who, 0, sizeof(*who));
    snprintf(who->name, sizeof(who->name), "routine:%s", str(routine, "id"));
    snprintf(who->org_id, sizeof(who->org_id), "%s",
             str(routine, "orgId") != NULL ? str(routine, "orgId") : "");
    who->scope = AD_SCOPE_ADMIN;
}

/* ---- REST calls ----------------------------------------------------------------------- */

typedef struct {
    ad_routines_t *e;
    ad_principal_t who; /* the call's auth: kept until its answer */
    char *body;
    ad_routines_call_cb cb;
    void *ud;
} call_t;

static void called(int status, const char *body, size_t len, void *ud)
{
    call_t *c = ud;
    json_t *j = len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
    ad_routines_t *e = c->e;
    e->out--;
    c->cb(e, status, j != NULL ? j : json_object(), c->ud);
    free(c->body);
    free(c);
    ad_routines_maybe_free(e);
}

void ad_routines_call(ad_routines_t *e, const ad_principal_t *who, const char *method,
                      const char *target, json_t *body, ad_routines_call_cb cb, void *ud)
{
    if (e->closed) { /* stopping: no request starts (cb ends the step, writing nothing) */
        json_decref(body);
        cb(e, 503, json_object(), ud);
        return;
    }
    call_t *c = ad_xcalloc(1, sizeof(*c));
    *c = (call_t){.e = e, .who = *who, .cb = cb, .ud = ud};
    c->body = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    ad_http_call_t call = {.method = method,
                           .target = target,
                           .body = c->body,
                           .len = c->body != NULL ? strlen(c->body) : 0,
                           .auth = &c->who,
                           .access = AD_ACCESS_ADMIN,
                           .peer = "routine"};
    e->out++;
    ad_server_call(e->server, &call, called, c);
}

/* ---- a run's steps -------------------------------------------------------------------- */

typedef struct {
    json_t *routine, *run;
    ad_principal_t who;
    char wt[AD_ID_MAX], agent[AD_ID_MAX];
    char *payload;           /* the delivery's body, or NULL */
    char payload_path[4200]; /* its file, once written */
} go_t;

static void go_free(go_t *g)
{
    json_decref(g->routine);
    json_decref(g->run);
    free(g->payload);
    free(g);
}

/* The run ends as status with why, its agent and worktree kept. */
static void go_end(ad_routines_t *e, go_t *g, const char *status, const char *why)
{
    json_t *args =
        json_pack("{s:s, s:[s], s:s, s:s, s:I}", "id", str(g->run, "id"), "from", "starting",
                  "status", status, "reason", why, "now", (json_int_t)ad_routines_now(e));
    if (g->agent[0] != '\0') {
        json_object_set_new(args, "agentId", json_string(g->agent));
    }
    if (g->wt[0] != '\0') {
        json_object_set_new(args, "worktreeId", json_string(g->wt));
    }
    if (strcmp(status, "running") != 0 && g->payload_path[0] != '\0') {
        unlink(g->payload_path); /* no run to read it */
    }
    ad_routines_run_set(e, args, NULL, NULL);
    go_free(g);
}

/* Why a call was refused: its answer's message, else its status. */
static void refused(ad_routines_t *e, go_t *g, const char *step, int status, json_t *answer)
{
    char why[512];
    const char *msg = str(json_object_get(answer, "error"), "message");
    snprintf(why, sizeof(why), "%s: %d %s", step, status, msg != NULL ? msg : "refused");
    go_end(e, g, "failed", why);
}

static void started(ad_routines_t *e, int status, json_t *answer, void *ud)
{
    go_t *g = ud;
    if (status / 100 != 2) {
        refused(e, g, "start", status, answer);
    } else {
        go_end(e, g, "running", "");
    }
    json_decref(answer);
}

/* The prompt, with the delivery quoted under it (cut past QUOTE_MAX). */
static char *prompt_of(go_t *g)
{
    const char *p = str(g->routine, "prompt");
    if (p == NULL) {
        return NULL;
    }
    ad_buf_t b;
    ad_buf_init(&b, 1024);
    bool ok = ad_buf_append(&b, p, strlen(p)) == 0;
    if (g->payload != NULL) {
        size_t n = strlen(g->payload);
        char head[4400];
        snprintf(head, sizeof(head),
                 "\n\nThe trigger's payload (the file $AGENTD_TRIGGER_PAYLOAD, %s)%s:\n```json\n",
                 g->payload_path, n > QUOTE_MAX ? ", its beginning" : "");
        ok = ok && ad_buf_append(&b, head, strlen(head)) == 0 &&
             ad_buf_append(&b, g->payload, n > QUOTE_MAX ? QUOTE_MAX : n) == 0 &&
             ad_buf_append(&b, "\n```\n", 5) == 0;
    }
    char *out = ok ? ad_xstrdup(b.data != NULL ? b.data : "") : NULL;
    ad_buf_cleanup(&b);
    return out;
}

static void made_agent(ad_routines_t *e, int status, json_t *answer, void *ud)
{
    go_t *g = ud;
    const char *id = str(answer, "id");
    if (status != 201 || id == NULL) {
        refused(e, g, "agent", status, answer);
        json_decref(answer);
        return;
    }
    snprintf(g->agent, sizeof(g->agent), "%s", id);
    json_decref(answer);
    char target[128];
    snprintf(target, sizeof(target), "/api/agents/%s/start", g->agent);
    char *prompt = prompt_of(g);
    json_t *body = prompt != NULL ? json_pack("{s:s}", "initialPrompt", prompt) : json_object();
    free(prompt);
    ad_routines_call(e, &g->who, "POST", target, body, started, g);
}

static void make_agent(ad_routines_t *e, go_t *g)
{
    json_t *body = json_deep_copy(json_object_get(g->routine, "agent"));
    if (!json_is_object(body)) {
        json_decref(body);
        body = json_object();
    }
    char name[160];
    int64_t at = 0;
    char when[AD_TIME_MAX];
    ad_time_parse(str(g->run, "fireAt"), &at);
    ad_time_format(at, when);
    snprintf(name, sizeof(name), "%.100s %.16s", str(g->routine, "name"), when);
    json_object_set_new(body, "name", json_string(name));
    json_object_set_new(body, "worktreeId", json_string(g->wt));
    json_t *env = json_object_get(body, "env");
    if (!json_is_object(env)) {
        env = json_object();
        json_object_set_new(body, "env", env);
    }
    json_object_set_new(env, "AGENTD_ROUTINE_ID", json_string(str(g->routine, "id")));
    json_object_set_new(env, "AGENTD_ROUTINE_RUN_ID", json_string(str(g->run, "id")));
    if (g->payload_path[0] != '\0') {
        json_object_set_new(env, "AGENTD_TRIGGER_PAYLOAD", json_string(g->payload_path));
    }
    ad_routines_call(e, &g->who, "POST", "/api/agents", body, made_agent, g);
}

/* The worktree's own git folder as agentd's rows give it (the trust root,
 * ad_git_trust_check: never what the worktree's .git file says, which the
 * agent may have rewritten), its path into gitdir; the fd of its
 * agentd-payloads folder (made when make), opened without following a
 * link, or -1. The payload goes there since the agent's sandbox shows the
 * git folder at the same path (the data dir it hides). */
static int payload_dir(ad_routines_t *e, const char *ws_id, const char *wt_path, bool make,
                       char *gitdir, size_t gsz)
{
    json_t *ws = NULL;
    if (ws_id == NULL || wt_path == NULL || ad_store_workspace_get(e->st, ws_id, &ws) != 0) {
        return -1;
    }
    ad_git_trust_t *t = ad_xcalloc(1, sizeof(*t));
    char why[512];
    int rc = ad_git_trust_check(str(ws, "path"), false, wt_path, t, why, sizeof(why));
    json_decref(ws);
    int root = -1, git = -1, dir = -1;
    if (rc != 0) {
        ad_log(AD_LOG_WARN, "routine", "no payload in %s: %s", wt_path, why);
        goto out;
    }
    snprintf(gitdir, gsz, "%.4000s", t->gitdir);
    size_t n = strlen(t->common);
    root = open(t->common, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    git = root < 0 ? -1
          : t->gitdir[n] == '\0'
              ? dup(root)
              : ad_openat_beneath(root, t->gitdir + n + 1, O_PATH | O_DIRECTORY | O_NOFOLLOW);
    if (git >= 0 && make && mkdirat(git, "agentd-payloads", 0700) != 0 && errno != EEXIST) {
        goto out;
    }
    dir = git < 0 ? -1
                  : openat(git, "agentd-payloads", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
out:
    if (root >= 0) {
        close(root);
    }
    if (git >= 0) {
        close(git);
    }
    free(t);
    return dir;
}

/* <git dir>/agentd-payloads/<run>.json, 0600: the delivery's body. */
static int write_payload(ad_routines_t *e, go_t *g, const char *ws_id, const char *wt_path)
{
    char git[4100];
    /* the runs of this worktree that have ended took theirs along
     * (ad_routines_payload_drop), so the folder holds the open runs' */
    int dir = payload_dir(e, ws_id, wt_path, true, git, sizeof(git));
    if (dir < 0) {
        return AD_ENOENT;
    }
    char name[64];
    snprintf(name, sizeof(name), "%.40s.json", str(g->run, "id"));
    snprintf(g->payload_path, sizeof(g->payload_path), "%s/agentd-payloads/%s", git, name);
    /* the folder is the agent's to write in: a FIFO put at the name would
     * hold an open for writing until someone reads it */
    int fd =
        openat(dir, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    close(dir);
    if (fd < 0) {
        return AD_EIO;
    }
    size_t n = strlen(g->payload);
    int rc = ad_write_all(fd, g->payload, n) == n ? 0 : AD_EIO;
    close(fd);
    return rc;
}

void ad_routines_payload_drop(ad_routines_t *e, const json_t *run)
{
    const char *wt = str(run, "worktreeId"), *id = str(run, "id");
    json_t *row = NULL;
    char git[4100], name[64];
    if (wt == NULL || wt[0] == '\0' || id == NULL || ad_store_worktree_get(e->st, wt, &row) != 0) {
        return;
    }
    int dir = payload_dir(e, str(row, "workspaceId"), str(row, "path"), false, git, sizeof(git));
    if (dir >= 0) {
        snprintf(name, sizeof(name), "%.40s.json", id);
        unlinkat(dir, name, 0); /* none there: a run without a payload */
        close(dir);
    }
    json_decref(row);
}

/* The worktree (an answer of its create or read): the payload written in
 * it, then the agent. */
static void in_worktree(ad_routines_t *e, int status, json_t *answer, void *ud)
{
    go_t *g = ud;
    const char *id = str(answer, "id"), *path = str(answer, "path");
    if (status / 100 != 2 || id == NULL || path == NULL) {
        refused(e, g, "worktree", status, answer);
    } else {
        snprintf(g->wt, sizeof(g->wt), "%s", id);
        if (g->payload != NULL && write_payload(e, g, str(answer, "workspaceId"), path) != 0) {
            go_end(e, g, "failed", "cannot write the payload's file in the worktree's git folder");
        } else {
            make_agent(e, g);
        }
    }
    json_decref(answer);
}

/* Why the routine's maker may no longer start it (its token revoked or
 * expired), into why; false when it may. A routine made by the owner or a
 * session has no token to lose. */
static bool maker_gone(ad_routines_t *e, const json_t *routine, char *why, size_t whysz)
{
    const char *by = str(routine, "createdBy");
    const char *tok = by != NULL ? strstr(by, " tok_") : NULL;
    ad_store_token_t t;
    if (tok == NULL || ad_store_token_get(e->st, tok + 1, &t) != 0) {
        return false;
    }
    if (t.revoked_at != 0 || (t.expires_at != 0 && t.expires_at <= ad_wall_ms())) {
        snprintf(why, whysz, "its maker's token %s was %s", t.id,
                 t.revoked_at != 0 ? "revoked" : "expired");
        return true;
    }
    return false;
}

void ad_routines_start(ad_routines_t *e, const json_t *routine, const json_t *run)
{
    go_t *g = ad_xcalloc(1, sizeof(*g));
    g->routine = json_incref((json_t *)routine);
    g->run = json_incref((json_t *)run);
    ad_routines_who(routine, &g->who);
    char why[160];
    if (maker_gone(e, routine, why, sizeof(why))) {
        go_end(e, g, "failed", why);
        return;
    }
    if (ad_store_routine_run_payload(e->st, str(run, "id"), &g->payload) != 0) {
        go_end(e, g, "failed", "cannot read the run's payload");
        return;
    }
    if (str(routine, "worktreeId") != NULL) {
        char target[128];
        snprintf(target, sizeof(target), "/api/worktrees/%s", str(routine, "worktreeId"));
        ad_routines_call(e, &g->who, "GET", target, NULL, in_worktree, g);
        return;
    }
    /* a fresh worktree per run, on a new branch from the base */
    char name[96];
    const char *rid = str(run, "id");
    size_t n = strlen(rid);
    snprintf(name, sizeof(name), "routine-%s", n > 10 ? rid + n - 10 : rid);
    json_t *body = json_pack("{s:s, s:s, s:s, s:b}", "workspaceId", str(routine, "workspaceId"),
                             "name", name, "base", str(routine, "baseBranch"), "createBranch", 1);
    ad_routines_call(e, &g->who, "POST", "/api/worktrees", body, in_worktree, g);
}
