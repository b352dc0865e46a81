/* SPDX-License-Identifier: MIT */
/*
 * A Claude agent's session file carried with it (issue #76, move.h): read
 * where the CLI kept it on the machine it leaves, written where the CLI
 * will look for it on the one it goes to, under the project folder named
 * after the worktree's path there (which differs between machines). On
 * the control plane the folder is the one its runs get (proc.h,
 * ad_proc_claude_projects: the agent's own HOME, the user's ~/.claude or
 * the agent's home in the data dir); on a node, the node finds its own
 * (src/node/nodesess.c). The session id is the agent's stored one,
 * checked to be a session id (it came from a CLI's output, which a node
 * relays): never a path. What a node sends is only ever written here, at
 * the path this plane makes. The start that follows resumes it with
 * --resume <id> (src/run/start.c), as any start of a Claude agent does.
 * Loop thread.
 */
#include "move/move_int.h"

#include "node/node.h"
#include "proc/claudesess.h"
#include "proc/proc.h"
#include "run/run.h"
#include "tables/agents.h"
#include "tables/workspaces.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ad_move_t *v;
    ad_move_step_fn done;
    char sid[80];
    char here[4200]; /* the folder on the control plane */
    size_t trusted;  /* its first bytes no agent can change */
    bool owners, none;
    char *buf; /* the file, as read so far (owned) */
    size_t len, cap;
    size_t sent; /* to a node: what it has of it */
    size_t part; /* the part in flight */
} sess_t;

static void sess_end(sess_t *s, int rc, const char *why)
{
    ad_move_t *v = s->v;
    ad_move_step_fn done = s->done;
    if (rc == 0) {
        v->carried = true;
    }
    free(s->buf);
    free(s);
    done(v, rc, why);
}

static ad_plane_sess_req_t req_of(const sess_t *s)
{
    return (ad_plane_sess_req_t){.agent_id = s->v->agent_id,
                                 .wt_id = s->v->wt_id,
                                 .sid = s->sid,
                                 .owners = s->owners,
                                 .none = s->none};
}

static void put_next(sess_t *s);

static void put_done(int rc, const char *data, size_t len, uint64_t size, const char *why, void *ud)
{
    sess_t *s = ud;
    AD_UNUSED(data);
    AD_UNUSED(len);
    AD_UNUSED(size);
    if (rc != 0 || s->v->m == NULL) {
        sess_end(s, rc != 0 ? rc : AD_ECLOSED, rc != 0 ? why : "agentd is closing");
        return;
    }
    s->sent += s->part;
    if (s->sent >= s->len) {
        sess_end(s, 0, NULL);
    } else {
        put_next(s);
    }
}

/* The next part to the node it goes to; the last one puts it in place. */
static void put_next(sess_t *s)
{
    size_t left = s->len - s->sent;
    s->part = left < AD_PROC_CLAUDE_CHUNK ? left : AD_PROC_CLAUDE_CHUNK;
    ad_plane_sess_req_t req = req_of(s);
    req.offset = s->sent;
    req.data = s->buf + s->sent;
    req.len = s->part;
    req.final = s->sent + s->part == s->len;
    ad_plane_claude_session(s->v->m->app->plane, s->v->to, &req, put_done, s);
}

/* The file, read where it was (s->buf): written where it goes. */
static void deliver(sess_t *s)
{
    ad_move_t *v = s->v;
    if (v->m == NULL) {
        sess_end(s, AD_ECLOSED, "agentd is closing");
        return;
    }
    if (v->to[0] == '\0') {
        int err = ad_proc_claude_session_write(s->here, s->trusted, s->sid, s->buf, s->len);
        char why[300];
        snprintf(why, sizeof(why), "cannot write it in %.200s: %s", s->here, strerror(err));
        sess_end(s, err == 0 ? 0 : AD_EIO, err == 0 ? NULL : why);
        return;
    }
    s->sent = 0;
    put_next(s);
}

