/* SPDX-License-Identifier: MIT */
/*
 * A Claude Code session file carried to or from a node for a live move of
 * its agent (issue #76, src/move; docs/nodes.md "Moving a live agent").
 * The plane sends {t: session, id, op: "get" | "put", agent, worktree,
 * sid, owners, none, offset, data?, final?} and waits for {t:
 * session_done, id, data?, size? | error, notFound?}; data is a part of
 * the file (at most AD_PROC_CLAUDE_CHUNK bytes) in base64, so a message
 * stays well under the link's bounds; the plane asks part after part. The node finds
 * the folder itself, as its runs' sandbox arranges the CLI's (proc.h,
 * ad_proc_claude_projects: its own data dir, worktree and user's home,
 * never a path of the plane's), and takes only a session id that is one
 * and an agent id that is one. The plane writes what a node answers only
 * where its own rule says, so a node cannot put a file anywhere else.
 * A file past AD_PROC_CLAUDE_SESSION_MAX is refused with a word; a part
 * written is put in place only with the last (the CLI never reads half). Only the node asked may
 * answer; one that goes away or does not answer in SESS_TIMEOUT_MS fails the request. Loop thread.
 */
#include "node/node_int.h"
#include "proc/claudesess.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SESS_TIMEOUT_MS 30000

static void sess_fail(ad_sess_rpc_t *q, const char *why, bool not_found)
{
    q->cb(not_found ? AD_ENOENT : AD_EIO, NULL, 0, 0, why, q->ud);
    free(q);
}

int ad_plane_claude_session(ad_plane_t *p, const char *node_id, const ad_plane_sess_req_t *req,
                            ad_plane_sess_cb cb, void *ud)
{
    ad_node_live_t *n = ad_plane_node_live(p, node_id);
    ad_sess_rpc_t *q = ad_xcalloc(1, sizeof(*q));
    q->cb = cb;
    q->ud = ud;
    if (n == NULL || n->link == NULL || n->unreachable) {
        sess_fail(q, "the node is not connected now", false);
        return 0;
    }
    if (req->data != NULL && req->len > AD_PROC_CLAUDE_CHUNK) {
        sess_fail(q, "a part of a session file past the chunk's bound", false);
        return 0;
    }
    ad_node_ask_add(p, &p->sess_rpcs, &q->ask, n->id, SESS_TIMEOUT_MS);
    json_t *m =
        json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:b, s:b, s:I}", "t", "session", "id",
                  (json_int_t)q->ask.id, "op", req->data != NULL ? "put" : "get", "agent",
                  req->agent_id, "worktree", req->wt_id != NULL ? req->wt_id : "", "sid", req->sid,
                  "owners", req->owners, "none", req->none, "offset", (json_int_t)req->offset);
    if (req->data != NULL) {
        json_object_set_new(m, "final", json_boolean(req->final));
        size_t cap = (req->len + 2) / 3 * 4 + 1;
        char *b64 = ad_xmalloc(cap);
        ad_base64_encode((const uint8_t *)req->data, req->len, b64, cap);
        json_object_set_new(m, "data", json_string(b64));
        free(b64);
    }
    ad_plane_send_text(n, m);
    return 0;
}

void ad_plane_sess_done(ad_plane_t *p, ad_node_live_t *n, json_t *msg)
{
    ad_sess_rpc_t *q =
        (ad_sess_rpc_t *)ad_node_ask_take(&p->sess_rpcs, json_object_get(msg, "id"), n->id);
    if (q == NULL) {
        ad_log(AD_LOG_WARN, "node", "session answer ignored node=%s id=%lld (not one asked of it)",
               n->name, (long long)json_integer_value(json_object_get(msg, "id")));
        return;
    }
    const char *err = json_string_value(json_object_get(msg, "error"));
    json_t *data = json_object_get(msg, "data");
    if (err != NULL || (data != NULL && !json_is_string(data))) {
        char why[200];
        snprintf(why, sizeof(why), "node %s: %s", n->name,
                 err != NULL ? err : "it answered wrongly");
        sess_fail(q, why, json_is_true(json_object_get(msg, "notFound")));
        return;
    }
    if (data == NULL) { /* a put done */
        q->cb(0, NULL, 0, 0, NULL, q->ud);
        free(q);
        return;
    }
    json_t *size = json_object_get(msg, "size");
    size_t cap = json_string_length(data) / 4 * 3 + 4;
    uint8_t *buf = ad_xmalloc(cap);
    int len = cap > AD_PROC_CLAUDE_CHUNK + 4
                  ? AD_ETOOBIG
                  : ad_base64_decode(json_string_value(data), json_string_length(data), buf, cap);
    if (len < 0 || !json_is_integer(size) || json_integer_value(size) < 0 ||
        json_integer_value(size) > (json_int_t)AD_PROC_CLAUDE_SESSION_MAX) {
        free(buf);
        sess_fail(q, "the node's session file part was not base64, too large, or had no size",
                  false);
        return;
    }
    q->cb(0, (char *)buf, (size_t)len, (uint64_t)json_integer_value(size), NULL, q->ud);
    free(buf);
    free(q);
}

void ad_plane_sess_expire(ad_plane_t *p, bool all)
{
    bool gone;
    ad_sess_rpc_t *q;
    while ((q = (ad_sess_rpc_t *)ad_node_ask_expired(p, &p->sess_rpcs, all, &gone)) != NULL) {
        sess_fail(
            q, gone ? "the node went away before it answered" : "the node did not answer in time",
            false);
    }
}

/* ---- the node's side ------------------------------------------------------------------ */

