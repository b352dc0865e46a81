/* SPDX-License-Identifier: MIT */
/*
 * An ACP agent's file requests when its run is on a node (docs/nodes.md,
 * "ACP agents on nodes"): fs/read_text_file and fs/write_text_file are
 * served where the agent and its worktree are, never from the control
 * plane's copy. src/run checks the request as for a local run (the mode,
 * the agent's permissions, the path by name, made relative to the
 * worktree) and asks here; the plane sends {t: fs, id, run, op: "read" |
 * "write", path, line?, limit?, content?} for a run on that node and waits
 * for {t: fs_done, id, content? | error, notFound?}. The node serves it
 * beneath the run's working folder (src/core's textfile: a way out by a
 * symlink is refused by the kernel). Only the node asked may answer; a
 * node that goes away or does not answer in FS_TIMEOUT_MS fails the
 * request. A file or content past FS_MSG_MAX is refused with a word, so a
 * message stays under the link's bound. Loop thread.
 */
#include "node/node_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FS_TIMEOUT_MS 15000
#define FS_MSG_MAX (768u * 1024u)

static void fs_fail(ad_fs_rpc_t *q, const char *why)
{
    q->cb(NULL, why, false, q->ud);
    free(q);
}

int ad_plane_fs(ad_plane_t *p, const char *run_id, const ad_plane_fs_req_t *req, ad_plane_fs_cb cb,
                void *ud)
{
    ad_relay_t *r = ad_relay_find(p, run_id);
    ad_node_live_t *n = r != NULL ? ad_plane_node_live(p, r->node_id) : NULL;
    ad_fs_rpc_t *q = ad_xcalloc(1, sizeof(*q));
    q->cb = cb;
    q->ud = ud;
    if (n == NULL || n->link == NULL || n->unreachable) {
        fs_fail(q, "the agent's node is not connected now");
        return 0;
    }
    if (req->content != NULL && req->content_len > FS_MSG_MAX) {
        fs_fail(q, "the content is too large to send to the node (at most 768 KiB)");
        return 0;
    }
    ad_node_ask_add(p, &p->fs_rpcs, &q->ask, n->id, FS_TIMEOUT_MS);
    json_t *m =
        json_pack("{s:s, s:I, s:s, s:s, s:s}", "t", "fs", "id", (json_int_t)q->ask.id, "run",
                  run_id, "op", req->content != NULL ? "write" : "read", "path", req->path);
    if (req->content != NULL) {
        json_object_set_new(m, "content", json_stringn(req->content, req->content_len));
    } else {
        json_object_set_new(m, "line", json_integer(req->line));
        json_object_set_new(m, "limit", json_integer(req->limit));
    }
    ad_plane_send_text(n, m);
    return 0;
}

void ad_plane_fs_done(ad_plane_t *p, ad_node_live_t *n, json_t *msg)
{
    ad_fs_rpc_t *q =
        (ad_fs_rpc_t *)ad_node_ask_take(&p->fs_rpcs, json_object_get(msg, "id"), n->id);
    if (q == NULL) {
        ad_log(AD_LOG_WARN, "node", "file answer ignored node=%s id=%lld (not one asked of it)",
               n->name, (long long)json_integer_value(json_object_get(msg, "id")));
        return;
    }
    json_t *content = json_object_get(msg, "content");
    const char *err = json_string_value(json_object_get(msg, "error"));
    if (err != NULL || (content != NULL && !json_is_string(content))) {
        char why[200];
        snprintf(why, sizeof(why), "%s", err != NULL ? err : "the node answered wrongly");
        q->cb(NULL, why, json_is_true(json_object_get(msg, "notFound")), q->ud);
    } else {
        q->cb(content != NULL ? content : json_null(), NULL, false, q->ud);
    }
    free(q);
}

void ad_plane_fs_expire(ad_plane_t *p, bool all)
{
    bool gone;
    ad_fs_rpc_t *q;
    while ((q = (ad_fs_rpc_t *)ad_node_ask_expired(p, &p->fs_rpcs, all, &gone)) != NULL) {
        fs_fail(q, gone ? "the agent's node went away before it answered"
                        : "the agent's node did not answer in time");
    }
}

/* ---- the node's side ------------------------------------------------------------------ */

static void fs_answer(worker_t *w, json_int_t id, json_t *content, int err)
{
    json_t *m = json_pack("{s:s, s:I}", "t", "fs_done", "id", id);
    if (err != 0) {
        json_object_set_new(m, "error", json_string(ad_textfile_why(err)));
        json_object_set_new(m, "notFound", json_boolean(err == ENOENT));
    } else if (content != NULL && json_string_length(content) > FS_MSG_MAX) {
        json_object_set_new(
            m, "error",
            json_string("the text is too large to send from the node (at most 768 KiB): "
                        "ask for fewer lines"));
    } else if (content != NULL) {
        json_object_set(m, "content", content);
    }
    ad_worker_send(w, m);
}

void ad_worker_fs(worker_t *w, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    const char *run = json_string_value(json_object_get(msg, "run"));
    const char *op = json_string_value(json_object_get(msg, "op"));
    const char *path = json_string_value(json_object_get(msg, "path"));
    json_t *content = json_object_get(msg, "content");
    wrun_t *r = run != NULL ? ad_worker_run_find(w, run) : NULL;
    if (!json_is_integer(id)) {
        return;
    }
    json_int_t qid = json_integer_value(id);
    /* only a run of its own that has its folder, a relative path (the
     * plane made it so), and one of the two operations */
    if (r == NULL || r->cwd[0] == '\0' || path == NULL || path[0] == '/' || path[0] == '\0' ||
        op == NULL ||
        (strcmp(op, "read") != 0 && !(strcmp(op, "write") == 0 && json_is_string(content)))) {
        fs_answer(w, qid, NULL, EINVAL);
        return;
    }
    if (op[0] == 'w') {
        fs_answer(w, qid, NULL,
                  ad_textfile_write(r->cwd, path, json_string_value(content),
                                    json_string_length(content), NULL, NULL));
        return;
    }
    json_t *text = NULL;
    int err =
        ad_textfile_read(r->cwd, path, json_integer_value(json_object_get(msg, "line")),
                         json_integer_value(json_object_get(msg, "limit")), NULL, NULL, &text);
    fs_answer(w, qid, text, err);
    json_decref(text);
}