static void got(int rc, const char *data, size_t len, uint64_t size, const char *why, void *ud)
{
    sess_t *s = ud;
    char msg[300];
    if (rc == 0 && (size > AD_PROC_CLAUDE_SESSION_MAX || s->len + len > size)) {
        rc = AD_EIO, why = "its parts do not add up";
    }
    if (rc != 0 || s->v->m == NULL) {
        snprintf(msg, sizeof(msg), "its session file was not read on node %s: %s", s->v->from_name,
                 rc != 0 ? (why != NULL ? why : ad_strerror(rc)) : "closing");
        sess_end(s, rc != 0 ? rc : AD_ECLOSED, msg);
        return;
    }
    if (s->cap < size + 1) {
        s->cap = (size_t)size + 1;
        s->buf = ad_xrealloc(s->buf, s->cap);
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    if (len == 0 || s->len >= size) {
        deliver(s);
        return;
    }
    ad_plane_sess_req_t req = req_of(s);
    req.offset = s->len;
    ad_plane_claude_session(s->v->m->app->plane, s->v->from, &req, got, s);
}

/* The folder the CLI keeps the agent's sessions in on the control plane
 * (as its runs here are arranged): 0, or -1. */
static int here_dir(ad_app_t *app, const ad_row_agent_t *a, sess_t *s)
{
    json_t *wt = NULL;
    const char *path = NULL;
    if (a->worktree_id != NULL && ad_store_worktree_get(app->store, a->worktree_id, &wt) == 0) {
        path = json_string_value(json_object_get(wt, "path"));
    }
    json_t *pol = ad_run_sandbox_of(app->store, a);
    s->none = json_is_string(pol) && strcmp(json_string_value(pol), "none") == 0;
    json_decref(pol);
    ad_proc_claude_where_t w = {
        .data_dir = app->cfg->data_dir,
        .agent_id = a->id,
        .wt = path,
        .user_home = getenv("HOME"),
        .own_home = json_string_value(json_object_get(json_object_get(a->state, "env"), "HOME")),
        .boxed = !s->none && ad_procs_sandbox(app->procs, NULL),
        .owners = s->owners};
    int rc = path != NULL ? ad_proc_claude_projects(&w, s->here, sizeof(s->here), &s->trusted)
                          : AD_EINVAL;
    json_decref(wt);
    return rc == 0 ? 0 : -1;
}

void ad_move_session(ad_move_t *v, ad_move_step_fn done)
{
    ad_app_t *app = v->m->app;
    ad_row_agent_t a = {0};
    if (ad_store_agent_row(app->store, v->agent_id, &a) != 0) {
        ad_row_agent_cleanup(&a);
        done(v, AD_EIO, "the agent could not be read");
        return;
    }
    const char *sid = a.session_id;
    if (sid == NULL || sid[0] == '\0') { /* no session yet: nothing to carry */
        ad_row_agent_cleanup(&a);
        done(v, 0, NULL);
        return;
    }
    if (!ad_proc_claude_sid_ok(sid)) {
        ad_row_agent_cleanup(&a);
        done(v, AD_EINVAL, "the agent's session id is not a session id");
        return;
    }
    sess_t *s = ad_xcalloc(1, sizeof(*s));
    s->v = v;
    s->done = done;
    snprintf(s->sid, sizeof(s->sid), "%s", sid);
    s->owners = a.org_id == NULL || strcmp(a.org_id, AD_ORG_DEFAULT) == 0;
    int rc = here_dir(app, &a, s);
    ad_row_agent_cleanup(&a);
    if (rc != 0) {
        sess_end(s, AD_EINVAL, "the agent's worktree or home here is not known");
        return;
    }
    if (v->from[0] != '\0') {
        ad_plane_sess_req_t req = req_of(s);
        ad_plane_claude_session(app->plane, v->from, &req, got, s);
        return;
    }
    int err = ad_proc_claude_session_read(s->here, s->trusted, s->sid, &s->buf, &s->len);
    if (err != 0) {
        char why[400];
        snprintf(why, sizeof(why), "its session file %.200s/%s.jsonl: %s", s->here, s->sid,
                 err == EFBIG ? "too large to move (at most 64 MiB)" : strerror(err));
        sess_end(s, err == ENOENT ? AD_ENOENT : AD_EIO, why);
        return;
    }
    deliver(s);
}