static void sess_answer(worker_t *w, json_int_t id, const char *data, size_t len, uint64_t size,
                        int err)
{
    json_t *m = json_pack("{s:s, s:I}", "t", "session_done", "id", id);
    if (err != 0) {
        json_object_set_new(m, "error",
                            json_string(err == EFBIG ? "the session file is too large to move "
                                                       "(at most 64 MiB)"
                                                     : strerror(err)));
        json_object_set_new(m, "notFound", json_boolean(err == ENOENT));
    } else if (data != NULL) {
        size_t cap = (len + 2) / 3 * 4 + 1;
        char *b64 = ad_xmalloc(cap);
        ad_base64_encode((const uint8_t *)data, len, b64, cap);
        json_object_set_new(m, "data", json_string(b64));
        json_object_set_new(m, "size", json_integer((json_int_t)size));
        free(b64);
    }
    ad_worker_send(w, m);
}

/* msg's agent and worktree here (never a path: ids checked), as a run
 * of theirs is arranged: *where, its folder in cwd. 0 or EINVAL. */
static int where_of(worker_t *w, json_t *msg, ad_proc_claude_where_t *where, char *cwd,
                    size_t cwdsz)
{
    const char *agent = json_string_value(json_object_get(msg, "agent"));
    const char *wt = json_string_value(json_object_get(msg, "worktree"));
    if (agent == NULL || wt == NULL || strchr(agent, '/') != NULL || strchr(wt, '/') != NULL ||
        strcmp(wt, "..") == 0 || strcmp(wt, ".") == 0) {
        return EINVAL;
    }
    if (wt[0] != '\0') {
        snprintf(cwd, cwdsz, "%.2048s/worktrees/%.100s", w->cfg->data_dir, wt);
    } else {
        snprintf(cwd, cwdsz, "%.2048s/work/%.100s", w->cfg->data_dir, agent);
    }
    *where = (ad_proc_claude_where_t){.data_dir = w->cfg->data_dir,
                                      .agent_id = agent,
                                      .wt = cwd,
                                      .user_home = getenv("HOME"),
                                      .own_home = NULL, /* a node's runs have the node's HOME */
                                      .boxed = !json_is_true(json_object_get(msg, "none")) &&
                                               ad_procs_sandbox(w->procs, NULL),
                                      .owners = json_is_true(json_object_get(msg, "owners"))};
    return 0;
}

int ad_worker_claude_dir(worker_t *w, json_t *msg, char *dir, size_t dirsz, size_t *trusted)
{
    char cwd[4200];
    ad_proc_claude_where_t where;
    if (where_of(w, msg, &where, cwd, sizeof(cwd)) != 0) {
        return EINVAL;
    }
    return ad_proc_claude_projects(&where, dir, dirsz, trusted) == 0 ? 0 : EINVAL;
}

int ad_worker_cli_dir(worker_t *w, json_t *msg, const char *dot, ad_worker_cli_t *out)
{
    char cwd[4200];
    ad_proc_claude_where_t where;
    if (where_of(w, msg, &where, cwd, sizeof(cwd)) != 0 ||
        ad_proc_cli_dir(&where, dot, out->dir, sizeof(out->dir), &out->trusted, &out->users) != 0) {
        return EINVAL;
    }
    ad_proc_real_wt(cwd, out->wt, sizeof(out->wt));
    return 0;
}

void ad_worker_session(worker_t *w, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    const char *op = json_string_value(json_object_get(msg, "op"));
    const char *sid = json_string_value(json_object_get(msg, "sid"));
    json_t *data = json_object_get(msg, "data");
    json_t *off = json_object_get(msg, "offset");
    if (!json_is_integer(id)) {
        return;
    }
    json_int_t qid = json_integer_value(id);
    json_int_t offset = json_is_integer(off) ? json_integer_value(off) : -1;
    char dir[4200];
    size_t trusted = 0;
    if (op == NULL || !ad_proc_claude_sid_ok(sid) || offset < 0 ||
        offset > (json_int_t)AD_PROC_CLAUDE_SESSION_MAX ||
        ad_worker_claude_dir(w, msg, dir, sizeof(dir), &trusted) != 0 ||
        (strcmp(op, "get") != 0 && !(strcmp(op, "put") == 0 && json_is_string(data)))) {
        sess_answer(w, qid, NULL, 0, 0, EINVAL);
        return;
    }
    if (op[0] == 'g') {
        char *buf = NULL;
        size_t len = 0;
        uint64_t size = 0;
        int err = ad_proc_claude_session_read_at(dir, trusted, sid, (uint64_t)offset,
                                                 AD_PROC_CLAUDE_CHUNK, &buf, &len, &size);
        sess_answer(w, qid, err == 0 ? buf : NULL, len, size, err);
        free(buf);
        return;
    }
    size_t cap = json_string_length(data) / 4 * 3 + 4;
    if (cap > AD_PROC_CLAUDE_CHUNK + 4) {
        sess_answer(w, qid, NULL, 0, 0, EFBIG);
        return;
    }
    uint8_t *buf = ad_xmalloc(cap);
    int len = ad_base64_decode(json_string_value(data), json_string_length(data), buf, cap);
    bool final = json_is_true(json_object_get(msg, "final"));
    int err = len < 0 ? EINVAL
                      : ad_proc_claude_session_put(dir, trusted, sid, (uint64_t)offset,
                                                   (const char *)buf, (size_t)len, final);
    free(buf);
    if (err == 0 && final) {
        ad_log(AD_LOG_INFO, "node", "session file put for a move sid=%s dir=%s", sid, dir);
    }
    sess_answer(w, qid, NULL, 0, 0, err);
}
